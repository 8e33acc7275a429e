/*
 * apps/fundload/ingress.h — the streaming ingress of the fund-load
 * workload: read lines, validate, send each valid load to its customer's
 * channel with a bounded window of loads in flight (a channel's loads
 * batched into DecideBatch calls of up to XR_FL_BATCH_MAX), coordinate the
 * cross-customer prime slot, write the decisions in input order.
 * docs/fundload.md, "Pipeline" and "Coordination".
 *
 * The channels come from a source (xr_fl_source): the lifecycle of the
 * program's own run (xr_fl_source_lifecycle(), `fundload --config`), or the
 * ingress of a supervised web process (web.h, `fundload --from-bootstrap`).
 * The window, the ordering and the prime coordination are the same for both.
 *
 * Memory is bounded by the window: at most `window` loads are between
 * "read" and "written", plus one line buffer (2 x XR_FL_LINE_MAX) and the
 * prime-slot day set (one bit per day of 0000..9999). Single-threaded on
 * the source's event base.
 */
#ifndef XR_FL_INGRESS_H
#define XR_FL_INGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "execrpc/client.h"
#include "lifecycle.h"
#include "rules.h"	/* xr_rules */

typedef struct xr_fl_ingress xr_fl_ingress;

/*
 * Where the loads go. Every hook runs on the thread of `base`; `arg` is
 * theirs. The ingress asks health() once per loop turn before it touches
 * a channel, and picks and starts calls only in a turn whose health() was
 * XR_OK with no event processed since; after a non-XR_OK health() it never
 * touches a channel again (the source may have freed them).
 */
typedef struct xr_fl_source {
	struct event_base *base;	/* the loop the channels run on */
	void *arg;
	/* The channel of the worker `key` (a customer id) is bound to: the
	 * same channel for the same key while health() is XR_OK. NULL with
	 * `*err` set. */
	xr_channel *(*pick)(void *arg, const char *key, size_t key_len,
	    int *err);
	/* Start `method` on `ch` (pick()'s channel for `key`, the first
	 * customer of the batch); `cb` runs exactly once, possibly inside. */
	void (*call)(void *arg, xr_channel *ch, const char *method,
	    const char *key, size_t key_len, const uint8_t *req, size_t len,
	    uint32_t timeout_ms, xr_call_cb cb, void *cb_arg);
	/* XR_OK while the run may go on; else the error that ends it, with
	 * a reason in `why` (a worker lost or replaced, a stop begun). */
	int (*health)(void *arg, char *why, size_t cap);
	/* For the run and --stats (copied by xr_fl_ingress_new()): the group
	 * hosting fundload.v1.FundLoad (NULL: none; the run then fails), its
	 * workers (0: not a supervised group) and "TRANSPORT/MODE". */
	const char *group;
	uint32_t workers;
	char profile[64];
} xr_fl_source;

/* The source of a ready lifecycle (borrowed by `out`): xr_lifecycle_pick()
 * of fundload.v1.FundLoad by customer, xr_call_start(), health =
 * xr_lifecycle_health(), base = xr_lifecycle_base(); group from
 * xr_lifecycle_route(), workers from `cfg` under process_supervisor.
 * (With any source, a channel a load went to that is no longer usable
 * also ends the run: a customer never moves to another worker.) */
void xr_fl_source_lifecycle(xr_lifecycle *lc, const xr_config *cfg,
    xr_fl_source *out);

/* The largest window: an execution endpoint takes at most 1024 calls in
 * flight per connection (xr_server_opts.max_inflight's default), and one
 * customer-affine connection may carry the whole window. */
#define XR_FL_WINDOW_MAX 1024

typedef struct xr_fl_ingress_opts {
	/* the channels (copied): each load goes to src.pick() with its
	 * customer as the key; the run stops at the first src.health()
	 * error */
	xr_fl_source src;
	const char *input;		/* INPUT, read until EOF; NULL or
					 * "-": standard input */
	FILE *out;			/* decisions */
	FILE *err;			/* diagnostics */
	xr_rules rules;			/* must match the workers' */
	uint32_t window;		/* loads between read and written;
					 * 0 = 1024, at most XR_FL_WINDOW_MAX */
	uint32_t call_timeout_ms;	/* per call; 0 = 30000 */
	uint32_t batch;			/* loads per DecideBatch at most;
					 * 0 = XR_FL_BATCH_MAX (1: one load
					 * per call) */
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
 * group serves fundload.v1.FundLoad (src.group NULL). Invalid lines get "fundload: line N: CATEGORY:
 * REASON" on o->err and no output line. Returns XR_OK when every valid
 * line was decided and written (check stats.invalid for the exit status),
 * or the error that stopped the run (a call that failed, a worker lost, a
 * read error) with a reason in `d`; the output then holds the decisions of
 * every line before the first undecided one.
 *
 * Calls still in flight after an error complete when their channels are
 * freed: free the ingress only after the channels (the lifecycle, the
 * xr_ingress).
 */
int xr_fl_ingress_run(xr_fl_ingress *g, xr_diag *d);

/* Counters so far. */
void xr_fl_ingress_stats_get(const xr_fl_ingress *g, xr_fl_ingress_stats *out);

/*
 * --stats: the counters so far as one line on `f`, "fundload: stats
 * profile=TRANSPORT/MODE workers=N rules=R lines=... max_inflight=N
 * calls=N maxrss_kb=K worker_maxrss_kb=K cpu_ms=T worker_cpu_ms=T"
 * (profile and workers: the source's;
 * calls: DecideBatch calls sent; the peak RSS of this process and of its
 * largest child reaped so far, and the user + system CPU time of this
 * process and of all its children reaped so far: print it after the
 * workers are). Valid after xr_fl_ingress_run(), also once the lifecycle
 * is freed.
 */
void xr_fl_ingress_stats_print(const xr_fl_ingress *g, FILE *f);

/* Free, INPUT's fd closed. NULL is a no-op. */
void xr_fl_ingress_free(xr_fl_ingress *g);

#endif /* XR_FL_INGRESS_H */
