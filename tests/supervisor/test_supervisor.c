/*
 * tests/supervisor/test_supervisor.c — the supervisor's public API driving
 * real worker processes (this binary, in worker mode). No test-only hook in
 * production code (PROC-INT-05): test behaviours are service modules of the
 * test's own worker table (helper_sup.h).
 *
 * BOOT-API-01   start_groups -> wait_ready -> stop_groups, 2 groups x 2
 * BOOT-API-02   groups start in config order
 * BOOT-API-03   an exec failure is bootstrap_start_failed; a bundle the
 *               child rejects is child_bootstrap_failed, not a restart loop
 * KEY-IPC-03    each child got its bundle once: it serves calls signed with
 *               its endpoint's keys (issue 11 #4), its bootstrap socket is
 *               closed, and a frame signed with another supervisor's keys,
 *               or with this supervisor's own base keys, is BAD_SIGNATURE;
 *               no secret in any child's cmdline or environ
 * STOP-IPC-01   a graceful stop drains an in-flight call; one graceful event
 * STOP-IPC-02/03 a worker that ignores STOP is SIGKILLed within grace +
 *               100 ms; exactly one forced event for its group
 * PROC-INT-04/08 a killed worker surfaces as worker_failed with signal 9
 *               and its pid (last_pid, exactly; issue 11 #13);
 *               restart on-failure brings it back (restarts == 1), restart
 *               never leaves it FAILED and wait_ready returns worker_failed
 * plus: hardening seen from inside the worker, no zombie or orphan after
 * stop and after free; the config's apps sections reach the worker module
 * that reads them, up to the largest bundle.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>

#include "dispatch.h"
#include "echo/v1/echo.pb-c.h"
#include "helper_sup.h"
#include "rx.h"

#define READY_MS 20000

struct fx {
	struct event_base *base;
	xr_config cfg;
	xr_keyset ks;
	uint8_t master[32];
	ts_rec rec;
	xr_supervisor *sup;
	xr_worker_info w[64];
	xr_keyset wk[64];	/* w[i]'s endpoint keys, as of remember_pgids */
	size_t nw;
	pid_t pgids[64];	/* every worker pid seen: its process group */
	size_t npg;
};

static void
remember_pgids(struct fx *f)
{
	f->nw = xr_supervisor_workers(f->sup, f->w, 64);
	for (size_t i = 0; i < f->nw; i++) {
		bool seen = false;

		xr_keyset_wipe(&f->wk[i]);
		if (f->w[i].generation != 0)
			ts_ep_keys(f->sup, &f->w[i], &f->wk[i]);

		if (f->w[i].pid <= 0)
			continue;
		for (size_t j = 0; j < f->npg; j++)
			seen = seen || f->pgids[j] == f->w[i].pid;
		if (!seen && f->npg < 64)
			f->pgids[f->npg++] = f->w[i].pid;
	}
}

static void
fx_new(struct fx *f, const char *yaml, const char *exe,
    const char *const *args)
{
	xr_supervisor_opts o = { 0 };
	xr_diag d = { 0 };

	memset(f, 0, sizeof(*f));
	ts_config(&f->cfg, yaml);
	ts_keys(&f->ks, f->master);
	assert_non_null(f->base = event_base_new());
	o.cfg = &f->cfg;
	o.keys = &f->ks;
	o.worker_exe = exe;
	o.worker_args = args;
	o.on_stop_event = ts_on_stop;
	o.stop_arg = &f->rec;
	o.on_worker_event = ts_on_worker;
	o.worker_arg = &f->rec;
	f->sup = xr_supervisor_new(f->base, &o, &d);
	if (f->sup == NULL)
		fail_msg("supervisor_new: %s", d.reason);
}

static void
fx_start_ready(struct fx *f)
{
	xr_diag d = { 0 };

	if (xr_supervisor_start_groups(f->sup, NULL, 0, &d) != XR_OK ||
	    xr_supervisor_wait_ready(f->sup, READY_MS, &d) != XR_OK)
		fail_msg("start/ready: %s", d.reason);
	remember_pgids(f);
}

