/* supervisor/worker.c — the worker process: bundle, registry, server, stop. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth.h"
#include "worker_chan.h"
#include "err.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "keys.h"
#include "log.h"
#include "server.h"

#define BUNDLE_WAIT_MS 10000	/* the bundle must arrive within this */
#define EOF_WAIT_MS 5000	/* then the supervisor closes its end */
#define KEY_MIN 32

/* What a validated bundle leaves behind (the decoded message is freed). */
struct bundle {
	char group[XR_CFG_NAME_MAX];
	uint32_t index;
	size_t n_services;
	const xr_service_module *mods[XR_CFG_MAX_SERVICES];
	char host[XR_CFG_HOST_MAX];
	uint32_t bind_port, max_payload, ttl, nonce_cache;
	size_t n_apps;
	xr_app_section apps[XR_CFG_MAX_APPS];
	xr_keyset keys;
	uint8_t sid[XR_SESSION_ID_LEN];
};

struct worker_proc {
	struct event_base *base;
	xr_registry *reg;
	const xr_worker_endpoint *ep;
	bool ep_opened;			/* ep->close() is owed */
	xr_server *srv;			/* ep's; NULL once closed */
	xr_auth *ctl_auth;
	xr_wchan chan;
	struct event *ctl_ev;
	bool stopping, finished;
	int status;
};

