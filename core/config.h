/*
 * core/config.h — the YAML configuration (docs/design.md section 7): parse,
 * validate, normalize defaults. The keys, their types, ranges and defaults
 * are the rows of core/cfgtab.h; the YAML tree is core/yamltree.h.
 *
 * A config that names only some keys gets the defaults for the rest; an empty
 * file is a valid config. Every rejection returns XR_ERR_CONFIG_INVALID (or
 * XR_ERR_CONFIG_SYNTAX for YAML that does not parse, XR_ERR_SECRET_INVALID for
 * a bad secret source) with a reason in the diag that names the key path and
 * the allowed values, and never echoes a secret value.
 *
 * apps.NAME sections are opaque here: the core checks their shape and
 * bounds only (NAME of [A-Za-z0-9_.-], at most XR_CFG_MAX_APPS sections of
 * XR_CFG_MAX_APP_SETTINGS scalar leaves each, keys of [A-Za-z0-9_-] joined
 * with '.', values of at most 255 bytes, never echoed) and knows no
 * application; the application's module checks its section's keys and
 * values (supervisor/worker.h). They hold no secrets: the summary shows
 * their values.
 */
#ifndef XR_CONFIG_H
#define XR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfgtab.h"
#include "err.h"
#include "keys.h"

typedef enum { XR_TRANSPORT_MEMORY = 0, XR_TRANSPORT_TCP_LOCAL = 1 } xr_transport;
typedef enum { XR_BOOT_INLINE = 0, XR_BOOT_PROCESS_SUPERVISOR = 1 } xr_boot_mode;
typedef enum { XR_SECRET_GENERATED = 0, XR_SECRET_STATIC = 1 } xr_secret_mode;
typedef enum { XR_RESTART_NEVER = 0, XR_RESTART_ON_FAILURE = 1 } xr_restart;
typedef enum { XR_AUTH_HMAC = 0 } xr_auth_mode;
/* A process group's role: execution workers hosting services, or ingress
 * (web) processes that call them (docs/supervisor.md "Web process
 * groups"). */
typedef enum { XR_ROLE_EXECUTION = 0, XR_ROLE_INGRESS = 1 } xr_group_role;

#define XR_CFG_MAX_GROUPS 16
#define XR_CFG_MAX_SERVICES 16
#define XR_CFG_NAME_MAX 64	/* group and service names, incl. NUL */
#define XR_CFG_HOST_MAX 64
#define XR_CFG_PATH_MAX 256
#define XR_CFG_MAX_APPS 8
#define XR_CFG_MAX_APP_SETTINGS 32
#define XR_CFG_MAX_ARGS 16	/* an ingress group's command: argv items */
#define XR_CFG_ARG_MAX 256	/* bytes of one item, incl. NUL */

/* One setting of an apps.NAME section: a flattened key (nested mapping keys
 * joined with '.', sequence items as key[i]) and the scalar as written. */
typedef struct xr_app_setting {
	char key[128];
	char value[256];
} xr_app_setting;

/* The section apps.NAME. Opaque to the core: the application's module
 * validates it (supervisor/worker.h, check_app). */
typedef struct xr_app_section {
	char name[XR_CFG_NAME_MAX];	/* the NAME of apps.NAME */
	size_t n;
	xr_app_setting s[XR_CFG_MAX_APP_SETTINGS];
} xr_app_section;

/* Ranges and defaults of the fields: the rows of core/cfgtab.h. */
typedef struct xr_group_cfg {
	char name[XR_CFG_NAME_MAX];		/* unique among the groups */
	uint32_t workers;
	xr_restart restart;
	size_t n_services;			/* 0: every service the program's
						 * module table offers */
	char services[XR_CFG_MAX_SERVICES][XR_CFG_NAME_MAX + 64];
	xr_group_role role;
	size_t n_command;			/* ingress: 1..XR_CFG_MAX_ARGS;
						 * execution: 0 */
	char command[XR_CFG_MAX_ARGS][XR_CFG_ARG_MAX];	/* [0]: an absolute
						 * path, exec'd as is */
} xr_group_cfg;

