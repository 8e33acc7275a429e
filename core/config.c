/*
 * core/config.c — the YAML configuration (docs/design.md section 7).
 *
 * Two passes. First the text becomes a tree (core/yamltree.c), which
 * refuses aliases, anchors, explicit tags, multiple documents and deep
 * nesting. Then the tree is checked against the table of core/cfgtab.c and
 * copied into an xr_config that already holds the table's defaults: the
 * keys a mapping allows are the next components of the rows under its
 * path, each row's type says how its value is read, and its range or names
 * bound it.
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
 * secret_file outside development. Values of rows without XR_CF_ECHO are
 * never echoed in a diagnostic, and nothing under ...auth is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgpriv.h"
#include "printable.h"
#include "yamltree.h"

#define CFG_FILE_MAX	(1024 * 1024)	/* largest config file accepted */
#define CFG_KEYS_MAX	16		/* keys one mapping of the schema has */
#define CFG_KEY_LEN	32		/* longest schema key, with the NUL */
/* an untrusted key or value in a diagnostic (xr_printable): in full when it
 * renders to at most 35 bytes, else its first 32 or fewer and "..." */
#define CFG_ECHO_LEN	36

#define P_PLATFORM	"runtime.platform"
#define P_IPC		P_PLATFORM ".execution_ipc"
#define P_AUTH		P_IPC ".auth"
#define P_GROUP		P_PLATFORM ".process_groups[]"

/* The keys of one schema mapping, in table order. */
struct keylist {
	size_t n;
	char k[CFG_KEYS_MAX][CFG_KEY_LEN];
	const char *p[CFG_KEYS_MAX + 1];	/* NULL-terminated */
};

static int v_section(xr_cfg_vctx *c, const xr_ynode *n, const char *sp,
    const char *dp, void *base);

/* ---- helpers ------------------------------------------------------------ */

void
xr_cfg_path_join(char *out, size_t cap, const char *parent, const char *key,
    size_t keylen)
{
	char k[CFG_ECHO_LEN];

	xr_printable(key, keylen, k, sizeof(k));
	if (parent[0] == '\0')
		snprintf(out, cap, "%s", k);
	else
		snprintf(out, cap, "%s.%s", parent, k);
}

/* "a, b, c" from a NULL-terminated list. */
static const char *
join_names(const char *const *names, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL; i++) {
		int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "",
		    names[i]);

		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
	return buf;
}

/* The keys directly under schema path `sp` ("" = the document): the next
 * component (up to '.' or '[') of every row below it, once each. */
static void
children(const char *sp, struct keylist *kl)
{
	size_t splen = strlen(sp);

	kl->n = 0;
	for (size_t i = 0; i < XR_CK__COUNT; i++) {
		const char *p = xr_cfg_rows[i].path, *rest;
		size_t len;
		bool dup = false;

		if (splen > 0 && (strncmp(p, sp, splen) != 0 || p[splen] != '.'))
			continue;
		rest = splen > 0 ? p + splen + 1 : p;
		len = strcspn(rest, ".[");
		for (size_t j = 0; j < kl->n && !dup; j++)
			dup = strlen(kl->k[j]) == len &&
			    strncmp(kl->k[j], rest, len) == 0;
		if (dup || kl->n == CFG_KEYS_MAX || len >= CFG_KEY_LEN)
			continue;
		memcpy(kl->k[kl->n], rest, len);
		kl->k[kl->n][len] = '\0';
		kl->p[kl->n] = kl->k[kl->n];
		kl->n++;
	}
	kl->p[kl->n] = NULL;
}

int
xr_cfg_check_map(xr_cfg_vctx *c, const xr_ynode *n, const char *path,
    const char *const *keys)
{
	char p[XR_CFG_DIAG_PATH], allowed[160];

	if (xr_yt_is_null(n))
		return XR_OK;
	if (n->type != XR_YN_MAP)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a mapping (line %zu)",
		    path[0] ? path : "config", n->line);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const xr_ynode *k = n->kid[i];
		bool known = keys == NULL;

		if (k->type != XR_YN_SCALAR)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: mapping keys must be strings (line %zu)",
			    path[0] ? path : "config", k->line);
		xr_cfg_path_join(p, sizeof(p), path, k->s, k->len);
		for (size_t j = 0; keys != NULL && keys[j] != NULL && !known;
		    j++)
			known = xr_yt_key_is(k, keys[j]);
		if (!known)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: unknown key (allowed: %s)", p,
			    join_names(keys, allowed, sizeof(allowed)));
		for (size_t j = 0; j < i; j += 2)
			if (n->kid[j]->len == k->len &&
			    memcmp(n->kid[j]->s, k->s, k->len) == 0)
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
v_uint(xr_cfg_vctx *c, const xr_ynode *n, const char *path,
    const xr_cfg_row *row, uint64_t *out)
{
	long long min = (long long)row->min, max = (long long)row->max, v;
	char e[CFG_ECHO_LEN];

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
		    "%lld..%lld)", path,
		    xr_printable(n->s, n->len, e, sizeof(e)), min, max);
	if (v < min || v > max)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: %s out of range (allowed: %lld..%lld)", path,
		    xr_printable(n->s, n->len, e, sizeof(e)), min, max);
	*out = (uint64_t)v;
	return XR_OK;
}

