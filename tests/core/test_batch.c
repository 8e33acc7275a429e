/* tests/core/test_batch.c — core/batch.c (the Batch payload, written and
 * walked) and xr_rx_inner() (each envelope of a verified BATCH checked as a
 * frame of its own). Exact codes and counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "codec.h"
#include "frame.h"
#include "helper_wire.h"
#include "rx.h"

#define NOW 1700000000000ULL
#define TTL 30000ULL
#define SERVER_KINDS (XR_KIND_BIT(XR_KIND_HELLO) | XR_KIND_BIT(XR_KIND_REQUEST) | \
    XR_KIND_BIT(XR_KIND_CANCEL) | XR_KIND_BIT(XR_KIND_PING) | \
    XR_KIND_BIT(XR_KIND_BATCH))

/* ---- the payload ---- */

/* Append one item to `buf` at `*off`. */
static void
put_item(uint8_t *buf, size_t *off, const uint8_t *env, size_t len)
{
	size_t h = xr_batch_item_header(buf + *off, len);

	memcpy(buf + *off + h, env, len);
	assert_int_equal(h + len, xr_batch_item_len(len));
	*off += h + len;
}

static void
test_items_round_trip(void **state)
{
	static uint8_t big[300], small[3] = { 1, 2, 3 };
	uint8_t buf[400];
	const uint8_t *e;
	size_t off = 0, len;
	xr_batch_iter it;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	put_item(buf, &off, small, sizeof(small));
	put_item(buf, &off, big, sizeof(big));
	/* exact bytes: key 0x0a, varint 3; key 0x0a, varint 300 = ac 02 */
	assert_int_equal(off, 2 + 3 + 3 + 300);
	assert_int_equal(buf[0], 0x0a);
	assert_int_equal(buf[1], 3);
	assert_int_equal(buf[5], 0x0a);
	assert_int_equal(buf[6], 0xac);
	assert_int_equal(buf[7], 0x02);

	xr_batch_iter_init(&it, buf, off, 2);
	assert_int_equal(xr_batch_next(&it, &e, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(e, small, 3);
	assert_int_equal(xr_batch_next(&it, &e, &len), 1);
	assert_int_equal(len, 300);
	assert_memory_equal(e, big, 300);
	assert_int_equal(xr_batch_next(&it, &e, &len), 0);
	assert_int_equal(it.count, 2);
}

/* Every malformed payload, each ending the walk with XR_ERR_MALFORMED
 * after `good` items. */
static void
test_items_malformed(void **state)
{
	static const struct {
		const char *what;
		uint8_t b[12];
		size_t len;
		uint32_t max;
		int good;
	} cases[] = {
		{ "empty batch", { 0 }, 0, 8, 0 },
		{ "empty item", { 0x0a, 0x00 }, 2, 8, 0 },
		{ "wrong field", { 0x12, 0x01, 0x00 }, 3, 8, 0 },
		{ "wrong wire type", { 0x08, 0x01 }, 2, 8, 0 },
		{ "length past the end", { 0x0a, 0x05, 1, 2, 3 }, 5, 8, 0 },
		{ "key without length", { 0x0a, 0x01, 0x07, 0x0a }, 4, 8, 1 },
		{ "unterminated varint", { 0x0a, 0x80, 0x80 }, 3, 8, 0 },
		{ "5-byte varint", { 0x0a, 0x81, 0x80, 0x80, 0x80, 0x00 }, 6, 8, 0 },
		{ "more items than max", { 0x0a, 1, 7, 0x0a, 1, 8, 0x0a, 1, 9 },
		    9, 2, 2 },
	};
	const uint8_t *e;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xr_batch_iter it;
		uint8_t *copy = tw_dup(cases[i].b, cases[i].len);
		int r, n = 0;

		xr_batch_iter_init(&it, copy, cases[i].len, cases[i].max);
		while ((r = xr_batch_next(&it, &e, &len)) == 1)
			n++;
		if (r != XR_ERR_MALFORMED || n != cases[i].good)
			fail_msg("%s: %d after %d items (want MALFORMED after %d)",
			    cases[i].what, r, n, cases[i].good);
		free(copy);
	}
}

/* ---- the pipeline ---- */

struct fx {
	xr_auth *auth;
	xr_codec *outer, *inner;
	xr_nonce_cache *nonces;
	xr_rx rx;
	xr_session s;
	uint8_t payload[4096];
	size_t payload_len;
	uint64_t next_seq;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->auth = tw_auth(XR_KDF_HKDF_SHA256);
	f->outer = xr_codec_new();
	f->inner = xr_codec_new();
	f->nonces = xr_nonce_cache_new(64, TTL);
	if (f->outer == NULL || f->inner == NULL || f->nonces == NULL)
		return -1;
	f->rx.auth = f->auth;
	f->rx.dir = XR_DIR_WEB_TO_EXEC;
	f->rx.kind_mask = SERVER_KINDS;
	f->rx.open_kind_mask = XR_KIND_BIT(XR_KIND_HELLO);
	f->rx.ttl_ms = TTL;
	f->rx.max_body = xr_frame_max_body(65536);
	f->rx.nonces = f->nonces;
	if (xr_session_open(&f->s) != XR_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	xr_codec_free(f->outer);
	xr_codec_free(f->inner);
	xr_nonce_cache_free(f->nonces);
	xr_auth_free(f->auth);
	free(f);
	return 0;
}

/* Add an envelope of `kind` with sequence `seq` and time `ts` to the
 * batch being built (session: the fixture's, unless `no_session`). */
static void
add_env(struct fx *f, uint32_t kind, uint64_t seq, uint64_t ts,
    int no_session)
{
	uint8_t env[512];
	tw_env e;
	size_t n;

	tw_env_init(&e, kind, ts, no_session ? NULL : f->s.id, seq, NULL, 0);
	e.env.call_id = kind == XR_KIND_REQUEST ? seq : 0;
	e.env.method = kind == XR_KIND_REQUEST ? "echo.v1.Echo/Say" : "";
	n = execrpc__v1__envelope__get_packed_size(&e.env);
	assert_true(n <= sizeof(env));
	execrpc__v1__envelope__pack(&e.env, env);
	put_item(f->payload, &f->payload_len, env, n);
}

/* Seal the batch built so far as a BATCH with sequence `seq`. */
static uint8_t *
seal_batch(struct fx *f, uint64_t seq, size_t *len)
{
	return tw_frame(f->auth, XR_DIR_WEB_TO_EXEC, XR_KIND_BATCH, NOW,
	    f->s.id, seq, f->payload, f->payload_len, len, NULL);
}

/*
 * Run a sealed BATCH through the pipeline the way an endpoint does: the
 * frame with xr_rx_frame(), then each envelope with xr_rx_inner() (decoded
 * by a second codec, so the outer payload stays valid), stopping at the
 * first reject. Returns that reject (or XR_OK); `*kinds` gets the kinds of
 * the envelopes that passed, one decimal digit each.
 */
static int
run_batch(struct fx *f, const uint8_t *body, size_t len, char *kinds)
{
	xr_env_decoder od = xr_codec_decoder(f->outer);
	xr_env_decoder id = xr_codec_decoder(f->inner);
	const Execrpc__V1__Envelope *o;
	const uint8_t *env;
	xr_env_view v;
	xr_batch_iter it;
	size_t env_len;
	int r;

	*kinds = '\0';
	xr_codec_reset(f->outer);
	if ((r = xr_rx_frame(&f->rx, &f->s, body, len, NOW, &od, &v)) != XR_OK)
		return r;
	assert_int_equal(v.kind, XR_KIND_BATCH);
	o = xr_codec_envelope(f->outer);
	xr_batch_iter_init(&it, o->payload.data, o->payload.len, XR_BATCH_MAX);
	while ((r = xr_batch_next(&it, &env, &env_len)) == 1) {
		xr_codec_reset(f->inner);
		r = xr_rx_inner(&f->rx, &f->s, env, env_len, NOW, &id, &v);
		if (r != XR_OK)
			return r;
		*kinds++ = (char)('0' + v.kind);
		*kinds = '\0';
	}
	return r;
}

static void
test_batch_envelopes_checked_in_order(void **state)
{
	struct fx *f = *state;
	char kinds[16];
	uint8_t *b;
	size_t len;

	add_env(f, XR_KIND_REQUEST, 2, NOW, 0);
	add_env(f, XR_KIND_REQUEST, 3, NOW - 10, 0);
	add_env(f, XR_KIND_PING, 4, NOW + 10, 0);
	add_env(f, XR_KIND_CANCEL, 9, NOW, 0);
	b = seal_batch(f, 1, &len);
	assert_int_equal(run_batch(f, b, len, kinds), XR_OK);
	assert_string_equal(kinds, "3375");
	assert_int_equal(f->s.peer_seq, 9);
	assert_int_equal(f->rx.counters.accepted, 5);	/* the BATCH + 4 */

	/* the same BATCH again: its own sequence is stale */
	assert_int_equal(run_batch(f, b, len, kinds), XR_ERR_REPLAY);
	assert_string_equal(kinds, "");
	assert_int_equal(f->rx.counters.rejects[XR_REJECT_REPLAY], 1);
	assert_int_equal(f->rx.counters.accepted, 5);
	free(b);

	/* one flipped bit anywhere in an envelope: the BATCH's tag fails */
	f->payload_len = 0;
	add_env(f, XR_KIND_REQUEST, 11, NOW, 0);
	b = seal_batch(f, 10, &len);
	b[len / 2] ^= 0x01;
	assert_int_equal(run_batch(f, b, len, kinds), XR_ERR_BAD_SIGNATURE);
	assert_int_equal(f->rx.counters.rejects[XR_REJECT_BAD_SIGNATURE], 1);
	assert_int_equal(f->s.peer_seq, 9);
	free(b);
}

/* Each envelope meets the rules of a frame: the first that breaks one ends
 * the batch with that step's code and counter; the ones before it passed. */
static void
test_batch_envelope_rejects(void **state)
{
	static const struct {
		const char *what;
		uint32_t kind;
		uint64_t seq;		/* of the bad envelope; the BATCH is 1 */
		uint64_t ts;
		int no_session;
		int want;
	} cases[] = {
		{ "sequence not above the BATCH's", XR_KIND_REQUEST, 1, NOW, 0,
		    XR_ERR_REPLAY },
		{ "sequence not above the one before", XR_KIND_PING, 2, NOW, 0,
		    XR_ERR_REPLAY },
		{ "a HELLO inside", XR_KIND_HELLO, 5, NOW, 1,
		    XR_ERR_KIND_NOT_ALLOWED },
		{ "a BATCH inside", XR_KIND_BATCH, 5, NOW, 0,
		    XR_ERR_KIND_NOT_ALLOWED },
		{ "a kind the endpoint never takes", XR_KIND_RESPONSE, 5, NOW,
		    0, XR_ERR_KIND_NOT_ALLOWED },
		{ "no session id", XR_KIND_REQUEST, 5, NOW, 1,
		    XR_ERR_KIND_NOT_ALLOWED },
		{ "expired", XR_KIND_REQUEST, 5, NOW - TTL - 1, 0,
		    XR_ERR_EXPIRED },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xr_rx_counters before;
		char kinds[16];
		uint8_t *b;
		size_t len;
		int idx, r;

		xr_session_open(&f->s);	/* a fresh session each case */
		f->payload_len = 0;
		add_env(f, XR_KIND_REQUEST, 2, NOW, 0);
		add_env(f, cases[i].kind, cases[i].seq, cases[i].ts,
		    cases[i].no_session);
		add_env(f, XR_KIND_REQUEST, 20, NOW, 0);
		b = seal_batch(f, 1, &len);
		before = f->rx.counters;
		r = run_batch(f, b, len, kinds);
		if (r != cases[i].want || strcmp(kinds, "3") != 0)
			fail_msg("%s: %s after \"%s\" (want %s after \"3\")",
			    cases[i].what, xr_err_name(r), kinds,
			    xr_err_name(cases[i].want));
		idx = xr_err_reject_index(cases[i].want);
		for (int k = 0; k < XR_REJECT_COUNT; k++)
			assert_int_equal(f->rx.counters.rejects[k],
			    before.rejects[k] + (k == idx));
		assert_int_equal(f->rx.counters.accepted, before.accepted + 2);
		assert_null(xr_codec_envelope(f->inner));
		free(b);
	}
}

/* A signed envelope that is not an Envelope, inside a BATCH: MALFORMED. */
static void
test_batch_envelope_malformed(void **state)
{
	static const uint8_t junk[] = { 0x08, 0x02, 0xff };
	struct fx *f = *state;
	xr_env_decoder id = xr_codec_decoder(f->inner);
	xr_env_view v;

	assert_int_equal(xr_rx_inner(&f->rx, &f->s, junk, sizeof(junk), NOW,
	    &id, &v), XR_ERR_MALFORMED);
	assert_int_equal(f->rx.counters.rejects[XR_REJECT_MALFORMED], 1);
}

/* No BATCH before the session is open, and none where the kind is not
 * whitelisted (a peer that did not advertise max_batch). */
static void
test_batch_needs_session_and_whitelist(void **state)
{
	struct fx *f = *state;
	xr_env_decoder id = xr_codec_decoder(f->inner);
	xr_session none;
	xr_env_view v;
	char kinds[16];
	uint8_t env[256], *b;
	size_t n, len;
	tw_env e;

	memset(&none, 0, sizeof(none));
	tw_env_init(&e, XR_KIND_REQUEST, NOW, f->s.id, 2, NULL, 0);
	n = execrpc__v1__envelope__pack(&e.env, env);
	assert_int_equal(xr_rx_inner(&f->rx, &none, env, n, NOW, &id, &v),
	    XR_ERR_KIND_NOT_ALLOWED);

	f->rx.kind_mask &= ~XR_KIND_BIT(XR_KIND_BATCH);
	add_env(f, XR_KIND_REQUEST, 2, NOW, 0);
	b = seal_batch(f, 1, &len);
	assert_int_equal(run_batch(f, b, len, kinds), XR_ERR_KIND_NOT_ALLOWED);
	assert_int_equal(f->rx.counters.rejects[XR_REJECT_KIND_NOT_ALLOWED], 2);
	free(b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items_round_trip),
		cmocka_unit_test(test_items_malformed),
		T(test_batch_envelopes_checked_in_order),
		T(test_batch_envelope_rejects),
		T(test_batch_envelope_malformed),
		T(test_batch_needs_session_and_whitelist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
