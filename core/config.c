/*
 * core/config.c — the YAML configuration (docs/design.md section 7).
 *
 * Two passes. First the text becomes a tree (core/yamltree.c), which
 * refuses aliases, anchors, explicit tags, multiple documents and deep
 * nesting. Then the tree is checked against the schema section by section
 * and copied into an xr_config that already holds the defaults.
 *
 * Scalar typing (libyaml reports only the text and its style):
 *  - integer keys take a plain (unquoted) scalar [-+]?[0-9]+ without leading
 *    zeros; a quoted "123" is refused, so that a string never silently
 *    becomes a number and YAML 1.1 octal (0123) is never guessed at;
 *  - boolean keys take plain true or false only;
 *  - string keys take any style, but not a plain null (~, null, empty);
 *  - a mapping key whose value is null (`runtime:` with nothing under it)
 *    counts as an empty mapping.
 *
 * Secrets: the tree wipes every scalar it held (core/yamltree.h). Use
 * secret_file outside development. Values under ...auth are never echoed
 * in a diagnostic.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yamltree.h"

#define CFG_FILE_MAX	(1024 * 1024)	/* largest config file accepted */
#define CFG_SOCKET_MAX	107		/* sizeof(sun_path) less the NUL */
#define CFG_PATH_LEN	192		/* a key path in a diagnostic */
#define CFG_ECHO_MAX	XR_YT_ECHO_MAX	/* bytes of a bad value echoed */

#define P_PLATFORM	"runtime.platform"
#define P_IPC		P_PLATFORM ".execution_ipc"
#define P_AUTH		P_IPC ".auth"
#define P_GROUPS	P_PLATFORM ".process_groups"

/* Validation state. */
struct vctx {
	xr_config *cfg;
	xr_diag *d;
	bool have_secret;
	bool have_secret_file;
};

static const char *const transport_names[] = { "memory", "tcp_local" };
static const char *const boot_names[] = { "inline", "process_supervisor" };
static const char *const secret_mode_names[] = { "generated", "static" };
static const char *const kdf_names[] = { "none", "hkdf_sha256" };
static const char *const restart_names[] = { "never", "on-failure" };
static const char *const rules_names[] = { "baseline", "experiment" };
static const char *const auth_mode_names[] = { "hmac" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Allowed keys per mapping, in the order of docs/design.md section 7. */
static const char *const keys_root[] = { "runtime", "apps", NULL };
static const char *const keys_runtime[] = { "platform", NULL };
static const char *const keys_platform[] = { "execution_ipc", "bootstrap",
    "lifecycle", "control", "process_groups", NULL };
static const char *const keys_ipc[] = { "transport", "bind_host",
    "bind_port", "max_payload_bytes", "auth", NULL };
static const char *const keys_auth[] = { "mode", "secret_mode",
    "secret_file", "secret", "kdf", "ttl_seconds", "nonce_cache_size", NULL };
static const char *const keys_bootstrap[] = { "mode", NULL };
static const char *const keys_lifecycle[] = { "ready_timeout_seconds",
    "graceful_timeout_seconds", "drain_inflight", NULL };
static const char *const keys_control[] = { "socket", NULL };
static const char *const keys_group[] = { "name", "workers", "restart",
    "services", NULL };
static const char *const keys_apps[] = { "fundload", NULL };
static const char *const keys_fundload[] = { "rules", NULL };

/* ---- names -------------------------------------------------------------- */

static const char *
name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : "unknown";
}

const char *
xr_transport_name(xr_transport t)
{
	return name_of(transport_names, NELEM(transport_names), t);
}

const char *
xr_boot_mode_name(xr_boot_mode m)
{
	return name_of(boot_names, NELEM(boot_names), m);
}

const char *
xr_secret_mode_name(xr_secret_mode m)
{
	return name_of(secret_mode_names, NELEM(secret_mode_names), m);
}

const char *
xr_kdf_name(xr_kdf k)
{
	return name_of(kdf_names, NELEM(kdf_names), k);
}

const char *
xr_restart_name(xr_restart r)
{
	return name_of(restart_names, NELEM(restart_names), r);
}

