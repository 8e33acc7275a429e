/*
 * tests/supervisor/test_control_stats.c — issue 11 defect 5: STATS does not
 * block the supervisor. With both workers of group "ctl" SIGSTOPped, five
 * concurrent STATS of that group wait for their deadline (1 s); meanwhile
 * every STATUS is answered at once, and the worker of group "other",
 * SIGKILLed during the wait, is reaped and respawned as fast as with no
 * STATS pending (its new pid shown by STATUS and by the worker events well
 * before the STATS answer). Each STATS answers at its deadline with exactly
 * the two stopped workers marked no_answer. Before STATS was asynchronous a
 * STATUS queued behind five STATS took 9.8 s and the restart was announced
 * after 9.8 s.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl_client.h"
#include "dispatch.h"
#include "helper_sup.h"

#define NSTATS 5

static const char yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    lifecycle: {graceful_timeout_seconds: 7}\n"
    "    process_groups:\n"
    "      - {name: ctl, workers: 2, services: [echo.v1.Echo]}\n"
    "      - {name: other, workers: 1, services: [echo.v1.Echo]}\n";

struct st;

struct one_stats {
	struct st *st;
	Execrpc__V1__Reply *r;
	int rc;
	uint64_t t0, t1;	/* monotonic ms: sent, answered */
};

struct st {
	char path[100];
	pid_t stopped[2];	/* ctl[0], ctl[1]: SIGSTOPped */
	pid_t victim;		/* other[0]: SIGKILLed while STATS wait */
	pthread_barrier_t go;
	struct one_stats stats[NSTATS];
	uint64_t kill_at;	/* monotonic ms of the SIGKILL */
	uint64_t seen_at;	/* first STATUS showing the new pid */
	uint64_t ready_at;	/* first STATUS showing it ready */
	pid_t new_pid;
	uint32_t restarts;
	int nstatus, status_bad;
	uint64_t status_max_ms;	/* the slowest STATUS */
	Execrpc__V1__Reply *stop;
	int stop_rc;
};

static Execrpc__V1__Reply *
call(const char *path, Execrpc__V1__CommandType type, const char *group,
    uint32_t timeout_ms, int *rc)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__Reply *r = NULL;
	char *groups[1] = { (char *)(uintptr_t)group };
	xr_diag d = { 0 };

	c.type = type;
	c.graceful_timeout_ms = timeout_ms;
	c.drain_inflight = 1;
	if (group != NULL) {
		c.n_groups = 1;
		c.groups = groups;
	}
	*rc = xr_ctl_client_call(path, &c, 20000, &r, &d);
	return r;
}

static void *
stats_main(void *arg)
{
	struct one_stats *o = arg;

	pthread_barrier_wait(&o->st->go);
	o->t0 = xr_mono_ms();
	o->r = call(o->st->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS,
	    "ctl", 0, &o->rc);
	o->t1 = xr_mono_ms();
	return NULL;
}

/* One STATUS of every group, timed; the victim's slot noted. */
static void
status_poll(struct st *s)
{
	Execrpc__V1__Reply *r;
	uint64_t t0 = xr_mono_ms(), dt;
	int rc;

	r = call(s->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS, NULL, 0,
	    &rc);
	dt = xr_mono_ms() - t0;
	s->nstatus++;
	if (dt > s->status_max_ms)
		s->status_max_ms = dt;
	if (rc != XR_OK || r == NULL || r->error_code != 0 ||
	    r->n_workers != 3) {
		s->status_bad++;
		goto out;
	}
	/* workers in config order: ctl[0], ctl[1], other[0] */
	const Execrpc__V1__WorkerStatus *v = r->workers[2];

	if (s->seen_at == 0 && v->pid != 0 && v->pid != s->victim) {
		s->seen_at = xr_mono_ms();
		s->new_pid = v->pid;
	}
	if (s->ready_at == 0 && s->seen_at != 0 &&
	    v->state == EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY) {
		s->ready_at = xr_mono_ms();
		s->restarts = v->restarts;
	}
out:
	if (r != NULL)
		execrpc__v1__reply__free_unpacked(r, NULL);
}

