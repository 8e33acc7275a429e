/*
 * supervisor/worker.h — the child side of the bootstrap supervisor: an
 * execution worker process (docs/design.md section 6, docs/supervisor.md).
 *
 * A worker is started by the supervisor with two inherited SOCK_SEQPACKET
 * sockets: the one-shot bootstrap channel (fd 3 by convention) that carries
 * exactly one execrpc.v1.BootstrapBundle, and the control channel (fd 4) that
 * stays open for the worker's life (supervisor/worker_chan.h). The application
 * supplies the services a bundle may name as a table of modules; the worker
 * builds its registry from the bundle's names, and nothing else.
 */
#ifndef XR_WORKER_H
#define XR_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "module.h"	/* xr_service_module, xr_worker_ctx */
#include "registry.h"
#include "server.h"

struct event_base;

/*
 * Where a worker's execution endpoint comes from. supervisor/ does not build
 * the endpoint itself: the layer above (runtime/, xr_runtime_worker_main())
 * resolves it through its transport service, the same one the ingress
 * uses, so that every runtime.platform.execution_ipc value of the bundle's
 * runtime slice reaches the endpoint in one place.
 */
typedef struct xr_worker_endpoint {
	/*
	 * Open the endpoint on `base` serving `reg` (both borrowed; they
	 * outlive the endpoint), listening, for `slice`: an xr_config that
	 * holds the bundle's runtime slice (transport tcp_local, bind_host,
	 * bind_port, max_payload_bytes, ttl_seconds, nonce_cache_size; every
	 * other key has its default; borrowed during the call) with the
	 * bundle's keys `ks` (copied if kept). Returns the endpoint, owned by
	 * the hook until close(), or NULL with `d` filled.
	 */
	xr_server *(*open)(void *arg, struct event_base *base,
	    const xr_config *slice, const xr_keyset *ks, xr_registry *reg,
	    xr_diag *d);
	/* Close and free what open() made: every connection closes and its
	 * calls are abandoned. Called at most once per open(), also after a
	 * failed one. */
	void (*close)(void *arg);
	void *arg;
} xr_worker_endpoint;

/* Largest bootstrap bundle datagram a worker accepts: room for the largest
 * config (16 services, 8 apps sections of 32 settings at their limits). */
#define XR_BUNDLE_MAX (128 * 1024)

/*
 * The worker program: call it from main() when the process was started as a
 * worker (e.g. argv "--worker --bootstrap-fd 3 --control-fd 4"); return its
 * result from main(). It is a program entry point, so it prints its one-line
 * diagnostic itself.
 *
 * Sequence: harden (xr_proc_harden: RLIMIT_CORE 0, not dumpable, SIGPIPE
 * ignored, PR_SET_PDEATHSIG SIGKILL); read the bundle once from
 * `bootstrap_fd` (supervisor/bundle.h; a datagram over XR_BUNDLE_MAX, a
 * bundle that does not decode, or any second datagram before the supervisor
 * closes its end is a protocol error), wipe the buffer, close the fd;
 * validate the bundle (version, group, services each one in `mods`
 * — none listed: every module of `mods` —, runtime slice: loopback
 * bind_host and limits in the config table's ranges, apps sections within
 * the config's bounds and accepted by each module's check_app, key bundle
 * with a known kdf and 32..64-byte keys, control session id); build the
 * registry from the service names, each module getting its apps section;
 * open the endpoint through `ep` with the runtime slice and the bundle's
 * keys; send READY{port} on `control_fd`; serve.
 * STOP{drain_inflight}: stop accepting; with drain_inflight let in-flight
 * calls finish (xr_server_drain), else close the endpoint (ep->close);
 * flush stdio;
 * send STOPPED; return 0. DRAIN: stop accepting and finish in-flight calls,
 * keep running until STOP. STATS{request_id}: answer STATS_REPLY with the
 * endpoint's counters (xr_server_stats_get). CALL{request_id, method,
 * payload, timeout_ms}: dispatch into the registry (the same handlers and
 * bytes as the memory transport), answer CALL_REPLY{request_id, status,
 * message, payload} when it finishes; payloads are bounded by the
 * channel's call limit (worker_chan.h). Commands are taken by the worker's
 * command table (worker_chan.h): STOP once, while serving or draining;
 * DRAIN while serving; STATS while serving or draining; CALL while serving
 * (while draining or stopping it is answered UNAVAILABLE at once);
 * anything else is refused and logged. In-flight CALLs are answered before
 * STOPPED (drain) or UNAVAILABLE (no drain). The supervisor enforces the graceful timeout
 * (it SIGKILLs a worker that has not acknowledged by then).
 *
 * Returns the exit status: 0 after STOP; the child-bootstrap category (8)
 * on any bootstrap failure (also `ep` NULL), with the one line
 * "execrpc-worker: child_bootstrap_failed (code -34): REASON" on stderr
 * (xr_diag_print; the reason never holds key bytes); 1 if the control
 * channel closed (the supervisor is gone).
 */
int xr_worker_main(int bootstrap_fd, int control_fd,
    const xr_service_module *mods, size_t n_mods,
    const xr_worker_endpoint *ep);

/*
 * Find the channel fds in a worker's argv ("--bootstrap-fd N --control-fd
 * M", anywhere after argv[0]). Returns XR_OK, or XR_ERR_INVALID_ARG if one
 * is missing, not a decimal number, below 3, or both are equal.
 */
int xr_worker_args(int argc, char **argv, int *bootstrap_fd, int *control_fd);

#endif /* XR_WORKER_H */
