/*
 * tests/runtime/test_routing.c — the transport service in every mode:
 * calls routed by service name to the group that hosts the service (two
 * groups, both reachable), queue and topic bindings, resolution errors,
 * IPC-INT-09/10/11 in memory, tcp_local inline and process_supervisor.
 * This binary is its own worker (--worker).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo/v1/echo.pb-c.h"
#include "helper_rt.h"

#define SAY "echo.v1.Echo/Say"
#define TSAY "test.v1.Echo/Say"

/* Two process groups: "a" hosts echo.v1.Echo (2 workers); "b" hosts
 * test.v1.Echo and echo.v1.Echo too (1 worker): echo.v1.Echo is listed
 * twice and goes to "a", the first. */
static const char *yaml_ps_two =
    "runtime:\n  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    lifecycle: {ready_timeout_seconds: 10, graceful_timeout_seconds: 3}\n"
    "    process_groups:\n"
    "      - {name: a, workers: 2, services: [echo.v1.Echo]}\n"
    "      - {name: b, workers: 1, services: [test.v1.Echo, echo.v1.Echo]}\n";

static const char *yaml_inline_two[2] = {
    "runtime:\n  platform:\n"
    "    process_groups:\n"
    "      - {name: a, services: [echo.v1.Echo]}\n"
    "      - {name: b, services: [test.v1.Echo, echo.v1.Echo]}\n",
    "runtime:\n  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    process_groups:\n"
    "      - {name: a, services: [echo.v1.Echo]}\n"
    "      - {name: b, services: [test.v1.Echo, echo.v1.Echo]}\n",
};

/* Topic groups: "a" echo.v1.Echo with 2 workers, "b" test.v1.Echo with 3. */
static const char *yaml_ps_topic =
    "runtime:\n  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    lifecycle: {ready_timeout_seconds: 10, graceful_timeout_seconds: 3}\n"
    "    process_groups:\n"
    "      - {name: a, workers: 2, services: [echo.v1.Echo]}\n"
    "      - {name: b, workers: 3, services: [test.v1.Echo]}\n";

