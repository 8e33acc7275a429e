/*
 * runtime/redis.h — the redis_streams transport profile (docs/design.md
 * section 5, "redis_streams"), private to runtime/. Four files:
 *
 *   redis_conn.c     xr_rconn: one hiredis async connection on the
 *                    caller's event_base (hiredis' libevent adapter), to
 *                    the server the config names (host and port, or a
 *                    unix socket), AUTH from password_file and SELECT db on
 *                    every connect, reconnecting 100 ms after a loss.
 *   redis_ingress.c  xr_redis_ingress: the ingress side. A call is one
 *                    XADD of its signed REQUEST Frame to the group's
 *                    request stream; replies come back on this ingress's
 *                    own reply stream (XREAD BLOCK) and pass the receive
 *                    order before they complete a call. Exposed to the
 *                    transport as an xr_local_target per group, under a
 *                    memory channel (which keeps the deadline, the
 *                    payload limit and the in-flight cap).
 *   redis_worker.c   xr_redis_worker: the execution side for one process
 *                    group. XREADGROUP in the group's consumer group, the
 *                    receive order, then one Lua call in Redis that
 *                    records the nonce and the call (replay and
 *                    at-most-once), the handler through the registry's
 *                    xr_local_target, the signed RESPONSE XADDed to the
 *                    caller's reply stream, then XACK. XAUTOCLAIM takes
 *                    over the entries of a dead worker.
 *
 * Keys in Redis (P = redis.stream_prefix):
 *   P:GROUP:req          the request stream of a process group; consumer
 *                        group GROUP; MAXLEN ~ max_stream_len
 *   P:GROUP:req:N        process_supervisor: worker N's slot stream (same
 *                        consumer group, read by that slot's processes)
 *   P:reply:INGRESS      an ingress's reply stream (INGRESS = 32 hex of
 *                        16 random bytes, fresh per ingress); MAXLEN ~
 *   P:nonce:HEX          a request nonce seen (PX 2 * ttl)
 *   P:call:INGRESS:ID    a call started: the stream entry id that ran it
 *                        (PX 2 * ttl + the call's timeout)
 *
 * Redis is trusted for neither integrity nor secrecy: every entry is a
 * signed Frame (the tcp_local frame body, without the length prefix), so
 * Redis can drop or delay calls, never forge or alter one.
 *
 * Single-threaded on the caller's event_base.
 */
#ifndef XR_RUNTIME_REDIS_H
#define XR_RUNTIME_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dispatch.h"
#include "keys.h"
#include "registry.h"
#include "rx.h"
#include "supervisor.h"	/* xr_stream_figures */

struct event_base;
struct redisAsyncContext;

/* What both sides take from the config (copied by the constructors). */
typedef struct xr_redis_opts {
	xr_redis_cfg rc;		/* execution_ipc.redis */
	uint32_t ttl_seconds;		/* execution_ipc.auth.ttl_seconds */
	uint32_t max_payload_bytes;	/* execution_ipc.max_payload_bytes */
} xr_redis_opts;

/* The options of `cfg`. */
void xr_redis_opts_from(xr_redis_opts *o, const xr_config *cfg);

/* ---------- redis_conn.c ---------- */

typedef struct xr_rconn xr_rconn;

/* Called when the connection is up (AUTH and SELECT queued first) and when
 * it is lost (every command pending on it has had its callback with a NULL
 * reply before `down` runs). */
typedef struct xr_rconn_cbs {
	void (*up)(void *arg);
	void (*down)(void *arg);
	void *arg;
} xr_rconn_cbs;

/*
 * Connect to the server of `rc` (copied) on `base` (borrowed) and keep
 * reconnecting after a loss, 100 ms apart, until freed. Returns the
 * connection (possibly not up yet), or NULL with `d` filled (XR_ERR_NOMEM).
 */
