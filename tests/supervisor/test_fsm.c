/*
 * tests/supervisor/test_fsm.c — the worker state machine's table and the
 * worker channel's command tables.
 *
 * FSM-01  every (state, event) cell of the table: an empty cell is a no-op
 *         (returns 0, nothing changes, no event reported), a refused cell
 *         is an explicit error (XR_ERR_INVALID_ARG, nothing changes), and
 *         every other cell moves to its documented next state
 * FSM-02  READY with a port outside 1..65535 is refused while STARTING
 * CHAN-01 xr_wchan_dispatch: unknown type, wrong side, wrong state, a
 *         repeated once-only command are refused and run nothing; a fresh
 *         channel (a new spawn) starts over
 * CHAN-02 a hand-made worker (helper_sup.h TS_FAKE_SCRIPT) sends READY
 *         twice, STOPPED before any STOP, a supervisor's STOP, an unasked
 *         STATS_REPLY, a CALL_REPLY for a call never made and a
 *         supervisor's CALL: the supervisor acts on the first READY only,
 *         refuses and counts the second READY, the STOPPED, the STOP, the
 *         CALL_REPLY and the CALL (5), drops the stray STATS_REPLY, and
 *         still stops the worker gracefully (a refused STOPPED did not use
 *         up the once-only STOPPED)
 *
 * These tests include supervisor_priv.h: the table is internal; the
 * functions driven (xr__sup_fsm, xr_wchan_dispatch) are the ones production
 * code calls, not test hooks.
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

#include "helper_sup.h"
#include "rx.h"
#include "supervisor_priv.h"
#include "worker_chan.h"

static const char yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    process_groups:\n"
    "      - {name: fsm, workers: 1, services: [echo.v1.Echo]}\n";

/* ---- FSM-01 ---- */

/*
 * The expected table, one row per state, one column per event in
 * enum xr_sup_event order: START READY DRAIN STOP STOPPED EXIT DEADLINE
 * KILL. '.' empty (no-op), 'E' refused, a digit the next state
 * (xr_worker_state: 1 STARTING, 2 READY, 3 DRAINING, 4 STOPPING,
 * 5 STOPPED, 6 FAILED, 7 BACKOFF).
 * Exits are crashes with status 1; restart is on-failure; spawns fail
 * (the worker executable does not exist): START goes to FAILED, a respawn
 * (BACKOFF x deadline) back to BACKOFF.
 */
static const char *const expect[XR_WORKER_BACKOFF + 1] = {
	[XR_WORKER_STARTING] = ".2.4E7.4",
	[XR_WORKER_READY] = ".E34E7.4",
	[XR_WORKER_DRAINING] = ".E.4E7.4",
	[XR_WORKER_STOPPING] = ".4..4544",
	[XR_WORKER_STOPPED] = "6.......",
	[XR_WORKER_FAILED] = "6.......",
	[XR_WORKER_BACKOFF] = "...5..75",
};

static void
reset(struct sup_worker *w, int st)
{
	event_del(&w->timer);
	w->state = (xr_worker_state)st;
	w->pid = 0;
	w->ctl_fd = -1;
	w->port = 0;
	w->acked = w->killed = false;
	w->err = 0;
	w->last_exit_status = 1;
	w->last_signal = 0;
}

