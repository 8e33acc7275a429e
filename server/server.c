/*
 * server/server.c — the execution endpoint: listener, accept with the
 * EMFILE backoff, drain, stats, the built-in Endpoint/Stats method. One
 * connection is conn.c; roles of the files: server_priv.h.
 */
#include "server_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "execrpc/v1/lifecycle.xr.h"
#include "frame.h"
#include "log.h"

#define ACCEPT_BACKOFF_MS 250
/* The listen backlog: connections wait there while the endpoint works
 * through a flood of pre-auth connections; a full backlog drops SYNs, and
 * a client whose SYN was dropped retries only after a second. The kernel
 * caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096
/* At most this many accepts in a row: then the listener waits for the next
 * loop iteration, so that the HELLOs that came in meanwhile are read before
 * more accepts evict their connections. */
#define ACCEPT_BATCH 16
/* Trim the heap once this many connections were freed and none for
 * TRIM_QUIET_MS (the burst is over). */
#define TRIM_AFTER_FREES 64
#define TRIM_QUIET_MS 200

/* ---------- draining ---------- */

void
xr_server_drain_check(xr_server *s)
{
	void (*done)(void *) = s->drain_done;
	struct conn *c;

	if (!s->draining || done == NULL || !TAILQ_EMPTY(&s->dying))
		return;
	/* a connection still in its handshake holds no call and never
	 * opens a session now (a valid HELLO gets GOAWAY): it does not hold
	 * the drain, or a silent peer could */
	TAILQ_FOREACH(c, &s->conns, link)
		if (c->state != CONN_HANDSHAKE)
			return;
	s->drain_done = NULL;
	done(s->drain_arg);
}

/* ---------- the turn's output (server_priv.h, "The frame path") ---------- */

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	xr_conn_flush_all(arg);
}

/* ---------- giving memory back ---------- */

static void
trim_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_server *s = arg;

	(void)fd;
	(void)what;
	s->freed_since_trim = 0;
#ifdef __GLIBC__
	/* what a burst of connections left free in the heap: their
	 * output buffers, readers and call tables */
	(void)malloc_trim(0);
#endif
}

void
xr_server_conn_freed(xr_server *s)
{
	struct timeval tv = { 0, TRIM_QUIET_MS * 1000 };

	/* re-armed on every free: it runs once the frees stop */
	if (++s->freed_since_trim >= TRIM_AFTER_FREES)
		event_add(&s->trim_ev, &tv);
}

/* ---------- refused handshakes ---------- */

void
xr_server_handshake_refused(xr_server *s)
{
	uint64_t now = xr_mono_ms();
	char more[80] = "";

	s->st.handshakes_refused++;
	if (s->refused_warned &&
	    now - s->refused_warn_ms < s->o.refused_warn_interval_ms) {
		s->refused_suppressed++;
		return;
	}
	if (s->refused_suppressed > 0)
		snprintf(more, sizeof(more), "; %llu more since the last "
		    "warning", (unsigned long long)s->refused_suppressed);
	/* the one warning of this library: see server.h */
	xr_warn("endpoint %s:%u refused a handshake: a client's HELLO does "
	    "not verify with this endpoint's keys (does the client use "
	    "another auth secret or kdf?)%s", s->host, (unsigned)s->port,
	    more);
	s->st.refused_warnings++;
	s->refused_warned = 1;
	s->refused_warn_ms = now;
	s->refused_suppressed = 0;
}

/* ---------- accepting ---------- */

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	xr_server *s = arg;
	struct linger lg = { 1, 0 };

	(void)lev;
	(void)sa;
	(void)salen;
	if (s->st.connections_open >= s->o.max_connections) {
		/* reset, not closed: a FIN after its HELLO would tell the
		 * client its handshake was refused (docs/protocol.md). Those
		 * in their handshake are at most max_preauth of them: the
		 * sessions hold the rest. */
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		evutil_closesocket(fd);
		return;
	}
	/* draining too: the connection learns it from HELLO_ACK + GOAWAY.
	 * On failure the socket is closed. */
	(void)xr_conn_accept(s, fd);
	if (++s->accept_batch >= ACCEPT_BATCH && s->lev != NULL) {
		struct timeval now = { 0, 0 };

		evconnlistener_disable(s->lev);
		event_add(&s->resume_ev, &now);
	}
	/* the newest is let in, the oldest of those still in their handshake
	 * makes room: who holds a slot without a HELLO cannot keep it */
	while (s->st.connections_preauth > s->o.max_preauth)
		xr_conn_evict_oldest(s);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_server *s = arg;

	(void)fd;
	(void)what;
	s->accept_batch = 0;
	if (s->lev != NULL && !event_pending(&s->backoff_ev, EV_TIMEOUT, NULL))
		evconnlistener_enable(s->lev);
}

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	xr_server *s = arg;
	struct timeval tv = { 0, ACCEPT_BACKOFF_MS * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		/* the listener stays readable: pause instead of spinning */
		evconnlistener_disable(lev);
		s->st.accept_backoffs++;
		event_add(&s->backoff_ev, &tv);
	}
}

