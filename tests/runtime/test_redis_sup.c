/*
 * tests/runtime/test_redis_sup.c — transport redis_streams under
 * bootstrap.mode process_supervisor (docs/design.md section 5,
 * docs/supervisor.md "Stream figures"), against a redis-server the test
 * starts on a unix socket (--save '' --appendonly no):
 *
 *  - two supervised workers read their group's streams (consumers
 *    execution-INDEX-GENERATION); calls to each of them complete OK;
 *  - STATUS on the control socket shows the exact stream figures in a
 *    controlled state: 20 entries, lag 0, 0 pending once the calls are
 *    done; 3 pending on worker 1 and 2 on worker 0 while they hold them;
 *  - worker 1 SIGKILLed with 3 calls running: each ends ABORTED (claimed by
 *    the slot's next process), worker 0's end OK, all well before their
 *    deadline; no handler ran twice (each handler appends its call's text
 *    to a run log: every text once);
 *  - a stop with calls in flight drains them (OK), every worker process
 *    exits, and there is one stop event for the group.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/hiredis.h>

#include "ctl_client.h"
#include "helper_redis.h"
#include "helper_rt.h"
#include "rx.h"
#include "test/v1/test.pb-c.h"
#include "test/v1/test.xr.h"

#define SAY "test.v1.Echo/Say"
#define RUNLOG "runs.log"

/* ---------- the module: every run leaves a line in the run log ---------- */

struct delayed {
	xr_call *call;
	struct event ev;
};

static void
reply_pid(xr_call *call)
{
	Test__V1__SayResponse resp = TEST__V1__SAY_RESPONSE__INIT;

	resp.text = "";
	resp.worker_pid = (uint64_t)getpid();
	test_v1_Echo_Say_reply(call, &resp);
}

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;

	(void)fd;
	(void)what;
	reply_pid(d->call);
	free(d);
}

static void
delay_cancel(void *arg)
{
	struct delayed *d = arg;

	event_del(&d->ev);
	xr_call_fail(d->call, XR_STATUS_CANCELLED, "cancelled");
	free(d);
}

/* Append the text to the run log (the worker's cwd: the test's), then
 * answer after delay_ms. */
static void
log_say(xr_call *call, const Test__V1__SayRequest *req, void *arg)
{
	struct delayed *d;
	struct timeval tv;
	char line[128];
	int fd, n;

	(void)arg;
	n = snprintf(line, sizeof(line), "%s\n", req->text);
	if ((fd = open(RUNLOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) >= 0) {
		if (write(fd, line, (size_t)n) != n)
			n = -1;
		close(fd);
	}
	if (req->delay_ms == 0 || (d = calloc(1, sizeof(*d))) == NULL) {
		reply_pid(call);
		return;
	}
	d->call = call;
	tv.tv_sec = req->delay_ms / 1000;
	tv.tv_usec = (suseconds_t)(req->delay_ms % 1000) * 1000;
	event_assign(&d->ev, xr_call_base(call), -1, 0, delay_cb, d);
	event_add(&d->ev, &tv);
	xr_call_on_cancel(call, delay_cancel, d);
}

static const test_v1_Echo_handlers log_handlers = { .Say = log_say };
test_v1_Echo_MODULE_ADD(log_echo_add, &log_handlers, NULL)

static const xr_service_module log_mods[] = {
	test_v1_Echo_MODULE(log_echo_add),
};

/* ---------- Redis ---------- */

static rt_redis rs;		/* its directory holds the run log too */
static char ctl[160], cwd[512];

static int
setup(void **state)
{
	(void)state;
	rt_redis_start(&rs);
	snprintf(ctl, sizeof(ctl), "%s/control.sock", rs.dir);
	/* the workers inherit the cwd: the run log lands here */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(rs.dir), 0);
	unlink(RUNLOG);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (chdir(cwd) != 0)
		return -1;
	rt_redis_stop(&rs);
	return 0;
}