static int
v_bool(xr_cfg_vctx *c, const xr_ynode *n, const char *path, uint64_t *out)
{
	if (n->type == XR_YN_SCALAR && n->plain && strcmp(n->s, "true") == 0)
		*out = 1;
	else if (n->type == XR_YN_SCALAR && n->plain &&
	    strcmp(n->s, "false") == 0)
		*out = 0;
	else
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a boolean (allowed: true, false)", path);
	return XR_OK;
}

/* A string of 1..cap-1 bytes without NUL into `buf`. */
static int
v_str(xr_cfg_vctx *c, const xr_ynode *n, const char *path, char *buf,
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

/* One of the row's names; the value is echoed only with XR_CF_ECHO. */
static int
v_enum(xr_cfg_vctx *c, const xr_ynode *n, const char *path,
    const xr_cfg_row *row, uint64_t *out)
{
	char allowed[128], e[CFG_ECHO_LEN];

	join_names(row->names, allowed, sizeof(allowed));
	if (n->type != XR_YN_SCALAR || xr_yt_is_null(n))
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a string (allowed: %s)", path, allowed);
	for (size_t i = 0; row->names[i] != NULL; i++) {
		if (strlen(n->s) == n->len && strcmp(n->s, row->names[i]) == 0) {
			*out = i;
			return XR_OK;
		}
	}
	if (row->flags & XR_CF_ECHO)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: unsupported value \"%s\" (allowed: %s)", path,
		    xr_printable(n->s, n->len, e, sizeof(e)), allowed);
	return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
	    "%s: unsupported value (allowed: %s)", path, allowed);
}

bool
xr_cfg_chars_ok(const char *s, size_t len, const char *extra)
{
	if (len == 0 || strlen(s) != len)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' ||
		    strchr(extra, *s) != NULL))
			return false;
	return true;
}

/* ---- typed rows ----------------------------------------------------------- */

/* The inline secret: never echo any part of it. */
static int
v_secret(xr_cfg_vctx *c, const xr_ynode *v, const char *path,
    const xr_cfg_row *row)
{
	xr_config *cfg = c->cfg;

	if (v->type != XR_YN_SCALAR || xr_yt_is_null(v))
		return xr_diag_set(c->d, XR_ERR_SECRET_INVALID,
		    "%s: expected a string", path);
	if (v->len < row->min)
		return xr_diag_set(c->d, XR_ERR_SECRET_INVALID,
		    "%s: too short (minimum %llu bytes)", path,
		    (unsigned long long)row->min);
	if (v->len > row->max)
		return xr_diag_set(c->d, XR_ERR_SECRET_INVALID,
		    "%s: too long (maximum %llu bytes)", path,
		    (unsigned long long)row->max);
	if ((cfg->secret_inline = malloc(v->len)) == NULL)
		return xr_diag_set(c->d, XR_ERR_NOMEM, "config: out of memory");
	memcpy(cfg->secret_inline, v->s, v->len);
	cfg->secret_inline_len = v->len;
	c->have_secret = true;
	return XR_OK;
}

