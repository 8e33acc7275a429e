/*
 * tests/reliability/test_kill_inflight.c — a worker SIGKILLed with calls
 * in flight, bounded: ROUNDS rounds of CALLS calls through the lifecycle's
 * ingress to a group of 2 recording workers (helper_inflight.h), every
 * call running in a worker when one worker is SIGKILLed. Each call gets
 * exactly OK (the survivor's half) or UNAVAILABLE (the victim's half),
 * none after its deadline (+ SLACK_MS), none without a status; every OK
 * call ran exactly once, no call ran twice, nothing ran that was not
 * called; the victim is restarted and a call reaches the new process.
 * battery_kill_inflight.c is the full-size version with figures.
 * This binary is its own worker (--worker).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>

#include "helper_inflight.h"

#define ROUNDS 3
#define CALLS 48		/* 24 in flight on each worker */
#define DELAY_MS 2000		/* each call runs this long: still running
				 * at the kill */
#define TIMEOUT_MS 5000
#define SLACK_MS 500

static void
test_kill_inflight_ok_or_unavailable_once(void **state)
{
	ki_ctx k;
	ki_round r;

	(void)state;
	if (ki_up(&k) != 0)
		fail_msg("%s", k.why);
	for (unsigned i = 0; i < ROUNDS; i++) {
		if (ki_run_round(&k, i, CALLS, DELAY_MS, TIMEOUT_MS, SLACK_MS,
		    i % 2, &r) != 0)
			fail_msg("%s", k.why);
		assert_int_equal(r.in_flight, CALLS);
		assert_int_equal(r.lost, 0);
		assert_int_equal(r.other, 0);
		/* round robin: half on each worker */
		assert_int_equal(r.ok, CALLS / 2);
		assert_int_equal(r.unavailable, CALLS / 2);
		if (r.late != 0)
			fail_msg("round %u: %u calls late, up to %llu ms past "
			    "the deadline", i, r.late,
			    (unsigned long long)r.max_over_ms);
		assert_int_equal(r.duplicates, 0);
		assert_int_equal(r.ok_unexecuted, 0);
		assert_int_equal(r.phantom, 0);
		/* every call ran, once: the victim's were running when it
		 * died, and none was sent again */
		assert_int_equal(r.executed, CALLS);
		assert_true(r.restarted);
		assert_true(r.after_ok);
	}
	ki_down(&k);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_inflight_ok_or_unavailable_once),
	};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = ki_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
