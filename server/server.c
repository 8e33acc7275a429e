/* server/server.c — the execution endpoint: listener, connections, frames. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>

#include "auth.h"
#include "codec.h"
#include "config.h"
#include "execrpc/v1/lifecycle.pb-c.h"
#include "frame.h"
#include "log.h"
#include "reader.h"
#include "replay.h"
#include "rx.h"

#define SERVER_KINDS (XR_KIND_BIT(XR_KIND_HELLO) | XR_KIND_BIT(XR_KIND_REQUEST) | \
	XR_KIND_BIT(XR_KIND_CANCEL) | XR_KIND_BIT(XR_KIND_PING))
#define ACCEPT_BACKOFF_MS 250

enum conn_state {
	CONN_HANDSHAKE,		/* waiting for HELLO */
	CONN_OPEN,
	CONN_CLOSING,		/* flushing output, then free */
	CONN_DEAD,		/* free scheduled */
};

struct call_slot {
	uint64_t id;		/* 0 = empty */
	xr_call *call;
};

struct conn {
	xr_server *srv;
	struct bufferevent *bev;
	enum conn_state state;
	xr_session sess;
	struct call_slot *calls;	/* open addressing on call_id */
	size_t calls_mask, ncalls;
	uint64_t accepted_ms, last_rx_ms, frame_started_ms;
	int goaway_sent;
	int read_paused;		/* backpressure */
	xr_reader rd;			/* this stream's frames */
	struct event timer;		/* handshake / frame / idle deadline */
	struct event free_ev;		/* deferred free */
	TAILQ_ENTRY(conn) link;
};
TAILQ_HEAD(conn_list, conn);

struct xr_server {
	struct event_base *base;
	xr_server_opts o;
	char host[XR_CFG_HOST_MAX];
	xr_registry *reg;
	xr_auth *auth;
	xr_nonce_cache *nonces;
	xr_codec *codec;		/* one decode at a time: single thread */
	xr_rx rx;
	struct evconnlistener *lev;
	struct event backoff_ev;
	uint16_t port;
	int draining;
	void (*drain_done)(void *);
	void *drain_arg;
	struct conn_list conns;		/* handshake / open */
	struct conn_list dying;		/* closing / dead, not yet freed */
	xr_server_stats st;
};

static void conn_close(struct conn *c, int flush);
static void conn_rearm(struct conn *c);

/* ---------- the per-connection call table ---------- */

static size_t
id_hash(uint64_t id, size_t mask)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id & mask;
}

static struct call_slot *
calls_find(struct conn *c, uint64_t id)
{
	for (size_t i = id_hash(id, c->calls_mask); c->calls[i].id != 0;
	    i = (i + 1) & c->calls_mask)
		if (c->calls[i].id == id)
			return &c->calls[i];
	return NULL;
}

static void
calls_insert(struct conn *c, uint64_t id, xr_call *call)
{
	size_t i = id_hash(id, c->calls_mask);

	while (c->calls[i].id != 0)
		i = (i + 1) & c->calls_mask;
	c->calls[i].id = id;
	c->calls[i].call = call;
	c->ncalls++;
}

static void
calls_remove(struct conn *c, struct call_slot *slot)
{
	size_t i = (size_t)(slot - c->calls), j = i;

	c->ncalls--;
	for (;;) {
		c->calls[i].id = 0;
		for (;;) {
			size_t home;

			j = (j + 1) & c->calls_mask;
			if (c->calls[j].id == 0)
				return;
			home = id_hash(c->calls[j].id, c->calls_mask);
			if (i <= j ? (i < home && home <= j)
			    : (i < home || home <= j))
				continue;
			c->calls[i] = c->calls[j];
			i = j;
			break;
		}
	}
}

/* ---------- sending ---------- */

static void
env_session(struct conn *c, Execrpc__V1__Envelope *e, uint32_t kind,
    uint8_t nonce[XR_NONCE_LEN])
{
	xr_codec_env_init(e, kind, nonce);
	e->session_id.data = c->sess.id;
	e->session_id.len = XR_SESSION_ID_LEN;
	e->sequence = xr_session_next_seq(&c->sess);
}

