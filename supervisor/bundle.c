/* supervisor/bundle.c — the worker reads and validates its bootstrap
 * bundle (contract in bundle.h). */
#include "bundle.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "execrpc/v1/bootstrap.pb-c.h"
#include "printable.h"

#define BUNDLE_WAIT_MS 10000	/* the bundle must arrive within this */
#define EOF_WAIT_MS 5000	/* then the supervisor closes its end */
#define KEY_MIN 32

/* Every refusal of the bundle is the child-bootstrap error. */
#define FAIL(d, ...) \
	xr_diag_set((d), XR_ERR_CHILD_BOOTSTRAP_FAILED, __VA_ARGS__)

/* A name from the bundle, made safe to print between double quotes. */
static const char *
show(const char *s, char *buf, size_t cap)
{
	return xr_printable(s, strlen(s), buf, cap);
}

/* ---------- the one-shot bootstrap channel ---------- */

static int
wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/*
 * Read the bundle datagram into `buf` (XR_BUNDLE_MAX bytes), then insist on
 * end-of-file: the supervisor writes exactly one bundle and closes its end,
 * so any further datagram is a second bundle (a protocol error). `*len` is
 * the bytes held in `buf` (also on failure, for the caller's wipe). The fd
 * is closed on all paths.
 */
static int
read_message(int fd, uint8_t *buf, size_t *len, xr_diag *d)
{
	uint8_t extra[64];
	ssize_t n = 0, m;
	int r;

	*len = 0;
	if (wait_readable(fd, BUNDLE_WAIT_MS) <= 0) {
		r = FAIL(d, "no bundle on the bootstrap channel within %d ms",
		    BUNDLE_WAIT_MS);
		goto out;
	}
	do
		n = recv(fd, buf, XR_BUNDLE_MAX, MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = FAIL(d, "reading the bundle: %s", strerror(errno));
		goto out;
	}
	if (n == 0) {
		r = FAIL(d, "bootstrap channel closed without a bundle");
		goto out;
	}
	if ((size_t)n > XR_BUNDLE_MAX) {
		r = FAIL(d, "bundle of %zd bytes exceeds the %d-byte limit "
		    "(truncated)", n, XR_BUNDLE_MAX);
		n = XR_BUNDLE_MAX;
		goto out;
	}
	if (wait_readable(fd, EOF_WAIT_MS) <= 0) {
		r = FAIL(d, "bootstrap channel not closed after the bundle");
		goto out;
	}
	do
		m = recv(fd, extra, sizeof(extra), MSG_TRUNC | MSG_DONTWAIT);
	while (m < 0 && errno == EINTR);
	xr_wipe(extra, sizeof(extra));
	if (m != 0) {
		r = FAIL(d, m > 0 ? "a second bundle arrived on the bootstrap "
		    "channel (protocol error)" : "bootstrap channel error");
		goto out;
	}
	r = XR_OK;
 out:
	*len = n > 0 ? (size_t)n : 0;
	close(fd);
	return r;
}

/* Wipe the key bytes of a decoded bundle, then free it. */
static void
message_free(Execrpc__V1__BootstrapBundle *b)
{
	Execrpc__V1__KeyBundle *k;

	if (b == NULL)
		return;
	if ((k = b->keys) != NULL) {
		xr_wipe(k->web_to_exec.data, k->web_to_exec.len);
		xr_wipe(k->exec_to_web.data, k->exec_to_web.len);
		xr_wipe(k->control.data, k->control.len);
	}
	xr_wipe(b->control_session_id.data, b->control_session_id.len);
	execrpc__v1__bootstrap_bundle__free_unpacked(b, NULL);
}

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= XR_CFG_NAME_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		    *s == '-'))
			return false;
	return true;
}

static const char *
key_problem(const ProtobufCBinaryData *k)
{
	if (k->len == 0)
		return "missing";
	if (k->len < KEY_MIN || k->len > XR_KEY_MAX)
		return "not 32..64 bytes";
	return NULL;
}

const xr_app_section *
xr_bundle_app(const xr_bundle *b, const char *name)
{
	for (size_t i = 0; name != NULL && i < b->n_apps; i++)
		if (strcmp(b->apps[i].name, name) == 0)
			return &b->apps[i];
	return NULL;
}

/* The service names: each one a module of the table, once; none = every
 * module of the table. */
