/* tests/core/test_rx.c — core/rx.c: the whole receive pipeline with the
 * protobuf-c decoder (SEC-IPC-01 .. SEC-IPC-06). Every check asserts the
 * exact code and that exactly that step's counter moved by one. Run it
 * under -DXR_SANITIZE=ON too: every HELLO decodes absent bytes fields
 * (session_id, ack_nonce), which once tripped UBSan in codec.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "frame.h"
#include "helper_wire.h"
#include "rx.h"

#define NOW 1700000000000ULL
#define TTL 30000ULL
#define MAX_PAYLOAD 65536
#define SERVER_KINDS (XR_KIND_BIT(XR_KIND_HELLO) | XR_KIND_BIT(XR_KIND_REQUEST) | \
    XR_KIND_BIT(XR_KIND_CANCEL) | XR_KIND_BIT(XR_KIND_PING))
#define CLIENT_KINDS (XR_KIND_BIT(XR_KIND_HELLO_ACK) | \
    XR_KIND_BIT(XR_KIND_RESPONSE) | XR_KIND_BIT(XR_KIND_GOAWAY) | \
    XR_KIND_BIT(XR_KIND_PONG))

struct fx {
	xr_auth *auth;		/* hkdf keys from tw_master */
	xr_codec *codec;
	xr_env_decoder inner;	/* the protobuf-c decoder */
	xr_env_decoder dec;	/* counting wrapper around it */
	unsigned decodes, releases;
	xr_nonce_cache *nonces;
	xr_rx rx;		/* server side: receives web->exec */
	xr_env_view view;
};

static int
count_decode(void *ctx, const uint8_t *env, size_t len, xr_env_view *view)
{
	struct fx *f = ctx;

	f->decodes++;
	return f->inner.decode(f->inner.ctx, env, len, view);
}

static void
count_release(void *ctx)
{
	struct fx *f = ctx;

	f->releases++;
	f->inner.release(f->inner.ctx);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->auth = tw_auth(XR_KDF_HKDF_SHA256);
	f->codec = xr_codec_new();
	f->nonces = xr_nonce_cache_new(64, TTL);
	if (f->codec == NULL || f->nonces == NULL)
		return -1;
	f->inner = xr_codec_decoder(f->codec);
	f->dec.decode = count_decode;
	f->dec.release = count_release;
	f->dec.ctx = f;
	f->rx.auth = f->auth;
	f->rx.dir = XR_DIR_WEB_TO_EXEC;
	f->rx.kind_mask = SERVER_KINDS;
	f->rx.ttl_ms = TTL;
	f->rx.max_body = xr_frame_max_body(MAX_PAYLOAD);
	f->rx.nonces = f->nonces;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	xr_auth_free(f->auth);
	xr_codec_free(f->codec);
	xr_nonce_cache_free(f->nonces);
	free(f);
	return 0;
}

/* Assert that between `a` and `b` exactly the counter of `code` (accepted
 * for XR_OK) went up by one and nothing else moved. */
static void
assert_counted(const xr_rx_counters *a, const xr_rx_counters *b, int code)
{
	int idx = code == XR_OK ? -1 : xr_err_reject_index(code);

	assert_true(code == XR_OK || idx >= 0);
	for (int i = 0; i < XR_REJECT_COUNT; i++)
		if (b->rejects[i] != a->rejects[i] + (i == idx))
			fail_msg("counter %s: %llu -> %llu (expected %s)",
			    xr_reject_name(i), (unsigned long long)a->rejects[i],
			    (unsigned long long)b->rejects[i], xr_err_name(code));
	assert_int_equal(b->accepted, a->accepted + (idx < 0));
}

/* Run one frame through the pipeline and check code and counters. The
 * codec starts empty; on a reject nothing stays decoded. */
static void
rx_expect(struct fx *f, xr_rx *rx, xr_session *s, const uint8_t *body,
    size_t len, uint64_t now, int want)
{
	xr_rx_counters before = rx->counters;
	int r;

	xr_codec_reset(f->codec);
	r = xr_rx_frame(rx, s, body, len, now, &f->dec, &f->view);

	if (r != want)
		fail_msg("xr_rx_frame: got %s (%d), want %s (%d)",
		    xr_err_name(r), r, xr_err_name(want), want);
	assert_counted(&before, &rx->counters, want);
	if (want != XR_OK)
		assert_null(xr_codec_envelope(f->codec));
	else
		assert_non_null(xr_codec_envelope(f->codec));
}

