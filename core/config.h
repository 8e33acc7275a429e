/*
 * core/config.h — the YAML configuration (docs/design.md section 7): parse,
 * validate, normalize defaults.
 *
 * A config that names only some keys gets the defaults for the rest; an empty
 * file is a valid config. Every rejection returns XR_ERR_CONFIG_INVALID (or
 * XR_ERR_CONFIG_SYNTAX for YAML that does not parse, XR_ERR_SECRET_INVALID for
 * a bad secret source) with a reason in the diag that names the key path and
 * the allowed values, and never echoes a secret value.
 */
#ifndef XR_CONFIG_H
#define XR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

typedef enum { XR_TRANSPORT_MEMORY = 0, XR_TRANSPORT_TCP_LOCAL = 1 } xr_transport;
typedef enum { XR_BOOT_INLINE = 0, XR_BOOT_PROCESS_SUPERVISOR = 1 } xr_boot_mode;
typedef enum { XR_SECRET_GENERATED = 0, XR_SECRET_STATIC = 1 } xr_secret_mode;
typedef enum { XR_RESTART_NEVER = 0, XR_RESTART_ON_FAILURE = 1 } xr_restart;
typedef enum { XR_RULES_BASELINE = 0, XR_RULES_EXPERIMENT = 1 } xr_rules;

#define XR_CFG_MAX_GROUPS 16
#define XR_CFG_MAX_SERVICES 16
#define XR_CFG_NAME_MAX 64	/* group and service names, incl. NUL */
#define XR_CFG_HOST_MAX 64
#define XR_CFG_PATH_MAX 256

typedef struct xr_group_cfg {
	char name[XR_CFG_NAME_MAX];		/* [A-Za-z0-9_.-]+, unique */
	uint32_t workers;			/* 1..64, default 1 */
	xr_restart restart;			/* default on-failure */
	size_t n_services;
	char services[XR_CFG_MAX_SERVICES][XR_CFG_NAME_MAX + 64];
} xr_group_cfg;

typedef struct xr_config {
	/* runtime.platform.execution_ipc */
	xr_transport transport;			/* default memory */
	char bind_host[XR_CFG_HOST_MAX];	/* default "127.0.0.1"; loopback only */
	uint32_t bind_port;			/* 0..65535, default 0 (ephemeral) */
	uint32_t max_payload_bytes;		/* 1..64 MiB, default 1048576 */
	/* ...auth */
	bool auth_hmac;				/* auth.mode: hmac (the only mode) */
	xr_secret_mode secret_mode;		/* default generated */
	char secret_file[XR_CFG_PATH_MAX];	/* static: path, or "" */
	uint8_t *secret_inline;			/* static inline value (owned, wiped on free), or NULL */
	size_t secret_inline_len;
	xr_kdf kdf;				/* default hkdf_sha256 */
	uint32_t ttl_seconds;			/* 1..3600, default 30 */
	uint32_t nonce_cache_size;		/* 16..16777216, default 65536 */
	/* runtime.platform.bootstrap */
	xr_boot_mode boot_mode;			/* default inline */
	/* runtime.platform.lifecycle */
	uint32_t ready_timeout_seconds;		/* 1..3600, default 5 */
	uint32_t graceful_timeout_seconds;	/* 0..3600, default 10 */
	bool drain_inflight;			/* default true */
	/* runtime.platform.control */
	char control_socket[XR_CFG_PATH_MAX];	/* default "/run/execrpc/control.sock" */
	/* runtime.platform.process_groups */
	size_t n_groups;			/* default: one group "execution" */
	xr_group_cfg groups[XR_CFG_MAX_GROUPS];
	/* apps.fundload */
	xr_rules fundload_rules;		/* default baseline */
} xr_config;

/* Fill `cfg` with the defaults of docs/design.md section 7 (the default group is
 * {name: execution, workers: 2, restart: on-failure,
 *  services: [fundload.v1.FundLoad]}). */
void xr_config_defaults(xr_config *cfg);

/*
 * Parse and validate YAML text of `len` bytes into `cfg` (defaults first,
 * then the document's keys). On failure returns the error code, `cfg` is
 * freed and reset to defaults, and `d` holds the reason (key path + allowed
 * values). The caller frees a successful `cfg` with xr_config_free().
 */
int xr_config_load_string(const char *yaml, size_t len, xr_config *cfg,
    xr_diag *d);

/* As xr_config_load_string() for the file at `path` (at most 1 MiB). */
int xr_config_load_file(const char *path, xr_config *cfg, xr_diag *d);

/* Release what `cfg` owns (the inline secret, zeroized). NULL is a no-op.
 * `cfg` itself is caller storage. */
void xr_config_free(xr_config *cfg);

/*
 * Resolve the master secret the config names and derive the keyset:
 * generated -> fresh CSPRNG bytes; static -> secret_file (permission-checked)
 * or the inline value. Returns XR_OK or XR_ERR_SECRET_INVALID / XR_ERR_SYSTEM
 * with a reason in `d` that never contains the secret.
 */
int xr_config_keyset(const xr_config *cfg, xr_keyset *out, xr_diag *d);

/* Stable names used in config, summary and diagnostics. */
const char *xr_transport_name(xr_transport t);
const char *xr_boot_mode_name(xr_boot_mode m);
const char *xr_secret_mode_name(xr_secret_mode m);
const char *xr_kdf_name(xr_kdf k);
const char *xr_restart_name(xr_restart r);
const char *xr_rules_name(xr_rules r);

/* True if `host` is a loopback literal: 127.0.0.0/8, ::1, or "localhost". */
bool xr_host_is_loopback(const char *host);

#endif /* XR_CONFIG_H */