const char *
xr_rules_name(xr_rules r)
{
	return name_of(rules_names, NELEM(rules_names), r);
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

/* ---- defaults and lifetime ---------------------------------------------- */

void
xr_config_defaults(xr_config *cfg)
{
	xr_group_cfg *g;

	memset(cfg, 0, sizeof(*cfg));
	cfg->transport = XR_TRANSPORT_MEMORY;
	snprintf(cfg->bind_host, sizeof(cfg->bind_host), "127.0.0.1");
	cfg->bind_port = 0;
	cfg->max_payload_bytes = 1048576;
	cfg->auth_hmac = true;
	cfg->secret_mode = XR_SECRET_GENERATED;
	cfg->secret_inline = NULL;
	cfg->secret_inline_len = 0;
	cfg->kdf = XR_KDF_HKDF_SHA256;
	cfg->ttl_seconds = 30;
	cfg->nonce_cache_size = 65536;
	cfg->boot_mode = XR_BOOT_INLINE;
	cfg->ready_timeout_seconds = 5;
	cfg->graceful_timeout_seconds = 10;
	cfg->drain_inflight = true;
	snprintf(cfg->control_socket, sizeof(cfg->control_socket),
	    "/run/execrpc/control.sock");
	cfg->n_groups = 1;
	g = &cfg->groups[0];
	snprintf(g->name, sizeof(g->name), "execution");
	g->workers = 2;
	g->restart = XR_RESTART_ON_FAILURE;
	g->n_services = 1;
	snprintf(g->services[0], sizeof(g->services[0]),
	    "fundload.v1.FundLoad");
	cfg->fundload_rules = XR_RULES_BASELINE;
}

void
xr_config_free(xr_config *cfg)
{
	if (cfg == NULL)
		return;
	if (cfg->secret_inline != NULL) {
		xr_wipe(cfg->secret_inline, cfg->secret_inline_len);
		free(cfg->secret_inline);
	}
	cfg->secret_inline = NULL;
	cfg->secret_inline_len = 0;
}

/* ---- validation helpers ------------------------------------------------- */

static void
path_join(char *out, size_t cap, const char *parent, const char *key,
    size_t keylen)
{
	char k[CFG_ECHO_MAX + 8];

	xr_yt_san(key, keylen, k, sizeof(k));
	if (parent[0] == '\0')
		snprintf(out, cap, "%s", k);
	else
		snprintf(out, cap, "%s.%s", parent, k);
}

/* "a, b, c" from a NULL-terminated list. */
static const char *
join_names(const char *const *names, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; (n == 0 || i < n) && names[i] != NULL; i++) {
		int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "",
		    names[i]);

		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
	return buf;
}

/*
 * Check that `n` is a mapping (or null: an empty one) whose keys are strings
 * from `keys`, each at most once.
 */
static int
v_map(struct vctx *c, const xr_ynode *n, const char *path,
    const char *const *keys)
{
	char p[CFG_PATH_LEN], allowed[160];

	if (xr_yt_is_null(n))
		return XR_OK;
	if (n->type != XR_YN_MAP)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a mapping (line %zu)",
		    path[0] ? path : "config", n->line);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const xr_ynode *k = n->kid[i];
		bool known = false;

		if (k->type != XR_YN_SCALAR)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: mapping keys must be strings (line %zu)",
			    path[0] ? path : "config", k->line);
		path_join(p, sizeof(p), path, k->s, k->len);
		for (size_t j = 0; keys[j] != NULL && !known; j++)
			known = xr_yt_key_is(k, keys[j]);
		if (!known)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: unknown key (allowed: %s)", p,
			    join_names(keys, 0, allowed, sizeof(allowed)));
		for (size_t j = 0; j < i; j += 2)
			if (xr_yt_key_is(n->kid[j], k->s))
				return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
				    "%s: duplicate key (lines %zu and %zu)", p,
				    n->kid[j]->line, k->line);
	}
	return XR_OK;
}

/* Parse [-+]?[0-9]+ without leading zeros; saturates far beyond any limit. */
static bool
parse_int(const char *s, size_t len, long long *out)
{
	unsigned long long v = 0;
	size_t i = 0;
	bool neg = false;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len || (s[i] == '0' && len - i > 1))
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v < 1000000000000ULL)
			v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = neg ? -(long long)v : (long long)v;
	return true;
}

