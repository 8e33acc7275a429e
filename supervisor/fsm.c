/*
 * supervisor/fsm.c — the worker state machine (s6-supervise style), the
 * supervisor's end of the worker channel, and reaping.
 *
 * One table, states x events; each cell is the handler to run and the state
 * to move to. A handler may override the next state (a spawn that fails
 * goes to FAILED; a crash goes to BACKOFF or FAILED by the restart policy)
 * or refuse the event (nothing changes). An empty cell ignores the event.
 * Everything that changes a worker's state goes through xr__sup_fsm().
 */
#include "supervisor_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "rx.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define BACKOFF_RESET_MS 10000	/* ready this long: next crash starts over */

/* ---------- small helpers ---------- */

void
xr__sup_worker_info(const struct sup_worker *w, xr_worker_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->group, sizeof(out->group), "%s", w->grp->cfg->name);
	out->index = w->index;
	out->pid = w->pid;
	out->last_pid = w->last_pid;
	out->state = (int)w->state;
	out->port = w->port;
	out->restarts = w->restarts;
	out->generation = w->generation;
	out->last_exit_status = w->last_exit_status;
	out->last_signal = w->last_signal;
	out->refused = w->refused;
}

static void
worker_event(struct sup_worker *w, int err, const char *reason)
{
	xr_supervisor *s = w->sup;
	xr_worker_info info;

	xr_debug("supervisor: %s[%u] pid %d: %s (%s)", w->grp->cfg->name,
	    w->index, (int)w->last_pid, reason, xr_err_name(err));
	if (s->on_worker_event == NULL)
		return;
	xr__sup_worker_info(w, &info);
	s->on_worker_event(s->worker_arg, &info, err, reason);
}

/* Arm the worker's timer for the absolute monotonic time `at_ms`. */
static void
arm_timer(struct sup_worker *w, uint64_t at_ms)
{
	uint64_t now = xr_mono_ms(), left = at_ms > now ? at_ms - now : 0;
	struct timeval tv = { (time_t)(left / 1000),
	    (suseconds_t)(left % 1000) * 1000 };

	w->deadline_ms = at_ms;
	event_add(&w->timer, &tv);
}

int
xr__sup_send(struct sup_worker *w, const Execrpc__V1__Command *c)
{
	int r;

	if (w->ctl_fd < 0)
		return XR_ERR_CLOSED;
	if ((r = xr_wchan_send(&w->chan, c)) != XR_OK)
		xr_debug("supervisor: %s[%u]: worker channel send: %s",
		    w->grp->cfg->name, w->index, xr_err_name(r));
	return r;
}

static void
send_type(struct sup_worker *w, Execrpc__V1__CommandType type)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;

	c.type = type;
	(void)xr__sup_send(w, &c);
}

static void
exit_reason(const struct sup_worker *w, char *buf, size_t cap)
{
	if (w->last_signal != 0)
		snprintf(buf, cap, "killed by signal %d", w->last_signal);
	else
		snprintf(buf, cap, "exited with status %d", w->last_exit_status);
}

/* ---------- the cells' handlers ----------
 *
 * Each returns 0 (move to the cell's next state), a state (move there
 * instead) or a negative xr_err (refused: stay, nothing changed).
 */

/* start: fork + exec + bundle -> STARTING, or FAILED */
static int
h_spawn(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	w->err = 0;
	if (xr__sup_spawn(w) != XR_OK) {
		w->err = XR_ERR_BOOTSTRAP_START_FAILED;
		worker_event(w, w->err, w->reason);
		return XR_WORKER_FAILED;
	}
	worker_event(w, XR_OK, "spawned");
	return 0;
}

/* Arm the restart timer with the slot's backoff (100 ms, doubling to 5 s;
 * starting over once the worker was ready for 10 s) -> BACKOFF. */
