/* tests/core/test_nonce.c — core/nonce.c: per-frame random bytes from a
 * per-thread CTR_DRBG: one seeding for many draws (no system call per
 * frame), no repeats, separate streams after a fork and per thread, the
 * request bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "nonce.h"

#define N 20000
#define LEN 16

static int
cmp16(const void *a, const void *b)
{
	return memcmp(a, b, LEN);
}

/* 20,000 nonces (about 312 refills of the pool) from one seeding, all
 * distinct, and not all zero. */
static void
test_many_one_seeding_distinct(void **state)
{
	uint8_t (*v)[LEN] = calloc(N, LEN), zero[LEN] = { 0 };
	uint64_t s0;

	(void)state;
	assert_non_null(v);
	assert_int_equal(xr_nonce_fill(v[0], LEN), XR_OK);
	s0 = xr_nonce_seedings();
	assert_true(s0 >= 1);
	for (size_t i = 1; i < N; i++)
		assert_int_equal(xr_nonce_fill(v[i], LEN), XR_OK);
	assert_int_equal(xr_nonce_seedings(), s0);
	qsort(v, N, LEN, cmp16);
	for (size_t i = 1; i < N; i++)
		assert_true(memcmp(v[i - 1], v[i], LEN) != 0);
	assert_true(memcmp(v[0], zero, LEN) != 0 ||
	    memcmp(v[1], zero, LEN) != 0);
	free(v);
}

/* After fork, the parent's and the child's next bytes differ, and the
 * child seeded anew (without the fork handler both would continue the
 * same pool: equal bytes). */
static void
test_fork_reseeds(void **state)
{
	uint8_t warm[LEN], mine[LEN], theirs[LEN + 8];
	int p[2], st;
	pid_t pid;

	(void)state;
	assert_int_equal(xr_nonce_fill(warm, LEN), XR_OK);
	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		uint64_t before = xr_nonce_seedings();
		uint8_t b[LEN + 8];

		close(p[0]);
		if (xr_nonce_fill(b, LEN) != XR_OK)
			_exit(2);
		uint64_t after = xr_nonce_seedings();

		b[LEN] = (uint8_t)(after - before);
		_exit(write(p[1], b, LEN + 1) == LEN + 1 ? 0 : 3);
	}
	close(p[1]);
	assert_int_equal(xr_nonce_fill(mine, LEN), XR_OK);
	assert_int_equal(read(p[0], theirs, LEN + 1), LEN + 1);
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(theirs[LEN], 1);	/* the child seeded once */
	assert_true(memcmp(mine, theirs, LEN) != 0);
}

static void *
thread_draw(void *arg)
{
	uint8_t *out = arg;

	if (xr_nonce_fill(out, LEN) != XR_OK ||
	    xr_nonce_seedings() != 1)		/* its own generator */
		out[LEN] = 1;
	return NULL;
}

/* Another thread has a generator of its own, seeded once, with other
 * bytes. */
static void
test_thread_own_stream(void **state)
{
	uint8_t mine[LEN], theirs[LEN + 1] = { 0 };
	pthread_t t;

	(void)state;
	assert_int_equal(xr_nonce_fill(mine, LEN), XR_OK);
	assert_int_equal(pthread_create(&t, NULL, thread_draw, theirs), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(theirs[LEN], 0);
	assert_true(memcmp(mine, theirs, LEN) != 0);
}

/* A request over the pool is refused; the pool's size is served. */
static void
test_bound(void **state)
{
	static uint8_t buf[XR_NONCE_POOL + 1];

	(void)state;
	assert_int_equal(xr_nonce_fill(buf, XR_NONCE_POOL + 1),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_nonce_fill(buf, XR_NONCE_POOL), XR_OK);
	assert_int_equal(xr_nonce_fill(buf, 0), XR_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_one_seeding_distinct),
		cmocka_unit_test(test_fork_reseeds),
		cmocka_unit_test(test_thread_own_stream),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
