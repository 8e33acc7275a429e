/*
 * supervisor/supervisor.h — the bootstrap supervisor: starts the process
 * groups of the config as worker processes, hands each its key bundle once,
 * waits for readiness, stops them (graceful, then SIGKILL of the process
 * group), restarts crashed workers by policy, and serves the control socket
 * of the lifecycle CLI. docs/design.md section 6; docs/supervisor.md.
 *
 * Single-threaded on the caller's event_base. The functions that wait
 * (wait_ready, stop_groups, force_terminate_groups, run) run that base until
 * their condition or deadline; they must not be called from a callback
 * running on the base (libevent loops do not nest) — use
 * xr_supervisor_stop_begin() there. Callbacks (stop events, worker events)
 * run on the base and must not call the waiting functions either.
 *
 * Process-wide effects of xr_supervisor_new(): the process is hardened
 * (RLIMIT_CORE 0, PR_SET_DUMPABLE 0, SIGPIPE ignored) because it holds keys,
 * and SIGCHLD is watched by a libevent signal event (one supervisor per
 * process; libevent allows one base to handle signals at a time).
 */
#ifndef XR_SUPERVISOR_H
#define XR_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "err.h"
#include "keys.h"

struct event_base;

typedef struct xr_supervisor xr_supervisor;

typedef enum { XR_STOP_GRACEFUL = 1, XR_STOP_FORCED = 2 } xr_stop_mode;

/* Worker states; the numbers are execrpc.v1.WorkerState's. */
typedef enum xr_worker_state {
	XR_WORKER_STARTING = 1,	/* spawned, bundle sent, no READY yet */
	XR_WORKER_READY = 2,	/* READY{port} received: serving */
	XR_WORKER_DRAINING = 3,	/* DRAIN sent: finishing calls, no new ones */
	XR_WORKER_STOPPING = 4,	/* STOP sent (or SIGKILLed), not yet reaped */
	XR_WORKER_STOPPED = 5,	/* no process: never started or stopped */
	XR_WORKER_FAILED = 6,	/* no process: start failed or crashed (no restart) */
	XR_WORKER_BACKOFF = 7,	/* crashed; restart timer running */
} xr_worker_state;

typedef struct xr_worker_info {
	char group[64];
	uint32_t index;
	pid_t pid;		/* the running process; 0 when none */
	pid_t last_pid;		/* the slot's most recent process: the running
				 * one, or the one that exited (kept after the
				 * reap until the next spawn); 0 if none was
				 * ever forked. A crash event carries the dead
				 * process here (pid is 0 by then). */
	int state;		/* xr_worker_state */
	uint16_t port;		/* the endpoint port from READY, 0 before */
	uint32_t restarts;	/* times the worker was respawned after a crash */
	uint32_t generation;	/* the slot's most recent spawn: 1 for its
				 * first process, +1 at each later spawn
				 * (restart, or a start after a stop); 0 if
				 * never spawned. Its endpoint keys are bound
				 * to it (xr_supervisor_endpoint_keys). */
	int last_exit_status;	/* exit status of the last process, -1 if none */
	int last_signal;	/* signal that killed the last process, 0 if none */
	uint32_t refused;	/* worker-channel commands refused (a type,
				 * state or repeat its table does not allow),
				 * over the slot's life */
} xr_worker_info;

/* A group finished a stop: `mode` graceful if every worker acknowledged
 * STOPPED and exited 0, forced if any needed SIGKILL (or exited otherwise).
 * Called exactly once per group per stop. `group` is valid during the call. */
typedef void (*xr_stop_event_fn)(void *arg, const char *group,
    xr_stop_mode mode);

/*
 * Something happened to a worker. `err` XR_OK with reason "spawned" or
 * "ready"; XR_ERR_WORKER_FAILED when a running worker died unexpectedly
 * (w->last_pid is the dead process, w->last_exit_status / w->last_signal
 * say how; reason e.g. "killed by signal 9"; w->pid is already 0);
 * XR_ERR_CHILD_BOOTSTRAP_FAILED when it exited with the child-bootstrap
 * status before READY; XR_ERR_BOOTSTRAP_START_FAILED when it
 * could not be started (exec failed). `w` and `reason` are valid during the
 * call.
 */
