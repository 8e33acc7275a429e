/*
 * tests/server/test_batch.c — KIND_BATCH at the execution endpoint
 * (docs/design.md section 2, "Batches"), from a raw signing peer:
 * HELLO_ACK advertises XR_BATCH_MAX; a BATCH of REQUESTs gets one exact
 * response each, in BATCH frames only for a client that advertised
 * Hello.max_batch (at most that many per BATCH), single frames otherwise;
 * a BATCH before HELLO, or one carrying a HELLO, a BATCH, a stale
 * sequence, an expired or a malformed envelope, is rejected with exactly
 * that counter and closes, after the envelopes before it were handled and
 * with no handler run for the rejected one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "echo/v1/echo.pb-c.h"
#include "frame.h"
#include "helper_srv.h"

#define N_MAX 20

/* One envelope of a batch under construction. */
struct item {
	uint8_t *env;
	size_t len;
};

/* A Say request's payload for `text`, into `pb`; returns its length. */
static size_t
say_payload(const char *text, uint8_t pb[256])
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;

	req.text = (char *)(uintptr_t)text;
	assert_true(echo__v1__say_request__get_packed_size(&req) <= 256);
	return echo__v1__say_request__pack(&req, pb);
}

/*
 * Pack an unsigned envelope of `kind` for p's session, numbered `seq` (0 =
 * the session's next), at `ts_ms` (0 = now). A REQUEST is a Say of
 * `text` with the next call id.
 */
static struct item
env_item(ts_peer *p, uint32_t kind, const char *text, uint64_t seq,
    uint64_t ts_ms)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN], pb[256];
	struct item it;

	assert_int_equal(xr_codec_env_init(&e, kind, nonce), XR_OK);
	if (ts_ms != 0)
		e.ts_ms = ts_ms;
	if (kind != XR_KIND_HELLO) {
		e.session_id.data = p->sess.id;
		e.session_id.len = XR_SESSION_ID_LEN;
	}
	e.sequence = seq != 0 ? seq : xr_session_next_seq(&p->sess);
	if (kind == XR_KIND_REQUEST) {
		e.method = "echo.v1.Echo/Say";
		e.call_id = p->next_call++;
		e.payload.data = pb;
		e.payload.len = say_payload(text, pb);
	}
	it.len = execrpc__v1__envelope__get_packed_size(&e);
	assert_non_null(it.env = malloc(it.len));
	assert_int_equal(execrpc__v1__envelope__pack(&e, it.env), it.len);
	return it;
}

/* Seal a BATCH numbered `seq` whose payload is `payload` (`plen` bytes)
 * and send it. */
static void
send_batch_payload(ts_peer *p, uint64_t seq, const uint8_t *payload,
    size_t plen)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN], *buf;
	size_t cap, len;

	assert_int_equal(xr_codec_env_init(&e, XR_KIND_BATCH, nonce), XR_OK);
	e.session_id.data = p->sess.id;
	e.session_id.len = XR_SESSION_ID_LEN;
	e.sequence = seq;
	e.payload.data = (uint8_t *)(uintptr_t)payload;
	e.payload.len = plen;
	cap = xr_codec_sealed_len(&e);
	assert_non_null(buf = malloc(cap));
	assert_int_equal(xr_codec_seal(p->auth, XR_DIR_WEB_TO_EXEC, &e, buf,
	    cap, &len), XR_OK);
	assert_int_equal(ts_send_raw(p, buf, len), 0);
	free(buf);
}

/* Wrap `n` items into a Batch payload, send it as a BATCH numbered `seq`,
 * free the items. */
static void
send_batch(ts_peer *p, uint64_t seq, struct item *its, size_t n)
{
	uint8_t payload[8192];
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		assert_true(off + xr_batch_item_len(its[i].len) <=
		    sizeof(payload));
		off += xr_batch_item_header(payload + off, its[i].len);
		memcpy(payload + off, its[i].env, its[i].len);
		off += its[i].len;
		free(its[i].env);
	}
	send_batch_payload(p, seq, payload, off);
}

/* Send a BATCH of `n` Say requests "t0".."t<n-1>" (the BATCH's number is
 * reserved before theirs). */