/* ---------- the lifecycle ---------- */

struct sup {
	struct event_base *base;
	xr_config cfg;
	xr_lifecycle *lc;
	int stop_events;
};

static void
on_stop(void *arg, const char *group, xr_stop_mode mode)
{
	struct sup *s = arg;

	assert_string_equal(group, "execution");
	assert_int_equal(mode, XR_STOP_GRACEFUL);
	s->stop_events++;
}

static void
sup_up(struct sup *s)
{
	xr_lifecycle_opts o = { 0 };
	xr_diag d = { 0 };
	char y[1536];

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
	    "        stream_prefix: sup\n"
	    "        claim_idle_ms: 400\n"
	    "    bootstrap:\n"
	    "      mode: process_supervisor\n"
	    "    lifecycle:\n"
	    "      ready_timeout_seconds: 30\n"
	    "      graceful_timeout_seconds: 20\n"
	    "      drain_inflight: true\n"
	    "    control:\n"
	    "      socket: %s\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        workers: 2\n"
	    "        restart: on-failure\n"
	    "        services: [test.v1.Echo]\n", rs.sock, ctl);
	memset(s, 0, sizeof(*s));
	assert_non_null(s->base = event_base_new());
	if (xr_config_load_string(y, strlen(y), &s->cfg, &d) != XR_OK)
		fail_msg("config: %s", d.reason);
	o.cfg = &s->cfg;
	o.mods = log_mods;
	o.n_mods = 1;
	o.on_stop_event = on_stop;
	o.stop_arg = s;
	if ((s->lc = xr_lifecycle_new(s->base, &o, &d)) == NULL ||
	    xr_lifecycle_start(s->lc, &d) != XR_OK ||
	    xr_lifecycle_ready(s->lc, &d) != XR_OK ||
	    xr_lifecycle_control_listen(s->lc, &d) != XR_OK)
		fail_msg("lifecycle: %s", d.reason);
}

/* ---------- calls ---------- */

struct pend {
	int done, code;
	uint64_t t_ms;		/* when it completed */
	char msg[256];
};

static void
pend_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct pend *p = arg;

	(void)resp;
	(void)len;
	p->done = 1;
	p->code = st->code;
	p->t_ms = xr_mono_ms();
	snprintf(p->msg, sizeof(p->msg), "%s", st->message);
}

static void
start_say(xr_channel *ch, const char *text, uint32_t delay_ms,
    uint32_t timeout_ms, struct pend *p)
{
	Test__V1__SayRequest req = TEST__V1__SAY_REQUEST__INIT;
	uint8_t buf[256];
	size_t len;

	memset(p, 0, sizeof(*p));
	req.text = (char *)(uintptr_t)text;
	req.delay_ms = delay_ms;
	len = test__v1__say_request__pack(&req, buf);
	xr_call_start(ch, SAY, buf, len, timeout_ms, pend_cb, p);
}

static int
all_done(struct sup *s, struct pend *p, int n, int max_ms)
{
	int done = 0;

	for (int t = 0; t < max_ms / 10; t++) {
		done = 0;
		for (int i = 0; i < n; i++)
			done += p[i].done;
		if (done == n)
			break;
		rt_run_for(s->base, 10);
	}
	return done;
}

/* The run log's lines, and how many of them are `prefix`-N. */
static int
runs(const char *prefix, int *dup)
{
	char seen[64][64], line[64];
	int n = 0, mine = 0;
	FILE *f = fopen(RUNLOG, "r");

	*dup = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL && n < 64) {
		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < n; i++)
			*dup += strcmp(seen[i], line) == 0;
		snprintf(seen[n++], sizeof(seen[0]), "%s", line);
		mine += strncmp(line, prefix, strlen(prefix)) == 0;
	}
	fclose(f);
	return mine;
}

/* ---------- STATUS on the control socket (from a thread: the
 * supervisor's loop is this thread's) ---------- */

