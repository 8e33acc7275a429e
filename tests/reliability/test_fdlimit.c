/*
 * tests/reliability/test_fdlimit.c — fd exhaustion under ulimit -n 64,
 * bounded:
 *  - an execution endpoint under RLIMIT_NOFILE 64 flooded with connections
 *    until accept fails with EMFILE: it pauses accepting (counted in
 *    accept_backoffs) instead of spinning, keeps serving the session it
 *    had, does not crash, and once the flood's sockets close a fresh
 *    signed call succeeds;
 *  - execrpc-supervisor under ulimit -n 64 with 2 workers starts; a worker
 *    SIGKILLed is restarted; one SIGKILLed while a control-socket flood
 *    holds every fd of the supervisor is restarted once the flood ends
 *    (before the fix in supervisor/fsm.c the failed respawn left the slot
 *    failed for good).
 * battery_fdlimit.c is the full-size version with figures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_fdlimit.h"
#include "helper_srv.h"

#define FLOOD 200
#define HOLD_MS 1500

/* Open fds of process `pid`. */
static int
fd_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
test_endpoint_emfile_backoff_and_recovery(void **state)
{
	fl_endpoint e;
	fl_report r;
	ts_peer resident;
	const Execrpc__V1__Envelope *env;
	int fds[FLOOD], n, status, closed, ok;
	uint64_t t0, flood_ms, recovered_ms;
	char text[64];

	(void)state;
	assert_int_equal(fl_endpoint_start(&e, FL_NOFILE), 0);
	/* a session opened before the flood */
	ts_peer_open(&resident, e.port, ts_master);
	ts_handshake(&resident);
	t0 = fl_now_ms();
	assert_int_equal(n = fl_flood_tcp(e.port, fds, FLOOD), FLOOD);
	usleep(HOLD_MS * 1000);
	/* every fd of the endpoint is taken: EMFILE on accept */
	assert_true(fd_count(e.pid) >= FL_NOFILE - 1);
	/* the session it had is still served */
	(void)ts_send_say(&resident, "during", 0, 3000);
	assert_non_null(env = ts_recv(&resident, 3000, &closed));
	assert_int_equal(env->kind, XR_KIND_RESPONSE);
	ts_say_text(env, text, sizeof(text));
	assert_string_equal(text, "during");
	fl_close_all(fds, n);
	flood_ms = fl_now_ms() - t0;
	t0 = fl_now_ms();
	/* the listen backlog may still be full for a moment: the kernel
	 * drops our SYN and retries it after 1 s, then 2 s more, ... */
	ok = fl_signed_say(e.port, 8000);
	recovered_ms = fl_now_ms() - t0;
	assert_true(ok);
	assert_true(recovered_ms < 8000);
	ts_peer_close(&resident);
	/* no crash: it stops when asked and reports */
	assert_int_equal(fl_endpoint_stop(&e, &r, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* it paused instead of spinning: one pause per 250 ms at most,
	 * and little CPU over the whole flood */
	assert_true(r.st.accept_backoffs >= 1);
	if (r.st.accept_backoffs > (flood_ms + recovered_ms) / 250 + 4 ||
	    r.cpu_ms > (flood_ms + recovered_ms) / 2)
		fail_msg("accept_backoffs %llu, cpu %llu ms over %llu ms",
		    (unsigned long long)r.st.accept_backoffs,
		    (unsigned long long)r.cpu_ms,
		    (unsigned long long)(flood_ms + recovered_ms));
	/* it accepted up to its limit, then the rest once fds were free */
	assert_true(r.st.connections_accepted >= FL_NOFILE / 2);
	assert_true(r.st.calls_ok >= 2);
}

static void
test_supervisor_under_64_restarts(void **state)
{
	fl_sup s;
	int fds[96], n, status = 0, w;
	pid_t victim;

	(void)state;
	assert_int_equal(fl_sup_start(&s, FL_NOFILE), 0);
	/* it starts (not a hang, not a crash): both workers' lines */
	if ((w = fl_sup_wait(&s, -1, 1, 20000, &status)) != 1)
		fail_msg("execrpc-supervisor under ulimit -n %d: %s (status "
		    "%d): %s", FL_NOFILE, w < 0 ? "exited" : "no workers",
		    status, fl_sup_stderr(&s));
	/* a worker SIGKILLed is restarted */
	victim = s.worker[0];
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_int_equal(fl_sup_wait(&s, 0, 2, 10000, &status), 1);
	assert_true(s.worker[0] != victim);
	/* every fd of the supervisor held by control connections; worker 1
	 * dies meanwhile: its respawn fails (EMFILE) */
	n = fl_flood_unix(s.sock, fds, 96);
	usleep(500 * 1000);
	assert_true(fd_count(s.pid) >= FL_NOFILE - 1);
	victim = s.worker[1];
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_int_equal(fl_sup_wait(&s, 1, 2, 1000, &status), 0);
	/* the flood ends: the slot is restarted, not lost */
	fl_close_all(fds, n);
	if (fl_sup_wait(&s, 1, 2, 15000, &status) != 1)
		fail_msg("worker 1 not restarted after the flood: %s",
		    fl_sup_stderr(&s));
	assert_true(s.worker[1] != victim);
	assert_non_null(strstr(fl_sup_stderr(&s), "bootstrap_start_failed"));
	status = fl_sup_stop(&s);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_emfile_backoff_and_recovery),
		cmocka_unit_test(test_supervisor_under_64_restarts),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
