/*
 * server/conn.c — one connection of the execution endpoint: frames in
 * through the reader and the receive pipeline, dispatch by envelope kind,
 * sealed responses out, timeouts, the call table, close and deferred free.
 * Roles of the server's files: server_priv.h.
 *
 * Before HELLO_ACK the connection is closed with a FIN only when its HELLO
 * (or whatever came first) is refused; every other close resets it
 * (xr_conn_reset), so that a client can tell a refused handshake from an
 * endpoint that is full or going away (docs/protocol.md).
 *
 * Before HELLO verifies a connection is on the server's pre-auth list,
 * reads with the HELLO limit and holds no call table (server_priv.h).
 *
 * Held bytes (server.h): each call in flight carries its charge in the
 * call table (struct inflight); the output buffer's bytes are summed over
 * the endpoint as they are sealed and written. Both budgets are checked in
 * handle_request() before the call reaches the registry.
 *
 * Input and output (server_priv.h, "The frame path"): one read(2) per read
 * event into the server's read buffer, fed to the connection's reader;
 * sealed frames collect in the connection's output buffer and leave in one
 * send(2) at the end of the loop turn (xr_conn_flush_all()); a BATCH that
 * is full before then leaves at once (send_early()).
 */
#include "server_priv.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"

static void conn_rearm(struct conn *c);

/* ---------- held bytes (server.h) ---------- */

/* A call in flight: the registry's handle (NULL while xr_dispatch_start()
 * runs) and the bytes it is charged. */
struct inflight {
	xr_call *call;
	size_t charge;
	struct inflight *next;	/* on the connection's spares */
};

/* A slot for a new call: a spare one if the connection has it (no
 * allocation per call in steady state), else a new one. */
static struct inflight *
inflight_get(struct conn *c)
{
	struct inflight *f = c->spare;

	if (f == NULL)
		return calloc(1, sizeof(*f));
	c->spare = f->next;
	memset(f, 0, sizeof(*f));
	return f;
}

/* Keep a released slot as a spare. */
static void
inflight_put(struct conn *c, struct inflight *f)
{
	f->next = c->spare;
	c->spare = f;
}

/* The connection's held bytes: its calls' charges and its output. */
static size_t
conn_held(const struct conn *c)
{
	return c->held_calls + (c->out_len - c->out_off) + c->pend_len;
}

/* The endpoint's held bytes. */
static uint64_t
srv_held(const xr_server *s)
{
	return s->held_calls + s->held_out;
}

/* Raise the peaks after the held bytes grew. */
static void
held_note(const struct conn *c)
{
	xr_server_stats *st = &c->srv->st;
	uint64_t mine = conn_held(c), all = srv_held(c->srv);

	if (mine > st->conn_held_peak)
		st->conn_held_peak = mine;
	if (all > st->held_bytes_peak)
		st->held_bytes_peak = all;
}

/* 1 if `held` + `charge` <= `budget`, or nothing is held. */
static int
held_fits(uint64_t held, size_t charge, uint64_t budget)
{
	return held == 0 || (charge <= budget && held <= budget - charge);
}

/* 1 if a call charged `charge` fits the connection's budget (max_outbuf)
 * and the endpoint's (max_held_bytes). */
static int
held_admits(const struct conn *c, size_t charge)
{
	const xr_server *s = c->srv;

	return held_fits(conn_held(c), charge, s->o.max_outbuf) &&
	    held_fits(srv_held(s), charge, s->o.max_held_bytes);
}

static void
held_charge(struct conn *c, struct inflight *f, size_t charge)
{
	f->charge = charge;
	c->held_calls += charge;
	c->srv->held_calls += charge;
	held_note(c);
}

/* Release a call's charge and its slot; returns its xr_call (NULL if it
 * is still being started). */
static xr_call *
held_release(struct conn *c, struct inflight *f)
{
	xr_call *call = f->call;

	c->held_calls -= f->charge;
	c->srv->held_calls -= f->charge;
	inflight_put(c, f);
	return call;
}

/* ---------- sending ---------- */

/* A fresh envelope of the session; its sequence is given by conn_send(). */
static void
env_session(struct conn *c, Execrpc__V1__Envelope *e, uint32_t kind,
    uint8_t nonce[XR_NONCE_LEN])
{
	xr_codec_env_init(e, kind, nonce);
	e->session_id.data = c->sess.id;
	e->session_id.len = XR_SESSION_ID_LEN;
}

