/* tests/core/test_replay.c — core/replay.c: the bounded nonce cache and the
 * per-connection session state (SEC-IPC-04 at the unit level). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"
#include "rx.h"

static void
mk_nonce(uint8_t n[XR_NONCE_LEN], uint32_t v)
{
	memset(n, 0, XR_NONCE_LEN);
	memcpy(n, &v, sizeof(v));
	n[15] = 0x5a;
}

/* ---- nonce cache ---- */

static void
test_nonce_fresh_then_replay(void **state)
{
	xr_nonce_cache *c = xr_nonce_cache_new(8, 1000);
	uint8_t n[XR_NONCE_LEN];

	(void)state;
	assert_non_null(c);
	mk_nonce(n, 1);
	assert_int_equal(xr_nonce_cache_check(c, n, 5000, 5000), XR_OK);
	assert_int_equal(xr_nonce_cache_count(c), 1);
	assert_int_equal(xr_nonce_cache_check(c, n, 5000, 5000), XR_ERR_REPLAY);
	/* the replay's own ts does not matter */
	assert_int_equal(xr_nonce_cache_check(c, n, 5900, 5500), XR_ERR_REPLAY);
	assert_int_equal(xr_nonce_cache_count(c), 1);
	xr_nonce_cache_free(c);
	xr_nonce_cache_free(NULL);
	assert_null(xr_nonce_cache_new(0, 1000));
}

/* Full: a fresh nonce is rejected, stays rejected, and is not remembered. */
static void
test_nonce_cache_full_fails_closed(void **state)
{
	xr_nonce_cache *c = xr_nonce_cache_new(4, 1000);
	uint8_t n[XR_NONCE_LEN];
	const uint64_t now = 10000;

	(void)state;
	assert_non_null(c);
	for (uint32_t i = 0; i < 4; i++) {
		mk_nonce(n, i);
		assert_int_equal(xr_nonce_cache_check(c, n, now, now), XR_OK);
	}
	assert_int_equal(xr_nonce_cache_count(c), 4);
	mk_nonce(n, 99);
	assert_int_equal(xr_nonce_cache_check(c, n, now, now),
	    XR_ERR_NONCE_CACHE_FULL);
	assert_int_equal(xr_nonce_cache_check(c, n, now, now),
	    XR_ERR_NONCE_CACHE_FULL);
	assert_int_equal(xr_nonce_cache_check(c, n, now, now + 500),
	    XR_ERR_NONCE_CACHE_FULL);
	assert_int_equal(xr_nonce_cache_count(c), 4);
	/* a known nonce is still a replay, not "full" */
	mk_nonce(n, 2);
	assert_int_equal(xr_nonce_cache_check(c, n, now, now), XR_ERR_REPLAY);
	/* at exactly ts + ttl the entries are still live (rx accepts that ts) */
	mk_nonce(n, 99);
	assert_int_equal(xr_nonce_cache_check(c, n, now, now + 1000),
	    XR_ERR_NONCE_CACHE_FULL);
	assert_int_equal(xr_nonce_cache_count(c), 4);
	/* one ms later all four expire and the new nonce is accepted */
	assert_int_equal(xr_nonce_cache_check(c, n, now + 1001, now + 1001),
	    XR_OK);
	assert_int_equal(xr_nonce_cache_count(c), 1);
	/* an expired nonce is accepted again by the cache: rx's EXPIRED step
	 * is what rejects its frame */
	mk_nonce(n, 2);
	assert_int_equal(xr_nonce_cache_check(c, n, now, now + 1001), XR_OK);
	assert_int_equal(xr_nonce_cache_count(c), 2);
	xr_nonce_cache_free(c);
}

/* Naive reference model of the cache's contract: entries in arrival order,
 * dropped from the front while the front's ts + ttl is past now. */
struct ref_entry {
	uint8_t nonce[XR_NONCE_LEN];
	uint64_t expires;
};

struct ref_cache {
	struct ref_entry *e;
	size_t cap, head, count;
	uint64_t ttl;
};

