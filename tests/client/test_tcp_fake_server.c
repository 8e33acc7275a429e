/*
 * tests/client/test_tcp_fake_server.c — client/tcp.c against a minimal fake
 * execution server written here with the server-side core (protobuf-c
 * codec, xr_rx_frame with xr_codec_decoder), on a loopback listener driven
 * by the same event_base as the client.
 *
 * Proves: the HELLO handshake, a call round trip, calls queued before the
 * handshake, out-of-order responses matched by call_id, a RESPONSE with a
 * bad tag (or replayed, or of a kind the client does not take) closing the
 * channel and failing every pending call with UNAVAILABLE at once, a server
 * close failing them all before their deadlines, GOAWAY refusing new calls
 * while pending ones complete, an oversized length prefix closing the
 * channel and counted, deadlines and cancels telling the server, local
 * limits (a response over max_payload_bytes fails only its own call), and
 * the loopback-only rule.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "execrpc/client.h"

#include "codec.h"
#include "frame.h"
#include "keys.h"
#include "replay.h"
#include "rx.h"

#define MAX_HELD 16
#define METHOD "echo.v1.Echo/Say"

/* ---- the fake server ----------------------------------------------------- */

struct held {
	uint64_t call_id;
	uint32_t timeout_ms;
	char method[128];
	uint8_t payload[64];
	size_t len;
};

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
	xr_codec *codec;
	/* behaviour */
	int hold;		/* keep requests instead of echoing them */
	int no_ack;		/* never answer HELLO */
	uint32_t ack_max_inflight, ack_max_payload;
	/* what it saw */
	int hellos, requests, cancels, eof, rejects;
	char client_name[64];
	uint64_t cancel_ids[MAX_HELD];
	struct held held[MAX_HELD];
	int nheld;
	uint8_t *last_frame;	/* the last frame sent, for replays */
	size_t last_len;
};

static void
srv_drop(struct srv *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
}

/* Seal and send one envelope; `corrupt` flips a tag bit. */
static void
srv_send(struct srv *s, Execrpc__V1__Envelope *e, int corrupt)
{
	size_t cap = xr_codec_sealed_len(e), n;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	assert_int_equal(xr_codec_seal(s->auth, XR_DIR_EXEC_TO_WEB, e, buf,
	    cap, &n), XR_OK);
	if (corrupt)
		buf[n - 1] ^= 0x01;
	assert_non_null(s->bev);
	bufferevent_write(s->bev, buf, n);
	free(s->last_frame);
	s->last_frame = buf;
	s->last_len = n;
}

static void
srv_env(struct srv *s, Execrpc__V1__Envelope *e, uint32_t kind,
    uint8_t nonce[XR_NONCE_LEN])
{
	assert_int_equal(xr_codec_env_init(e, kind, nonce), XR_OK);
	e->session_id.data = s->sess.id;
	e->session_id.len = XR_SESSION_ID_LEN;
	e->sequence = xr_session_next_seq(&s->sess);
}

static void
srv_respond(struct srv *s, uint64_t call_id, int code, const char *msg,
    const uint8_t *p, size_t len, int corrupt)
{
	Execrpc__V1__Envelope e;
	Execrpc__V1__Status st = EXECRPC__V1__STATUS__INIT;
	uint8_t nonce[XR_NONCE_LEN];

	srv_env(s, &e, XR_KIND_RESPONSE, nonce);
	e.call_id = call_id;
	st.code = (Execrpc__V1__StatusCode)code;
	st.message = (char *)msg;
	e.status = &st;
	e.payload.data = (uint8_t *)p;
	e.payload.len = len;
	srv_send(s, &e, corrupt);
}

static void
srv_simple(struct srv *s, uint32_t kind)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];

	srv_env(s, &e, kind, nonce);
	srv_send(s, &e, 0);
}

