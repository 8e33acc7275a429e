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

#include "echo.h"
#include "echo/v1/echo.pb-c.h"
#include "lifecycle.h"
#include "rx.h"

static int
echo_add(xr_registry *reg, const xr_worker_ctx *ctx)
{
	(void)ctx;
	return xr_echo_register(reg);
}

static const xr_service_module mods[] = {
	{ "echo.v1.Echo", echo_add, NULL, NULL },
};

struct events {
	char phases[256];
	int stop_graceful, stop_forced;
	int failed;		/* XR_ERR_WORKER_FAILED events */
	int last_signal;
	int ready;
};

static void
on_phase(void *arg, const char *name)
{
	struct events *ev = arg;

	strncat(ev->phases, name, sizeof(ev->phases) - strlen(ev->phases) - 2);
	strcat(ev->phases, ",");
}

static void
on_stop(void *arg, const char *group, xr_stop_mode mode)
{
	struct events *ev = arg;

	assert_string_equal(group, "execution");
	if (mode == XR_STOP_GRACEFUL)
		ev->stop_graceful++;
	else
		ev->stop_forced++;
}

static void
on_worker(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	struct events *ev = arg;

	if (err == XR_ERR_WORKER_FAILED) {
		ev->failed++;
		ev->last_signal = w->last_signal;
	} else if (err == XR_OK && strcmp(reason, "ready") == 0) {
		ev->ready++;
	}
}

struct rt {
	struct event_base *base;
	xr_config cfg;
	xr_lifecycle *lc;
	struct events ev;
};

static void
rt_up(struct rt *rt, int workers, const char *restart)
{
	char yaml[512];
	xr_lifecycle_opts o = { 0 };
	xr_diag d = { 0 };

	memset(rt, 0, sizeof(*rt));
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {graceful_timeout_seconds: 3}\n"
	    "    process_groups:\n"
	    /* no services: the bundle names none, the worker hosts its
	     * whole table (echo.v1.Echo) */
	    "      - {name: execution, workers: %d, restart: %s}\n",
	    workers, restart);
	assert_non_null(rt->base = event_base_new());
	assert_int_equal(xr_config_load_string(yaml, strlen(yaml), &rt->cfg,
	    &d), XR_OK);
	o.cfg = &rt->cfg;
	o.mods = mods;
	o.n_mods = 1;
	o.on_phase = on_phase;
	o.phase_arg = &rt->ev;
	o.on_stop_event = on_stop;
	o.stop_arg = &rt->ev;
	o.on_worker_event = on_worker;
	o.worker_arg = &rt->ev;
	assert_non_null(rt->lc = xr_lifecycle_new(rt->base, &o, &d));
	assert_int_equal(xr_lifecycle_start(rt->lc, &d), XR_OK);
	assert_int_equal(xr_lifecycle_ready(rt->lc, 10000, &d), XR_OK);
}

static void
rt_free(struct rt *rt)
{
	xr_lifecycle_free(rt->lc);
	xr_config_free(&rt->cfg);
	event_base_free(rt->base);
}

/* A blocking Say through the channel; returns the status code and the
 * answering worker's pid. */
static int
say(xr_channel *ch, const char *text, uint32_t delay, uint64_t *pid)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	Echo__V1__SayResponse *r;
	uint8_t buf[128], *resp = NULL;
	size_t len, rlen = 0;
	xr_status st;
	int code;

	req.text = (char *)(uintptr_t)text;
	req.delay_ms = delay;
	len = echo__v1__say_request__pack(&req, buf);
	code = xr_call_sync_bytes(ch, "echo.v1.Echo/Say", buf, len, &resp,
	    &rlen, 5000, &st);
	*pid = 0;
	if (code == XR_STATUS_OK) {
		assert_non_null(r = echo__v1__say_response__unpack(NULL, rlen, resp));
		assert_string_equal(r->text, text);
		*pid = r->worker_pid;
		echo__v1__say_response__free_unpacked(r, NULL);
	}
	free(resp);
	return code;
}

static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* BOOT-API-01 / PROC-INT-01: the lifecycle drives the supervisor; calls
 * spread round robin over the workers; an affinity key always reaches the
 * same worker; one graceful stop event. */
static void
test_boot_api_01_round_robin_and_affinity(void **state)
{
	struct rt rt;
	uint64_t pids[4], first = 0, pid;
	xr_diag d = { 0 };
	int err, distinct = 0;

	(void)state;
	rt_up(&rt, 2, "on-failure");
	assert_string_equal(rt.ev.phases,
	    "config,registries,runtime_services,workers,ingress,ready,");
	assert_non_null(xr_lifecycle_supervisor(rt.lc));
	assert_null(xr_lifecycle_transport(rt.lc));
	for (int i = 0; i < 4; i++)
		assert_int_equal(say(xr_lifecycle_pick(rt.lc, NULL, 0, &err),
		    "rr", 0, &pids[i]), XR_STATUS_OK);
	distinct = pids[0] != pids[1];
	assert_true(distinct);
	assert_true(pids[0] == pids[2] && pids[1] == pids[3]);
	assert_true(pids[0] != (uint64_t)getpid());
	for (int i = 0; i < 5; i++) {
		assert_int_equal(say(xr_lifecycle_pick(rt.lc, "cust-42", 7, &err),
		    "affinity", 0, &pid), XR_STATUS_OK);
		if (i == 0)
			first = pid;
		assert_true(pid == first);
	}
	assert_int_equal(xr_lifecycle_stop(rt.lc, 3000, &d), XR_OK);
	assert_int_equal(rt.ev.stop_graceful, 1);
	assert_int_equal(rt.ev.stop_forced, 0);
	rt_free(&rt);
}

