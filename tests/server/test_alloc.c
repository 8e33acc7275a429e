/*
 * tests/server/test_alloc.c — what the endpoint allocates per call in
 * steady state (docs/design.md section 11, "The frame path"): malloc,
 * calloc and realloc are interposed in this executable and counted on the
 * server thread only, over sequential echo calls (one frame per call)
 * after a warm-up.
 *
 * Nothing on the path allocates: not the connection (read, reader, decode,
 * seal, write, the call slot), nor the registry's unpack of the request
 * message, which goes into the reused call slot's arena (it took 2 mallocs
 * per call, the message and its string, with protobuf-c's default
 * allocator). Exactly XR_TEST_ALLOCS_PER_CALL (0) per call. Skipped under a
 * sanitizer, which owns malloc.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_srv.h"

#if defined(__SANITIZE_ADDRESS__)
#define XR_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XR_TEST_SANITIZED 1
#endif
#endif

#define XR_TEST_ALLOCS_PER_CALL 0
#define WARMUP 200
#define CALLS 500

static atomic_int counting;
static pthread_t counted;
static atomic_ulong allocs;

#ifndef XR_TEST_SANITIZED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static void
count(void)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed) &&
	    pthread_equal(pthread_self(), counted))
		atomic_fetch_add(&allocs, 1);
}

void *
malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}

void *
calloc(size_t k, size_t n)
{
	count();
	return __libc_calloc(k, n);
}

void *
realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}
#endif

/* One Say round trip; asserts its answer. */
static void
call(ts_peer *p)
{
	const Execrpc__V1__Envelope *e;
	char text[32];
	int closed;
	uint64_t id = ts_send_say(p, "steady", 0, 0);

	assert_non_null(e = ts_recv(p, 5000, &closed));
	assert_int_equal(e->call_id, id);
	ts_say_text(e, text, sizeof(text));
	assert_string_equal(text, "steady");
}

static void
test_steady_state_allocations(void **state)
{
	ts_server t;
	ts_peer p;
	unsigned long n;

	(void)state;
#ifdef XR_TEST_SANITIZED
	skip();
#endif
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	for (int i = 0; i < WARMUP; i++)
		call(&p);
	counted = t.thr;
	atomic_store(&allocs, 0);
	atomic_store(&counting, 1);
	for (int i = 0; i < CALLS; i++)
		call(&p);
	atomic_store(&counting, 0);
	n = atomic_load(&allocs);
	print_message("server thread: %lu allocations over %d calls "
	    "(%.2f per call)\n", n, CALLS, (double)n / CALLS);
	assert_int_equal(n, (unsigned long)CALLS * XR_TEST_ALLOCS_PER_CALL);
	ts_peer_close(&p);
	ts_server_stop(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_state_allocations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