static void
srv_frame(struct srv *s, const Execrpc__V1__Envelope *e)
{
	const ProtobufCBinaryData *pl = &e->payload;

	switch (e->kind) {
	case EXECRPC__V1__KIND__KIND_HELLO: {
		Execrpc__V1__Hello *h;
		Execrpc__V1__Envelope a;
		Execrpc__V1__HelloAck ack = EXECRPC__V1__HELLO_ACK__INIT;
		uint8_t nonce[XR_NONCE_LEN], ackbuf[32];

		s->hellos++;
		h = execrpc__v1__hello__unpack(NULL, pl->len, pl->data);
		assert_non_null(h);
		snprintf(s->client_name, sizeof(s->client_name), "%s",
		    h->client_name);
		execrpc__v1__hello__free_unpacked(h, NULL);
		assert_int_equal(e->sequence, 0);
		assert_int_equal(xr_session_open(&s->sess), XR_OK);
		if (s->no_ack)
			return;
		srv_env(s, &a, XR_KIND_HELLO_ACK, nonce);
		a.ack_nonce = e->nonce;
		ack.max_inflight = s->ack_max_inflight;
		ack.max_payload_bytes = s->ack_max_payload;
		a.payload.len = execrpc__v1__hello_ack__pack(&ack, ackbuf);
		a.payload.data = ackbuf;
		srv_send(s, &a, 0);
		break;
	}
	case EXECRPC__V1__KIND__KIND_REQUEST:
		s->requests++;
		if (!s->hold) {
			srv_respond(s, e->call_id, XR_STATUS_OK, "", pl->data,
			    pl->len, 0);
			break;
		}
		assert_true(s->nheld < MAX_HELD);
		assert_true(pl->len <= sizeof(s->held[0].payload));
		s->held[s->nheld].call_id = e->call_id;
		s->held[s->nheld].timeout_ms = e->timeout_ms;
		snprintf(s->held[s->nheld].method,
		    sizeof(s->held[0].method), "%s", e->method);
		if (pl->len > 0)
			memcpy(s->held[s->nheld].payload, pl->data, pl->len);
		s->held[s->nheld].len = pl->len;
		s->nheld++;
		break;
	case EXECRPC__V1__KIND__KIND_CANCEL:
		assert_true(s->cancels < MAX_HELD);
		s->cancel_ids[s->cancels++] = e->call_id;
		break;
	default:
		break;
	}
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	xr_env_decoder dec = xr_codec_decoder(s->codec);
	xr_env_view view;
	uint8_t pfx[4];
	uint32_t len;
	uint8_t *p;

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
		srv_frame(s, xr_codec_envelope(s->codec));
		xr_codec_reset(s->codec);
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
srv_init(struct srv *s, struct event_base *base, const xr_keyset *ks)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->base = base;
	assert_non_null(s->auth = xr_auth_new(ks));
	assert_non_null(s->nonces = xr_nonce_cache_new(64, 30000));
	assert_non_null(s->codec = xr_codec_new());
	s->rx.auth = s->auth;
	s->rx.dir = XR_DIR_WEB_TO_EXEC;
	s->rx.kind_mask = XR_KIND_BIT(XR_KIND_HELLO) |
	    XR_KIND_BIT(XR_KIND_REQUEST) | XR_KIND_BIT(XR_KIND_CANCEL) |
	    XR_KIND_BIT(XR_KIND_PING);
	s->rx.ttl_ms = 30000;
	s->rx.max_body = xr_frame_max_body(1048576);
	s->rx.nonces = s->nonces;
	s->ack_max_inflight = 1024;
	s->ack_max_payload = 1048576;

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
	xr_nonce_cache_free(s->nonces);
	xr_auth_free(s->auth);
	free(s->last_frame);
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
	srv_init(&f->srv, f->base, &f->ks);
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

static xr_channel *
open_ch(struct fx *f, const xr_channel_opts *extra)
{
	xr_channel_opts o;
	int err = -99;

	if (extra != NULL)
		o = *extra;
	else
		memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	if (o.port == 0)
		o.port = f->srv.port;
	if (o.client_name == NULL)
		o.client_name = "test-client";
	f->ch = xr_channel_new_tcp(f->base, &o, &f->ks, &err);
	assert_non_null(f->ch);
	assert_int_equal(err, XR_OK);
	return f->ch;
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

static void
run_for(struct event_base *base, uint32_t ms)
{
	int never = 0;

	run_until(base, &never, 1, ms);
}

struct res {
	int n;
	int code;
	char msg[256];
	uint8_t resp[64];
	size_t resp_len;
	uint64_t at_ms;
};

static void
res_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct res *r = arg;

	r->n++;
	r->code = st->code;
	r->at_ms = xr_mono_ms();
	snprintf(r->msg, sizeof(r->msg), "%s", st->message);
	r->resp_len = len;
	if (resp != NULL && len <= sizeof(r->resp))
		memcpy(r->resp, resp, len);
}

/* Count completions across several calls. */
struct multi {
	int done;
	int unavailable;
	int ok;
	uint64_t last_ms;
};

static void
multi_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct multi *m = arg;

	(void)resp;
	(void)len;
	m->done++;
	m->last_ms = xr_mono_ms();
	if (st->code == XR_STATUS_UNAVAILABLE)
		m->unavailable++;
	if (st->code == XR_STATUS_OK)
		m->ok++;
}