static uint8_t *
hello(struct fx *f, uint64_t ts, size_t *len)
{
	return tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_HELLO, ts, NULL,
	    0, NULL, 0, len, NULL);
}

static uint8_t *
req(struct fx *f, const xr_session *s, uint64_t seq, uint64_t ts,
    size_t *len)
{
	static const uint8_t pl[] = { 0x0a, 0x02, 'h', 'i' };

	return tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_REQUEST, ts,
	    s->id, seq, pl, sizeof(pl), len, NULL);
}

/* A server connection after its HELLO: session OPEN with a fresh id. */
static void
open_conn(struct fx *f, xr_session *s)
{
	size_t len;
	uint8_t *b = hello(f, NOW, &len);

	memset(s, 0, sizeof(*s));
	rx_expect(f, &f->rx, s, b, len, NOW, XR_OK);
	assert_int_equal(f->view.kind, XR_KIND_HELLO);
	assert_int_equal(s->state, XR_SESSION_NONE);
	assert_int_equal(xr_session_open(s), XR_OK);
	free(b);
}

/* ---- SEC-IPC-01 ---- */

/* SEC-IPC-01: a validly signed frame is accepted; payload bytes and
 * metadata survive unchanged. */
static void
test_SEC_IPC_01_valid_frames_accepted_unchanged(void **state)
{
	struct fx *f = *state;
	Execrpc__V1__Header h1 = EXECRPC__V1__HEADER__INIT;
	Execrpc__V1__Header h2 = EXECRPC__V1__HEADER__INIT;
	Execrpc__V1__Header *hs[2] = { &h1, &h2 };
	uint8_t payload[300], trace[16];
	const Execrpc__V1__Envelope *d;
	xr_session s;
	tw_env e;
	size_t len;
	uint8_t *b;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 89);
	payload[0] = 0x00;
	payload[299] = 0xff;
	for (size_t i = 0; i < sizeof(trace); i++)
		trace[i] = (uint8_t)(0xa0 + i);
	open_conn(f, &s);

	tw_env_init(&e, XR_KIND_REQUEST, NOW - 5, s.id, 1, payload,
	    sizeof(payload));
	h1.key = "x-user";
	h1.value = "alice";
	h2.key = "x-empty";
	h2.value = "";
	e.env.n_headers = 2;
	e.env.headers = hs;
	e.env.method = "echo.v1.Echo/Say";
	e.env.call_id = 0x123456789abcULL;
	e.env.trace_id.data = trace;
	e.env.trace_id.len = sizeof(trace);
	e.env.target = "echo";
	e.env.reply_to = "reply-1";
	e.env.timeout_ms = 2500;
	b = tw_seal(f->auth, XR_DIR_WEB_TO_EXEC, &e.env, &len);
	f->decodes = 0;
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	assert_int_equal(f->decodes, 1);
	assert_int_equal(s.peer_seq, 1);

	/* the checked view */
	assert_int_equal(f->view.version, 1);
	assert_int_equal(f->view.kind, XR_KIND_REQUEST);
	assert_int_equal(f->view.ts_ms, NOW - 5);
	assert_int_equal(f->view.sequence, 1);
	assert_int_equal(f->view.nonce_len, XR_NONCE_LEN);
	assert_memory_equal(f->view.nonce, e.nonce, XR_NONCE_LEN);
	assert_int_equal(f->view.session_id_len, XR_SESSION_ID_LEN);
	assert_memory_equal(f->view.session_id, s.id, XR_SESSION_ID_LEN);
	assert_int_equal(f->view.ack_nonce_len, 0);

	/* the decoded envelope, byte for byte */
	d = xr_codec_envelope(f->codec);
	assert_non_null(d);
	assert_int_equal(d->payload.len, sizeof(payload));
	assert_memory_equal(d->payload.data, payload, sizeof(payload));
	assert_string_equal(d->method, "echo.v1.Echo/Say");
	assert_int_equal(d->call_id, 0x123456789abcULL);
	assert_int_equal(d->trace_id.len, sizeof(trace));
	assert_memory_equal(d->trace_id.data, trace, sizeof(trace));
	assert_int_equal(d->n_headers, 2);
	assert_string_equal(d->headers[0]->key, "x-user");
	assert_string_equal(d->headers[0]->value, "alice");
	assert_string_equal(d->headers[1]->key, "x-empty");
	assert_string_equal(d->headers[1]->value, "");
	assert_string_equal(d->target, "echo");
	assert_string_equal(d->reply_to, "reply-1");
	assert_int_equal(d->timeout_ms, 2500);
	assert_int_equal(d->kind, EXECRPC__V1__KIND__KIND_REQUEST);
	free(b);

	/* the next ones on the same session: CANCEL and PING are allowed too */
	b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_CANCEL, NOW, s.id, 2,
	    NULL, 0, &len, NULL);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	free(b);
	b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_PING, NOW, s.id, 7,
	    NULL, 0, &len, NULL);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	assert_int_equal(s.peer_seq, 7);
	free(b);
	assert_int_equal(f->rx.counters.accepted, 4);
}