/* A group's services: absent, null or [] = every service of the program. */
static int
v_services(xr_cfg_vctx *c, const xr_ynode *v, const char *p,
    const xr_cfg_row *row, xr_group_cfg *g)
{
	if (xr_yt_is_null(v))
		return XR_OK;
	if (v->type != XR_YN_SEQ)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a list of service names (empty: every "
		    "service of the program)", p);
	if (v->n > row->max)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: too many services (allowed: %llu..%llu)", p,
		    (unsigned long long)row->min,
		    (unsigned long long)row->max);
	for (size_t i = 0; i < v->n; i++) {
		char sp[XR_CFG_DIAG_PATH + 32];
		char *dst = g->services[i];
		int r;

		snprintf(sp, sizeof(sp), "%s[%zu]", p, i);
		if ((r = v_str(c, v->kid[i], sp, dst, sizeof(g->services[i]))) !=
		    XR_OK)
			return r;
		if (!xr_cfg_chars_ok(dst, strlen(dst), "."))
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

/*
 * An ingress group's command: a non-empty list of strings, its argv; the
 * first an absolute path (exec'd as is, no PATH search). Never a secret:
 * the command line is visible to every local user (/proc/PID/cmdline).
 */
static int
v_command(xr_cfg_vctx *c, const xr_ynode *v, const char *p,
    const xr_cfg_row *row, xr_group_cfg *g)
{
	if (v->type != XR_YN_SEQ || v->n < row->min)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a non-empty list of strings (the program's "
		    "absolute path, then its arguments)", p);
	if (v->n > row->max)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: too many arguments (allowed: %llu..%llu)", p,
		    (unsigned long long)row->min,
		    (unsigned long long)row->max);
	for (size_t i = 0; i < v->n; i++) {
		char sp[XR_CFG_DIAG_PATH + 32];
		int r;

		snprintf(sp, sizeof(sp), "%s[%zu]", p, i);
		if ((r = v_str(c, v->kid[i], sp, g->command[i],
		    sizeof(g->command[i]))) != XR_OK)
			return r;
		if (i == 0 && g->command[0][0] != '/')
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: must be an absolute path (no PATH search)",
			    sp);
		g->n_command = i + 1;
	}
	return XR_OK;
}

static int
v_groups(xr_cfg_vctx *c, const xr_ynode *n, const char *path,
    const xr_cfg_row *row)
{
	xr_config *cfg = c->cfg;
	struct keylist kl;
	char allowed[128];
	int r;

	if (n->type != XR_YN_SEQ || n->n == 0)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: expected a non-empty list of groups", path);
	if (n->n > row->max)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: too many groups (allowed: %llu..%llu)", path,
		    (unsigned long long)row->min,
		    (unsigned long long)row->max);
	children(P_GROUP, &kl);
	cfg->n_groups = 0;
	memset(cfg->groups, 0, sizeof(cfg->groups));
	for (size_t i = 0; i < n->n; i++) {
		xr_group_cfg *g = &cfg->groups[i];
		char gp[XR_CFG_DIAG_PATH + 24];

		snprintf(gp, sizeof(gp), "%s[%zu]", path, i);
		if (xr_yt_is_null(n->kid[i]) || n->kid[i]->type != XR_YN_MAP)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: expected a mapping (keys: %s)", gp,
			    join_names(kl.p, allowed, sizeof(allowed)));
		xr_cfg_put_defaults(g, true);
		if ((r = v_section(c, n->kid[i], P_GROUP, gp, g)) != XR_OK)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->groups[j].name, g->name) == 0)
				return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
				    "%s.name: duplicate group name \"%s\" (also "
				    "%s[%zu])", gp, g->name, path, j);
		cfg->n_groups = i + 1;
	}
	return XR_OK;
}

/* The value `v` of row `row` at display path `p`, into `base`. */
static int
v_row(xr_cfg_vctx *c, const xr_cfg_row *row, const xr_ynode *v,
    const char *p, void *base)
{
	char s[XR_CFG_PATH_MAX], e[CFG_ECHO_LEN];
	char *field = (char *)base + row->off;
	uint64_t u = 0;
	int r;

	switch (row->type) {
	case XR_CT_UINT:
		r = v_uint(c, v, p, row, &u);
		break;
	case XR_CT_BOOL:
		r = v_bool(c, v, p, &u);
		break;
	case XR_CT_ENUM:
		r = v_enum(c, v, p, row, &u);
		break;
	case XR_CT_HOST:
	case XR_CT_PATH:
	case XR_CT_NAME:
	case XR_CT_NETHOST:
		if ((r = v_str(c, v, p, s, row->max + 1)) != XR_OK)
			return r;
		if (row->type == XR_CT_NETHOST &&
		    !xr_cfg_chars_ok(s, strlen(s), ".:-"))
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: invalid host (allowed: [A-Za-z0-9_.:-], "
			    "1..%llu bytes)", p, (unsigned long long)row->max);
		if (row->type == XR_CT_HOST && !xr_host_is_loopback(s))
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: \"%s\" is not a loopback address (allowed: "
			    "127.0.0.0/8, ::1, localhost)", p,
			    xr_printable(v->s, v->len, e, sizeof(e)));
		if (row->type == XR_CT_NAME &&
		    !xr_cfg_chars_ok(s, strlen(s), "-."))
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: invalid %s (allowed: [A-Za-z0-9_.-], "
			    "1..%llu bytes)", p, row == &xr_cfg_rows[
			    XR_CK_GROUP_NAME] ? "group name" : "name",
			    (unsigned long long)row->max);
		snprintf(field, row->size, "%s", s);
		if (row == &xr_cfg_rows[XR_CK_SECRET_FILE])
			c->have_secret_file = true;
		return XR_OK;
	case XR_CT_SECRET:
		return v_secret(c, v, p, row);
	case XR_CT_SERVICES:
		return v_services(c, v, p, row, base);
	case XR_CT_GROUPS:
		return v_groups(c, v, p, row);
	case XR_CT_COMMAND:
		return v_command(c, v, p, row, base);
	case XR_CT_APPS:
		return xr_cfg_apps(c, v, row);
	default:
		return xr_diag_set(c->d, XR_ERR_INTERNAL,
		    "%s: no reader for this key", p);
	}
	if (r == XR_OK)
		xr_cfg_put_u(base, row, u);
	return r;
}