static void
start_held(struct fx *f, int n, struct multi *m, uint32_t timeout_ms)
{
	f->srv.hold = 1;
	assert_int_equal(xr_channel_wait_ready(f->ch, 2000), XR_OK);
	for (int i = 0; i < n; i++)
		assert_non_null(xr_call_start(f->ch, METHOD,
		    (const uint8_t *)"held", 4, timeout_ms, multi_cb, m));
	run_until(f->base, &f->srv.nheld, n, 2000);
	assert_int_equal(f->srv.nheld, n);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_handshake(void **state)
{
	struct fx *f = *state;

	open_ch(f, NULL);
	assert_true(xr_channel_is_usable(f->ch));
	assert_int_equal(xr_channel_wait_ready(f->ch, 2000), XR_OK);
	assert_int_equal(f->srv.hellos, 1);
	assert_string_equal(f->srv.client_name, "test-client");
	assert_int_equal(f->srv.sess.state, XR_SESSION_OPEN);
	assert_true(xr_channel_is_usable(f->ch));
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	static const uint8_t req[] = "ping over tcp_local";
	xr_channel_stats stats;
	uint8_t *resp = NULL;
	size_t len = 0;
	xr_status st;

	open_ch(f, NULL);
	assert_int_equal(xr_call_sync_bytes(f->ch, METHOD, req, sizeof(req),
	    &resp, &len, 1000, &st), XR_STATUS_OK);
	assert_int_equal(len, sizeof(req));
	assert_memory_equal(resp, req, sizeof(req));
	free(resp);
	/* a second one on the same session (sequence advances) */
	assert_int_equal(xr_call_sync_bytes(f->ch, METHOD, req, 3, &resp, &len,
	    0, &st), XR_STATUS_OK);
	assert_int_equal(len, 3);
	free(resp);
	assert_int_equal(f->srv.requests, 2);
	assert_int_equal(f->srv.sess.peer_seq, 2);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.calls_started, 2);
	assert_int_equal(stats.calls_ok, 2);
	for (int i = 0; i < 6; i++)
		assert_int_equal(stats.rejects[i], 0);
}

/* Calls made while connecting are queued and go out after HELLO_ACK. */
static void
test_queued_before_handshake(void **state)
{
	struct fx *f = *state;
	struct res r[3];
	char p[3][8];

	open_ch(f, NULL);
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 3; i++) {
		snprintf(p[i], sizeof(p[i]), "q%d", i);
		assert_non_null(xr_call_start(f->ch, METHOD,
		    (const uint8_t *)p[i], 2, 2000, res_cb, &r[i]));
	}
	run_until(f->base, &r[2].n, 1, 2000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].n, 1);
		assert_int_equal(r[i].code, XR_STATUS_OK);
		assert_int_equal(r[i].resp_len, 2);
		assert_memory_equal(r[i].resp, p[i], 2);
	}
}

static void
test_out_of_order(void **state)
{
	struct fx *f = *state;
	struct res r[5];
	char p[5][8];

	open_ch(f, NULL);
	f->srv.hold = 1;
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 5; i++) {
		snprintf(p[i], sizeof(p[i]), "req-%d", i);
		assert_non_null(xr_call_start(f->ch, METHOD,
		    (const uint8_t *)p[i], strlen(p[i]), 3000, res_cb, &r[i]));
	}
	run_until(f->base, &f->srv.nheld, 5, 2000);
	assert_int_equal(f->srv.nheld, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(f->srv.held[i].method, METHOD);
		assert_true(f->srv.held[i].timeout_ms > 0);
		assert_true(f->srv.held[i].timeout_ms <= 3000);
	}
	/* answer newest first, each with its own request's bytes */
	for (int i = 4; i >= 0; i--) {
		struct held *h = &f->srv.held[i];

		srv_respond(&f->srv, h->call_id, XR_STATUS_OK, "", h->payload,
		    h->len, 0);
	}
	run_until(f->base, &r[0].n, 1, 2000);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r[i].n, 1);
		assert_int_equal(r[i].code, XR_STATUS_OK);
		assert_int_equal(r[i].resp_len, strlen(p[i]));
		assert_memory_equal(r[i].resp, p[i], strlen(p[i]));
	}
	/* r[4] completed first */
	assert_true(r[4].at_ms <= r[0].at_ms);
}

/*
 * Envelope.timeout_ms is the time left: a request queued during the
 * handshake is sent with what remains of its deadline, read off the clock
 * when it leaves (30 ms later, so under 2971); one started on a ready
 * channel leaves at once with the timeout it was given, exactly.
 */
static void
test_timeout_sent(void **state)
{
	struct fx *f = *state;
	struct res r[2];

	open_ch(f, NULL);
	f->srv.hold = 1;
	memset(r, 0, sizeof(r));
	assert_non_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"q", 1,
	    3000, res_cb, &r[0]));
	usleep(30 * 1000);
	run_until(f->base, &f->srv.nheld, 1, 2000);
	assert_int_equal(f->srv.nheld, 1);
	assert_true(f->srv.held[0].timeout_ms > 0);
	assert_true(f->srv.held[0].timeout_ms <= 2971);
	assert_non_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"r", 1,
	    3000, res_cb, &r[1]));
	run_until(f->base, &f->srv.nheld, 2, 2000);
	assert_int_equal(f->srv.nheld, 2);
	assert_int_equal(f->srv.held[1].timeout_ms, 3000);
	for (int i = 0; i < 2; i++)
		srv_respond(&f->srv, f->srv.held[i].call_id, XR_STATUS_OK, "",
		    f->srv.held[i].payload, f->srv.held[i].len, 0);
	run_until(f->base, &r[1].n, 1, 2000);
	assert_int_equal(r[0].n, 1);
	assert_int_equal(r[1].n, 1);
	assert_int_equal(r[1].code, XR_STATUS_OK);
}

