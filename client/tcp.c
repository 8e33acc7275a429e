/*
 * client/tcp.c — the tcp_local transport: one loopback TCP connection per
 * channel, a bufferevent on the caller's base, the HELLO handshake of
 * docs/protocol.md, the receive pipeline of core/rx.h, signed writes.
 *
 * Handshake refused: an endpoint closes, without a word, a connection whose
 * HELLO it cannot verify (docs/protocol.md). A FIN after our HELLO and
 * before HELLO_ACK is that refusal: the channel closes with
 * XR_ERR_BAD_SIGNATURE / UNAUTHENTICATED and the hint that the secret or
 * the kdf differ. A reset is not: an endpoint resets every other
 * connection it closes before HELLO_ACK (max_connections, its handshake
 * timeout, stopping).
 *
 * Read path: the frame reader of core/reader.h checks the 4-byte prefix
 * (xr_rx_check_len) before the body is waited for; only then is the frame
 * made contiguous in the input buffer and run through xr_rx_frame(). Any
 * rejected frame closes the connection, and closing fails every pending
 * call with UNAVAILABLE at once.
 *
 * Write path: each frame is encoded and signed straight into space reserved
 * in the bufferevent's output buffer, so the frames of many calls started in
 * one loop iteration leave in one write.
 *
 * The application must ignore SIGPIPE (libevent writes with write(2)/writev).
 */
#include "channel_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdarg.h>

#include "frame.h"
#include "keys.h"
#include "log.h"
#include "nonce.h"
#include "printable.h"

#define TCP_RX_KINDS (XR_KIND_BIT(XR_KIND_HELLO_ACK) | \
    XR_KIND_BIT(XR_KIND_RESPONSE) | XR_KIND_BIT(XR_KIND_GOAWAY) | \
    XR_KIND_BIT(XR_KIND_PONG))

/* ---- addresses ----------------------------------------------------------- */

/* Same rule as the server's bind_host: 127.0.0.0/8, ::1, "localhost"
 * (taken as 127.0.0.1). Nothing is resolved. Fills ch->addr and ch->peer;
 * a refusal says which host and what is accepted. */
static int
tcp_resolve(xr_channel *ch, const char *host, uint16_t port, xr_diag *d)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ch->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ch->addr;
	struct in_addr a4;
	struct in6_addr a6;
	char shown[72];

	memset(&ch->addr, 0, sizeof(ch->addr));
	if (host == NULL || host[0] == '\0')
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "no host: set the "
		    "channel's host to the endpoint's address (127.0.0.1, ::1 "
		    "or localhost)");
	if (port == 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "port 0: set the "
		    "channel's port to the port the endpoint listens on");
	xr_printable(host, strlen(host), shown, sizeof(shown));
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4) == 1) {
		if ((ntohl(a4.s_addr) >> 24) != 127)
			goto not_loopback;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a4;
		ch->addrlen = sizeof(*sin);
		snprintf(ch->peer, sizeof(ch->peer), "%s:%u", host,
		    (unsigned)port);
		return XR_OK;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6))
			goto not_loopback;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a6;
		ch->addrlen = sizeof(*sin6);
		snprintf(ch->peer, sizeof(ch->peer), "[%s]:%u", host,
		    (unsigned)port);
		return XR_OK;
	}
	return xr_diag_set(d, XR_ERR_INVALID_ARG, "host \"%s\" is not an IP "
	    "address: tcp_local resolves no names; use 127.0.0.1, ::1 or "
	    "localhost", shown);
 not_loopback:
	return xr_diag_set(d, XR_ERR_INVALID_ARG, "host \"%s\" is not a "
	    "loopback address: tcp_local connects only to 127.0.0.0/8, ::1 or "
	    "localhost (run the client on the endpoint's machine)", shown);
}

/* ---- writing frames ------------------------------------------------------ */

