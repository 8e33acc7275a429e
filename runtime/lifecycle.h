/*
 * runtime/lifecycle.h — the lifecycle service (docs/design.md section 6):
 * start(), ready(), stop(), status(), for both
 * runtime.platform.bootstrap.mode values:
 *
 *  - inline: the execution endpoint runs in this process (transport
 *    memory: in-process dispatch; tcp_local: a loopback endpoint here);
 *    every process group is one in-process worker.
 *  - process_supervisor (requires tcp_local or redis_streams; under
 *    redis_streams no group may have role ingress): the supervisor starts the
 *    process groups as worker processes, and the ingress reaches each
 *    worker through the transport service.
 *
 * In both, the lifecycle owns one transport service (transport.h) made from
 * the config; calls are routed by service name to the group that hosts the
 * service (a group with an empty `services` list hosts every module of
 * o->mods; a service listed by two groups goes to the first in config
 * order), through a queue (one worker) or a topic (every worker).
 *
 * Policy comes from the config, not from callers:
 * lifecycle.ready_timeout_seconds bounds ready(),
 * lifecycle.graceful_timeout_seconds and lifecycle.drain_inflight drive
 * stop(), control.socket is where control_listen() serves.
 *
 * Start order is fixed and observable through `on_phase`:
 *   "config" -> "registries" -> "runtime_services" -> "workers" -> "ingress"
 * and then "ready". No ingress call is accepted before ready: picks and
 * publishes fail with XR_ERR_LIFECYCLE_NOT_READY.
 *
 * Single-threaded on the caller's event_base; the functions that wait
 * (ready, stop, run, the blocking calls) run the base until their condition
 * or deadline and must not be called from a callback running on it.
 */
#ifndef XR_LIFECYCLE_H
#define XR_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "execrpc/client.h"
#include "supervisor.h"
#include "transport.h"
#include "worker.h"

struct event_base;

typedef struct xr_lifecycle xr_lifecycle;

typedef enum xr_lc_state {
	XR_LC_NEW = 0,		/* created, nothing started */
	XR_LC_STARTING,		/* start() ran; ready() not yet done */
	XR_LC_READY,		/* ingress accepts calls */
	XR_LC_STOPPING,
	XR_LC_STOPPED,
	XR_LC_FAILED,		/* start, ready or a worker failed */
} xr_lc_state;

typedef struct xr_lifecycle_opts {
	const xr_config *cfg;			/* borrowed; must outlive and not
						 * change after new() */
	const xr_service_module *mods;		/* service name -> registration */
	size_t n_mods;
	/* the services the application will call through the ingress (may
	 * be NULL): each must be hosted by a group, checked by new() */
	const char *const *ingress_services;
	size_t n_ingress_services;
	/* process_supervisor only (see xr_supervisor_opts) */
	const char *worker_exe;
	const char *const *worker_args;
	xr_stop_event_fn on_stop_event;
	void *stop_arg;
	xr_worker_event_fn on_worker_event;
	void *worker_arg;
	/* each start phase as it begins ("config", "registries", ...) */
	void (*on_phase)(void *arg, const char *phase);
	void *phase_arg;
} xr_lifecycle_opts;

/*
 * Resolve the lifecycle for o->cfg's bootstrap mode. An unknown mode, a
 * process_supervisor with transport memory (or a web group under
 * redis_streams), a service name of the config with
 * no module in o->mods, or one of o->ingress_services that no group hosts
 * -> NULL with XR_ERR_LIFECYCLE_RESOLUTION in `d` (so a service the
 * application calls is resolved at start, not at its first call). The
 * reason for a service with no module names it and lists the services
 * o->mods contains. Nothing is started: a program's `config check` is
 * new() and free().
 */
xr_lifecycle *xr_lifecycle_new(struct event_base *base,
    const xr_lifecycle_opts *o, xr_diag *d);

/*
 * The name of the process group that calls to `service` go to: the first
 * group in config order that lists it, or that has an empty list while
 * o->mods has a module of that name. NULL if none (a queue or topic for
 * it would fail with XR_ERR_LIFECYCLE_RESOLUTION). Valid from new() on;
 * borrowed from the lifecycle.
 */
const char *xr_lifecycle_route(const xr_lifecycle *lc, const char *service);

/*
 * Start: registries, runtime services (keys, transport), workers, ingress.
 * The transport keys are registered for log redaction (core/log.h) until
 * xr_lifecycle_free() wipes them; if the redaction table has no room for
 * them (XR_LOG_SECRETS_MAX secrets registered in the process) the
 * lifecycle does not start: XR_ERR_NO_SPACE, the keys wiped, nothing
 * registered. Returns XR_OK, or the failing step's error (config/secret
 * errors, XR_ERR_NO_SPACE, XR_ERR_BOOTSTRAP_START_FAILED, ...) with `d`
 * filled; state FAILED.
 */
int xr_lifecycle_start(xr_lifecycle *lc, xr_diag *d);

/* Wait until the ingress can take calls (every worker ready, its channel
 * past the handshake), at most lifecycle.ready_timeout_seconds. XR_OK
 * (state READY); XR_ERR_READY_TIMEOUT (state stays STARTING);
 * XR_ERR_CHILD_BOOTSTRAP_FAILED, XR_ERR_WORKER_FAILED,
 * XR_ERR_BOOTSTRAP_START_FAILED (state FAILED); XR_ERR_LIFECYCLE_NOT_READY
 * (start() not called). */