/* A service no group hosts: a resolution error at queue, topic and pick. */
static void
assert_unresolved(rt_ctx *r)
{
	xr_diag d = { 0 };
	int err = 0;

	assert_null(xr_transport_queue(rt_transport(r), "nobody.v1.Home", &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	assert_non_null(strstr(d.reason, "nobody.v1.Home"));
	memset(&d, 0, sizeof(d));
	assert_null(xr_transport_topic(rt_transport(r), "nobody.v1.Home", &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	assert_null(xr_lifecycle_pick(r->lc, "nobody.v1.Home", NULL, 0, &err));
	assert_int_equal(err, XR_ERR_LIFECYCLE_RESOLUTION);
	assert_int_equal(xr_err_category(err), XR_CAT_LIFECYCLE_RESOLUTION);
	assert_null(xr_lifecycle_route(r->lc, "nobody.v1.Home"));
}

/* A service the application declares it calls is resolved by new(). */
static void
test_ingress_services_resolved_at_new(void **state)
{
	static const char *const ok[] = { "test.v1.Echo", "echo.v1.Echo" };
	static const char *const bad[] = { "echo.v1.Echo", "nobody.v1.Home" };
	struct event_base *base = event_base_new();
	xr_lifecycle_opts o = { 0 };
	xr_lifecycle *lc;
	xr_config cfg;
	xr_diag d = { 0 };

	(void)state;
	assert_int_equal(xr_config_load_string(yaml_ps_two,
	    strlen(yaml_ps_two), &cfg, &d), XR_OK);
	o.cfg = &cfg;
	o.mods = rt_mods;
	o.n_mods = RT_NMODS;
	o.ingress_services = ok;
	o.n_ingress_services = 2;
	assert_non_null(lc = xr_lifecycle_new(base, &o, &d));
	xr_lifecycle_free(lc);
	o.ingress_services = bad;
	assert_null(xr_lifecycle_new(base, &o, &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	assert_non_null(strstr(d.reason, "nobody.v1.Home"));
	xr_config_free(&cfg);
	event_base_free(base);
}

/* The queue groups: echo.v1.Echo -> a (listed first), test.v1.Echo -> b. */
static void
assert_routes(rt_ctx *r)
{
	xr_diag d = { 0 };

	assert_string_equal(xr_queue_group(xr_transport_queue(rt_transport(r),
	    "echo.v1.Echo", &d)), "a");
	assert_string_equal(xr_queue_group(xr_transport_queue(rt_transport(r),
	    "test.v1.Echo", &d)), "b");
	assert_string_equal(xr_topic_group(xr_transport_topic(rt_transport(r),
	    "test.v1.Echo", &d)), "b");
	assert_string_equal(xr_lifecycle_route(r->lc, "echo.v1.Echo"), "a");
	assert_string_equal(xr_lifecycle_route(r->lc, "test.v1.Echo"), "b");
}

/* Two process groups hosting different services are both called through
 * the lifecycle; every call lands in the group that hosts its service.
 * IPC-INT-10/11 in process_supervisor mode: the transport service is bound
 * and makes the channels to the workers. */
static void
test_two_groups_process_supervisor(void **state)
{
	rt_ctx r;
	xr_worker_info w[3];
	xr_transport_svc *t;
	rt_result res;
	xr_channel *ch;
	xr_diag d = { 0 };
	uint64_t pid;
	int err, seen0 = 0, seen1 = 0;

	(void)state;
	rt_up(&r, yaml_ps_two);
	assert_int_equal(xr_lifecycle_workers(r.lc, w, 3), 3);
	assert_string_equal(w[0].group, "a");
	assert_string_equal(w[1].group, "a");
	assert_string_equal(w[2].group, "b");
	assert_non_null(t = rt_transport(&r));
	assert_int_equal(xr_transport_profile(t), XR_TRANSPORT_TCP_LOCAL);
	assert_null(xr_transport_server(t));	/* nothing served here */
	assert_int_equal(xr_transport_port(t), 0);
	assert_routes(&r);

	/* echo.v1.Echo: round robin over group a only */
	for (int i = 0; i < 4; i++) {
		ch = xr_lifecycle_pick(r.lc, "echo.v1.Echo", NULL, 0, &err);
		assert_int_equal(rt_say(ch, SAY, "to a", 0, 0, 2000, &res),
		    XR_STATUS_OK);
		assert_string_equal(res.text, "to a");
		pid = res.pid;
		assert_true(pid == (uint64_t)w[0].pid || pid == (uint64_t)w[1].pid);
		seen0 += pid == (uint64_t)w[0].pid;
		seen1 += pid == (uint64_t)w[1].pid;
	}
	assert_int_equal(seen0, 2);
	assert_int_equal(seen1, 2);
	/* test.v1.Echo: group b's worker */
	for (int i = 0; i < 2; i++) {
		ch = xr_lifecycle_pick(r.lc, "test.v1.Echo", "k", 1, &err);
		assert_int_equal(rt_say(ch, TSAY, "to b", 0, 0, 2000, &res),
		    XR_STATUS_OK);
		assert_string_equal(res.text, "to b");
		assert_int_equal(res.pid, (uint64_t)w[2].pid);
	}
	/* group a's workers do not host test.v1.Echo: routing is what
	 * reached b */
	ch = xr_lifecycle_pick(r.lc, "echo.v1.Echo", NULL, 0, &err);
	assert_int_equal(rt_say(ch, TSAY, "wrong group", 0, 0, 2000, &res),
	    XR_STATUS_UNIMPLEMENTED);
	/* IPC-INT-11: a channel from the service to worker b[0], with the
	 * keys of its endpoint; one with the service's own keys is refused
	 * (issue 11 #4: a supervised worker has keys of its own) */
	assert_non_null(ch = xr_transport_channel(t, w[2].port, &d));
	assert_int_not_equal(xr_channel_wait_ready(ch, 2000), XR_OK);
	xr_channel_free(ch);
	assert_null(xr_transport_worker_channel(t, "b", 1, &d));
	assert_int_equal(d.code, XR_ERR_INVALID_ARG);
	assert_non_null(ch = xr_transport_worker_channel(t, "b", 0, &d));
	assert_int_equal(xr_channel_wait_ready(ch, 2000), XR_OK);
	assert_int_equal(rt_say(ch, TSAY, "by hand", 0, 0, 2000, &res),
	    XR_STATUS_OK);
	assert_int_equal(res.pid, (uint64_t)w[2].pid);
	xr_channel_free(ch);
	assert_unresolved(&r);

	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	assert_int_equal(r.ev.stop_graceful, 2);
	assert_int_equal(r.ev.stop_forced, 0);
	rt_free(&r);
}

/* The same two groups inline (memory, then tcp_local): each group is one
 * in-process worker; both are called through the lifecycle. IPC-INT-09/10:
 * the transport service is bound, of the configured profile. */
static void
test_two_groups_inline(void **state)
{
	(void)state;
	for (int p = 0; p < 2; p++) {
		rt_ctx r;
		xr_worker_info w[2];
		rt_result res;
		xr_diag d = { 0 };
		int err;

		rt_up(&r, yaml_inline_two[p]);
		assert_int_equal(xr_transport_profile(rt_transport(&r)),
		    p == 0 ? XR_TRANSPORT_MEMORY : XR_TRANSPORT_TCP_LOCAL);
		if (p == 0)
			assert_null(xr_transport_server(rt_transport(&r)));
		else
			assert_non_null(xr_transport_server(rt_transport(&r)));
		assert_int_equal(xr_lifecycle_workers(r.lc, w, 2), 2);
		assert_string_equal(w[0].group, "a");
		assert_string_equal(w[1].group, "b");
		for (int i = 0; i < 2; i++) {
			assert_int_equal(w[i].index, 0);
			assert_int_equal(w[i].pid, getpid());
			assert_int_equal(w[i].state, XR_WORKER_READY);
			assert_int_equal(w[i].port,
			    xr_transport_port(rt_transport(&r)));
		}
		assert_routes(&r);
		assert_int_equal(rt_say(xr_lifecycle_pick(r.lc, "echo.v1.Echo",
		    NULL, 0, &err), SAY, "inline a", 0, 0, 2000, &res),
		    XR_STATUS_OK);
		assert_string_equal(res.text, "inline a");
		assert_int_equal(res.pid, (uint64_t)getpid());
		assert_int_equal(rt_say(xr_lifecycle_pick(r.lc, "test.v1.Echo",
		    NULL, 0, &err), TSAY, "inline b", 0, 0, 2000, &res),
		    XR_STATUS_OK);
		assert_string_equal(res.text, "inline b");
		assert_unresolved(&r);
		assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
		rt_free(&r);
	}
}

/* Collects an async publish's outcome. */
struct topic_seen {
	int calls;
	size_t n;
	char group[16];
	uint32_t index[8];
	int code[8];
	uint64_t pid[8];
};

static void
topic_done(void *arg, const xr_topic_result *res, size_t n)
{
	struct topic_seen *s = arg;

	s->calls++;
	s->n = n;
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		snprintf(s->group, sizeof(s->group), "%s", res[i].group);
		s->index[i] = res[i].index;
		s->code[i] = res[i].status.code;
		s->pid[i] = res[i].status.code == XR_STATUS_OK ?
		    rt_say_pid(res[i].resp, res[i].resp_len) : 0;
	}
}

static size_t
pack_say(const char *text, uint32_t fail_code, uint8_t *buf)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;

	req.text = (char *)(uintptr_t)text;
	req.fail_code = fail_code;
	return echo__v1__say_request__pack(&req, buf);
}

/* Endpoint/Stats of every worker of topic `tp`: calls per index. */
static void
stats_calls(xr_topic *tp, size_t n, uint64_t *calls)
{
	xr_topic_result *res;
	size_t got;
	uint64_t rej[XR_REJECT_COUNT];

	assert_int_equal(xr_topic_publish_sync(tp, "execrpc.v1.Endpoint/Stats",
	    NULL, 0, 2000, &res, &got), XR_OK);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].index, i);
		rt_stats_rejects(&res[i], rej, &calls[i]);
	}
	xr_topic_results_free(res, got);
}

/* TOPIC in process_supervisor mode: one delivery to every ready worker of
 * the group, exactly once each (the workers' call counters), each status
 * reported, a failing worker among answering ones. */
static void
test_topic_process_supervisor(void **state)
{
	rt_ctx r;
	xr_worker_info w[5];
	xr_topic *ta, *tb;
	xr_topic_result *res;
	struct topic_seen seen = { 0 };
	uint64_t before[2], after[2];
	uint8_t buf[64];
	size_t len, n;
	xr_diag d = { 0 };

	(void)state;
	rt_up(&r, yaml_ps_topic);
	assert_int_equal(xr_lifecycle_workers(r.lc, w, 5), 5);
	assert_non_null(ta = xr_transport_topic(rt_transport(&r),
	    "echo.v1.Echo", &d));
	assert_non_null(tb = xr_transport_topic(rt_transport(&r),
	    "test.v1.Echo", &d));

	stats_calls(ta, 2, before);
	len = pack_say("to all of a", 0, buf);
	assert_int_equal(xr_topic_publish(ta, SAY, buf, len, 2000, topic_done,
	    &seen), XR_OK);
	while (seen.calls == 0)
		event_base_loop(r.base, EVLOOP_ONCE);
	rt_run_for(r.base, 20);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.group, "a");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(seen.index[i], i);
		assert_int_equal(seen.code[i], XR_STATUS_OK);
		assert_int_equal(seen.pid[i], (uint64_t)w[i].pid);
	}
	/* exactly once per worker: the Say and the second Stats itself */
	stats_calls(ta, 2, after);
	for (int i = 0; i < 2; i++)
		assert_int_equal(after[i], before[i] + 2);

	/* group b: worker 1 fails with code 9, workers 0 and 2 answer */
	len = pack_say("fail-on-1", 9, buf);
	assert_int_equal(xr_topic_publish_sync(tb, TSAY, buf, len, 2000, &res,
	    &n), XR_OK);
	assert_int_equal(n, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_string_equal(res[i].group, "b");
		assert_int_equal(res[i].index, i);
	}
	assert_int_equal(res[0].status.code, XR_STATUS_OK);
	assert_int_equal(rt_say_pid(res[0].resp, res[0].resp_len),
	    (uint64_t)w[2].pid);
	assert_int_equal(res[1].status.code, 9);
	assert_string_equal(res[1].status.message, "failed as asked");
	assert_null(res[1].resp);
	assert_int_equal(res[2].status.code, XR_STATUS_OK);
	assert_int_equal(rt_say_pid(res[2].resp, res[2].resp_len),
	    (uint64_t)w[4].pid);
	xr_topic_results_free(res, n);

	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	/* stopped: no more deliveries */
	assert_int_equal(xr_topic_publish(ta, SAY, buf, len, 2000, topic_done,
	    &seen), XR_ERR_LIFECYCLE_NOT_READY);
	assert_int_equal(seen.calls, 1);
	rt_free(&r);
}