/* Fill the common fields of ch->tx for a new frame of `kind`. */
static int
tx_prepare(xr_channel *ch, uint32_t kind, int with_trace)
{
	execrpc_v1_Envelope *e = &ch->tx;
	uint8_t rnd[XR_NONCE_LEN + XR_NONCE_LEN];
	size_t need = with_trace ? sizeof(rnd) : XR_NONCE_LEN;

	if (xr_nonce_fill(rnd, need) != XR_OK)
		return XR_ERR_SYSTEM;
	e->version = XR_PROTOCOL_VERSION;
	e->kind = (execrpc_v1_Kind)kind;
	memcpy(e->nonce.bytes, rnd, XR_NONCE_LEN);
	e->nonce.size = XR_NONCE_LEN;
	e->ts_ms = xr_now_ms();
	if (ch->sess.state == XR_SESSION_OPEN) {
		memcpy(e->session_id.bytes, ch->sess.id, XR_SESSION_ID_LEN);
		e->session_id.size = XR_SESSION_ID_LEN;
		e->sequence = xr_session_next_seq(&ch->sess);
	} else {
		e->session_id.size = 0;
		e->sequence = 0;
	}
	e->ack_nonce.size = 0;
	if (with_trace) {
		memcpy(e->trace_id.bytes, rnd + XR_NONCE_LEN, XR_NONCE_LEN);
		e->trace_id.size = XR_NONCE_LEN;
	} else
		e->trace_id.size = 0;
	e->headers_count = 0;
	e->call_id = 0;
	e->method[0] = '\0';
	e->timeout_ms = 0;
	e->has_status = false;
	return XR_OK;
}

/* Encode and sign ch->tx + payload into the output buffer. */
static int
tx_write(xr_channel *ch, const uint8_t *payload, size_t plen)
{
	struct evbuffer *out;
	struct evbuffer_iovec v;
	size_t env_len, total;
	int r;

	if (ch->bev == NULL)
		return XR_ERR_CLOSED;
	if ((r = xr_nb_env_size(&ch->tx, payload, plen, &env_len)) != XR_OK)
		return r;
	total = xr_frame_wire_len(env_len);
	if (total - XR_FRAME_PREFIX_LEN > UINT32_MAX)
		return XR_ERR_NO_SPACE;
	out = bufferevent_get_output(ch->bev);
	if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) < 1 ||
	    v.iov_len < total)
		return XR_ERR_NOMEM;
	if ((r = xr_nb_seal(ch->auth, XR_DIR_WEB_TO_EXEC, &ch->tx, payload,
	    plen, env_len, v.iov_base)) != XR_OK)
		return r;	/* the reservation is simply not committed */
	v.iov_len = total;
	if (evbuffer_commit_space(out, &v, 1) != 0)
		return XR_ERR_INTERNAL;
	return XR_OK;
}

static int
tx_hello(xr_channel *ch)
{
	execrpc_v1_Hello hello;
	uint8_t buf[execrpc_v1_Hello_size];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	int r;

	memset(&hello, 0, sizeof(hello));
	memcpy(hello.client_name, ch->client_name, sizeof(hello.client_name));
	if (!pb_encode(&os, execrpc_v1_Hello_fields, &hello))
		return XR_ERR_INTERNAL;
	ch->sess.state = XR_SESSION_NONE;
	if ((r = tx_prepare(ch, XR_KIND_HELLO, 0)) != XR_OK)
		return r;
	xr_session_pending(&ch->sess, ch->tx.nonce.bytes);
	return tx_write(ch, buf, os.bytes_written);
}

static int
tx_request(xr_channel *ch, xr_client_call *c, const uint8_t *req,
    size_t req_len)
{
	uint64_t now, rem;
	int r;

	if ((r = tx_prepare(ch, XR_KIND_REQUEST, 1)) != XR_OK)
		return r;
	ch->tx.call_id = c->id;
	memcpy(ch->tx.method, c->method, sizeof(ch->tx.method));
	if (c->deadline_ms != 0) {
		/* the deadline as time remaining, like grpc-timeout */
		now = xr_mono_ms();
		rem = c->deadline_ms > now ? c->deadline_ms - now : 1;
		ch->tx.timeout_ms = rem > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)rem;
	}
	return tx_write(ch, req, req_len);
}