static int
backoff(struct sup_worker *w)
{
	uint64_t now = xr_mono_ms();

	if (w->backoff_ms == 0 ||
	    (w->ready_ms != 0 && now - w->ready_ms >= BACKOFF_RESET_MS))
		w->backoff_ms = BACKOFF_FIRST_MS;
	arm_timer(w, now + w->backoff_ms);
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    w->backoff_ms * 2;
	return XR_WORKER_BACKOFF;
}

/* backoff over: a restart. One that cannot be started (fork, exec, a
 * socketpair: e.g. EMFILE while the supervisor's fds are exhausted) is
 * reported like a first start's failure and tried again after the next
 * backoff: a passing shortage must not lose the slot for good. */
static int
h_respawn(struct sup_worker *w, uint32_t arg)
{
	w->restarts++;		/* counted in the "spawned" event already */
	if (h_spawn(w, arg) != XR_WORKER_FAILED)
		return 0;
	w->restarts--;
	w->ready_ms = 0;	/* not ready since: the backoff keeps growing */
	return backoff(w);
}

/* A READY port `port` of worker `w` is acceptable: an ingress process may
 * have no port of its own (0), nor may a redis_streams worker (it reads
 * its group's stream); any other worker must have bound one. */
static bool
port_ok(const struct sup_worker *w, uint32_t port)
{
	if (port > 65535)
		return false;
	return port != 0 || xr__sup_is_ingress(w->grp) ||
	    w->sup->cfg->transport == XR_TRANSPORT_REDIS_STREAMS;
}

/* READY{port} while starting: serving. */
static int
h_ready(struct sup_worker *w, uint32_t port)
{
	if (!port_ok(w, port)) {
		xr_debug("supervisor: %s[%u]: READY with bad port %u",
		    w->grp->cfg->name, w->index, port);
		return XR_ERR_INVALID_ARG;
	}
	w->port = (uint16_t)port;
	w->ready_ms = xr_mono_ms();
	w->state = XR_WORKER_READY;	/* visible to the callback */
	worker_event(w, XR_OK, "ready");
	return 0;
}

/* READY while stopping (STOP crossed it): note the port only */
static int
h_port(struct sup_worker *w, uint32_t port)
{
	if (!port_ok(w, port))
		return XR_ERR_INVALID_ARG;
	w->port = (uint16_t)port;
	return 0;
}

static int
h_drain(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	send_type(w, EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN);
	return 0;
}

/*
 * Send the round's STOP (the time left to its deadline). A channel that is
 * full (the process does not read it now) does not lose the STOP: it is
 * sent again every XR_SUP_RESYNC_MS until it goes or the deadline forces
 * the stop; the worker's timer comes first then.
 */
static void
send_stop(struct sup_worker *w)
{
	xr_supervisor *s = w->sup;
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	uint64_t now = xr_mono_ms(), at = s->stop_deadline;

	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
	c.graceful_timeout_ms = s->stop_deadline > now ?
	    (uint32_t)(s->stop_deadline - now) : 0;
	c.drain_inflight = s->stop_drain;
	w->stop_unsent = xr__sup_send(w, &c) == XR_ERR_AGAIN;
	if (w->stop_unsent && now + XR_SUP_RESYNC_MS < at)
		at = now + XR_SUP_RESYNC_MS;
	arm_timer(w, at);
}

/* the round's STOP, and its deadline on the worker's timer */
static int
h_stop(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	w->acked = w->killed = false;
	send_stop(w);
	return 0;
}

/* STOPPED while stopping */
static int
h_ack(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	w->acked = true;
	return 0;
}