static int
conn_send(struct conn *c, const Execrpc__V1__Envelope *e)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v;
	size_t need = xr_codec_sealed_len(e), len;

	if (evbuffer_reserve_space(out, need, &v, 1) < 1)
		return XR_ERR_NOMEM;
	if (xr_codec_seal(c->srv->auth, XR_DIR_EXEC_TO_WEB, e, v.iov_base,
	    v.iov_len, &len) != XR_OK)
		return XR_ERR_INTERNAL;
	v.iov_len = len;
	evbuffer_commit_space(out, &v, 1);
	if (!c->read_paused && evbuffer_get_length(out) > c->srv->o.max_outbuf) {
		/* backpressure: stop reading until the peer drains */
		bufferevent_disable(c->bev, EV_READ);
		c->read_paused = 1;
	}
	return XR_OK;
}

static void
send_response(struct conn *c, uint64_t call_id, int code, const char *msg,
    const uint8_t *resp, size_t len)
{
	Execrpc__V1__Envelope e;
	Execrpc__V1__Status st = EXECRPC__V1__STATUS__INIT;
	uint8_t nonce[XR_NONCE_LEN];

	env_session(c, &e, XR_KIND_RESPONSE, nonce);
	e.call_id = call_id;
	st.code = (Execrpc__V1__StatusCode)code;
	st.message = (char *)(uintptr_t)(msg != NULL ? msg : "");
	e.status = &st;
	if (code == XR_STATUS_OK) {
		e.payload.data = (uint8_t *)(uintptr_t)resp;
		e.payload.len = len;
	}
	if (conn_send(c, &e) != XR_OK)
		conn_close(c, 0);
}

static void
send_goaway(struct conn *c)
{
	Execrpc__V1__Envelope e;
	Execrpc__V1__Status st = EXECRPC__V1__STATUS__INIT;
	uint8_t nonce[XR_NONCE_LEN];

	if (c->goaway_sent || c->state != CONN_OPEN)
		return;
	c->goaway_sent = 1;
	env_session(c, &e, XR_KIND_GOAWAY, nonce);
	st.code = EXECRPC__V1__STATUS_CODE__STATUS_UNAVAILABLE;
	st.message = "server draining";
	e.status = &st;
	if (conn_send(c, &e) != XR_OK)
		conn_close(c, 0);
}

/* ---------- calls ---------- */

static void
conn_call_complete(void *owner, uint64_t call_id, int code, const char *msg,
    const uint8_t *resp, size_t len)
{
	struct conn *c = owner;
	struct call_slot *slot = calls_find(c, call_id);

	if (slot != NULL)
		calls_remove(c, slot);
	if (code == XR_STATUS_OK)
		c->srv->st.calls_ok++;
	else
		c->srv->st.calls_failed++;
	send_response(c, call_id, code, msg, resp, len);
	if (c->state == CONN_OPEN && c->goaway_sent && c->ncalls == 0)
		conn_close(c, 1);
	else if (c->state == CONN_OPEN)
		conn_rearm(c);
}

static void
handle_request(struct conn *c, const Execrpc__V1__Envelope *e)
{
	xr_server *s = c->srv;
	xr_call *call;

	if (e->call_id == 0 || calls_find(c, e->call_id) != NULL) {
		xr_debug("server: protocol error: bad or duplicate call id");
		conn_close(c, 0);
		return;
	}
	if (e->method == NULL || e->method[0] == '\0') {
		conn_call_complete(c, e->call_id, XR_STATUS_INVALID_ARGUMENT,
		    "method missing", NULL, 0);
		return;
	}
	if (s->draining || c->goaway_sent) {
		conn_call_complete(c, e->call_id, XR_STATUS_UNAVAILABLE,
		    "server draining", NULL, 0);
		return;
	}
	if (c->ncalls >= s->o.max_inflight) {
		conn_call_complete(c, e->call_id, XR_STATUS_RESOURCE_EXHAUSTED,
		    "too many calls in flight on this connection", NULL, 0);
		return;
	}
	s->st.calls_started++;
	call = xr_dispatch_start(s->reg, e->method, e->payload.data,
	    e->payload.len, e->timeout_ms, conn_call_complete, c, e->call_id);
	if (call != NULL && c->state == CONN_OPEN)
		calls_insert(c, e->call_id, call);
}