/* ---- closing ------------------------------------------------------------- */

void
xr_tcp_close(xr_channel *ch, int err, int status, const char *fmt, ...)
{
	xr_client_call *c;
	va_list ap;

	if (ch->state != XR_CH_CLOSED) {
		ch->state = XR_CH_CLOSED;
		ch->close_err = err;
		ch->close_status = status;
		va_start(ap, fmt);
		vsnprintf(ch->close_why, sizeof(ch->close_why), fmt, ap);
		va_end(ap);
		xr_debug("execrpc client: connection closed: %s",
		    ch->close_why);
	}
	if (ch->conn_timer_set) {
		evtimer_del(&ch->conn_timer);
		ch->conn_timer_set = 0;
	}
	if (ch->bev != NULL) {
		/* libevent holds a reference while it runs our callbacks, so
		 * freeing from inside one of them is safe */
		bufferevent_disable(ch->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(ch->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(ch->bev);
		ch->bev = NULL;
	}
	while ((c = xr_calls_any(ch)) != NULL)
		xr_calls_complete(c, ch->close_status, ch->close_why, NULL, 0);
}

void
xr_tcp_maybe_drained(xr_channel *ch)
{
	char why[XR_CLIENT_WHY_MAX];

	if (ch->state == XR_CH_DRAINING &&
	    xr_hmap_count(&ch->calls.map) == 0) {
		/* the reason GOAWAY recorded stays the reason */
		memcpy(why, ch->close_why, sizeof(why));
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE, "%s",
		    why);
	}
}

void
xr_tcp_destroy(xr_channel *ch)
{
	if (ch->conn_timer_set) {
		evtimer_del(&ch->conn_timer);
		ch->conn_timer_set = 0;
	}
	if (ch->bev != NULL) {
		bufferevent_setcb(ch->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(ch->bev);
		ch->bev = NULL;
	}
	xr_auth_free(ch->auth);
	ch->auth = NULL;
	xr_wipe(&ch->sess, sizeof(ch->sess));
}

/* ---- receiving ----------------------------------------------------------- */

/* A frame that passed the pipeline but breaks the session protocol. */
static void
tcp_violation(xr_channel *ch, int err, const char *why)
{
	xr_rx_count(&ch->rx, err);
	xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
	    "protocol error from %s (%s): connection closed", ch->peer, why);
}

static void
tcp_handshake_done(xr_channel *ch)
{
	execrpc_v1_HelloAck ack;
	pb_istream_t is;

	memset(&ack, 0, sizeof(ack));
	is = pb_istream_from_buffer(ch->dec.payload, ch->dec.payload_len);
	if (!pb_decode(&is, execrpc_v1_HelloAck_fields, &ack)) {
		tcp_violation(ch, XR_ERR_MALFORMED, "HELLO_ACK payload");
		return;
	}
	if (ack.max_payload_bytes != 0 && ack.max_payload_bytes < ch->max_payload)
		ch->max_payload = ack.max_payload_bytes;
	if (ack.max_inflight != 0 && ack.max_inflight < ch->max_inflight)
		ch->max_inflight = ack.max_inflight;
	ch->state = XR_CH_READY;
	if (ch->conn_timer_set) {
		evtimer_del(&ch->conn_timer);
		ch->conn_timer_set = 0;
	}
	/* the queue goes out once the frames read with HELLO_ACK are done:
	 * a GOAWAY right behind it fails the queued calls instead */
}

/* After a read: send what was queued before the handshake, in order, or
 * fail it if the endpoint said GOAWAY with its HELLO_ACK. Callbacks may
 * close or free the channel. */
static void
tcp_flush_queue(xr_channel *ch)
{
	xr_client_call *c;
	int r;

	while (ch->state == XR_CH_DRAINING && !ch->freeing &&
	    (c = ch->q_head) != NULL)
		xr_calls_complete(c, XR_STATUS_UNAVAILABLE, ch->close_why,
		    NULL, 0);
	while (ch->state == XR_CH_READY && !ch->freeing &&
	    (c = ch->q_head) != NULL) {
		xr_calls_unqueue(ch, c);
		c->state = XR_CALL_SENT;
		r = tx_request(ch, c, c->qreq, c->qreq_len);
		free(c->qreq);
		c->qreq = NULL;
		c->qreq_len = 0;
		if (r != XR_OK)
			xr_calls_complete(c, XR_STATUS_INTERNAL,
			    "cannot send the request", NULL, 0);
	}
}

static void
tcp_response(xr_channel *ch)
{
	const execrpc_v1_Envelope *e = &ch->dec.env;
	xr_client_call *c;
	int code = XR_STATUS_OK;

	c = e->call_id != 0 ? xr_calls_find(ch, e->call_id) : NULL;
	if (c == NULL || c->state != XR_CALL_SENT) {
		/* finished (deadline, cancel) or never ours: ignore */
		ch->stray_responses++;
		return;
	}
	if (e->has_status)
		code = (int)e->status.code;
	if (code < XR_STATUS_OK || code > XR_STATUS_UNAUTHENTICATED)
		code = XR_STATUS_UNKNOWN;
	if (code == XR_STATUS_OK && ch->dec.payload_len > ch->max_payload) {
		/* an endpoint with a larger limit than ours: this call fails,
		 * the connection is sound */
		xr_calls_complete(c, XR_STATUS_RESOURCE_EXHAUSTED,
		    XR_CLIENT_MSG_RESP_TOO_LARGE, NULL, 0);
		return;
	}
	xr_calls_complete(c, code, e->has_status ? e->status.message : "",
	    ch->dec.payload, ch->dec.payload_len);
}

/* Act on one accepted frame. */
static void
tcp_dispatch(xr_channel *ch, const xr_env_view *v)
{
	int handshaking = ch->state == XR_CH_HANDSHAKE;

	if (handshaking != (v->kind == XR_KIND_HELLO_ACK)) {
		tcp_violation(ch, XR_ERR_KIND_NOT_ALLOWED, handshaking ?
		    "expected HELLO_ACK" : "unexpected HELLO_ACK");
		return;
	}
	switch (v->kind) {
	case XR_KIND_HELLO_ACK:
		tcp_handshake_done(ch);
		break;
	case XR_KIND_RESPONSE:
		tcp_response(ch);
		break;
	case XR_KIND_GOAWAY:
		if (ch->state == XR_CH_READY) {
			ch->state = XR_CH_DRAINING;
			ch->close_status = XR_STATUS_UNAVAILABLE;
			snprintf(ch->close_why, sizeof(ch->close_why),
			    "endpoint %s is draining (GOAWAY): it takes no new "
			    "calls; call another endpoint, or retry once it "
			    "restarted", ch->peer);
		}
		break;
	case XR_KIND_PONG:
	default:
		break;
	}
}

static void
tcp_read_frames(xr_channel *ch)
{
	xr_env_decoder dec = xr_nb_decoder(&ch->dec);
	xr_env_view view;
	const uint8_t *body;
	size_t len;
	int r;

	while (ch->bev != NULL && !ch->freeing &&
	    ch->state != XR_CH_CLOSED && ch->state != XR_CH_CONNECTING) {
		/* 1. the limit, before any of the body is waited for; the
		 * reader wakes us again only when the whole frame is in */
		r = xr_reader_bufferevent(&ch->rd, ch->bev, &body, &len);
		if (r == XR_ERR_AGAIN)
			return;
		if (r != XR_OK) {
			xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
			    "frame from %s refused (%s): connection closed",
			    ch->peer, xr_err_name(r));
			return;
		}
		/* 2.-6. tag, decode, kind, ttl, session + sequence */
		r = xr_rx_frame(&ch->rx, &ch->sess, body, len, xr_now_ms(), &dec,
		    &view);
		if (r == XR_ERR_BAD_SIGNATURE && ch->state == XR_CH_HANDSHAKE) {
			xr_tcp_close(ch, XR_ERR_BAD_SIGNATURE,
			    XR_STATUS_UNAUTHENTICATED, "handshake with %s "
			    "failed: its HELLO_ACK does not verify with our "
			    "keys (secret or kdf mismatch? the client needs "
			    "the endpoint's auth secret and kdf)", ch->peer);
			return;
		}
		if (r != XR_OK) {
			xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
			    "frame from %s refused (%s): connection closed",
			    ch->peer, xr_err_name(r));
			return;
		}
		tcp_dispatch(ch, &view);
		ch->dec.payload = NULL;
		ch->dec.payload_len = 0;
	}
}