/* TOPIC inline: the group's one in-process worker gets the delivery; not
 * before ready. */
static void
test_topic_inline(void **state)
{
	(void)state;
	for (int p = 0; p < 2; p++) {
		rt_ctx r;
		xr_topic *tb;
		xr_topic_result *res;
		struct topic_seen seen = { 0 };
		uint8_t buf[64];
		size_t len, n;
		xr_diag d = { 0 };

		rt_new(&r, yaml_inline_two[p], NULL, NULL);
		assert_int_equal(xr_lifecycle_start(r.lc, &d), XR_OK);
		assert_non_null(tb = xr_transport_topic(rt_transport(&r),
		    "test.v1.Echo", &d));
		len = pack_say("fail-on-0", 7, buf);
		/* PROC-INT-02: nothing before ready */
		assert_int_equal(xr_topic_publish(tb, TSAY, buf, len, 1000,
		    topic_done, &seen), XR_ERR_LIFECYCLE_NOT_READY);
		assert_int_equal(xr_lifecycle_ready(r.lc, &d), XR_OK);
		assert_int_equal(xr_topic_publish_sync(tb, TSAY, buf, len, 1000,
		    &res, &n), XR_OK);
		assert_int_equal(n, 1);
		assert_string_equal(res[0].group, "b");
		assert_int_equal(res[0].index, 0);
		assert_int_equal(res[0].status.code, 7);
		xr_topic_results_free(res, n);
		len = pack_say("hello b", 0, buf);
		assert_int_equal(xr_topic_publish_sync(tb, TSAY, buf, len, 1000,
		    &res, &n), XR_OK);
		assert_int_equal(n, 1);
		assert_int_equal(res[0].status.code, XR_STATUS_OK);
		assert_int_equal(rt_say_pid(res[0].resp, res[0].resp_len),
		    (uint64_t)getpid());
		xr_topic_results_free(res, n);
		assert_int_equal(seen.calls, 0);
		assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
		rt_free(&r);
	}
}