static void
send_say_batch(ts_peer *p, size_t n)
{
	struct item its[N_MAX];
	uint64_t seq = xr_session_next_seq(&p->sess);
	char text[32];

	assert_true(n <= N_MAX);
	for (size_t i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "t%zu", i);
		its[i] = env_item(p, XR_KIND_REQUEST, text, 0, 0);
	}
	send_batch(p, seq, its, n);
}

/* HELLO with Hello.max_batch = `max_batch`; checks HELLO_ACK advertises
 * XR_BATCH_MAX. A peer that advertised accepts BATCH frames. */
static void
hello(ts_peer *p, uint32_t max_batch)
{
	Execrpc__V1__Hello h = EXECRPC__V1__HELLO__INIT;
	Execrpc__V1__HelloAck *ack;
	const Execrpc__V1__Envelope *e;
	uint8_t pb[64], *f;
	size_t len, plen;
	int closed;

	h.client_name = "test_batch";
	h.max_batch = max_batch;
	plen = execrpc__v1__hello__pack(&h, pb);
	f = ts_seal(p, XR_KIND_HELLO, NULL, pb, plen, 0, 0, 0, &len);
	assert_int_equal(ts_send_raw(p, f, len), 0);
	free(f);
	assert_non_null(e = ts_recv(p, 5000, &closed));
	assert_int_equal(e->kind, XR_KIND_HELLO_ACK);
	assert_non_null(ack = execrpc__v1__hello_ack__unpack(NULL,
	    e->payload.len, e->payload.data));
	assert_int_equal(ack->max_batch, XR_BATCH_MAX);
	execrpc__v1__hello_ack__free_unpacked(ack, NULL);
	if (max_batch > 0)
		p->rx.kind_mask |= XR_KIND_BIT(XR_KIND_BATCH);
}

/* Check one RESPONSE: call id `id`, text "t<id-first>". */
static void
check_response(const Execrpc__V1__Envelope *e, uint64_t id, uint64_t first)
{
	char text[64], want[32];

	assert_int_equal(e->kind, XR_KIND_RESPONSE);
	assert_int_equal(e->call_id, id);
	assert_non_null(e->status);
	assert_int_equal(e->status->code, XR_STATUS_OK);
	ts_say_text(e, text, sizeof(text));
	snprintf(want, sizeof(want), "t%llu", (unsigned long long)(id - first));
	assert_string_equal(text, want);
}

/*
 * Receive the responses to calls first..first+n-1, in order, verifying
 * every frame and, in a BATCH, every envelope (xr_rx_inner). Returns the
 * number of BATCH frames; *frames gets the number of frames.
 */
static int
recv_responses(ts_peer *p, uint64_t first, size_t n, uint32_t max_items,
    int *frames)
{
	xr_codec *ic = xr_codec_new();
	xr_env_decoder dec = xr_codec_decoder(ic);
	uint64_t id = first;
	int batches = 0, closed;

	assert_non_null(ic);
	*frames = 0;
	while (id < first + n) {
		const Execrpc__V1__Envelope *e = ts_recv(p, 5000, &closed);
		xr_batch_iter it;
		const uint8_t *env;
		size_t len;
		xr_env_view v;
		int r;

		assert_non_null(e);
		(*frames)++;
		if ((uint32_t)e->kind != XR_KIND_BATCH) {
			check_response(e, id++, first);
			continue;
		}
		batches++;
		xr_batch_iter_init(&it, e->payload.data, e->payload.len,
		    max_items);
		while ((r = xr_batch_next(&it, &env, &len)) == 1) {
			assert_int_equal(xr_rx_inner(&p->rx, &p->sess, env,
			    len, xr_now_ms(), &dec, &v), XR_OK);
			check_response(xr_codec_envelope(ic), id++, first);
			xr_codec_reset(ic);
		}
		assert_int_equal(r, 0);
		assert_true(it.count >= 2);
	}
	assert_int_equal(id, first + n);
	xr_codec_free(ic);
	return batches;
}

/* A client that does not advertise max_batch: a BATCH of 8 requests is
 * answered, exactly, one RESPONSE frame each (never a BATCH: its peer's
 * whitelist lacks it, so ts_recv() would fail on one). */
