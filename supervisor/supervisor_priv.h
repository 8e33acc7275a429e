/*
 * supervisor/supervisor_priv.h — the supervisor's state, shared by its
 * files: supervisor.c (public API, waiting), spawn.c (fork + exec + the
 * bundle), fsm.c (the worker state machine, the supervisor's end of the
 * worker channel, reaping), stop.c (stop rounds), ctl_server.c (the
 * lifecycle control socket) and ctl_call.c (its CALL command). Not
 * installed; not for other layers.
 */
#ifndef XR_SUPERVISOR_PRIV_H
#define XR_SUPERVISOR_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "auth.h"
#include "supervisor.h"
#include "worker_chan.h"

/* Default reap timeout: a SIGKILLed process is reaped by then. */
#define XR_SUP_REAP_GRACE_MS 5000

struct group;
struct ctl_conn;
struct sup_call;

/* The supervisor's record of one worker slot (group, index); the process
 * in it changes with restarts. */
struct sup_worker {
	xr_supervisor *sup;
	struct group *grp;
	uint32_t index;
	xr_worker_state state;
	pid_t pid;			/* 0: no process */
	pid_t last_pid;			/* the last one forked, kept after
					 * the reap; 0: never */
	int ctl_fd;			/* our end of the worker channel, -1 */
	xr_wchan chan;
	struct event ctl_ev;		/* ctl_fd readable */
	bool ctl_ev_set;
	struct event timer;		/* BACKOFF restart / STOPPING deadline */
	uint64_t deadline_ms;		/* when `timer` is due (monotonic) */
	uint16_t port;
	uint32_t restarts;
	uint32_t generation;		/* +1 at each spawn; 0: never */
	uint32_t backoff_ms;		/* next restart delay */
	int last_exit_status;		/* -1: none */
	int last_signal;		/* 0: none */
	uint64_t ready_ms;		/* monotonic time of READY */
	bool acked;			/* STOPPED received in this stop */
	bool killed;			/* SIGKILL sent in this stop */
	bool stop_unsent;		/* its channel was full for this stop's
					 * STOP: sent again every
					 * XR_SUP_RESYNC_MS until the deadline */
	uint32_t refused;		/* worker-channel commands refused */
	uint32_t call_max;		/* CALL payload limit of its channel */
	int err;			/* why FAILED (an xr_err), else 0 */
	char reason[256];		/* and the reason, for wait_ready */
	/* an ingress process: per execution slot (config order, then index)
	 * 1 while its latest record is not delivered (ingress.c) */
	uint8_t *ep_pending;		/* NULL until one is lost */
	uint32_t n_pending;
};

struct group {
	const xr_group_cfg *cfg;
	struct sup_worker *w;		/* cfg->workers of them */
	uint32_t n;
	bool started;			/* wait_ready waits for it */
	bool in_stop;			/* in the current stop round */
	bool forced;			/* a worker needed SIGKILL / exited badly */
	bool deferred;			/* in the round, its STOP waits until
					 * every ingress group has stopped */
	uint32_t rr;			/* CALL: the next round-robin pick */
};

struct stop_ev {
	char group[XR_CFG_NAME_MAX];
	xr_stop_mode mode;
};

TAILQ_HEAD(ctl_conn_list, ctl_conn);
TAILQ_HEAD(sup_call_list, sup_call);

struct xr_supervisor {
	struct event_base *base;
	const xr_config *cfg;
	xr_keyset keys;			/* the base keys: never to a worker */
	uint8_t inst[XR_INSTANCE_ID_LEN];	/* instance id, endpoint keys */
	xr_auth *ctl_auth;		/* control key: worker channels */
	char *exe;
	char **argv;
	char **envp;
	int max_fd;			/* fallback bound for closing fds */
	uint32_t reap_grace_ms;		/* opts reap_timeout_ms, or the default */
	xr_stop_event_fn on_stop_event;
	void *stop_arg;
	xr_worker_event_fn on_worker_event;
	void *worker_arg;
	xr_stream_group_fn stream_group;	/* redis_streams: STATUS */
	xr_stream_consumer_fn stream_consumer;
	void *stream_arg;

	struct group groups[XR_CFG_MAX_GROUPS];
	size_t ngroups;
	struct event *sigchld;