static void
tcp_read_cb(struct bufferevent *bev, void *arg)
{
	xr_channel *ch = arg;

	(void)bev;
	xr_channel_enter(ch);
	tcp_read_frames(ch);
	tcp_flush_queue(ch);
	xr_tcp_maybe_drained(ch);
	xr_channel_leave(ch);
}

/* The endpoint closed (FIN) or the socket failed: say which, and what
 * to check. */
static void
tcp_lost(xr_channel *ch, short what)
{
	int e = EVUTIL_SOCKET_ERROR();

	if ((what & BEV_EVENT_EOF) && ch->state == XR_CH_HANDSHAKE)
		xr_tcp_close(ch, XR_ERR_BAD_SIGNATURE,
		    XR_STATUS_UNAUTHENTICATED, "handshake refused by %s: it "
		    "closed the connection after our HELLO without answering "
		    "(secret or kdf mismatch? the client needs the endpoint's "
		    "auth secret and kdf)", ch->peer);
	else if (what & BEV_EVENT_EOF)
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connection closed by the endpoint %s", ch->peer);
	else if ((ch->state == XR_CH_CONNECTING ||
	    ch->state == XR_CH_HANDSHAKE) && (e == ECONNRESET || e == EPIPE))
		/* accepted, then reset: seen as a failed connect when the
		 * reset comes before the connect is reported */
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connection reset by %s before HELLO_ACK (the endpoint is "
		    "at max_connections or stopping)", ch->peer);
	else if (ch->state == XR_CH_CONNECTING)
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connect to %s failed: %s%s", ch->peer,
		    evutil_socket_error_to_string(e), e == ECONNREFUSED ?
		    " (is the endpoint running, on this port?)" : "");
	else
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connection to %s lost: %s", ch->peer,
		    evutil_socket_error_to_string(e));
}