typedef struct xr_config {
	/* runtime.platform.execution_ipc */
	xr_transport transport;
	char bind_host[XR_CFG_HOST_MAX];	/* loopback only */
	uint32_t bind_port;			/* 0: ephemeral */
	uint32_t max_payload_bytes;
	/* ...auth */
	xr_auth_mode auth_mode;
	xr_secret_mode secret_mode;
	char secret_file[XR_CFG_PATH_MAX];	/* static: path, or "" */
	uint8_t *secret_inline;			/* static inline value (owned,
						 * wiped on free), or NULL */
	size_t secret_inline_len;
	bool secret_wiped;			/* xr_config_wipe_secret() took
						 * the inline value */
	xr_kdf kdf;
	uint32_t ttl_seconds;
	uint32_t nonce_cache_size;
	/* runtime.platform.bootstrap */
	xr_boot_mode boot_mode;
	/* runtime.platform.lifecycle */
	uint32_t ready_timeout_seconds;
	uint32_t graceful_timeout_seconds;
	bool drain_inflight;
	/* runtime.platform.control */
	char control_socket[XR_CFG_PATH_MAX];
	/* runtime.platform.process_groups */
	size_t n_groups;
	xr_group_cfg groups[XR_CFG_MAX_GROUPS];
	/* apps: the sections in document order, names unique */
	size_t n_apps;
	xr_app_section apps[XR_CFG_MAX_APPS];
} xr_config;

/* Fill `cfg` with the defaults of the table (core/cfgtab.h). The default
 * group is {name: execution, workers: 2, restart: on-failure, services: []}
 * (every service of the program); no apps sections. */
void xr_config_defaults(xr_config *cfg);

/*
 * Parse and validate YAML text of `len` bytes into `cfg` (defaults first,
 * then the document's keys). On failure returns the error code, `cfg` is
 * freed and reset to defaults, and `d` holds the reason (key path + allowed
 * values). The caller frees a successful `cfg` with xr_config_free().
 */
int xr_config_load_string(const char *yaml, size_t len, xr_config *cfg,
    xr_diag *d);

/*
 * As xr_config_load_string() for the file at `path` (at most 1 MiB). A
 * file that holds an inline secret (...auth.secret) must pass the checks
 * of a secret_file (xr_keys_check_private: not a symbolic link, a regular
 * file, owned by the effective uid or root, no permission bit for group
 * or other): else XR_ERR_SECRET_INVALID, "...auth.secret: an inline secret
 * needs a private config file: config file PATH: why", `cfg` reset. The
 * read buffer is wiped.
 */
int xr_config_load_file(const char *path, xr_config *cfg, xr_diag *d);

/* The section apps.NAME, or NULL if the config has none. */
const xr_app_section *xr_config_app(const xr_config *cfg, const char *name);

/* The value of `key` in `sec` (NULL-safe), or NULL if absent. */
const char *xr_app_get(const xr_app_section *sec, const char *key);

/* Release what `cfg` owns (the inline secret, zeroized). NULL is a no-op.
 * `cfg` itself is caller storage. */
void xr_config_free(xr_config *cfg);

/*
 * Wipe and free the inline secret once the keys are derived from it (the
 * programs call it right after the lifecycle's start), and mark `cfg` so
 * that a later xr_config_keyset() says why it has no secret
 * (XR_ERR_SECRET_INVALID). No-op for NULL or a config without one.
 */
void xr_config_wipe_secret(xr_config *cfg);

/*
 * Resolve the master secret the config names and derive the keyset:
 * generated -> fresh CSPRNG bytes; static -> secret_file (permission-checked)
 * or the inline value. Returns XR_OK or XR_ERR_SECRET_INVALID / XR_ERR_SYSTEM
 * with a reason in `d` that never contains the secret.
 */
int xr_config_keyset(const xr_config *cfg, xr_keyset *out, xr_diag *d);

/*
 * `config check`'s secret check: runs xr_config_keyset() itself, the very
 * function a start runs (secret_file ownership, mode, symlink, length; the
 * inline secret's length), and wipes the keys it derived. Returns what
 * xr_config_keyset() returns, with the same reason in `d`.
 */
int xr_config_secret_check(const xr_config *cfg, xr_diag *d);

/* Stable names used in config, summary and diagnostics. */
const char *xr_transport_name(xr_transport t);
const char *xr_boot_mode_name(xr_boot_mode m);
const char *xr_secret_mode_name(xr_secret_mode m);
const char *xr_kdf_name(xr_kdf k);
const char *xr_restart_name(xr_restart r);

/* True if `host` is a loopback literal: 127.0.0.0/8, ::1, or "localhost". */
bool xr_host_is_loopback(const char *host);

#endif /* XR_CONFIG_H */
