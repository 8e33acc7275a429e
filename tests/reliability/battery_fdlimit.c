/*
 * tests/reliability/battery_fdlimit.c — fd exhaustion under ulimit -n 64 at
 * full size, with figures (the bounded version: test_fdlimit.c):
 *  1. an endpoint under RLIMIT_NOFILE 64, ROUNDS floods of FLOOD
 *     connections held HOLD_MS each: accept pauses, CPU, recovery time of
 *     a fresh signed call once the flood closes;
 *  2. execrpc-supervisor under ulimit -n 64 with 2 workers: start, restart
 *     of a SIGKILLed worker, restart of one SIGKILLed while a control
 *     socket flood holds every fd of the supervisor.
 * Prints attack, expected, observed; exits 1 if an expectation fails.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_fdlimit.h"
#include "helper_srv.h"

#define ROUNDS 5
#define FLOOD 1000
#define HOLD_MS 4000		/* under the 5 s handshake timeout */
#define SUP_KILLS 5

static int failed;

static void
expect(int ok, const char *what)
{
	printf("  %-60s %s\n", what, ok ? "ok" : "FAILED");
	failed |= !ok;
}

static void
endpoint(void)
{
	fl_endpoint e;
	fl_report r;
	int *fds = calloc(FLOOD, sizeof(int)), n, status, ok, all_ok = 1;
	uint64_t t0, total_ms = 0, rec_max = 0, rec;

	printf("attack: %d floods of %d TCP connections held %d ms on an "
	    "endpoint under RLIMIT_NOFILE %d\n", ROUNDS, FLOOD, HOLD_MS,
	    FL_NOFILE);
	printf("expected: accept pauses (<= 1 per 250 ms), CPU well under "
	    "the time, no crash, a signed call OK after each flood\n");
	if (fds == NULL || fl_endpoint_start(&e, FL_NOFILE) != 0) {
		expect(0, "endpoint started");
		return;
	}
	for (int i = 0; i < ROUNDS; i++) {
		t0 = fl_now_ms();
		n = fl_flood_tcp(e.port, fds, FLOOD);
		usleep(HOLD_MS * 1000);
		fl_close_all(fds, n);
		total_ms += fl_now_ms() - t0;
		t0 = fl_now_ms();
		ok = fl_signed_say(e.port, 8000);
		rec = fl_now_ms() - t0;
		total_ms += rec;
		rec_max = rec > rec_max ? rec : rec_max;
		all_ok &= ok && n == FLOOD;
		printf("  round %d: %d connections, recovery %llu ms, call %s\n",
		    i + 1, n, (unsigned long long)rec, ok ? "OK" : "FAILED");
	}
	ok = fl_endpoint_stop(&e, &r, &status) == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0;
	printf("observed: accept_backoffs %llu over %llu ms (%.1f/s), cpu %llu "
	    "ms, connections_accepted %llu, calls_ok %llu, recovery max %llu "
	    "ms\n", (unsigned long long)r.st.accept_backoffs,
	    (unsigned long long)total_ms,
	    (double)r.st.accept_backoffs * 1000.0 / (double)total_ms,
	    (unsigned long long)r.cpu_ms,
	    (unsigned long long)r.st.connections_accepted,
	    (unsigned long long)r.st.calls_ok, (unsigned long long)rec_max);
	expect(ok, "the endpoint exited 0 when asked (no crash)");
	expect(all_ok, "every flood opened, a signed call OK after each");
	expect(r.st.accept_backoffs >= ROUNDS &&
	    r.st.accept_backoffs <= total_ms / 250 + 2 * ROUNDS,
	    "accept paused, at most once per 250 ms");
	expect(r.cpu_ms < total_ms / 4, "cpu under a quarter of the time");
	/* a SYN dropped by the still-full backlog is retried after 1 s,
	 * then 2 s more */
	expect(rec_max < 8000, "recovery under 8 s (SYN retries)");
	free(fds);
}

static void
supervisor(void)
{
	fl_sup s;
	int fds[128], n, status = 0, w, restarted = 0, flooded_ok = 1;
	uint64_t t0, lat, lat_max = 0, flood_lat_max = 0;
	pid_t victim;

	printf("attack: execrpc-supervisor under ulimit -n %d, 2 workers; %d "
	    "SIGKILLs, then %d more while a control-socket flood holds its "
	    "fds\n", FL_NOFILE, SUP_KILLS, SUP_KILLS);
	printf("expected: it starts (or fails with a typed error), every "
	    "killed worker restarted, after the flood too\n");
	if (fl_sup_start(&s, FL_NOFILE) != 0) {
		expect(0, "supervisor forked");
		return;
	}
	t0 = fl_now_ms();
	w = fl_sup_wait(&s, -1, 1, 20000, &status);
	printf("  start: %s in %llu ms\n", w == 1 ? "both workers ready" :
	    w < 0 ? "exited" : "no workers", (unsigned long long)(fl_now_ms() -
	    t0));
	if (w != 1) {
		printf("  stderr: %s\n", fl_sup_stderr(&s));
		expect(w < 0 && strstr(fl_sup_stderr(&s), "(code -") != NULL,
		    "failed with a typed error");
		fl_sup_stop(&s);
		return;
	}
	for (int i = 0; i < SUP_KILLS; i++) {
		int idx = i % 2;

		victim = s.worker[idx];
		t0 = fl_now_ms();
		kill(victim, SIGKILL);
		if (fl_sup_wait(&s, idx, s.lines[idx] + 1, 15000, &status) == 1) {
			restarted++;
			lat = fl_now_ms() - t0;
			lat_max = lat > lat_max ? lat : lat_max;
		}
	}
	for (int i = 0; i < SUP_KILLS; i++) {
		int idx = i % 2;
		unsigned want = s.lines[idx] + 1;

		n = fl_flood_unix(s.sock, fds, 128);
		usleep(500 * 1000);
		victim = s.worker[idx];
		kill(victim, SIGKILL);
		usleep(1000 * 1000);
		fl_close_all(fds, n);
		t0 = fl_now_ms();
		if (fl_sup_wait(&s, idx, want, 15000, &status) != 1) {
			flooded_ok = 0;
			continue;
		}
		lat = fl_now_ms() - t0;
		flood_lat_max = lat > flood_lat_max ? lat : flood_lat_max;
		printf("  flood %d: %d control connections, worker %d back %llu "
		    "ms after the flood ended\n", i + 1, n, idx,
		    (unsigned long long)lat);
	}
	printf("observed: %d/%d restarted (max %llu ms after the kill); "
	    "under the flood: %s (max %llu ms after it ended); %u+%u worker "
	    "lines\n", restarted, SUP_KILLS, (unsigned long long)lat_max,
	    flooded_ok ? "every one restarted" : "NOT restarted",
	    (unsigned long long)flood_lat_max, s.lines[0], s.lines[1]);
	expect(restarted == SUP_KILLS, "every SIGKILLed worker restarted");
	expect(flooded_ok, "restarted after a kill under fd exhaustion");
	status = fl_sup_stop(&s);
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the supervisor stopped with status 0");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	endpoint();
	supervisor();
	return failed ? 1 : 0;
}
