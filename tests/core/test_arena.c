/* tests/core/test_arena.c — core/arena.c: the bump allocator behind the
 * codec's and the call slots' protobuf-c unpacking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

/* Allocations are 16-byte aligned, distinct, and come from one block
 * until it is full; then a block twice as large follows. */
static void
test_alloc_aligned_and_growing(void **state)
{
	xr_arena a;
	ProtobufCAllocator *al;
	uint8_t *p[40];

	(void)state;
	xr_arena_init(&a, 256, 4096);
	al = xr_arena_allocator(&a);
	assert_int_equal(xr_arena_bytes(&a), 0);
	for (size_t i = 0; i < 16; i++) {
		p[i] = al->alloc(al->allocator_data, 1 + i);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		memset(p[i], 0xa5, 1 + i);
		if (i > 0)
			assert_ptr_equal(p[i], p[i - 1] + 16);
	}
	assert_int_equal(xr_arena_bytes(&a), 256);
	/* the 17th 16-byte slot does not fit: a 512-byte block */
	assert_non_null(p[16] = al->alloc(al->allocator_data, 16));
	assert_int_equal(xr_arena_bytes(&a), 256 + 512);
	/* one allocation larger than twice the block gets what it needs */
	assert_non_null(al->alloc(al->allocator_data, 3000));
	assert_int_equal(xr_arena_bytes(&a), 256 + 512 + 4096);
	al->free(al->allocator_data, p[0]);	/* a no-op */
	xr_arena_fini(&a);
	assert_int_equal(xr_arena_bytes(&a), 0);
}

/* A reset keeps the newest block (wiped) while the arena holds at most
 * `keep` bytes; the next use allocates nothing new. */
static void
test_reset_keeps_newest_block(void **state)
{
	static const uint8_t zero[64];
	xr_arena a;
	ProtobufCAllocator *al;
	uint8_t *p, *q;

	(void)state;
	xr_arena_init(&a, 64, 4096);
	al = xr_arena_allocator(&a);
	p = al->alloc(al->allocator_data, 64);
	memset(p, 0x5a, 64);
	q = al->alloc(al->allocator_data, 64);	/* a 128-byte block */
	memset(q, 0x5a, 64);
	assert_int_equal(xr_arena_bytes(&a), 64 + 128);
	xr_arena_reset(&a);
	assert_int_equal(xr_arena_bytes(&a), 128);
	assert_memory_equal(q, zero, sizeof(zero));	/* wiped, kept */
	assert_ptr_equal(al->alloc(al->allocator_data, 100), q);
	assert_int_equal(xr_arena_bytes(&a), 128);
	xr_arena_fini(&a);
}

/* An arena grown past `keep` gives every block back on reset. */
static void
test_reset_over_keep_frees_all(void **state)
{
	xr_arena a;
	ProtobufCAllocator *al;

	(void)state;
	xr_arena_init(&a, 64, 1024);
	al = xr_arena_allocator(&a);
	assert_non_null(al->alloc(al->allocator_data, 2000));
	assert_true(xr_arena_bytes(&a) > 1024);
	xr_arena_reset(&a);
	assert_int_equal(xr_arena_bytes(&a), 0);
	xr_arena_reset(&a);	/* empty: a no-op */
	assert_non_null(al->alloc(al->allocator_data, 8));
	assert_int_equal(xr_arena_bytes(&a), 64);
	xr_arena_fini(&a);
	xr_arena_fini(&a);	/* twice is harmless */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_aligned_and_growing),
		cmocka_unit_test(test_reset_keeps_newest_block),
		cmocka_unit_test(test_reset_over_keep_frees_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
