/*
 * tests/reliability/battery_redis_bound.c — bounded memory of
 * redis_streams at full size, with figures (issue 14; the bounded version:
 * test_redis_bound.c). 1,000,000 unary calls over a real redis-server, 200
 * in flight, max_stream_len 1000, ttl_seconds 2 (helper_redis_bound.h):
 * every call must end OK, the request and reply streams must stay within
 * max_stream_len + stream-node-max-entries at every sample, the nonce and
 * call records within the calls started in their life, and none may be
 * left once that life has run out. Prints attack, expected, observed
 * (and Redis' used_memory); exits 1 if an expectation fails.
 *
 *   battery_redis_bound [CALLS]     (default 1000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>

#include "helper_redis_bound.h"
#include "dispatch.h"

static int failed;

static void
expect(int ok, const char *what)
{
	printf("  %-66s %s\n", what, ok ? "ok" : "FAILED");
	failed |= !ok;
}

int
main(int argc, char **argv)
{
	rb_opts o = { .calls = 1000000, .window = 200,
	    .max_stream_len = 1000, .ttl_seconds = 2, .timeout_ms = 5000,
	    .len_every = 1000, .keys_every = 20000 };
	rb_figures f;
	char line[128];

	if (argc > 1)
		o.calls = strtoull(argv[1], NULL, 10);
	signal(SIGPIPE, SIG_IGN);
	printf("attack: %llu unary calls over redis_streams, %u in flight, "
	    "max_stream_len %u, ttl_seconds %u, timeout %u ms\n",
	    (unsigned long long)o.calls, o.window, o.max_stream_len,
	    o.ttl_seconds, o.timeout_ms);
	if (rb_run(&o, &f) != 0) {
		printf("  set-up failed: %s\n", f.why);
		return 1;
	}
	printf("observed: %.1f s (%.0f calls/s); %u samples; OK %llu, other "
	    "%llu\n", f.seconds, (double)o.calls / f.seconds, f.samples,
	    (unsigned long long)f.ok, (unsigned long long)f.other);
	for (int k = 1; k < 17; k++)
		if (f.by_code[k] > 0)
			printf("observed: %llu calls ended with status %d (%s)\n",
			    (unsigned long long)f.by_code[k], k,
			    xr_status_name(k));
	printf("observed: max XLEN request %lld, reply %lld (node %lld: "
	    "slack over the bound %lld, %lld)\n", f.max_req, f.max_reply,
	    f.node, f.max_req - (long long)o.max_stream_len,
	    f.max_reply - (long long)o.max_stream_len);
	printf("observed: most records nonce %lld, call %lld (most over the "
	    "calls of their life: %lld); left after it %lld, %lld\n",
	    f.max_nonce, f.max_call, f.key_excess, f.nonce_left, f.call_left);
	printf("observed: Redis used_memory at most %.1f MiB\n",
	    (double)f.max_used_memory / 1048576.0);
	printf("expected:\n");
	expect(f.ok == o.calls && f.other == 0, "every call OK");
	snprintf(line, sizeof(line), "request stream <= %u + %lld entries",
	    o.max_stream_len, f.node);
	expect(f.max_req <= o.max_stream_len + f.node, line);
	snprintf(line, sizeof(line), "reply stream <= %u + %lld entries",
	    o.max_stream_len, f.node);
	expect(f.max_reply <= o.max_stream_len + f.node, line);
	expect(f.key_excess <= 0, "records <= the calls started in their life "
	    "(+1 s)");
	expect(f.nonce_left == 0 && f.call_left == 0, "no record left after "
	    "its life");
	return failed;
}
