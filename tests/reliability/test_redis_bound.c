/*
 * tests/reliability/test_redis_bound.c — bounded memory of redis_streams,
 * the bounded version (issue 14; full size: battery_redis_bound.c): 20,000
 * unary calls, 50 in flight, max_stream_len 100, ttl_seconds 2. Every call
 * ends OK; at every sample the request stream and the reply stream hold at
 * most max_stream_len + stream-node-max-entries entries (MAXLEN ~ drops
 * whole nodes only: helper_redis_bound.h), and the nonce and call records
 * never outnumber the calls started within their life; once that life has
 * run out after the last call, none is left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>

#include "helper_redis_bound.h"

static void
test_redis_streams_and_records_bounded(void **state)
{
	const rb_opts o = { .calls = 20000, .window = 50,
	    .max_stream_len = 100, .ttl_seconds = 2, .timeout_ms = 3000,
	    .len_every = 200, .keys_every = 2000 };
	rb_figures f;

	(void)state;
	if (rb_run(&o, &f) != 0)
		fail_msg("%s", f.why);
	print_message("%.1f s; max XLEN req %lld reply %lld (bound %u + "
	    "node %lld); max records nonce %lld call %lld (excess %lld); "
	    "left %lld %lld; used_memory max %lld\n", f.seconds, f.max_req,
	    f.max_reply, o.max_stream_len, f.node, f.max_nonce, f.max_call,
	    f.key_excess, f.nonce_left, f.call_left, f.max_used_memory);
	assert_int_equal(f.ok, o.calls);
	assert_int_equal(f.other, 0);
	assert_int_equal(f.node, 100);	/* the server's default */
	assert_true(f.max_req >= o.max_stream_len);	/* trimming at work */
	assert_true(f.max_req <= o.max_stream_len + f.node);
	assert_true(f.max_reply >= o.max_stream_len);
	assert_true(f.max_reply <= o.max_stream_len + f.node);
	assert_true(f.key_excess <= 0);
	assert_int_equal(f.nonce_left, 0);
	assert_int_equal(f.call_left, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redis_streams_and_records_bounded),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