/* The client side: PENDING, the HELLO_ACK for our HELLO opens the session,
 * then RESPONSEs on it. */
static void
test_SEC_IPC_01_client_hello_ack(void **state)
{
	struct fx *f = *state;
	xr_rx crx = f->rx;
	uint8_t hello_nonce[XR_NONCE_LEN], sid[XR_SESSION_ID_LEN];
	xr_session s;
	tw_env e;
	size_t len;
	uint8_t *b;

	memset(&crx.counters, 0, sizeof(crx.counters));
	crx.dir = XR_DIR_EXEC_TO_WEB;
	crx.kind_mask = CLIENT_KINDS;
	crx.nonces = NULL;
	memset(hello_nonce, 0x31, sizeof(hello_nonce));
	memset(sid, 0x77, sizeof(sid));
	xr_session_pending(&s, hello_nonce);

	tw_env_init(&e, XR_KIND_HELLO_ACK, NOW, sid, 1, NULL, 0);
	e.env.ack_nonce.data = hello_nonce;
	e.env.ack_nonce.len = XR_NONCE_LEN;
	b = tw_seal(f->auth, XR_DIR_EXEC_TO_WEB, &e.env, &len);
	rx_expect(f, &crx, &s, b, len, NOW, XR_OK);
	assert_int_equal(s.state, XR_SESSION_OPEN);
	assert_memory_equal(s.id, sid, sizeof(sid));
	/* the same ack again */
	rx_expect(f, &crx, &s, b, len, NOW, XR_ERR_REPLAY);
	free(b);
	b = tw_frame(f->auth, XR_DIR_EXEC_TO_WEB, XR_KIND_RESPONSE, NOW, sid, 2,
	    NULL, 0, &len, NULL);
	rx_expect(f, &crx, &s, b, len, NOW, XR_OK);
	free(b);
	/* a REQUEST is not something a client receives */
	b = tw_frame(f->auth, XR_DIR_EXEC_TO_WEB, XR_KIND_REQUEST, NOW, sid, 3,
	    NULL, 0, &len, NULL);
	rx_expect(f, &crx, &s, b, len, NOW, XR_ERR_KIND_NOT_ALLOWED);
	free(b);
}

/* ---- SEC-IPC-02 ---- */

/* SEC-IPC-02: an invalid or missing tag is BAD_SIGNATURE, and nothing is
 * decoded. */