typedef void (*xr_worker_event_fn)(void *arg, const xr_worker_info *w,
    int err, const char *reason);

/* transport redis_streams: a process group's request streams as Redis
 * last reported them (STATUS and STATS, docs/supervisor.md). */
typedef struct xr_stream_figures {
	bool known;			/* false: Redis has not answered yet */
	char stream[XR_CFG_NAME_MAX * 2 + 16];	/* P:GROUP:req */
	uint64_t length;		/* XLEN, summed over the group's
					 * stream and its slot streams */
	int64_t lag;			/* XINFO GROUPS lag, summed; -1 when
					 * Redis cannot tell */
	uint64_t pending;		/* read, not acknowledged */
	uint64_t consumers;
	uint64_t age_ms;		/* how old the figures are */
} xr_stream_figures;

/* The figures of `group` into `out`; false: none (not a stream group). */
typedef bool (*xr_stream_group_fn)(void *arg, const char *group,
    xr_stream_figures *out);
/* The entries pending for `consumer` (GROUP-INDEX-GENERATION, the worker's
 * consumer name) of `group`; false: not known. */
typedef bool (*xr_stream_consumer_fn)(void *arg, const char *group,
    const char *consumer, uint64_t *pending);

typedef struct xr_supervisor_opts {
	const xr_config *cfg;		/* groups, runtime slice, lifecycle
					 * policy; borrowed, must outlive */
	const xr_keyset *keys;		/* copied; handed to children */
	const char *worker_exe;		/* NULL = /proc/self/exe */
	const char *const *worker_args;	/* argv after argv[0], NULL-terminated;
					 * NULL = {"--worker", "--bootstrap-fd",
					 * "3", "--control-fd", "4"} */
	xr_stop_event_fn on_stop_event;
	void *stop_arg;
	xr_worker_event_fn on_worker_event;
	void *worker_arg;
	uint32_t reap_timeout_ms;	/* how long a SIGKILLed process may take
					 * to be reaped; 0 = 5000 */
	/* transport redis_streams (may be NULL): what STATUS and STATS
	 * show of each group's streams and each worker's consumer */
	xr_stream_group_fn stream_group;
	xr_stream_consumer_fn stream_consumer;
	void *stream_arg;
} xr_supervisor_opts;

/* Stable names: "starting", "ready", ...; "graceful" / "forced". */
const char *xr_worker_state_name(int state);
const char *xr_stop_mode_name(xr_stop_mode m);

/*
 * A supervisor on `base` (borrowed) for the groups of o->cfg. Starts
 * nothing. Returns NULL with `d` filled (XR_ERR_INVALID_ARG, XR_ERR_NOMEM,
 * XR_ERR_SYSTEM) on failure.
 */
xr_supervisor *xr_supervisor_new(struct event_base *base,
    const xr_supervisor_opts *o, xr_diag *d);

/*
 * Start the named groups (NULL, 0 = all) in config order, whatever the order
 * of `names`: every worker is forked and exec'd in its own process group with
 * fds 3 (bootstrap) and 4 (control) and a minimal environment, and gets
 * exactly one bundle. Returns XR_OK, XR_ERR_INVALID_ARG (unknown group, a
 * stop in progress) or XR_ERR_BOOTSTRAP_START_FAILED (fork/exec failed; the
 * groups after it are not started; workers already started keep running).
 */
int xr_supervisor_start_groups(xr_supervisor *s, const char *const *names,
    size_t n, xr_diag *d);

/*
 * Run the base until every worker of the started groups is READY. Returns
 * XR_OK; XR_ERR_READY_TIMEOUT after `timeout_ms`; XR_ERR_CHILD_BOOTSTRAP_FAILED
 * if a worker rejected its bundle; XR_ERR_BOOTSTRAP_START_FAILED if one could
 * not be started; XR_ERR_WORKER_FAILED if one died and is not restarted
 * (restart: never); XR_ERR_LIFECYCLE_NOT_READY if no group was started or a
 * stop is in progress. Crashed workers with restart: on-failure are waited
 * for through their restart.
 */
int xr_supervisor_wait_ready(xr_supervisor *s, uint32_t timeout_ms,
    xr_diag *d);