struct pending {
	int done, code;
};

static void
pending_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct pending *p = arg;

	(void)resp;
	(void)len;
	p->done = 1;
	p->code = st->code;
}

/* PROC-INT-03 / STOP-IPC-01: a graceful stop drains calls in flight on the
 * workers; each gets OK; one graceful event. */
static void
test_proc_int_03_stop_drains_workers(void **state)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	struct rt rt;
	struct pending p[4];
	uint8_t buf[64];
	size_t len;
	xr_diag d = { 0 };
	int err;

	(void)state;
	rt_up(&rt, 2, "on-failure");
	req.text = "slow";
	req.delay_ms = 300;
	len = echo__v1__say_request__pack(&req, buf);
	for (int i = 0; i < 4; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		xr_call_start(xr_lifecycle_pick(rt.lc, NULL, 0, &err),
		    "echo.v1.Echo/Say", buf, len, 5000, pending_cb, &p[i]);
	}
	run_for(rt.base, 50);
	assert_int_equal(xr_lifecycle_stop(rt.lc, 3000, &d), XR_OK);
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
	struct rt rt;
	xr_worker_info w[2];
	struct pending p;
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t buf[64];
	size_t len;
	xr_diag d = { 0 };
	uint64_t pid, seen[2] = { 0, 0 };
	int err;
	xr_channel *ch;

	(void)state;
	rt_up(&rt, 2, "on-failure");
	assert_int_equal(xr_supervisor_workers(xr_lifecycle_supervisor(rt.lc),
	    w, 2), 2);
	/* a slow call to worker 0 (round robin starts there) */
	req.text = "victim";
	req.delay_ms = 2000;
	len = echo__v1__say_request__pack(&req, buf);
	memset(&p, 0, sizeof(p));
	ch = xr_lifecycle_pick(rt.lc, NULL, 0, &err);
	xr_call_start(ch, "echo.v1.Echo/Say", buf, len, 5000, pending_cb, &p);
	run_for(rt.base, 50);
	assert_int_equal(say(ch, "who", 0, &pid), XR_STATUS_OK);
	kill(w[0].pid == (pid_t)pid ? w[0].pid : w[1].pid, SIGKILL);
	for (int i = 0; i < 100 && (!p.done || rt.ev.ready < 3); i++)
		run_for(rt.base, 20);
	assert_int_equal(p.done, 1);
	assert_int_equal(p.code, XR_STATUS_UNAVAILABLE);
	assert_int_equal(rt.ev.failed, 1);
	assert_int_equal(rt.ev.last_signal, SIGKILL);
	assert_int_equal(rt.ev.ready, 3);	/* 2 at start + the restart */
	xr_supervisor_workers(xr_lifecycle_supervisor(rt.lc), w, 2);
	assert_int_equal(w[0].restarts + w[1].restarts, 1);
	/* both workers serve again */
	for (int i = 0; i < 2; i++) {
		int code = say(xr_lifecycle_pick(rt.lc, NULL, 0, &err), "back",
		    0, &seen[i]);

		assert_int_equal(code, XR_STATUS_OK);
	}
	assert_true(seen[0] != seen[1]);
	assert_int_equal(xr_lifecycle_stop(rt.lc, 3000, &d), XR_OK);
	rt_free(&rt);
}

/* PROC-INT-08: with restart never, a crashed worker raises the
 * worker-failed error to the caller. */
static void
test_proc_int_08_crash_raises(void **state)
{
	struct rt rt;
	xr_worker_info w[2];
	xr_diag d = { 0 };
	int err = 0;

	(void)state;
	rt_up(&rt, 2, "never");
	xr_supervisor_workers(xr_lifecycle_supervisor(rt.lc), w, 2);
	kill(w[1].pid, SIGKILL);
	for (int i = 0; i < 100 && rt.ev.failed == 0; i++)
		run_for(rt.base, 20);
	assert_int_equal(rt.ev.failed, 1);
	assert_null(xr_lifecycle_pick(rt.lc, NULL, 0, &err));
	assert_int_equal(err, XR_ERR_WORKER_FAILED);
	assert_int_equal(xr_err_category(err), XR_CAT_WORKER_FAILED);
	xr_lifecycle_stop(rt.lc, 3000, &d);
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

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return xr_worker_main(3, 4, mods, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