static void
test_SEC_IPC_02_bad_tags_rejected_before_decode(void **state)
{
	struct fx *f = *state;
	const uint8_t *env, *tag;
	size_t len, env_len, tag_len, bl;
	uint8_t t[XR_TAG_LEN + 1], *b, *good;
	xr_auth *other;
	xr_session s;

	good = hello(f, NOW, &len);
	assert_int_equal(xr_frame_split(good, len, &env, &env_len, &tag,
	    &tag_len), XR_OK);
	assert_int_equal(tag_len, XR_TAG_LEN);
	memcpy(t, tag, XR_TAG_LEN);
	t[XR_TAG_LEN] = 0x00;
	f->decodes = 0;
	memset(&s, 0, sizeof(s));

	/* missing tag */
	b = tw_body(env, env_len, NULL, 0, &bl);
	rx_expect(f, &f->rx, &s, b, bl, NOW, XR_ERR_BAD_SIGNATURE);
	free(b);
	/* empty tag field */
	b = tw_body(env, env_len, t, 0, &bl);
	rx_expect(f, &f->rx, &s, b, bl, NOW, XR_ERR_BAD_SIGNATURE);
	free(b);
	/* short: the first 31 bytes of the right tag */
	b = tw_body(env, env_len, t, 31, &bl);
	rx_expect(f, &f->rx, &s, b, bl, NOW, XR_ERR_BAD_SIGNATURE);
	free(b);
	/* long: the right tag plus one byte */
	b = tw_body(env, env_len, t, 33, &bl);
	rx_expect(f, &f->rx, &s, b, bl, NOW, XR_ERR_BAD_SIGNATURE);
	free(b);
	/* bit-flipped: first, middle and last bits */
	{
		static const size_t bits[] = { 0, 7, 128, 255 };

		for (size_t i = 0; i < 4; i++) {
			uint8_t tt[XR_TAG_LEN];

			memcpy(tt, t, XR_TAG_LEN);
			tt[bits[i] / 8] ^= (uint8_t)(1u << (bits[i] % 8));
			b = tw_body(env, env_len, tt, XR_TAG_LEN, &bl);
			rx_expect(f, &f->rx, &s, b, bl, NOW,
			    XR_ERR_BAD_SIGNATURE);
			free(b);
		}
	}
	/* signed with another key (another master), same direction */
	other = tw_auth_other(XR_KDF_HKDF_SHA256, 0x01);
	b = tw_frame(other, XR_DIR_WEB_TO_EXEC, XR_KIND_HELLO, NOW, NULL, 0,
	    NULL, 0, &bl, NULL);
	rx_expect(f, &f->rx, &s, b, bl, NOW, XR_ERR_BAD_SIGNATURE);
	free(b);
	xr_auth_free(other);
	/* signed with the exec->web key of the right master */
	b = tw_frame(f->auth, XR_DIR_EXEC_TO_WEB, XR_KIND_HELLO, NOW, NULL, 0,
	    NULL, 0, &bl, NULL);
	rx_expect(f, &f->rx, &s, b, bl, NOW, XR_ERR_BAD_SIGNATURE);
	free(b);

	assert_int_equal(f->decodes, 0);
	assert_int_equal(f->rx.counters.rejects[XR_REJECT_BAD_SIGNATURE], 10);
	assert_int_equal(xr_nonce_cache_count(f->nonces), 0);
	/* the untouched frame is fine */
	rx_expect(f, &f->rx, &s, good, len, NOW, XR_OK);
	assert_int_equal(f->decodes, 1);
	free(good);
}

/* The MAC direction label: a frame signed for web->exec does not verify on
 * an exec->web (or control) receiver even when every key is the master. */
static void
test_SEC_IPC_02_direction_reflection_kdf_none(void **state)
{
	struct fx *f = *state;
	xr_auth *none = tw_auth(XR_KDF_NONE);
	xr_rx crx = f->rx;
	xr_session s;
	size_t len;
	uint8_t *b;

	memset(&crx.counters, 0, sizeof(crx.counters));
	crx.auth = none;
	crx.kind_mask = 0xffffffffu;
	b = tw_frame(none, XR_DIR_WEB_TO_EXEC, XR_KIND_HELLO, NOW, NULL, 0,
	    NULL, 0, &len, NULL);
	f->decodes = 0;
	memset(&s, 0, sizeof(s));
	crx.dir = XR_DIR_EXEC_TO_WEB;
	rx_expect(f, &crx, &s, b, len, NOW, XR_ERR_BAD_SIGNATURE);
	crx.dir = XR_DIR_CONTROL;
	rx_expect(f, &crx, &s, b, len, NOW, XR_ERR_BAD_SIGNATURE);
	assert_int_equal(f->decodes, 0);
	crx.dir = XR_DIR_WEB_TO_EXEC;
	rx_expect(f, &crx, &s, b, len, NOW, XR_OK);
	free(b);
	xr_auth_free(none);
}

/* ---- SEC-IPC-03 ---- */

/* SEC-IPC-03: ts outside the ttl, past or future, is EXPIRED; exactly
 * now +- ttl passes. */
static void
test_SEC_IPC_03_ttl_boundaries(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t ts;
		int want;
	} cases[] = {
		{ NOW - TTL - 1, XR_ERR_EXPIRED },
		{ NOW + TTL + 1, XR_ERR_EXPIRED },
		{ NOW - TTL, XR_OK },
		{ NOW + TTL, XR_OK },
		{ NOW, XR_OK },
		{ 0, XR_ERR_EXPIRED },
		{ UINT64_MAX, XR_ERR_EXPIRED },
		{ NOW - 10 * TTL, XR_ERR_EXPIRED },
	};
	xr_session s, before;
	size_t len;
	uint8_t *b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&s, 0, sizeof(s));
		b = hello(f, cases[i].ts, &len);
		rx_expect(f, &f->rx, &s, b, len, NOW, cases[i].want);
		free(b);
	}
	/* an expired REQUEST on an open session leaves its state alone */
	open_conn(f, &s);
	before = s;
	b = req(f, &s, 1, NOW - TTL - 1, &len);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_ERR_EXPIRED);
	assert_memory_equal(&s, &before, sizeof(s));
	free(b);
	b = req(f, &s, 1, NOW + TTL, &len);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	free(b);
}

