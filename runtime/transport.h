/*
 * runtime/transport.h — the runtime transport service (docs/design.md
 * sections 5 and 6): one object, resolved once from the config
 * (runtime.platform.execution_ipc.transport: the profile), that makes every
 * endpoint and every channel of the runtime, in every mode.
 *
 *  - memory:    in-process dispatch to a registry; no socket is ever
 *               opened (IPC-INT-01). Every channel carries the config's
 *               max_payload_bytes (requests and responses) and the same
 *               in-flight cap as a tcp_local channel, so that both profiles
 *               give the same status codes (ttl_seconds and
 *               nonce_cache_size have nothing to act on in-process).
 *  - tcp_local: signed frames over loopback TCP (IPC-INT-02); the endpoint
 *               is an xr_server bound with every execution_ipc value of the
 *               config (bind_host, bind_port, max_payload_bytes,
 *               ttl_seconds, nonce_cache_size), and every channel carries
 *               the config's max_payload_bytes and ttl_seconds.
 *  - redis_streams: the same signed frames as stream entries in Redis
 *               (runtime/redis.h, docs/design.md section 5), signed with
 *               each group's keys (xr_keys_group()): serving starts one
 *               stream reader per group of the config (its consumer
 *               group) on the registry, or, in a supervised worker
 *               (xr_transport_serve_stream()), the reader of its group and
 *               slot; a channel is a memory channel (deadline, payload
 *               limit, in-flight cap) over the ingress's target for the
 *               worker's group stream (inline) or slot stream
 *               (process_supervisor: affinity and topics per worker).
 *               Inline, a topic is one call per live member of the
 *               group, each to the member's own stream
 *               (runtime/redis_topic.h).
 *
 * Two sides, one object:
 *
 *  - the execution side, xr_transport_serve(): the endpoint that serves a
 *    registry. Inline mode serves in the ingress process; a worker
 *    (process_supervisor) resolves its own endpoint through its own
 *    service (xr_runtime_worker_main() in runtime.h).
 *
 *  - the ingress side: one slot per worker of each process group of the
 *    config (bootstrap.mode inline: one slot per group, the in-process
 *    endpoint), fed with worker up/down events by the lifecycle; a channel
 *    per slot, made by the service (IPC-INT-11) and signed with the keys
 *    of that worker's endpoint. Calls are routed by service name to the
 *    group that hosts the service, and bound two ways:
 *      QUEUE  a unary call to one ready worker of the group: round robin,
 *             or affinity by key;
 *      TOPIC  one signed delivery to every ready worker of the group, with
 *             each worker's status returned (reload, invalidate,
 *             broadcast).
 *
 * Routing: a group's `services` list names the services it hosts; an empty
 * list means every service of the program's module table. A service hosted
 * by two groups routes to the first of them in config order.
 *
 * Envelope.target is not set: the client library has no per-call target,
 * and the worker a call reaches is fixed by the channel it is sent on.
 *
 * Single-threaded on the caller's event_base.
 */
#ifndef XR_TRANSPORT_H
#define XR_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "execrpc/client.h"
#include "registry.h"
#include "server.h"
#include "worker.h"

struct event_base;

typedef struct xr_transport_svc xr_transport_svc;
typedef struct xr_queue xr_queue;
typedef struct xr_topic xr_topic;

/*
 * Resolve the service for `cfg` (borrowed during the call: what the
 * service needs is copied) with keys `ks` (copied, wiped on free) on `base`
 * (borrowed; must outlive the service). `mods` (borrowed during the call;
 * may be NULL) is the program's module table: the services of a group
 * whose list is empty. Nothing is bound and no channel exists yet. Returns
 * NULL with `d` filled (XR_ERR_NOMEM) on failure.
 */
xr_transport_svc *xr_transport_new(struct event_base *base,
    const xr_config *cfg, const xr_keyset *ks, const xr_service_module *mods,
    size_t n_mods, xr_diag *d);

/* The active profile: XR_TRANSPORT_MEMORY or XR_TRANSPORT_TCP_LOCAL. */
int xr_transport_profile(const xr_transport_svc *t);

/* How many channels to up workers were made again after they closed (a
 * queue pick or a topic publish remakes a closed one, at most every
 * 100 ms a worker). */
uint64_t xr_transport_channels_revived(const xr_transport_svc *t);

/* ---------- the execution side ---------- */

/*
 * Serve `reg` (borrowed; must outlive the service) in this process: memory
 * makes it the in-process target; tcp_local binds and listens with the
 * config's execution_ipc values. Once per service. XR_OK, or
 * XR_ERR_CONFIG_INVALID (non-loopback host, address in use), XR_ERR_SYSTEM,
 * XR_ERR_INVALID_ARG (served before) with `d` filled.
 */