static int
v_uint(struct vctx *c, const xr_ynode *n, const char *path, long long min,
    long long max, uint32_t *out)
{
	char e[CFG_ECHO_MAX + 8];
	long long v;

	if (n->type != XR_YN_SCALAR || xr_yt_is_null(n))
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected an integer (allowed: %lld..%lld)", path,
		    min, max);
	if (!n->plain)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected an integer, not a quoted string (allowed: "
		    "%lld..%lld)", path, min, max);
	if (!parse_int(n->s, n->len, &v))
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: \"%s\" is not a decimal integer (allowed: "
		    "%lld..%lld)", path, xr_yt_san(n->s, n->len, e, sizeof(e)),
		    min, max);
	if (v < min || v > max)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: %s out of range (allowed: %lld..%lld)", path,
		    xr_yt_san(n->s, n->len, e, sizeof(e)), min, max);
	*out = (uint32_t)v;
	return XR_OK;
}

static int
v_bool(struct vctx *c, const xr_ynode *n, const char *path, bool *out)
{
	if (n->type == XR_YN_SCALAR && n->plain && strcmp(n->s, "true") == 0)
		*out = true;
	else if (n->type == XR_YN_SCALAR && n->plain &&
	    strcmp(n->s, "false") == 0)
		*out = false;
	else
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a boolean (allowed: true, false)", path);
	return XR_OK;
}

/* A string of 1..cap-1 bytes without NUL into `buf`. */
static int
v_str(struct vctx *c, const xr_ynode *n, const char *path, char *buf,
    size_t cap)
{
	if (n->type != XR_YN_SCALAR || xr_yt_is_null(n))
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a string", path);
	if (n->len == 0 || n->len >= cap || strlen(n->s) != n->len)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: must be 1..%zu bytes without NUL", path, cap - 1);
	memcpy(buf, n->s, n->len + 1);
	return XR_OK;
}

/* One of `names`; the value is echoed only if `echo`. */
static int
v_enum(struct vctx *c, const xr_ynode *n, const char *path,
    const char *const *names, size_t count, bool echo, unsigned *out)
{
	char allowed[128], e[CFG_ECHO_MAX + 8];

	join_names(names, count, allowed, sizeof(allowed));
	if (n->type != XR_YN_SCALAR || xr_yt_is_null(n))
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a string (allowed: %s)", path, allowed);
	for (size_t i = 0; i < count; i++) {
		if (strlen(n->s) == n->len && strcmp(n->s, names[i]) == 0) {
			*out = (unsigned)i;
			return XR_OK;
		}
	}
	if (echo)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: unsupported value \"%s\" (allowed: %s)", path,
		    xr_yt_san(n->s, n->len, e, sizeof(e)), allowed);
	return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
	    "%s: unsupported value (allowed: %s)", path, allowed);
}

static bool
name_ok(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' ||
		    strchr(extra, *s) != NULL))
			return false;
	return true;
}

/* ---- sections ----------------------------------------------------------- */