int xr_lifecycle_ready(xr_lifecycle *lc, xr_diag *d);

/*
 * The ingress channel for one call to `service`: the queue pick of the
 * group hosting it (xr_queue_pick(): `key` NULL round robin, else
 * affinity). NULL with *err = XR_ERR_LIFECYCLE_NOT_READY (not ready,
 * stopping, stopped), XR_ERR_LIFECYCLE_RESOLUTION (no group hosts
 * `service`), XR_ERR_WORKER_FAILED (no usable worker). Borrowed, as
 * xr_queue_pick()'s.
 */
xr_channel *xr_lifecycle_pick(xr_lifecycle *lc, const char *service,
    const void *key, size_t key_len, int *err);

/*
 * Stop: refuse new ingress calls, then with lifecycle.drain_inflight let
 * in-flight calls finish (else abandon them: UNAVAILABLE), stop the
 * workers (process_supervisor) or the endpoint (inline) — all within
 * lifecycle.graceful_timeout_seconds; past it force. Every pending ingress
 * call has a status on return. XR_OK, or XR_ERR_STOP_TIMEOUT (forced) /
 * XR_ERR_STOP_FAILED with `d` filled. State STOPPED either way.
 */
int xr_lifecycle_stop(xr_lifecycle *lc, xr_diag *d);

/*
 * Begin a stop without waiting; safe from callbacks on the base (e.g. a
 * SIGTERM event). process_supervisor: the groups stop with the lifecycle
 * policy (xr_supervisor_stop_begin()); inline: xr_lifecycle_run()
 * returns. Call xr_lifecycle_stop() after run() to finish. XR_OK.
 */
int xr_lifecycle_stop_begin(xr_lifecycle *lc);

/*
 * Serve until a stop: process_supervisor supervises the workers
 * (restarts), serves the control socket and returns when a stop begun by
 * xr_lifecycle_stop_begin() or a control-socket STOP has completed; inline
 * runs the base until xr_lifecycle_stop_begin(). Then call
 * xr_lifecycle_stop(). XR_OK; XR_ERR_LIFECYCLE_NOT_READY before start();
 * XR_ERR_INTERNAL if the loop failed.
 */
int xr_lifecycle_run(xr_lifecycle *lc, xr_diag *d);

/*
 * Serve the lifecycle control socket (docs/supervisor.md) at
 * runtime.platform.control.socket: see xr_supervisor_control_listen().
 * After start(), process_supervisor only: otherwise XR_ERR_INVALID_ARG.
 */
int xr_lifecycle_control_listen(xr_lifecycle *lc, xr_diag *d);

/*
 * Copy up to `cap` workers (config order, then index) into `out`; returns
 * the total. process_supervisor: the supervisor's view. inline: one per
 * group, this process (index 0, pid getpid(), port the endpoint's or 0,
 * state ready while the lifecycle is). 0 before start().
 */
size_t xr_lifecycle_workers(const xr_lifecycle *lc, xr_worker_info *out,
    size_t cap);

/* Current state, and its stable name ("ready", ...). */
xr_lc_state xr_lifecycle_status(const xr_lifecycle *lc);
const char *xr_lc_state_name(xr_lc_state s);

/* The runtime transport service, in every mode, from start() until free
 * (IPC-INT-09/10); NULL before. Borrowed. */
xr_transport_svc *xr_lifecycle_transport(const xr_lifecycle *lc);

/* process_supervisor: the supervisor, from start() until free (e.g. for
 * xr_supervisor_endpoint_keys()); NULL before, and always NULL inline.
 * Borrowed: never free it, never call its waiting functions. */
xr_supervisor *xr_lifecycle_supervisor(const xr_lifecycle *lc);

/* The event base the lifecycle runs on (new()'s), for an ingress that
 * runs its own loop on it between ready and stop. Borrowed. */
struct event_base *xr_lifecycle_base(const xr_lifecycle *lc);

/*
 * For an ingress that runs its own loop between ready and stop (and keeps
 * per-worker state: calls bound to one worker by key): XR_OK while it may
 * go on; else the first of, with a reason in `why` (cap bytes,
 * NUL-terminated; untouched on XR_OK):
 *  - a worker event since ready: its error, or XR_ERR_WORKER_FAILED for a
 *    worker that came back ("spawned", "ready"), which lost its state;
 *    "worker GROUP[INDEX] pid PID: REASON" (process_supervisor only);
 *  - a stop begun (xr_lifecycle_stop_begin(): SIGTERM in a program of
 *    execrpc/main.h): XR_ERR_LIFECYCLE_NOT_READY, "a stop was begun".
 * Worker events in a stop, or in xr_lifecycle_stop(), do not count.
 */
int xr_lifecycle_health(const xr_lifecycle *lc, char *why, size_t cap);

/* Stop (forced if still running: workers SIGKILLed, pending calls
 * UNAVAILABLE) and free; the keys are wiped and their log registrations
 * removed, so a process may start and free lifecycles without end. NULL
 * is a no-op. */
void xr_lifecycle_free(xr_lifecycle *lc);

#endif /* XR_LIFECYCLE_H */