static int
ref_check(struct ref_cache *r, const uint8_t n[XR_NONCE_LEN], uint64_t ts,
    uint64_t now)
{
	while (r->count > 0 && r->e[r->head].expires < now) {
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
	for (size_t i = 0; i < r->count; i++)
		if (memcmp(r->e[(r->head + i) % r->cap].nonce, n,
		    XR_NONCE_LEN) == 0)
			return XR_ERR_REPLAY;
	if (r->count == r->cap)
		return XR_ERR_NONCE_CACHE_FULL;
	memcpy(r->e[(r->head + r->count) % r->cap].nonce, n, XR_NONCE_LEN);
	r->e[(r->head + r->count) % r->cap].expires = ts + r->ttl;
	r->count++;
	return XR_OK;
}

static uint64_t
xs64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* 100k nonces with rolling time against capacity 1024, every decision
 * cross-checked with the reference model. Deletions happen constantly
 * (the cache's table is at most half full), so this exercises the
 * backward-shift deletion: a broken shift loses or duplicates entries and
 * a later lookup disagrees with the model. A quarter of the nonces reuse a
 * recent one, live or expired. */
static void
test_nonce_cache_stress_vs_reference(void **state)
{
	enum { CAP = 1024, N = 100000, HIST = 4096 };
	const uint64_t ttl = 1500;
	xr_nonce_cache *c = xr_nonce_cache_new(CAP, ttl);
	struct ref_cache ref = { calloc(CAP, sizeof(struct ref_entry)), CAP,
	    0, 0, ttl };
	uint8_t (*hist)[XR_NONCE_LEN] = calloc(HIST, XR_NONCE_LEN);
	size_t nhist = 0, ok = 0, replay = 0, full = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, now = 1000000;

	(void)state;
	assert_non_null(c);
	assert_non_null(ref.e);
	assert_non_null(hist);
	for (size_t i = 0; i < N; i++) {
		uint8_t n[XR_NONCE_LEN];
		uint64_t r = xs64(&seed), ts;
		int got, want;

		now += r % 4;
		/* ts anywhere rx would accept: now - ttl .. now + ttl */
		ts = now - ttl + (xs64(&seed) % (2 * ttl + 1));
		if (nhist > 0 && (r >> 8) % 4 == 0) {
			memcpy(n, hist[(xs64(&seed) % (nhist < HIST ? nhist :
			    HIST))], XR_NONCE_LEN);
		} else {
			uint64_t a = xs64(&seed), b = xs64(&seed);

			memcpy(n, &a, 8);
			memcpy(n + 8, &b, 8);
			memcpy(hist[nhist % HIST], n, XR_NONCE_LEN);
			nhist++;
		}
		want = ref_check(&ref, n, ts, now);
		got = xr_nonce_cache_check(c, n, ts, now);
		if (got != want)
			fail_msg("step %zu: cache %d, reference %d", i, got, want);
		assert_int_equal(xr_nonce_cache_count(c), ref.count);
		ok += got == XR_OK;
		replay += got == XR_ERR_REPLAY;
		full += got == XR_ERR_NONCE_CACHE_FULL;
	}
	/* the run covered every outcome */
	assert_true(ok > N / 4);
	assert_true(replay > 1000);
	assert_true(full > 1000);
	xr_nonce_cache_free(c);
	free(ref.e);
	free(hist);
}

/* ---- session state ---- */

static const uint8_t sid_a[XR_SESSION_ID_LEN] = "session-AAAAAAA";
static const uint8_t sid_b[XR_SESSION_ID_LEN] = "session-BBBBBBB";

static xr_env_view
view_session(const uint8_t *sid, uint64_t seq)
{
	xr_env_view v;

	memset(&v, 0, sizeof(v));
	v.version = 1;
	v.kind = XR_KIND_REQUEST;
	v.ts_ms = 1000;
	v.sequence = seq;
	v.nonce_len = XR_NONCE_LEN;
	mk_nonce(v.nonce, (uint32_t)seq + 1000);
	if (sid != NULL) {
		memcpy(v.session_id, sid, XR_SESSION_ID_LEN);
		v.session_id_len = XR_SESSION_ID_LEN;
	}
	return v;
}

static xr_session
open_session(const uint8_t *sid)
{
	xr_session s;

	memset(&s, 0, sizeof(s));
	s.state = XR_SESSION_OPEN;
	memcpy(s.id, sid, XR_SESSION_ID_LEN);
	return s;
}

static void
test_session_open_sequence(void **state)
{
	xr_session s = open_session(sid_a), before;
	xr_env_view v;

	(void)state;
	for (uint64_t q = 1; q <= 3; q++) {
		v = view_session(sid_a, q);
		assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_OK);
		assert_int_equal(s.peer_seq, q);
	}
	before = s;
	v = view_session(sid_a, 3);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	v = view_session(sid_a, 2);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	v = view_session(sid_a, 0);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	assert_memory_equal(&s, &before, sizeof(s));
	/* gaps are allowed */
	v = view_session(sid_a, 10);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_OK);
	assert_int_equal(s.peer_seq, 10);
	v = view_session(sid_a, 9);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	/* another session's id, even with a fresh sequence */
	before = s;
	v = view_session(sid_b, 11);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	/* a session id of the wrong length */
	v = view_session(sid_a, 12);
	v.session_id_len = 8;
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	assert_memory_equal(&s, &before, sizeof(s));
	/* the largest sequence, then nothing more */
	v = view_session(sid_a, UINT64_MAX);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_OK);
	v = view_session(sid_a, UINT64_MAX);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
}