int xr_transport_serve(xr_transport_svc *t, xr_registry *reg, xr_diag *d);

/* The served endpoint's bound port (tcp_local), 0 otherwise. */
uint16_t xr_transport_port(const xr_transport_svc *t);

/* The served endpoint (tcp_local), NULL otherwise. Borrowed. */
xr_server *xr_transport_server(const xr_transport_svc *t);

/* Drain the served endpoint (tcp_local) — see xr_server_drain(); with no
 * endpoint, `done` runs at once. */
void xr_transport_drain(xr_transport_svc *t, void (*done)(void *), void *arg);

/*
 * redis_streams in a supervised worker (xr_runtime_worker_main()): serve
 * `reg` (borrowed; must outlive the service) as consumer `consumer` of the
 * consumer group of `group` only (its group stream and the slot stream of
 * worker `index`), verifying and signing with the
 * service's keys as they are (the bundle's: the group's keys). `up(up_arg)`
 * runs once the reader is up (connected, consumer group there). Once per
 * service. XR_OK; XR_ERR_INVALID_ARG (another profile, served before),
 * XR_ERR_NOMEM with `d` filled.
 */
int xr_transport_serve_stream(xr_transport_svc *t, xr_registry *reg,
    const char *group, uint32_t index, const char *consumer,
    void (*up)(void *), void *up_arg, xr_diag *d);

/* redis_streams: drain the stream readers served here (read no new
 * entries; xr_redis_worker_drain()); `done(arg)` once all have drained
 * (NULL: only stop reading). With none, `done` runs at once. */
void xr_transport_stream_drain(xr_transport_svc *t, void (*done)(void *),
    void *arg);

/* redis_streams: the counters of the workers served here (summed) and of
 * the ingress (zero before its first channel). XR_OK, or
 * XR_ERR_INVALID_ARG (another profile; both zeroed). */
struct xr_redis_worker_stats;
struct xr_redis_ingress_stats;
int xr_transport_redis_stats(const xr_transport_svc *t,
    struct xr_redis_worker_stats *w, struct xr_redis_ingress_stats *in);

/* ---------- channels ---------- */

/*
 * A new channel of the active profile with the config's max_payload_bytes
 * (and, tcp_local, ttl_seconds): memory, to the served registry (`port`
 * ignored); tcp_local, to the config's bind_host at `port` (0: the
 * endpoint served here), signed with the service's own keys: right for
 * the endpoint served here, not for a supervised worker (its endpoint has
 * keys of its own: xr_transport_worker_channel()). A tcp_local channel
 * queues calls until its handshake is done. Owned by the caller, freed
 * with xr_channel_free() before the service. NULL with `d` filled
 * (XR_ERR_INVALID_ARG: nothing served here) on failure.
 */
xr_channel *xr_transport_channel(xr_transport_svc *t, uint16_t port,
    xr_diag *d);

/* ---------- the ingress side: endpoints up and down ---------- */

/*
 * Worker `index` of `group` serves at `port` (inline: 0 for memory, the
 * served port for tcp_local) with the endpoint keys `ks` (copied; NULL =
 * the service's own keys, inline; a supervised worker's come from
 * xr_supervisor_endpoint_keys() for its generation): its slot gets a
 * channel signed with them (a new one if it had none, the port or the keys
 * changed, or the old one is unusable) and is used again. Ignored once the
 * ingress is stopping. XR_OK, XR_ERR_INVALID_ARG (no such group or index)
 * or the channel's error.
 */
int xr_transport_worker_up(xr_transport_svc *t, const char *group,
    uint32_t index, uint16_t port, const xr_keyset *ks, xr_diag *d);

/*
 * A new channel, of the caller's, to worker `index` of `group` as its slot
 * last saw it up: its port and its endpoint keys (a supervised worker
 * verifies nothing signed with the service's own keys: docs/design.md
 * section 3). Owned by the caller, freed with xr_channel_free() before the
 * service. NULL with `d` filled: XR_ERR_INVALID_ARG (no such slot, or never
 * up), or the channel's error.
 */
xr_channel *xr_transport_worker_channel(xr_transport_svc *t,
    const char *group, uint32_t index, xr_diag *d);

/*
 * Worker `index` of `group` is gone: its slot is skipped until it is up
 * again. `permanent` (it will not be restarted) marks the group failed: its
 * picks then fail with XR_ERR_WORKER_FAILED while any worker of it is
 * unusable. Unknown group or index: ignored.
 */
void xr_transport_worker_down(xr_transport_svc *t, const char *group,
    uint32_t index, bool permanent);

