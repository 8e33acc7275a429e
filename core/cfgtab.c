/*
 * core/cfgtab.c — the config schema table (core/cfgtab.h) and the pure
 * functions around it: defaults, field access, range checks, names.
 */
#include "cfgtab.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "keys.h"

#define P_PLATFORM	"runtime.platform"
#define P_IPC		P_PLATFORM ".execution_ipc"
#define P_AUTH		P_IPC ".auth"
#define P_GROUP		P_PLATFORM ".process_groups[]"

/* The field of xr_config (C) or xr_group_cfg (G) a row writes. */
#define C(m)	.off = offsetof(xr_config, m), \
		.size = sizeof(((xr_config *)0)->m)
#define G(m)	.off = offsetof(xr_group_cfg, m), \
		.size = sizeof(((xr_group_cfg *)0)->m)

_Static_assert(sizeof(xr_transport) == sizeof(int) &&
    sizeof(xr_boot_mode) == sizeof(int) &&
    sizeof(xr_secret_mode) == sizeof(int) &&
    sizeof(xr_restart) == sizeof(int) &&
    sizeof(xr_auth_mode) == sizeof(int) && sizeof(xr_kdf) == sizeof(int) &&
    sizeof(xr_group_role) == sizeof(int),
    "enum fields are written as int");

static const char *const transport_names[] = { "memory", "tcp_local", NULL };
static const char *const boot_names[] = { "inline", "process_supervisor",
    NULL };
static const char *const secret_mode_names[] = { "generated", "static",
    NULL };
static const char *const kdf_names[] = { "none", "hkdf_sha256", NULL };
static const char *const restart_names[] = { "never", "on-failure", NULL };
static const char *const auth_mode_names[] = { "hmac", NULL };
static const char *const role_names[] = { "execution", "ingress", NULL };