static void
test_session_none_and_sessionless(void **state)
{
	xr_nonce_cache *c = xr_nonce_cache_new(4, 1000);
	xr_session s, o = open_session(sid_a), before;
	xr_env_view v;

	(void)state;
	assert_non_null(c);
	memset(&s, 0, sizeof(s));
	/* NONE + a session frame: belongs to another connection */
	v = view_session(sid_a, 1);
	assert_int_equal(xr_replay_check(&s, c, &v, 1000), XR_ERR_REPLAY);
	assert_int_equal(s.state, XR_SESSION_NONE);
	/* NONE + session-less: the nonce path */
	v = view_session(NULL, 0);
	assert_int_equal(xr_replay_check(&s, c, &v, 1000), XR_OK);
	assert_int_equal(xr_nonce_cache_count(c), 1);
	assert_int_equal(s.state, XR_SESSION_NONE);
	assert_int_equal(xr_replay_check(&s, c, &v, 1000), XR_ERR_REPLAY);
	/* no cache: session-less is refused */
	v = view_session(NULL, 1);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	/* nonce path reports a full cache as such */
	for (uint32_t i = 2; i <= 4; i++) {
		v = view_session(NULL, i);
		assert_int_equal(xr_replay_check(&s, c, &v, 1000), XR_OK);
	}
	v = view_session(NULL, 5);
	assert_int_equal(xr_replay_check(&s, c, &v, 1000),
	    XR_ERR_NONCE_CACHE_FULL);
	/* OPEN + session-less (a second HELLO): refused, cache untouched */
	before = o;
	v = view_session(NULL, 0);
	mk_nonce(v.nonce, 777);
	assert_int_equal(xr_replay_check(&o, c, &v, 1000), XR_ERR_REPLAY);
	assert_memory_equal(&o, &before, sizeof(o));
	assert_int_equal(xr_nonce_cache_count(c), 4);
	xr_nonce_cache_free(c);
}

static void
test_session_pending(void **state)
{
	uint8_t hello[XR_NONCE_LEN], other[XR_NONCE_LEN];
	xr_session s, before;
	xr_env_view v;

	(void)state;
	mk_nonce(hello, 42);
	mk_nonce(other, 43);
	xr_session_pending(&s, hello);
	assert_int_equal(s.state, XR_SESSION_PENDING);
	before = s;
	/* wrong ack_nonce */
	v = view_session(sid_b, 1);
	v.kind = XR_KIND_HELLO_ACK;
	memcpy(v.ack_nonce, other, XR_NONCE_LEN);
	v.ack_nonce_len = XR_NONCE_LEN;
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	assert_memory_equal(&s, &before, sizeof(s));
	/* no ack_nonce */
	v.ack_nonce_len = 0;
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	assert_memory_equal(&s, &before, sizeof(s));
	/* session-less while pending */
	v = view_session(NULL, 0);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	assert_memory_equal(&s, &before, sizeof(s));
	/* a matching ack_nonce on a kind other than HELLO_ACK */
	v = view_session(sid_b, 1);
	v.kind = XR_KIND_RESPONSE;
	memcpy(v.ack_nonce, hello, XR_NONCE_LEN);
	v.ack_nonce_len = XR_NONCE_LEN;
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	assert_memory_equal(&s, &before, sizeof(s));
	/* the matching ack: OPEN, adopting the id */
	v = view_session(sid_b, 1);
	v.kind = XR_KIND_HELLO_ACK;
	memcpy(v.ack_nonce, hello, XR_NONCE_LEN);
	v.ack_nonce_len = XR_NONCE_LEN;
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_OK);
	assert_int_equal(s.state, XR_SESSION_OPEN);
	assert_memory_equal(s.id, sid_b, XR_SESSION_ID_LEN);
	assert_int_equal(s.peer_seq, 1);
	/* the ack replayed is now an old sequence */
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_ERR_REPLAY);
	v = view_session(sid_b, 2);
	assert_int_equal(xr_replay_check(&s, NULL, &v, 1000), XR_OK);
}

static void
test_session_open_and_seq(void **state)
{
	xr_session a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(xr_session_open(&a), XR_OK);
	assert_int_equal(xr_session_open(&b), XR_OK);
	assert_int_equal(a.state, XR_SESSION_OPEN);
	assert_int_equal(a.peer_seq, 0);
	assert_memory_not_equal(a.id, b.id, XR_SESSION_ID_LEN);
	assert_int_equal(xr_session_next_seq(&a), 1);
	assert_int_equal(xr_session_next_seq(&a), 2);
	assert_int_equal(xr_session_next_seq(&b), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nonce_fresh_then_replay),
		cmocka_unit_test(test_nonce_cache_full_fails_closed),
		cmocka_unit_test(test_nonce_cache_stress_vs_reference),
		cmocka_unit_test(test_session_open_sequence),
		cmocka_unit_test(test_session_none_and_sessionless),
		cmocka_unit_test(test_session_pending),
		cmocka_unit_test(test_session_open_and_seq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
