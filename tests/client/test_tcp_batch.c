/*
 * tests/client/test_tcp_batch.c — BATCH frames on the client's tcp_local
 * channel (docs/design.md section 2, "Batches"), against a fake execution
 * server written here with the server-side core (protobuf-c codec,
 * xr_rx_frame then xr_rx_inner per envelope, core/batch.h), on a loopback
 * listener driven by the same event_base as the client.
 *
 * Proves: the client advertises Hello.max_batch = XR_BATCH_MAX; to a peer
 * that advertises max_batch the calls started in one loop turn leave in
 * BATCH frames (at most max_batch envelopes and XR_BATCH_MAX_PAYLOAD bytes
 * each, a big envelope alone), every envelope verified by the peer and
 * answered exactly; to a peer that advertises 0 only single frames; a BATCH
 * of responses completes each call; a BATCH whose second envelope is stale,
 * an inner HELLO_ACK or BATCH, expired, or whose payload is malformed after
 * one good item: the envelope before it is handled, the reject is counted
 * once in exactly its counter, the connection closes, the pending calls
 * (the rejected envelope's included) fail with UNAVAILABLE.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "execrpc/client.h"

#include "batch.h"
#include "codec.h"
#include "frame.h"
#include "keys.h"
#include "replay.h"
#include "rx.h"

#define MAX_HELD 8
#define METHOD "echo.v1.Echo/Say"
#define BIG 8192

/* ---- the fake server ----------------------------------------------------- */

struct srv {
	struct event_base *base;
	xr_auth *auth;
	int lfd;
	struct event *lev;
	uint16_t port;
	struct bufferevent *bev;
	xr_rx rx;
	xr_session sess;
	xr_nonce_cache *nonces;
	xr_codec *codec;	/* frames */
	xr_codec *inner;	/* envelopes inside a BATCH */
	/* behaviour */
	int hold;		/* keep request call ids instead of echoing */
	uint32_t ack_max_batch;
	/* what it saw */
	uint32_t hello_max_batch;
	int frames;		/* after HELLO: single frames */
	int batches;		/* BATCH frames */
	int batch_envs;		/* envelopes inside them */
	int requests, eof, rejects;
	uint64_t held[MAX_HELD];
	int nheld;
};

static void
srv_drop(struct srv *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
}

static void
srv_send(struct srv *s, Execrpc__V1__Envelope *e)
{
	size_t cap = xr_codec_sealed_len(e), n;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	assert_int_equal(xr_codec_seal(s->auth, XR_DIR_EXEC_TO_WEB, e, buf,
	    cap, &n), XR_OK);
	assert_non_null(s->bev);
	bufferevent_write(s->bev, buf, n);
	free(buf);
}

/* A session envelope of `kind` numbered `seq`. */
static void
srv_env(struct srv *s, Execrpc__V1__Envelope *e, uint32_t kind,
    uint8_t nonce[XR_NONCE_LEN], uint64_t seq)
{
	assert_int_equal(xr_codec_env_init(e, kind, nonce), XR_OK);
	e->session_id.data = s->sess.id;
	e->session_id.len = XR_SESSION_ID_LEN;
	e->sequence = seq;
}

/* A RESPONSE OK to `call_id` echoing `p` (the status lives in `st`). */
static void
srv_resp_env(struct srv *s, Execrpc__V1__Envelope *e, Execrpc__V1__Status *st,
    uint8_t nonce[XR_NONCE_LEN], uint64_t seq, uint64_t call_id,
    const uint8_t *p, size_t len)
{
	Execrpc__V1__Status init = EXECRPC__V1__STATUS__INIT;

	srv_env(s, e, XR_KIND_RESPONSE, nonce, seq);
	*st = init;
	st->code = (Execrpc__V1__StatusCode)XR_STATUS_OK;
	st->message = (char *)"";
	e->status = st;
	e->call_id = call_id;
	e->payload.data = (uint8_t *)p;
	e->payload.len = len;
}

/* Append `e`, unsigned, as one item of a Batch payload. */
static void
batch_add(uint8_t *buf, size_t *bl, const Execrpc__V1__Envelope *e)
{
	size_t n = execrpc__v1__envelope__get_packed_size(e);

	assert_true(*bl + n + 6 <= BIG);
	*bl += xr_batch_item_header(buf + *bl, n);
	assert_int_equal(execrpc__v1__envelope__pack(e, buf + *bl), n);
	*bl += n;
}