	/* the stop round (stop.c) */
	bool stopping;			/* a round is in progress */
	bool in_release;		/* stop.c release_deferred() runs */
	bool exit_on_done;		/* run() returns when it completes */
	bool want_exit;			/* a round with exit_on_done completed */
	uint64_t stop_deadline;		/* monotonic ms, for new STOPs */
	uint32_t stop_timeout_ms;
	bool stop_drain;
	struct stop_ev events[XR_CFG_MAX_GROUPS];
	size_t nevents;

	/* the control socket (ctl_server.c) */
	char *ctl_path;
	dev_t ctl_dev;
	ino_t ctl_ino;
	struct evconnlistener *ctl_lev;
	struct event *ctl_backoff;
	struct ctl_conn_list ctl_conns;
	int ctl_stop_waiters;		/* STOP replies not yet written */
	uint64_t stats_seq;		/* the last STATS request id */
	struct sup_call_list calls;	/* CALLs waiting for a worker (ctl_call.c) */
	uint64_t call_seq;		/* the last CALL request id */
	struct event *ep_resync;	/* ingress.c: re-sends lost updates */
};

/* ---- supervisor.c ---- */

/* The group named `name`, or NULL. */
struct group *xr__sup_group(xr_supervisor *s, const char *name);

/* ---- spawn.c ---- */

/*
 * Start one worker process for `w` (which has none) and hand it its bundle:
 * on XR_OK w->pid, w->ctl_fd and w->chan are set and the channel is
 * watched. Returns XR_OK, or XR_ERR_BOOTSTRAP_START_FAILED with w->reason
 * set (nothing left running).
 */
int xr__sup_spawn(struct sup_worker *w);
/* Close our end of the worker channel (the process is gone or going). */
void xr__sup_chan_close(struct sup_worker *w);

/* ---- fsm.c ---- */

/* Events of the worker state machine. */
enum xr_sup_event {
	XR_SUP_EV_START,	/* start_groups */
	XR_SUP_EV_READY,	/* READY{port} on the worker channel */
	XR_SUP_EV_DRAIN,	/* DRAIN command */
	XR_SUP_EV_STOP,		/* a stop round includes the worker */
	XR_SUP_EV_STOPPED,	/* STOPPED on the worker channel */
	XR_SUP_EV_EXIT,		/* the process was reaped */
	XR_SUP_EV_DEADLINE,	/* the worker's timer: backoff over, or the
				 * stop deadline */
	XR_SUP_EV_KILL,		/* force_terminate */
	XR_SUP_EV_COUNT
};

/*
 * Feed `ev` (with `arg`: the port for READY) to `w`'s state machine: the
 * cell (w->state, ev) runs its handler and moves to its next state, then the
 * stop round is checked. Returns 1 if a handler ran; 0 if the cell is empty
 * (the event means nothing in this state: nothing changes); a negative
 * xr_err if the handler refused the event (a protocol error such as STOPPED
 * before any STOP, or READY with port 0: logged, nothing changes).
 */
int xr__sup_fsm(struct sup_worker *w, enum xr_sup_event ev, uint32_t arg);
/* evtimer callback of w->timer (arg: the worker). */
void xr__sup_timer_cb(evutil_socket_t fd, short what, void *arg);
/* The worker channel is readable (arg: the worker). */
void xr__sup_chan_read_cb(evutil_socket_t fd, short what, void *arg);
/* SIGCHLD: reap every worker process that has exited (arg: supervisor). */
void xr__sup_sigchld_cb(evutil_socket_t sig, short what, void *arg);
/* Sign and send `c` to the worker (nothing if it has no channel). Returns
 * what xr_wchan_send() returns, XR_ERR_CLOSED without a channel. */
int xr__sup_send(struct sup_worker *w, const Execrpc__V1__Command *c);
void xr__sup_worker_info(const struct sup_worker *w, xr_worker_info *out);

/* ---- stop.c ---- */

/* True if a worker of `g` has (or is getting) a process. */
bool xr__sup_group_running(const struct group *g);
/* Open a stop round, or re-arm the current one, with this timeout. */
void xr__sup_round_open(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain);
/* Begin a stop round (or join the current one) for every running group. */
void xr__sup_stop_begin(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight, bool exit_on_done);
/* SIGKILL every worker of the selected groups (in a round, opened if
 * none); `sel[g]` is cleared for groups with nothing to kill. */
void xr__sup_kill_groups(xr_supervisor *s, bool sel[XR_CFG_MAX_GROUPS]);
/* After a transition: emit the stop events of groups that have stopped and
 * close the round when none is left. */