/* Bytes sealed and not yet written. */
static size_t
out_pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

/* Room for `need` more bytes at out + out_len: the written bytes are
 * dropped from the front first, and the buffer grows only past its size. */
static uint8_t *
out_reserve(struct conn *c, size_t need)
{
	size_t left = out_pending(c), cap;
	uint8_t *nb;

	if (c->out_off > 0 && c->out_cap - c->out_len < need) {
		memmove(c->out, c->out + c->out_off, left);
		c->out_off = 0;
		c->out_len = left;
	}
	if (c->out_cap - c->out_len >= need)
		return c->out + c->out_len;
	if (need > SIZE_MAX / 2 - left)
		return NULL;
	for (cap = c->out_cap > 0 ? c->out_cap : 4096; cap < left + need; )
		cap *= 2;
	if ((nb = realloc(c->out, cap)) == NULL)
		return NULL;
	c->out = nb;
	c->out_cap = cap;
	return c->out + c->out_len;
}

/* `n` bytes at out + out_len are sealed: they count as held from here. */
static void
out_commit(struct conn *c, size_t n)
{
	c->out_len += n;
	c->srv->held_out += n;
}

/* `n` bytes left the front of the output (written, or dropped). */
static void
out_consume(struct conn *c, size_t n)
{
	c->out_off += n;
	c->srv->held_out -= n;
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->out_cap > XR_CONN_OUT_KEEP) {
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	}
}

/* Put `c` on the flush list: its output leaves at the end of this loop
 * turn. Not while EV_WRITE waits for the socket to take more. */
static void
conn_want_flush(struct conn *c)
{
	xr_server *s = c->srv;

	if (c->flushing || c->wev_on)
		return;
	if (TAILQ_EMPTY(&s->flushq))
		event_active(&s->flush_ev, EV_TIMEOUT, 0);
	TAILQ_INSERT_TAIL(&s->flushq, c, flink);
	c->flushing = 1;
}

static void
conn_unflush(struct conn *c)
{
	if (!c->flushing)
		return;
	TAILQ_REMOVE(&c->srv->flushq, c, flink);
	c->flushing = 0;
}

/* Backpressure: stop reading while the output is over max_outbuf. */
static void
conn_check_outbuf(struct conn *c)
{
	if (!c->read_paused && out_pending(c) + c->pend_len >
	    c->srv->o.max_outbuf) {
		event_del(&c->rev);
		c->read_paused = 1;
	}
}

/* Seal `e` (numbered already) as a frame of its own into the output. */
static int
seal_frame(struct conn *c, const Execrpc__V1__Envelope *e)
{
	size_t need = xr_codec_sealed_len(e), len;
	uint8_t *p;

	if ((p = out_reserve(c, need)) == NULL)
		return XR_ERR_NOMEM;
	if (xr_codec_seal(c->srv->auth, XR_DIR_EXEC_TO_WEB, e, p, need,
	    &len) != XR_OK)
		return XR_ERR_INTERNAL;
	out_commit(c, len);
	return XR_OK;
}

/* Sign `len` bytes of a serialized envelope as a frame into the output. */
static int
seal_bytes(struct conn *c, const uint8_t *env, size_t len)
{
	size_t need = xr_frame_wire_len(len), hl;
	uint8_t tag[XR_TAG_LEN], *p;

	if ((p = out_reserve(c, need)) == NULL)
		return XR_ERR_NOMEM;
	hl = xr_frame_header(p, len);
	memcpy(p + hl, env, len);
	if (xr_auth_sign(c->srv->auth, XR_DIR_EXEC_TO_WEB, p + hl, len,
	    tag) != XR_OK)
		return XR_ERR_INTERNAL;
	xr_frame_trailer(p + hl + len, tag);
	out_commit(c, hl + len + XR_FRAME_TRAILER_LEN);
	return XR_OK;
}

/*
 * Move the pending envelopes to the output, signed: a lone one as the
 * frame it would have been (the reserved number is skipped), several as
 * one BATCH carrying the reserved number.
 */