/* A group that lists no services hosts every module of the table. */
static void
test_empty_services_all_modules(void **state)
{
	static const char *yamls[2] = {
	    "runtime:\n  platform:\n"
	    "    process_groups:\n"
	    "      - {name: all, services: []}\n",
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 10}\n"
	    "    process_groups:\n"
	    "      - {name: all, workers: 1}\n",
	};

	(void)state;
	for (int p = 0; p < 2; p++) {
		rt_ctx r;
		rt_result res;
		xr_diag d = { 0 };
		int err;

		rt_new(&r, yamls[p], NULL, NULL);
		assert_int_equal(r.cfg.groups[0].n_services, 0);
		assert_string_equal(xr_lifecycle_route(r.lc, "echo.v1.Echo"),
		    "all");
		assert_string_equal(xr_lifecycle_route(r.lc, "test.v1.Echo"),
		    "all");
		assert_int_equal(xr_lifecycle_start(r.lc, &d), XR_OK);
		assert_int_equal(xr_lifecycle_ready(r.lc, &d), XR_OK);
		/* the worker (process_supervisor) registered both modules */
		assert_int_equal(rt_say(xr_lifecycle_pick(r.lc, "echo.v1.Echo",
		    NULL, 0, &err), SAY, "one", 0, 0, 2000, &res), XR_STATUS_OK);
		assert_int_equal(rt_say(xr_lifecycle_pick(r.lc, "test.v1.Echo",
		    NULL, 0, &err), TSAY, "two", 0, 0, 2000, &res), XR_STATUS_OK);
		assert_string_equal(res.text, "two");
		assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
		rt_free(&r);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_groups_process_supervisor),
		cmocka_unit_test(test_two_groups_inline),
		cmocka_unit_test(test_topic_process_supervisor),
		cmocka_unit_test(test_topic_inline),
		cmocka_unit_test(test_empty_services_all_modules),
		cmocka_unit_test(test_ingress_services_resolved_at_new),
	};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