/* an exit not asked for: report; restart by policy -> BACKOFF | FAILED */
static int
h_crash(struct sup_worker *w, uint32_t arg)
{
	bool was_starting = w->state == XR_WORKER_STARTING;
	char why[48];

	(void)arg;
	event_del(&w->timer);
	exit_reason(w, why, sizeof(why));
	if (was_starting && w->last_signal == 0 && w->last_exit_status ==
	    (int)xr_err_category(XR_ERR_CHILD_BOOTSTRAP_FAILED)) {
		/* it rejected its bundle: a start failure, not a crash loop */
		w->err = XR_ERR_CHILD_BOOTSTRAP_FAILED;
		snprintf(w->reason, sizeof(w->reason), "%s[%u]: child bootstrap "
		    "failed (%s before READY; see its stderr)",
		    w->grp->cfg->name, w->index, why);
		worker_event(w, w->err, w->reason);
		return XR_WORKER_FAILED;
	}
	snprintf(w->reason, sizeof(w->reason), "%s[%u]: worker %s",
	    w->grp->cfg->name, w->index, why);
	worker_event(w, XR_ERR_WORKER_FAILED, why);
	if (w->grp->cfg->restart != XR_RESTART_ON_FAILURE) {
		w->err = XR_ERR_WORKER_FAILED;
		return XR_WORKER_FAILED;
	}
	return backoff(w);
}

/* exit while stopping: graceful only if acknowledged and exit 0 */
static int
h_reaped(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	event_del(&w->timer);
	if (!w->acked || w->killed || w->last_signal != 0 ||
	    w->last_exit_status != 0)
		w->grp->forced = true;
	return 0;
}

/* SIGKILL the process group (once per stop) */
static int
h_kill(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	if (w->pid <= 0)
		return 0;
	if (!w->killed) {
		/* the whole process group; the pid alone if the group is gone */
		if (kill(-w->pid, SIGKILL) != 0)
			kill(w->pid, SIGKILL);
		w->killed = true;
		w->stop_unsent = false;
		w->grp->forced = true;
		xr_debug("supervisor: %s[%u] pid %d: SIGKILL",
		    w->grp->cfg->name, w->index, (int)w->pid);
	}
	event_del(&w->timer);
	return 0;
}

/* stop or kill while in backoff: the restart is cancelled */
static int
h_cancel(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	event_del(&w->timer);
	return 0;
}

/* a message this state does not expect: a protocol error, not acted on */
static int
h_refuse(struct sup_worker *w, uint32_t arg)
{
	(void)arg;
	xr_debug("supervisor: %s[%u]: unexpected message in state %s",
	    w->grp->cfg->name, w->index, xr_worker_state_name(w->state));
	return XR_ERR_INVALID_ARG;
}

/* ---------- the table ---------- */

struct cell {
	int (*fn)(struct sup_worker *w, uint32_t arg);	/* NULL: ignored */
	xr_worker_state next;				/* 0: stay */
};

#define STAY 0

static const struct cell fsm_table[XR_WORKER_BACKOFF + 1][XR_SUP_EV_COUNT] = {
	[XR_WORKER_STOPPED] = {
		[XR_SUP_EV_START]	= { h_spawn, XR_WORKER_STARTING },
	},
	[XR_WORKER_STARTING] = {
		[XR_SUP_EV_READY]	= { h_ready, XR_WORKER_READY },
		[XR_SUP_EV_STOP]	= { h_stop, XR_WORKER_STOPPING },
		[XR_SUP_EV_STOPPED]	= { h_refuse, STAY },
		[XR_SUP_EV_EXIT]	= { h_crash, STAY },
		[XR_SUP_EV_KILL]	= { h_kill, XR_WORKER_STOPPING },
	},
	[XR_WORKER_READY] = {
		[XR_SUP_EV_READY]	= { h_refuse, STAY },
		[XR_SUP_EV_DRAIN]	= { h_drain, XR_WORKER_DRAINING },
		[XR_SUP_EV_STOP]	= { h_stop, XR_WORKER_STOPPING },
		[XR_SUP_EV_STOPPED]	= { h_refuse, STAY },
		[XR_SUP_EV_EXIT]	= { h_crash, STAY },
		[XR_SUP_EV_KILL]	= { h_kill, XR_WORKER_STOPPING },
	},
	[XR_WORKER_DRAINING] = {
		[XR_SUP_EV_READY]	= { h_refuse, STAY },
		[XR_SUP_EV_STOP]	= { h_stop, XR_WORKER_STOPPING },
		[XR_SUP_EV_STOPPED]	= { h_refuse, STAY },
		[XR_SUP_EV_EXIT]	= { h_crash, STAY },
		[XR_SUP_EV_KILL]	= { h_kill, XR_WORKER_STOPPING },
	},
	[XR_WORKER_STOPPING] = {
		[XR_SUP_EV_READY]	= { h_port, STAY },
		[XR_SUP_EV_STOPPED]	= { h_ack, STAY },
		[XR_SUP_EV_EXIT]	= { h_reaped, XR_WORKER_STOPPED },
		[XR_SUP_EV_DEADLINE]	= { h_kill, STAY },
		[XR_SUP_EV_KILL]	= { h_kill, STAY },
	},
	[XR_WORKER_FAILED] = {
		[XR_SUP_EV_START]	= { h_spawn, XR_WORKER_STARTING },
	},
	[XR_WORKER_BACKOFF] = {
		[XR_SUP_EV_STOP]	= { h_cancel, XR_WORKER_STOPPED },
		[XR_SUP_EV_DEADLINE]	= { h_respawn, XR_WORKER_STARTING },
		[XR_SUP_EV_KILL]	= { h_cancel, XR_WORKER_STOPPED },
	},
};

