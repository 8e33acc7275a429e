/*
 * runtime/lifecycle.h — the lifecycle service (docs/design.md section 6):
 * start(), ready(timeout), stop(graceful_timeout), status(), for both
 * runtime.platform.bootstrap.mode values:
 *
 *  - inline: the execution endpoint runs in this process (transport
 *    memory: in-process dispatch; tcp_local: a loopback endpoint here);
 *  - process_supervisor (requires tcp_local): the supervisor starts the
 *    process groups, and the ingress spreads calls over their workers.
 *
 * Start order is fixed and observable through `on_phase`:
 *   "config" -> "registries" -> "runtime_services" -> "workers" -> "ingress"
 * and then "ready". No ingress channel exists before ready:
 * xr_lifecycle_pick() fails with XR_ERR_LIFECYCLE_NOT_READY.
 *
 * Single-threaded on the caller's event_base; the functions that wait run
 * the base until their condition or deadline.
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
	const xr_config *cfg;			/* borrowed; must outlive */
	const xr_service_module *mods;		/* service name -> registration */
	size_t n_mods;
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
 * process_supervisor without tcp_local, or a service name of the config with
 * no module in o->mods -> NULL with XR_ERR_LIFECYCLE_RESOLUTION in `d`.
 */
xr_lifecycle *xr_lifecycle_new(struct event_base *base,
    const xr_lifecycle_opts *o, xr_diag *d);

/* Start: registries, runtime services (keys, transport), workers, ingress.
 * Returns XR_OK, or the failing step's error (config/secret errors,
 * XR_ERR_BOOTSTRAP_START_FAILED, ...) with `d` filled; state FAILED. */
int xr_lifecycle_start(xr_lifecycle *lc, xr_diag *d);

/* Wait until the ingress can take calls (workers ready, channels
 * connected), at most `timeout_ms`. XR_OK (state READY),
 * XR_ERR_READY_TIMEOUT, XR_ERR_CHILD_BOOTSTRAP_FAILED, XR_ERR_WORKER_FAILED,
 * XR_ERR_LIFECYCLE_NOT_READY (start() not called). */
int xr_lifecycle_ready(xr_lifecycle *lc, uint32_t timeout_ms, xr_diag *d);

/*
 * The ingress channel for a call: in process_supervisor mode the worker
 * the affinity key maps to (key NULL: round robin); otherwise the one
 * channel. NULL with *err = XR_ERR_LIFECYCLE_NOT_READY before ready (or
 * after stop), XR_ERR_WORKER_FAILED if no worker is usable. Borrowed: valid
 * until stop().
 */
xr_channel *xr_lifecycle_pick(xr_lifecycle *lc, const void *key,
    size_t key_len, int *err);

/*
 * Stop: refuse new ingress calls, drain in-flight calls (lifecycle policy
 * drain_inflight), stop the workers, within `graceful_timeout_ms`; past it
 * force. XR_OK, or XR_ERR_STOP_TIMEOUT (forced) / XR_ERR_STOP_FAILED.
 */
int xr_lifecycle_stop(xr_lifecycle *lc, uint32_t graceful_timeout_ms,
    xr_diag *d);

/* Current state, and its stable name ("ready", ...). */
xr_lc_state xr_lifecycle_status(const xr_lifecycle *lc);
const char *xr_lc_state_name(xr_lc_state s);

/* The runtime's bound services: the transport service (inline mode) and
 * the supervisor (process_supervisor mode); NULL when not in that mode or
 * not started. Borrowed. */
xr_transport_svc *xr_lifecycle_transport(const xr_lifecycle *lc);
xr_supervisor *xr_lifecycle_supervisor(const xr_lifecycle *lc);
xr_registry *xr_lifecycle_registry(const xr_lifecycle *lc);

/* Stop (forced if still running) and free. NULL is a no-op. */
void xr_lifecycle_free(xr_lifecycle *lc);

#endif /* XR_LIFECYCLE_H */