struct ctl_req {
	Execrpc__V1__Reply *rep;
	int r;
	atomic_int done;
};

static void *
ctl_thread(void *arg)
{
	struct ctl_req *q = arg;
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;

	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS;
	q->r = xr_ctl_client_call(ctl, &c, 5000, &q->rep, NULL);
	atomic_store(&q->done, 1);
	return NULL;
}

static Execrpc__V1__Reply *
status(struct sup *s)
{
	struct ctl_req q = { NULL, 0, 0 };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, ctl_thread, &q), 0);
	while (!atomic_load(&q.done))
		rt_run_for(s->base, 5);
	pthread_join(th, NULL);
	assert_int_equal(q.r, XR_OK);
	return q.rep;
}

/* Poll STATUS (up to 10 s) until the group's figures are `len` entries
 * (-1: any), lag 0, `pending` pending, and worker i's pending is want[i]
 * (consumer execution-i-gen[i]). */
static void
expect_figures(struct sup *s, int64_t len, uint64_t pending,
    const uint64_t want[2], const uint32_t gen[2])
{
	char why[256] = "no reply";

	for (int t = 0; t < 100; t++) {
		Execrpc__V1__Reply *r = status(s);
		const Execrpc__V1__GroupStream *g;
		int ok = r->n_streams == 1 && r->n_workers == 2;

		if (ok) {
			g = r->streams[0];
			snprintf(why, sizeof(why), "known %d length %llu lag "
			    "%lld pending %llu", g->known,
			    (unsigned long long)g->length, (long long)g->lag,
			    (unsigned long long)g->pending);
			ok = g->known && strcmp(g->group, "execution") == 0 &&
			    strcmp(g->stream, "sup:execution:req") == 0 &&
			    (len < 0 || g->length == (uint64_t)len) &&
			    g->lag == 0 && g->pending == pending &&
			    g->consumers >= 2;
		}
		for (size_t i = 0; ok && i < 2; i++) {
			const Execrpc__V1__WorkerStatus *w = r->workers[i];
			char name[64];

			snprintf(name, sizeof(name), "execution-%zu-%u", i,
			    gen[i]);
			ok = w->stream != NULL &&
			    strcmp(w->stream->consumer, name) == 0 &&
			    w->stream->pending == want[i];
		}
		if (ok) {
			char *js = NULL;

			/* the CLI's rendering has the same figures */
			assert_int_equal(xr_ctl_client_reply_json(r, &js), XR_OK);
			assert_non_null(strstr(js, "\"streams\":[{"));
			assert_non_null(strstr(js, "\"stream_pending\":"));
			free(js);
		}
		execrpc__v1__reply__free_unpacked(r, NULL);
		if (ok)
			return;
		rt_run_for(s->base, 100);
	}
	fail_msg("stream figures never matched: %s", why);
}

static pid_t
worker_pid(struct sup *s, uint32_t index)
{
	xr_worker_info w[2];

	assert_int_equal(xr_lifecycle_workers(s->lc, w, 2), 2);
	return w[index].pid;
}