static int
fail(xr_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(xr_diag *d, const char *fmt, ...)
{
	va_list ap;

	d->code = XR_ERR_CHILD_BOOTSTRAP_FAILED;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return XR_ERR_CHILD_BOOTSTRAP_FAILED;
}

/* A name from the bundle, made safe to print: printable ASCII, bounded. */
static const char *
printable(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < cap; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* ---------- hardening ---------- */

static int
harden(xr_diag *d)
{
	struct rlimit rl = { 0, 0 };
	pid_t parent = getppid();

	/* this process holds keys: no core dumps, no ptrace by peers */
	if (setrlimit(RLIMIT_CORE, &rl) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return fail(d, "cannot disable core dumps: %s", strerror(errno));
	/* die with the supervisor; then make sure it was still there when
	 * the request took effect (else the signal would never come). The
	 * supervisor also set it between fork and exec, checking its own pid
	 * (it survives exec), so there is no window before this either. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		return fail(d, "PR_SET_PDEATHSIG: %s", strerror(errno));
	if (getppid() != parent)
		return fail(d, "the supervisor exited before the worker started");
	signal(SIGPIPE, SIG_IGN);
	return XR_OK;
}

static int
check_seqpacket(int fd, const char *what, xr_diag *d)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_SEQPACKET)
		return fail(d, "%s fd %d is not a SOCK_SEQPACKET socket", what, fd);
	return XR_OK;
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
 * Read the bundle datagram, then insist on end-of-file: the supervisor writes
 * exactly one bundle and closes its end, so any further datagram is a second
 * bundle (a protocol error). The fd is closed and every buffer wiped on all
 * paths.
 */
static int
read_bundle(int fd, Execrpc__V1__BootstrapBundle **out, xr_diag *d)
{
	uint8_t *buf = NULL, extra[64];
	ssize_t n = 0, m;
	int r;

	*out = NULL;
	if ((r = check_seqpacket(fd, "bootstrap", d)) != XR_OK)
		goto out;
	if ((buf = malloc(XR_BUNDLE_MAX)) == NULL) {
		r = fail(d, "out of memory");
		goto out;
	}
	if (wait_readable(fd, BUNDLE_WAIT_MS) <= 0) {
		r = fail(d, "no bundle on the bootstrap channel within %d ms",
		    BUNDLE_WAIT_MS);
		goto out;
	}
	do
		n = recv(fd, buf, XR_BUNDLE_MAX, MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = fail(d, "reading the bundle: %s", strerror(errno));
		goto out;
	}
	if (n == 0) {
		r = fail(d, "bootstrap channel closed without a bundle");
		goto out;
	}
	if ((size_t)n > XR_BUNDLE_MAX) {
		r = fail(d, "bundle of %zd bytes exceeds the %d-byte limit "
		    "(truncated)", n, XR_BUNDLE_MAX);
		n = XR_BUNDLE_MAX;
		goto out;
	}
	if (wait_readable(fd, EOF_WAIT_MS) <= 0) {
		r = fail(d, "bootstrap channel not closed after the bundle");
		goto out;
	}
	do
		m = recv(fd, extra, sizeof(extra), MSG_TRUNC | MSG_DONTWAIT);
	while (m < 0 && errno == EINTR);
	xr_wipe(extra, sizeof(extra));
	if (m != 0) {
		r = fail(d, m > 0 ? "a second bundle arrived on the bootstrap "
		    "channel (protocol error)" : "bootstrap channel error");
		goto out;
	}
	if ((*out = execrpc__v1__bootstrap_bundle__unpack(NULL, (size_t)n,
	    buf)) == NULL) {
		r = fail(d, "bundle does not decode as execrpc.v1.BootstrapBundle");
		goto out;
	}
	r = XR_OK;
 out:
	if (buf != NULL) {
		xr_wipe(buf, n > 0 ? (size_t)n : 0);
		free(buf);
	}
	close(fd);
	return r;
}

/* Wipe the key bytes of a decoded bundle, then free it. */
static void
bundle_free(Execrpc__V1__BootstrapBundle *b)
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

/* The section `name` of a validated bundle, or NULL. */
static const xr_app_section *
bundle_app(const struct bundle *out, const char *name)
{
	for (size_t i = 0; name != NULL && i < out->n_apps; i++)
		if (strcmp(out->apps[i].name, name) == 0)
			return &out->apps[i];
	return NULL;
}

/* The service names: each one a module of the table, once; none = every
 * module of the table. */
static int
check_services(const Execrpc__V1__BootstrapBundle *b,
    const xr_service_module *mods, size_t n_mods, struct bundle *out,
    xr_diag *d)
{
	char pb[XR_CFG_NAME_MAX + 64];

	if (b->n_services > XR_CFG_MAX_SERVICES)
		return fail(d, "bundle names %zu services (at most %d)",
		    b->n_services, XR_CFG_MAX_SERVICES);
	if (b->n_services == 0) {
		if (n_mods == 0 || n_mods > XR_CFG_MAX_SERVICES)
			return fail(d, "bundle names no services and the "
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
			return fail(d, "unknown service \"%s\"",
			    printable(b->services[i], pb, sizeof(pb)));
		for (size_t j = 0; j < i; j++)
			if (out->mods[j] == m)
				return fail(d, "service \"%s\" listed twice",
				    m->name);
		out->mods[i] = m;
	}
	out->n_services = b->n_services;
	return XR_OK;
}

/* The runtime slice, against the ranges of the config table. */
static int
check_runtime(const Execrpc__V1__RuntimeSlice *rt, struct bundle *out,
    xr_diag *d)
{
	const xr_cfg_row *grace =
	    &xr_cfg_rows[XR_CK_GRACEFUL_TIMEOUT_SECONDS];
	char pb[XR_CFG_NAME_MAX + 64];
	xr_diag cd = { 0 };

	if (rt == NULL)
		return fail(d, "bundle has no runtime slice");
	if (strlen(rt->bind_host) >= sizeof(out->host) ||
	    !xr_host_is_loopback(rt->bind_host))
		return fail(d, "runtime.bind_host \"%s\" is not a loopback "
		    "address", printable(rt->bind_host, pb, sizeof(pb)));
	snprintf(out->host, sizeof(out->host), "%s", rt->bind_host);
	if (xr_config_check_uint(xr_cfg_rows[XR_CK_BIND_PORT].path,
	    rt->bind_port, &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_MAX_PAYLOAD_BYTES].path,
	    rt->max_payload_bytes, &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_TTL_SECONDS].path,
	    rt->ttl_seconds, &cd) != XR_OK ||
	    xr_config_check_uint(xr_cfg_rows[XR_CK_NONCE_CACHE_SIZE].path,
	    rt->nonce_cache_size, &cd) != XR_OK)
		return fail(d, "runtime slice: %s", cd.reason);
	if (rt->graceful_timeout_ms / 1000 < grace->min ||
	    rt->graceful_timeout_ms > grace->max * 1000)
		return fail(d, "runtime slice: %s: %u ms out of range "
		    "(allowed: %llu..%llu s)", grace->path,
		    rt->graceful_timeout_ms, (unsigned long long)grace->min,
		    (unsigned long long)grace->max);
	out->bind_port = rt->bind_port;
	out->max_payload = rt->max_payload_bytes;
	out->ttl = rt->ttl_seconds;
	out->nonce_cache = rt->nonce_cache_size;
	return XR_OK;
}

/* Rebuild the apps sections within the config's bounds, then let each
 * module of the bundle check its own. */
static int
check_apps(const Execrpc__V1__BootstrapBundle *b, struct bundle *out,
    xr_diag *d)
{
	char pb[XR_CFG_NAME_MAX + 64];
	xr_diag ad = { 0 };

	for (size_t i = 0; i < b->n_apps; i++) {
		const Execrpc__V1__AppSetting *a = b->apps[i];
		xr_app_section *sec;
		xr_app_setting *s;

		if (!name_ok(a->app))
			return fail(d, "apps[%zu]: bad section name \"%s\"", i,
			    printable(a->app, pb, sizeof(pb)));
		if (a->key[0] == '\0' || strlen(a->key) >= sizeof(s->key))
			return fail(d, "apps[%zu]: key of %zu bytes (allowed: "
			    "1..%zu)", i, strlen(a->key), sizeof(s->key) - 1);
		if (strlen(a->value) >= sizeof(s->value))
			return fail(d, "apps[%zu]: value of %zu bytes (allowed: "
			    "0..%zu)", i, strlen(a->value),
			    sizeof(s->value) - 1);
		if ((sec = (xr_app_section *)bundle_app(out, a->app)) == NULL) {
			if (out->n_apps == XR_CFG_MAX_APPS)
				return fail(d, "apps[%zu]: more than %d "
				    "sections", i, XR_CFG_MAX_APPS);
			sec = &out->apps[out->n_apps++];
			snprintf(sec->name, sizeof(sec->name), "%s", a->app);
		}
		if (sec->n == XR_CFG_MAX_APP_SETTINGS)
			return fail(d, "apps[%zu]: more than %d settings in "
			    "apps.%s", i, XR_CFG_MAX_APP_SETTINGS, sec->name);
		s = &sec->s[sec->n++];
		snprintf(s->key, sizeof(s->key), "%s", a->key);
		snprintf(s->value, sizeof(s->value), "%s", a->value);
	}
	for (size_t i = 0; i < out->n_services; i++) {
		const xr_service_module *m = out->mods[i];

		if (m->check_app != NULL &&
		    m->check_app(bundle_app(out, m->app), &ad) != XR_OK)
			return fail(d, "service \"%s\": %s", m->name,
			    ad.reason);
	}
	return XR_OK;
}

/* Validate a decoded bundle against the module table and copy what the
 * worker keeps into `out`. Diagnostics name fields, never key bytes. */
static int
validate(const Execrpc__V1__BootstrapBundle *b, const xr_service_module *mods,
    size_t n_mods, struct bundle *out, xr_diag *d)
{
	const Execrpc__V1__KeyBundle *k = b->keys;
	char pb[XR_CFG_NAME_MAX + 64];
	const char *why;
	xr_kdf kdf;
	int r;

	if (b->version != 1)
		return fail(d, "unsupported bundle version %u (want 1)",
		    b->version);
	if (!name_ok(b->group))
		return fail(d, "bad group name \"%s\"",
		    printable(b->group, pb, sizeof(pb)));
	snprintf(out->group, sizeof(out->group), "%s", b->group);
	out->index = b->index;
	if ((r = check_services(b, mods, n_mods, out, d)) != XR_OK ||
	    (r = check_runtime(b->runtime, out, d)) != XR_OK ||
	    (r = check_apps(b, out, d)) != XR_OK)
		return r;

	if (k == NULL)
		return fail(d, "bundle has no key bundle");
	if (k->kdf == EXECRPC__V1__KDF__KDF_NONE)
		kdf = XR_KDF_NONE;
	else if (k->kdf == EXECRPC__V1__KDF__KDF_HKDF_SHA256)
		kdf = XR_KDF_HKDF_SHA256;
	else
		return fail(d, "key bundle: unknown kdf %d", (int)k->kdf);
	if ((why = key_problem(&k->web_to_exec)) != NULL)
		return fail(d, "key bundle: web_to_exec key %s", why);
	if ((why = key_problem(&k->exec_to_web)) != NULL)
		return fail(d, "key bundle: exec_to_web key %s", why);
	if ((why = key_problem(&k->control)) != NULL)
		return fail(d, "key bundle: control key %s", why);
	if (b->control_session_id.len != XR_SESSION_ID_LEN)
		return fail(d, "control session id missing or not %d bytes",
		    XR_SESSION_ID_LEN);
	memcpy(out->sid, b->control_session_id.data, XR_SESSION_ID_LEN);
	if (xr_keyset_from_keys(kdf, k->web_to_exec.data, k->web_to_exec.len,
	    k->exec_to_web.data, k->exec_to_web.len, k->control.data,
	    k->control.len, &out->keys) != XR_OK)
		return fail(d, "key bundle rejected");
	return XR_OK;
}

/* ---------- serving and stopping ---------- */

static void
send_cmd(struct worker_proc *w, Execrpc__V1__CommandType type,
    uint32_t port)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	int r;

	c.type = type;
	c.port = port;
	if ((r = xr_wchan_send(&w->chan, &c)) != XR_OK)
		xr_debug("worker: control send failed: %s", xr_err_name(r));
}

/* The stop sequence's end: flush, acknowledge, leave the loop. */
static void
finish(struct worker_proc *w)
{
	if (w->finished)
		return;
	w->finished = true;
	fflush(stdout);
	fflush(stderr);
	send_cmd(w, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED, 0);
	w->status = 0;
	event_base_loopbreak(w->base);
}

static void
drained(void *arg)
{
	finish(arg);
}

static void
close_endpoint(struct worker_proc *w)
{
	if (w->ep_opened)
		w->ep->close(w->ep->arg);
	w->ep_opened = false;
	w->srv = NULL;
}

static void
begin_stop(struct worker_proc *w, bool drain_inflight)
{
	if (w->stopping)
		return;
	w->stopping = true;
	if (drain_inflight) {
		/* stop accepting; GOAWAY; in-flight calls finish; then done */
		xr_server_drain(w->srv, drained, w);
		return;
	}
	/* no drain: close every connection, abandoning their calls */
	close_endpoint(w);
	finish(w);
}

/* ---------- the worker's end of the worker channel ---------- */

/* The worker's states, as its command table sees them. */
enum { WP_SERVING = 1, WP_DRAINING, WP_STOPPING };

static int
wp_state(const struct worker_proc *w)
{
	if (w->stopping)
		return WP_STOPPING;
	return xr_server_draining(w->srv) ? WP_DRAINING : WP_SERVING;
}

static void
ch_stop(void *arg, const Execrpc__V1__Command *c)
{
	begin_stop(arg, c->drain_inflight);
}

static void
ch_drain(void *arg, const Execrpc__V1__Command *c)
{
	struct worker_proc *w = arg;

	(void)c;
	xr_server_drain(w->srv, NULL, NULL);
}

/* STATS: the endpoint's counters, answered at once on the channel */
static void
ch_stats(void *arg, const Execrpc__V1__Command *c)
{
	struct worker_proc *w = arg;
	Execrpc__V1__Command r = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__WorkerStatus ws = EXECRPC__V1__WORKER_STATUS__INIT;
	xr_server_stats st;
	int e;

	xr_server_stats_get(w->srv, &st);
	ws.pid = (int32_t)getpid();
	ws.port = xr_server_port(w->srv);
	ws.state = xr_server_draining(w->srv) ?
	    EXECRPC__V1__WORKER_STATE__WORKER_STATE_DRAINING :
	    EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY;
	ws.calls = st.calls_started;
	ws.calls_failed = st.calls_failed;
	ws.n_rejects_by_kind = XR_REJECT_COUNT;	/* indexed by xr_reject */
	ws.rejects_by_kind = st.rejects;
	ws.last_exit_status = -1;
	ws.stats = EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED;
	r.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS_REPLY;
	r.request_id = c->request_id;
	r.status = &ws;
	if ((e = xr_wchan_send(&w->chan, &r)) != XR_OK)
		xr_debug("worker: stats reply: %s", xr_err_name(e));
}

#define S(st) XR_WCHAN_STATE(WP_##st)

/* What the worker acts on, in which of its states. */
static const xr_wchan_cmd worker_cmds[] = {
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP, XR_WCHAN_TO_WORKER,
	    S(SERVING) | S(DRAINING), XR_WCHAN_ONCE, ch_stop },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN, XR_WCHAN_TO_WORKER,
	    S(SERVING), 0, ch_drain },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS, XR_WCHAN_TO_WORKER,
	    S(SERVING) | S(DRAINING), 0, ch_stats },
};

