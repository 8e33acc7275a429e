/*
 * apps/fundload/ingress.h — the streaming ingress of the fund-load
 * workload: read lines, validate, send each valid load to its customer's
 * channel with a bounded window of calls in flight, coordinate the
 * cross-customer prime slot, write the decisions in input order.
 * docs/fundload.md, "Pipeline" and "Coordination".
 *
 * Memory is bounded by the window: at most `window` loads are between
 * "read" and "written", plus one line buffer (2 x XR_FL_LINE_MAX) and the
 * prime-slot day set (one bit per day of 0000..9999). Single-threaded on
 * the caller's event_base.
 */
#ifndef XR_FL_INGRESS_H
#define XR_FL_INGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "rules.h"	/* xr_rules */
#include "execrpc/client.h"

struct event_base;

typedef struct xr_fl_ingress xr_fl_ingress;

/* The largest window: an execution endpoint takes at most 1024 calls in
 * flight per connection (xr_server_opts.max_inflight's default), and one
 * customer-affine connection may carry the whole window. */
#define XR_FL_WINDOW_MAX 1024

/* The channel for a customer (affinity: the same customer always gets the
 * same channel), or NULL with *err set. */
typedef xr_channel *(*xr_fl_pick_fn)(void *arg, const char *customer,
    size_t len, int *err);

/* XR_OK while the runtime is sound; an error (e.g. XR_ERR_WORKER_FAILED,
 * with a reason in `why`) makes the run stop. Called once per loop turn. */
typedef int (*xr_fl_health_fn)(void *arg, char *why, size_t cap);

typedef struct xr_fl_ingress_opts {
	struct event_base *base;	/* borrowed; the channels' base */
	int in_fd;			/* input, read until EOF (not closed) */
	FILE *out;			/* decisions */
	FILE *err;			/* diagnostics */
	xr_rules rules;			/* must match the workers' */
	uint32_t window;		/* loads between read and written;
					 * 0 = 256, at most XR_FL_WINDOW_MAX */
	uint32_t call_timeout_ms;	/* per call; 0 = 30000 */
	xr_fl_pick_fn pick;
	void *pick_arg;
	xr_fl_health_fn health;		/* may be NULL */
	void *health_arg;
} xr_fl_ingress_opts;

typedef struct xr_fl_ingress_stats {
	uint64_t lines, invalid;
	uint64_t accepted, declined, ignored;
	uint64_t held;			/* loads that waited for the prime slot
					 * or behind a waiting load of their
					 * customer */
	uint32_t max_inflight;
} xr_fl_ingress_stats;

/* A new ingress (copies `o`). NULL on allocation failure. */
xr_fl_ingress *xr_fl_ingress_new(const xr_fl_ingress_opts *o);

/*
 * Process the whole input. Invalid lines get "fundload: line N: CATEGORY:
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

/* Free. NULL is a no-op. */
void xr_fl_ingress_free(xr_fl_ingress *g);

#endif /* XR_FL_INGRESS_H */