/*
 * The mapping `n` at schema path `sp` (display path `dp`): its keys must be
 * the schema's, then each key in table order is a row (its value read into
 * `base`) or a mapping of rows below it.
 */
static int
v_section(xr_cfg_vctx *c, const xr_ynode *n, const char *sp, const char *dp,
    void *base)
{
	struct keylist kl;
	int r;

	children(sp, &kl);
	if ((r = xr_cfg_check_map(c, n, dp, kl.p)) != XR_OK)
		return r;
	for (size_t i = 0; i < kl.n; i++) {
		char sfull[XR_CFG_DIAG_PATH], dfull[XR_CFG_DIAG_PATH];
		const xr_ynode *v = xr_yt_get(n, kl.k[i]);
		const xr_cfg_row *row;

		snprintf(sfull, sizeof(sfull), "%s%s%s", sp, sp[0] ? "." : "",
		    kl.k[i]);
		snprintf(dfull, sizeof(dfull), "%s%s%s", dp, dp[0] ? "." : "",
		    kl.k[i]);
		if ((row = xr_cfg_row_find(sfull)) == NULL)
			r = v_section(c, v, sfull, dfull, base);
		else if (v != NULL)
			r = v_row(c, row, v, dfull, base);
		else if (row->flags & XR_CF_REQUIRED)
			r = xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: required", dfull);
		if (r != XR_OK)
			return r;
	}
	return XR_OK;
}

/* A group's role against its command and services; at least one group
 * hosts services. */
static int
v_roles(xr_cfg_vctx *c)
{
	const xr_config *cfg = c->cfg;
	size_t exec = 0;

	for (size_t i = 0; i < cfg->n_groups; i++) {
		const xr_group_cfg *g = &cfg->groups[i];

		if (g->role == XR_ROLE_EXECUTION) {
			exec++;
			if (g->n_command > 0)
				return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
				    P_PLATFORM ".process_groups[%zu].command: "
				    "only for role: ingress (an execution "
				    "group runs the program's own workers)", i);
			continue;
		}
		if (g->n_command == 0)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    P_PLATFORM ".process_groups[%zu].command: required "
			    "with role: ingress", i);
		if (g->n_services > 0)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    P_PLATFORM ".process_groups[%zu].services: an "
			    "ingress group hosts no services (it calls them)",
			    i);
		if (cfg->boot_mode != XR_BOOT_PROCESS_SUPERVISOR)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    P_PLATFORM ".process_groups[%zu].role: ingress "
			    "requires " P_PLATFORM ".bootstrap.mode: "
			    "process_supervisor", i);
	}
	if (cfg->n_groups > 0 && exec == 0)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    P_PLATFORM ".process_groups: no group with role: execution "
		    "(an ingress needs workers to call)");
	return XR_OK;
}

/* A decimal number of 1..10 digits at `s` (up to `end`) into *v. */
static bool
url_num(const char *s, const char *end, uint64_t max, uint32_t *v)
{
	uint64_t n = 0;

	if (s == end || end - s > 10)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (n > max)
		return false;
	*v = (uint32_t)n;
	return true;
}

/*
 * runtime.platform.execution_ipc.redis: the url, if any, resolved into
 * host/port/db or unix_socket (redis://HOST[:PORT][/DB], unix://PATH);
 * a url or a host conflicts with another way to name the server; a url
 * never carries credentials (a password comes from password_file). The url
 * is never echoed: it is a path-like string a user may have pasted a
 * password into.
 */