const xr_cfg_row xr_cfg_rows[XR_CK__COUNT] = {
	[XR_CK_TRANSPORT] = { P_IPC ".transport", XR_CT_ENUM,
	    XR_CF_SUMMARY | XR_CF_ECHO, .def = XR_TRANSPORT_MEMORY,
	    .names = transport_names, C(transport) },
	[XR_CK_BIND_HOST] = { P_IPC ".bind_host", XR_CT_HOST,
	    XR_CF_SUMMARY | XR_CF_BUNDLE, 1, XR_CFG_HOST_MAX - 1,
	    .def_s = "127.0.0.1", C(bind_host) },
	[XR_CK_BIND_PORT] = { P_IPC ".bind_port", XR_CT_UINT,
	    XR_CF_SUMMARY | XR_CF_BUNDLE, 0, 65535, .def = 0, C(bind_port) },
	[XR_CK_MAX_PAYLOAD_BYTES] = { P_IPC ".max_payload_bytes", XR_CT_UINT,
	    XR_CF_SUMMARY | XR_CF_BUNDLE | XR_CF_ENDPOINT | XR_CF_CLIENT,
	    1, 67108864, .def = 1048576, C(max_payload_bytes) },
	[XR_CK_AUTH_MODE] = { P_AUTH ".mode", XR_CT_ENUM, XR_CF_SUMMARY,
	    .def = XR_AUTH_HMAC, .names = auth_mode_names, C(auth_mode) },
	[XR_CK_SECRET_MODE] = { P_AUTH ".secret_mode", XR_CT_ENUM,
	    XR_CF_SUMMARY, .def = XR_SECRET_GENERATED,
	    .names = secret_mode_names, C(secret_mode) },
	[XR_CK_SECRET_FILE] = { P_AUTH ".secret_file", XR_CT_PATH, 0,
	    1, XR_CFG_PATH_MAX - 1, .def_s = "", C(secret_file) },
	[XR_CK_SECRET] = { P_AUTH ".secret", XR_CT_SECRET, XR_CF_SECRET,
	    XR_SECRET_MIN, XR_SECRET_MAX, C(secret_inline) },
	[XR_CK_KDF] = { P_AUTH ".kdf", XR_CT_ENUM, XR_CF_SUMMARY,
	    .def = XR_KDF_HKDF_SHA256, .names = kdf_names, C(kdf) },
	[XR_CK_TTL_SECONDS] = { P_AUTH ".ttl_seconds", XR_CT_UINT,
	    XR_CF_SUMMARY | XR_CF_BUNDLE | XR_CF_ENDPOINT | XR_CF_CLIENT,
	    1, 3600, .def = 30, C(ttl_seconds) },
	[XR_CK_NONCE_CACHE_SIZE] = { P_AUTH ".nonce_cache_size", XR_CT_UINT,
	    XR_CF_SUMMARY | XR_CF_BUNDLE | XR_CF_ENDPOINT,
	    16, 16777216, .def = 65536, C(nonce_cache_size) },
	[XR_CK_BOOT_MODE] = { P_PLATFORM ".bootstrap.mode", XR_CT_ENUM,
	    XR_CF_SUMMARY | XR_CF_ECHO, .def = XR_BOOT_INLINE,
	    .names = boot_names, C(boot_mode) },
	[XR_CK_READY_TIMEOUT_SECONDS] = {
	    P_PLATFORM ".lifecycle.ready_timeout_seconds", XR_CT_UINT,
	    XR_CF_SUMMARY | XR_CF_LIFECYCLE, 1, 3600, .def = 5,
	    C(ready_timeout_seconds) },
	[XR_CK_GRACEFUL_TIMEOUT_SECONDS] = {
	    P_PLATFORM ".lifecycle.graceful_timeout_seconds", XR_CT_UINT,
	    XR_CF_SUMMARY | XR_CF_LIFECYCLE | XR_CF_BUNDLE, 0, 3600,
	    .def = 10, C(graceful_timeout_seconds) },
	[XR_CK_DRAIN_INFLIGHT] = { P_PLATFORM ".lifecycle.drain_inflight",
	    XR_CT_BOOL, XR_CF_SUMMARY | XR_CF_LIFECYCLE | XR_CF_BUNDLE,
	    .def = true, C(drain_inflight) },
	/* a unix socket path must fit sun_path (108 bytes with the NUL) */
	[XR_CK_CONTROL_SOCKET] = { P_PLATFORM ".control.socket", XR_CT_PATH,
	    XR_CF_SUMMARY, 1, 107, .def_s = "/run/execrpc/control.sock",
	    C(control_socket) },
	[XR_CK_PROCESS_GROUPS] = { P_PLATFORM ".process_groups",
	    XR_CT_GROUPS, XR_CF_SUMMARY, 1, XR_CFG_MAX_GROUPS, C(groups) },
	[XR_CK_GROUP_NAME] = { P_GROUP ".name", XR_CT_NAME,
	    XR_CF_GROUP | XR_CF_REQUIRED | XR_CF_SUMMARY, 1,
	    XR_CFG_NAME_MAX - 1, .def_s = "", G(name) },
	[XR_CK_GROUP_WORKERS] = { P_GROUP ".workers", XR_CT_UINT,
	    XR_CF_GROUP | XR_CF_SUMMARY, 1, 64, .def = 1, G(workers) },
	[XR_CK_GROUP_RESTART] = { P_GROUP ".restart", XR_CT_ENUM,
	    XR_CF_GROUP | XR_CF_SUMMARY | XR_CF_ECHO,
	    .def = XR_RESTART_ON_FAILURE, .names = restart_names,
	    G(restart) },
	[XR_CK_GROUP_SERVICES] = { P_GROUP ".services", XR_CT_SERVICES,
	    XR_CF_GROUP | XR_CF_SUMMARY, 0, XR_CFG_MAX_SERVICES,
	    G(services) },
	[XR_CK_GROUP_ROLE] = { P_GROUP ".role", XR_CT_ENUM,
	    XR_CF_GROUP | XR_CF_SUMMARY | XR_CF_ECHO, .def = XR_ROLE_EXECUTION,
	    .names = role_names, G(role) },
	[XR_CK_GROUP_COMMAND] = { P_GROUP ".command", XR_CT_COMMAND,
	    XR_CF_GROUP, 1, XR_CFG_MAX_ARGS, G(command) },
	[XR_CK_APPS] = { "apps", XR_CT_APPS, XR_CF_SUMMARY, 0,
	    XR_CFG_MAX_APPS, C(apps) },
};

const xr_cfg_row *
xr_cfg_row_find(const char *path)
{
	for (size_t i = 0; i < XR_CK__COUNT; i++)
		if (strcmp(xr_cfg_rows[i].path, path) == 0)
			return &xr_cfg_rows[i];
	return NULL;
}

uint32_t
xr_cfg_default_u32(xr_cfg_key k)
{
	if ((unsigned)k >= XR_CK__COUNT || xr_cfg_rows[k].type != XR_CT_UINT)
		return 0;
	return (uint32_t)xr_cfg_rows[k].def;
}