static int
check_services(const Execrpc__V1__BootstrapBundle *b,
    const xr_service_module *mods, size_t n_mods, xr_bundle *out,
    xr_diag *d)
{
	char pb[XR_CFG_NAME_MAX + 64];

	if (b->n_services > XR_CFG_MAX_SERVICES)
		return FAIL(d, "bundle names %zu services (at most %d)",
		    b->n_services, XR_CFG_MAX_SERVICES);
	if (b->n_services == 0) {
		if (n_mods == 0 || n_mods > XR_CFG_MAX_SERVICES)
			return FAIL(d, "bundle names no services and the "
			    "program offers %zu (1..%d)", n_mods,
			    XR_CFG_MAX_SERVICES);
		for (size_t i = 0; i < n_mods; i++)
			out->mods[i] = &mods[i];
		out->n_services = n_mods;
		return XR_OK;
	}
	for (size_t i = 0; i < b->n_services; i++) {
		const xr_service_module *m = NULL;

		for (size_t j = 0; j < n_mods && m == NULL; j++)
			if (strcmp(mods[j].name, b->services[i]) == 0)
				m = &mods[j];
		if (m == NULL)
			return FAIL(d, "unknown service \"%s\"",
			    show(b->services[i], pb, sizeof(pb)));
		for (size_t j = 0; j < i; j++)
			if (out->mods[j] == m)
				return FAIL(d, "service \"%s\" listed twice",
				    m->name);
		out->mods[i] = m;
	}
	out->n_services = b->n_services;
	return XR_OK;
}

/* The runtime slice, against the ranges of the config table. */
static int
check_runtime(const Execrpc__V1__RuntimeSlice *rt, xr_bundle *out,
    xr_diag *d)
{
	const xr_cfg_row *grace =
	    &xr_cfg_rows[XR_CK_GRACEFUL_TIMEOUT_SECONDS];
	char pb[XR_CFG_NAME_MAX + 64];
	xr_diag cd = { 0 };

	if (rt == NULL)
		return FAIL(d, "bundle has no runtime slice");
	if (strlen(rt->bind_host) >= sizeof(out->host) ||
	    !xr_host_is_loopback(rt->bind_host))
		return FAIL(d, "runtime.bind_host \"%s\" is not a loopback "
		    "address", show(rt->bind_host, pb, sizeof(pb)));
	snprintf(out->host, sizeof(out->host), "%s", rt->bind_host);
	if (xr_config_check_uint(xr_cfg_rows[XR_CK_BIND_PORT].path,
	    rt->bind_port, &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_MAX_PAYLOAD_BYTES].path,
	    rt->max_payload_bytes, &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_TTL_SECONDS].path,
	    rt->ttl_seconds, &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_NONCE_CACHE_SIZE].path,
	    rt->nonce_cache_size, &cd) != XR_OK)
		return FAIL(d, "runtime slice: %s", cd.reason);
	if (rt->graceful_timeout_ms / 1000 < grace->min ||
	    rt->graceful_timeout_ms > grace->max * 1000)
		return FAIL(d, "runtime slice: %s: %u ms out of range "
		    "(allowed: %llu..%llu s)", grace->path,
		    rt->graceful_timeout_ms, (unsigned long long)grace->min,
		    (unsigned long long)grace->max);
	out->bind_port = rt->bind_port;
	out->max_payload = rt->max_payload_bytes;
	out->ttl = rt->ttl_seconds;
	out->nonce_cache = rt->nonce_cache_size;
	return XR_OK;
}

/* A string of the Redis slice into `dst` (`cap` bytes, under the config
 * table's length bound of row `k`; empty allowed when `may_be_empty`). */
static int
redis_str(const char *v, xr_cfg_key k, bool may_be_empty, char *dst,
    size_t cap, xr_diag *d)
{
	const xr_cfg_row *row = &xr_cfg_rows[k];
	size_t n = strlen(v);

	if ((n == 0 && !may_be_empty) || n >= cap ||
	    (n > 0 && (n < row->min || n > row->max)))
		return FAIL(d, "runtime slice: %s: %zu bytes out of range",
		    row->path, n);
	memcpy(dst, v, n + 1);
	return XR_OK;
}

