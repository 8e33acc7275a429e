/*
 * tests/runtime/test_supervised.c — the lifecycle in process_supervisor
 * mode: BOOT-API-01 (start_groups -> wait_ready -> stop_groups driven by the
 * lifecycle, in that order), the ingress over a group (round robin,
 * affinity, a dead worker skipped and picked up again), PROC-INT-03/04/08.
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

#include <event2/event.h>

#include "helper_rt.h"

#define SAY "echo.v1.Echo/Say"

/* One group "execution" of `workers` echo workers with `restart`. */
static void
up(rt_ctx *r, int workers, const char *restart)
{
	char yaml[512];

	snprintf(yaml, sizeof(yaml),
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 10, "
	    "graceful_timeout_seconds: 3}\n"
	    "    process_groups:\n"
	    /* no services: the bundle names none, the worker hosts its
	     * whole table (echo.v1.Echo, test.v1.Echo) */
	    "      - {name: execution, workers: %d, restart: %s}\n",
	    workers, restart);
	rt_up(r, yaml);
}

/* A blocking Say through the channel; returns the status code and the
 * answering worker's pid. */
static int
say(xr_channel *ch, const char *text, uint64_t *pid)
{
	rt_result res;

	rt_say(ch, SAY, text, 0, 0, 5000, &res);
	if (res.code == XR_STATUS_OK)
		assert_string_equal(res.text, text);
	*pid = res.pid;
	return res.code;
}

/* BOOT-API-01 / PROC-INT-01: the lifecycle drives the supervisor; calls
 * spread round robin over the workers; an affinity key always reaches the
 * same worker; one graceful stop event. */
static void
test_boot_api_01_round_robin_and_affinity(void **state)
{
	rt_ctx rt;
	uint64_t pids[4], first = 0, pid;
	xr_diag d = { 0 };
	int err, distinct = 0;

	(void)state;
	up(&rt, 2, "on-failure");
	assert_string_equal(rt.ev.phases,
	    "config,registries,runtime_services,workers,ingress,ready,");
	/* IPC-INT-10: the transport service is bound in this mode too */
	assert_non_null(xr_lifecycle_transport(rt.lc));
	assert_int_equal(xr_transport_profile(xr_lifecycle_transport(rt.lc)),
	    XR_TRANSPORT_TCP_LOCAL);
	assert_null(xr_transport_server(xr_lifecycle_transport(rt.lc)));
	for (int i = 0; i < 4; i++)
		assert_int_equal(say(xr_lifecycle_pick(rt.lc, "echo.v1.Echo",
		    NULL, 0, &err), "rr", &pids[i]), XR_STATUS_OK);
	distinct = pids[0] != pids[1];
	assert_true(distinct);
	assert_true(pids[0] == pids[2] && pids[1] == pids[3]);
	assert_true(pids[0] != (uint64_t)getpid());
	for (int i = 0; i < 5; i++) {
		assert_int_equal(say(xr_lifecycle_pick(rt.lc, "echo.v1.Echo",
		    "cust-42", 7, &err), "affinity", &pid), XR_STATUS_OK);
		if (i == 0)
			first = pid;
		assert_true(pid == first);
	}
	assert_int_equal(xr_lifecycle_stop(rt.lc, &d), XR_OK);
	assert_int_equal(rt.ev.stop_graceful, 1);
	assert_int_equal(rt.ev.stop_forced, 0);
	rt_free(&rt);
}

/* PROC-INT-03 / STOP-IPC-01: a graceful stop drains calls in flight on the
 * workers; each gets OK; one graceful event. */
static void
test_proc_int_03_stop_drains_workers(void **state)
{
	rt_ctx rt;
	rt_pending p[4];
	xr_diag d = { 0 };
	int err;

	(void)state;
	up(&rt, 2, "on-failure");
	for (int i = 0; i < 4; i++)
		rt_start_say(xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0,
		    &err), SAY, 300, 5000, &p[i]);
	rt_run_for(rt.base, 50);
	assert_int_equal(xr_lifecycle_stop(rt.lc, &d), XR_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p[i].done, 1);
		assert_int_equal(p[i].code, XR_STATUS_OK);
	}
	assert_int_equal(rt.ev.stop_graceful, 1);
	rt_free(&rt);
}

/* PROC-INT-04: a worker killed with SIGKILL surfaces as worker-failed with
 * its signal; the call pending on it gets UNAVAILABLE; with restart
 * on-failure it comes back and the ingress uses it again. */
static void
test_proc_int_04_crash_restart(void **state)
{
	rt_ctx rt;
	xr_worker_info w[2];
	rt_pending p;
	xr_diag d = { 0 };
	uint64_t pid, seen[2] = { 0, 0 };
	int err;
	xr_channel *ch;

	(void)state;
	up(&rt, 2, "on-failure");
	assert_int_equal(xr_lifecycle_workers(rt.lc, w, 2), 2);
	/* a slow call to worker 0 (round robin starts there) */
	ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err);
	rt_start_say(ch, SAY, 2000, 5000, &p);
	rt_run_for(rt.base, 50);
	assert_int_equal(say(ch, "who", &pid), XR_STATUS_OK);
	kill(w[0].pid == (pid_t)pid ? w[0].pid : w[1].pid, SIGKILL);
	for (int i = 0; i < 100 && (!p.done || rt.ev.ready < 3); i++)
		rt_run_for(rt.base, 20);
	assert_int_equal(p.done, 1);
	assert_int_equal(p.code, XR_STATUS_UNAVAILABLE);
	assert_int_equal(rt.ev.failed, 1);
	assert_int_equal(rt.ev.last_signal, SIGKILL);
	assert_int_equal(rt.ev.ready, 3);	/* 2 at start + the restart */
	xr_lifecycle_workers(rt.lc, w, 2);
	assert_int_equal(w[0].restarts + w[1].restarts, 1);
	/* both workers serve again */
	for (int i = 0; i < 2; i++)
		assert_int_equal(say(xr_lifecycle_pick(rt.lc, "echo.v1.Echo",
		    NULL, 0, &err), "back", &seen[i]), XR_STATUS_OK);
	assert_true(seen[0] != seen[1]);
	assert_int_equal(xr_lifecycle_stop(rt.lc, &d), XR_OK);
	rt_free(&rt);
}

/* PROC-INT-08: with restart never, a crashed worker raises the
 * worker-failed error to the caller. */
static void
test_proc_int_08_crash_raises(void **state)
{
	rt_ctx rt;
	xr_worker_info w[2];
	xr_diag d = { 0 };
	int err = 0;

	(void)state;
	up(&rt, 2, "never");
	xr_lifecycle_workers(rt.lc, w, 2);
	kill(w[1].pid, SIGKILL);
	for (int i = 0; i < 100 && rt.ev.failed == 0; i++)
		rt_run_for(rt.base, 20);
	assert_int_equal(rt.ev.failed, 1);
	assert_null(xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err));
	assert_int_equal(err, XR_ERR_WORKER_FAILED);
	assert_int_equal(xr_err_category(err), XR_CAT_WORKER_FAILED);
	xr_lifecycle_stop(rt.lc, &d);
	rt_free(&rt);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_api_01_round_robin_and_affinity),
		cmocka_unit_test(test_proc_int_03_stop_drains_workers),
		cmocka_unit_test(test_proc_int_04_crash_restart),
		cmocka_unit_test(test_proc_int_08_crash_raises),
	};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