uint64_t
xr_cfg_get_u(const void *base, const xr_cfg_row *r)
{
	const uint8_t *p = (const uint8_t *)base + r->off;
	uint32_t u;
	int e;
	bool b;

	switch (r->type) {
	case XR_CT_UINT:
		memcpy(&u, p, sizeof(u));
		return u;
	case XR_CT_BOOL:
		memcpy(&b, p, sizeof(b));
		return b;
	case XR_CT_ENUM:
		memcpy(&e, p, sizeof(e));
		return (uint64_t)(unsigned)e;
	default:
		return 0;
	}
}

void
xr_cfg_put_u(void *base, const xr_cfg_row *r, uint64_t v)
{
	uint8_t *p = (uint8_t *)base + r->off;
	uint32_t u = (uint32_t)v;
	int e = (int)v;
	bool b = v != 0;

	switch (r->type) {
	case XR_CT_UINT:
		memcpy(p, &u, sizeof(u));
		break;
	case XR_CT_BOOL:
		memcpy(p, &b, sizeof(b));
		break;
	case XR_CT_ENUM:
		memcpy(p, &e, sizeof(e));
		break;
	default:
		break;
	}
}

void
xr_cfg_put_defaults(void *base, bool group)
{
	for (size_t i = 0; i < XR_CK__COUNT; i++) {
		const xr_cfg_row *r = &xr_cfg_rows[i];

		if (((r->flags & XR_CF_GROUP) != 0) != group)
			continue;
		switch (r->type) {
		case XR_CT_UINT:
		case XR_CT_BOOL:
		case XR_CT_ENUM:
			xr_cfg_put_u(base, r, r->def);
			break;
		case XR_CT_HOST:
		case XR_CT_PATH:
		case XR_CT_NAME:
			snprintf((char *)base + r->off, r->size, "%s",
			    r->def_s != NULL ? r->def_s : "");
			break;
		default:
			break;
		}
	}
}

void
xr_config_defaults(xr_config *cfg)
{
	xr_group_cfg *g = &cfg->groups[0];

	memset(cfg, 0, sizeof(*cfg));
	xr_cfg_put_defaults(cfg, false);
	cfg->n_groups = 1;
	xr_cfg_put_defaults(g, true);
	snprintf(g->name, sizeof(g->name), "%s", XR_CFG_DEFAULT_GROUP);
	g->workers = XR_CFG_DEFAULT_GROUP_WORKERS;
}

const char *
xr_cfg_enum_name(xr_cfg_key k, unsigned v)
{
	const char *const *names;

	if ((unsigned)k >= XR_CK__COUNT ||
	    (names = xr_cfg_rows[k].names) == NULL)
		return "unknown";
	for (unsigned i = 0; names[i] != NULL; i++)
		if (i == v)
			return names[i];
	return "unknown";
}

int
xr_config_check_uint(const char *path, uint64_t v, xr_diag *d)
{
	const xr_cfg_row *r = xr_cfg_row_find(path);

	if (r == NULL || r->type != XR_CT_UINT)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "%.160s: not a number key", path);
	if (v < r->min || v > r->max)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "%s: %llu out of range (allowed: %llu..%llu)", r->path,
		    (unsigned long long)v, (unsigned long long)r->min,
		    (unsigned long long)r->max);
	return XR_OK;
}

/* ---- names -------------------------------------------------------------- */

const char *
xr_transport_name(xr_transport t)
{
	return xr_cfg_enum_name(XR_CK_TRANSPORT, t);
}

const char *
xr_boot_mode_name(xr_boot_mode m)
{
	return xr_cfg_enum_name(XR_CK_BOOT_MODE, m);
}

const char *
xr_secret_mode_name(xr_secret_mode m)
{
	return xr_cfg_enum_name(XR_CK_SECRET_MODE, m);
}

const char *
xr_kdf_name(xr_kdf k)
{
	return xr_cfg_enum_name(XR_CK_KDF, k);
}

const char *
xr_restart_name(xr_restart r)
{
	return xr_cfg_enum_name(XR_CK_GROUP_RESTART, r);
}

bool
xr_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (host == NULL)
		return false;
	if (strcmp(host, "localhost") == 0)
		return true;
	/* glibc's inet_pton(AF_INET) takes exactly four decimal octets */
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}