static void
test_server_status(void **state)
{
	struct fx *f = *state;
	struct res r;

	memset(&r, 0, sizeof(r));
	open_ch(f, NULL);
	f->srv.hold = 1;
	assert_non_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"x", 1,
	    2000, res_cb, &r));
	run_until(f->base, &f->srv.nheld, 1, 2000);
	srv_respond(&f->srv, f->srv.held[0].call_id, XR_STATUS_UNIMPLEMENTED,
	    "no such method", (const uint8_t *)"ignored", 7, 0);
	run_until(f->base, &r.n, 1, 2000);
	assert_int_equal(r.code, XR_STATUS_UNIMPLEMENTED);
	assert_string_equal(r.msg, "no such method");
	assert_int_equal(r.resp_len, 0);
}

static void
assert_all_failed_fast(struct fx *f, struct multi *m, int n, uint64_t t0)
{
	run_until(f->base, &m->done, n, 3000);
	assert_int_equal(m->done, n);
	assert_int_equal(m->unavailable, n);
	/* at once, long before the 10 s deadlines */
	assert_true(m->last_ms - t0 < 1000);
	assert_false(xr_channel_is_usable(f->ch));
	assert_int_equal(xr_channel_wait_ready(f->ch, 10), XR_ERR_CLOSED);
}

static void
assert_new_call_unavailable(struct fx *f)
{
	struct res r;

	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"x", 1, 0,
	    res_cb, &r));
	assert_int_equal(r.n, 1);
	assert_int_equal(r.code, XR_STATUS_UNAVAILABLE);
}

static void
test_bad_tag_closes(void **state)
{
	struct fx *f = *state;
	xr_channel_stats stats;
	struct multi m;
	uint64_t t0;

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	start_held(f, 3, &m, 10000);
	t0 = xr_mono_ms();
	srv_respond(&f->srv, f->srv.held[0].call_id, XR_STATUS_OK, "",
	    (const uint8_t *)"x", 1, 1);
	assert_all_failed_fast(f, &m, 3, t0);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.rejects[XR_REJECT_BAD_SIGNATURE], 1);
	assert_int_equal(stats.calls_failed, 3);
	assert_new_call_unavailable(f);
	run_until(f->base, &f->srv.eof, 1, 2000);
	assert_int_equal(f->srv.eof, 1);
}

/* A captured frame sent again is a replay: closed, counted. */
static void
test_replayed_response_closes(void **state)
{
	struct fx *f = *state;
	xr_channel_stats stats;
	struct multi m;
	uint64_t t0;

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	start_held(f, 3, &m, 10000);
	srv_respond(&f->srv, f->srv.held[0].call_id, XR_STATUS_OK, "",
	    (const uint8_t *)"x", 1, 0);
	run_until(f->base, &m.done, 1, 2000);
	assert_int_equal(m.ok, 1);
	t0 = xr_mono_ms();
	bufferevent_write(f->srv.bev, f->srv.last_frame, f->srv.last_len);
	run_until(f->base, &m.done, 3, 2000);
	assert_int_equal(m.done, 3);
	assert_int_equal(m.unavailable, 2);
	assert_true(m.last_ms - t0 < 1000);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.rejects[XR_REJECT_REPLAY], 1);
}

/* A kind outside HELLO_ACK|RESPONSE|GOAWAY|PONG: closed, counted. */
static void
test_wrong_kind_closes(void **state)
{
	struct fx *f = *state;
	xr_channel_stats stats;
	struct multi m;
	uint64_t t0;

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	start_held(f, 2, &m, 10000);
	t0 = xr_mono_ms();
	srv_simple(&f->srv, XR_KIND_REQUEST);
	assert_all_failed_fast(f, &m, 2, t0);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.rejects[XR_REJECT_KIND_NOT_ALLOWED], 1);
}

static void
test_server_close(void **state)
{
	struct fx *f = *state;
	struct multi m;
	uint64_t t0;

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	start_held(f, 3, &m, 10000);
	t0 = xr_mono_ms();
	srv_drop(&f->srv);
	assert_all_failed_fast(f, &m, 3, t0);
	assert_new_call_unavailable(f);
}