/* Send a BATCH numbered `seq` with the payload `p`. */
static void
srv_send_batch(struct srv *s, uint64_t seq, const uint8_t *p, size_t len)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];

	srv_env(s, &e, XR_KIND_BATCH, nonce, seq);
	e.payload.data = (uint8_t *)p;
	e.payload.len = len;
	srv_send(s, &e);
}

static void
srv_envelope(struct srv *s, const Execrpc__V1__Envelope *e)
{
	Execrpc__V1__Envelope r;
	Execrpc__V1__Status st;
	uint8_t nonce[XR_NONCE_LEN];

	if (e->kind != EXECRPC__V1__KIND__KIND_REQUEST)
		return;
	s->requests++;
	if (s->hold) {
		assert_true(s->nheld < MAX_HELD);
		s->held[s->nheld++] = e->call_id;
		return;
	}
	srv_resp_env(s, &r, &st, nonce, xr_session_next_seq(&s->sess),
	    e->call_id, e->payload.data, e->payload.len);
	srv_send(s, &r);
}

static void
srv_hello(struct srv *s, const Execrpc__V1__Envelope *e)
{
	Execrpc__V1__Hello *h;
	Execrpc__V1__Envelope a;
	Execrpc__V1__HelloAck ack = EXECRPC__V1__HELLO_ACK__INIT;
	uint8_t nonce[XR_NONCE_LEN], ackbuf[32];

	h = execrpc__v1__hello__unpack(NULL, e->payload.len, e->payload.data);
	assert_non_null(h);
	s->hello_max_batch = h->max_batch;
	execrpc__v1__hello__free_unpacked(h, NULL);
	assert_int_equal(xr_session_open(&s->sess), XR_OK);
	srv_env(s, &a, XR_KIND_HELLO_ACK, nonce, xr_session_next_seq(&s->sess));
	a.ack_nonce = e->nonce;
	ack.max_inflight = 1024;
	ack.max_payload_bytes = 1048576;
	ack.max_batch = s->ack_max_batch;
	a.payload.len = execrpc__v1__hello_ack__pack(&ack, ackbuf);
	a.payload.data = ackbuf;
	srv_send(s, &a);
}

/* Every envelope of a BATCH through xr_rx_inner, as the endpoint does. */
static int
srv_batch(struct srv *s, const Execrpc__V1__Envelope *b)
{
	xr_env_decoder dec = xr_codec_decoder(s->inner);
	xr_env_view view;
	xr_batch_iter it;
	const uint8_t *env;
	size_t len;
	int r;

	s->batches++;
	xr_batch_iter_init(&it, b->payload.data, b->payload.len,
	    s->ack_max_batch);
	while ((r = xr_batch_next(&it, &env, &len)) == 1) {
		if (xr_rx_inner(&s->rx, &s->sess, env, len, xr_now_ms(), &dec,
		    &view) != XR_OK)
			return -1;
		s->batch_envs++;
		srv_envelope(s, xr_codec_envelope(s->inner));
		xr_codec_reset(s->inner);
	}
	return r == 0 ? 0 : -1;
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	xr_env_decoder dec = xr_codec_decoder(s->codec);
	const Execrpc__V1__Envelope *e;
	xr_env_view view;
	uint8_t pfx[4];
	uint32_t len;
	uint8_t *p;
	int bad = 0;

	while (s->bev != NULL &&
	    evbuffer_copyout(in, pfx, sizeof(pfx)) == (ev_ssize_t)sizeof(pfx)) {
		len = xr_frame_get_len(pfx);
		assert_int_equal(xr_rx_check_len(&s->rx, len), XR_OK);
		if (evbuffer_get_length(in) < 4 + (size_t)len)
			return;
		p = evbuffer_pullup(in, 4 + (ev_ssize_t)len);
		if (xr_rx_frame(&s->rx, &s->sess, p + 4, len, xr_now_ms(), &dec,
		    &view) != XR_OK) {
			s->rejects++;
			srv_drop(s);
			return;
		}
		e = xr_codec_envelope(s->codec);
		if (view.kind == XR_KIND_HELLO)
			srv_hello(s, e);
		else if (view.kind == XR_KIND_BATCH)
			bad = srv_batch(s, e);
		else {
			s->frames++;
			srv_envelope(s, e);
		}
		xr_codec_reset(s->codec);
		if (bad) {
			s->rejects++;
			srv_drop(s);
			return;
		}
		if (s->bev != NULL)
			evbuffer_drain(in, 4 + (size_t)len);
	}
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct srv *s = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		s->eof = 1;
		srv_drop(s);
	}
}