static void
test_batch_answered_unbatched(void **state)
{
	ts_server t;
	ts_peer p;
	int frames;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	hello(&p, 0);
	send_say_batch(&p, 8);
	assert_int_equal(recv_responses(&p, 1, 8, XR_BATCH_MAX, &frames), 0);
	assert_int_equal(frames, 8);
	/* four REQUEST frames in one send, answered in one loop turn: still
	 * four frames */
	{
		uint8_t buf[4096], *f;
		size_t off = 0, len;

		for (int i = 0; i < 4; i++) {
			uint8_t pb[256];
			char text[32];
			size_t plen;

			snprintf(text, sizeof(text), "t%d", i);
			plen = say_payload(text, pb);
			f = ts_seal(&p, XR_KIND_REQUEST, "echo.v1.Echo/Say", pb,
			    plen, p.next_call++, 0, 0, &len);
			memcpy(buf + off, f, len);
			off += len;
			free(f);
		}
		assert_int_equal(ts_send_raw(&p, buf, off), 0);
	}
	assert_int_equal(recv_responses(&p, 9, 4, XR_BATCH_MAX, &frames), 0);
	assert_int_equal(frames, 4);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.echo_handler_calls, 12);
	for (int i = 0; i < XR_REJECT_COUNT; i++)
		assert_int_equal(t.final.rejects[i], 0);
}

/* A client that advertised max_batch gets the turn's responses in BATCH
 * frames of at most that many, a lone one as a plain frame. */
static void
test_batch_answered_batched(void **state)
{
	ts_server t;
	ts_peer p;
	int frames;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	hello(&p, 64);
	send_say_batch(&p, 8);
	assert_true(recv_responses(&p, 1, 8, 64, &frames) >= 1);
	assert_true(frames < 8);
	/* one request: one plain RESPONSE (the reserved number skipped) */
	send_say_batch(&p, 1);
	assert_int_equal(recv_responses(&p, 9, 1, 64, &frames), 0);
	assert_int_equal(frames, 1);
	/* 20 answers in one turn to a client taking 64: XR_BATCH_SEND (16)
	 * a BATCH, 16 + 4 */
	send_say_batch(&p, 20);
	assert_int_equal(recv_responses(&p, 10, 20, 64, &frames), 2);
	assert_int_equal(frames, 2);
	ts_peer_close(&p);

	/* max_batch 2: five answers in one turn are 2 + 2 + 1, and a full
	 * BATCH leaves at once: when the fifth handler runs, the first BATCH
	 * (answers 1 and 2, sent as the third answer opened a group) is on
	 * the peer's socket, before the turn ends */
	ts_peer_open(&p, t.port, ts_master);
	hello(&p, 2);
	t.peeked = -1;
	t.peek_fd = p.fd;
	t.peek_at = t.echo_handler_calls + 5;
	send_say_batch(&p, 5);
	/* read nothing before the handler has looked */
	for (int ms = 0; ms < 5000 && t.peeked == -1; ms++)
		usleep(1000);
	assert_true(t.peeked > 0);
	assert_int_equal(recv_responses(&p, 1, 5, 2, &frames), 2);
	assert_int_equal(frames, 3);
	t.peek_at = 0;
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.echo_handler_calls, 34);
	for (int i = 0; i < XR_REJECT_COUNT; i++)
		assert_int_equal(t.final.rejects[i], 0);
}

/* The rejected envelopes, each after a valid Say in the same BATCH. */
enum bad { BAD_HELLO, BAD_BATCH, BAD_STALE, BAD_EXPIRED, BAD_GARBAGE,
	BAD_PAYLOAD };

static void
send_bad_batch(ts_peer *p, enum bad bad)
{
	struct item its[2];
	uint64_t seq = xr_session_next_seq(&p->sess);
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x01, 0x02 };

	its[0] = env_item(p, XR_KIND_REQUEST, "t0", 0, 0);
	switch (bad) {
	case BAD_HELLO:
		its[1] = env_item(p, XR_KIND_HELLO, NULL, 0, 0);
		break;
	case BAD_BATCH:
		its[1] = env_item(p, XR_KIND_BATCH, NULL, 0, 0);
		break;
	case BAD_STALE:		/* the number of the envelope before it */
		its[1] = env_item(p, XR_KIND_REQUEST, "t1",
		    p->sess.send_seq, 0);
		break;
	case BAD_EXPIRED:
		its[1] = env_item(p, XR_KIND_REQUEST, "t1", 0,
		    xr_now_ms() - 600000);
		break;
	case BAD_GARBAGE:
		its[1].len = sizeof(garbage);
		assert_non_null(its[1].env = malloc(sizeof(garbage)));
		memcpy(its[1].env, garbage, sizeof(garbage));
		break;
	case BAD_PAYLOAD: {
		/* a valid item, then a field-2 item: not a Batch */
		uint8_t payload[1024];
		size_t off = xr_batch_item_header(payload, its[0].len);

		memcpy(payload + off, its[0].env, its[0].len);
		off += its[0].len;
		payload[off++] = 0x12;
		payload[off++] = 0x01;
		payload[off++] = 'x';
		free(its[0].env);
		send_batch_payload(p, seq, payload, off);
		return;
	}
	}
	send_batch(p, seq, its, 2);
}