static int
pend_flush(struct conn *c)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];
	int r;

	if (c->pend_n == 0)
		return XR_OK;
	if (c->pend_n == 1)
		r = seal_bytes(c, c->pend + c->pend_hl, c->pend_len - c->pend_hl);
	else {
		env_session(c, &e, XR_KIND_BATCH, nonce);
		e.sequence = c->pend_seq;
		e.payload.data = c->pend;
		e.payload.len = c->pend_len;
		r = seal_frame(c, &e);
	}
	c->srv->held_out -= c->pend_len;
	c->pend_n = 0;
	c->pend_len = 0;
	return r;
}

/*
 * A full BATCH leaves at once rather than at the end of the turn: a turn
 * that answers a whole window would otherwise hold every reply until its
 * last handler ran, and the two sides would take turns instead of working
 * at the same time. One send(2), nothing else: what the socket does not
 * take, and any error, is for the end of the turn (conn_write()).
 */
static void
send_early(struct conn *c)
{
	ssize_t n;

	if (c->wev_on || c->state == CONN_DEAD || out_pending(c) == 0)
		return;
	n = send(c->fd, c->out + c->out_off, out_pending(c),
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		out_consume(c, (size_t)n);
}

/*
 * Pack `e` unsigned into the pending Batch; the group goes out first when
 * it is full (the peer's max_batch, or XR_BATCH_MAX_PAYLOAD). Returns
 * XR_ERR_AGAIN when `e` is too large for any batch (it leaves alone).
 */
static int
pend_add(struct conn *c, Execrpc__V1__Envelope *e)
{
	uint64_t seq_max = c->sess.send_seq + 2;
	size_t len_max, env_len, item;
	int r;

	/* sized with the largest number it can get (a new reservation) */
	e->sequence = seq_max;
	len_max = xr_codec_packed_size(e);
	item = xr_batch_item_len(len_max);
	if (item > XR_BATCH_MAX_PAYLOAD)
		return XR_ERR_AGAIN;
	if (c->pend_n > 0 && (c->pend_n >= c->peer_batch ||
	    c->pend_len + item > XR_BATCH_MAX_PAYLOAD)) {
		if ((r = pend_flush(c)) != XR_OK)
			return r;
		send_early(c);
	}
	if (c->pend_n == 0)
		c->pend_seq = xr_session_next_seq(&c->sess);
	e->sequence = xr_session_next_seq(&c->sess);
	/* only the sequence's varint changed (both are non-zero): no second
	 * sizing pass; the pack below checks the length */
	env_len = len_max - xr_varint_len(seq_max) + xr_varint_len(e->sequence);
	item = xr_batch_item_header(c->pend + c->pend_len, env_len);
	if (c->pend_n == 0)
		c->pend_hl = item;
	if (xr_codec_pack(e, c->pend + c->pend_len + item) !=
	    env_len)
		return XR_ERR_INTERNAL;
	item += env_len;
	c->pend_len += item;
	c->pend_n++;
	c->srv->held_out += item;
	return XR_OK;
}

/*
 * Queue `e` for the end of this loop turn. To a client that advertised
 * max_batch, a `batchable` envelope joins the pending Batch (pend_add);
 * anything else is numbered and sealed now, after what is pending.
 */
static int
conn_send(struct conn *c, Execrpc__V1__Envelope *e, int batchable)
{
	int r = XR_ERR_AGAIN;

	if (batchable && c->peer_batch > 0)
		r = pend_add(c, e);
	if (r == XR_ERR_AGAIN) {
		if ((r = pend_flush(c)) != XR_OK)
			return r;
		e->sequence = xr_session_next_seq(&c->sess);
		r = seal_frame(c, e);
	}
	if (r != XR_OK)
		return r;
	held_note(c);
	conn_want_flush(c);
	conn_check_outbuf(c);
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
	if (conn_send(c, &e, 1) != XR_OK)
		xr_conn_close(c, 0);
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
	if (conn_send(c, &e, 1) != XR_OK)
		xr_conn_close(c, 0);
}

/* ---------- calls ---------- */

/* A protocol violation on an authenticated connection: counted once, and
 * the connection is closed. */
static void
conn_protocol_error(struct conn *c, const char *why)
{
	xr_debug("server: protocol error: %s", why);
	c->srv->st.protocol_errors++;
	xr_conn_close(c, 0);
}

static void
conn_call_complete(void *owner, uint64_t call_id, int code, const char *msg,
    const uint8_t *resp, size_t len)
{
	struct conn *c = owner;
	struct inflight *f = xr_hmap_remove(&c->calls, &call_id,
	    sizeof(call_id));

	/* the response replaces the charge (server.h) */
	if (f != NULL)
		(void)held_release(c, f);
	if (code == XR_STATUS_OK && len > c->srv->o.max_payload_bytes) {
		/* the limit binds both directions; the call fails, the
		 * connection stays (a memory channel answers the same) */
		code = XR_STATUS_RESOURCE_EXHAUSTED;
		msg = "response larger than max_payload_bytes";
		resp = NULL;
		len = 0;
	}
	if (code == XR_STATUS_OK)
		c->srv->st.calls_ok++;
	else
		c->srv->st.calls_failed++;
	send_response(c, call_id, code, msg, resp, len);
	if (c->state == CONN_OPEN && c->goaway_sent &&
	    xr_hmap_count(&c->calls) == 0)
		xr_conn_close(c, 1);
	else if (c->state == CONN_OPEN)
		conn_rearm(c);
}

static void
handle_request(struct conn *c, const Execrpc__V1__Envelope *e)
{
	xr_server *s = c->srv;
	size_t charge = e->payload.len + XR_ENVELOPE_OVERHEAD;
	struct inflight *f;
	xr_call *call;

	if (e->call_id == 0 ||
	    xr_hmap_find(&c->calls, &e->call_id, sizeof(e->call_id)) != NULL) {
		conn_protocol_error(c, e->call_id == 0 ? "call_id 0" :
		    "duplicate call_id of a call in flight");
		return;
	}
	if (e->method == NULL || e->method[0] == '\0') {
		conn_call_complete(c, e->call_id, XR_STATUS_INVALID_ARGUMENT,
		    "method missing: expected \"package.Service/Method\"",
		    NULL, 0);
		return;
	}
	if (s->draining || c->goaway_sent) {
		conn_call_complete(c, e->call_id, XR_STATUS_UNAVAILABLE,
		    "server draining", NULL, 0);
		return;
	}
	if (e->payload.len > s->o.max_payload_bytes) {
		/* inside the body limit, over the payload limit: what the
		 * client refuses locally, for a client that did not */
		conn_call_complete(c, e->call_id, XR_STATUS_INVALID_ARGUMENT,
		    "request larger than max_payload_bytes", NULL, 0);
		return;
	}
	if (xr_hmap_count(&c->calls) >= s->o.max_inflight) {
		conn_call_complete(c, e->call_id, XR_STATUS_RESOURCE_EXHAUSTED,
		    "too many calls in flight on this connection", NULL, 0);
		return;
	}
	if (!held_admits(c, charge)) {
		s->st.calls_over_budget++;
		conn_call_complete(c, e->call_id, XR_STATUS_RESOURCE_EXHAUSTED,
		    "over the bytes in flight this endpoint holds for a "
		    "connection (max_outbuf) or for all (max_held_bytes): "
		    "read the responses, or retry later", NULL, 0);
		return;
	}
	/* the slot is in the table before the call starts, so that a call
	 * completed synchronously releases its charge */
	if ((f = inflight_get(c)) == NULL ||
	    xr_hmap_insert(&c->calls, &e->call_id, sizeof(e->call_id), f) !=
	    XR_OK) {
		if (f != NULL)
			inflight_put(c, f);
		conn_call_complete(c, e->call_id, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory", NULL, 0);
		return;
	}
	held_charge(c, f, charge);
	s->st.calls_started++;
	call = xr_dispatch_start(s->reg, e->method, e->payload.data,
	    e->payload.len, e->timeout_ms, conn_call_complete, c, e->call_id);
	if (call == NULL)
		return;		/* completed: the slot is gone */
	if ((f = xr_hmap_find(&c->calls, &e->call_id,
	    sizeof(e->call_id))) != NULL)
		f->call = call;
	else			/* the connection closed meanwhile */
		xr_dispatch_abandon(call);
}

static void
handle_cancel(struct conn *c, uint64_t call_id)
{
	struct inflight *f = xr_hmap_remove(&c->calls, &call_id,
	    sizeof(call_id));

	if (f == NULL)
		return;		/* already answered: the CANCEL crossed it */
	c->srv->st.calls_cancelled++;
	xr_dispatch_abandon(held_release(c, f));
}

/* Off the pre-auth list (HELLO verified, or the connection closes). */
static void
preauth_leave(struct conn *c)
{
	TAILQ_REMOVE(&c->srv->preauth, c, plink);
	c->srv->st.connections_preauth--;
}

/* The client's Hello.max_batch, at most XR_BATCH_SEND (0 if the payload
 * does not say, or the pending area cannot be had: then it gets one frame
 * per envelope). */
static uint32_t
hello_max_batch(struct conn *c, const Execrpc__V1__Envelope *e)
{
	Execrpc__V1__Hello *h = execrpc__v1__hello__unpack(
	    xr_codec_allocator(c->srv->codec), e->payload.len,
	    e->payload.data);
	uint32_t n;

	if (h == NULL || h->max_batch == 0)
		return 0;
	n = h->max_batch < XR_BATCH_SEND ? h->max_batch : XR_BATCH_SEND;
	if (n > 1 && (c->pend = malloc(XR_BATCH_MAX_PAYLOAD)) == NULL)
		return 0;
	return n > 1 ? n : 0;
}

static void
handle_hello(struct conn *c, const Execrpc__V1__Envelope *he,
    const xr_env_view *v)
{
	Execrpc__V1__Envelope e;
	Execrpc__V1__HelloAck ack = EXECRPC__V1__HELLO_ACK__INIT;
	uint8_t nonce[XR_NONCE_LEN], ack_nonce[XR_NONCE_LEN], buf[32];
	uint32_t max_inflight = c->srv->o.max_inflight;

	if (xr_session_open(&c->sess) != XR_OK) {
		xr_conn_close(c, 0);
		return;
	}
	/* authenticated: the session's state from here on. max_inflight is
	 * at least 1 (defaults); a larger limit than the map takes is
	 * refused call by call by the reserve in handle_request() */
	preauth_leave(c);
	c->state = CONN_OPEN;
	(void)xr_hmap_init(&c->calls, max_inflight < XR_HMAP_MAX_ENTRIES ?
	    max_inflight : XR_HMAP_MAX_ENTRIES);
	memcpy(ack_nonce, v->nonce, XR_NONCE_LEN);
	env_session(c, &e, XR_KIND_HELLO_ACK, nonce);
	e.ack_nonce.data = ack_nonce;
	e.ack_nonce.len = XR_NONCE_LEN;
	ack.max_inflight = c->srv->o.max_inflight;
	ack.max_payload_bytes = c->srv->o.max_payload_bytes;
	ack.max_batch = XR_BATCH_MAX;
	e.payload.len = execrpc__v1__hello_ack__pack(&ack, buf);
	e.payload.data = buf;
	/* HELLO_ACK itself is never batched */
	if (conn_send(c, &e, 0) != XR_OK) {
		xr_conn_close(c, 0);
		return;
	}
	c->peer_batch = hello_max_batch(c, he);
	if (c->srv->draining) {
		/* a connection made while draining: told at once, closed once
		 * HELLO_ACK and GOAWAY are out (it has no call) */
		send_goaway(c);
		xr_conn_close(c, 1);
	}
}

static void
handle_ping(struct conn *c)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];

	env_session(c, &e, XR_KIND_PONG, nonce);
	if (conn_send(c, &e, 1) != XR_OK)
		xr_conn_close(c, 0);
}

