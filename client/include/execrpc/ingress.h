/*
 * execrpc/ingress.h — the ingress of a web process run by the supervisor
 * (a process group with `role: ingress`; docs/supervisor.md "Web process
 * groups").
 *
 * The supervisor starts the process with two inherited sockets: fd 3, the
 * one-shot bootstrap channel (one execrpc.v1.BootstrapBundle with role
 * GROUP_ROLE_INGRESS: the supervisor's web->exec and exec->web keys and
 * instance id, the control key, and the table of every execution worker
 * slot), and fd 4, the signed control channel that stays open: the
 * supervisor pushes every change of a slot there (COMMAND_ENDPOINT: ready on
 * a new port, draining, stopping, dead, restarted with a new generation)
 * and sends STOP; the process answers READY and STOPPED. No secret is ever
 * in argv, environ or a file.
 *
 * xr_ingress_from_bootstrap() reads both and keeps one tcp_local channel
 * (client.h) to every READY worker, signed with that worker's endpoint keys
 * (derived exactly as xr_supervisor_endpoint_keys() does: xr_keys_endpoint()
 * of the directional keys with the instance id, group, index, generation).
 * It follows the updates on its event_base: a restarted worker (new port,
 * new generation) gets a new channel, and the calls still on the old one
 * fail UNAVAILABLE; a draining or stopping worker is no longer picked; a
 * dead one's channel is freed (its calls fail UNAVAILABLE).
 *
 * Stop: STOP on fd 4 calls `on_stop` at once (stop taking requests; calls
 * may still be made to finish the ones in flight, unless the STOP says not
 * to drain: then every call the ingress started is failed UNAVAILABLE and
 * new ones are refused). The application calls xr_ingress_stop_done() when
 * its own requests are finished; once the calls started through
 * xr_ingress_call_start() have completed, the ingress sends STOPPED and calls
 * `on_stopped`: the process should then exit 0. The supervisor SIGKILLs the
 * process group after the grace period.
 *
 * Threading: one event_base, one thread, as client.h.
 */
#ifndef EXECRPC_INGRESS_H
#define EXECRPC_INGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "execrpc/client.h"

struct event_base;

typedef struct xr_ingress xr_ingress;

/* The largest bootstrap datagram taken (as the workers': 128 KiB). */
#define XR_INGRESS_BUNDLE_MAX (128 * 1024)
/* The largest control datagram taken. */
#define XR_INGRESS_CTL_MAX (64 * 1024)
/* Execution worker slots an ingress follows at most. */
#define XR_INGRESS_MAX_ENDPOINTS 1024

/* Worker states, as execrpc.v1.WorkerState (supervisor.h's). */
enum {
	XR_INGRESS_EP_STARTING = 1,
	XR_INGRESS_EP_READY = 2,
	XR_INGRESS_EP_DRAINING = 3,
	XR_INGRESS_EP_STOPPING = 4,
	XR_INGRESS_EP_STOPPED = 5,
	XR_INGRESS_EP_FAILED = 6,
	XR_INGRESS_EP_BACKOFF = 7,
};

/* One execution worker slot as the ingress knows it. */
typedef struct xr_ingress_endpoint {
	char group[64];
	uint32_t index;
	char host[64];
	uint16_t port;		/* 0 until READY */
	uint32_t generation;	/* the process's spawn count; 0: never */
	int state;		/* XR_INGRESS_EP_* */
	int connected;		/* 1 if the ingress has a channel to it */
} xr_ingress_endpoint;

/* Counters of the control channel (fd 4). */
typedef struct xr_ingress_stats {
	uint64_t updates;	/* COMMAND_ENDPOINT applied */
	uint64_t refused;	/* verified commands the ingress does not
				 * take (a type, or a second STOP) */
	/* rejected datagrams, indexed by xr_reject (core/err.h):
	 * oversized, bad_signature, malformed, kind_not_allowed, expired,
	 * replay; a payload that is no Command counts as malformed */
	uint64_t rejects[XR_CHANNEL_REJECT_KINDS];
	int last_reject;	/* the xr_err of the last rejected datagram, 0 */
	uint64_t channels_opened; /* worker channels made (incl. replacements) */
	uint64_t channels_revived; /* of those, made again after the channel to
				 * a READY worker closed (an idle endpoint
				 * closes it; a reset): on the next pick of
				 * its group, at most once per 100 ms */
} xr_ingress_stats;

typedef struct xr_ingress_opts {
	int bootstrap_fd;		/* 0 = 3 */
	int control_fd;			/* 0 = 4 */
	uint32_t bootstrap_timeout_ms;	/* for the bundle; 0 = 10000 */
	const char *client_name;	/* for the workers' logs; may be NULL */
	void *arg;			/* for the callbacks */
	/* STOP received (may be NULL): stop taking requests. `drain` 0:
	 * the ingress's calls have been failed UNAVAILABLE already. */
	void (*on_stop)(void *arg, xr_ingress *ing, uint32_t graceful_timeout_ms,
	    int drain);
	/* STOPPED sent (may be NULL): exit 0 now. */
	void (*on_stopped)(void *arg, xr_ingress *ing);
	/* a slot changed (may be NULL); after the ingress acted on it */
	void (*on_update)(void *arg, const xr_ingress_endpoint *ep);
} xr_ingress_opts;