static void
test_fsm_01_every_cell(void **state)
{
	static const char *const evname[XR_SUP_EV_COUNT] = { "start", "ready",
	    "drain", "stop", "stopped", "exit", "deadline", "kill" };
	static const char *const args[] = { "--worker", NULL };
	xr_supervisor_opts o = { 0 };
	struct event_base *base;
	xr_supervisor *sup;
	struct sup_worker *w;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	ts_rec rec = { 0 };
	int noop = 0, refused = 0, ran = 0;

	(void)state;
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	o.cfg = &cfg;
	o.keys = &ks;
	o.worker_exe = "/nonexistent/execrpc-worker";
	o.worker_args = args;
	o.on_worker_event = ts_on_worker;
	o.worker_arg = &rec;
	assert_non_null(sup = xr_supervisor_new(base, &o, &d));
	w = &sup->groups[0].w[0];
	for (int st = XR_WORKER_STARTING; st <= XR_WORKER_BACKOFF; st++) {
		for (int ev = 0; ev < XR_SUP_EV_COUNT; ev++) {
			char want = expect[st][ev];
			size_t nev = rec.n;
			int r;

			reset(w, st);
			r = xr__sup_fsm(w, (enum xr_sup_event)ev, 4242);
			if (want == '.' || want == 'E') {
				/* nothing changed, nothing reported */
				if (r != (want == '.' ? 0 : XR_ERR_INVALID_ARG) ||
				    (int)w->state != st || w->port != 0 ||
				    w->pid != 0 || rec.n != nev ||
				    evtimer_pending(&w->timer, NULL))
					fail_msg("%s x %s: r %d state %s, want "
					    "%s", xr_worker_state_name(st),
					    evname[ev], r,
					    xr_worker_state_name(w->state),
					    want == '.' ? "a no-op" :
					    "a refusal");
				if (want == '.')
					noop++;
				else
					refused++;
				continue;
			}
			if (r != 1 || (int)w->state != want - '0')
				fail_msg("%s x %s: r %d state %s, want %s",
				    xr_worker_state_name(st), evname[ev], r,
				    xr_worker_state_name(w->state),
				    xr_worker_state_name(want - '0'));
			ran++;
		}
	}
	/* the table has 56 cells: 30 empty, 5 refusals, 21 handlers */
	assert_int_equal(noop, 30);
	assert_int_equal(refused, 5);
	assert_int_equal(ran, 21);
	/* a few cells' effects, exactly */
	reset(w, XR_WORKER_STARTING);
	rec.n = 0;
	assert_int_equal(xr__sup_fsm(w, XR_SUP_EV_READY, 4242), 1);
	assert_int_equal(w->port, 4242);
	assert_int_equal(ts_worker_count(&rec, XR_OK, "ready"), 1);
	reset(w, XR_WORKER_STOPPED);
	rec.n = 0;
	assert_int_equal(xr__sup_fsm(w, XR_SUP_EV_START, 0), 1);
	assert_int_equal(w->state, XR_WORKER_FAILED);
	assert_int_equal(w->err, XR_ERR_BOOTSTRAP_START_FAILED);
	assert_int_equal(ts_worker_count(&rec, XR_ERR_BOOTSTRAP_START_FAILED,
	    NULL), 1);
	reset(w, XR_WORKER_READY);
	rec.n = 0;
	assert_int_equal(xr__sup_fsm(w, XR_SUP_EV_EXIT, 0), 1);
	assert_int_equal(w->state, XR_WORKER_BACKOFF);
	assert_true(evtimer_pending(&w->timer, NULL));	/* the restart */
	assert_int_equal(ts_worker_count(&rec, XR_ERR_WORKER_FAILED,
	    "exited with status 1"), 1);

	reset(w, XR_WORKER_STOPPED);
	xr_supervisor_free(sup);
	assert_int_equal(ts_children_of(getpid(), NULL, 0), 0);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
}

/* ---- FSM-02 ---- */

static void
test_fsm_02_ready_bad_port(void **state)
{
	xr_supervisor_opts o = { 0 };
	struct event_base *base;
	xr_supervisor *sup;
	struct sup_worker *w;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };

	(void)state;
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	o.cfg = &cfg;
	o.keys = &ks;
	assert_non_null(sup = xr_supervisor_new(base, &o, &d));
	w = &sup->groups[0].w[0];
	reset(w, XR_WORKER_STARTING);
	assert_int_equal(xr__sup_fsm(w, XR_SUP_EV_READY, 0),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr__sup_fsm(w, XR_SUP_EV_READY, 65536),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(w->state, XR_WORKER_STARTING);
	assert_int_equal(w->port, 0);
	assert_int_equal(xr__sup_fsm(w, XR_SUP_EV_READY, 65535), 1);
	assert_int_equal(w->state, XR_WORKER_READY);
	assert_int_equal(w->port, 65535);
	reset(w, XR_WORKER_STOPPED);
	xr_supervisor_free(sup);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
}

/* ---- CHAN-01 ---- */

static int ran_a, ran_b;

static void
run_a(void *arg, const Execrpc__V1__Command *c)
{
	(void)arg;
	(void)c;
	ran_a++;
}

static void
run_b(void *arg, const Execrpc__V1__Command *c)
{
	(void)arg;
	(void)c;
	ran_b++;
}