static void
test_goaway(void **state)
{
	struct fx *f = *state;
	xr_channel_stats stats;
	struct multi m;

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	start_held(f, 2, &m, 10000);
	srv_simple(&f->srv, XR_KIND_GOAWAY);
	for (int i = 0; i < 200 && xr_channel_is_usable(f->ch); i++)
		run_for(f->base, 5);
	assert_false(xr_channel_is_usable(f->ch));
	/* new calls fail locally, at once */
	assert_new_call_unavailable(f);
	assert_int_equal(f->srv.requests, 2);
	/* the pending ones still complete */
	for (int i = 0; i < 2; i++)
		srv_respond(&f->srv, f->srv.held[i].call_id, XR_STATUS_OK, "",
		    f->srv.held[i].payload, f->srv.held[i].len, 0);
	run_until(f->base, &m.done, 2, 2000);
	assert_int_equal(m.ok, 2);
	/* with nothing left the client closes the drained connection */
	run_until(f->base, &f->srv.eof, 1, 2000);
	assert_int_equal(f->srv.eof, 1);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.calls_ok, 2);
	assert_int_equal(stats.calls_failed, 1);
}

static void
test_oversized_prefix(void **state)
{
	struct fx *f = *state;
	static const uint8_t huge[4] = { 0x7f, 0xff, 0xff, 0xff };
	xr_channel_stats stats;
	struct multi m;
	uint64_t t0;

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	start_held(f, 2, &m, 10000);
	t0 = xr_mono_ms();
	bufferevent_write(f->srv.bev, huge, sizeof(huge));
	assert_all_failed_fast(f, &m, 2, t0);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.rejects[XR_REJECT_OVERSIZED], 1);
	assert_int_equal(stats.rejects[XR_REJECT_BAD_SIGNATURE], 0);
}

/* Just over the limit is rejected from the prefix alone. */
static void
test_prefix_limit_exact(void **state)
{
	struct fx *f = *state;
	xr_channel_opts o;
	uint8_t pfx[4];
	xr_channel_stats stats;
	struct multi m;

	memset(&o, 0, sizeof(o));
	o.max_payload_bytes = 1000;
	memset(&m, 0, sizeof(m));
	open_ch(f, &o);
	start_held(f, 1, &m, 10000);
	xr_frame_put_len(pfx, (uint32_t)xr_frame_max_body(1000) + 1);
	bufferevent_write(f->srv.bev, pfx, sizeof(pfx));
	run_until(f->base, &m.done, 1, 2000);
	assert_int_equal(m.unavailable, 1);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.rejects[XR_REJECT_OVERSIZED], 1);
}

static void
test_deadline_sends_cancel(void **state)
{
	struct fx *f = *state;
	struct res r;
	uint64_t t0, dt;
	uint8_t *resp = NULL;
	size_t len = 0;

	memset(&r, 0, sizeof(r));
	open_ch(f, NULL);
	assert_int_equal(xr_channel_wait_ready(f->ch, 2000), XR_OK);
	f->srv.hold = 1;
	t0 = xr_mono_ms();
	assert_non_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"slow",
	    4, 150, res_cb, &r));
	run_until(f->base, &r.n, 1, 2000);
	dt = r.at_ms - t0;
	assert_int_equal(r.code, XR_STATUS_DEADLINE_EXCEEDED);
	assert_true(dt >= 145 && dt < 250);
	run_until(f->base, &f->srv.cancels, 1, 2000);
	assert_int_equal(f->srv.cancels, 1);
	assert_int_equal(f->srv.cancel_ids[0], f->srv.held[0].call_id);
	/* a late answer for the finished call is ignored */
	srv_respond(&f->srv, f->srv.held[0].call_id, XR_STATUS_OK, "",
	    (const uint8_t *)"late", 4, 0);
	/* and one for an id never used */
	srv_respond(&f->srv, 999999, XR_STATUS_OK, "", NULL, 0, 0);
	run_for(f->base, 30);
	assert_int_equal(r.n, 1);
	assert_true(xr_channel_is_usable(f->ch));
	f->srv.hold = 0;
	assert_int_equal(xr_call_sync_bytes(f->ch, METHOD,
	    (const uint8_t *)"ok", 2, &resp, &len, 1000, NULL), XR_STATUS_OK);
	free(resp);
}

static void
test_cancel_sends_cancel(void **state)
{
	struct fx *f = *state;
	xr_client_call *c;
	struct res r;

	memset(&r, 0, sizeof(r));
	open_ch(f, NULL);
	start_held(f, 0, NULL, 0);
	c = xr_call_start(f->ch, METHOD, (const uint8_t *)"x", 1, 5000, res_cb,
	    &r);
	assert_non_null(c);
	run_until(f->base, &f->srv.nheld, 1, 2000);
	xr_call_cancel(c);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.code, XR_STATUS_CANCELLED);
	run_until(f->base, &f->srv.cancels, 1, 2000);
	assert_int_equal(f->srv.cancel_ids[0], f->srv.held[0].call_id);
	assert_true(xr_channel_is_usable(f->ch));
}