static int
v_auth(struct vctx *c, const xr_ynode *n)
{
	xr_config *cfg = c->cfg;
	const xr_ynode *v;
	unsigned e;
	int r;

	if ((r = v_map(c, n, P_AUTH, keys_auth)) != XR_OK)
		return r;
	if ((v = xr_yt_get(n, "mode")) != NULL) {
		if ((r = v_enum(c, v, P_AUTH ".mode", auth_mode_names,
		    NELEM(auth_mode_names), false, &e)) != XR_OK)
			return r;
		cfg->auth_hmac = true;
	}
	if ((v = xr_yt_get(n, "secret_mode")) != NULL) {
		if ((r = v_enum(c, v, P_AUTH ".secret_mode", secret_mode_names,
		    NELEM(secret_mode_names), false, &e)) != XR_OK)
			return r;
		cfg->secret_mode = (xr_secret_mode)e;
	}
	if ((v = xr_yt_get(n, "secret_file")) != NULL) {
		if ((r = v_str(c, v, P_AUTH ".secret_file", cfg->secret_file,
		    sizeof(cfg->secret_file))) != XR_OK)
			return r;
		c->have_secret_file = true;
	}
	if ((v = xr_yt_get(n, "secret")) != NULL) {
		/* never echo any part of this value */
		if (v->type != XR_YN_SCALAR || xr_yt_is_null(v))
			return xr_diag_set(c->d, XR_ERR_SECRET_INVALID,
			    P_AUTH ".secret: expected a string");
		if (v->len < XR_SECRET_MIN)
			return xr_diag_set(c->d, XR_ERR_SECRET_INVALID,
			    P_AUTH ".secret: too short (minimum %d bytes)",
			    XR_SECRET_MIN);
		if (v->len > XR_SECRET_MAX)
			return xr_diag_set(c->d, XR_ERR_SECRET_INVALID,
			    P_AUTH ".secret: too long (maximum %d bytes)",
			    XR_SECRET_MAX);
		if ((cfg->secret_inline = malloc(v->len)) == NULL)
			return xr_diag_set(c->d, XR_ERR_NOMEM,
			    "config: out of memory");
		memcpy(cfg->secret_inline, v->s, v->len);
		cfg->secret_inline_len = v->len;
		c->have_secret = true;
	}
	if ((v = xr_yt_get(n, "kdf")) != NULL) {
		if ((r = v_enum(c, v, P_AUTH ".kdf", kdf_names,
		    NELEM(kdf_names), false, &e)) != XR_OK)
			return r;
		cfg->kdf = (xr_kdf)e;
	}
	if ((v = xr_yt_get(n, "ttl_seconds")) != NULL &&
	    (r = v_uint(c, v, P_AUTH ".ttl_seconds", 1, 3600,
	    &cfg->ttl_seconds)) != XR_OK)
		return r;
	if ((v = xr_yt_get(n, "nonce_cache_size")) != NULL &&
	    (r = v_uint(c, v, P_AUTH ".nonce_cache_size", 16, 16777216,
	    &cfg->nonce_cache_size)) != XR_OK)
		return r;
	return XR_OK;
}

static int
v_ipc(struct vctx *c, const xr_ynode *n)
{
	xr_config *cfg = c->cfg;
	const xr_ynode *v;
	unsigned e;
	int r;

	if ((r = v_map(c, n, P_IPC, keys_ipc)) != XR_OK)
		return r;
	if ((v = xr_yt_get(n, "transport")) != NULL) {
		if ((r = v_enum(c, v, P_IPC ".transport", transport_names,
		    NELEM(transport_names), true, &e)) != XR_OK)
			return r;
		cfg->transport = (xr_transport)e;
	}
	if ((v = xr_yt_get(n, "bind_host")) != NULL) {
		char ebuf[CFG_ECHO_MAX + 8];

		if ((r = v_str(c, v, P_IPC ".bind_host", cfg->bind_host,
		    sizeof(cfg->bind_host))) != XR_OK)
			return r;
		if (!xr_host_is_loopback(cfg->bind_host))
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    P_IPC ".bind_host: \"%s\" is not a loopback "
			    "address (allowed: 127.0.0.0/8, ::1, localhost)",
			    xr_yt_san(v->s, v->len, ebuf, sizeof(ebuf)));
	}
	if ((v = xr_yt_get(n, "bind_port")) != NULL &&
	    (r = v_uint(c, v, P_IPC ".bind_port", 0, 65535,
	    &cfg->bind_port)) != XR_OK)
		return r;
	if ((v = xr_yt_get(n, "max_payload_bytes")) != NULL &&
	    (r = v_uint(c, v, P_IPC ".max_payload_bytes", 1, 67108864,
	    &cfg->max_payload_bytes)) != XR_OK)
		return r;
	return v_auth(c, xr_yt_get(n, "auth"));
}

