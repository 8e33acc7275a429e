/*
 * tests/runtime/test_redis_restart.c — redis_streams across a restart of
 * redis-server (issue 14): a real redis-server with AOF
 * (--appendonly yes --appendfsync always) on a unix socket is SIGKILLed
 * while calls are running and started again on the same socket and
 * directory. What must hold, with exact counts:
 *
 *  - a call pending when Redis dies ends UNAVAILABLE at once (its entry
 *    was accepted: it ran, its reply could not be written); a call started
 *    while Redis is down fails UNAVAILABLE at once, long before its
 *    deadline;
 *  - the runtime recovers by itself once Redis is back (calls OK again, no
 *    restart of anything), and no accepted entry is lost: every entry the
 *    stream holds after the restart is decided exactly once — the ones
 *    whose handler ran before the kill are claimed back (XAUTOCLAIM) and
 *    answered ABORTED, never run again, and nothing stays pending.
 *
 * The kill comes while the worker's XAUTOCLAIM is held in Redis (a CLIENT
 * PAUSE): a worker that lost track of it never claimed again.
 */
#include "helper_redis.h"

#include <event2/event.h>

#include "helper_rt.h"
#include "redis.h"
#include "rx.h"

#define SAY "echo.v1.Echo/Say"

static rt_redis srv;

static int
setup(void **state)
{
	(void)state;
	srv.aof = true;
	rt_redis_start(&srv);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rt_redis_stop(&srv);
	return 0;
}

static xr_channel *
pick(rt_ctx *r)
{
	int err;
	xr_channel *ch = xr_lifecycle_pick(r->lc, "echo.v1.Echo", NULL, 0,
	    &err);

	assert_non_null(ch);
	return ch;
}

static void
stats(rt_ctx *r, xr_redis_worker_stats *w, xr_redis_ingress_stats *in)
{
	assert_int_equal(xr_transport_redis_stats(rt_transport(r), w, in),
	    XR_OK);
}

/* Run until every call of p[0..n-1] has a status (up to `ms`); the number
 * that ended with `code`. */
static int
wait_all(rt_ctx *r, rt_pending *p, int n, int ms, int code)
{
	int done = 0, with = 0;

	for (int i = 0; i < ms / 5 && done < n; i++) {
		rt_run_for(r->base, 5);
		done = 0;
		for (int k = 0; k < n; k++)
			done += p[k].done;
	}
	assert_int_equal(done, n);
	for (int k = 0; k < n; k++)
		with += p[k].code == code;
	return with;
}

static void
test_redis_restart_aof(void **state)
{
	enum { A = 40, B = 20, C = 10, D = 40 };
	rt_ctx r;
	rt_pending pa[A], pb[B], pd[D];
	rt_result res;
	char y[1024];
	redisContext *c;
	xr_redis_worker_stats w;
	xr_redis_ingress_stats in;
	uint64_t t0;
	int probes_unavailable = 0, recovered = 0;
	long long xlen, pending = -1;

	(void)state;
	snprintf(y, sizeof(y),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: redis_streams\n"
	    "      redis:\n"
	    "        unix_socket: %s\n"
	    "        stream_prefix: t\n"
	    "        claim_idle_ms: 300\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", srv.sock);
	rt_up(&r, y);

	/* A: before: every call OK */
	for (int k = 0; k < A; k++)
		rt_start_say(pick(&r), SAY, 0, 20000, &pa[k]);
	assert_int_equal(wait_all(&r, pa, A, 20000, XR_STATUS_OK), A);

	/* B: calls whose handlers run (1.5 s) when Redis dies */
	for (int k = 0; k < B; k++)
		rt_start_say(pick(&r), SAY, 1500, 20000, &pb[k]);
	for (int i = 0; i < 1000; i++) {
		stats(&r, &w, &in);
		if (w.runs == A + B)
			break;
		rt_run_for(r.base, 5);
	}
	assert_int_equal(w.runs, A + B);
	/* hold the worker's next XAUTOCLAIM inside Redis, then kill it */
	c = rt_redis_raw(&srv);
	freeReplyObject(redisCommand(c, "CLIENT PAUSE 10000 ALL"));
	redisFree(c);
	rt_run_for(r.base, 400);	/* > claim_idle_ms / 2: a claim is out */
	rt_redis_kill(&srv);
	t0 = xr_mono_ms();
	assert_int_equal(wait_all(&r, pb, B, 1000, XR_STATUS_UNAVAILABLE), B);
	assert_true(xr_mono_ms() - t0 < 1000);	/* deadlines are 20 s */

	/* C: while it is down, at once */
	for (int k = 0; k < C; k++) {
		t0 = xr_mono_ms();
		assert_int_equal(rt_say(pick(&r), SAY, "down", 0, 0, 20000,
		    &res), XR_STATUS_UNAVAILABLE);
		assert_true(xr_mono_ms() - t0 < 1000);
	}
	rt_run_for(r.base, 1700);	/* the B handlers end: no Redis */

	/* back, on the same socket, from its AOF: the runtime reconnects by
	 * itself */
	rt_redis_start(&srv);
	t0 = xr_mono_ms();
	while (!recovered && xr_mono_ms() - t0 < 10000) {
		if (rt_say(pick(&r), SAY, "probe", 0, 0, 5000, &res) ==
		    XR_STATUS_OK)
			recovered = 1;
		else {
			assert_int_equal(res.code, XR_STATUS_UNAVAILABLE);
			probes_unavailable++;
			rt_run_for(r.base, 20);
		}
	}
	assert_int_equal(recovered, 1);
	print_message("recovered %llu ms after the restart (%d probes "
	    "UNAVAILABLE first)\n", (unsigned long long)(xr_mono_ms() - t0),
	    probes_unavailable);

	/* D: after: every call OK */
	for (int k = 0; k < D; k++)
		rt_start_say(pick(&r), SAY, 0, 20000, &pd[k]);
	assert_int_equal(wait_all(&r, pd, D, 20000, XR_STATUS_OK), D);

	/* the B entries, pending since before the kill, are claimed back and
	 * decided: nothing stays pending */
	c = rt_redis_raw(&srv);
	for (int i = 0; i < 1000 && pending != 0; i++) {
		rt_run_for(r.base, 10);
		pending = rt_redis_pending(c, "t:execution:req", "execution");
	}
	assert_int_equal(pending, 0);
	rt_run_for(r.base, 100);	/* the ABORTED replies reach the ingress */
	stats(&r, &w, &in);
	xlen = rt_redis_int(c, "XLEN t:execution:req");
	/* every accepted call is in the stream after the restart */
	assert_int_equal(xlen, A + B + 1 + D);
	/* each ran once: A, B (before the kill), the probe, D */
	assert_int_equal(w.runs, A + B + 1 + D);
	assert_int_equal(w.claimed, B);
	assert_int_equal(w.aborted, B);
	assert_int_equal(w.expired_deadline, 0);
	/* the B calls had their UNAVAILABLE: their ABORTED is a stray */
	assert_int_equal(in.replies, A + 1 + D);
	assert_int_equal(in.stray, B);
	assert_int_equal(in.unavailable, B + C + probes_unavailable);
	/* one call record and one nonce per accepted entry */
	assert_int_equal(rt_redis_count_keys(c, "t:call:*"), xlen);
	assert_int_equal(rt_redis_count_keys(c, "t:nonce:*"), xlen);
	redisFree(c);
	xr_lifecycle_stop(r.lc, NULL);
	rt_free(&r);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_redis_restart_aof, setup,
		    teardown),
	};
	int rc;

	if ((rc = rt_worker_mode(argc, argv)) >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
