/*
 * tests/supervisor/test_ingress_resync.c — a web process whose control
 * channel (fd 4) was too full to take an endpoint update still ends with
 * the current table: the supervisor re-sends the slot's current record
 * once the channel takes it again (docs/supervisor.md "Updates").
 *
 * The supervisor runs in this process beside one echo worker (this binary
 * in worker mode) and one web process: this binary with --web-lag OUT
 * (the C ingress), or the Python twin tests/python/web_lag.py when the
 * test runs with --py-web LAUNCHER (ctest python/ingress_resync). The web
 * process takes its bundle, sends READY and then does not read fd 4 until
 * SIGUSR1. The test fills the supervisor's end of that channel with junk
 * datagrams (this file includes supervisor_priv.h for the fd: no hook in
 * production code), SIGKILLs the echo worker, waits for its generation 2
 * on a new port, then lets the web process read: the junk is rejected (a
 * bad tag), and the web process must log the slot's current record,
 * READY generation 2 on the new port, as its last update. Before the
 * re-send the updates of the restart were lost and the web process kept
 * generation 1's dead port for good.
 *
 * A second case: the STOP itself finds fd 4 full; the supervisor sends it
 * again until the channel takes it, and the web process stops gracefully.
 *
 * The web program's log, OUT: "table G I state S gen N port P" per
 * endpoint at boot, "reading" after SIGUSR1, "update G I state S gen N
 * port P rejects R" per update (R: the datagrams rejected so far), "stop".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "execrpc/ingress.h"
#include "helper_sup.h"
#include "supervisor_priv.h"

#define READY_MS 30000
#define CONVERGE_MS 15000

static const char *py_web;	/* --py-web LAUNCHER, else NULL */

/* ---------- the web process (--web-lag OUT) ---------- */

static FILE *wl_log;
static struct event_base *wl_base;

static uint64_t
rejects_of(const xr_ingress *ing)
{
	xr_ingress_stats st;
	uint64_t n = 0;

	xr_ingress_stats_get(ing, &st);
	for (int k = 0; k < XR_CHANNEL_REJECT_KINDS; k++)
		n += st.rejects[k];
	return n;
}

static xr_ingress *wl_ing;

static void
wl_update(void *arg, const xr_ingress_endpoint *ep)
{
	(void)arg;
	fprintf(wl_log, "update %s %u state %d gen %u port %u rejects %llu\n",
	    ep->group, ep->index, ep->state, ep->generation,
	    (unsigned)ep->port, (unsigned long long)rejects_of(wl_ing));
	fflush(wl_log);
}

static void
wl_stop(void *arg, xr_ingress *in, uint32_t timeout_ms, int drain)
{
	(void)arg;
	(void)timeout_ms;
	(void)drain;
	fprintf(wl_log, "stop\n");
	fflush(wl_log);
	xr_ingress_stop_done(in);
}

static void
wl_stopped(void *arg, xr_ingress *in)
{
	(void)arg;
	(void)in;
	event_base_loopbreak(wl_base);
}

static int
web_lag(const char *out)
{
	xr_ingress_opts o = { 0 };
	xr_ingress_endpoint eps[8];
	struct timespec to = { 60, 0 };
	xr_diag d = { 0 };
	sigset_t ss;
	size_t n;

	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);	/* before READY: none lost */
	if ((wl_log = fopen(out, "a")) == NULL)
		return 1;
	wl_base = event_base_new();
	o.client_name = "web_lag";
	o.on_update = wl_update;
	o.on_stop = wl_stop;
	o.on_stopped = wl_stopped;
	if ((wl_ing = xr_ingress_from_bootstrap(wl_base, &o, &d)) == NULL) {
		fprintf(stderr, "web_lag: %s\n", d.reason);
		return 8;
	}
	n = xr_ingress_endpoints(wl_ing, eps, 8);
	for (size_t i = 0; i < n && i < 8; i++)
		fprintf(wl_log, "table %s %u state %d gen %u port %u\n",
		    eps[i].group, eps[i].index, eps[i].state,
		    eps[i].generation, (unsigned)eps[i].port);
	fflush(wl_log);
	if (xr_ingress_ready(wl_ing, 0) != XR_OK)
		return 1;
	/* fd 4 is not read until the test says so */
	if (sigtimedwait(&ss, NULL, &to) != SIGUSR1)
		return 1;
	fprintf(wl_log, "reading\n");
	fflush(wl_log);
	event_base_dispatch(wl_base);
	xr_ingress_free(wl_ing);
	event_base_free(wl_base);
	fclose(wl_log);
	return 0;
}