static void handle_batch(struct conn *c, const Execrpc__V1__Envelope *e);

/* One accepted frame: route by kind. */
static void
conn_dispatch(struct conn *c, const Execrpc__V1__Envelope *e,
    const xr_env_view *v)
{
	switch (v->kind) {
	case XR_KIND_HELLO:
		handle_hello(c, e, v);
		break;
	case XR_KIND_BATCH:
		handle_batch(c, e);
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
		conn_protocol_error(c, "kind with no handler");
		break;
	}
}

/*
 * A BATCH that passed xr_rx_frame(): each envelope in it through
 * xr_rx_inner() (steps 3-6, decoded into the second codec while the first
 * holds the BATCH), then dispatched, in order. The first that fails is
 * counted and closes the connection; those before it were handled.
 */
static void
handle_batch(struct conn *c, const Execrpc__V1__Envelope *e)
{
	xr_server *s = c->srv;
	xr_env_decoder dec = xr_codec_decoder(s->icodec);
	xr_batch_iter it;
	const uint8_t *env;
	size_t len;
	xr_env_view v;
	/* every envelope of the frame arrived with it: each is judged
	 * against the frame's arrival time, one clock read per BATCH */
	uint64_t now = xr_now_ms();
	int r;

	xr_batch_iter_init(&it, e->payload.data, e->payload.len, XR_BATCH_MAX);
	while (c->state == CONN_OPEN) {
		if ((r = xr_batch_next(&it, &env, &len)) == 0)
			return;
		if (r < 0) {
			xr_rx_count(&s->rx, r);
			r = XR_ERR_MALFORMED;
		} else
			r = xr_rx_inner(&s->rx, &c->sess, env, len, now, &dec,
			    &v);
		if (r != XR_OK) {
			xr_debug("server: envelope in a batch rejected: %s",
			    xr_err_name(r));
			xr_conn_close(c, 0);
			return;
		}
		conn_dispatch(c, xr_codec_envelope(s->icodec), &v);
		xr_codec_reset(s->icodec);
	}
}

