/*
 * core/cfgtab.h — the config schema as one table: a row per key (path,
 * type, range, default, where it goes, secret or not), after Redis's
 * standardConfig. The table drives the defaults (xr_config_defaults), the
 * validation (core/config.c: unknown keys, types, ranges, enum names), the
 * summary (core/summary.c walks the rows flagged XR_CF_SUMMARY), the
 * worker's check of its bundle's runtime slice (xr_config_check_uint) and
 * the "0 = default" options of the endpoint (server/) and the client
 * library (client/).
 *
 * Pure data and small pure functions: no libyaml, no protobuf, no
 * allocation. The client library compiles this file into itself.
 */
#ifndef XR_CFGTAB_H
#define XR_CFGTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* What a row's value is. */
typedef enum xr_cfg_type {
	XR_CT_UINT = 1,	/* uint32_t: plain decimal in min..max */
	XR_CT_BOOL,	/* bool: plain true or false */
	XR_CT_ENUM,	/* an enum (int-sized): one of `names`, index = value */
	XR_CT_HOST,	/* char[]: 1..max bytes, a loopback literal */
	XR_CT_PATH,	/* char[]: 1..max bytes without NUL */
	XR_CT_NAME,	/* char[]: 1..max bytes of [A-Za-z0-9_.-] */
	XR_CT_SECRET,	/* the inline secret: owned bytes, min..max long */
	XR_CT_SERVICES,	/* a group's list of service names (0..16) */
	XR_CT_GROUPS,	/* the list of process groups (1..16); their keys
			 * are the XR_CF_GROUP rows */
	XR_CT_APPS,	/* the apps.NAME sections (opaque to the core) */
	XR_CT_COMMAND,	/* an ingress group's argv (1..16 items; [0] an
			 * absolute path) */
} xr_cfg_type;

/* Row flags: where a value goes, and how it may be shown. */
#define XR_CF_ENDPOINT	0x001	/* an xr_server_opts "0 = default" option */
#define XR_CF_CLIENT	0x002	/* an xr_channel_opts "0 = default" option */
#define XR_CF_BUNDLE	0x004	/* travels in the worker bundle's runtime slice */
#define XR_CF_LIFECYCLE	0x008	/* lifecycle policy */
#define XR_CF_SUMMARY	0x010	/* shown by the summary */
#define XR_CF_SECRET	0x020	/* never echoed, never summarized */
#define XR_CF_ECHO	0x040	/* a refused value may be quoted in the reason */
#define XR_CF_GROUP	0x080	/* a key of each process group: `off` is into
				 * xr_group_cfg, not xr_config */
#define XR_CF_REQUIRED	0x100	/* must be present (group keys) */

/* The rows, in the order of docs/config.md (which is also the
 * order of the allowed keys a diagnostic lists). */
typedef enum xr_cfg_key {
	XR_CK_TRANSPORT,
	XR_CK_BIND_HOST,
	XR_CK_BIND_PORT,
	XR_CK_MAX_PAYLOAD_BYTES,
	XR_CK_AUTH_MODE,
	XR_CK_SECRET_MODE,
	XR_CK_SECRET_FILE,
	XR_CK_SECRET,
	XR_CK_KDF,
	XR_CK_TTL_SECONDS,
	XR_CK_NONCE_CACHE_SIZE,
	XR_CK_BOOT_MODE,
	XR_CK_READY_TIMEOUT_SECONDS,
	XR_CK_GRACEFUL_TIMEOUT_SECONDS,
	XR_CK_DRAIN_INFLIGHT,
	XR_CK_CONTROL_SOCKET,
	XR_CK_PROCESS_GROUPS,
	XR_CK_GROUP_NAME,
	XR_CK_GROUP_WORKERS,
	XR_CK_GROUP_RESTART,
	XR_CK_GROUP_SERVICES,
	XR_CK_GROUP_ROLE,
	XR_CK_GROUP_COMMAND,
	XR_CK_APPS,
	XR_CK__COUNT
} xr_cfg_key;

typedef struct xr_cfg_row {
	const char *path;	/* "runtime.platform.execution_ipc.bind_port";
				 * a group key: "...process_groups[].workers" */
	xr_cfg_type type;
	unsigned flags;		/* XR_CF_* */
	uint64_t min, max;	/* uint: the range; strings, secret, lists:
				 * the length or count */
	uint64_t def;		/* uint, bool, enum: the default */
	const char *def_s;	/* host, path, name: the default ("" none) */
	const char *const *names; /* enum: NULL-terminated, index = value */
	size_t off, size;	/* the field: offsetof / sizeof in xr_config
				 * (xr_group_cfg for XR_CF_GROUP rows) */
} xr_cfg_row;

/* The table, indexed by xr_cfg_key. */
extern const xr_cfg_row xr_cfg_rows[XR_CK__COUNT];

/* The row of `path` (exact), or NULL. */
const xr_cfg_row *xr_cfg_row_find(const char *path);

/* The default of a uint row (0 for any other key): what a "0 = default"
 * option of the endpoint or the client uses. */
uint32_t xr_cfg_default_u32(xr_cfg_key k);

/* Read / write the uint, bool or enum field of row `r` in `base` (an
 * xr_config, or an xr_group_cfg for a group row). */
uint64_t xr_cfg_get_u(const void *base, const xr_cfg_row *r);
void xr_cfg_put_u(void *base, const xr_cfg_row *r, uint64_t v);

/* Write every default of the rows with XR_CF_GROUP set (`group`) or clear
 * into `base`. Lists and the secret are left as they are (zero). */
void xr_cfg_put_defaults(void *base, bool group);

/* The name of value `v` of enum row `k`, or "unknown". */
const char *xr_cfg_enum_name(xr_cfg_key k, unsigned v);

/*
 * Check `v` against the range of the uint row at `path`. Returns XR_OK, or
 * XR_ERR_CONFIG_INVALID with "PATH: V out of range (allowed: MIN..MAX)" in
 * `d` (or "PATH: not a number key" for a path that is no uint row).
 */
int xr_config_check_uint(const char *path, uint64_t v, xr_diag *d);

/* The group a config gets when it names none. */
#define XR_CFG_DEFAULT_GROUP		"execution"
#define XR_CFG_DEFAULT_GROUP_WORKERS	2

#endif /* XR_CFGTAB_H */