/* ---- SEC-IPC-04 ---- */

/* SEC-IPC-04: a replayed HELLO (nonce) is REPLAY, on a new connection and on
 * the connection that already has a session; once its ts is past the ttl
 * it is EXPIRED. */
static void
test_SEC_IPC_04_hello_replay(void **state)
{
	struct fx *f = *state;
	xr_session s1, s2, s3;
	size_t len;
	uint8_t *b = hello(f, NOW, &len);

	memset(&s1, 0, sizeof(s1));
	rx_expect(f, &f->rx, &s1, b, len, NOW, XR_OK);
	assert_int_equal(xr_session_open(&s1), XR_OK);
	/* same connection, session now open */
	rx_expect(f, &f->rx, &s1, b, len, NOW + 1, XR_ERR_REPLAY);
	/* a fresh connection: caught by the nonce cache */
	memset(&s2, 0, sizeof(s2));
	rx_expect(f, &f->rx, &s2, b, len, NOW + 1, XR_ERR_REPLAY);
	rx_expect(f, &f->rx, &s2, b, len, NOW + TTL, XR_ERR_REPLAY);
	assert_int_equal(s2.state, XR_SESSION_NONE);
	/* after the ttl: EXPIRED, never accepted again */
	memset(&s3, 0, sizeof(s3));
	rx_expect(f, &f->rx, &s3, b, len, NOW + TTL + 1, XR_ERR_EXPIRED);
	rx_expect(f, &f->rx, &s3, b, len, NOW + 100 * TTL, XR_ERR_EXPIRED);
	free(b);
}

/* SEC-IPC-04: a replayed REQUEST (session + sequence) is REPLAY on the same
 * connection, on another connection with its own session, and on a
 * connection without a session. */
static void
test_SEC_IPC_04_request_replay(void **state)
{
	struct fx *f = *state;
	xr_session a, b_sess, none, before;
	size_t len, len2;
	uint8_t *r1, *r2;

	open_conn(f, &a);
	r1 = req(f, &a, 1, NOW, &len);
	rx_expect(f, &f->rx, &a, r1, len, NOW, XR_OK);
	/* delivered twice */
	rx_expect(f, &f->rx, &a, r1, len, NOW, XR_ERR_REPLAY);
	r2 = req(f, &a, 2, NOW, &len2);
	rx_expect(f, &f->rx, &a, r2, len2, NOW, XR_OK);
	rx_expect(f, &f->rx, &a, r1, len, NOW, XR_ERR_REPLAY);
	rx_expect(f, &f->rx, &a, r2, len2, NOW, XR_ERR_REPLAY);

	/* to a fresh connection B, after B's own HELLO: B's session id differs */
	open_conn(f, &b_sess);
	before = b_sess;
	rx_expect(f, &f->rx, &b_sess, r1, len, NOW, XR_ERR_REPLAY);
	rx_expect(f, &f->rx, &b_sess, r2, len2, NOW, XR_ERR_REPLAY);
	assert_memory_equal(&b_sess, &before, sizeof(b_sess));
	/* to a connection with no session */
	memset(&none, 0, sizeof(none));
	rx_expect(f, &f->rx, &none, r1, len, NOW, XR_ERR_REPLAY);
	assert_int_equal(none.state, XR_SESSION_NONE);
	free(r1);
	free(r2);
}

/* A full nonce cache fails closed; counted as REPLAY. No cache at all:
 * session-opening frames are refused. */
static void
test_SEC_IPC_04_nonce_cache_full_and_absent(void **state)
{
	struct fx *f = *state;
	xr_nonce_cache *small = xr_nonce_cache_new(2, TTL);
	xr_rx r2 = f->rx;
	xr_session s;
	size_t len;
	uint8_t *b;

	assert_non_null(small);
	memset(&r2.counters, 0, sizeof(r2.counters));
	r2.nonces = small;
	for (int i = 0; i < 2; i++) {
		memset(&s, 0, sizeof(s));
		b = hello(f, NOW, &len);
		rx_expect(f, &r2, &s, b, len, NOW, XR_OK);
		free(b);
	}
	memset(&s, 0, sizeof(s));
	b = hello(f, NOW, &len);
	rx_expect(f, &r2, &s, b, len, NOW, XR_ERR_NONCE_CACHE_FULL);
	rx_expect(f, &r2, &s, b, len, NOW, XR_ERR_NONCE_CACHE_FULL);
	r2.nonces = NULL;
	rx_expect(f, &r2, &s, b, len, NOW, XR_ERR_REPLAY);
	free(b);
	xr_nonce_cache_free(small);
}