static void
tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	xr_channel *ch = arg;
	int one = 1, r;

	xr_channel_enter(ch);
	if (what & BEV_EVENT_CONNECTED) {
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));
		ch->state = XR_CH_HANDSHAKE;
		if ((r = tx_hello(ch)) != XR_OK ||
		    bufferevent_enable(bev, EV_READ | EV_WRITE) != 0)
			xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_INTERNAL,
			    "cannot send HELLO to %s (%s)", ch->peer,
			    xr_err_name(r != XR_OK ? r : XR_ERR_SYSTEM));
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR |
	    BEV_EVENT_TIMEOUT)) {
		tcp_lost(ch, what);
	}
	xr_channel_leave(ch);
}

static void
tcp_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_channel *ch = arg;

	(void)fd;
	(void)what;
	ch->conn_timer_set = 0;
	xr_channel_enter(ch);
	if (ch->state == XR_CH_CONNECTING)
		xr_tcp_close(ch, XR_ERR_READY_TIMEOUT, XR_STATUS_UNAVAILABLE,
		    "connect to %s not done within %u ms (connect_timeout_ms)",
		    ch->peer, (unsigned)ch->connect_timeout_ms);
	else if (ch->state == XR_CH_HANDSHAKE)
		xr_tcp_close(ch, XR_ERR_READY_TIMEOUT, XR_STATUS_UNAVAILABLE,
		    "no HELLO_ACK from %s within %u ms (connect_timeout_ms): "
		    "is an execrpc endpoint listening there?", ch->peer,
		    (unsigned)ch->connect_timeout_ms);
	xr_channel_leave(ch);
}

/* ---- the transport hooks ------------------------------------------------- */