/* One server per case: the BATCH is rejected with exactly `idx`, the
 * connection closes, only the Say before the bad envelope ran. */
static void
bad_case(enum bad bad, int idx)
{
	ts_server t;
	ts_peer p;

	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	hello(&p, 64);
	send_bad_batch(&p, bad);
	assert_int_equal(ts_wait_closed(&p, 5000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	for (int i = 0; i < XR_REJECT_COUNT; i++)
		assert_int_equal(t.final.rejects[i], i == idx ? 1 : 0);
	assert_int_equal(t.echo_handler_calls, 1);
	assert_int_equal(t.final.calls_started, 1);
}

static void
test_batch_inner_rejects(void **state)
{
	(void)state;
	bad_case(BAD_HELLO, XR_REJECT_KIND_NOT_ALLOWED);
	bad_case(BAD_BATCH, XR_REJECT_KIND_NOT_ALLOWED);
	bad_case(BAD_STALE, XR_REJECT_REPLAY);
	bad_case(BAD_EXPIRED, XR_REJECT_EXPIRED);
	bad_case(BAD_GARBAGE, XR_REJECT_MALFORMED);
	bad_case(BAD_PAYLOAD, XR_REJECT_MALFORMED);
}

/* A BATCH before HELLO (with a made-up session id) is not in the
 * whitelist: KIND_NOT_ALLOWED, closed, nothing dispatched. */
static void
test_batch_before_hello(void **state)
{
	ts_server t;
	ts_peer p;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	memset(p.sess.id, 0x5a, sizeof(p.sess.id));
	send_say_batch(&p, 2);
	assert_int_equal(ts_wait_closed(&p, 5000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	for (int i = 0; i < XR_REJECT_COUNT; i++)
		assert_int_equal(t.final.rejects[i],
		    i == XR_REJECT_KIND_NOT_ALLOWED ? 1 : 0);
	assert_int_equal(t.echo_handler_calls, 0);
}

/* A replayed BATCH fails at its own sequence: nothing in it runs twice. */
static void
test_batch_replayed(void **state)
{
	ts_server t;
	ts_peer p;
	int frames;
	struct item its[2];
	uint64_t seq;
	uint8_t payload[1024];
	size_t off = 0;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	hello(&p, 0);
	seq = xr_session_next_seq(&p.sess);
	its[0] = env_item(&p, XR_KIND_REQUEST, "t0", 0, 0);
	its[1] = env_item(&p, XR_KIND_REQUEST, "t1", 0, 0);
	for (int i = 0; i < 2; i++) {
		off += xr_batch_item_header(payload + off, its[i].len);
		memcpy(payload + off, its[i].env, its[i].len);
		off += its[i].len;
		free(its[i].env);
	}
	send_batch_payload(&p, seq, payload, off);
	assert_int_equal(recv_responses(&p, 1, 2, XR_BATCH_MAX, &frames), 0);
	send_batch_payload(&p, seq, payload, off);
	assert_int_equal(ts_wait_closed(&p, 5000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	for (int i = 0; i < XR_REJECT_COUNT; i++)
		assert_int_equal(t.final.rejects[i],
		    i == XR_REJECT_REPLAY ? 1 : 0);
	assert_int_equal(t.echo_handler_calls, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_answered_unbatched),
		cmocka_unit_test(test_batch_answered_batched),
		cmocka_unit_test(test_batch_inner_rejects),
		cmocka_unit_test(test_batch_before_hello),
		cmocka_unit_test(test_batch_replayed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