static void
srv_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct srv *s = arg;
	int fd;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	assert_null(s->bev);	/* one connection per test */
	memset(&s->sess, 0, sizeof(s->sess));
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(s->bev);
	bufferevent_setcb(s->bev, srv_read_cb, NULL, srv_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
srv_init(struct srv *s, struct event_base *base, const xr_keyset *ks,
    uint32_t max_batch)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->base = base;
	s->ack_max_batch = max_batch;
	assert_non_null(s->auth = xr_auth_new(ks));
	assert_non_null(s->nonces = xr_nonce_cache_new(64, 30000));
	assert_non_null(s->codec = xr_codec_new());
	assert_non_null(s->inner = xr_codec_new());
	s->rx.auth = s->auth;
	s->rx.dir = XR_DIR_WEB_TO_EXEC;
	s->rx.kind_mask = XR_KIND_BIT(XR_KIND_HELLO) |
	    XR_KIND_BIT(XR_KIND_REQUEST) | XR_KIND_BIT(XR_KIND_CANCEL) |
	    XR_KIND_BIT(XR_KIND_PING);
	if (max_batch > 0)
		s->rx.kind_mask |= XR_KIND_BIT(XR_KIND_BATCH);
	s->rx.open_kind_mask = XR_KIND_BIT(XR_KIND_HELLO);
	s->rx.ttl_ms = 30000;
	s->rx.max_body = xr_frame_max_body(1048576);
	s->rx.nonces = s->nonces;

	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sin, &sl), 0);
	s->port = ntohs(sin.sin_port);
	s->lev = event_new(base, s->lfd, EV_READ | EV_PERSIST, srv_accept_cb, s);
	assert_non_null(s->lev);
	event_add(s->lev, NULL);
}

static void
srv_fini(struct srv *s)
{
	srv_drop(s);
	event_free(s->lev);
	close(s->lfd);
	xr_codec_free(s->codec);
	xr_codec_free(s->inner);
	xr_nonce_cache_free(s->nonces);
	xr_auth_free(s->auth);
}

/* ---- fixture ------------------------------------------------------------- */