static void *
client_main(void *arg)
{
	struct st *s = arg;
	pthread_t thr[NSTATS];
	int started[NSTATS];

	for (size_t i = 0; i < NSTATS; i++) {
		s->stats[i].st = s;
		started[i] = pthread_create(&thr[i], NULL, stats_main,
		    &s->stats[i]);
		assert_int_equal(started[i], 0);
	}
	pthread_barrier_wait(&s->go);
	/* the five STATS are sent and waiting on the stopped workers */
	usleep(300 * 1000);
	status_poll(s);
	s->kill_at = xr_mono_ms();
	kill(s->victim, SIGKILL);
	/* STATUS every 20 ms until the respawned worker is ready (10 s cap) */
	while (s->ready_at == 0 && xr_mono_ms() - s->kill_at < 10000) {
		status_poll(s);
		usleep(20 * 1000);
	}
	for (size_t i = 0; i < NSTATS; i++)
		pthread_join(thr[i], NULL);
	kill(s->stopped[0], SIGCONT);
	kill(s->stopped[1], SIGCONT);
	s->stop = call(s->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP, NULL,
	    5000, &s->stop_rc);
	return NULL;
}

/* The first worker event of other[0] with `err` / `reason` (NULL: any). */
static const ts_ev *
other_event(const ts_rec *rec, int err, const char *reason)
{
	for (size_t i = 0; i < rec->n; i++) {
		const ts_ev *e = &rec->ev[i];

		if (e->kind == 0 && strcmp(e->w.group, "other") == 0 &&
		    e->err == err && (reason == NULL ||
		    strcmp(e->reason, reason) == 0))
			return e;
	}
	return NULL;
}

