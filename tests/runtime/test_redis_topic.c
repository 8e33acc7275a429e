/*
 * tests/runtime/test_redis_topic.c — topic bindings on redis_streams
 * (runtime/redis_topic.h): two workers of one group, each an inline
 * runtime in its own process (this one and a forked child) on a real
 * redis-server. One publish gives exactly 2 results, one per worker (each
 * answered by a different process: the pid in the response), each
 * worker's handler ran once (one call record per delivery, one run here);
 * a topic entry appended again to a member's stream (XADD of the same
 * bytes) is refused as a replay and not run.
 */
#include "helper_redis.h"

#include <event2/event.h>

#include "echo/v1/echo.pb-c.h"
#include "helper_rt.h"
#include "redis.h"
#include "redis_topic.h"
#include "rx.h"

#define SAY "echo.v1.Echo/Say"

static rt_redis srv;
static pid_t child;

static int
setup(void **state)
{
	(void)state;
	rt_redis_start(&srv);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	rt_redis_stop(&srv);
	return 0;
}

static xr_redis_worker_stats
wstats(rt_ctx *r)
{
	xr_redis_worker_stats w;
	xr_redis_ingress_stats in;

	assert_int_equal(xr_transport_redis_stats(rt_transport(r), &w, &in),
	    XR_OK);
	return w;
}

static void
test_redis_topic_every_worker(void **state)
{
	Echo__V1__SayRequest sr = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t req[64], *frame;
	size_t req_len, n = 0, len;
	char y[1024], key[160], grp[96];
	xr_topic_result *res = NULL;
	xr_topic *tp;
	xr_diag d = { 0 };
	xr_redis_worker_stats w0, w;
	redisContext *c;
	redisReply *rep;
	rt_ctx r;
	uint64_t pids[2];

	(void)state;
	snprintf(y, sizeof(y),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: redis_streams\n"
	    "      auth:\n"
	    "        secret_mode: static\n"
	    "        secret: \"0123456789abcdef0123456789abcdef\"\n"
	    "      redis:\n"
	    "        unix_socket: %s\n"
	    "        stream_prefix: t\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", srv.sock);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {	/* the second worker of the group */
		rt_up(&r, y);
		event_base_dispatch(r.base);
		_exit(0);
	}
	rt_up(&r, y);
	assert_non_null(tp = xr_transport_topic(rt_transport(&r),
	    "echo.v1.Echo", &d));
	/* both members beat; the ingress has read them */
	c = rt_redis_raw(&srv);
	for (int i = 0; i < 500; i++) {
		rt_run_for(r.base, 10);
		if (rt_redis_int(c, "ZCARD t:execution:members") == 2)
			break;
	}
	assert_int_equal(rt_redis_int(c, "ZCARD t:execution:members"), 2);
	rt_run_for(r.base, 2 * XR_REDIS_MEMBER_BEAT_MS + 100);

	sr.text = "to-all";
	req_len = echo__v1__say_request__pack(&sr, req);
	w0 = wstats(&r);
	assert_int_equal(xr_topic_publish_sync(tp, SAY, req, req_len, 10000,
	    &res, &n), XR_OK);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].status.code, XR_STATUS_OK);
		assert_int_equal(res[i].index, i);
		assert_string_equal(res[i].group, "execution");
		pids[i] = rt_say_pid(res[i].resp, res[i].resp_len);
	}
	xr_topic_results_free(res, n);
	/* one delivery per process, each run once */
	assert_true((pids[0] == (uint64_t)getpid() &&
	    pids[1] == (uint64_t)child) || (pids[1] == (uint64_t)getpid() &&
	    pids[0] == (uint64_t)child));
	w = wstats(&r);
	assert_int_equal(w.runs - w0.runs, 1);
	assert_int_equal(rt_redis_count_keys(c, "t:call:*"), 2);
	assert_int_equal(rt_redis_count_keys(c, "t:execution:topic:*"), 2);

	/* this process's delivery appended again: a replay */
	snprintf(key, sizeof(key), "t:execution:topic:execution-0-%ld:req",
	    (long)getpid());
	rep = redisCommand(c, "XRANGE %s - +", key);
	assert_non_null(rep);
	assert_int_equal(rep->elements, 1);
	len = rep->element[0]->element[1]->element[1]->len;
	assert_non_null(frame = malloc(len));
	memcpy(frame, rep->element[0]->element[1]->element[1]->str, len);
	freeReplyObject(rep);
	freeReplyObject(redisCommand(c, "XADD %s * f %b", key, frame, len));
	free(frame);
	for (int i = 0; i < 300 && wstats(&r).entries < w.entries + 1; i++)
		rt_run_for(r.base, 10);
	rt_run_for(r.base, 50);
	w0 = w;
	w = wstats(&r);
	assert_int_equal(w.entries, w0.entries + 1);
	assert_int_equal(w.rx.rejects[XR_REJECT_REPLAY],
	    w0.rx.rejects[XR_REJECT_REPLAY] + 1);
	assert_int_equal(w.runs, w0.runs);
	/* both entries of the member's stream acknowledged */
	snprintf(grp, sizeof(grp), "execution:topic:execution-0-%ld",
	    (long)getpid());
	assert_int_equal(rt_redis_pending(c, key, grp), 0);
	redisFree(c);
	xr_lifecycle_stop(r.lc, NULL);
	rt_free(&r);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_redis_topic_every_worker,
		    setup, teardown),
	};
	int rc;

	if ((rc = rt_worker_mode(argc, argv)) >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