/* No child of ours (zombie or live) and nobody left in a worker's process
 * group (an orphan would keep its pgid after reparenting). */
static void
assert_no_leftovers(struct fx *f)
{
	pid_t kids[16];

	assert_int_equal(ts_children_of(getpid(), kids, 16), 0);
	for (size_t i = 0; i < f->npg; i++)
		assert_int_equal(ts_in_pgrp(f->pgids[i]), 0);
}

static void
fx_free(struct fx *f)
{
	xr_supervisor_free(f->sup);
	assert_no_leftovers(f);
	event_base_free(f->base);
	xr_config_free(&f->cfg);
	xr_keyset_wipe(&f->ks);
	for (size_t i = 0; i < 64; i++)
		xr_keyset_wipe(&f->wk[i]);
}

static const char two_by_two[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    process_groups:\n"
    "      - {name: alpha, workers: 2, services: [echo.v1.Echo]}\n"
    "      - {name: beta, workers: 2, services: [echo.v1.Echo]}\n";

/* ---- BOOT-API-01 ---- */

static void
test_boot_api_01_start_ready_stop(void **state)
{
	struct fx f;
	xr_diag d = { 0 };
	uint64_t t0, t_ready, t_stop;

	(void)state;
	fx_new(&f, two_by_two, NULL, NULL);
	/* wait_ready before start_groups: nothing to wait for */
	assert_int_equal(xr_supervisor_wait_ready(f.sup, 100, &d),
	    XR_ERR_LIFECYCLE_NOT_READY);
	t0 = xr_mono_ms();
	fx_start_ready(&f);
	t_ready = xr_mono_ms() - t0;
	assert_int_equal(f.nw, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(f.w[i].group, i < 2 ? "alpha" : "beta");
		assert_int_equal(f.w[i].index, i % 2);
		assert_int_equal(f.w[i].state, XR_WORKER_READY);
		assert_true(f.w[i].pid > 0);
		assert_int_not_equal(f.w[i].port, 0);
		assert_int_equal(f.w[i].restarts, 0);
	}
	assert_int_equal(ts_worker_count(&f.rec, XR_OK, "ready"), 4);
	t0 = xr_mono_ms();
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	t_stop = xr_mono_ms() - t0;
	assert_int_equal(ts_stop_count(&f.rec, "alpha", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&f.rec, "beta", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", 0), 1);
	assert_int_equal(ts_stop_count(&f.rec, "beta", 0), 1);
	f.nw = xr_supervisor_workers(f.sup, f.w, 64);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(f.w[i].state, XR_WORKER_STOPPED);
		assert_int_equal(f.w[i].pid, 0);
		assert_int_equal(f.w[i].last_exit_status, 0);
		assert_int_equal(f.w[i].last_signal, 0);
	}
	assert_no_leftovers(&f);
	/* a second stop has nothing to do: no more events */
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", 0), 1);
	print_message("    4 workers: ready in %llu ms, graceful stop in "
	    "%llu ms\n", (unsigned long long)t_ready,
	    (unsigned long long)t_stop);
	fx_free(&f);
	/* free after a completed stop emits nothing more */
	assert_int_equal(ts_stop_count(&f.rec, "alpha", 0), 1);
}

/* ---- BOOT-API-02 ---- */

static void
test_boot_api_02_config_order(void **state)
{
	static const char yaml[] =
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    process_groups:\n"
	    "      - {name: gamma, workers: 1, services: [echo.v1.Echo]}\n"
	    "      - {name: alpha, workers: 2, services: [echo.v1.Echo]}\n"
	    "      - {name: beta, workers: 1, services: [echo.v1.Echo]}\n";
	static const char *const names[] = { "beta", "gamma", "alpha" };
	static const char *const want[] = { "gamma", "alpha", "alpha", "beta" };
	struct fx f;
	xr_diag d = { 0 };
	size_t k = 0;

	(void)state;
	fx_new(&f, yaml, NULL, NULL);
	/* spawn order, whatever the order of the names given */
	assert_int_equal(xr_supervisor_start_groups(f.sup, names, 3, &d),
	    XR_OK);
	for (size_t i = 0; i < f.rec.n; i++) {
		if (f.rec.ev[i].kind != 0 ||
		    strcmp(f.rec.ev[i].reason, "spawned") != 0)
			continue;
		assert_true(k < 4);
		assert_string_equal(f.rec.ev[i].w.group, want[k]);
		k++;
	}
	assert_int_equal(k, 4);
	assert_int_equal(xr_supervisor_wait_ready(f.sup, READY_MS, &d), XR_OK);
	remember_pgids(&f);
	/* an unknown group name is refused */
	{
		static const char *const bad[] = { "nope" };

		assert_int_equal(xr_supervisor_start_groups(f.sup, bad, 1, &d),
		    XR_ERR_INVALID_ARG);
	}
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	fx_free(&f);
}

/* Only the named groups start. */
static void
test_boot_api_02_subset(void **state)
{
	static const char *const names[] = { "beta" };
	struct fx f;
	xr_diag d = { 0 };

	(void)state;
	fx_new(&f, two_by_two, NULL, NULL);
	assert_int_equal(xr_supervisor_start_groups(f.sup, names, 1, &d),
	    XR_OK);
	assert_int_equal(xr_supervisor_wait_ready(f.sup, READY_MS, &d), XR_OK);
	remember_pgids(&f);
	assert_int_equal(f.w[0].state, XR_WORKER_STOPPED);
	assert_int_equal(f.w[1].state, XR_WORKER_STOPPED);
	assert_int_equal(f.w[2].state, XR_WORKER_READY);
	assert_int_equal(f.w[3].state, XR_WORKER_READY);
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", 0), 0);
	assert_int_equal(ts_stop_count(&f.rec, "beta", XR_STOP_GRACEFUL), 1);
	fx_free(&f);
}

/* ---- BOOT-API-03 ---- */

static void
test_boot_api_03_exec_failure(void **state)
{
	struct fx f;
	xr_diag d = { 0 };

	(void)state;
	fx_new(&f, two_by_two, "/nonexistent/execrpc-worker", NULL);
	assert_int_equal(xr_supervisor_start_groups(f.sup, NULL, 0, &d),
	    XR_ERR_BOOTSTRAP_START_FAILED);
	assert_non_null(strstr(d.reason, "exec /nonexistent/execrpc-worker"));
	assert_int_equal(xr_err_category(d.code), XR_CAT_BOOTSTRAP_START_FAILED);
	assert_int_equal(ts_worker_count(&f.rec, XR_ERR_BOOTSTRAP_START_FAILED,
	    NULL), 1);
	f.nw = xr_supervisor_workers(f.sup, f.w, 64);
	assert_int_equal(f.w[0].state, XR_WORKER_FAILED);
	assert_int_equal(f.w[0].pid, 0);
	/* the groups after the failure were not started */
	assert_int_equal(f.w[2].state, XR_WORKER_STOPPED);
	assert_int_equal(xr_supervisor_wait_ready(f.sup, 1000, &d),
	    XR_ERR_BOOTSTRAP_START_FAILED);
	assert_int_equal(ts_children_of(getpid(), NULL, 0), 0);
	fx_free(&f);
}

static void
test_boot_api_03_child_rejects_bundle(void **state)
{
	static const char yaml[] =
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    process_groups:\n"
	    "      - {name: bad, workers: 1, restart: on-failure,"
	    " services: [nope.v1.Missing]}\n";
	struct fx f;
	xr_diag d = { 0 };

	(void)state;
	fx_new(&f, yaml, NULL, NULL);
	assert_int_equal(xr_supervisor_start_groups(f.sup, NULL, 0, &d), XR_OK);
	remember_pgids(&f);
	assert_int_equal(xr_supervisor_wait_ready(f.sup, READY_MS, &d),
	    XR_ERR_CHILD_BOOTSTRAP_FAILED);
	assert_non_null(strstr(d.reason, "child bootstrap failed"));
	f.nw = xr_supervisor_workers(f.sup, f.w, 64);
	assert_int_equal(f.w[0].state, XR_WORKER_FAILED);
	assert_int_equal(f.w[0].restarts, 0);	/* no restart loop */
	assert_int_equal(f.w[0].last_exit_status,
	    (int)XR_CAT_CHILD_BOOTSTRAP_FAILED);
	assert_int_equal(ts_worker_count(&f.rec, XR_ERR_CHILD_BOOTSTRAP_FAILED,
	    NULL), 1);
	fx_free(&f);
}

/* The config's apps sections travel in the bundle and reach the module
 * that reads them (test.v1.Apps/Say answers with what its add() got), up to
 * the config's bounds (8 sections of 32 settings with 127-byte keys and
 * 255-byte values: the largest bundle); a section the module's check
 * refuses fails the worker's bootstrap. */
static void
test_apps_sections_reach_workers(void **state)
{
	static const char yaml[] =
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    process_groups:\n"
	    "      - {name: apps, workers: 1, services: [test.v1.Apps]}\n"
	    "apps:\n"
	    "  other: {a: not-mine}\n"
	    "  probe:\n"
	    "    a: 1\n"
	    "    b: {c: x y}\n"
	    "    l: [p, {k: ~}]\n";
	static char big[160 * 1024];
	struct fx f;
	xr_diag d = { 0 };
	char *text = malloc(TS_APPS_SEEN_MAX), *want = malloc(TS_APPS_SEEN_MAX);
	size_t o;

	(void)state;
	assert_non_null(text);
	assert_non_null(want);
	fx_new(&f, yaml, NULL, NULL);
	fx_start_ready(&f);
	assert_int_equal(ts_say_to(f.w[0].port, &f.wk[0], "test.v1.Apps/Say", "",
	    0, text, TS_APPS_SEEN_MAX, NULL), XR_STATUS_OK);
	assert_string_equal(text, "a=1;b.c=x y;l[0]=p;l[1].k=~;");
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	fx_free(&f);

	/* every section at its limits */
	o = (size_t)snprintf(big, sizeof(big), "%.*s", (int)(strstr(yaml,
	    "apps:\n") - yaml), yaml);
	o += (size_t)snprintf(big + o, sizeof(big) - o, "apps:\n");
	for (int a = 0; a < XR_CFG_MAX_APPS; a++) {
		/* sections a0..a6, then the module's own */
		if (a == XR_CFG_MAX_APPS - 1)
			o += (size_t)snprintf(big + o, sizeof(big) - o,
			    "  probe:\n");
		else
			o += (size_t)snprintf(big + o, sizeof(big) - o,
			    "  a%d:\n", a);
		for (int i = 0; i < XR_CFG_MAX_APP_SETTINGS; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o,
			    "    k%02d%0124d: \"%c%0254d\"\n", i, 0,
			    'a' + a, i);
	}
	assert_true(o < sizeof(big));
	fx_new(&f, big, NULL, NULL);
	assert_int_equal(f.cfg.n_apps, XR_CFG_MAX_APPS);
	assert_int_equal(strlen(f.cfg.apps[7].s[31].key), 127);
	assert_int_equal(strlen(f.cfg.apps[7].s[31].value), 255);
	ts_apps_render(xr_config_app(&f.cfg, "probe"), want, TS_APPS_SEEN_MAX);
	fx_start_ready(&f);
	assert_int_equal(ts_say_to(f.w[0].port, &f.wk[0], "test.v1.Apps/Say", "",
	    0, text, TS_APPS_SEEN_MAX, NULL), XR_STATUS_OK);
	assert_int_equal(strlen(text), 32 * (127 + 1 + 255 + 1));
	assert_string_equal(text, want);
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	fx_free(&f);

	/* the module refuses its section: the worker's bootstrap fails */
	snprintf(big, sizeof(big), "%sapps: {probe: {bad: 1}}\n",
	    "runtime:\n  platform:\n    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    process_groups:\n"
	    "      - {name: apps, workers: 1, restart: on-failure,"
	    " services: [test.v1.Apps]}\n");
	fx_new(&f, big, NULL, NULL);
	assert_int_equal(xr_supervisor_start_groups(f.sup, NULL, 0, &d), XR_OK);
	remember_pgids(&f);
	assert_int_equal(xr_supervisor_wait_ready(f.sup, READY_MS, &d),
	    XR_ERR_CHILD_BOOTSTRAP_FAILED);
	assert_int_equal(ts_worker_count(&f.rec, XR_ERR_CHILD_BOOTSTRAP_FAILED,
	    NULL), 1);
	fx_free(&f);
	free(text);
	free(want);
}

/* ---- KEY-IPC-03 ---- */

static void
test_key_ipc_03_bundle_once_and_keys(void **state)
{
	struct fx f;
	xr_keyset other;
	xr_diag d = { 0 };
	char text[64], path[64];
	uint64_t pid;

	(void)state;
	fx_new(&f, two_by_two, NULL, NULL);
	fx_start_ready(&f);
	ts_keys(&other, NULL);	/* another supervisor's generated secret */
	for (size_t i = 0; i < f.nw; i++) {
		Execrpc__V1__WorkerStatus *ws;
		uint8_t *buf;
		size_t len;
		const char *files[] = { "cmdline", "environ" };

		/* signed with its endpoint's keys: served by that child */
		assert_int_equal(ts_say(f.w[i].port, &f.wk[i], "k", 0, text,
		    sizeof(text), &pid), XR_STATUS_OK);
		assert_string_equal(text, "k");
		assert_int_equal((pid_t)pid, f.w[i].pid);
		/* signed with another supervisor's keys: rejected */
		assert_true(ts_hello_refused(f.w[i].port, &other));
		/* and with this supervisor's base keys: the worker never got
		 * them (issue 11 #4) */
		assert_true(ts_hello_refused(f.w[i].port, &f.ks));
		ws = ts_stats(f.w[i].port, &f.wk[i]);
		assert_int_equal(ws->n_rejects_by_kind, XR_REJECT_COUNT);
		for (int j = 0; j < XR_REJECT_COUNT; j++)
			assert_int_equal(ws->rejects_by_kind[j],
			    j == XR_REJECT_BAD_SIGNATURE ? 2 : 0);
		execrpc__v1__worker_status__free_unpacked(ws, NULL);
		/* the secret is in no child's argv or environment */
		for (size_t k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "/proc/%d/%s",
			    (int)f.w[i].pid, files[k]);
			/* not root: a non-dumpable process's environ is not
			 * even readable, which is the stronger answer */
			if ((buf = ts_read_file(path, &len)) == NULL) {
				assert_true(geteuid() != 0);
				continue;
			}
			assert_false(ts_contains_secret(buf, len, f.master, 32));
			for (int dir = 0; dir < XR_DIR_COUNT; dir++) {
				assert_false(ts_contains_secret(buf, len,
				    f.ks.k[dir].b, f.ks.k[dir].len));
				assert_false(ts_contains_secret(buf, len,
				    f.wk[i].k[dir].b, f.wk[i].k[dir].len));
			}
			if (k == 1)	/* the minimal environment */
				assert_int_equal(memcmp(buf, "PATH=", 5), 0);
			free(buf);
		}
	}
	xr_keyset_wipe(&other);
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	fx_free(&f);
}

/*
 * Hardening, seen from inside the worker (test.v1.Probe answers with its own
 * prctl/getrlimit view). Checked from the inside because the outside signs
 * are not honest when the tests run as root: root reads /proc/PID/environ of
 * a non-dumpable process anyway, and /proc/PID/status has no Dumpable line.
 */
static void
test_worker_hardening(void **state)
{
	static const char yaml[] =
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    process_groups:\n"
	    "      - {name: probe, workers: 1, services: [test.v1.Probe]}\n";
	struct fx f;
	xr_diag d = { 0 };
	char text[160];

	(void)state;
	fx_new(&f, yaml, NULL, NULL);
	fx_start_ready(&f);
	assert_int_equal(ts_say(f.w[0].port, &f.wk[0], "", 0, text, sizeof(text),
	    NULL), XR_STATUS_OK);
	assert_string_equal(text, "dumpable=0 core=0 pdeathsig=9 sigpipe=ign");
	/* and the supervisor (this process) hardened itself */
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	fx_free(&f);
}

/* ---- STOP-IPC-01 ---- */

/* Open a session on `p` to the worker at `port` and leave an echo Say of
 * `delay_ms` in flight there; returns its call id. */
static uint64_t
slow_call(struct fx *f, uint16_t port, uint32_t delay_ms, ts_peer *p)
{
	Execrpc__V1__WorkerStatus *ws;
	const xr_keyset *ks = NULL;
	uint64_t id, t0 = xr_mono_ms();

	for (size_t i = 0; i < f->nw; i++)
		if (f->w[i].port == port)
			ks = &f->wk[i];
	assert_non_null(ks);
	ts_peer_open_keys(p, port, ks);
	ts_handshake(p);
	id = ts_send_say(p, "slow", delay_ms, 0);
	/* wait until the worker has dispatched it (the Stats call counts
	 * itself, so 2 calls = the slow one is in flight) */
	for (;;) {
		uint64_t calls;

		ws = ts_stats(port, ks);
		calls = ws->calls;
		execrpc__v1__worker_status__free_unpacked(ws, NULL);
		if (calls >= 2)
			break;
		assert_true(xr_mono_ms() - t0 < 5000);
		usleep(10 * 1000);
	}
	return id;
}

static void
test_stop_ipc_01_graceful_drains_inflight(void **state)
{
	const Execrpc__V1__Envelope *e;
	struct fx f;
	ts_peer p;
	xr_diag d = { 0 };
	char text[16];
	uint64_t id, t0, took;
	int closed;

	(void)state;
	fx_new(&f, two_by_two, NULL, NULL);
	fx_start_ready(&f);
	id = slow_call(&f, f.w[0].port, 600, &p);
	t0 = xr_mono_ms();
	/* the lifecycle policy values: graceful timeout, drain_inflight */
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	took = xr_mono_ms() - t0;
	assert_true(took >= 300 && took < 5000);	/* waited for the call */
	/* the in-flight call completed OK before the worker exited */
	assert_non_null(e = ts_response(&p, 1000, &closed));
	assert_int_equal(e->call_id, id);
	assert_non_null(e->status);
	assert_int_equal(e->status->code, XR_STATUS_OK);
	ts_say_text(e, text, sizeof(text));
	assert_string_equal(text, "slow");
	ts_peer_close(&p);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&f.rec, "beta", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", 0), 1);
	assert_int_equal(ts_stop_count(&f.rec, "beta", 0), 1);
	fx_free(&f);
}

/* drain_inflight false: connections are closed, in-flight calls cut, and
 * the stop is still graceful (acknowledged, exit 0). */
static void
test_stop_ipc_01_no_drain(void **state)
{
	struct fx f;
	ts_peer p;
	xr_diag d = { 0 };
	uint64_t t0;
	int closed = 0;

	(void)state;
	fx_new(&f, two_by_two, NULL, NULL);
	fx_start_ready(&f);
	(void)slow_call(&f, f.w[0].port, 3000, &p);
	t0 = xr_mono_ms();
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, false, &d),
	    XR_OK);
	assert_true(xr_mono_ms() - t0 < 2000);
	/* no response: the connection closed under the call */
	assert_null(ts_response(&p, 1000, &closed));
	assert_int_equal(closed, 1);
	ts_peer_close(&p);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&f.rec, "beta", XR_STOP_GRACEFUL), 1);
	fx_free(&f);
}