/* ---------- the test ---------- */

/* Run the supervisor's loop for about `ms`. */
static void
spin(struct event_base *base, int ms)
{
	struct timeval tv = { 0, ms * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static const xr_worker_info *
find(const xr_worker_info *w, size_t n, const char *group)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w[i].group, group) == 0)
			return &w[i];
	fail_msg("no worker of group %s", group);
	return NULL;
}

/* The last "update echo 0 ..." line of the web log into `line` (""). */
static void
last_update(const char *path, char *line, size_t cap)
{
	char buf[512];
	FILE *f = fopen(path, "r");

	line[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "update echo 0 ", 14) == 0)
			snprintf(line, cap, "%s", buf);
	fclose(f);
}

/* Fill our end of ingress process `w`'s channel with junk datagrams until
 * the kernel refuses one: the number sent. */
static size_t
fill_channel(const struct sup_worker *w)
{
	uint8_t junk[512];
	size_t n = 0;

	memset(junk, 0x5a, sizeof(junk));
	assert_true(w->ctl_fd >= 0);
	while (send(w->ctl_fd, junk, sizeof(junk), MSG_DONTWAIT |
	    MSG_NOSIGNAL) == (ssize_t)sizeof(junk))
		n++;
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	return n;
}

/* The supervisor of a case: one echo worker and one web process. */
struct rs {
	char dir[32], out[PATH_MAX + 32];
	xr_config cfg;
	xr_keyset ks;
	ts_rec rec;
	struct event_base *base;
	xr_supervisor *s;
	struct group *wg;	/* the web group */
};

static void
rs_up(struct rs *r, const char *web_cmd)
{
	char self[PATH_MAX], yaml[2 * PATH_MAX + 512];
	xr_supervisor_opts o = { 0 };
	xr_diag d = { 0 };
	ssize_t sl;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/xr_resync.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->out, sizeof(r->out), "%s/web.log", r->dir);
	assert_true((sl = readlink("/proc/self/exe", self,
	    sizeof(self) - 1)) > 0);
	self[sl] = '\0';
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    process_groups:\n"
	    "      - {name: echo, workers: 1, restart: on-failure,"
	    " services: [echo.v1.Echo]}\n"
	    "      - {name: web, role: ingress, workers: 1,"
	    " command: [\"%s\", \"--web-lag\", \"%s\"]}\n",
	    web_cmd != NULL ? web_cmd : self, r->out);
	ts_config(&r->cfg, yaml);
	ts_keys(&r->ks, NULL);
	assert_non_null(r->base = event_base_new());
	o.cfg = &r->cfg;
	o.keys = &r->ks;
	o.on_stop_event = ts_on_stop;
	o.stop_arg = &r->rec;
	o.on_worker_event = ts_on_worker;
	o.worker_arg = &r->rec;
	if ((r->s = xr_supervisor_new(r->base, &o, &d)) == NULL)
		fail_msg("supervisor_new: %s", d.reason);
	if (xr_supervisor_start_groups(r->s, NULL, 0, &d) != XR_OK ||
	    xr_supervisor_wait_ready(r->s, READY_MS, &d) != XR_OK)
		fail_msg("start/ready: %s", d.reason);
	for (size_t g = 0; g < r->s->ngroups; g++)
		if (strcmp(r->s->groups[g].cfg->name, "web") == 0)
			r->wg = &r->s->groups[g];
	assert_non_null(r->wg);
}

static void
rs_down(struct rs *r)
{
	xr_supervisor_free(r->s);
	event_base_free(r->base);
	xr_config_free(&r->cfg);
	xr_keyset_wipe(&r->ks);
	unlink(r->out);
	rmdir(r->dir);
}