/* ---------- the built-in Endpoint/Stats method (generated binding:
 * gen/protobuf-c/execrpc/v1/lifecycle.xr.h) ---------- */

static void
stats_handler(xr_call *call, const Execrpc__V1__StatsRequest *req, void *arg)
{
	xr_server *s = arg;
	Execrpc__V1__WorkerStatus ws = EXECRPC__V1__WORKER_STATUS__INIT;

	(void)req;
	ws.pid = (int32_t)getpid();
	ws.port = s->port;
	ws.state = s->draining ? EXECRPC__V1__WORKER_STATE__WORKER_STATE_DRAINING
	    : EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY;
	ws.calls = s->st.calls_started;
	ws.calls_failed = s->st.calls_failed;
	ws.protocol_errors = s->st.protocol_errors;
	/* indexed by xr_reject, like the counters themselves */
	ws.n_rejects_by_kind = XR_REJECT_COUNT;
	ws.rejects_by_kind = s->rx.counters.rejects;
	ws.stats = EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED;
	ws.last_exit_status = -1;
	execrpc_v1_Endpoint_Stats_reply(call, &ws);
}

/* ---------- public ---------- */

static void
opts_defaults(xr_server_opts *o)
{
	/* the config keys: the config table's defaults */
	if (o->max_payload_bytes == 0)
		o->max_payload_bytes =
		    xr_cfg_default_u32(XR_CK_MAX_PAYLOAD_BYTES);
	if (o->ttl_seconds == 0)
		o->ttl_seconds = xr_cfg_default_u32(XR_CK_TTL_SECONDS);
	if (o->nonce_cache_size == 0)
		o->nonce_cache_size =
		    xr_cfg_default_u32(XR_CK_NONCE_CACHE_SIZE);
	if (o->max_inflight == 0)
		o->max_inflight = 1024;
	if (o->max_outbuf == 0)
		o->max_outbuf = 8u << 20;
	if (o->max_held_bytes == 0)
		o->max_held_bytes = (size_t)256 << 20;
	if (o->handshake_timeout_ms == 0)
		o->handshake_timeout_ms = 2000;
	if (o->frame_timeout_ms == 0)
		o->frame_timeout_ms = 10000;
	if (o->idle_timeout_ms == 0)
		o->idle_timeout_ms = 300000;
	if (o->max_connections == 0)
		o->max_connections = 1024;
	if (o->max_preauth == 0)
		o->max_preauth = 64;
	if (o->max_preauth > o->max_connections)
		o->max_preauth = o->max_connections;
	if (o->refused_warn_interval_ms == 0)
		o->refused_warn_interval_ms = 10000;
}

xr_server *
xr_server_new(struct event_base *base, const xr_server_opts *opts,
    const xr_keyset *ks, xr_registry *reg, xr_diag *d)
{
	static const execrpc_v1_Endpoint_handlers stats = {
		.Stats = stats_handler,
	};
	xr_server *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "server: out of memory");
		return NULL;
	}
	s->base = base;
	s->o = *opts;
	opts_defaults(&s->o);
	snprintf(s->host, sizeof(s->host), "%s",
	    opts->bind_host != NULL ? opts->bind_host : "127.0.0.1");
	s->o.bind_host = s->host;
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->dying);
	TAILQ_INIT(&s->preauth);
	TAILQ_INIT(&s->flushq);
	if (!xr_host_is_loopback(s->host)) {
		xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.execution_ipc.bind_host: \"%s\" is not a "
		    "loopback address (tcp_local binds only 127.0.0.0/8, ::1, "
		    "localhost)", s->host);
		goto fail;
	}
	s->reg = reg;
	s->auth = xr_auth_new(ks);
	s->nonces = xr_nonce_cache_new(s->o.nonce_cache_size,
	    (uint64_t)s->o.ttl_seconds * 1000);
	s->codec = xr_codec_new();
	s->icodec = xr_codec_new();
	s->rbuf = malloc(XR_CONN_READ_MAX);
	if (s->auth == NULL || s->nonces == NULL || s->codec == NULL ||
	    s->icodec == NULL || s->rbuf == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "server: out of memory");
		goto fail;
	}
	s->rx.auth = s->auth;
	s->rx.dir = XR_DIR_WEB_TO_EXEC;
	s->rx.kind_mask = XR_SERVER_KINDS;	/* per connection: conn.c */
	s->rx.open_kind_mask = XR_KIND_BIT(XR_KIND_HELLO);
	s->rx.ttl_ms = (uint64_t)s->o.ttl_seconds * 1000;
	s->rx.max_body = xr_frame_max_body(s->o.max_payload_bytes);
	s->rx.nonces = s->nonces;
	event_assign(&s->backoff_ev, base, -1, 0, backoff_cb, s);
	event_assign(&s->resume_ev, base, -1, 0, backoff_cb, s);
	event_assign(&s->trim_ev, base, -1, 0, trim_cb, s);
	event_assign(&s->flush_ev, base, -1, 0, flush_cb, s);
	if (!xr_registry_has(reg, execrpc_v1_Endpoint_Stats_METHOD) &&
	    execrpc_v1_Endpoint_register(reg, &stats, s, NULL) != XR_OK) {
		xr_diag_set(d, XR_ERR_INTERNAL, "server: cannot register stats");
		goto fail;
	}
	return s;
 fail:
	xr_server_free(s);
	return NULL;
}