static void
test_redis_supervised(void **state)
{
	enum { NA = 10, NB = 3, NC = 2 };
	struct sup s;
	xr_diag d = { 0 };
	xr_channel *ch[2];
	struct pend a[2 * NA], b[NB], c[NC], e[2];
	char text[32];
	const uint64_t zero[2] = { 0, 0 }, held[2] = { NC, NB };
	const uint32_t gen1[2] = { 1, 1 }, gen2[2] = { 1, 2 };
	xr_worker_info ws[2];
	uint64_t t0;
	int dup = 0, err;
	pid_t victim;

	(void)state;
	sup_up(&s);
	xr_transport_svc *t = xr_lifecycle_transport(s.lc);

	for (uint32_t i = 0; i < 2; i++)
		assert_non_null(ch[i] = xr_transport_worker_channel(t,
		    "execution", i, &d));

	/* calls to each worker: OK; then nothing pending, nothing unread */
	for (int i = 0; i < 2 * NA; i++) {
		snprintf(text, sizeof(text), "a-%d", i);
		start_say(ch[i % 2], text, 0, 10000, &a[i]);
	}
	assert_int_equal(all_done(&s, a, 2 * NA, 20000), 2 * NA);
	for (int i = 0; i < 2 * NA; i++)
		assert_int_equal(a[i].code, XR_STATUS_OK);
	expect_figures(&s, 2 * NA, 0, zero, gen1);

	/* worker 1 holds NB calls, worker 0 NC: pending, not lagging */
	for (int i = 0; i < NB; i++) {
		snprintf(text, sizeof(text), "b-%d", i);
		start_say(ch[1], text, 6000, 20000, &b[i]);
	}
	for (int i = 0; i < NC; i++) {
		snprintf(text, sizeof(text), "c-%d", i);
		start_say(ch[0], text, 6000, 20000, &c[i]);
	}
	expect_figures(&s, 2 * NA + NB + NC, NB + NC, held, gen1);
	/* their handlers run: the call records exist */
	for (int t2 = 0; t2 < 500 && runs("b-", &dup) < NB; t2++)
		rt_run_for(s.base, 10);
	assert_int_equal(runs("b-", &dup), NB);

	/* SIGKILL worker 1: its calls end ABORTED (the slot's next process
	 * claims them after claim_idle_ms), worker 0's OK, all well before
	 * their 20 s deadline, none run twice */
	victim = worker_pid(&s, 1);
	t0 = xr_mono_ms();
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_int_equal(all_done(&s, b, NB, 18000), NB);
	assert_int_equal(all_done(&s, c, NC, 18000), NC);
	for (int i = 0; i < NB; i++) {
		assert_int_equal(b[i].code, XR_STATUS_ABORTED);
		assert_true(b[i].t_ms - t0 < 15000);
	}
	for (int i = 0; i < NC; i++)
		assert_int_equal(c[i].code, XR_STATUS_OK);
	assert_int_equal(runs("a-", &dup), 2 * NA);
	assert_int_equal(runs("b-", &dup), NB);
	assert_int_equal(runs("c-", &dup), NC);
	assert_int_equal(dup, 0);
	assert_true(worker_pid(&s, 1) != victim);
	expect_figures(&s, 2 * NA + NB + NC, 0, zero, gen2);

	/* stop with a call in flight on each worker: drained, OK */
	for (uint32_t i = 0; i < 2; i++)
		xr_channel_free(ch[i]);
	for (int i = 0; i < 2; i++) {
		xr_channel *pc = xr_lifecycle_pick(s.lc, "test.v1.Echo", NULL,
		    0, &err);

		assert_non_null(pc);
		snprintf(text, sizeof(text), "e-%d", i);
		start_say(pc, text, 1500, 20000, &e[i]);
	}
	for (int t2 = 0; t2 < 500 && runs("e-", &dup) < 2; t2++)
		rt_run_for(s.base, 10);
	assert_int_equal(runs("e-", &dup), 2);
	assert_int_equal(xr_lifecycle_workers(s.lc, ws, 2), 2);
	assert_int_equal(xr_lifecycle_stop(s.lc, &d), XR_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(e[i].done, 1);
		if (e[i].code != XR_STATUS_OK)
			fail_msg("e-%d: status %d (%s)", i, e[i].code,
			    e[i].msg);
	}
	assert_int_equal(s.stop_events, 1);
	for (int i = 0; i < 2; i++)
		assert_true(kill(ws[i].pid, 0) != 0 && errno == ESRCH);
	assert_int_equal(runs("e-", &dup), 2);
	assert_int_equal(dup, 0);
	xr_lifecycle_free(s.lc);
	xr_config_free(&s.cfg);
	event_base_free(s.base);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_redis_supervised, setup,
		    teardown),
	};

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--worker") == 0)
			return xr_runtime_worker_main(argc, argv, log_mods, 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