/*
 * First hardens the process, which is about to hold keys (process-wide:
 * RLIMIT_CORE 0 and PR_SET_DUMPABLE 0, so no core file, and no other
 * process of the uid may ptrace it or read its /proc/PID/mem or environ).
 * Then reads the bootstrap bundle from o->bootstrap_fd (a SOCK_SEQPACKET socket:
 * one datagram within the timeout, then end of file within 5 s; the fd is
 * closed on every path), validate it, open a channel to every READY worker
 * of its table, and watch o->control_fd on `base` (borrowed; must outlive
 * the ingress). `o` may be NULL (every default). Returns NULL with `d`
 * filled on failure: XR_ERR_CHILD_BOOTSTRAP_FAILED with the reason (no
 * datagram in time, a datagram over XR_INGRESS_BUNDLE_MAX, a second
 * datagram, bytes that do not decode, a bundle that is not an ingress's,
 * a missing or malformed field: named, never a key byte), XR_ERR_NOMEM,
 * XR_ERR_SYSTEM. Every buffer that held key bytes is wiped.
 */
xr_ingress *xr_ingress_from_bootstrap(struct event_base *base,
    const xr_ingress_opts *o, xr_diag *d);

/* Tell the supervisor the process is ready (READY{port}: the port it
 * serves on, 0 if none); `execrpc status` shows it READY. Returns XR_OK
 * or the send's error (XR_ERR_CLOSED: the supervisor is gone). */
int xr_ingress_ready(xr_ingress *ing, uint16_t port);

/*
 * A channel to a READY worker of the group hosting `service`
 * ("echo.v1.Echo": the first group of the table listing it, else the first
 * with an empty list): round robin, or with `key` (key_len bytes) the slot
 * at FNV-1a-64(key) modulo the group's size or the next ready one after it
 * (the rule of xr_queue_pick(), so a key reaches the same worker as
 * `execrpc call --key`). NULL with `*err` (may be NULL):
 * XR_ERR_INVALID_ARG (no group hosts it), XR_ERR_WORKER_FAILED (no ready
 * worker), XR_ERR_LIFECYCLE_NOT_READY (stopping without drain, or done).
 * The channel is the ingress's: do not free it; it may be freed by the
 * next update (its calls then fail UNAVAILABLE).
 */
xr_channel *xr_ingress_pick(xr_ingress *ing, const char *service,
    const void *key, size_t key_len, int *err);

/*
 * As xr_ingress_pick() with a key, but only the key's own slot: for a
 * service that keeps state per key, where the next ready worker would
 * answer without it. NULL with XR_ERR_WORKER_FAILED when that slot is not
 * READY with a usable channel; XR_ERR_INVALID_ARG also for a NULL key.
 */
xr_channel *xr_ingress_pick_own(xr_ingress *ing, const char *service,
    const void *key, size_t key_len, int *err);

/*
 * A call through the ingress: the service is `method` before '/', the
 * channel xr_ingress_pick()'s; then xr_call_start(). Counted for the
 * drain: STOPPED waits for it. `cb` runs exactly once (possibly inside, then
 * NULL is returned): no channel is UNAVAILABLE with the pick's reason.
 */
xr_client_call *xr_ingress_call_start(xr_ingress *ing, const char *method,
    const uint8_t *req, size_t req_len, const void *key, size_t key_len,
    uint32_t timeout_ms, xr_call_cb cb, void *arg);

/* Blocking form (runs the base; not from a callback on it): on OK
 * `*resp` is a malloc'd copy the caller frees. Returns the status code. */
int xr_ingress_call_sync_bytes(xr_ingress *ing, const char *method,
    const uint8_t *req, size_t req_len, const void *key, size_t key_len,
    uint8_t **resp, size_t *resp_len, uint32_t timeout_ms, xr_status *st);

/* The application finished its requests after on_stop: STOPPED goes out
 * (and on_stopped runs) once the ingress's calls have completed. Also
 * valid without a STOP (the process leaves on its own). */
void xr_ingress_stop_done(xr_ingress *ing);

/* Copy up to `cap` slots (table order) into `out`; returns how many the
 * ingress follows. */
size_t xr_ingress_endpoints(const xr_ingress *ing, xr_ingress_endpoint *out,
    size_t cap);

/* The process's place: its group name and index. */
const char *xr_ingress_group(const xr_ingress *ing);
uint32_t xr_ingress_index(const xr_ingress *ing);

void xr_ingress_stats_get(const xr_ingress *ing, xr_ingress_stats *out);

/* Free every channel (their calls fail UNAVAILABLE), wipe the keys, close
 * fd 4. NULL is a no-op. */
void xr_ingress_free(xr_ingress *ing);

#endif /* EXECRPC_INGRESS_H */
