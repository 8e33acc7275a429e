/*
 * supervisor/supervisor_priv.h — the supervisor's state, shared by
 * supervisor.c (process groups, state machine, stop rounds) and ctlsock.c
 * (the lifecycle control socket). Not installed; not for other layers.
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
#include "chan.h"
#include "supervisor.h"

struct group;
struct ctl_conn;

struct worker {
	xr_supervisor *sup;
	struct group *grp;
	uint32_t index;
	xr_worker_state state;
	pid_t pid;			/* 0: no process */
	int ctl_fd;			/* our end of the control channel, -1 */
	xr_chan chan;
	struct event ctl_ev;		/* ctl_fd readable */
	bool ctl_ev_set;
	struct event timer;		/* BACKOFF restart / STOPPING deadline */
	uint64_t deadline_ms;		/* when `timer` is due (monotonic) */
	uint16_t port;
	uint32_t restarts;
	uint32_t backoff_ms;		/* next restart delay */
	int last_exit_status;		/* -1: none */
	int last_signal;		/* 0: none */
	uint64_t ready_ms;		/* monotonic time of READY */
	bool acked;			/* STOPPED received in this stop */
	bool killed;			/* SIGKILL sent in this stop */
	int err;			/* why FAILED (an xr_err), else 0 */
	char reason[256];		/* and the reason, for wait_ready */
};

struct group {
	const xr_group_cfg *cfg;
	struct worker *w;		/* cfg->workers of them */
	uint32_t n;
	bool started;			/* wait_ready waits for it */
	bool in_stop;			/* in the current stop round */
	bool forced;			/* a worker needed SIGKILL / exited badly */
};

struct stop_ev {
	char group[XR_CFG_NAME_MAX];
	xr_stop_mode mode;
};

TAILQ_HEAD(ctl_conn_list, ctl_conn);

struct xr_supervisor {
	struct event_base *base;
	const xr_config *cfg;
	xr_keyset keys;
	xr_auth *ctl_auth;		/* control key: worker channels */
	xr_auth *rpc_auth;		/* web->exec / exec->web: stats probes */
	char *exe;
	char **argv;
	char **envp;
	int max_fd;			/* fallback bound for closing fds */
	uint32_t reap_grace_ms;		/* opts reap_timeout_ms, or the default */
	xr_stop_event_fn on_stop_event;
	void *stop_arg;
	xr_worker_event_fn on_worker_event;
	void *worker_arg;

	struct group groups[XR_CFG_MAX_GROUPS];
	size_t ngroups;
	struct event *sigchld;
	struct event *wake;		/* bounds a waiting function's loop */

	/* the stop round */
	bool stopping;			/* a round is in progress */
	bool exit_on_done;		/* run() returns when it completes */
	bool want_exit;			/* a round with exit_on_done completed */
	uint64_t stop_deadline;		/* monotonic ms, for new STOPs */
	uint32_t stop_timeout_ms;
	bool stop_drain;
	struct stop_ev events[XR_CFG_MAX_GROUPS];
	size_t nevents;

	/* the control socket (ctlsock.c) */
	char *ctl_path;
	dev_t ctl_dev;
	ino_t ctl_ino;
	struct evconnlistener *ctl_lev;
	struct event *ctl_backoff;
	struct ctl_conn_list ctl_conns;
	int ctl_stop_waiters;		/* STOP replies not yet written */
};

/* supervisor.c */
void xr__sup_worker_info(const struct worker *w, xr_worker_info *out);
/* Begin a stop round (or join the current one) for every running group. */
void xr__sup_stop_begin(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight, bool exit_on_done);
/* Send DRAIN to the ready workers of group `g`. */
void xr__sup_drain_group(xr_supervisor *s, struct group *g);
/* The group named `name`, or NULL. */
struct group *xr__sup_group(xr_supervisor *s, const char *name);

/* ctlsock.c */
/* A stop round completed: answer the STOP commands waiting for it. */
void xr__ctl_round_done(xr_supervisor *s);
/* Close the control socket and every connection (no callbacks run). */
void xr__ctl_shutdown(xr_supervisor *s);

#endif /* XR_SUPERVISOR_PRIV_H */