static void
handle_cancel(struct conn *c, uint64_t call_id)
{
	struct call_slot *slot = calls_find(c, call_id);
	xr_call *call;

	if (slot == NULL)
		return;		/* already answered: the CANCEL crossed it */
	call = slot->call;
	calls_remove(c, slot);
	c->srv->st.calls_cancelled++;
	xr_dispatch_abandon(call);
}

static void
handle_hello(struct conn *c, const xr_env_view *v)
{
	Execrpc__V1__Envelope e;
	Execrpc__V1__HelloAck ack = EXECRPC__V1__HELLO_ACK__INIT;
	uint8_t nonce[XR_NONCE_LEN], ack_nonce[XR_NONCE_LEN], buf[32];

	if (xr_session_open(&c->sess) != XR_OK) {
		conn_close(c, 0);
		return;
	}
	c->state = CONN_OPEN;
	memcpy(ack_nonce, v->nonce, XR_NONCE_LEN);
	env_session(c, &e, XR_KIND_HELLO_ACK, nonce);
	e.ack_nonce.data = ack_nonce;
	e.ack_nonce.len = XR_NONCE_LEN;
	ack.max_inflight = c->srv->o.max_inflight;
	ack.max_payload_bytes = c->srv->o.max_payload_bytes;
	e.payload.len = execrpc__v1__hello_ack__pack(&ack, buf);
	e.payload.data = buf;
	if (conn_send(c, &e) != XR_OK) {
		conn_close(c, 0);
		return;
	}
	if (c->srv->draining)
		send_goaway(c);
}

static void
handle_ping(struct conn *c)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];

	env_session(c, &e, XR_KIND_PONG, nonce);
	if (conn_send(c, &e) != XR_OK)
		conn_close(c, 0);
}

/* One accepted frame: route by kind. */
static void
conn_dispatch(struct conn *c, const Execrpc__V1__Envelope *e,
    const xr_env_view *v)
{
	switch (v->kind) {
	case XR_KIND_HELLO:
		handle_hello(c, v);
		break;
	case XR_KIND_REQUEST:
		handle_request(c, e);
		break;
	case XR_KIND_CANCEL:
		handle_cancel(c, e->call_id);
		break;
	case XR_KIND_PING:
		handle_ping(c);
		break;
	default:		/* the whitelist admits nothing else */
		conn_close(c, 0);
		break;
	}
}

/* ---------- reading ---------- */

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	xr_server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	xr_env_decoder dec = xr_codec_decoder(s->codec);

	while (c->state == CONN_HANDSHAKE || c->state == CONN_OPEN) {
		const uint8_t *body;
		size_t len;
		xr_env_view v;
		int r;

		/* 1. the length, before a byte of the body is buffered; the
		 * reader wakes us again only when the whole frame is in */
		r = xr_reader_bufferevent(&c->rd, bev, &body, &len);
		if (r == XR_ERR_AGAIN)
			break;
		if (r != XR_OK) {
			xr_debug("server: frame rejected: %s", xr_err_name(r));
			conn_close(c, 0);
			return;
		}
		/* 2-6. the receive pipeline, on the frame in place */
		r = xr_rx_frame(&s->rx, &c->sess, body, len, xr_now_ms(), &dec,
		    &v);
		if (r != XR_OK) {
			xr_debug("server: frame rejected: %s", xr_err_name(r));
			conn_close(c, 0);
			return;
		}
		c->last_rx_ms = xr_mono_ms();
		c->frame_started_ms = 0;
		conn_dispatch(c, xr_codec_envelope(s->codec), &v);
		xr_codec_reset(s->codec);
	}
	if (c->state == CONN_HANDSHAKE || c->state == CONN_OPEN) {
		if (evbuffer_get_length(in) == 0)
			c->frame_started_ms = 0;
		else if (c->frame_started_ms == 0)
			c->frame_started_ms = xr_mono_ms();
		conn_rearm(c);
	}
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->state == CONN_CLOSING) {
		if (left == 0)
			conn_close(c, 0);
		return;
	}
	if (c->read_paused && left <= c->srv->o.max_outbuf / 2) {
		c->read_paused = 0;
		bufferevent_enable(bev, EV_READ);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(c, 0);
}