static int
v_group(struct vctx *c, const xr_ynode *n, size_t idx)
{
	xr_group_cfg *g = &c->cfg->groups[idx];
	char path[CFG_PATH_LEN], p[CFG_PATH_LEN + 32];
	const xr_ynode *v, *s;
	unsigned e;
	int r;

	snprintf(path, sizeof(path), P_GROUPS "[%zu]", idx);
	if (xr_yt_is_null(n) || n->type != XR_YN_MAP)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a mapping (keys: name, workers, restart, "
		    "services)", path);
	if ((r = v_map(c, n, path, keys_group)) != XR_OK)
		return r;
	memset(g, 0, sizeof(*g));
	g->workers = 1;
	g->restart = XR_RESTART_ON_FAILURE;

	snprintf(p, sizeof(p), "%s.name", path);
	if ((v = xr_yt_get(n, "name")) == NULL)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: required", p);
	if ((r = v_str(c, v, p, g->name, sizeof(g->name))) != XR_OK)
		return r;
	if (!name_ok(g->name, "-."))
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: invalid group name (allowed: [A-Za-z0-9_.-], 1..%d "
		    "bytes)", p, XR_CFG_NAME_MAX - 1);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(c->cfg->groups[i].name, g->name) == 0)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: duplicate group name \"%s\" (also "
			    P_GROUPS "[%zu])", p, g->name, i);

	snprintf(p, sizeof(p), "%s.workers", path);
	if ((v = xr_yt_get(n, "workers")) != NULL &&
	    (r = v_uint(c, v, p, 1, 64, &g->workers)) != XR_OK)
		return r;

	snprintf(p, sizeof(p), "%s.restart", path);
	if ((v = xr_yt_get(n, "restart")) != NULL) {
		if ((r = v_enum(c, v, p, restart_names, NELEM(restart_names),
		    true, &e)) != XR_OK)
			return r;
		g->restart = (xr_restart)e;
	}

	snprintf(p, sizeof(p), "%s.services", path);
	if ((v = xr_yt_get(n, "services")) == NULL)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: required (a non-empty list of service names)", p);
	if (v->type != XR_YN_SEQ || v->n == 0)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a non-empty list of service names", p);
	if (v->n > XR_CFG_MAX_SERVICES)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: too many services (allowed: 1..%d)", p,
		    XR_CFG_MAX_SERVICES);
	for (size_t i = 0; i < v->n; i++) {
		char sp[CFG_PATH_LEN + 64];
		char *dst = g->services[i];

		s = v->kid[i];
		snprintf(sp, sizeof(sp), "%s[%zu]", p, i);
		if ((r = v_str(c, s, sp, dst, sizeof(g->services[i]))) !=
		    XR_OK)
			return r;
		if (!name_ok(dst, "."))
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: invalid service name (allowed: [A-Za-z0-9_.], "
			    "1..%zu bytes)", sp, sizeof(g->services[i]) - 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(g->services[j], dst) == 0)
				return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
				    "%s: duplicate service \"%s\"", sp, dst);
		g->n_services = i + 1;
	}
	return XR_OK;
}

static int
v_groups(struct vctx *c, const xr_ynode *n)
{
	int r;

	if (n->type != XR_YN_SEQ || n->n == 0)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    P_GROUPS ": expected a non-empty list of groups");
	if (n->n > XR_CFG_MAX_GROUPS)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    P_GROUPS ": too many groups (allowed: 1..%d)",
		    XR_CFG_MAX_GROUPS);
	c->cfg->n_groups = 0;
	memset(c->cfg->groups, 0, sizeof(c->cfg->groups));
	for (size_t i = 0; i < n->n; i++) {
		if ((r = v_group(c, n->kid[i], i)) != XR_OK)
			return r;
		c->cfg->n_groups = i + 1;
	}
	return XR_OK;
}