/* The Redis slice (transport redis_streams), against the config table. */
static int
check_redis(const Execrpc__V1__RedisSlice *rs, xr_bundle *out, xr_diag *d)
{
	xr_redis_cfg *rc = &out->rc;
	xr_diag cd = { 0 };
	int r;

	if (rs == NULL)
		return XR_OK;	/* tcp_local */
	out->redis = true;
	if ((r = redis_str(rs->host, XR_CK_REDIS_HOST, true, rc->host,
	    sizeof(rc->host), d)) != XR_OK ||
	    (r = redis_str(rs->unix_socket, XR_CK_REDIS_UNIX_SOCKET, true,
	    rc->unix_socket, sizeof(rc->unix_socket), d)) != XR_OK ||
	    (r = redis_str(rs->stream_prefix, XR_CK_REDIS_STREAM_PREFIX, false,
	    rc->stream_prefix, sizeof(rc->stream_prefix), d)) != XR_OK ||
	    (r = redis_str(rs->password_file, XR_CK_REDIS_PASSWORD_FILE, true,
	    rc->password_file, sizeof(rc->password_file), d)) != XR_OK)
		return r;
	if (!name_ok(rc->stream_prefix))
		return FAIL(d, "runtime slice: bad redis stream_prefix");
	if (rc->host[0] != '\0' && rc->unix_socket[0] != '\0')
		return FAIL(d, "runtime slice: redis has both host and "
		    "unix_socket");
	if ((rc->unix_socket[0] == '\0' && xr_config_check_uint(
	    xr_cfg_rows[XR_CK_REDIS_PORT].path, rs->port, &cd) != XR_OK) ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_REDIS_DB].path, rs->db,
	    &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_REDIS_CLAIM_IDLE_MS].path,
	    rs->claim_idle_ms, &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_REDIS_MAX_STREAM_LEN].path,
	    rs->max_stream_len, &cd) != XR_OK)
		return FAIL(d, "runtime slice: %s", cd.reason);
	rc->port = rs->port;
	rc->db = rs->db;
	rc->claim_idle_ms = rs->claim_idle_ms;
	rc->max_stream_len = rs->max_stream_len;
	return XR_OK;
}

/* Rebuild the apps sections within the config's bounds, then let each
 * module of the bundle check its own. */
static int
check_apps(const Execrpc__V1__BootstrapBundle *b, xr_bundle *out,
    xr_diag *d)
{
	char pb[XR_CFG_NAME_MAX + 64];
	xr_diag ad = { 0 };

	for (size_t i = 0; i < b->n_apps; i++) {
		const Execrpc__V1__AppSetting *a = b->apps[i];
		xr_app_section *sec;
		xr_app_setting *s;

		if (!name_ok(a->app))
			return FAIL(d, "apps[%zu]: bad section name \"%s\"", i,
			    show(a->app, pb, sizeof(pb)));
		if (a->key[0] == '\0' || strlen(a->key) >= sizeof(s->key))
			return FAIL(d, "apps[%zu]: key of %zu bytes (allowed: "
			    "1..%zu)", i, strlen(a->key), sizeof(s->key) - 1);
		if (strlen(a->value) >= sizeof(s->value))
			return FAIL(d, "apps[%zu]: value of %zu bytes "
			    "(allowed: 0..%zu)", i, strlen(a->value),
			    sizeof(s->value) - 1);
		sec = (xr_app_section *)xr_bundle_app(out, a->app);
		if (sec == NULL) {
			if (out->n_apps == XR_CFG_MAX_APPS)
				return FAIL(d, "apps[%zu]: more than %d "
				    "sections", i, XR_CFG_MAX_APPS);
			sec = &out->apps[out->n_apps++];
			snprintf(sec->name, sizeof(sec->name), "%s", a->app);
		}
		if (sec->n == XR_CFG_MAX_APP_SETTINGS)
			return FAIL(d, "apps[%zu]: more than %d settings in "
			    "apps.%s", i, XR_CFG_MAX_APP_SETTINGS, sec->name);
		s = &sec->s[sec->n++];
		snprintf(s->key, sizeof(s->key), "%s", a->key);
		snprintf(s->value, sizeof(s->value), "%s", a->value);
	}
	for (size_t i = 0; i < out->n_services; i++) {
		const xr_service_module *m = out->mods[i];

		if (m->check_app != NULL &&
		    m->check_app(xr_bundle_app(out, m->app), &ad) != XR_OK)
			return FAIL(d, "service \"%s\": %s", m->name,
			    ad.reason);
	}
	return XR_OK;
}

/* Validate a decoded bundle against the module table and copy what the
 * worker keeps into `out`. Diagnostics name fields, never key bytes. */