/* Why the configured address cannot be bound, naming the key to change. */
static int
listen_error(const xr_server *s, int e, xr_diag *d)
{
	unsigned port = s->o.bind_port;

	switch (e) {
	case EADDRINUSE:
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.execution_ipc.bind_port %u: address "
		    "already in use on %s (another process listens there: stop "
		    "it, or choose another port, or 0 for an ephemeral one)",
		    port, s->host);
	case EACCES:
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.execution_ipc.bind_port %u: permission "
		    "denied (ports under 1024 need privileges: choose another "
		    "port, or 0 for an ephemeral one)", port);
	case EADDRNOTAVAIL:
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.execution_ipc.bind_host \"%s\": not an "
		    "address of this machine (use 127.0.0.1)", s->host);
	default:
		return xr_diag_set(d, XR_ERR_SYSTEM, "bind %s:%u: %s", s->host,
		    port, strerror(e));
	}
}

int
xr_server_listen(xr_server *s, xr_diag *d)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	const char *host = strcmp(s->host, "localhost") == 0 ? "127.0.0.1" : s->host;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(s->o.bind_port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(s->o.bind_port);
		sl = sizeof(*sin6);
	} else {
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.execution_ipc.bind_host: \"%s\" is not an "
		    "address", s->host);
	}
	s->lev = evconnlistener_new_bind(s->base, accept_cb, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    LISTEN_BACKLOG, (struct sockaddr *)&ss, (int)sl);
	if (s->lev == NULL)
		return listen_error(s, errno, d);
	evconnlistener_set_error_cb(s->lev, accept_error_cb);
	sl = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(s->lev), (struct sockaddr *)&ss,
	    &sl) == -1)
		return xr_diag_set(d, XR_ERR_SYSTEM, "getsockname: %s",
		    strerror(errno));
	s->port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
	return XR_OK;
}

uint16_t
xr_server_port(const xr_server *s)
{
	return s->port;
}

void
xr_server_drain(xr_server *s, void (*done)(void *arg), void *arg)
{
	struct conn *c, *next;

	s->draining = 1;
	s->drain_done = done;
	s->drain_arg = arg;
	/* the listener stays: see server.h */
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		xr_conn_drain(c);
	}
	xr_server_drain_check(s);
}

int
xr_server_draining(const xr_server *s)
{
	return s->draining;
}

void
xr_server_stats_get(const xr_server *s, xr_server_stats *out)
{
	*out = s->st;
	memcpy(out->rejects, s->rx.counters.rejects, sizeof(out->rejects));
	out->frames_accepted = s->rx.counters.accepted;
	out->held_bytes = s->held_calls + s->held_out;
}

void
xr_server_free(xr_server *s)
{
	struct conn *c;

	if (s == NULL)
		return;
	s->drain_done = NULL;
	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		if (c->state == CONN_HANDSHAKE)
			xr_conn_reset(c);
		else
			xr_conn_close(c, 0);
	}
	while ((c = TAILQ_FIRST(&s->dying)) != NULL)
		xr_conn_destroy(c);
	if (s->lev != NULL)
		evconnlistener_free(s->lev);
	if (s->base != NULL && s->backoff_ev.ev_base != NULL)
		event_del(&s->backoff_ev);
	if (s->base != NULL && s->resume_ev.ev_base != NULL)
		event_del(&s->resume_ev);
	if (s->base != NULL && s->trim_ev.ev_base != NULL)
		event_del(&s->trim_ev);
	if (s->base != NULL && s->flush_ev.ev_base != NULL)
		event_del(&s->flush_ev);
	free(s->rbuf);
	xr_codec_free(s->codec);
	xr_codec_free(s->icodec);
	xr_nonce_cache_free(s->nonces);
	xr_auth_free(s->auth);
	free(s);
}