int
xr__sup_fsm(struct sup_worker *w, enum xr_sup_event ev, uint32_t arg)
{
	const struct cell *c;
	xr_worker_state was = w->state;
	uint32_t gen = w->generation;
	uint16_t port = w->port;
	int next;

	if ((unsigned)ev >= XR_SUP_EV_COUNT ||
	    w->state < XR_WORKER_STARTING || w->state > XR_WORKER_BACKOFF)
		return XR_ERR_INTERNAL;
	c = &fsm_table[w->state][ev];
	if (c->fn == NULL)
		return 0;
	if ((next = c->fn(w, arg)) < 0)
		return next;
	if (next == 0)
		next = (int)c->next;
	if (next != 0)
		w->state = (xr_worker_state)next;
	/* the ingress processes follow every change of an execution slot */
	if (w->state != was || w->generation != gen || w->port != port)
		xr__sup_push_endpoint(w);
	xr__sup_check_round(w->sup);
	return 1;
}

/* ---------- events from the loop ---------- */

void
xr__sup_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup_worker *w = arg;

	(void)fd;
	(void)what;
	/* libevent may use a coarse clock and fire a few ms early: the
	 * deadline is the absolute CLOCK_MONOTONIC time, not the timer */
	if (xr_mono_ms() < w->deadline_ms) {
		arm_timer(w, w->deadline_ms);
		return;
	}
	if (w->stop_unsent && w->state == XR_WORKER_STOPPING &&
	    xr_mono_ms() < w->sup->stop_deadline) {
		send_stop(w);
		if (!w->stop_unsent)
			xr_info("supervisor: %s[%u]: STOP delivered again",
			    w->grp->cfg->name, w->index);
		return;
	}
	w->stop_unsent = false;
	(void)xr__sup_fsm(w, XR_SUP_EV_DEADLINE, 0);
}

/* ---------- the supervisor's end of the worker channel ---------- */

static void
ch_ready(void *arg, const Execrpc__V1__Command *c)
{
	(void)xr__sup_fsm(arg, XR_SUP_EV_READY, c->port);
}

static void
ch_stopped(void *arg, const Execrpc__V1__Command *c)
{
	(void)c;
	(void)xr__sup_fsm(arg, XR_SUP_EV_STOPPED, 0);
}

static void
ch_stats_reply(void *arg, const Execrpc__V1__Command *c)
{
	struct sup_worker *w = arg;

	xr__ctl_stats_reply(w->sup, w, c);
}

static void
ch_call_reply(void *arg, const Execrpc__V1__Command *c)
{
	struct sup_worker *w = arg;

	xr__call_reply(w->sup, w, c);
}

#define S(st) XR_WCHAN_STATE(XR_WORKER_##st)