/* ---------- reading ---------- */

/*
 * The HELLO opened the session: read on with the session's body limit (the
 * reader was at XR_HELLO_MAX_BODY); its buffer held only the HELLO.
 */
static void
reader_to_session(struct conn *c)
{
	xr_reader_free(&c->rd);
	xr_reader_init_rx(&c->rd, &c->srv->rx);
}

/* One frame the reader completed: steps 2-6, then dispatch. Returns 0 to
 * go on, -1 once the connection is closed. */
static int
conn_frame(struct conn *c, const uint8_t *body, size_t len)
{
	xr_server *s = c->srv;
	xr_env_decoder dec = xr_codec_decoder(s->codec);
	xr_env_view v;
	int r, hello;

	/* 2-6. the receive pipeline, on the frame in place; BATCH is in the
	 * whitelist once the connection is open (server_priv.h) */
	s->rx.kind_mask = c->state == CONN_OPEN ? XR_SERVER_OPEN_KINDS :
	    XR_SERVER_KINDS;
	r = xr_rx_frame(&s->rx, &c->sess, body, len, xr_now_ms(), &dec, &v);
	if (r != XR_OK) {
		xr_debug("server: frame rejected: %s", xr_err_name(r));
		/* no answer to an unverified HELLO: the peer learns only that
		 * the connection closed */
		if (r == XR_ERR_BAD_SIGNATURE && c->state == CONN_HANDSHAKE)
			xr_server_handshake_refused(s);
		xr_conn_close(c, 0);
		return -1;
	}
	c->last_rx_ms = xr_mono_ms();
	c->frame_started_ms = 0;
	hello = c->state == CONN_HANDSHAKE;
	conn_dispatch(c, xr_codec_envelope(s->codec), &v);
	xr_codec_reset(s->codec);
	if (hello && c->state == CONN_OPEN)
		reader_to_session(c);
	return c->state == CONN_HANDSHAKE || c->state == CONN_OPEN ? 0 : -1;
}