/* ---- STOP-IPC-02/03 ---- */

static const char wedged_yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    process_groups:\n"
    "      - {name: good, workers: 1, services: [echo.v1.Echo]}\n"
    "      - {name: wedged, workers: 2, services: [test.v1.Wedge]}\n";

static void
test_stop_ipc_02_03_ignored_stop_is_forced(void **state)
{
	/* long enough for the good group's graceful stop on a loaded machine
	 * under ASan (it was 300 ms, and the good group was sometimes forced) */
	const uint32_t grace = 1500;
	struct fx f;
	xr_diag d = { 0 };
	uint64_t t0, at = 0;

	(void)state;
	fx_new(&f, wedged_yaml, NULL, NULL);
	fx_start_ready(&f);
	t0 = xr_mono_ms();
	assert_int_equal(xr_supervisor_stop_groups(f.sup, grace, true, &d),
	    XR_ERR_STOP_TIMEOUT);
	assert_non_null(strstr(d.reason, "wedged"));
	assert_null(strstr(d.reason, "good"));
	assert_int_equal(ts_stop_count(&f.rec, "good", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&f.rec, "good", 0), 1);
	assert_int_equal(ts_stop_count(&f.rec, "wedged", XR_STOP_FORCED), 1);
	assert_int_equal(ts_stop_count(&f.rec, "wedged", 0), 1);
	for (size_t i = 0; i < f.rec.n; i++)
		if (f.rec.ev[i].kind == 1 &&
		    strcmp(f.rec.ev[i].group, "wedged") == 0)
			at = f.rec.ev[i].at_ms - t0;
	/* SIGKILLed (and reaped) at the deadline, within grace + 250 ms */
	print_message("    forced stop event %llu ms after stop (grace %u)\n",
	    (unsigned long long)at, grace);
	assert_true(at >= grace && at <= grace + 250);
	f.nw = xr_supervisor_workers(f.sup, f.w, 64);
	assert_int_equal(f.w[0].last_signal, 0);
	assert_int_equal(f.w[1].last_signal, SIGKILL);
	assert_int_equal(f.w[2].last_signal, SIGKILL);
	assert_no_leftovers(&f);
	fx_free(&f);
	assert_int_equal(ts_stop_count(&f.rec, "wedged", 0), 1);
}