int
xr_tcp_open(xr_channel *ch, const xr_channel_opts *opts, const xr_keyset *ks,
    xr_diag *d)
{
	struct timeval tv;
	int fd = -1, r, one = 1;

	if ((r = tcp_resolve(ch, opts->host, opts->port, d)) != XR_OK)
		return r;
	ch->max_payload = opts->max_payload_bytes ? opts->max_payload_bytes :
	    XR_CLIENT_DEF_MAX_PAYLOAD;
	ch->max_inflight = opts->max_inflight ? opts->max_inflight :
	    XR_CLIENT_DEF_MAX_INFLIGHT;
	ch->connect_timeout_ms = opts->connect_timeout_ms ?
	    opts->connect_timeout_ms : XR_CLIENT_DEF_CONNECT_MS;
	snprintf(ch->client_name, sizeof(ch->client_name), "%s",
	    opts->client_name != NULL ? opts->client_name : "");
	if ((ch->auth = xr_auth_new(ks)) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	ch->rx.auth = ch->auth;
	ch->rx.dir = XR_DIR_EXEC_TO_WEB;
	ch->rx.kind_mask = TCP_RX_KINDS;
	ch->rx.ttl_ms = (uint64_t)(opts->ttl_seconds ? opts->ttl_seconds :
	    XR_CLIENT_DEF_TTL_S) * 1000u;
	ch->rx.max_body = xr_frame_max_body(ch->max_payload);
	ch->rx.nonces = NULL;	/* the client opens no sessions */
	xr_reader_init_rx(&ch->rd, &ch->rx);

	fd = socket(ch->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return xr_diag_set(d, XR_ERR_SYSTEM, "socket: %s",
		    strerror(errno));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((ch->bev = bufferevent_socket_new(ch->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	}
	bufferevent_setcb(ch->bev, tcp_read_cb, NULL, tcp_event_cb, ch);
	if (event_assign(&ch->conn_timer, ch->base, -1, 0, tcp_conn_timer_cb,
	    ch) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "cannot set a timer");
	tv.tv_sec = (time_t)(ch->connect_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(ch->connect_timeout_ms % 1000) * 1000;
	if (evtimer_add(&ch->conn_timer, &tv) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "cannot set a timer");
	ch->conn_timer_set = 1;
	ch->state = XR_CH_CONNECTING;
	if (bufferevent_socket_connect(ch->bev, (struct sockaddr *)&ch->addr,
	    (int)ch->addrlen) != 0) {
		/* failed at once (e.g. no IPv6 loopback): the channel exists
		 * but is closed; its calls fail with UNAVAILABLE */
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connect to %s failed: %s", ch->peer, strerror(errno));
	}
	return XR_OK;
}

int
xr_tcp_start_call(xr_channel *ch, xr_client_call *c, const uint8_t *req,
    size_t req_len)
{
	int r;

	if (ch->state == XR_CH_READY) {
		c->state = XR_CALL_SENT;
		if ((r = tx_request(ch, c, req, req_len)) != XR_OK) {
			xr_calls_complete(c, XR_STATUS_INTERNAL,
			    "cannot send the request", NULL, 0);
			return r;
		}
		return XR_OK;
	}
	/* connecting: keep a copy until the session is open */
	if (req_len > 0) {
		if ((c->qreq = malloc(req_len)) == NULL) {
			xr_calls_complete(c, XR_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory", NULL, 0);
			return XR_ERR_NOMEM;
		}
		memcpy(c->qreq, req, req_len);
	}
	c->qreq_len = req_len;
	xr_calls_enqueue(ch, c);
	return XR_OK;
}

void
xr_tcp_abandon(xr_channel *ch, xr_client_call *c)
{
	if (c->state != XR_CALL_SENT || ch->bev == NULL ||
	    (ch->state != XR_CH_READY && ch->state != XR_CH_DRAINING))
		return;
	if (tx_prepare(ch, XR_KIND_CANCEL, 0) != XR_OK)
		return;
	ch->tx.call_id = c->id;
	(void)tx_write(ch, NULL, 0);	/* best effort; the call is done */
}

size_t
xr_tcp_outbuf_len(const xr_channel *ch)
{
	if (ch->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(ch->bev));
}
