/*
 * supervisor/ctl_client.h — the lifecycle control socket, client side
 * (the execrpc CLI and scripts), and the JSON rendering of its replies.
 *
 * Wire: one command per connection. The client sends a 4-byte big-endian
 * length and that many bytes of a serialized execrpc.v1.Command (at most
 * XR_CTL_MAX_COMMAND); the supervisor answers with the same framing and
 * an execrpc.v1.Reply (at most XR_CTL_MAX_REPLY), then closes. The socket
 * is protected by its file mode (0600, in a 0700 directory) and a peer
 * credential check, not by frame signatures: the CLI holds no keys
 * (docs/supervisor.md).
 */
#ifndef XR_CTL_CLIENT_H
#define XR_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "execrpc/v1/lifecycle.pb-c.h"

/* The largest request or response payload of a CALL (the supervisor's
 * runtime max_payload_bytes and its worker channels may allow less). */
#define XR_CTL_CALL_MAX_PAYLOAD (1u << 20)
/* A CALL's deadline when the command gives none, and the longest one. */
#define XR_CTL_CALL_DEFAULT_TIMEOUT_MS 10000u
#define XR_CTL_CALL_MAX_TIMEOUT_MS 3600000u
/* Command and reply size limits: a CALL's payload plus room for the rest
 * (a STATUS reply of every worker fits). */
#define XR_CTL_MAX_COMMAND (XR_CTL_CALL_MAX_PAYLOAD + 4096)
#define XR_CTL_MAX_REPLY (XR_CTL_CALL_MAX_PAYLOAD + 65536)
#define XR_CTL_IO_TIMEOUT_MS 5000	/* server: a command must arrive */

/*
 * Connect to the control socket at `path`, send `cmd`, wait at most
 * `timeout_ms` for the reply. On XR_OK `*out` is the reply (free with
 * execrpc__v1__reply__free_unpacked(*out, NULL)); its error_code says
 * whether the command itself succeeded. Errors: XR_ERR_LIFECYCLE_NOT_READY
 * (nothing listening at `path`), XR_ERR_SYSTEM, XR_ERR_CLOSED (closed before
 * a whole reply), XR_ERR_AGAIN (timeout), XR_ERR_OVERSIZED,
 * XR_ERR_MALFORMED; `d` says more.
 */
int xr_ctl_client_call(const char *path, const Execrpc__V1__Command *cmd,
    uint32_t timeout_ms, Execrpc__V1__Reply **out, xr_diag *d);

/*
 * Render a reply as one line of JSON with sorted keys (jansson,
 * JSON_SORT_KEYS): {"error": {...} (only when error_code != 0),
 * "stop_events": [{"group", "mode"}], "workers": [{"group", "index", "pid",
 * "port", "restarts", "state", "last_exit_status", "last_signal"}, plus for
 * STATS "stats": "answered" or "no_answer" for each worker asked, and
 * "calls", "calls_failed", "rejects" {xr_reject_name(): count} for those
 * that answered]}. `*out` is malloc'd (caller frees). Returns XR_OK or
 * XR_ERR_NOMEM.
 */
int xr_ctl_client_reply_json(const Execrpc__V1__Reply *r, char **out);

#endif /* XR_CTL_CLIENT_H */