struct fx {
	struct event_base *base;
	xr_keyset ks;
	struct srv srv;
	xr_channel *ch;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t master[XR_MASTER_LEN];

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	assert_int_equal(xr_keys_generate_master(master), XR_OK);
	assert_int_equal(xr_keys_derive(master, sizeof(master),
	    XR_KDF_HKDF_SHA256, &f->ks), XR_OK);
	xr_wipe(master, sizeof(master));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	xr_channel_free(f->ch);
	srv_fini(&f->srv);
	xr_keyset_wipe(&f->ks);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Start the fake server advertising `max_batch`, connect, wait for READY. */
static void
open_ready(struct fx *f, uint32_t max_batch)
{
	xr_channel_opts o;
	int err = -99;

	srv_init(&f->srv, f->base, &f->ks, max_batch);
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = f->srv.port;
	o.client_name = "batch-client";
	f->ch = xr_channel_new_tcp(f->base, &o, &f->ks, &err);
	assert_non_null(f->ch);
	assert_int_equal(err, XR_OK);
	assert_int_equal(xr_channel_wait_ready(f->ch, 2000), XR_OK);
	assert_int_equal(f->srv.hello_max_batch, XR_BATCH_MAX);
}

static void
run_until(struct event_base *base, const int *counter, int want,
    uint32_t timeout_ms)
{
	uint64_t end = xr_mono_ms() + timeout_ms;

	while (*counter < want && xr_mono_ms() < end) {
		struct timeval tv = { 0, 5000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

struct res {
	int n;
	int code;
	uint8_t resp[BIG];
	size_t resp_len;
	int *done;		/* shared completion counter */
};

static void
res_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct res *r = arg;

	r->n++;
	(*r->done)++;
	r->code = st->code;
	r->resp_len = len;
	if (resp != NULL && len <= sizeof(r->resp))
		memcpy(r->resp, resp, len);
}

/* Start `n` calls in one go (before the loop runs), the i-th with a payload
 * of len[i] bytes of 'a' + i, and run until all completed. */
static void
calls_in_one_turn(struct fx *f, int n, const size_t *len, struct res *r,
    uint8_t (*p)[BIG])
{
	int done = 0;

	for (int i = 0; i < n; i++) {
		memset(p[i], 'a' + i % 26, len[i]);
		p[i][0] = (uint8_t)i;
		memset(&r[i], 0, sizeof(r[i]));
		r[i].done = &done;
		assert_non_null(xr_call_start(f->ch, METHOD, p[i], len[i],
		    5000, res_cb, &r[i]));
	}
	run_until(f->base, &done, n, 5000);
	assert_int_equal(done, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(r[i].n, 1);
		assert_int_equal(r[i].code, XR_STATUS_OK);
		assert_int_equal(r[i].resp_len, len[i]);
		assert_memory_equal(r[i].resp, p[i], len[i]);
	}
}

static struct res res_arr[64];
static uint8_t pay_arr[64][BIG];

static void
assert_no_rejects(struct fx *f)
{
	xr_channel_stats st;

	xr_channel_stats_get(f->ch, &st);
	for (int i = 0; i < XR_CHANNEL_REJECT_KINDS; i++)
		assert_int_equal(st.rejects[i], 0);
	assert_int_equal(f->srv.rejects, 0);
}

/* ---- the client sends BATCH frames --------------------------------------- */

/* 14 calls in one loop turn to a peer taking 64: one BATCH, 14 envelopes,
 * every reply exact; 40 calls: XR_BATCH_SEND (16) a BATCH, 16 + 16 + 8. */
static void
test_sends_one_batch(void **state)
{
	struct fx *f = *state;
	size_t len[40];

	open_ready(f, XR_BATCH_MAX);
	for (int i = 0; i < 40; i++)
		len[i] = 8 + (size_t)i;
	calls_in_one_turn(f, 14, len, res_arr, pay_arr);
	assert_int_equal(f->srv.batches, 1);
	assert_int_equal(f->srv.batch_envs, 14);
	calls_in_one_turn(f, 40, len, res_arr, pay_arr);
	assert_int_equal(f->srv.batches, 1 + 3);
	assert_int_equal(f->srv.batch_envs, 14 + 40);
	assert_int_equal(f->srv.frames, 0);
	assert_int_equal(f->srv.requests, 14 + 40);
	assert_no_rejects(f);
}

/* A peer taking 4: 9 calls leave as 4 + 4 in BATCHes and the ninth alone. */
static void
test_batch_max_count(void **state)
{
	struct fx *f = *state;
	size_t len[9];

	open_ready(f, 4);
	for (int i = 0; i < 9; i++)
		len[i] = 16;
	calls_in_one_turn(f, 9, len, res_arr, pay_arr);
	assert_int_equal(f->srv.batches, 2);
	assert_int_equal(f->srv.batch_envs, 8);
	assert_int_equal(f->srv.frames, 1);
	assert_no_rejects(f);
}

/* A full group leaves at once, not at the end of the turn: to a peer taking
 * 4, the fifth call started (before the loop runs) puts the first BATCH on
 * the socket; the fifth stays for the turn's flush; 4 + 1, every reply
 * exact. */
static void
test_full_batch_leaves_at_once(void **state)
{
	struct fx *f = *state;
	int done = 0, queued = 0;
	uint8_t pay[16];
	struct pollfd pfd = { .events = POLLIN };

	open_ready(f, 4);
	pfd.fd = bufferevent_getfd(f->srv.bev);
	memset(pay, 'x', sizeof(pay));
	for (int i = 0; i < 5; i++) {
		memset(&res_arr[i], 0, sizeof(res_arr[i]));
		res_arr[i].done = &done;
		pay[0] = (uint8_t)i;
		memcpy(pay_arr[i], pay, sizeof(pay));
		assert_non_null(xr_call_start(f->ch, METHOD, pay, sizeof(pay),
		    5000, res_cb, &res_arr[i]));
		/* the loop does not run here: nothing else can send */
		(void)poll(&pfd, 1, i < 4 ? 0 : 500);
		assert_int_equal(ioctl(pfd.fd, FIONREAD, &queued), 0);
		if (i < 4)	/* the group is open: nothing written yet */
			assert_int_equal(queued, 0);
		else		/* the fifth opened a group: the first left */
			assert_true(queued > 0);
	}
	run_until(f->base, &done, 5, 5000);
	assert_int_equal(done, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(res_arr[i].code, XR_STATUS_OK);
		assert_int_equal(res_arr[i].resp_len, sizeof(pay));
		assert_memory_equal(res_arr[i].resp, pay_arr[i], sizeof(pay));
	}
	assert_int_equal(f->srv.batches, 1);
	assert_int_equal(f->srv.batch_envs, 4);
	assert_int_equal(f->srv.frames, 1);
	assert_no_rejects(f);
}

/* XR_BATCH_MAX_PAYLOAD: 1500-byte requests go two to a BATCH, the third
 * opens a group of its own (alone), a 4000-byte one always leaves alone,
 * and the small one after it opens a new group (alone at the end). */
static void
test_batch_max_payload(void **state)
{
	struct fx *f = *state;
	const size_t len[5] = { 1500, 1500, 1500, 4000, 10 };

	open_ready(f, XR_BATCH_MAX);
	calls_in_one_turn(f, 5, len, res_arr, pay_arr);
	assert_int_equal(f->srv.batches, 1);
	assert_int_equal(f->srv.batch_envs, 2);
	assert_int_equal(f->srv.frames, 3);
	assert_no_rejects(f);
}

/* A peer that advertises 0: single frames only. */
static void
test_no_batch_to_zero(void **state)
{
	struct fx *f = *state;
	size_t len[24];

	open_ready(f, 0);
	for (int i = 0; i < 24; i++)
		len[i] = 8;
	calls_in_one_turn(f, 24, len, res_arr, pay_arr);
	assert_int_equal(f->srv.batches, 0);
	assert_int_equal(f->srv.frames, 24);
	assert_no_rejects(f);
}

/* ---- the client receives BATCH frames ------------------------------------ */

static int held_done;

static void
start_held(struct fx *f, int n)
{
	held_done = 0;
	f->srv.hold = 1;
	for (int i = 0; i < n; i++) {
		memset(&res_arr[i], 0, sizeof(res_arr[i]));
		res_arr[i].done = &held_done;
		assert_non_null(xr_call_start(f->ch, METHOD,
		    (const uint8_t *)"held", 4, 10000, res_cb, &res_arr[i]));
	}
	run_until(f->base, &f->srv.nheld, n, 2000);
	assert_int_equal(f->srv.nheld, n);
}

/* Five responses in one BATCH: five exact completions, nothing rejected. */
static void
test_receives_batch(void **state)
{
	struct fx *f = *state;
	Execrpc__V1__Envelope e[5];
	Execrpc__V1__Status st[5];
	uint8_t nonce[5][XR_NONCE_LEN], buf[BIG], pl[5][4];
	size_t bl = 0;
	uint64_t bseq;

	open_ready(f, XR_BATCH_MAX);
	start_held(f, 5);
	bseq = xr_session_next_seq(&f->srv.sess);
	for (int i = 0; i < 5; i++) {
		memcpy(pl[i], "rsp", 3);
		pl[i][3] = (uint8_t)('0' + i);
		srv_resp_env(&f->srv, &e[i], &st[i], nonce[i],
		    xr_session_next_seq(&f->srv.sess), f->srv.held[i], pl[i], 4);
		batch_add(buf, &bl, &e[i]);
	}
	srv_send_batch(&f->srv, bseq, buf, bl);
	run_until(f->base, &held_done, 5, 2000);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(res_arr[i].n, 1);
		assert_int_equal(res_arr[i].code, XR_STATUS_OK);
		assert_int_equal(res_arr[i].resp_len, 4);
		assert_memory_equal(res_arr[i].resp, pl[i], 4);
	}
	assert_true(xr_channel_is_usable(f->ch));
	assert_no_rejects(f);
}

enum bad { BAD_STALE, BAD_HELLO_ACK, BAD_INNER_BATCH, BAD_EXPIRED,
	BAD_MALFORMED };

/*
 * Three held calls; a BATCH whose first envelope answers call 0, whose
 * second is bad in the way `how` says (it would answer call 1), and whose
 * third answers call 2. Call 0 completes OK; the reject is counted once in
 * `counter`; calls 1 and 2 fail with UNAVAILABLE at once; the connection
 * is closed.
 */
static void
bad_batch(void **state, enum bad how, int counter)
{
	struct fx *f = *state;
	Execrpc__V1__Envelope e[3];
	Execrpc__V1__Status st[3];
	uint8_t nonce[3][XR_NONCE_LEN], buf[BIG], inner[64];
	size_t bl = 0, il = 0;
	uint64_t bseq, s0;
	xr_channel_stats cs;

	open_ready(f, XR_BATCH_MAX);
	start_held(f, 3);
	bseq = xr_session_next_seq(&f->srv.sess);
	s0 = xr_session_next_seq(&f->srv.sess);
	srv_resp_env(&f->srv, &e[0], &st[0], nonce[0], s0, f->srv.held[0],
	    (const uint8_t *)"ok", 2);
	batch_add(buf, &bl, &e[0]);
	srv_resp_env(&f->srv, &e[1], &st[1], nonce[1],
	    xr_session_next_seq(&f->srv.sess), f->srv.held[1],
	    (const uint8_t *)"no", 2);
	switch (how) {
	case BAD_STALE:
		e[1].sequence = s0;	/* not above the one before it */
		break;
	case BAD_HELLO_ACK:
		e[1].kind = (Execrpc__V1__Kind)XR_KIND_HELLO_ACK;
		e[1].status = NULL;
		break;
	case BAD_INNER_BATCH:
		batch_add(inner, &il, &e[0]);
		e[1].kind = (Execrpc__V1__Kind)XR_KIND_BATCH;
		e[1].status = NULL;
		e[1].payload.data = inner;
		e[1].payload.len = il;
		break;
	case BAD_EXPIRED:
		e[1].ts_ms = xr_now_ms() - 3600u * 1000u;
		break;
	case BAD_MALFORMED:
		break;
	}
	if (how == BAD_MALFORMED) {
		/* an item of field 2 where field 1 is the only one */
		buf[bl++] = 0x12;
		buf[bl++] = 0x01;
		buf[bl++] = 0x00;
	} else
		batch_add(buf, &bl, &e[1]);
	srv_resp_env(&f->srv, &e[2], &st[2], nonce[2],
	    xr_session_next_seq(&f->srv.sess), f->srv.held[2],
	    (const uint8_t *)"no", 2);
	batch_add(buf, &bl, &e[2]);
	srv_send_batch(&f->srv, bseq, buf, bl);
	run_until(f->base, &held_done, 3, 3000);

	assert_int_equal(res_arr[0].n, 1);
	assert_int_equal(res_arr[0].code, XR_STATUS_OK);
	assert_int_equal(res_arr[0].resp_len, 2);
	assert_memory_equal(res_arr[0].resp, "ok", 2);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(res_arr[i].n, 1);
		assert_int_equal(res_arr[i].code, XR_STATUS_UNAVAILABLE);
		assert_int_equal(res_arr[i].resp_len, 0);
	}
	xr_channel_stats_get(f->ch, &cs);
	for (int i = 0; i < XR_CHANNEL_REJECT_KINDS; i++)
		assert_int_equal(cs.rejects[i], i == counter ? 1 : 0);
	assert_int_equal(cs.calls_ok, 1);
	assert_int_equal(cs.calls_failed, 2);
	assert_false(xr_channel_is_usable(f->ch));
	assert_int_equal(xr_channel_wait_ready(f->ch, 10), XR_ERR_CLOSED);
	run_until(f->base, &f->srv.eof, 1, 2000);
	assert_int_equal(f->srv.eof, 1);
}

static void
test_batch_stale_sequence(void **state)
{
	bad_batch(state, BAD_STALE, XR_REJECT_REPLAY);
}

static void
test_batch_inner_hello_ack(void **state)
{
	bad_batch(state, BAD_HELLO_ACK, XR_REJECT_KIND_NOT_ALLOWED);
}

static void
test_batch_inner_batch(void **state)
{
	bad_batch(state, BAD_INNER_BATCH, XR_REJECT_KIND_NOT_ALLOWED);
}

static void
test_batch_expired(void **state)
{
	bad_batch(state, BAD_EXPIRED, XR_REJECT_EXPIRED);
}

static void
test_batch_malformed_payload(void **state)
{
	bad_batch(state, BAD_MALFORMED, XR_REJECT_MALFORMED);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_sends_one_batch),
		T(test_batch_max_count),
		T(test_full_batch_leaves_at_once),
		T(test_batch_max_payload),
		T(test_no_batch_to_zero),
		T(test_receives_batch),
		T(test_batch_stale_sequence),
		T(test_batch_inner_hello_ack),
		T(test_batch_inner_batch),
		T(test_batch_expired),
		T(test_batch_malformed_payload),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