/* ---- SEC-IPC-05 ---- */

/* SEC-IPC-05: a length over the limit is OVERSIZED, before anything is
 * verified or decoded. */
static void
test_SEC_IPC_05_oversized(void **state)
{
	struct fx *f = *state;
	xr_rx_counters before = f->rx.counters;
	size_t max = f->rx.max_body;
	xr_session s;
	uint8_t *big;

	assert_int_equal(max, MAX_PAYLOAD + XR_ENVELOPE_OVERHEAD);
	assert_int_equal(xr_rx_check_len(&f->rx, (uint32_t)max), XR_OK);
	assert_memory_equal(&before, &f->rx.counters, sizeof(before));
	assert_int_equal(xr_rx_check_len(&f->rx, (uint32_t)max + 1),
	    XR_ERR_OVERSIZED);
	assert_counted(&before, &f->rx.counters, XR_ERR_OVERSIZED);
	before = f->rx.counters;
	assert_int_equal(xr_rx_check_len(&f->rx, UINT32_MAX), XR_ERR_OVERSIZED);
	assert_counted(&before, &f->rx.counters, XR_ERR_OVERSIZED);

	big = calloc(1, max + 1);
	assert_non_null(big);
	f->decodes = 0;
	memset(&s, 0, sizeof(s));
	rx_expect(f, &f->rx, &s, big, max + 1, NOW, XR_ERR_OVERSIZED);
	assert_int_equal(f->decodes, 0);
	/* a count from outside the pipeline (the reader's OVERSIZED) */
	before = f->rx.counters;
	xr_rx_count(&f->rx, XR_ERR_OVERSIZED);
	assert_counted(&before, &f->rx.counters, XR_ERR_OVERSIZED);
	before = f->rx.counters;
	xr_rx_count(&f->rx, XR_ERR_NOMEM);
	assert_memory_equal(&before, &f->rx.counters, sizeof(before));
	free(big);
}

/* A payload at the limit fits in max_body (the envelope overhead covers the
 * metadata), and is accepted. */
static void
test_SEC_IPC_05_max_payload_accepted(void **state)
{
	struct fx *f = *state;
	uint8_t *payload = calloc(1, MAX_PAYLOAD);
	xr_session s;
	size_t len;
	uint8_t *b;

	assert_non_null(payload);
	open_conn(f, &s);
	b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_REQUEST, NOW, s.id,
	    1, payload, MAX_PAYLOAD, &len, NULL);
	assert_true(len <= f->rx.max_body);
	assert_int_equal(xr_rx_check_len(&f->rx, (uint32_t)len), XR_OK);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	assert_int_equal(xr_codec_envelope(f->codec)->payload.len, MAX_PAYLOAD);
	free(b);
	free(payload);
}

/* ---- SEC-IPC-06 and MALFORMED ---- */

/* SEC-IPC-06: a kind outside the endpoint's whitelist is KIND_NOT_ALLOWED,
 * and the session does not advance. */
static void
test_SEC_IPC_06_kind_not_allowed(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = { XR_KIND_RESPONSE, XR_KIND_HELLO_ACK,
	    XR_KIND_GOAWAY, XR_KIND_PONG, XR_KIND_CONTROL,
	    XR_KIND_CONTROL_REPLY, 0, 11, 31, 32, 1000, 0x7fffffff };
	xr_session s, before;
	size_t len;
	uint8_t *b;

	open_conn(f, &s);
	before = s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, bad[i], NOW, s.id,
		    i + 1, NULL, 0, &len, NULL);
		f->releases = 0;
		rx_expect(f, &f->rx, &s, b, len, NOW, XR_ERR_KIND_NOT_ALLOWED);
		assert_int_equal(f->releases, 1);
		free(b);
	}
	assert_memory_equal(&s, &before, sizeof(s));
	/* a session-less RESPONSE (would take the nonce path) likewise */
	{
		xr_session n;

		memset(&n, 0, sizeof(n));
		b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_RESPONSE, NOW,
		    NULL, 0, NULL, 0, &len, NULL);
		rx_expect(f, &f->rx, &n, b, len, NOW, XR_ERR_KIND_NOT_ALLOWED);
		free(b);
	}
	assert_int_equal(xr_nonce_cache_count(f->nonces), 1);
}