/*
 * Hand `n` bytes just read to the reader, and every frame they complete to
 * conn_frame(), in order. A frame over the limit closes the connection.
 */
static void
conn_input(struct conn *c, const uint8_t *p, size_t n)
{
	xr_server *s = c->srv;
	size_t off = 0, used;

	for (;;) {
		const uint8_t *body;
		size_t len;
		int r;

		/* 1. the length, before a byte of the body is buffered */
		r = xr_reader_feed(&c->rd, p + off, n - off, &used, &body,
		    &len);
		off += used;
		if (r == XR_ERR_AGAIN)
			break;
		if (r != XR_OK) {
			xr_debug("server: frame rejected: %s", xr_err_name(r));
			/* the HELLO limit has no counter of its own */
			if (c->state == CONN_HANDSHAKE)
				xr_rx_count(&s->rx, r);
			xr_conn_close(c, 0);
			return;
		}
		if (conn_frame(c, body, len) != 0)
			return;
		if (c->rd.cap > XR_CONN_OUT_KEEP)
			xr_reader_free(&c->rd);	/* an outlier frame */
	}
	/* a frame begun and not complete runs against the frame timeout */
	if (c->rd.got == 0)
		c->frame_started_ms = 0;
	else if (c->frame_started_ms == 0)
		c->frame_started_ms = xr_mono_ms();
	conn_rearm(c);
}

/*
 * One read(2) into the server's read buffer: at most a HELLO frame while
 * in the handshake. Returns the bytes read, 0 on EOF, -1 with errno.
 */
