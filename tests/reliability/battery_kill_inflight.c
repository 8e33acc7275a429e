/*
 * tests/reliability/battery_kill_inflight.c — a worker SIGKILLed with
 * calls in flight at full size, with figures (the bounded version:
 * test_kill_inflight.c): ROUNDS rounds of CALLS calls to a group of 2
 * recording workers (helper_inflight.h), the workers SIGKILLed in turn
 * while every call runs. Prints rounds, calls, OK, UNAVAILABLE, late,
 * duplicates, lost, restart latency p50/max; exits 1 if an expectation
 * fails. This binary is its own worker (--worker).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "helper_inflight.h"

#define ROUNDS 20
#define CALLS 256		/* 128 in flight on each worker */
#define DELAY_MS 1000
#define TIMEOUT_MS 3000
#define SLACK_MS 100

static int failed;

static void
expect(int ok, const char *what)
{
	printf("  %-60s %s\n", what, ok ? "ok" : "FAILED");
	failed |= !ok;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	ki_ctx k;
	ki_round r, t = { 0 };
	uint64_t lat[ROUNDS], over_max = 0;
	unsigned restarted = 0, after_ok = 0, rounds = 0;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if ((rc = ki_worker_mode(argc, argv)) >= 0)
		return rc;
	printf("attack: %d rounds of %d calls (each running %d ms, deadline "
	    "%d ms) on 2 workers; one worker SIGKILLed per round with every "
	    "call in flight\n", ROUNDS, CALLS, DELAY_MS, TIMEOUT_MS);
	printf("expected: each call OK or UNAVAILABLE by its deadline (+%d "
	    "ms), OK ones ran exactly once, none twice, none lost, nothing "
	    "ran uncalled; the worker restarted and serves\n", SLACK_MS);
	if (ki_up(&k) != 0) {
		printf("observed: %s\n", k.why);
		return 1;
	}
	for (unsigned i = 0; i < ROUNDS; i++) {
		if (ki_run_round(&k, i, CALLS, DELAY_MS, TIMEOUT_MS, SLACK_MS,
		    i % 2, &r) != 0) {
			printf("  round %u: %s\n", i, k.why);
			failed = 1;
			break;
		}
		rounds++;
		t.calls += r.calls;
		t.ok += r.ok;
		t.unavailable += r.unavailable;
		t.other += r.other;
		t.late += r.late;
		t.lost += r.lost;
		t.duplicates += r.duplicates;
		t.ok_unexecuted += r.ok_unexecuted;
		t.phantom += r.phantom;
		t.executed += r.executed;
		over_max = r.max_over_ms > over_max ? r.max_over_ms : over_max;
		if (r.restarted)
			lat[restarted++] = r.restart_ms;
		after_ok += r.after_ok != 0;
		printf("  round %2u: worker %u killed with %u in flight: OK %u "
		    "UNAVAILABLE %u other %u late %u dup %u lost %u; restart "
		    "%s %llu ms\n", i, i % 2, r.in_flight, r.ok, r.unavailable,
		    r.other, r.late, r.duplicates, r.lost,
		    r.restarted ? "after" : "NOT SEEN",
		    (unsigned long long)r.restart_ms);
	}
	ki_down(&k);
	qsort(lat, restarted, sizeof(lat[0]), cmp_u64);
	printf("observed: rounds %u, calls %u, OK %u, UNAVAILABLE %u, other "
	    "%u, late %u (max %llu ms past a deadline), duplicates %u, lost "
	    "%u, OK-unexecuted %u, phantom %u; restarts %u/%u, latency p50 "
	    "%llu ms max %llu ms; a call to the new process OK %u/%u\n",
	    rounds, t.calls, t.ok, t.unavailable, t.other, t.late,
	    (unsigned long long)over_max, t.duplicates, t.lost,
	    t.ok_unexecuted, t.phantom, restarted, rounds,
	    (unsigned long long)(restarted ? lat[restarted / 2] : 0),
	    (unsigned long long)(restarted ? lat[restarted - 1] : 0),
	    after_ok, rounds);
	printf("  (a restart waits out the on-failure backoff: 100 ms, "
	    "doubling to 5 s while a slot dies again within 10 s of READY; "
	    "each slot here dies every other round)\n");
	expect(rounds == ROUNDS, "every round ran");
	expect(t.ok + t.unavailable == t.calls && t.other == 0 && t.lost == 0,
	    "every call OK or UNAVAILABLE, none lost");
	expect(t.late == 0, "none completed past its deadline");
	expect(t.duplicates == 0 && t.ok_unexecuted == 0 && t.phantom == 0,
	    "OK ones ran once, none twice, nothing uncalled ran");
	expect(t.ok > 0 && t.unavailable > 0, "both outcomes seen");
	expect(restarted == rounds && after_ok == rounds,
	    "the killed worker restarted and served, every round");
	return failed ? 1 : 0;
}