static void
test_malformed(void **state)
{
	struct fx *f = *state;
	static const uint8_t garbage[][6] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },	/* endless varint */
		{ 0x0a, 0x04, 'a', 'b', 'c', 'd' },	/* version as bytes */
		{ 0x1a, 0x10, 0, 0, 0, 0 },		/* nonce past end */
		{ 0x07, 0x00, 0x00, 0x00, 0x00, 0x00 },	/* wire type 7 */
	};
	uint8_t n17[17], ack3[3];
	xr_session s;
	tw_env e;
	size_t len;
	uint8_t *b;
	struct {
		const char *what;
		int field;
	} cases[] = {
		{ "version 2", 0 }, { "version 0", 1 }, { "nonce 15", 2 },
		{ "nonce 17", 3 }, { "no nonce", 4 }, { "session id 15", 5 },
		{ "session id 17", 6 }, { "ack_nonce 3", 7 },
	};

	memset(n17, 0x17, sizeof(n17));
	memset(ack3, 0x03, sizeof(ack3));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&s, 0, sizeof(s));
		tw_env_init(&e, XR_KIND_HELLO, NOW, NULL, 0, NULL, 0);
		switch (cases[i].field) {
		case 0: e.env.version = 2; break;
		case 1: e.env.version = 0; break;
		case 2: e.env.nonce.len = 15; break;
		case 3: e.env.nonce.data = n17; e.env.nonce.len = 17; break;
		case 4: e.env.nonce.len = 0; break;
		case 5:
			e.env.session_id.data = e.session;
			e.env.session_id.len = 15;
			break;
		case 6:
			e.env.session_id.data = n17;
			e.env.session_id.len = 17;
			break;
		case 7: e.env.ack_nonce.data = ack3; e.env.ack_nonce.len = 3; break;
		}
		b = tw_seal(f->auth, XR_DIR_WEB_TO_EXEC, &e.env, &len);
		f->decodes = 0;
		f->releases = 0;
		rx_expect(f, &f->rx, &s, b, len, NOW, XR_ERR_MALFORMED);
		assert_int_equal(f->decodes, 1);
		assert_int_equal(f->releases, 1);
		free(b);
	}
	/* validly signed bytes that are not an Envelope */
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		memset(&s, 0, sizeof(s));
		b = tw_seal_raw(f->auth, XR_DIR_WEB_TO_EXEC, garbage[i],
		    sizeof(garbage[i]), &len);
		f->decodes = 0;
		rx_expect(f, &f->rx, &s, b, len, NOW, XR_ERR_MALFORMED);
		assert_int_equal(f->decodes, 1);
		free(b);
	}
	/* a signed empty envelope decodes to version 0 */
	memset(&s, 0, sizeof(s));
	b = tw_seal_raw(f->auth, XR_DIR_WEB_TO_EXEC, garbage[0], 0, &len);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_ERR_MALFORMED);
	free(b);
	assert_int_equal(xr_nonce_cache_count(f->nonces), 0);
}

/* Steps run in the documented order: the first failing step decides. */
static void
test_pipeline_order(void **state)
{
	struct fx *f = *state;
	xr_session s;
	tw_env e;
	size_t len, ok_len;
	uint8_t *b, *ok;

	ok = hello(f, NOW, &ok_len);
	memset(&s, 0, sizeof(s));
	rx_expect(f, &f->rx, &s, ok, ok_len, NOW, XR_OK);
	/* malformed + not allowed + expired + replayed nonce -> MALFORMED */
	tw_env_init(&e, XR_KIND_RESPONSE, 0, NULL, 0, NULL, 0);
	e.env.version = 2;
	b = tw_seal(f->auth, XR_DIR_WEB_TO_EXEC, &e.env, &len);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_ERR_MALFORMED);
	free(b);
	/* not allowed + expired -> KIND_NOT_ALLOWED */
	b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_RESPONSE, 0, NULL, 0,
	    NULL, 0, &len, NULL);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_ERR_KIND_NOT_ALLOWED);
	free(b);
	/* the replayed HELLO, also expired -> EXPIRED */
	memset(&s, 0, sizeof(s));
	rx_expect(f, &f->rx, &s, ok, ok_len, NOW + TTL + 1, XR_ERR_EXPIRED);
	free(ok);
}

/* ---- fuzz loops (docs/design.md, code conventions) ---- */

/* Every bit flip of a valid HELLO body and every truncation of it is
 * rejected cleanly; no flip leaves the tag valid, so the decoder never
 * runs. */