static void
test_cancel_queued(void **state)
{
	struct fx *f = *state;
	xr_client_call *c;
	struct res r, r2;

	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	open_ch(f, NULL);
	c = xr_call_start(f->ch, METHOD, (const uint8_t *)"x", 1, 0, res_cb,
	    &r);
	assert_non_null(c);
	assert_non_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"y", 1,
	    0, res_cb, &r2));
	xr_call_cancel(c);
	assert_int_equal(r.code, XR_STATUS_CANCELLED);
	run_until(f->base, &r2.n, 1, 2000);
	assert_int_equal(r2.code, XR_STATUS_OK);
	assert_int_equal(f->srv.requests, 1);
	assert_int_equal(f->srv.cancels, 0);
}

static void
test_free_fails_pending(void **state)
{
	struct fx *f = *state;
	struct multi m;

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	start_held(f, 3, &m, 0);
	xr_channel_free(f->ch);
	f->ch = NULL;
	assert_int_equal(m.done, 3);
	assert_int_equal(m.unavailable, 3);
	run_until(f->base, &f->srv.eof, 1, 2000);
	assert_int_equal(f->srv.eof, 1);
}

static void
test_limits(void **state)
{
	struct fx *f = *state;
	xr_channel_opts o;
	struct multi m;
	struct res r;
	uint8_t big[1100];

	memset(&o, 0, sizeof(o));
	memset(big, 'b', sizeof(big));
	o.max_payload_bytes = 1000;
	o.max_inflight = 4;
	open_ch(f, &o);
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(f->ch, METHOD, big, 1001, 0, res_cb, &r));
	assert_int_equal(r.code, XR_STATUS_INVALID_ARGUMENT);
	memset(&m, 0, sizeof(m));
	start_held(f, 4, &m, 0);
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(f->ch, METHOD, big, 1, 0, res_cb, &r));
	assert_int_equal(r.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_true(xr_channel_is_usable(f->ch));
	/* `m` lives on this stack: fail the held calls before returning */
	xr_channel_free(f->ch);
	f->ch = NULL;
	assert_int_equal(m.unavailable, 4);
}

/*
 * A response payload over max_payload_bytes inside the body limit (an
 * endpoint with a larger limit): that call fails with RESOURCE_EXHAUSTED,
 * no payload, no reject; the connection and the other calls go on. One of
 * exactly the limit is delivered.
 */
static void
test_response_over_limit(void **state)
{
	struct fx *f = *state;
	xr_channel_opts o;
	xr_channel_stats stats;
	struct res r[3];
	uint8_t big[1001];

	memset(&o, 0, sizeof(o));
	memset(big, 'r', sizeof(big));
	memset(r, 0, sizeof(r));
	o.max_payload_bytes = 1000;
	open_ch(f, &o);
	f->srv.hold = 1;
	for (int i = 0; i < 3; i++)
		assert_non_null(xr_call_start(f->ch, METHOD,
		    (const uint8_t *)"x", 1, 2000, res_cb, &r[i]));
	run_until(f->base, &f->srv.nheld, 3, 2000);
	assert_int_equal(f->srv.nheld, 3);
	srv_respond(&f->srv, f->srv.held[0].call_id, XR_STATUS_OK, "", big,
	    1001, 0);
	srv_respond(&f->srv, f->srv.held[1].call_id, XR_STATUS_OK, "", big,
	    1000, 0);
	run_until(f->base, &r[1].n, 1, 2000);
	assert_int_equal(r[0].n, 1);
	assert_int_equal(r[0].code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(r[0].msg, "response larger than max_payload_bytes");
	assert_int_equal(r[0].resp_len, 0);
	assert_int_equal(r[1].code, XR_STATUS_OK);
	assert_int_equal(r[1].resp_len, 1000);
	assert_int_equal(r[2].n, 0);
	assert_true(xr_channel_is_usable(f->ch));
	srv_respond(&f->srv, f->srv.held[2].call_id, XR_STATUS_OK, "",
	    (const uint8_t *)"ok", 2, 0);
	run_until(f->base, &r[2].n, 1, 2000);
	assert_int_equal(r[2].code, XR_STATUS_OK);
	xr_channel_stats_get(f->ch, &stats);
	for (int i = 0; i < XR_CHANNEL_REJECT_KINDS; i++)
		assert_int_equal(stats.rejects[i], 0);
	assert_int_equal(stats.calls_ok, 2);
	assert_int_equal(stats.calls_failed, 1);
}

/* The server's HelloAck limits tighten the local ones. */
static void
test_hello_ack_limits(void **state)
{
	struct fx *f = *state;
	uint8_t big[600];
	struct res r;

	memset(big, 'b', sizeof(big));
	f->srv.ack_max_payload = 500;
	open_ch(f, NULL);
	assert_int_equal(xr_channel_wait_ready(f->ch, 2000), XR_OK);
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(f->ch, METHOD, big, 501, 0, res_cb, &r));
	assert_int_equal(r.code, XR_STATUS_INVALID_ARGUMENT);
	memset(&r, 0, sizeof(r));
	assert_non_null(xr_call_start(f->ch, METHOD, big, 500, 0, res_cb, &r));
	run_until(f->base, &r.n, 1, 2000);
	assert_int_equal(r.code, XR_STATUS_OK);
	assert_int_equal(f->srv.requests, 1);
}

