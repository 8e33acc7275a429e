/*
 * tests/reliability/helper_inflight.h — a worker SIGKILLed with calls in
 * flight: a supervised group of 2 workers of a recording service, rounds
 * of calls through the lifecycle's ingress, and what each round shows.
 * Shared by test_kill_inflight.c (bounded) and battery_kill_inflight.c
 * (full size, figures).
 *
 * The recording service is test.v1.Echo/Say (tests/proto) with handlers
 * of this file, reading apps.inflight.log: a file path. On entry the
 * handler appends the request's text and a newline to that file with one
 * O_APPEND write (one line per execution, whole even with two workers
 * writing), then answers after the request's delay_ms (a CANCEL ends it
 * with CANCELLED). The file is the execution record the test reads after
 * the fact: a line per time a handler ran, with the call's own id.
 *
 * The program is its own worker executable: main() first calls
 * ki_worker_mode().
 */
#ifndef KI_HELPER_INFLIGHT_H
#define KI_HELPER_INFLIGHT_H

#include <stdint.h>
#include <sys/types.h>

#include "runtime.h"

#define KI_SERVICE "test.v1.Echo"
#define KI_METHOD "test.v1.Echo/Say"
#define KI_MAX_CALLS 1024

/* If argv asks for worker mode, run the worker and return its exit status;
 * else return -1. */
int ki_worker_mode(int argc, char **argv);

typedef struct ki_ctx {
	struct event_base *base;
	xr_config cfg;
	xr_lifecycle *lc;
	char dir[64];			/* mkdtemp: the execution record */
	char log[128];
	pid_t pid[2];			/* each worker's process, from its
					 * last "ready" event */
	uint64_t ready_ms[2];		/* monotonic time of that event */
	unsigned ready[2];		/* "ready" events per index */
	char why[256];			/* what failed, for a -1 */
} ki_ctx;

/* Bring up the group (2 workers, restart on-failure, apps.inflight.log
 * in a fresh directory) and wait until ready: 0, or -1 with k->why. */
int ki_up(ki_ctx *k);
/* Stop, free, remove the directory. */
void ki_down(ki_ctx *k);

/* What one round showed. */
typedef struct ki_round {
	unsigned calls;		/* started */
	unsigned ok, unavailable;
	unsigned other;		/* any other status */
	unsigned late;		/* completed past deadline + slack */
	unsigned lost;		/* no status by the end of the round */
	unsigned duplicates;	/* call ids executed more than once */
	unsigned ok_unexecuted;	/* OK without an execution on record */
	unsigned phantom;	/* executions of ids that are not this
				 * round's calls */
	unsigned executed;	/* distinct ids on record */
	unsigned in_flight;	/* executions on record at the kill */
	uint64_t max_over_ms;	/* the latest completion's time past its
				 * deadline (0 if none was past) */
	int restarted;		/* the victim's slot is ready again */
	uint64_t restart_ms;	/* kill -> its "ready" event */
	int after_ok;		/* a call after the restart reached the new
				 * process and came back OK */
} ki_round;

/*
 * One round: `calls` calls (at most KI_MAX_CALLS) of KI_METHOD, ids
 * "r<round>-<i>", picked round robin, each with delay_ms `delay_ms` and
 * deadline `timeout_ms`; once every one is on record (running in a
 * worker), worker `victim` (0 or 1) is SIGKILLed; then the base runs
 * until every call has a status and the worker is back (at most
 * timeout_ms + 15 s), and a call is made to the new process. A late
 * completion is one past its deadline + `slack_ms`. 0, or -1 with k->why
 * if the round could not be run (calls never got in flight).
 */
int ki_run_round(ki_ctx *k, unsigned round, unsigned calls,
    uint32_t delay_ms, uint32_t timeout_ms, uint32_t slack_ms,
    unsigned victim, ki_round *out);

#endif