/* force_terminate_groups directly: SIGKILL now, one forced event. */
static void
test_stop_ipc_02_force_terminate(void **state)
{
	static const char *const names[] = { "alpha" };
	struct fx f;
	xr_diag d = { 0 };

	(void)state;
	fx_new(&f, two_by_two, NULL, NULL);
	fx_start_ready(&f);
	assert_int_equal(xr_supervisor_force_terminate_groups(f.sup, names, 1),
	    XR_OK);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", XR_STOP_FORCED), 1);
	assert_int_equal(ts_stop_count(&f.rec, "beta", 0), 0);
	f.nw = xr_supervisor_workers(f.sup, f.w, 64);
	assert_int_equal(f.w[0].state, XR_WORKER_STOPPED);
	assert_int_equal(f.w[0].last_signal, SIGKILL);
	assert_int_equal(f.w[2].state, XR_WORKER_READY);
	/* no restart after a requested kill */
	assert_int_equal(f.w[0].restarts, 0);
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	assert_int_equal(ts_stop_count(&f.rec, "alpha", 0), 1);
	assert_int_equal(ts_stop_count(&f.rec, "beta", XR_STOP_GRACEFUL), 1);
	fx_free(&f);
}

/* free with workers running: SIGKILL + reap, forced events, no leftovers */
static void
test_free_running_workers(void **state)
{
	struct fx f;

	(void)state;
	fx_new(&f, wedged_yaml, NULL, NULL);
	fx_start_ready(&f);
	fx_free(&f);
	assert_int_equal(ts_stop_count(&f.rec, "good", XR_STOP_FORCED), 1);
	assert_int_equal(ts_stop_count(&f.rec, "wedged", XR_STOP_FORCED), 1);
}