static int
validate(const Execrpc__V1__BootstrapBundle *b, const xr_service_module *mods,
    size_t n_mods, xr_bundle *out, xr_diag *d)
{
	const Execrpc__V1__KeyBundle *k = b->keys;
	char pb[XR_CFG_NAME_MAX + 64];
	const char *why;
	xr_kdf kdf;
	int r;

	if (b->version != 1)
		return FAIL(d, "unsupported bundle version %u (want 1)",
		    b->version);
	if (b->role != EXECRPC__V1__GROUP_ROLE__GROUP_ROLE_EXECUTION)
		return FAIL(d, "an ingress bundle (role %d), not a worker's",
		    (int)b->role);
	if (!name_ok(b->group))
		return FAIL(d, "bad group name \"%s\"",
		    show(b->group, pb, sizeof(pb)));
	snprintf(out->group, sizeof(out->group), "%s", b->group);
	out->index = b->index;
	out->generation = b->generation;
	if ((r = check_services(b, mods, n_mods, out, d)) != XR_OK ||
	    (r = check_runtime(b->runtime, out, d)) != XR_OK ||
	    (r = check_redis(b->redis, out, d)) != XR_OK ||
	    (r = check_apps(b, out, d)) != XR_OK)
		return r;

	if (k == NULL)
		return FAIL(d, "bundle has no key bundle");
	if (k->kdf == EXECRPC__V1__KDF__KDF_NONE)
		kdf = XR_KDF_NONE;
	else if (k->kdf == EXECRPC__V1__KDF__KDF_HKDF_SHA256)
		kdf = XR_KDF_HKDF_SHA256;
	else
		return FAIL(d, "key bundle: unknown kdf %d", (int)k->kdf);
	if ((why = key_problem(&k->web_to_exec)) != NULL)
		return FAIL(d, "key bundle: web_to_exec key %s", why);
	if ((why = key_problem(&k->exec_to_web)) != NULL)
		return FAIL(d, "key bundle: exec_to_web key %s", why);
	if ((why = key_problem(&k->control)) != NULL)
		return FAIL(d, "key bundle: control key %s", why);
	if (b->control_session_id.len != XR_SESSION_ID_LEN)
		return FAIL(d, "control session id missing or not %d bytes",
		    XR_SESSION_ID_LEN);
	memcpy(out->sid, b->control_session_id.data, XR_SESSION_ID_LEN);
	if (xr_keyset_from_keys(kdf, k->web_to_exec.data, k->web_to_exec.len,
	    k->exec_to_web.data, k->exec_to_web.len, k->control.data,
	    k->control.len, &out->keys) != XR_OK)
		return FAIL(d, "key bundle rejected");
	return XR_OK;
}

void
xr_bundle_slice(const xr_bundle *b, xr_config *slice)
{
	xr_config_defaults(slice);
	slice->transport = XR_TRANSPORT_TCP_LOCAL;
	snprintf(slice->bind_host, sizeof(slice->bind_host), "%s", b->host);
	slice->bind_port = b->bind_port;
	slice->max_payload_bytes = b->max_payload;
	slice->ttl_seconds = b->ttl;
	slice->nonce_cache_size = b->nonce_cache;
	if (b->redis) {
		slice->transport = XR_TRANSPORT_REDIS_STREAMS;
		slice->redis = b->rc;
	}
}

int
xr_bundle_decode(const uint8_t *buf, size_t len,
    const xr_service_module *mods, size_t n_mods, xr_bundle **out,
    xr_diag *d)
{
	Execrpc__V1__BootstrapBundle *msg;
	xr_bundle *b = NULL;
	int r;

	*out = NULL;
	if ((msg = execrpc__v1__bootstrap_bundle__unpack(NULL, len, buf)) ==
	    NULL)
		return FAIL(d, "bundle does not decode as "
		    "execrpc.v1.BootstrapBundle");
	if ((b = calloc(1, sizeof(*b))) == NULL)
		r = FAIL(d, "out of memory");
	else
		r = validate(msg, mods, n_mods, b, d);
	message_free(msg);
	if (r != XR_OK) {
		xr_bundle_free(b);
		return r;
	}
	*out = b;
	return XR_OK;
}

int
xr_bundle_read(int fd, const xr_service_module *mods, size_t n_mods,
    xr_bundle **out, xr_diag *d)
{
	uint8_t *buf;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((buf = malloc(XR_BUNDLE_MAX)) == NULL) {
		close(fd);
		return FAIL(d, "out of memory");
	}
	if ((r = read_message(fd, buf, &len, d)) == XR_OK)	/* closes fd */
		r = xr_bundle_decode(buf, len, mods, n_mods, out, d);
	xr_wipe(buf, len);
	free(buf);
	return r;
}

void
xr_bundle_free(xr_bundle *b)
{
	if (b == NULL)
		return;
	xr_wipe(b, sizeof(*b));
	free(b);
}
