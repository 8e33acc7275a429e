/*
 * apps/fundload/ingress.h — the streaming ingress of the fund-load
 * workload: read lines, validate, send each valid load to its customer's
 * channel with a bounded window of loads in flight (a channel's loads
 * batched into DecideBatch calls of up to XR_FL_BATCH_MAX), coordinate the
 * cross-customer prime slot, write the decisions in input order.
 * docs/fundload.md, "Pipeline" and "Coordination".
 *
 * Memory is bounded by the window: at most `window` loads are between
 * "read" and "written", plus one line buffer (2 x XR_FL_LINE_MAX) and the
 * prime-slot day set (one bit per day of 0000..9999). Single-threaded on
 * the lifecycle's event base.
 */
#ifndef XR_FL_INGRESS_H
#define XR_FL_INGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "lifecycle.h"
#include "rules.h"	/* xr_rules */

typedef struct xr_fl_ingress xr_fl_ingress;

/* The largest window: an execution endpoint takes at most 1024 calls in
 * flight per connection (xr_server_opts.max_inflight's default), and one
 * customer-affine connection may carry the whole window. */
#define XR_FL_WINDOW_MAX 1024

typedef struct xr_fl_ingress_opts {
	/* borrowed, ready: each load goes to xr_lifecycle_pick() of
	 * fundload.v1.FundLoad with its customer as the affinity key; the
	 * run stops at the first xr_lifecycle_health() error (checked once
	 * per loop turn on xr_lifecycle_base()) */
	xr_lifecycle *lc;
	const char *input;		/* INPUT, read until EOF; NULL or
					 * "-": standard input */
	FILE *out;			/* decisions */
	FILE *err;			/* diagnostics */
	xr_rules rules;			/* must match the workers' */
	uint32_t window;		/* loads between read and written;
					 * 0 = 1024, at most XR_FL_WINDOW_MAX */
	uint32_t call_timeout_ms;	/* per call; 0 = 30000 */
} xr_fl_ingress_opts;

typedef struct xr_fl_ingress_stats {
	uint64_t lines, invalid;
	uint64_t accepted, declined, ignored;
	uint64_t held;			/* loads that waited for the prime slot
					 * or behind a waiting load of their
					 * customer */
	uint32_t max_inflight;
	uint64_t calls;			/* DecideBatch calls sent */
} xr_fl_ingress_stats;

/* A new ingress (copies `o`), o->input open, o->out fully buffered (64
 * KiB). NULL with `d` set: XR_ERR_SYSTEM ("INPUT: strerror") when INPUT
 * does not open, XR_ERR_NOMEM. */
xr_fl_ingress *xr_fl_ingress_new(const xr_fl_ingress_opts *o, xr_diag *d);

/*
 * Process the whole input; XR_ERR_CONFIG_INVALID at once when no process
 * group serves fundload.v1.FundLoad (xr_lifecycle_route()). Invalid lines get "fundload: line N: CATEGORY:
 * REASON" on o->err and no output line. Returns XR_OK when every valid
 * line was decided and written (check stats.invalid for the exit status),
 * or the error that stopped the run (a call that failed, a worker lost, a
 * read error) with a reason in `d`; the output then holds the decisions of
 * every line before the first undecided one.
 *
 * Calls still in flight after an error complete when their channels are
 * freed: free the ingress only after the channels (the lifecycle).
 */
int xr_fl_ingress_run(xr_fl_ingress *g, xr_diag *d);

/* Counters so far. */
void xr_fl_ingress_stats_get(const xr_fl_ingress *g, xr_fl_ingress_stats *out);

/*
 * --stats: the counters so far as one line on `f`, "fundload: stats
 * profile=TRANSPORT/MODE workers=N rules=R lines=... max_inflight=N
 * calls=N maxrss_kb=K worker_maxrss_kb=K cpu_ms=T worker_cpu_ms=T" (`cfg`:
 * the run's; workers: the FundLoad group's in process_supervisor, else 0;
 * calls: DecideBatch calls sent; the peak RSS of this process and of its
 * largest child reaped so far, and the user + system CPU time of this
 * process and of all its children reaped so far: print it after the
 * workers are). Valid after xr_fl_ingress_run(), also once the lifecycle
 * is freed.
 */
void xr_fl_ingress_stats_print(const xr_fl_ingress *g, FILE *f,
    const xr_config *cfg);

/* Free, INPUT's fd closed. NULL is a no-op. */
void xr_fl_ingress_free(xr_fl_ingress *g);

#endif /* XR_FL_INGRESS_H */
