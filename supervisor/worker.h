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
#include "err.h"	/* XR_REJECT_COUNT */
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
	/* transport redis_streams (the slice says so): the worker reads its
	 * group's stream through these instead of open(); NULL: the program
	 * has no stream endpoint (such a bundle fails the bootstrap). */
	const struct xr_worker_stream *stream;
} xr_worker_endpoint;

/* A stream endpoint's counters, for STATS. */
typedef struct xr_worker_stream_stats {
	uint64_t calls;			/* handlers run */
	uint64_t calls_failed;		/* entries answered without a run
					 * (ABORTED, DEADLINE_EXCEEDED) */
	uint64_t rejects[XR_REJECT_COUNT];	/* by xr_reject */
} xr_worker_stream_stats;

/*
 * The execution endpoint of a worker whose process group reads a Redis
 * stream (transport redis_streams, docs/design.md section 5): no port;
 * the worker is READY once the stream reader is up.
 */
typedef struct xr_worker_stream {
	/*
	 * Start reading the request streams of `group` (the group's, and
	 * worker `index`'s own) on `base`, serving
	 * `reg` (both borrowed, they outlive the endpoint), as consumer
	 * `consumer` of the group's consumer group, with the bundle's slice
	 * and keys `ks` (the group's keys; copied if kept). `up(up_arg)` runs
	 * once, when the connection is up and the consumer group exists.
	 * XR_OK, or an error with `d` filled; close() is called either way.
	 */
	int (*open)(void *arg, struct event_base *base, const xr_config *slice,
	    const xr_keyset *ks, xr_registry *reg, const char *group,
	    uint32_t index, const char *consumer, void (*up)(void *),
	    void *up_arg, xr_diag *d);
	/* Stop reading new entries (XAUTOCLAIM too); `done(done_arg)` runs
	 * once every entry taken has its reply written and is acknowledged
	 * (possibly inside this call). */
	void (*drain)(void *arg, void (*done)(void *), void *done_arg);
	void (*stats)(void *arg, xr_worker_stream_stats *out);
} xr_worker_stream;

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
 * keys; send READY{port} on `control_fd`; serve. A bundle with a Redis
 * slice (transport redis_streams) opens `ep->stream` instead, as consumer
 * GROUP-INDEX-GENERATION, and sends READY{0} once the stream reader is up;
 * its DRAIN and STOP with drain_inflight are the stream's drain (no new
 * entries; the running ones replied and acknowledged), STOP without it
 * closes at once (entries left pending are claimed by a live worker), and
 * STATS answers from the stream's counters.
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
