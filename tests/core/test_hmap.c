/* tests/core/test_hmap.c — core/hmap.c: FNV-1a vectors, probing collisions,
 * the growth policy and its bound, removal during iteration, and 100k random
 * keys against a reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hmap.h"
#include "../xr_xorshift.h"

/* xorshift64*: a fixed sequence, so a failure reproduces */
static uint64_t rng_state;

static uint64_t
rng(void)
{
	return xr_xorshift(&rng_state);
}

/* The home slot of a key in a table of `nslots` (the top bits). */
static size_t
home_of(const void *k, size_t n, size_t nslots)
{
	unsigned bits = 0;

	while (((size_t)1 << bits) < nslots)
		bits++;
	return (size_t)(xr_hash_fnv1a(k, n) >> (64 - bits));
}

static void
test_fnv1a_vectors(void **state)
{
	(void)state;
	/* the published FNV-1a 64 test vectors */
	assert_true(xr_hash_fnv1a(NULL, 0) == 0xcbf29ce484222325ULL);
	assert_true(xr_hash_fnv1a("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(xr_hash_fnv1a("foobar", 6) == 0x85944171f73967e8ULL);
	/* bytes, not a C string: an embedded NUL counts */
	assert_true(xr_hash_fnv1a("a\0", 2) != xr_hash_fnv1a("a", 1));
}

static void
test_init_limits(void **state)
{
	xr_hmap m;
	int v;

	(void)state;
	assert_int_equal(xr_hmap_init(&m, 0), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_hmap_insert(&m, "k", 1, &v), XR_ERR_NO_SPACE);
	xr_hmap_fini(&m);
	assert_int_equal(xr_hmap_init(&m, XR_HMAP_MAX_ENTRIES + 1),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_hmap_init(&m, XR_HMAP_MAX_ENTRIES), XR_OK);
	assert_int_equal(xr_hmap_slots(&m), 0);	/* init allocates nothing */
	assert_null(xr_hmap_find(&m, "k", 1));
	assert_null(xr_hmap_remove(&m, "k", 1));
	xr_hmap_fini(&m);
	xr_hmap_fini(NULL);
}

static void
test_insert_find_remove(void **state)
{
	xr_hmap m;
	int a, b, c;
	char longkey[100];

	(void)state;
	memset(longkey, 'x', sizeof(longkey));
	assert_int_equal(xr_hmap_init(&m, 64), XR_OK);
	assert_int_equal(xr_hmap_insert(&m, "alpha", 5, &a), XR_OK);
	/* a prefix, the same bytes plus a NUL, the empty key: all distinct */
	assert_int_equal(xr_hmap_insert(&m, "alph", 4, &b), XR_OK);
	assert_int_equal(xr_hmap_insert(&m, "alpha\0", 6, &c), XR_OK);
	assert_int_equal(xr_hmap_insert(&m, NULL, 0, &a), XR_OK);
	/* keys longer than the inline size are copied */
	assert_int_equal(xr_hmap_insert(&m, longkey, sizeof(longkey), &b),
	    XR_OK);
	assert_int_equal(xr_hmap_count(&m), 5);
	longkey[99] = 'y';
	assert_null(xr_hmap_find(&m, longkey, sizeof(longkey)));
	longkey[99] = 'x';
	assert_ptr_equal(xr_hmap_find(&m, longkey, sizeof(longkey)), &b);
	assert_ptr_equal(xr_hmap_find(&m, "alpha", 5), &a);
	assert_ptr_equal(xr_hmap_find(&m, "alph", 4), &b);
	assert_ptr_equal(xr_hmap_find(&m, "alpha\0", 6), &c);
	assert_ptr_equal(xr_hmap_find(&m, "", 0), &a);
	assert_null(xr_hmap_find(&m, "alphb", 5));
	/* a duplicate, a NULL value, a NULL key with a length: refused and
	 * nothing changes */
	assert_int_equal(xr_hmap_insert(&m, "alpha", 5, &c), XR_ERR_INVALID_ARG);
	assert_ptr_equal(xr_hmap_find(&m, "alpha", 5), &a);
	assert_int_equal(xr_hmap_insert(&m, "beta", 4, NULL), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_hmap_insert(&m, NULL, 3, &a), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_hmap_count(&m), 5);
	assert_ptr_equal(xr_hmap_remove(&m, "alpha", 5), &a);
	assert_null(xr_hmap_remove(&m, "alpha", 5));
	assert_null(xr_hmap_find(&m, "alpha", 5));
	assert_ptr_equal(xr_hmap_remove(&m, longkey, sizeof(longkey)), &b);
	assert_int_equal(xr_hmap_count(&m), 3);
	/* fini frees the rest (ASan checks the long key copies) */
	assert_int_equal(xr_hmap_insert(&m, longkey, 50, &c), XR_OK);
	xr_hmap_fini(&m);
	assert_int_equal(xr_hmap_count(&m), 0);
	assert_int_equal(xr_hmap_slots(&m), 0);
	/* usable again after fini, same limit */
	assert_int_equal(xr_hmap_insert(&m, "alpha", 5, &a), XR_OK);
	xr_hmap_fini(&m);
}

/*
 * Keys sharing a home slot probe past each other; removing one from the
 * middle of the run (backward shift) keeps the others reachable, also when
 * the run wraps from the last slot to slot 0.
 */
static void
test_collisions_and_wrap(void **state)
{
	char keys[6][16];
	int vals[6];
	size_t n = 0;
	xr_hmap m;

	(void)state;
	/* six keys whose home is the last of 16 slots */
	for (unsigned i = 0; n < 6; i++) {
		char k[16];
		int len = snprintf(k, sizeof(k), "k%u", i);

		if (home_of(k, (size_t)len, 16) == 15)
			memcpy(keys[n++], k, sizeof(k));
	}
	assert_int_equal(xr_hmap_init(&m, 8), XR_OK);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(xr_hmap_insert(&m, keys[i], strlen(keys[i]),
		    &vals[i]), XR_OK);
	assert_int_equal(xr_hmap_slots(&m), 16);	/* 6 <= 16 / 2 */
	for (size_t i = 0; i < 6; i++)
		assert_ptr_equal(xr_hmap_find(&m, keys[i], strlen(keys[i])),
		    &vals[i]);
	/* remove the first (in slot 15): the run 0..4 shifts back over the
	 * wrap; then one from the middle */
	assert_ptr_equal(xr_hmap_remove(&m, keys[0], strlen(keys[0])), &vals[0]);
	assert_ptr_equal(xr_hmap_remove(&m, keys[3], strlen(keys[3])), &vals[3]);
	for (size_t i = 0; i < 6; i++)
		if (i == 0 || i == 3)
			assert_null(xr_hmap_find(&m, keys[i], strlen(keys[i])));
		else
			assert_ptr_equal(xr_hmap_find(&m, keys[i],
			    strlen(keys[i])), &vals[i]);
	assert_int_equal(xr_hmap_count(&m), 4);
	/* and back in */
	assert_int_equal(xr_hmap_insert(&m, keys[3], strlen(keys[3]), &vals[3]),
	    XR_OK);
	assert_ptr_equal(xr_hmap_find(&m, keys[3], strlen(keys[3])), &vals[3]);
	xr_hmap_fini(&m);
}

/*
 * 8-byte keys (call ids) take the map's multiplicative hash and a one-word
 * compare: six ids sharing the last of 16 home slots probe past each other
 * and stay reachable after removals, an 8-byte key is not found by a
 * 7- or 9-byte key sharing its bytes, and 1,000 consecutive ids go in and
 * out exactly.
 */
static void
test_u64_keys(void **state)
{
	uint64_t ids[6], v;
	uint8_t longer[9] = { 0 };
	int vals[6], *big;
	size_t n = 0;
	xr_hmap m;

	(void)state;
	for (v = 1; n < 6; v++)
		if ((v * 0x9e3779b97f4a7c15ULL) >> 60 == 15)
			ids[n++] = v;
	assert_int_equal(xr_hmap_init(&m, 2000), XR_OK);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(xr_hmap_insert(&m, &ids[i], 8, &vals[i]),
		    XR_OK);
	assert_int_equal(xr_hmap_slots(&m), 16);
	assert_int_equal(xr_hmap_insert(&m, &ids[2], 8, &vals[0]),
	    XR_ERR_INVALID_ARG);	/* already there */
	assert_ptr_equal(xr_hmap_remove(&m, &ids[0], 8), &vals[0]);
	assert_ptr_equal(xr_hmap_remove(&m, &ids[3], 8), &vals[3]);
	for (size_t i = 0; i < 6; i++)
		if (i == 0 || i == 3)
			assert_null(xr_hmap_find(&m, &ids[i], 8));
		else
			assert_ptr_equal(xr_hmap_find(&m, &ids[i], 8), &vals[i]);
	memcpy(longer, &ids[1], 8);
	assert_null(xr_hmap_find(&m, longer, 7));
	assert_null(xr_hmap_find(&m, longer, 9));
	xr_hmap_fini(&m);

	big = calloc(1000, sizeof(*big));
	assert_non_null(big);
	assert_int_equal(xr_hmap_init(&m, 2000), XR_OK);
	for (v = 0; v < 1000; v++)
		assert_int_equal(xr_hmap_insert(&m, &v, 8, &big[v]), XR_OK);
	for (v = 0; v < 1000; v += 2)
		assert_ptr_equal(xr_hmap_remove(&m, &v, 8), &big[v]);
	assert_int_equal(xr_hmap_count(&m), 500);
	for (v = 0; v < 1000; v++)
		if (v % 2 == 0)
			assert_null(xr_hmap_find(&m, &v, 8));
		else
			assert_ptr_equal(xr_hmap_find(&m, &v, 8), &big[v]);
	xr_hmap_fini(&m);
	free(big);
}

/*
 * Across the wrap, an entry already at its home stays: A (home 15) in slot
 * 15, B (home 0) in slot 0; removing A must not pull B back to slot 15.
 */
static void
test_remove_keeps_home_across_wrap(void **state)
{
	char a[16] = "", b[16] = "";
	int va, vb;
	xr_hmap m;

	(void)state;
	for (unsigned i = 0; a[0] == '\0' || b[0] == '\0'; i++) {
		char k[16];
		int len = snprintf(k, sizeof(k), "w%u", i);
		size_t h = home_of(k, (size_t)len, 16);

		if (h == 15 && a[0] == '\0')
			memcpy(a, k, sizeof(k));
		else if (h == 0 && b[0] == '\0')
			memcpy(b, k, sizeof(k));
	}
	assert_int_equal(xr_hmap_init(&m, 8), XR_OK);
	assert_int_equal(xr_hmap_insert(&m, a, strlen(a), &va), XR_OK);
	assert_int_equal(xr_hmap_insert(&m, b, strlen(b), &vb), XR_OK);
	assert_int_equal(xr_hmap_slots(&m), 16);
	assert_ptr_equal(xr_hmap_remove(&m, a, strlen(a)), &va);
	assert_ptr_equal(xr_hmap_find(&m, b, strlen(b)), &vb);
	assert_ptr_equal(xr_hmap_remove(&m, b, strlen(b)), &vb);
	assert_int_equal(xr_hmap_count(&m), 0);
	xr_hmap_fini(&m);
}

/* The slot count follows the policy exactly: 16 at the first insert, then
 * doubling when an insert would go over half; bounded by max_entries. */
static void
test_growth_policy(void **state)
{
	static int v[300];
	xr_hmap m;
	size_t want = 16;

	(void)state;
	assert_int_equal(xr_hmap_init(&m, 300), XR_OK);
	for (uint32_t i = 0; i < 300; i++) {
		if (i + 1 > want / 2)
			want *= 2;
		assert_int_equal(xr_hmap_insert(&m, &i, sizeof(i), &v[i]), XR_OK);
		assert_int_equal(xr_hmap_slots(&m), want);
	}
	assert_int_equal(xr_hmap_slots(&m), 1024);	/* 2 * 2^ceil(log2 300) */
	/* full: refused, nothing grows */
	{
		uint32_t k = 300;

		assert_int_equal(xr_hmap_insert(&m, &k, sizeof(k), &v[0]),
		    XR_ERR_NO_SPACE);
		assert_null(xr_hmap_find(&m, &k, sizeof(k)));
	}
	assert_int_equal(xr_hmap_count(&m), 300);
	assert_int_equal(xr_hmap_slots(&m), 1024);
	/* removal never shrinks; a freed place takes a new key */
	for (uint32_t i = 0; i < 300; i += 2)
		assert_ptr_equal(xr_hmap_remove(&m, &i, sizeof(i)), &v[i]);
	assert_int_equal(xr_hmap_slots(&m), 1024);
	for (uint32_t i = 0; i < 300; i++)
		if (i % 2)
			assert_ptr_equal(xr_hmap_find(&m, &i, sizeof(i)), &v[i]);
		else
			assert_null(xr_hmap_find(&m, &i, sizeof(i)));
	xr_hmap_fini(&m);

	/* reserve: grows once, inserts up to n then allocate nothing */
	assert_int_equal(xr_hmap_init(&m, 100), XR_OK);
	assert_int_equal(xr_hmap_reserve(&m, 101), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_hmap_slots(&m), 0);
	assert_int_equal(xr_hmap_reserve(&m, 0), XR_OK);
	assert_int_equal(xr_hmap_slots(&m), 0);
	assert_int_equal(xr_hmap_reserve(&m, 100), XR_OK);
	assert_int_equal(xr_hmap_slots(&m), 256);
	for (uint32_t i = 0; i < 100; i++)
		assert_int_equal(xr_hmap_insert(&m, &i, sizeof(i), &v[i]), XR_OK);
	assert_int_equal(xr_hmap_slots(&m), 256);
	xr_hmap_fini(&m);
}

static void
test_iterate_and_remove(void **state)
{
	enum { N = 5000 };
	static int v[N];
	static unsigned seen[N];
	xr_hmap m;
	xr_hmap_iter it;
	const void *k;
	size_t kl, visits = 0;
	void *val;

	(void)state;
	/* empty and never-allocated maps iterate to nothing */
	assert_int_equal(xr_hmap_init(&m, N), XR_OK);
	xr_hmap_iter_init(&it, &m);
	assert_int_equal(xr_hmap_iter_next(&it, &k, &kl, &val), 0);
	assert_null(xr_hmap_iter_remove(&it));

	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(xr_hmap_insert(&m, &i, sizeof(i), &v[i]), XR_OK);
	/* one pass: every entry once; odd keys removed as they are seen */
	memset(seen, 0, sizeof(seen));
	xr_hmap_iter_init(&it, &m);
	while (xr_hmap_iter_next(&it, &k, &kl, &val)) {
		uint32_t key;

		assert_int_equal(kl, sizeof(key));
		memcpy(&key, k, sizeof(key));
		assert_true(key < N);
		assert_ptr_equal(val, &v[key]);
		seen[key]++;
		visits++;
		if (key % 2) {
			assert_ptr_equal(xr_hmap_iter_remove(&it), &v[key]);
			assert_null(xr_hmap_iter_remove(&it));	/* once */
		}
	}
	assert_int_equal(visits, N);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(xr_hmap_count(&m), N / 2);
	for (uint32_t i = 0; i < N; i++)
		if (i % 2)
			assert_null(xr_hmap_find(&m, &i, sizeof(i)));
		else
			assert_ptr_equal(xr_hmap_find(&m, &i, sizeof(i)), &v[i]);
	/* remove everything while iterating: each once, map empty */
	visits = 0;
	xr_hmap_iter_init(&it, &m);
	while (xr_hmap_iter_next(&it, NULL, NULL, &val)) {
		assert_ptr_equal(xr_hmap_iter_remove(&it), val);
		visits++;
	}
	assert_int_equal(visits, N / 2);
	assert_int_equal(xr_hmap_count(&m), 0);
	xr_hmap_fini(&m);
}

/*
 * 100k keys of 4..40 bytes (inline and copied) under 400k random inserts,
 * finds and removes, checked after every operation against a reference
 * array; then a full iteration against it.
 */
static void
test_random_vs_reference(void **state)
{
	enum { N = 100000, KMAX = 40, OPS = 400000 };
	uint8_t (*keys)[KMAX] = malloc((size_t)N * KMAX);
	uint8_t *klen = malloc(N), *present = calloc(N, 1);
	int *vals = malloc(N * sizeof(int));
	size_t count = 0, visits = 0;
	xr_hmap m;
	xr_hmap_iter it;
	const void *k;
	size_t kl;
	void *val;

	(void)state;
	assert_non_null(keys);
	assert_non_null(klen);
	assert_non_null(present);
	assert_non_null(vals);
	rng_state = 0x9e3779b97f4a7c15ULL;
	/* distinct keys: the index in the first 4 bytes, then 0..36 random
	 * bytes (4..40 in all: inline and copied keys) */
	for (uint32_t i = 0; i < N; i++) {
		klen[i] = (uint8_t)(4 + rng() % (KMAX - 3));
		memcpy(keys[i], &i, 4);
		for (size_t j = 4; j < klen[i]; j++)
			keys[i][j] = (uint8_t)rng();
	}
	assert_int_equal(xr_hmap_init(&m, N), XR_OK);
	for (size_t op = 0; op < OPS; op++) {
		uint32_t i = (uint32_t)(rng() % N);
		unsigned what = (unsigned)(rng() % 3);

		if (what == 0) {
			int r = xr_hmap_insert(&m, keys[i], klen[i], &vals[i]);

			assert_int_equal(r, present[i] ? XR_ERR_INVALID_ARG : XR_OK);
			if (!present[i]) {
				present[i] = 1;
				count++;
			}
		} else if (what == 1) {
			void *f = xr_hmap_find(&m, keys[i], klen[i]);

			if (present[i])
				assert_ptr_equal(f, &vals[i]);
			else
				assert_null(f);
		} else {
			void *f = xr_hmap_remove(&m, keys[i], klen[i]);

			if (present[i]) {
				assert_ptr_equal(f, &vals[i]);
				present[i] = 0;
				count--;
			} else
				assert_null(f);
		}
		assert_int_equal(xr_hmap_count(&m), count);
	}
	assert_true(count > N / 4);	/* the run exercised a full table */
	for (uint32_t i = 0; i < N; i++) {
		void *f = xr_hmap_find(&m, keys[i], klen[i]);

		if (present[i])
			assert_ptr_equal(f, &vals[i]);
		else
			assert_null(f);
	}
	xr_hmap_iter_init(&it, &m);
	while (xr_hmap_iter_next(&it, &k, &kl, &val)) {
		size_t i = (size_t)((int *)val - vals);

		assert_true(i < N);
		assert_int_equal(present[i], 1);
		assert_int_equal(kl, klen[i]);
		assert_memory_equal(k, keys[i], kl);
		present[i] = 2;		/* seen */
		visits++;
	}
	assert_int_equal(visits, count);
	for (uint32_t i = 0; i < N; i++)
		assert_true(present[i] != 1);
	xr_hmap_fini(&m);
	free(keys);
	free(klen);
	free(present);
	free(vals);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv1a_vectors),
		cmocka_unit_test(test_init_limits),
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_collisions_and_wrap),
		cmocka_unit_test(test_remove_keeps_home_across_wrap),
		cmocka_unit_test(test_u64_keys),
		cmocka_unit_test(test_growth_policy),
		cmocka_unit_test(test_iterate_and_remove),
		cmocka_unit_test(test_random_vs_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