#undef S

static void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_proc *w = arg;
	Execrpc__V1__Command *c;
	int r;

	(void)fd;
	(void)what;
	while (!w->finished) {
		r = xr_wchan_recv(&w->chan, &c);
		if (r == XR_ERR_AGAIN)
			return;
		if (r == XR_ERR_CLOSED || r == XR_ERR_SYSTEM) {
			/* the supervisor is gone: leave promptly */
			xr_debug("worker: control channel closed");
			w->status = 1;
			event_base_loopbreak(w->base);
			return;
		}
		if (r != XR_OK) {
			xr_debug("worker: control frame rejected: %s",
			    xr_err_name(r));
			continue;
		}
		if (xr_wchan_dispatch(&w->chan, worker_cmds,
		    sizeof(worker_cmds) / sizeof(worker_cmds[0]),
		    XR_WCHAN_TO_WORKER, wp_state(w), w, c) != XR_OK)
			xr_debug("worker: control command %d refused",
			    (int)c->type);
		execrpc__v1__command__free_unpacked(c, NULL);
	}
}

/* The bundle's runtime slice as the config the endpoint hook resolves. */
static void
slice_config(const struct bundle *b, xr_config *slice)
{
	xr_config_defaults(slice);
	slice->transport = XR_TRANSPORT_TCP_LOCAL;
	snprintf(slice->bind_host, sizeof(slice->bind_host), "%s", b->host);
	slice->bind_port = b->bind_port;
	slice->max_payload_bytes = b->max_payload;
	slice->ttl_seconds = b->ttl;
	slice->nonce_cache_size = b->nonce_cache;
}