/* issue 11 #5: the restart and STATUS latency while STATS waits */
static void
test_stats_waits_without_blocking(void **state)
{
	xr_supervisor_opts o = { 0 };
	struct event_base *base;
	xr_supervisor *sup;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	xr_worker_info w[8];
	ts_rec *rec;
	struct st *s;
	pthread_t thr;
	char tmpl[] = "/tmp/xr-cst-XXXXXX";
	const ts_ev *crash, *spawn;
	size_t nspawned = 0;

	(void)state;
	assert_non_null(s = calloc(1, sizeof(*s)));
	assert_non_null(rec = calloc(1, sizeof(*rec)));
	assert_int_equal(pthread_barrier_init(&s->go, NULL, NSTATS + 1), 0);
	assert_non_null(mkdtemp(tmpl));
	snprintf(s->path, sizeof(s->path), "%s/ctl.sock", tmpl);
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	o.cfg = &cfg;
	o.keys = &ks;
	o.on_worker_event = ts_on_worker;
	o.worker_arg = rec;
	assert_non_null(sup = xr_supervisor_new(base, &o, &d));
	assert_int_equal(xr_supervisor_start_groups(sup, NULL, 0, &d), XR_OK);
	assert_int_equal(xr_supervisor_wait_ready(sup, 20000, &d), XR_OK);
	assert_int_equal(xr_supervisor_workers(sup, w, 8), 3);
	assert_string_equal(w[2].group, "other");
	assert_int_equal(xr_supervisor_control_listen(sup, s->path, &d), XR_OK);
	s->stopped[0] = w[0].pid;
	s->stopped[1] = w[1].pid;
	s->victim = w[2].pid;
	assert_int_equal(kill(s->stopped[0], SIGSTOP), 0);
	assert_int_equal(kill(s->stopped[1], SIGSTOP), 0);

	assert_int_equal(pthread_create(&thr, NULL, client_main, s), 0);
	assert_int_equal(xr_supervisor_run(sup, &d), XR_OK);
	pthread_join(thr, NULL);

	/* every STATUS answered at once, before and after the kill */
	assert_int_equal(s->status_bad, 0);
	assert_true(s->nstatus >= 2);
	if (s->status_max_ms >= 500)
		fail_msg("a STATUS took %llu ms while 5 STATS waited",
		    (unsigned long long)s->status_max_ms);
	/* the victim was respawned within 1 s of the kill, shown by STATUS
	 * while every STATS was still waiting */
	assert_int_not_equal(s->seen_at, 0);
	assert_int_not_equal(s->ready_at, 0);
	if (s->seen_at - s->kill_at >= 1000)
		fail_msg("new pid shown %llu ms after the kill",
		    (unsigned long long)(s->seen_at - s->kill_at));
	assert_int_equal(s->restarts, 1);
	/* the worker events: the crash (the dead pid), then the respawn (the
	 * pid STATUS showed), each announced promptly */
	assert_non_null(crash = other_event(rec, XR_ERR_WORKER_FAILED,
	    "killed by signal 9"));
	assert_int_equal(crash->w.last_pid, s->victim);
	assert_int_equal(crash->w.pid, 0);
	if (crash->at_ms - s->kill_at >= 500)
		fail_msg("crash announced %llu ms after the kill",
		    (unsigned long long)(crash->at_ms - s->kill_at));
	for (size_t i = 0; i < rec->n; i++)
		if (rec->ev[i].kind == 0 && rec->ev[i].err == XR_OK &&
		    strcmp(rec->ev[i].reason, "spawned") == 0 &&
		    strcmp(rec->ev[i].w.group, "other") == 0)
			nspawned++;
	assert_int_equal(nspawned, 2);	/* the first start, the respawn */
	spawn = NULL;
	for (size_t i = 0; i < rec->n; i++)
		if (rec->ev[i].kind == 0 && rec->ev[i].err == XR_OK &&
		    strcmp(rec->ev[i].reason, "spawned") == 0 &&
		    rec->ev[i].w.pid == s->new_pid)
			spawn = &rec->ev[i];
	assert_non_null(spawn);
	assert_true(spawn->at_ms >= crash->at_ms);
	if (spawn->at_ms - s->kill_at >= 1000)
		fail_msg("respawn announced %llu ms after the kill",
		    (unsigned long long)(spawn->at_ms - s->kill_at));
	assert_int_equal(other_event(rec, XR_ERR_WORKER_FAILED, NULL), crash);

	/* each STATS: sent before the kill, answered at its deadline after
	 * the respawn was shown, exactly the two stopped workers no_answer */
	for (size_t i = 0; i < NSTATS; i++) {
		const struct one_stats *t = &s->stats[i];
		uint64_t ms = t->t1 - t->t0;
		char *json = NULL, *p;

		assert_int_equal(t->rc, XR_OK);
		assert_non_null(t->r);
		assert_int_equal(t->r->error_code, 0);
		assert_true(t->t0 < s->kill_at);
		assert_true(t->t1 > s->seen_at);
		if (ms < 900 || ms > 2500)
			fail_msg("STATS %zu answered after %llu ms (deadline "
			    "1000)", i, (unsigned long long)ms);
		assert_int_equal(t->r->n_workers, 2);
		for (size_t j = 0; j < 2; j++) {
			const Execrpc__V1__WorkerStatus *ws = t->r->workers[j];

			assert_string_equal(ws->group, "ctl");
			assert_int_equal(ws->index, j);
			assert_int_equal(ws->pid, s->stopped[j]);
			assert_int_equal(ws->state,
			    EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY);
			assert_int_equal(ws->stats,
			    EXECRPC__V1__STATS_STATE__STATS_STATE_NO_ANSWER);
			assert_int_equal(ws->n_rejects_by_kind, 0);
			assert_int_equal(ws->calls, 0);
			assert_int_equal(ws->calls_failed, 0);
			assert_int_equal(ws->protocol_errors, 0);
		}
		assert_int_equal(xr_ctl_client_reply_json(t->r, &json), XR_OK);
		assert_non_null(p = strstr(json, "\"stats\":\"no_answer\""));
		assert_non_null(p = strstr(p + 1, "\"stats\":\"no_answer\""));
		assert_null(strstr(p + 1, "\"stats\":"));	/* twice */
		assert_null(strstr(json, "\"calls\""));
		free(json);
		execrpc__v1__reply__free_unpacked(t->r, NULL);
	}
	/* the stop after SIGCONT: one event per group */
	assert_int_equal(s->stop_rc, XR_OK);
	assert_non_null(s->stop);
	assert_int_equal(s->stop->error_code, 0);
	assert_int_equal(s->stop->n_stop_events, 2);

	execrpc__v1__reply__free_unpacked(s->stop, NULL);
	xr_supervisor_free(sup);
	assert_int_equal(ts_children_of(getpid(), NULL, 0), 0);
	rmdir(tmpl);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
	pthread_barrier_destroy(&s->go);
	free(rec);
	free(s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_waits_without_blocking),
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