static ssize_t
conn_read(struct conn *c)
{
	size_t room = c->state == CONN_HANDSHAKE ?
	    XR_FRAME_PREFIX_LEN + XR_HELLO_MAX_BODY : XR_CONN_READ_MAX;

	return read(c->fd, c->srv->rbuf, room);
}

/*
 * The read event: read once. A read that filled less than the room is not
 * repeated to see EAGAIN (a system call per round trip); the event is
 * level-triggered, so what remains wakes it again.
 */
static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n;

	(void)fd;
	(void)what;
	if (c->state != CONN_HANDSHAKE && c->state != CONN_OPEN)
		return;
	n = conn_read(c);
	if (n > 0)
		conn_input(c, c->srv->rbuf, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		xr_conn_close(c, 0);
}

/* ---------- writing ---------- */

/* What follows a write: EV_WRITE while output is left (removed once it
 * drains), reading resumed at half of max_outbuf, a flushing close
 * finished once the output is out. */
static void
conn_wrote(struct conn *c)
{
	size_t left = out_pending(c);

	if (left > 0 && !c->wev_on) {
		event_add(&c->wev, NULL);
		c->wev_on = 1;
	} else if (left == 0 && c->wev_on) {
		event_del(&c->wev);
		c->wev_on = 0;
	}
	if (c->state == CONN_CLOSING) {
		if (left == 0)
			xr_conn_close(c, 0);
		return;
	}
	if (c->read_paused && left <= c->srv->o.max_outbuf / 2) {
		c->read_paused = 0;
		event_add(&c->rev, NULL);
	}
}

/* One send(2) of everything pending. A peer gone is a close; EAGAIN and a
 * partial write leave the rest to EV_WRITE. */
static void
conn_write(struct conn *c)
{
	size_t left = out_pending(c);
	ssize_t n;

	if (c->state == CONN_DEAD)
		return;
	if (pend_flush(c) != XR_OK) {
		xr_conn_close(c, 0);
		return;
	}
	left = out_pending(c);
	if (left > 0) {
		n = send(c->fd, c->out + c->out_off, left, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			xr_conn_close(c, 0);
			return;
		}
		if (n > 0)
			out_consume(c, (size_t)n);
	}
	conn_wrote(c);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_write(arg);
}

void
xr_conn_flush_all(xr_server *s)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&s->flushq)) != NULL) {
		conn_unflush(c);
		conn_write(c);
	}
}

/* ---------- timers and teardown ---------- */

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	xr_debug("server: connection timed out");
	if (c->state == CONN_HANDSHAKE) {
		c->srv->st.handshake_timeouts++;
		xr_conn_reset(c);
	} else
		xr_conn_close(c, 0);
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
	else if (xr_hmap_count(&c->calls) == 0)
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

void
xr_conn_destroy(struct conn *c)
{
	TAILQ_REMOVE(&c->srv->dying, c, link);
	conn_unflush(c);
	event_del(&c->timer);
	event_del(&c->free_ev);
	event_del(&c->rev);
	event_del(&c->wev);
	if (out_pending(c) > 0)
		out_consume(c, out_pending(c));
	while (c->spare != NULL) {
		struct inflight *f = c->spare;

		c->spare = f->next;
		free(f);
	}
	free(c->out);
	free(c->pend);
	xr_reader_free(&c->rd);
	evutil_closesocket(c->fd);
	xr_hmap_fini(&c->calls);
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
	xr_conn_destroy(c);
	xr_server_conn_freed(s);
	xr_server_drain_check(s);
}

/* The memory is freed from a deferred callback, never inside the
 * connection's own callback. */
