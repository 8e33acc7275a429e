/*
 * core/summary.h — the runtime summary (docs/design.md section 7): JSON with
 * sorted keys, deterministic for a given config, never any secret material
 * (only the secret *mode*, and for static secrets whether it is a file or an
 * inline value — never the path's content or the value).
 */
#ifndef XR_SUMMARY_H
#define XR_SUMMARY_H

#include "config.h"

/* The "version" field of the summary. */
#define XR_SUMMARY_VERSION "execrpc 0.1.0"

/*
 * Render the summary of `cfg` as JSON (sorted keys, 2-space indent, trailing
 * newline). On success `*out` is a malloc'd NUL-terminated string the caller
 * frees. Returns XR_OK or XR_ERR_NOMEM.
 *
 * Shape:
 * {"bootstrap":{"mode":...},
 *  "execution_ipc":{"auth":{"kdf":...,"mode":"hmac","nonce_cache_size":N,
 *                           "secret_file_configured":B,"secret_mode":...,
 *                           "secret_source":"generated|file|inline",
 *                           "ttl_seconds":N},
 *                   "bind_host":...,"bind_port":N,"max_payload_bytes":N,
 *                   "transport":...},
 *  "lifecycle":{"drain_inflight":B,"graceful_timeout_seconds":N,"ready_timeout_seconds":N},
 *  "control":{"socket":...},
 *  "process_groups":[{"name":...,"restart":...,"services":[...],"workers":N}],
 *  "apps":{"NAME":{"KEY":"VALUE",...},...},   (every apps.NAME section,
 *                                             flattened as in config.h)
 *  "version":"execrpc 0.1.0"}
 */
int xr_summary_json(const xr_config *cfg, char **out);

#endif /* XR_SUMMARY_H */