static int
v_platform(struct vctx *c, const xr_ynode *n)
{
	xr_config *cfg = c->cfg;
	const xr_ynode *s, *v;
	unsigned e;
	int r;

	if ((r = v_map(c, n, P_PLATFORM, keys_platform)) != XR_OK ||
	    (r = v_ipc(c, xr_yt_get(n, "execution_ipc"))) != XR_OK)
		return r;

	s = xr_yt_get(n, "bootstrap");
	if ((r = v_map(c, s, P_PLATFORM ".bootstrap", keys_bootstrap)) !=
	    XR_OK)
		return r;
	if ((v = xr_yt_get(s, "mode")) != NULL) {
		if ((r = v_enum(c, v, P_PLATFORM ".bootstrap.mode", boot_names,
		    NELEM(boot_names), true, &e)) != XR_OK)
			return r;
		cfg->boot_mode = (xr_boot_mode)e;
	}

	s = xr_yt_get(n, "lifecycle");
	if ((r = v_map(c, s, P_PLATFORM ".lifecycle", keys_lifecycle)) !=
	    XR_OK)
		return r;
	if ((v = xr_yt_get(s, "ready_timeout_seconds")) != NULL &&
	    (r = v_uint(c, v, P_PLATFORM ".lifecycle.ready_timeout_seconds",
	    1, 3600, &cfg->ready_timeout_seconds)) != XR_OK)
		return r;
	if ((v = xr_yt_get(s, "graceful_timeout_seconds")) != NULL &&
	    (r = v_uint(c, v,
	    P_PLATFORM ".lifecycle.graceful_timeout_seconds", 0, 3600,
	    &cfg->graceful_timeout_seconds)) != XR_OK)
		return r;
	if ((v = xr_yt_get(s, "drain_inflight")) != NULL &&
	    (r = v_bool(c, v, P_PLATFORM ".lifecycle.drain_inflight",
	    &cfg->drain_inflight)) != XR_OK)
		return r;

	s = xr_yt_get(n, "control");
	if ((r = v_map(c, s, P_PLATFORM ".control", keys_control)) != XR_OK)
		return r;
	if ((v = xr_yt_get(s, "socket")) != NULL) {
		/* a unix socket path must fit sun_path */
		char sock[CFG_SOCKET_MAX + 1];

		if ((r = v_str(c, v, P_PLATFORM ".control.socket", sock,
		    sizeof(sock))) != XR_OK)
			return r;
		snprintf(cfg->control_socket, sizeof(cfg->control_socket),
		    "%s", sock);
	}

	if ((v = xr_yt_get(n, "process_groups")) != NULL &&
	    (r = v_groups(c, v)) != XR_OK)
		return r;
	return XR_OK;
}

static int
v_root(struct vctx *c, const xr_ynode *root)
{
	const xr_ynode *rt, *apps, *fl, *v;
	unsigned e;
	int r;

	if ((r = v_map(c, root, "", keys_root)) != XR_OK)
		return r;
	rt = xr_yt_get(root, "runtime");
	if ((r = v_map(c, rt, "runtime", keys_runtime)) != XR_OK ||
	    (r = v_platform(c, xr_yt_get(rt, "platform"))) != XR_OK)
		return r;
	apps = xr_yt_get(root, "apps");
	if ((r = v_map(c, apps, "apps", keys_apps)) != XR_OK)
		return r;
	fl = xr_yt_get(apps, "fundload");
	if ((r = v_map(c, fl, "apps.fundload", keys_fundload)) != XR_OK)
		return r;
	if ((v = xr_yt_get(fl, "rules")) != NULL) {
		if ((r = v_enum(c, v, "apps.fundload.rules", rules_names,
		    NELEM(rules_names), true, &e)) != XR_OK)
			return r;
		c->cfg->fundload_rules = (xr_rules)e;
	}
	return XR_OK;
}

/* Rules that span keys, checked once every key has its value. */
static int
v_cross(struct vctx *c)
{
	const xr_config *cfg = c->cfg;

	if (cfg->secret_mode == XR_SECRET_GENERATED &&
	    (c->have_secret || c->have_secret_file))
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    P_AUTH ".%s: conflicts with " P_AUTH ".secret_mode: "
		    "generated (set secret_mode: static, or remove it)",
		    c->have_secret ? "secret" : "secret_file");
	if (cfg->secret_mode == XR_SECRET_STATIC &&
	    c->have_secret == c->have_secret_file)
		return xr_diag_set(c->d, XR_ERR_SECRET_INVALID,
		    P_AUTH ".secret_mode: static requires exactly one of "
		    P_AUTH ".secret_file or " P_AUTH ".secret");
	if (cfg->boot_mode == XR_BOOT_PROCESS_SUPERVISOR &&
	    cfg->transport != XR_TRANSPORT_TCP_LOCAL)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    P_PLATFORM ".bootstrap.mode: process_supervisor requires "
		    P_IPC ".transport: tcp_local (got %s)",
		    xr_transport_name(cfg->transport));
	return XR_OK;
}

/* ---- entry points ------------------------------------------------------- */