/* ---------- timers and teardown ---------- */

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	xr_debug("server: connection timed out");
	conn_close(c, 0);
}

static void
conn_rearm(struct conn *c)
{
	const xr_server_opts *o = &c->srv->o;
	uint64_t now = xr_mono_ms(), at;
	struct timeval tv;

	if (c->state == CONN_HANDSHAKE)
		at = c->accepted_ms + o->handshake_timeout_ms;
	else if (c->frame_started_ms != 0)
		at = c->frame_started_ms + o->frame_timeout_ms;
	else if (c->ncalls == 0)
		at = c->last_rx_ms + o->idle_timeout_ms;
	else {
		event_del(&c->timer);
		return;
	}
	at = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(at / 1000);
	tv.tv_usec = (suseconds_t)(at % 1000) * 1000;
	event_add(&c->timer, &tv);
}

static void maybe_drain_done(xr_server *s);

static void
conn_destroy(struct conn *c)
{
	TAILQ_REMOVE(&c->srv->dying, c, link);
	event_del(&c->timer);
	event_del(&c->free_ev);
	bufferevent_free(c->bev);
	free(c->calls);
	xr_wipe(&c->sess, sizeof(c->sess));
	free(c);
}

static void
conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	xr_server *s = c->srv;

	(void)fd;
	(void)what;
	conn_destroy(c);
	maybe_drain_done(s);
}

/* Close a connection: abandon its calls now; with `flush`, send what is
 * buffered first. The memory is freed from a deferred callback, never
 * inside the connection's own callback. */
static void
conn_close(struct conn *c, int flush)
{
	xr_server *s = c->srv;

	if (c->state == CONN_DEAD)
		return;
	xr_debug("server: closing a connection (%zu calls in flight, %s)",
	    c->ncalls, flush ? "flushing" : "now");
	if (c->state != CONN_CLOSING) {
		for (size_t i = 0; i <= c->calls_mask; i++) {
			if (c->calls[i].id == 0)
				continue;
			s->st.calls_cancelled++;
			xr_dispatch_abandon(c->calls[i].call);
			c->calls[i].id = 0;
		}
		c->ncalls = 0;
		TAILQ_REMOVE(&s->conns, c, link);
		TAILQ_INSERT_TAIL(&s->dying, c, link);
		s->st.connections_open--;
	}
	if (flush && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		struct timeval tv = { s->o.frame_timeout_ms / 1000,
		    (suseconds_t)(s->o.frame_timeout_ms % 1000) * 1000 };

		c->state = CONN_CLOSING;
		bufferevent_disable(c->bev, EV_READ);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		/* a peer that never reads does not keep us: the flush has
		 * the frame timeout, then the connection is dropped */
		event_add(&c->timer, &tv);
		return;
	}
	c->state = CONN_DEAD;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(&c->free_ev, EV_TIMEOUT, 0);
}

static void
maybe_drain_done(xr_server *s)
{
	void (*done)(void *) = s->drain_done;

	if (!s->draining || done == NULL || !TAILQ_EMPTY(&s->conns) ||
	    !TAILQ_EMPTY(&s->dying))
		return;
	s->drain_done = NULL;
	done(s->drain_arg);
}