static void
test_hello_every_bit_flip_and_truncation(void **state)
{
	struct fx *f = *state;
	size_t len;
	uint8_t *b = hello(f, NOW, &len), *c;
	xr_session s;

	f->decodes = 0;
	for (size_t bit = 0; bit < len * 8; bit++) {
		c = tw_dup(b, len);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(&s, 0, sizeof(s));
		rx_expect(f, &f->rx, &s, c, len, NOW, XR_ERR_BAD_SIGNATURE);
		assert_int_equal(s.state, XR_SESSION_NONE);
		free(c);
	}
	assert_int_equal(f->decodes, 0);
	for (size_t n = 0; n < len; n++) {
		c = tw_dup(b, n);
		memset(&s, 0, sizeof(s));
		rx_expect(f, &f->rx, &s, c, n, NOW, XR_ERR_BAD_SIGNATURE);
		free(c);
	}
	assert_int_equal(f->decodes, 0);
	assert_int_equal(xr_nonce_cache_count(f->nonces), 0);
	assert_int_equal(f->rx.counters.rejects[XR_REJECT_BAD_SIGNATURE],
	    len * 8 + len);
	/* and the original still passes */
	memset(&s, 0, sizeof(s));
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	free(b);
}

/* The same over a REQUEST with a payload on an open session: the session
 * never moves until the genuine frame arrives. */
static void
test_request_every_bit_flip(void **state)
{
	struct fx *f = *state;
	uint8_t payload[64], *b, *c;
	xr_session s, before;
	size_t len;

	memset(payload, 0x5c, sizeof(payload));
	open_conn(f, &s);
	before = s;
	b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_REQUEST, NOW, s.id,
	    1, payload, sizeof(payload), &len, NULL);
	f->decodes = 0;
	for (size_t bit = 0; bit < len * 8; bit++) {
		c = tw_dup(b, len);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rx_expect(f, &f->rx, &s, c, len, NOW, XR_ERR_BAD_SIGNATURE);
		free(c);
	}
	assert_int_equal(f->decodes, 0);
	assert_memory_equal(&s, &before, sizeof(s));
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	assert_int_equal(s.peer_seq, 1);
	free(b);
}

/* Issue 11 defect 12: an outlier envelope (a full MAX_PAYLOAD request)
 * grows the codec's arena past XR_CODEC_ARENA_KEEP; releasing it gives the
 * arena back, and the next ordinary frame finds the baseline again. */
static void
test_codec_arena_shrinks_after_outlier(void **state)
{
	struct fx *f = *state;
	xr_session s;
	uint8_t *b, *big;
	size_t len, base;

	open_conn(f, &s);
	xr_codec_reset(f->codec);
	base = xr_codec_arena_bytes(f->codec);
	assert_true(base > 0 && base <= XR_CODEC_ARENA_KEEP);

	assert_non_null(big = calloc(1, MAX_PAYLOAD));
	b = tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_REQUEST, NOW, s.id,
	    1, big, MAX_PAYLOAD, &len, NULL);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	assert_true(xr_codec_arena_bytes(f->codec) > XR_CODEC_ARENA_KEEP);
	free(b);
	free(big);
	f->inner.release(f->inner.ctx);
	assert_int_equal(xr_codec_arena_bytes(f->codec), 0);

	b = req(f, &s, 2, NOW, &len);
	rx_expect(f, &f->rx, &s, b, len, NOW, XR_OK);
	xr_codec_reset(f->codec);
	assert_int_equal(xr_codec_arena_bytes(f->codec), base);
	free(b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_SEC_IPC_01_valid_frames_accepted_unchanged),
		T(test_SEC_IPC_01_client_hello_ack),
		T(test_SEC_IPC_02_bad_tags_rejected_before_decode),
		T(test_SEC_IPC_02_direction_reflection_kdf_none),
		T(test_SEC_IPC_03_ttl_boundaries),
		T(test_SEC_IPC_04_hello_replay),
		T(test_SEC_IPC_04_request_replay),
		T(test_SEC_IPC_04_nonce_cache_full_and_absent),
		T(test_SEC_IPC_05_oversized),
		T(test_SEC_IPC_05_max_payload_accepted),
		T(test_SEC_IPC_06_kind_not_allowed),
		T(test_malformed),
		T(test_pipeline_order),
		T(test_hello_every_bit_flip_and_truncation),
		T(test_request_every_bit_flip),
		T(test_codec_arena_shrinks_after_outlier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