int
xr_config_load_string(const char *yaml, size_t len, xr_config *cfg,
    xr_diag *d)
{
	struct vctx c;
	xr_ynode *root = NULL;
	int r;

	if (d != NULL)
		memset(d, 0, sizeof(*d));
	if (cfg == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "config: no output");
	xr_config_defaults(cfg);
	if (yaml == NULL && len > 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "config: no input");
	if (len > CFG_FILE_MAX)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "config: larger than 1 MiB (limit %d bytes)", CFG_FILE_MAX);
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.d = d;
	if ((r = xr_yt_load(yaml != NULL ? yaml : "", len, &root, d)) != XR_OK ||
	    (r = v_root(&c, root)) != XR_OK ||
	    (r = v_cross(&c)) != XR_OK)
		goto out;
	r = XR_OK;
 out:
	xr_yt_free(root);
	if (r != XR_OK) {
		xr_config_free(cfg);
		xr_config_defaults(cfg);
	}
	return r;
}

int
xr_config_load_file(const char *path, xr_config *cfg, xr_diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	if (d != NULL)
		memset(d, 0, sizeof(*d));
	if (cfg == NULL || path == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "config: no file");
	xr_config_defaults(cfg);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "config file %.160s: cannot open (%s)", path,
		    strerror(errno));
		goto out;
	}
	/* one byte over the limit tells "too large" from "exactly 1 MiB" */
	if ((buf = malloc(CFG_FILE_MAX + 1)) == NULL) {
		r = xr_diag_set(d, XR_ERR_NOMEM, "config: out of memory");
		goto out;
	}
	while (len < CFG_FILE_MAX + 1) {
		ssize_t n = read(fd, buf + len, CFG_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = xr_diag_set(d, XR_ERR_CONFIG_INVALID,
			    "config file %.160s: read failed (%s)", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CFG_FILE_MAX) {
		r = xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "config file %.160s: larger than 1 MiB (limit %d bytes)",
		    path, CFG_FILE_MAX);
		goto out;
	}
	r = xr_config_load_string(buf, len, cfg, d);
 out:
	if (buf != NULL) {
		xr_wipe(buf, len);
		free(buf);
	}
	if (fd != -1)
		close(fd);
	return r;
}

int
xr_config_keyset(const xr_config *cfg, xr_keyset *out, xr_diag *d)
{
	uint8_t master[XR_SECRET_MAX];
	const uint8_t *m = master;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (cfg->secret_mode == XR_SECRET_GENERATED) {
		if ((r = xr_keys_generate_master(master)) != XR_OK) {
			r = xr_diag_set(d, r, P_AUTH ".secret_mode: cannot "
			    "generate the master secret (%s)",
			    xr_strerror(r));
			goto out;
		}
		len = XR_MASTER_LEN;
	} else if (cfg->secret_file[0] != '\0') {
		if ((r = xr_keys_load_file(cfg->secret_file, master,
		    sizeof(master), &len, d)) != XR_OK) {
			char why[sizeof(d->reason)];

			/* prefix the key path; the reason names the path only */
			if (d != NULL) {
				snprintf(why, sizeof(why), "%s", d->reason);
				xr_diag_set(d, r, P_AUTH ".secret_file: %s",
				    why);
			}
			goto out;
		}
	} else if (cfg->secret_inline != NULL &&
	    cfg->secret_inline_len >= XR_SECRET_MIN &&
	    cfg->secret_inline_len <= XR_SECRET_MAX) {
		m = cfg->secret_inline;
		len = cfg->secret_inline_len;
	} else {
		r = xr_diag_set(d, XR_ERR_SECRET_INVALID, P_AUTH ".secret_mode: "
		    "static requires exactly one of " P_AUTH ".secret_file or "
		    P_AUTH ".secret");
		goto out;
	}
	if ((r = xr_keys_derive(m, len, cfg->kdf, out)) != XR_OK) {
		r = xr_diag_set(d, r, P_AUTH ".kdf: key derivation failed (%s)",
		    xr_strerror(r));
		goto out;
	}
	r = XR_OK;
 out:
	xr_wipe(master, sizeof(master));
	if (r != XR_OK)
		xr_keyset_wipe(out);
	return r;
}