/* ---------- accepting ---------- */

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	xr_server *s = arg;
	struct conn *c;
	int one = 1;
	size_t nslots = 16;

	(void)lev;
	(void)sa;
	(void)salen;
	if (s->draining || s->st.connections_open >= s->o.max_connections) {
		evutil_closesocket(fd);
		return;
	}
	while (nslots < (size_t)s->o.max_inflight * 2)
		nslots <<= 1;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->calls = calloc(nslots, sizeof(*c->calls))) == NULL ||
	    (c->bev = bufferevent_socket_new(s->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		if (c != NULL)
			free(c->calls);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = s;
	c->calls_mask = nslots - 1;
	c->state = CONN_HANDSHAKE;
	c->accepted_ms = c->last_rx_ms = xr_mono_ms();
	xr_reader_init_rx(&c->rd, &s->rx);
	event_assign(&c->timer, s->base, -1, 0, conn_timer_cb, c);
	event_assign(&c->free_ev, s->base, -1, 0, conn_free_cb, c);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->st.connections_accepted++;
	s->st.connections_open++;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, s->o.max_outbuf / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_rearm(c);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_server *s = arg;

	(void)fd;
	(void)what;
	if (!s->draining && s->lev != NULL)
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

/* ---------- the built-in Endpoint/Stats method ---------- */

static void
stats_handler(xr_call *call, const ProtobufCMessage *req, void *arg)
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
	/* indexed by xr_reject, like the counters themselves */
	ws.n_rejects_by_kind = XR_REJECT_COUNT;
	ws.rejects_by_kind = s->rx.counters.rejects;
	ws.stats = EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED;
	ws.last_exit_status = -1;
	xr_call_reply(call, &ws.base);
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
	if (o->handshake_timeout_ms == 0)
		o->handshake_timeout_ms = 5000;
	if (o->frame_timeout_ms == 0)
		o->frame_timeout_ms = 10000;
	if (o->idle_timeout_ms == 0)
		o->idle_timeout_ms = 300000;
	if (o->max_connections == 0)
		o->max_connections = 1024;
}

xr_server *
xr_server_new(struct event_base *base, const xr_server_opts *opts,
    const xr_keyset *ks, xr_registry *reg, xr_diag *d)
{
	static const xr_handler_fn stats_fns[] = { stats_handler };
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
	if (s->auth == NULL || s->nonces == NULL || s->codec == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "server: out of memory");
		goto fail;
	}
	s->rx.auth = s->auth;
	s->rx.dir = XR_DIR_WEB_TO_EXEC;
	s->rx.kind_mask = SERVER_KINDS;
	s->rx.open_kind_mask = XR_KIND_BIT(XR_KIND_HELLO);
	s->rx.ttl_ms = (uint64_t)s->o.ttl_seconds * 1000;
	s->rx.max_body = xr_frame_max_body(s->o.max_payload_bytes);
	s->rx.nonces = s->nonces;
	event_assign(&s->backoff_ev, base, -1, 0, backoff_cb, s);
	if (!xr_registry_has(reg, "execrpc.v1.Endpoint/Stats") &&
	    xr_registry_add(reg, &execrpc__v1__endpoint__descriptor, stats_fns,
	    s) != XR_OK) {
		xr_diag_set(d, XR_ERR_INTERNAL, "server: cannot register stats");
		goto fail;
	}
	return s;
 fail:
	xr_server_free(s);
	return NULL;
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
	    128, (struct sockaddr *)&ss, (int)sl);
	if (s->lev == NULL)
		return xr_diag_set(d, XR_ERR_SYSTEM, "bind %s:%u: %s", s->host,
		    (unsigned)s->o.bind_port, strerror(errno));
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
	if (s->lev != NULL)
		evconnlistener_disable(s->lev);
	event_del(&s->backoff_ev);
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CONN_HANDSHAKE)
			conn_close(c, 0);
		else if (c->state == CONN_OPEN) {
			send_goaway(c);
			if (c->ncalls == 0)
				conn_close(c, 1);
		}
	}
	maybe_drain_done(s);
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
}

void
xr_server_free(xr_server *s)
{
	struct conn *c;

	if (s == NULL)
		return;
	s->drain_done = NULL;
	while ((c = TAILQ_FIRST(&s->conns)) != NULL)
		conn_close(c, 0);
	while ((c = TAILQ_FIRST(&s->dying)) != NULL)
		conn_destroy(c);
	if (s->lev != NULL)
		evconnlistener_free(s->lev);
	if (s->base != NULL && s->backoff_ev.ev_base != NULL)
		event_del(&s->backoff_ev);
	xr_codec_free(s->codec);
	xr_nonce_cache_free(s->nonces);
	xr_auth_free(s->auth);
	free(s);
}