static int
serve_setup(struct worker_proc *w, struct bundle *b, int control_fd,
    xr_diag *d)
{
	xr_config slice;
	xr_diag sd = { 0 };
	xr_worker_ctx ctx;
	int r, fl;

	if ((w->base = event_base_new()) == NULL ||
	    (w->reg = xr_registry_new(w->base)) == NULL)
		return fail(d, "cannot set up the event loop");
	ctx.group = b->group;
	ctx.index = b->index;
	ctx.max_payload_bytes = b->max_payload;
	ctx.base = w->base;
	for (size_t i = 0; i < b->n_services; i++) {
		ctx.app = bundle_app(b, b->mods[i]->app);
		if ((r = b->mods[i]->add(w->reg, &ctx)) != XR_OK)
			return fail(d, "registering service \"%s\" failed: %s",
			    b->mods[i]->name, xr_strerror(r));
	}
	if (w->ep == NULL)
		return fail(d, "no endpoint hook");
	slice_config(b, &slice);
	w->ep_opened = true;
	w->srv = w->ep->open(w->ep->arg, w->base, &slice, &b->keys, w->reg,
	    &sd);
	xr_config_free(&slice);
	if (w->srv == NULL)
		return fail(d, "endpoint: %s", sd.reason);
	if ((w->ctl_auth = xr_auth_new(&b->keys)) == NULL)
		return fail(d, "out of memory");
	if (xr_wchan_init(&w->chan, control_fd, w->ctl_auth, b->sid,
	    b->ttl) != XR_OK)
		return fail(d, "out of memory");
	if ((fl = fcntl(control_fd, F_GETFL)) < 0 ||
	    fcntl(control_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(control_fd, F_SETFD, FD_CLOEXEC) < 0)
		return fail(d, "control fd: %s", strerror(errno));
	if ((w->ctl_ev = event_new(w->base, control_fd, EV_READ | EV_PERSIST,
	    ctl_cb, w)) == NULL || event_add(w->ctl_ev, NULL) != 0)
		return fail(d, "cannot watch the control channel");
	return XR_OK;
}

int
xr_worker_main(int bootstrap_fd, int control_fd,
    const xr_service_module *mods, size_t n_mods,
    const xr_worker_endpoint *ep)
{
	Execrpc__V1__BootstrapBundle *msg = NULL;
	struct bundle *b = NULL;
	struct worker_proc w;
	xr_diag d = { 0 };
	int r;

	memset(&w, 0, sizeof(w));
	w.ep = ep;
	w.status = 1;
	if ((r = harden(&d)) != XR_OK) {
		close(bootstrap_fd);
		goto out;
	}
	r = read_bundle(bootstrap_fd, &msg, &d);	/* closes the fd */
	if (r == XR_OK && (b = calloc(1, sizeof(*b))) == NULL)
		r = fail(&d, "out of memory");
	if (r == XR_OK)
		r = validate(msg, mods, n_mods, b, &d);
	bundle_free(msg);
	msg = NULL;
	if (r == XR_OK)
		r = check_seqpacket(control_fd, "control", &d);
	if (r == XR_OK)
		r = serve_setup(&w, b, control_fd, &d);
	if (b != NULL) {
		xr_wipe(b, sizeof(*b));	/* the keys now live in server + auth */
		free(b);
	}
	if (r != XR_OK)
		goto out;
	send_cmd(&w, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY,
	    xr_server_port(w.srv));
	event_base_dispatch(w.base);
 out:
	if (r != XR_OK) {
		fprintf(stderr, "execrpc-worker: %s (code %d): %s\n",
		    xr_err_name(XR_ERR_CHILD_BOOTSTRAP_FAILED),
		    XR_ERR_CHILD_BOOTSTRAP_FAILED, d.reason);
		fflush(stderr);
		w.status = (int)xr_err_category(XR_ERR_CHILD_BOOTSTRAP_FAILED);
	}
	if (w.ctl_ev != NULL)
		event_free(w.ctl_ev);
	close_endpoint(&w);
	xr_registry_free(w.reg);
	xr_wchan_fini(&w.chan);
	xr_auth_free(w.ctl_auth);
	if (w.base != NULL)
		event_base_free(w.base);
	close(control_fd);
	return w.status;
}

static int
parse_fd(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 3 || v > 65535)
		return -1;
	return (int)v;
}

int
xr_worker_args(int argc, char **argv, int *bootstrap_fd, int *control_fd)
{
	int bfd = -1, cfd = -1;

	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--bootstrap-fd") == 0)
			bfd = parse_fd(argv[i + 1]);
		else if (strcmp(argv[i], "--control-fd") == 0)
			cfd = parse_fd(argv[i + 1]);
	}
	if (bfd < 0 || cfd < 0 || bfd == cfd)
		return XR_ERR_INVALID_ARG;
	*bootstrap_fd = bfd;
	*control_fd = cfd;
	return XR_OK;
}