static void
test_chan_01_dispatch(void **state)
{
	static const xr_wchan_cmd tab[] = {
		{ EXECRPC__V1__COMMAND_TYPE__COMMAND_READY,
		    XR_WCHAN_TO_SUPERVISOR, XR_WCHAN_STATE(1), XR_WCHAN_ONCE,
		    run_a },
		{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS_REPLY,
		    XR_WCHAN_TO_SUPERVISOR,
		    XR_WCHAN_STATE(2) | XR_WCHAN_STATE(3), 0, run_b },
		{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP,
		    XR_WCHAN_TO_WORKER, XR_WCHAN_STATE(1), 0, run_b },
	};
	const size_t n = sizeof(tab) / sizeof(tab[0]);
	const xr_wchan_side sup = XR_WCHAN_TO_SUPERVISOR;
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	uint8_t sid[XR_SESSION_ID_LEN] = { 0 };
	xr_wchan ch;

	(void)state;
	ran_a = ran_b = 0;
	assert_int_equal(xr_wchan_init(&ch, -1, NULL, sid, 30), XR_OK);
	/* not in the table */
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN;
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 1, NULL, &c),
	    XR_ERR_KIND_NOT_ALLOWED);
	/* a row for the other side */
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 1, NULL, &c),
	    XR_ERR_KIND_NOT_ALLOWED);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, XR_WCHAN_TO_WORKER, 1,
	    NULL, &c), XR_OK);
	assert_int_equal(ran_b, 1);
	/* states */
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS_REPLY;
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 1, NULL, &c),
	    XR_ERR_KIND_NOT_ALLOWED);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 32, NULL, &c),
	    XR_ERR_KIND_NOT_ALLOWED);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, -1, NULL, &c),
	    XR_ERR_KIND_NOT_ALLOWED);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 2, NULL, &c),
	    XR_OK);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 3, NULL, &c),
	    XR_OK);	/* not once-only: again */
	assert_int_equal(ran_b, 3);
	/* once per channel: a wrong-state READY does not use it up */
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_READY;
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 2, NULL, &c),
	    XR_ERR_KIND_NOT_ALLOWED);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 1, NULL, &c),
	    XR_OK);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 1, NULL, &c),
	    XR_ERR_KIND_NOT_ALLOWED);
	assert_int_equal(ran_a, 1);
	xr_wchan_fini(&ch);
	/* a new channel (a new spawn): once again */
	assert_int_equal(xr_wchan_init(&ch, -1, NULL, sid, 30), XR_OK);
	assert_int_equal(xr_wchan_dispatch(&ch, tab, n, sup, 1, NULL, &c),
	    XR_OK);
	assert_int_equal(ran_a, 2);
	assert_int_equal(ran_b, 3);
	xr_wchan_fini(&ch);
}

/* ---- CHAN-02 ---- */

static void
test_chan_02_refused_commands(void **state)
{
	static const char *const args[] = { "--worker", "--fake-worker",
	    "--bootstrap-fd", "3", "--control-fd", "4", NULL };
	xr_supervisor_opts o = { 0 };
	struct event_base *base;
	xr_supervisor *sup;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	ts_rec rec = { 0 };
	xr_worker_info wi;
	uint64_t t0;

	(void)state;
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	o.cfg = &cfg;
	o.keys = &ks;
	o.worker_args = args;
	o.on_worker_event = ts_on_worker;
	o.worker_arg = &rec;
	o.on_stop_event = ts_on_stop;
	o.stop_arg = &rec;
	assert_non_null(sup = xr_supervisor_new(base, &o, &d));
	assert_int_equal(xr_supervisor_start_groups(sup, NULL, 0, &d), XR_OK);
	if (xr_supervisor_wait_ready(sup, 20000, &d) != XR_OK)
		fail_msg("wait_ready: %s", d.reason);
	/* the rest of the script arrives right after READY */
	t0 = xr_mono_ms();
	for (;;) {
		struct timeval tv = { 0, 20 * 1000 };

		assert_int_equal(xr_supervisor_workers(sup, &wi, 1), 1);
		if (wi.refused >= 5 || xr_mono_ms() - t0 > 5000)
			break;
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	/* a moment more: nothing else may be refused (the STATS_REPLY is
	 * allowed while READY; unasked, it is dropped) */
	{
		struct timeval tv = { 0, 100 * 1000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(xr_supervisor_workers(sup, &wi, 1), 1);
	assert_int_equal(wi.refused, 5);
	assert_int_equal(wi.state, XR_WORKER_READY);
	assert_int_equal(wi.port, TS_FAKE_PORT);	/* the first READY */
	assert_int_equal(ts_worker_count(&rec, XR_OK, "ready"), 1);
	/* STOP: its STOPPED is accepted now (once, in STOPPING) */
	assert_int_equal(xr_supervisor_stop_groups(sup, 5000, true, &d), XR_OK);
	assert_int_equal(ts_stop_count(&rec, "fsm", XR_STOP_GRACEFUL), 1);
	assert_int_equal(xr_supervisor_workers(sup, &wi, 1), 1);
	assert_int_equal(wi.state, XR_WORKER_STOPPED);
	assert_int_equal(wi.last_exit_status, 0);
	assert_int_equal(wi.refused, 5);
	xr_supervisor_free(sup);
	assert_int_equal(ts_children_of(getpid(), NULL, 0), 0);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsm_01_every_cell),
		cmocka_unit_test(test_fsm_02_ready_bad_port),
		cmocka_unit_test(test_chan_01_dispatch),
		cmocka_unit_test(test_chan_02_refused_commands),
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