/*
 * Stop every running group: send STOP{graceful_timeout_ms, drain_inflight}
 * to each worker, SIGKILL the process group of any worker that has not
 * acknowledged and exited by now + graceful_timeout_ms, reap every process,
 * emit one stop event per group. Workers are not restarted while stopping.
 * Returns XR_OK when every group stopped gracefully (or nothing ran);
 * XR_ERR_STOP_TIMEOUT, with the groups named in `d`, when any was forced
 * (all processes are gone either way); XR_ERR_STOP_FAILED, with the groups
 * named in `d`, if a process could not be reaped within the reap timeout
 * (opts, 5 s by default) of its SIGKILL; it stays in the round, and a later
 * stop_groups call waits for it again.
 */
int xr_supervisor_stop_groups(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight, xr_diag *d);

/*
 * SIGKILL the process groups of every worker of the named groups (NULL, 0 =
 * all) now, without a graceful phase, and reap them; each group that had a
 * process gets one `forced` stop event. Returns XR_OK, XR_ERR_INVALID_ARG
 * (unknown group) or XR_ERR_STOP_FAILED (not reaped within the reap
 * timeout).
 */
int xr_supervisor_force_terminate_groups(xr_supervisor *s,
    const char *const *names, size_t n);

/*
 * Begin a stop of every running group (as xr_supervisor_stop_groups) without
 * waiting; safe from callbacks on the base (e.g. a SIGTERM event). A stop
 * already in progress is joined. xr_supervisor_run() returns once it is
 * complete. Returns XR_OK.
 */
int xr_supervisor_stop_begin(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight);

/*
 * Run the base until a stop begun by xr_supervisor_stop_begin() or by a
 * control-socket STOP has completed and the control replies waiting for it
 * were written. Meanwhile workers are supervised (restarts) and the control
 * socket is served. Returns XR_OK, or XR_ERR_INTERNAL if the loop failed.
 */
int xr_supervisor_run(xr_supervisor *s, xr_diag *d);

/*
 * The keys of the endpoint of worker `index` of `group`, generation
 * `generation` (xr_worker_info.generation), as that process got them in
 * its bundle: xr_keys_endpoint() of the supervisor's keyset with this
 * supervisor's instance id (16 random bytes drawn by xr_supervisor_new()).
 * An ingress signs its HELLO and requests with them; a frame signed for
 * another slot, generation or supervisor fails the tag check
 * (docs/design.md section 3). `out` holds keys: the caller wipes it
 * (xr_keyset_wipe). Returns XR_OK, XR_ERR_INVALID_ARG (no such group or
 * index, generation 0) or XR_ERR_INTERNAL, `out` zeroized on failure.
 */
int xr_supervisor_endpoint_keys(const xr_supervisor *s, const char *group,
    uint32_t index, uint32_t generation, xr_keyset *out);

/* Copy up to `cap` workers (config order, then index) into `out`; returns
 * the total number of workers. */
size_t xr_supervisor_workers(const xr_supervisor *s, xr_worker_info *out,
    size_t cap);

/*
 * Serve the lifecycle control socket (docs/supervisor.md) at `path`: an
 * AF_UNIX stream socket, mode 0600, its parent directory created 0700 if
 * missing. The parent directory must be owned by our effective uid or root
 * and not group/other-writable (sticky bit or not): else XR_ERR_INVALID_ARG
 * naming the directory and the problem, nothing bound. A stale socket left
 * by a dead supervisor is replaced, a live one or a non-socket file
 * refuses. Only peers with our effective uid (or root) are served. The
 * socket is bound under umask 0177 (process-wide: do not create files from
 * other threads meanwhile); a failure after the bind unlinks it, and
 * xr_supervisor_free() unlinks it (if still our inode). Returns XR_OK or
 * XR_ERR_SYSTEM / XR_ERR_INVALID_ARG / XR_ERR_NOMEM with `d`.
 */
int xr_supervisor_control_listen(xr_supervisor *s, const char *path,
    xr_diag *d);

/* SIGKILL and reap anything still running (groups that had a process get a
 * `forced` stop event), close the control socket (and unlink it), wipe the
 * keys, free. NULL is a no-op. */
void xr_supervisor_free(xr_supervisor *s);

#endif /* XR_SUPERVISOR_H */