static void
test_handshake_timeout(void **state)
{
	struct fx *f = *state;
	xr_channel_opts o;
	struct res r;
	uint64_t t0;
	xr_diag d = { 0 };
	char want[256];

	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = 200;
	f->srv.no_ack = 1;
	t0 = xr_mono_ms();
	open_ch(f, &o);
	memset(&r, 0, sizeof(r));
	assert_non_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"x", 1,
	    0, res_cb, &r));
	assert_int_equal(xr_channel_wait_ready_diag(f->ch, 2000, &d),
	    XR_ERR_READY_TIMEOUT);
	snprintf(want, sizeof(want), "no HELLO_ACK from 127.0.0.1:%u within "
	    "200 ms (connect_timeout_ms): is an execrpc endpoint listening "
	    "there?", (unsigned)f->srv.port);
	assert_int_equal(d.code, XR_ERR_READY_TIMEOUT);
	assert_string_equal(d.reason, want);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.code, XR_STATUS_UNAVAILABLE);
	assert_string_equal(r.msg, want);
	assert_true(r.at_ms - t0 >= 195 && r.at_ms - t0 < 400);
	assert_int_equal(f->srv.hellos, 1);
}

static void
test_wait_ready_timeout(void **state)
{
	struct fx *f = *state;

	f->srv.no_ack = 1;
	open_ch(f, NULL);
	assert_int_equal(xr_channel_wait_ready(f->ch, 100),
	    XR_ERR_READY_TIMEOUT);
	assert_true(xr_channel_is_usable(f->ch));
}

static void
test_connect_refused(void **state)
{
	struct fx *f = *state;
	xr_channel_opts o;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;
	struct res r;
	xr_diag d = { 0 };
	char want[256];

	/* a port nobody listens on */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	memset(&o, 0, sizeof(o));
	o.port = ntohs(sin.sin_port);
	open_ch(f, &o);
	memset(&r, 0, sizeof(r));
	assert_non_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"x", 1,
	    0, res_cb, &r));
	assert_int_equal(xr_channel_wait_ready_diag(f->ch, 2000, &d),
	    XR_ERR_CLOSED);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%u failed: "
	    "Connection refused (is the endpoint running, on this port?)",
	    (unsigned)o.port);
	assert_string_equal(d.reason, want);
	assert_int_equal(r.code, XR_STATUS_UNAVAILABLE);
	assert_string_equal(r.msg, want);
	close(fd);
}

static void
test_loopback_only(void **state)
{
	struct fx *f = *state;
	static const char *bad[] = { "10.0.0.1", "0.0.0.0", "192.168.1.1",
	    "::", "example.com", "128.0.0.1", "::ffff:10.0.0.1", "" };
	static const char *good[] = { "127.0.0.1", "127.1.2.3", "localhost",
	    "::1" };
	/* what each refusal says */
	static const char *why[] = {
	    "host \"10.0.0.1\" is not a loopback address: tcp_local connects "
	    "only to 127.0.0.0/8, ::1 or localhost (run the client on the "
	    "endpoint's machine)",
	    "host \"0.0.0.0\" is not a loopback address: tcp_local connects "
	    "only to 127.0.0.0/8, ::1 or localhost (run the client on the "
	    "endpoint's machine)",
	    "host \"192.168.1.1\" is not a loopback address: tcp_local "
	    "connects only to 127.0.0.0/8, ::1 or localhost (run the client on "
	    "the endpoint's machine)",
	    "host \"::\" is not a loopback address: tcp_local connects only to "
	    "127.0.0.0/8, ::1 or localhost (run the client on the endpoint's "
	    "machine)",
	    "host \"example.com\" is not an IP address: tcp_local resolves no "
	    "names; use 127.0.0.1, ::1 or localhost",
	    "host \"128.0.0.1\" is not a loopback address: tcp_local connects "
	    "only to 127.0.0.0/8, ::1 or localhost (run the client on the "
	    "endpoint's machine)",
	    "host \"::ffff:10.0.0.1\" is not a loopback address: tcp_local "
	    "connects only to 127.0.0.0/8, ::1 or localhost (run the client on "
	    "the endpoint's machine)",
	    "no host: set the channel's host to the endpoint's address "
	    "(127.0.0.1, ::1 or localhost)",
	};
	xr_channel_opts o;
	xr_channel *ch;
	xr_diag d;
	int err;

	memset(&o, 0, sizeof(o));
	o.port = f->srv.port;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.host = bad[i];
		err = 0;
		assert_null(xr_channel_new_tcp(f->base, &o, &f->ks, &err));
		assert_int_equal(err, XR_ERR_INVALID_ARG);
		memset(&d, 0, sizeof(d));
		assert_null(xr_channel_new_tcp_diag(f->base, &o, &f->ks, &d));
		assert_int_equal(d.code, XR_ERR_INVALID_ARG);
		assert_string_equal(d.reason, why[i]);
	}
	o.host = NULL;
	assert_null(xr_channel_new_tcp(f->base, &o, &f->ks, &err));
	assert_null(xr_channel_new_tcp_diag(f->base, &o, &f->ks, &d));
	assert_string_equal(d.reason, why[7]);
	o.host = "127.0.0.1";
	o.port = 0;
	assert_null(xr_channel_new_tcp(f->base, &o, &f->ks, &err));
	assert_int_equal(err, XR_ERR_INVALID_ARG);
	assert_null(xr_channel_new_tcp_diag(f->base, &o, &f->ks, &d));
	assert_int_equal(d.code, XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "port 0: set the channel's port to the "
	    "port the endpoint listens on");
	/* accepted (not connected: port 1, and freed at once) */
	o.port = 1;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		o.host = good[i];
		ch = xr_channel_new_tcp(f->base, &o, &f->ks, &err);
		assert_non_null(ch);
		assert_int_equal(err, XR_OK);
		xr_channel_free(ch);
	}
	/* "localhost" means 127.0.0.1: it reaches the test server */
	o.host = "localhost";
	o.port = f->srv.port;
	f->ch = xr_channel_new_tcp(f->base, &o, &f->ks, &err);
	assert_int_equal(xr_channel_wait_ready(f->ch, 2000), XR_OK);
}