xr_rconn *xr_rconn_new(struct event_base *base, const xr_redis_cfg *rc,
    const xr_rconn_cbs *cbs, xr_diag *d);

/* The hiredis context while the connection is up, else NULL. */
struct redisAsyncContext *xr_rconn_ctx(const xr_rconn *c);

/* Disconnect (pending commands get their callbacks with a NULL reply;
 * `down` is not called) and free. NULL is a no-op. */
void xr_rconn_free(xr_rconn *c);

/*
 * Steps 1-5 of the receive order (core/rx.h) over one stream entry's frame
 * body, with `codec`'s decoder: on XR_OK the envelope is
 * xr_codec_envelope(codec) until xr_codec_reset(). Step 6 (replay) is the
 * caller's, without a connection: the worker asks Redis (one nonce record
 * per REQUEST), the ingress matches a RESPONSE to a pending call of its
 * own. The local step 6 is given a fresh one-nonce cache, so it always
 * passes. Returns as xr_rx_frame() (XR_ERR_NOMEM, not counted, if that
 * cache cannot be made).
 */
struct xr_codec;
int xr_redis_rx(xr_rx *rx, struct xr_codec *codec, const uint8_t *body,
    size_t len);

/* The field "f" of a stream entry's field/value array, or NULL. */
struct redisReply;
const struct redisReply *xr_redis_entry_frame(const struct redisReply *fv);

/* The string field `name` of a stream entry's field/value array, or NULL.
 * A reply entry has "f" (the frame) and "g" (the group whose keys signed
 * it: the ingress verifies with that group's key; Redis lying about it
 * only makes the tag fail). */
const struct redisReply *xr_redis_entry_field(const struct redisReply *fv,
    const char *name);

/* ---------- redis_ingress.c ---------- */

typedef struct xr_redis_ingress xr_redis_ingress;

typedef struct xr_redis_ingress_stats {
	uint64_t sent;		/* REQUESTs XADDed */
	uint64_t replies;	/* RESPONSEs that completed a call */
	uint64_t stray;		/* accepted RESPONSEs for no pending call */
	uint64_t unavailable;	/* calls failed UNAVAILABLE (Redis down) */
	xr_rx_counters rx;	/* the reply stream's receive order */
} xr_redis_ingress_stats;

/*
 * The ingress of this process with `o` (copied), on `base`, signing each
 * group's calls and verifying its replies with the group keys of `ks`
 * (xr_keys_group(); `ks` copied, wiped on free). NULL with `d` filled on
 * failure.
 */
xr_redis_ingress *xr_redis_ingress_new(struct event_base *base,
    const xr_redis_opts *o, const xr_keyset *ks, xr_diag *d);

/*
 * The target that sends calls to process group `group` (copied; at most
 * XR_CFG_NAME_MAX - 1 bytes) through this ingress: to its group stream
 * (`slot` -1: any worker of the group), or to the slot stream of its
 * worker `slot` (process_supervisor: the queue's affinity and the topic's
 * one delivery per worker), signed with the group's keys. Valid until the ingress
 * is freed. A call started while Redis is not connected completes at once
 * with UNAVAILABLE; a call pending when the connection is lost too.
 * XR_ERR_NOMEM/XR_ERR_INVALID_ARG with `d` filled on failure.
 */
int xr_redis_ingress_target(xr_redis_ingress *in, const char *group,
    int slot, xr_local_target *out, xr_diag *d);

/* True while both connections are up. */
bool xr_redis_ingress_up(const xr_redis_ingress *in);

void xr_redis_ingress_stats_get(const xr_redis_ingress *in,
    xr_redis_ingress_stats *out);

/* Free: calls still pending complete with UNAVAILABLE inside. NULL is a
 * no-op. */
void xr_redis_ingress_free(xr_redis_ingress *in);

/* ---------- redis_worker.c ---------- */

typedef struct xr_redis_worker xr_redis_worker;