/*
 * Wait (running the base, at most `timeout_ms`) until the channel of every
 * up slot is past its handshake, then accept picks and publishes. XR_OK;
 * XR_ERR_READY_TIMEOUT; XR_ERR_WORKER_FAILED (a channel failed, or a group
 * has no usable worker) with `d` filled.
 */
int xr_transport_ingress_ready(xr_transport_svc *t, uint32_t timeout_ms,
    xr_diag *d);

/* Stop accepting picks and publishes (XR_ERR_LIFECYCLE_NOT_READY) and
 * ignore worker ups; the channels stay open for calls in flight. */
void xr_transport_ingress_stop(xr_transport_svc *t);

/* Calls started on the ingress channels that have no status yet. */
uint64_t xr_transport_ingress_pending(const xr_transport_svc *t);

/* Stop the ingress and free its channels (their pending calls complete
 * with UNAVAILABLE inside this call), then close the served endpoint. The
 * service stays valid for queries until freed. */
void xr_transport_close(xr_transport_svc *t);

/* ---------- QUEUE: one ready worker of the group ---------- */

/*
 * The queue binding of the group that hosts `service` (the full service
 * name, "echo.v1.Echo"; the first such group in config order). Borrowed:
 * valid until the service is freed. NULL with XR_ERR_LIFECYCLE_RESOLUTION
 * in `d` if no group hosts it.
 */
xr_queue *xr_transport_queue(xr_transport_svc *t, const char *service,
    xr_diag *d);

/* The name of the group a queue delivers to. */
const char *xr_queue_group(const xr_queue *q);

/*
 * The channel for one call: without a key (NULL), the group's workers in
 * turn; with a key, the worker it hashes to (FNV-1a), the same one while
 * it is up. A worker that is down, draining or disconnected is skipped
 * (the next usable one in index order) and used again once it is back.
 * NULL with *err = XR_ERR_LIFECYCLE_NOT_READY (before ready, stopping),
 * XR_ERR_WORKER_FAILED (no usable worker; or the group failed, see
 * xr_transport_worker_down()). Borrowed: valid until that worker's next
 * restart or the ingress closes; take a fresh one per call.
 */
xr_channel *xr_queue_pick(xr_queue *q, const void *key, size_t key_len,
    int *err);

/* ---------- TOPIC: every ready worker of the group ---------- */

/* The topic binding of the group that hosts `service`, as
 * xr_transport_queue(). */
xr_topic *xr_transport_topic(xr_transport_svc *t, const char *service,
    xr_diag *d);

/* The name of the group a topic delivers to. */
const char *xr_topic_group(const xr_topic *tp);

/* One worker's delivery. */
typedef struct xr_topic_result {
	const char *group;	/* the group's name (the service's: valid
				 * until it is freed) */
	uint32_t index;		/* the worker's index in the group */
	xr_status status;	/* the delivery's final status */
	const uint8_t *resp;	/* response payload (status OK), else NULL */
	size_t resp_len;
} xr_topic_result;

/* All deliveries of one publish have a status: `res[0..n-1]`, in group
 * index order; valid during the call only. */
typedef void (*xr_topic_done_fn)(void *arg, const xr_topic_result *res,
    size_t n);

/*
 * Publish: one unary call of `method` ("svc.v1.Name/Method") with the
 * request bytes (copied) to every worker of the topic's group that is up
 * and usable now, each signed on that worker's channel, each with
 * `timeout_ms` (0 = no deadline). `done` runs exactly once, when every
 * delivery has a status (possibly inside this call; also inside
 * xr_transport_close() for deliveries still pending, with UNAVAILABLE).
 * XR_OK once started; XR_ERR_LIFECYCLE_NOT_READY (before ready, stopping),
 * XR_ERR_WORKER_FAILED (no usable worker), XR_ERR_NOMEM: `done` never
 * runs.
 */
int xr_topic_publish(xr_topic *tp, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, xr_topic_done_fn done, void *arg);

/*
 * Blocking publish: runs the base until every delivery has a status (not
 * from a callback on the base). On XR_OK, *out is a malloc'd array of *n
 * results (their resp bytes included) that the caller frees with
 * xr_topic_results_free(). Returns as xr_topic_publish(), or
 * XR_ERR_INTERNAL if the base cannot run (e.g. called from a callback on
 * it; the deliveries then finish unobserved).
 */
int xr_topic_publish_sync(xr_topic *tp, const char *method,
    const uint8_t *req, size_t req_len, uint32_t timeout_ms,
    xr_topic_result **out, size_t *n);

/* Free what xr_topic_publish_sync() returned. NULL is a no-op. */
void xr_topic_results_free(xr_topic_result *res, size_t n);

/* Close (xr_transport_close()) and free the service. NULL is a no-op. */
void xr_transport_free(xr_transport_svc *t);

#endif /* XR_TRANSPORT_H */