/* A client with the wrong keys never gets a session: the server closes
 * after its HELLO without a word, which the client reports as a refused
 * handshake (XR_ERR_BAD_SIGNATURE, calls UNAUTHENTICATED). */
static void
test_wrong_key(void **state)
{
	struct fx *f = *state;
	uint8_t other[XR_MASTER_LEN];
	xr_channel_opts o;
	xr_keyset ks;
	xr_diag d = { 0 };
	char want[256];
	struct res r;
	int err;

	memset(other, 0x42, sizeof(other));
	assert_int_equal(xr_keys_derive(other, sizeof(other),
	    XR_KDF_HKDF_SHA256, &ks), XR_OK);
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = f->srv.port;
	f->ch = xr_channel_new_tcp(f->base, &o, &ks, &err);
	xr_keyset_wipe(&ks);
	assert_non_null(f->ch);
	assert_int_equal(xr_channel_wait_ready_diag(f->ch, 2000, &d),
	    XR_ERR_BAD_SIGNATURE);
	snprintf(want, sizeof(want), "handshake refused by 127.0.0.1:%u: it "
	    "closed the connection after our HELLO without answering (secret "
	    "or kdf mismatch? the client needs the endpoint's auth secret and "
	    "kdf)", (unsigned)o.port);
	assert_string_equal(d.reason, want);
	assert_int_equal(f->srv.rejects, 1);
	assert_int_equal(f->srv.hellos, 0);
	/* later calls: the same status and reason */
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(f->ch, METHOD, (const uint8_t *)"x", 1, 0,
	    res_cb, &r));
	assert_int_equal(r.code, XR_STATUS_UNAUTHENTICATED);
	assert_string_equal(r.msg, want);
}

/* Many calls started in one go: all answered, matched, one connection. */
static void
test_many_in_flight(void **state)
{
	struct fx *f = *state;
	struct multi m;
	char p[16];

	memset(&m, 0, sizeof(m));
	open_ch(f, NULL);
	assert_int_equal(xr_channel_wait_ready(f->ch, 2000), XR_OK);
	for (int i = 0; i < 500; i++) {
		int n = snprintf(p, sizeof(p), "m%d", i);

		assert_non_null(xr_call_start(f->ch, METHOD,
		    (const uint8_t *)p, (size_t)n, 5000, multi_cb, &m));
	}
	run_until(f->base, &m.done, 500, 5000);
	assert_int_equal(m.ok, 500);
	assert_int_equal(f->srv.requests, 500);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_handshake),
		T(test_round_trip),
		T(test_queued_before_handshake),
		T(test_out_of_order),
		T(test_server_status),
		T(test_bad_tag_closes),
		T(test_replayed_response_closes),
		T(test_wrong_kind_closes),
		T(test_server_close),
		T(test_goaway),
		T(test_oversized_prefix),
		T(test_prefix_limit_exact),
		T(test_deadline_sends_cancel),
		T(test_cancel_sends_cancel),
		T(test_cancel_queued),
		T(test_free_fails_pending),
		T(test_limits),
		T(test_response_over_limit),
		T(test_hello_ack_limits),
		T(test_timeout_sent),
		T(test_handshake_timeout),
		T(test_wait_ready_timeout),
		T(test_connect_refused),
		T(test_loopback_only),
		T(test_wrong_key),
		T(test_many_in_flight),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