typedef struct xr_redis_worker_stats {
	uint64_t entries;	/* stream entries read (new and claimed) */
	uint64_t claimed;	/* of them, taken over with XAUTOCLAIM */
	uint64_t runs;		/* handlers started */
	uint64_t aborted;	/* claimed calls answered ABORTED, not rerun */
	uint64_t expired_deadline; /* answered DEADLINE_EXCEEDED, not run */
	uint64_t replies;	/* RESPONSEs XADDed */
	uint64_t acked;		/* entries XACKed */
	uint64_t redis_errors;	/* commands that failed */
	xr_rx_counters rx;	/* the receive order; `replay` includes the
				 * nonces Redis already held */
} xr_redis_worker_stats;

/*
 * A worker of process group `group` (its request stream and consumer
 * group; with `slot` >= 0 also the slot stream P:GROUP:req:SLOT of worker
 * `slot` of a supervised group, read and claimed alike) with `o` (copied)
 * named `consumer` in that group, running calls on `reg`
 * (borrowed; must outlive the worker), verifying with `ks` (copied, wiped
 * on free), on `base`. Starts reading once connected. NULL with `d` filled
 * on failure.
 */
xr_redis_worker *xr_redis_worker_new(struct event_base *base,
    const xr_redis_opts *o, const xr_keyset *ks, xr_registry *reg,
    const char *group, int slot, const char *consumer, xr_diag *d);

void xr_redis_worker_stats_get(const xr_redis_worker *w,
    xr_redis_worker_stats *out);

/* Calls whose handler is running. */
uint64_t xr_redis_worker_inflight(const xr_redis_worker *w);

/* `up(arg)` once both connections are up and the consumer group exists
 * (XGROUP CREATE answered OK or BUSYGROUP); at once if they already are.
 * Never after a drain began. */
void xr_redis_worker_on_up(xr_redis_worker *w, void (*up)(void *),
    void *arg);

/*
 * Drain: read no new entries (the read connection closes; XAUTOCLAIM
 * stops; the running entries keep their idle time reset), and once every
 * entry taken has its reply written and its XACK answered, `done(arg)`
 * (possibly inside this call; `done` NULL: just stop reading). A second
 * call may add the `done` the first lacked.
 */
void xr_redis_worker_drain(xr_redis_worker *w, void (*done)(void *),
    void *arg);
bool xr_redis_worker_draining(const xr_redis_worker *w);

/* Free: running handlers are cancelled (their entries stay pending in
 * Redis, for XAUTOCLAIM). NULL is a no-op. */
void xr_redis_worker_free(xr_redis_worker *w);

/* ---------- redis_probe.c ---------- */

/*
 * The stream figures of `execrpc status` (docs/supervisor.md): every
 * `period_ms`, on a connection of its own, for each execution group of
 * `cfg` (borrowed during the call) and each of its streams (P:GROUP:req,
 * and P:GROUP:req:N for each worker N under process_supervisor): XLEN,
 * XINFO GROUPS (consumers, pending, lag) and XPENDING (pending per
 * consumer), summed per group; a round's figures replace the last once
 * every answer is in. NULL with `d` filled on failure.
 */
typedef struct xr_redis_probe xr_redis_probe;
xr_redis_probe *xr_redis_probe_new(struct event_base *base,
    const xr_config *cfg, uint32_t period_ms, xr_diag *d);

/* The last figures of `group` into `out` (known false before the first
 * round); false if the probe has no such group. */
bool xr_redis_probe_group(const xr_redis_probe *p, const char *group,
    xr_stream_figures *out);

/* The entries pending for `consumer` of `group` in the last round (0 for a
 * consumer Redis did not list); false before the first round. */
bool xr_redis_probe_consumer(const xr_redis_probe *p, const char *group,
    const char *consumer, uint64_t *pending);

void xr_redis_probe_free(xr_redis_probe *p);

#endif /* XR_RUNTIME_REDIS_H */