/* What the supervisor acts on, in which of the worker's states. READY may
 * cross a STOP sent while STARTING, so STOPPING takes it too (port only);
 * a STATS_REPLY or CALL_REPLY may cross a DRAIN or STOP too (a CALL_REPLY
 * counts only for a request id asked on this worker: xr__call_reply). */
static const xr_wchan_cmd sup_cmds[] = {
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_READY, XR_WCHAN_TO_SUPERVISOR,
	    S(STARTING) | S(STOPPING), XR_WCHAN_ONCE, ch_ready },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED, XR_WCHAN_TO_SUPERVISOR,
	    S(STOPPING), XR_WCHAN_ONCE, ch_stopped },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS_REPLY,
	    XR_WCHAN_TO_SUPERVISOR, S(READY) | S(DRAINING) | S(STOPPING), 0,
	    ch_stats_reply },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL_REPLY,
	    XR_WCHAN_TO_SUPERVISOR, S(READY) | S(DRAINING) | S(STOPPING), 0,
	    ch_call_reply },
};

#undef S

void
xr__sup_chan_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup_worker *w = arg;
	Execrpc__V1__Command *c;
	int r;

	(void)fd;
	(void)what;
	while (w->ctl_fd >= 0) {
		r = xr_wchan_recv(&w->chan, &c);
		if (r == XR_ERR_AGAIN)
			return;
		if (r == XR_ERR_CLOSED || r == XR_ERR_SYSTEM) {
			/* the worker closed its end; its exit comes by SIGCHLD */
			event_del(&w->ctl_ev);
			w->ctl_ev_set = false;
			return;
		}
		if (r != XR_OK) {
			xr_debug("supervisor: %s[%u]: control frame rejected: %s",
			    w->grp->cfg->name, w->index, xr_err_name(r));
			continue;
		}
		if (xr_wchan_dispatch(&w->chan, sup_cmds,
		    sizeof(sup_cmds) / sizeof(sup_cmds[0]),
		    XR_WCHAN_TO_SUPERVISOR, (int)w->state, w, c) != XR_OK) {
			w->refused++;
			xr_debug("supervisor: %s[%u]: command %d refused in "
			    "state %s", w->grp->cfg->name, w->index,
			    (int)c->type, xr_worker_state_name(w->state));
		}
		execrpc__v1__command__free_unpacked(c, NULL);
	}
}

/* Reap every worker process that has exited (WNOHANG, per pid: children the
 * application started itself are left alone). */
void
xr__sup_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	xr_supervisor *s = arg;

	(void)sig;
	(void)what;
	for (size_t g = 0; g < s->ngroups; g++) {
		for (uint32_t i = 0; i < s->groups[g].n; i++) {
			struct sup_worker *w = &s->groups[g].w[i];
			pid_t r;
			int st = 0;

			if (w->pid <= 0)
				continue;
			do
				r = waitpid(w->pid, &st, WNOHANG);
			while (r < 0 && errno == EINTR);
			if (r == 0)
				continue;
			if (r < 0) {		/* not our child any more (ECHILD) */
				w->last_exit_status = -1;
				w->last_signal = 0;
			} else {
				w->last_exit_status = WIFEXITED(st) ?
				    WEXITSTATUS(st) : -1;
				w->last_signal = WIFSIGNALED(st) ?
				    WTERMSIG(st) : 0;
			}
			xr_debug("supervisor: %s[%u] pid %d reaped",
			    w->grp->cfg->name, w->index, (int)w->pid);
			w->pid = 0;
			/* a STOPPED (or READY) sent just before the exit may
			 * still be queued: read it before the exit counts */
			if (w->ctl_fd >= 0)
				xr__sup_chan_read_cb(w->ctl_fd, EV_READ, w);
			xr__sup_chan_close(w);
			xr__ctl_worker_gone(s, w);
			(void)xr__sup_fsm(w, XR_SUP_EV_EXIT, 0);
		}
	}
}