static void
resync_case(const char *web_cmd)
{
	char want[128], line[512];
	struct rs r;
	xr_worker_info w[4];
	const xr_worker_info *echo, *web;
	xr_diag d = { 0 };
	uint16_t old_port;
	size_t n, junk;
	uint64_t end;

	rs_up(&r, web_cmd);
	n = xr_supervisor_workers(r.s, w, 4);
	assert_int_equal(n, 2);
	echo = find(w, n, "echo");
	web = find(w, n, "web");
	assert_int_equal(echo->generation, 1);
	old_port = echo->port;

	/* the web process's fd 4 holds all it can; then the worker moves */
	junk = fill_channel(&r.wg->w[0]);
	assert_true(junk > 0);
	assert_int_equal(kill(echo->pid, SIGKILL), 0);
	end = xr_mono_ms() + READY_MS;
	do {
		spin(r.base, 20);
		n = xr_supervisor_workers(r.s, w, 4);
		echo = find(w, n, "echo");
	} while ((echo->generation != 2 || echo->state != XR_WORKER_READY) &&
	    xr_mono_ms() < end);
	assert_int_equal(echo->generation, 2);
	assert_int_equal(echo->state, XR_WORKER_READY);
	print_message("    %zu junk datagrams filled fd 4; echo[0] port %u "
	    "-> %u\n", junk, (unsigned)old_port, (unsigned)echo->port);

	/* now the web process reads: it must end with the current record */
	snprintf(want, sizeof(want), "update echo 0 state %d gen 2 port %u ",
	    XR_INGRESS_EP_READY, (unsigned)echo->port);
	assert_int_equal(kill(web->pid, SIGUSR1), 0);
	end = xr_mono_ms() + CONVERGE_MS;
	do {
		spin(r.base, 50);
		last_update(r.out, line, sizeof(line));
	} while (strncmp(line, want, strlen(want)) != 0 &&
	    xr_mono_ms() < end);
	print_message("    web process's last update: %s", line[0] ? line :
	    "(none)\n");
	assert_true(strncmp(line, want, strlen(want)) == 0);
	/* the junk was read and rejected before the record */
	assert_int_equal(strtoull(strstr(line, "rejects ") + 8, NULL, 10),
	    junk);

	assert_int_equal(xr_supervisor_stop_groups(r.s, 10000, true, &d),
	    XR_OK);
	assert_int_equal(ts_stop_count(&r.rec, "web", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&r.rec, "echo", XR_STOP_GRACEFUL), 1);
	rs_down(&r);
}

static int
stops(const struct rs *r, const char *group)
{
	return ts_stop_count(&r->rec, group, XR_STOP_GRACEFUL) +
	    ts_stop_count(&r->rec, group, XR_STOP_FORCED);
}

/*
 * The STOP itself finds fd 4 full: the supervisor sends it again until the
 * channel takes it, so the web process still stops gracefully (it logs
 * "stop", answers STOPPED and exits) well before the 8 s deadline. Before,
 * the STOP was lost and the web process was killed at the deadline.
 */
static void
stop_case(void)
{
	struct rs r;
	xr_worker_info w[4];
	const xr_worker_info *web;
	uint64_t t0, end;
	size_t junk;

	rs_up(&r, NULL);
	web = find(w, xr_supervisor_workers(r.s, w, 4), "web");
	junk = fill_channel(&r.wg->w[0]);
	assert_true(junk > 0);
	t0 = xr_mono_ms();
	assert_int_equal(xr_supervisor_stop_begin(r.s, 8000, true), XR_OK);
	spin(r.base, 300);		/* the STOP finds the channel full */
	assert_int_equal(stops(&r, "web"), 0);
	assert_int_equal(kill(web->pid, SIGUSR1), 0);
	end = xr_mono_ms() + 15000;
	while ((stops(&r, "web") == 0 || stops(&r, "echo") == 0) &&
	    xr_mono_ms() < end)
		spin(r.base, 20);
	print_message("    %zu junk datagrams; stopped after %llu ms\n", junk,
	    (unsigned long long)(xr_mono_ms() - t0));
	assert_int_equal(ts_stop_count(&r.rec, "web", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&r.rec, "web", XR_STOP_FORCED), 0);
	assert_int_equal(ts_stop_count(&r.rec, "echo", XR_STOP_GRACEFUL), 1);
	assert_true(xr_mono_ms() - t0 < 8000);
	rs_down(&r);
}

static void
test_c_web_process_gets_lost_update(void **state)
{
	(void)state;
	resync_case(NULL);
}

static void
test_py_web_process_gets_lost_update(void **state)
{
	(void)state;
	resync_case(py_web);
}

static void
test_c_web_process_gets_lost_stop(void **state)
{
	(void)state;
	stop_case();
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest c_tests[] = {
		cmocka_unit_test(test_c_web_process_gets_lost_update),
		cmocka_unit_test(test_c_web_process_gets_lost_stop),
	};
	const struct CMUnitTest py_tests[] = {
		cmocka_unit_test(test_py_web_process_gets_lost_update),
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	if (argc == 3 && strcmp(argv[1], "--web-lag") == 0)
		return web_lag(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--py-web") == 0) {
		py_web = argv[2];
		return cmocka_run_group_tests(py_tests, NULL, NULL);
	}
	return cmocka_run_group_tests(c_tests, NULL, NULL);
}