static int
v_redis(xr_cfg_vctx *c)
{
	xr_redis_cfg *rc = &c->cfg->redis;
	const char *u = rc->url, *h, *e, *colon, *slash;

	if ((rc->url[0] != '\0') + (rc->host[0] != '\0') +
	    (rc->unix_socket[0] != '\0') > 1)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID, P_IPC ".redis: "
		    "name the server once: url, host (and port) or "
		    "unix_socket");
	if (u[0] == '\0')
		return XR_OK;
	if (strchr(u, '@') != NULL)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID, P_IPC ".redis."
		    "url: credentials are not allowed in the url (the value is "
		    "not shown; use password_file)");
	if (strncmp(u, "unix://", 7) == 0) {
		if (u[7] != '/' || strlen(u + 7) > sizeof(rc->unix_socket) - 1)
			goto bad;
		snprintf(rc->unix_socket, sizeof(rc->unix_socket), "%s", u + 7);
		return XR_OK;
	}
	if (strncmp(u, "redis://", 8) != 0)
		goto bad;
	h = u + 8;
	e = h + strlen(h);
	slash = strchr(h, '/');
	if (slash != NULL) {
		if (!url_num(slash + 1, e, 15, &rc->db))
			goto bad;
		e = slash;
	}
	colon = memchr(h, ':', (size_t)(e - h));
	if (colon != NULL) {
		if (!url_num(colon + 1, e, 65535, &rc->port) || rc->port == 0)
			goto bad;
		e = colon;
	}
	if (e == h || (size_t)(e - h) >= sizeof(rc->host))
		goto bad;
	memcpy(rc->host, h, (size_t)(e - h));
	rc->host[e - h] = '\0';
	if (!xr_cfg_chars_ok(rc->host, strlen(rc->host), ".-"))
		goto bad;
	return XR_OK;
 bad:
	rc->host[0] = '\0';
	return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID, P_IPC ".redis.url: "
	    "not a Redis url (the value is not shown; allowed: "
	    "redis://HOST[:PORT][/DB], unix:///PATH)");
}

/* Rules that span keys, checked once every key has its value. */
static int
v_cross(xr_cfg_vctx *c)
{
	const xr_config *cfg = c->cfg;
	int r;

	if ((r = v_roles(c)) != XR_OK)
		return r;
	if ((r = v_redis(c)) != XR_OK)
		return r;

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
	    cfg->transport == XR_TRANSPORT_MEMORY)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    P_PLATFORM ".bootstrap.mode: process_supervisor requires "
		    P_IPC ".transport: tcp_local or redis_streams (got %s)",
		    xr_transport_name(cfg->transport));
	return XR_OK;
}

/* ---- entry points ------------------------------------------------------- */

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

void
xr_config_wipe_secret(xr_config *cfg)
{
	if (cfg == NULL || cfg->secret_inline == NULL)
		return;
	xr_wipe(cfg->secret_inline, cfg->secret_inline_len);
	free(cfg->secret_inline);
	cfg->secret_inline = NULL;
	cfg->secret_inline_len = 0;
	cfg->secret_wiped = true;
}

int
xr_config_load_string(const char *yaml, size_t len, xr_config *cfg,
    xr_diag *d)
{
	xr_cfg_vctx c;
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
	if ((r = xr_yt_load(yaml != NULL ? yaml : "", len, &root, d)) !=
	    XR_OK ||
	    (r = v_section(&c, root, "", "", cfg)) != XR_OK ||
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

/*
 * A config that holds an inline secret must be as private as a
 * secret_file: the very checks (xr_keys_check_private). On failure `cfg`
 * is freed (the secret wiped) and reset to defaults.
 */
static int
inline_file_check(int fd, const char *path, xr_config *cfg, xr_diag *d)
{
	char why[sizeof(d->reason)];
	xr_diag fd_d = { 0 };
	int r;

	if ((r = xr_keys_check_private(fd, "config file", path, &fd_d)) ==
	    XR_OK)
		return XR_OK;
	snprintf(why, sizeof(why), "%s", fd_d.reason);
	xr_config_free(cfg);
	xr_config_defaults(cfg);
	return xr_diag_set(d, r, P_AUTH ".secret: an inline secret needs a "
	    "private config file: %s", why);
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
	if ((r = xr_config_load_string(buf, len, cfg, d)) == XR_OK &&
	    cfg->secret_inline != NULL)
		r = inline_file_check(fd, path, cfg, d);
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
	} else if (cfg->secret_wiped) {
		r = xr_diag_set(d, XR_ERR_SECRET_INVALID, P_AUTH ".secret: "
		    "wiped once the keys were derived (xr_config_wipe_secret); "
		    "load the config again");
		goto out;
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

int
xr_config_secret_check(const xr_config *cfg, xr_diag *d)
{
	xr_keyset ks;
	int r;

	r = xr_config_keyset(cfg, &ks, d);
	xr_keyset_wipe(&ks);
	return r;
}