void
xr_conn_close(struct conn *c, int flush)
{
	xr_server *s = c->srv;

	if (c->state == CONN_DEAD)
		return;
	xr_debug("server: closing a connection (%zu calls in flight, %s)",
	    xr_hmap_count(&c->calls), flush ? "flushing" : "now");
	if (c->state != CONN_CLOSING) {
		xr_hmap_iter it;
		void *f;
		xr_call *call;

		xr_hmap_iter_init(&it, &c->calls);
		while (xr_hmap_iter_next(&it, NULL, NULL, &f)) {
			(void)xr_hmap_iter_remove(&it);
			s->st.calls_cancelled++;
			/* one being started is abandoned by handle_request */
			if ((call = held_release(c, f)) != NULL)
				xr_dispatch_abandon(call);
		}
		if (c->state == CONN_HANDSHAKE)
			preauth_leave(c);
		TAILQ_REMOVE(&s->conns, c, link);
		TAILQ_INSERT_TAIL(&s->dying, c, link);
		s->st.connections_open--;
	}
	if (flush && c->state != CONN_CLOSING && pend_flush(c) != XR_OK)
		flush = 0;
	if (flush && out_pending(c) > 0) {
		struct timeval tv = { s->o.frame_timeout_ms / 1000,
		    (suseconds_t)(s->o.frame_timeout_ms % 1000) * 1000 };

		c->state = CONN_CLOSING;
		event_del(&c->rev);
		conn_want_flush(c);
		/* a peer that never reads does not keep us: the flush has
		 * the frame timeout, then the connection is dropped */
		event_add(&c->timer, &tv);
		return;
	}
	/* what was not written is dropped; the socket closes when the
	 * connection is freed */
	c->state = CONN_DEAD;
	conn_unflush(c);
	event_del(&c->rev);
	if (c->wev_on)
		event_del(&c->wev);
	c->wev_on = 0;
	if (out_pending(c) > 0)
		out_consume(c, out_pending(c));
	s->held_out -= c->pend_len;
	c->pend_len = 0;
	c->pend_n = 0;
	event_active(&c->free_ev, EV_TIMEOUT, 0);
}

/* SO_LINGER with a zero timeout: close(2) sends RST. */
static void
fd_set_reset(evutil_socket_t fd)
{
	struct linger lg = { 1, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void
xr_conn_reset(struct conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	fd_set_reset(c->fd);
	xr_conn_close(c, 0);
}


/* ---------- accepting and draining ---------- */

/*
 * Read what a connection in its handshake has received, without waiting
 * for its read event: at most the largest HELLO frame. 0 (EOF) and -1
 * (nothing yet) are left to the read event.
 */
static void
conn_read_now(struct conn *c)
{
	ssize_t n = conn_read(c);

	if (n > 0)
		conn_input(c, c->srv->rbuf, (size_t)n);
}

int
xr_conn_accept(xr_server *s, evutil_socket_t fd)
{
	struct conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    evutil_make_socket_nonblocking(fd) != 0) {
		free(c);
		fd_set_reset(fd);
		evutil_closesocket(fd);
		return XR_ERR_NOMEM;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = s;
	c->fd = fd;
	/* the call table (c->calls, zeroed: empty) is made by handle_hello */
	c->state = CONN_HANDSHAKE;
	c->accepted_ms = c->last_rx_ms = xr_mono_ms();
	xr_reader_init(&c->rd, XR_HELLO_MAX_BODY);
	event_assign(&c->timer, s->base, -1, 0, conn_timer_cb, c);
	event_assign(&c->free_ev, s->base, -1, 0, conn_free_cb, c);
	event_assign(&c->rev, s->base, fd, EV_READ | EV_PERSIST, conn_read_cb,
	    c);
	event_assign(&c->wev, s->base, fd, EV_WRITE | EV_PERSIST,
	    conn_write_cb, c);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	TAILQ_INSERT_TAIL(&s->preauth, c, plink);
	s->st.connections_accepted++;
	s->st.connections_open++;
	s->st.connections_preauth++;
	event_add(&c->rev, NULL);
	conn_rearm(c);
	/* a client sends HELLO as soon as it is connected: it is usually in
	 * by now. Reading it here takes the connection off the pre-auth list
	 * before the next accept could evict it. */
	conn_read_now(c);
	return XR_OK;
}

void
xr_conn_evict_oldest(xr_server *s)
{
	struct conn *c = TAILQ_FIRST(&s->preauth);

	/* one whose HELLO came in since its last read event is not evicted
	 * for the lack of it: it leaves the list here */
	conn_read_now(c);
	if (c != TAILQ_FIRST(&s->preauth))
		return;
	s->st.preauth_evictions++;
	xr_conn_reset(c);
}

void
xr_conn_drain(struct conn *c)
{
	/* one in its handshake is left to it: a valid HELLO gets HELLO_ACK
	 * and GOAWAY (handle_hello), anything else closes it, and so does
	 * the handshake timeout. Closing it now would look to its client
	 * like a refused handshake (docs/protocol.md). */
	if (c->state == CONN_OPEN) {
		send_goaway(c);
		if (xr_hmap_count(&c->calls) == 0)
			xr_conn_close(c, 1);
	}
}