void xr__sup_check_round(xr_supervisor *s);
/* Record and report group `g`'s stop event; it leaves the round. */
void xr__sup_emit_stop_event(xr_supervisor *s, struct group *g);
/* Send DRAIN to the ready workers of group `g`. */
void xr__sup_drain_group(xr_supervisor *s, struct group *g);
/* A completed round's result: XR_OK or XR_ERR_STOP_TIMEOUT naming the
 * forced groups in `d`. */
int xr__sup_round_result(xr_supervisor *s, xr_diag *d);
/* When a waiter gives up on the round: the latest kill deadline of its
 * workers plus the reap timeout (s->reap_grace_ms). */
uint64_t xr__sup_round_wait_deadline(const xr_supervisor *s);

/* ---- ingress.c ---- */

/* True for a web process group (role: ingress). */
bool xr__sup_is_ingress(const struct group *g);
/* The table record of execution worker `w` into `e` (strings borrowed;
 * `svc` is room for the services' pointers). */
void xr__sup_endpoint_fill(const struct sup_worker *w,
    Execrpc__V1__ExecEndpoint *e, char *svc[XR_CFG_MAX_SERVICES]);
/* Ingress process `w`'s bundle: the control key of `keys`, the
 * supervisor's directional keys and instance id, the table of every
 * execution worker now (xr_bundle_pack_ingress). Returns its result. */
int xr__sup_ingress_bundle(struct sup_worker *w, const xr_keyset *keys,
    const uint8_t sid[XR_SESSION_ID_LEN], uint8_t **out, size_t *len);
/* Execution worker `w`'s record changed (state, port or generation): send
 * COMMAND_ENDPOINT to every ingress process with a channel. Nothing for an
 * ingress worker. A channel too full to take it marks the slot pending
 * for that process: every XR_SUP_RESYNC_MS while any is pending, the
 * slot's *current* record is sent again until the channel takes it, so
 * every ingress process converges to the current table. */
void xr__sup_push_endpoint(const struct sup_worker *w);
/* Free the pending marks and the resync timer (xr_supervisor_free). */
void xr__sup_ingress_fini(xr_supervisor *s);

/* The period of the re-send of lost endpoint updates. */
#define XR_SUP_RESYNC_MS 50

/* ---- ctl_server.c ---- */

/* A stop round completed: answer the STOP commands waiting for it. */
void xr__ctl_round_done(xr_supervisor *s);
/* Close the control socket and every connection (no callbacks run). */
void xr__ctl_shutdown(xr_supervisor *s);
/* A worker's STATS_REPLY `c`: it counts for the STATS command waiting for
 * c->request_id, if any (a late or unknown one is dropped). */
void xr__ctl_stats_reply(xr_supervisor *s, const struct sup_worker *w,
    const Execrpc__V1__Command *c);
/* A worker's process is gone: STATS commands stop waiting for it, CALLs
 * on it are answered UNAVAILABLE. */
void xr__ctl_worker_gone(xr_supervisor *s, const struct sup_worker *w);
/* Answer the CALL of connection `c` with `res` (and close it once written). */
void xr__ctl_call_answer(struct ctl_conn *c,
    const Execrpc__V1__CallResult *res);

/* ---- ctl_call.c ---- */

/*
 * A CALL command on connection `c`: route cmd->method to a ready worker of
 * the group hosting its service and send it CALL{request_id} over the
 * worker channel. The answer (xr__ctl_call_answer) comes from
 * xr__call_reply(), the deadline, xr__call_worker_gone(), or at once for a
 * call refused before it reaches a worker. The loop never waits.
 */
void xr__call_begin(xr_supervisor *s, struct ctl_conn *c,
    const Execrpc__V1__Command *cmd);
/* A worker's CALL_REPLY: answers the CALL waiting for c->request_id on
 * that worker; a late one is dropped, one never asked counts as refused. */
void xr__call_reply(xr_supervisor *s, struct sup_worker *w,
    const Execrpc__V1__Command *c);
/* The worker's process is gone: its CALLs are answered UNAVAILABLE. */
void xr__call_worker_gone(xr_supervisor *s, const struct sup_worker *w);
/* Connection `c` goes away: its CALL (if any) is forgotten; the worker's
 * answer will be dropped. No answer is written. */
void xr__call_conn_gone(xr_supervisor *s, const struct ctl_conn *c);

#endif /* XR_SUPERVISOR_PRIV_H */