/* ---- PROC-INT-04/08 ---- */

static void
crash_case(const char *restart)
{
	char yaml[512];
	struct fx f;
	xr_diag d = { 0 };
	pid_t victim;
	const ts_ev *e = NULL;
	int r;

	snprintf(yaml, sizeof(yaml),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    process_groups:\n"
	    "      - {name: crashy, workers: 2, restart: %s,"
	    " services: [echo.v1.Echo]}\n", restart);
	fx_new(&f, yaml, NULL, NULL);
	fx_start_ready(&f);
	victim = f.w[1].pid;
	assert_int_equal(kill(victim, SIGKILL), 0);
	/* run the loop until the supervisor has reaped it */
	while (ts_worker_count(&f.rec, XR_ERR_WORKER_FAILED, NULL) == 0) {
		struct timeval tv = { 0, 20 * 1000 };

		event_base_loopexit(f.base, &tv);
		event_base_dispatch(f.base);
	}
	r = xr_supervisor_wait_ready(f.sup, READY_MS, &d);
	for (size_t i = 0; i < f.rec.n; i++)
		if (f.rec.ev[i].kind == 0 &&
		    f.rec.ev[i].err == XR_ERR_WORKER_FAILED)
			e = &f.rec.ev[i];
	/* PROC-INT-04: the crash surfaces as worker_failed with the signal */
	assert_non_null(e);
	assert_int_equal(ts_worker_count(&f.rec, XR_ERR_WORKER_FAILED, NULL), 1);
	assert_int_equal(xr_err_category(e->err), XR_CAT_WORKER_FAILED);
	assert_string_equal(e->w.group, "crashy");
	assert_int_equal(e->w.index, 1);
	assert_int_equal(e->w.last_signal, SIGKILL);
	assert_string_equal(e->reason, "killed by signal 9");
	/* issue 11 #13: the event names the dead process, not pid 0 */
	assert_int_equal(e->w.last_pid, victim);
	assert_int_equal(e->w.pid, 0);
	remember_pgids(&f);
	if (strcmp(restart, "on-failure") == 0) {
		assert_int_equal(r, XR_OK);
		assert_int_equal(f.w[1].state, XR_WORKER_READY);
		assert_int_equal(f.w[1].restarts, 1);
		assert_int_equal(f.w[1].generation, 2);	/* new keys */
		assert_int_not_equal(f.w[1].pid, victim);
		assert_int_equal(f.w[1].last_pid, f.w[1].pid);
		assert_int_equal(f.w[1].last_signal, SIGKILL);
		assert_int_equal(ts_say(f.w[1].port, &f.wk[1], "back", 0, NULL, 0,
		    NULL), XR_STATUS_OK);
	} else {
		/* PROC-INT-08: the caller gets worker_failed */
		assert_int_equal(r, XR_ERR_WORKER_FAILED);
		assert_non_null(strstr(d.reason, "killed by signal 9"));
		assert_int_equal(f.w[1].state, XR_WORKER_FAILED);
		assert_int_equal(f.w[1].restarts, 0);
		assert_int_equal(f.w[1].generation, 1);
		assert_int_equal(f.w[1].pid, 0);
		assert_int_equal(f.w[1].last_pid, victim);
	}
	assert_int_equal(f.w[0].state, XR_WORKER_READY);
	assert_int_equal(f.w[0].restarts, 0);
	assert_int_equal(xr_supervisor_stop_groups(f.sup, 5000, true, &d),
	    XR_OK);
	assert_int_equal(ts_stop_count(&f.rec, "crashy", XR_STOP_GRACEFUL), 1);
	fx_free(&f);
}

static void
test_proc_int_04_crash_restarts(void **state)
{
	(void)state;
	crash_case("on-failure");
}

static void
test_proc_int_08_crash_no_restart(void **state)
{
	(void)state;
	crash_case("never");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_api_01_start_ready_stop),
		cmocka_unit_test(test_boot_api_02_config_order),
		cmocka_unit_test(test_boot_api_02_subset),
		cmocka_unit_test(test_boot_api_03_exec_failure),
		cmocka_unit_test(test_boot_api_03_child_rejects_bundle),
		cmocka_unit_test(test_apps_sections_reach_workers),
		cmocka_unit_test(test_key_ipc_03_bundle_once_and_keys),
		cmocka_unit_test(test_worker_hardening),
		cmocka_unit_test(test_stop_ipc_01_graceful_drains_inflight),
		cmocka_unit_test(test_stop_ipc_01_no_drain),
		cmocka_unit_test(test_stop_ipc_02_03_ignored_stop_is_forced),
		cmocka_unit_test(test_stop_ipc_02_force_terminate),
		cmocka_unit_test(test_free_running_workers),
		cmocka_unit_test(test_proc_int_04_crash_restarts),
		cmocka_unit_test(test_proc_int_08_crash_no_restart),
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
