/*
 * supervisor/supervisor.c — process groups, the worker state machine,
 * spawning with the one-shot bundle, stop rounds, reaping, restarts.
 */
#include "supervisor_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "keys.h"
#include "log.h"
#include "rx.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define BACKOFF_RESET_MS 10000	/* ready this long: next crash starts over */
#define REAP_GRACE_MS 5000	/* a SIGKILLed process must be reaped by then */
#define FD_FALLBACK_MAX 65536	/* without close_range: mark fds up to this */

static const char *const default_args[] = {
	"--worker", "--bootstrap-fd", "3", "--control-fd", "4", NULL
};

/* ---------- names ---------- */

const char *
xr_worker_state_name(int state)
{
	static const char *const names[] = {
		[XR_WORKER_STARTING] = "starting",
		[XR_WORKER_READY] = "ready",
		[XR_WORKER_DRAINING] = "draining",
		[XR_WORKER_STOPPING] = "stopping",
		[XR_WORKER_STOPPED] = "stopped",
		[XR_WORKER_FAILED] = "failed",
		[XR_WORKER_BACKOFF] = "backoff",
	};

	if (state < XR_WORKER_STARTING || state > XR_WORKER_BACKOFF)
		return "unknown";
	return names[state];
}

const char *
xr_stop_mode_name(xr_stop_mode m)
{
	return m == XR_STOP_GRACEFUL ? "graceful" :
	    m == XR_STOP_FORCED ? "forced" : "unknown";
}

/* ---------- the worker state machine (s6-supervise style) ----------
 *
 * One table, states x events -> action and next state. An action may
 * override the next state (a spawn that fails goes to FAILED; a crash goes
 * to BACKOFF or FAILED by the restart policy). An empty cell ignores the
 * event. Everything that changes a worker's state goes through fsm().
 */

enum wevent {
	E_START,	/* start_groups */
	E_READY,	/* READY{port} on the control channel */
	E_DRAIN,	/* DRAIN command */
	E_STOP,		/* a stop round includes the worker */
	E_STOPPED,	/* STOPPED on the control channel */
	E_EXIT,		/* the process was reaped */
	E_DEADLINE,	/* the worker's timer: backoff over / stop deadline */
	E_KILL,		/* force_terminate */
	E_COUNT
};

enum waction {
	A_NONE,
	A_SPAWN,	/* fork + exec + bundle                -> STARTING | FAILED */
	A_READY,	/* note port, "ready" event */
	A_DRAIN,	/* send DRAIN */
	A_STOP,		/* send STOP, arm the stop deadline */
	A_ACK,		/* STOPPED acknowledged */
	A_PORT,		/* READY while stopping: note the port */
	A_CRASH,	/* unexpected exit: report, restart?   -> BACKOFF | FAILED */
	A_REAPED,	/* exit while stopping: graceful or forced */
	A_KILL,		/* SIGKILL the process group */
	A_RESPAWN,	/* backoff over: restarts++, spawn     -> STARTING | FAILED */
	A_CANCEL,	/* stop while in backoff: cancel the restart */
	A_PROTO,	/* a message the state does not expect: log, ignore */
};

struct transition {
	unsigned char action;
	unsigned char next;	/* 0 = stay */
};

#define T(a, n) { (a), (n) }
#define STAY(a) { (a), 0 }
#define ___ { A_NONE, 0 }

static const struct transition fsm_table[XR_WORKER_BACKOFF + 1][E_COUNT] = {
	/*		   START                          READY                          DRAIN                            STOP                              STOPPED         EXIT                             DEADLINE                          KILL */
	[XR_WORKER_STARTING] = { ___,                     T(A_READY, XR_WORKER_READY),   ___,                             T(A_STOP, XR_WORKER_STOPPING),    STAY(A_PROTO),  STAY(A_CRASH),                   ___,                              T(A_KILL, XR_WORKER_STOPPING) },
	[XR_WORKER_READY]    = { ___,                     STAY(A_PROTO),                 T(A_DRAIN, XR_WORKER_DRAINING),  T(A_STOP, XR_WORKER_STOPPING),    STAY(A_PROTO),  STAY(A_CRASH),                   ___,                              T(A_KILL, XR_WORKER_STOPPING) },
	[XR_WORKER_DRAINING] = { ___,                     STAY(A_PROTO),                 ___,                             T(A_STOP, XR_WORKER_STOPPING),    STAY(A_PROTO),  STAY(A_CRASH),                   ___,                              T(A_KILL, XR_WORKER_STOPPING) },
	[XR_WORKER_STOPPING] = { ___,                     STAY(A_PORT),                  ___,                             ___,                              STAY(A_ACK),    T(A_REAPED, XR_WORKER_STOPPED),  STAY(A_KILL),                     STAY(A_KILL) },
	[XR_WORKER_STOPPED]  = { T(A_SPAWN, XR_WORKER_STARTING), ___,                    ___,                             ___,                              ___,            ___,                             ___,                              ___ },
	[XR_WORKER_FAILED]   = { T(A_SPAWN, XR_WORKER_STARTING), ___,                    ___,                             ___,                              ___,            ___,                             ___,                              ___ },
	[XR_WORKER_BACKOFF]  = { ___,                     ___,                           ___,                             T(A_CANCEL, XR_WORKER_STOPPED),   ___,            ___,                             T(A_RESPAWN, XR_WORKER_STARTING), T(A_CANCEL, XR_WORKER_STOPPED) },
};

static void check_round(xr_supervisor *s);

/* ---------- small helpers ---------- */

void
xr__sup_worker_info(const struct worker *w, xr_worker_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->group, sizeof(out->group), "%s", w->grp->cfg->name);
	out->index = w->index;
	out->pid = w->pid;
	out->state = (int)w->state;
	out->port = w->port;
	out->restarts = w->restarts;
	out->last_exit_status = w->last_exit_status;
	out->last_signal = w->last_signal;
}

static void
worker_event(struct worker *w, int err, const char *reason)
{
	xr_supervisor *s = w->sup;
	xr_worker_info info;

	xr_debug("supervisor: %s[%u] pid %d: %s (%s)", w->grp->cfg->name,
	    w->index, (int)w->pid, reason, xr_err_name(err));
	if (s->on_worker_event == NULL)
		return;
	xr__sup_worker_info(w, &info);
	s->on_worker_event(s->worker_arg, &info, err, reason);
}

/* Arm the worker's timer for the absolute monotonic time `at_ms`. */
static void
arm_timer(struct worker *w, uint64_t at_ms)
{
	uint64_t now = xr_mono_ms(), left = at_ms > now ? at_ms - now : 0;
	struct timeval tv = { (time_t)(left / 1000),
	    (suseconds_t)(left % 1000) * 1000 };

	w->deadline_ms = at_ms;
	event_add(&w->timer, &tv);
}

static void
send_cmd(struct worker *w, const Execrpc__V1__Command *c)
{
	int r;

	if (w->ctl_fd < 0)
		return;
	if ((r = xr_chan_send(&w->chan, c)) != XR_OK)
		xr_debug("supervisor: %s[%u]: control send: %s",
		    w->grp->cfg->name, w->index, xr_err_name(r));
}

/* Close our end of the control channel (the process is gone). */
static void
ctl_close(struct worker *w)
{
	if (w->ctl_ev_set) {
		event_del(&w->ctl_ev);
		w->ctl_ev_set = false;
	}
	if (w->ctl_fd >= 0) {
		close(w->ctl_fd);
		w->ctl_fd = -1;
	}
	xr_chan_fini(&w->chan);
}

/* ---------- spawning ---------- */

/* Serialize the worker's bundle into a malloc'd buffer (key bytes inside:
 * the caller wipes it). */
static int
bundle_pack(xr_supervisor *s, struct worker *w,
    const uint8_t sid[XR_SESSION_ID_LEN], uint8_t **out, size_t *len)
{
	Execrpc__V1__BootstrapBundle b = EXECRPC__V1__BOOTSTRAP_BUNDLE__INIT;
	Execrpc__V1__RuntimeSlice rt = EXECRPC__V1__RUNTIME_SLICE__INIT;
	Execrpc__V1__KeyBundle kb = EXECRPC__V1__KEY_BUNDLE__INIT;
	const xr_config *cfg = s->cfg;
	const xr_group_cfg *g = w->grp->cfg;
	char *svc[XR_CFG_MAX_SERVICES];
	Execrpc__V1__AppSetting as[XR_CFG_MAX_APPS * XR_CFG_MAX_APP_SETTINGS];
	Execrpc__V1__AppSetting *asp[XR_CFG_MAX_APPS * XR_CFG_MAX_APP_SETTINGS];
	size_t na = 0;

	b.version = 1;
	b.group = (char *)(uintptr_t)g->name;
	b.index = w->index;
	/* none listed: the worker hosts every module it has */
	for (size_t i = 0; i < g->n_services; i++)
		svc[i] = (char *)(uintptr_t)g->services[i];
	b.n_services = g->n_services;
	b.services = svc;
	rt.bind_host = (char *)(uintptr_t)cfg->bind_host;
	rt.bind_port = 0;	/* workers bind ephemeral ports, report them */
	rt.max_payload_bytes = cfg->max_payload_bytes;
	rt.ttl_seconds = cfg->ttl_seconds;
	rt.nonce_cache_size = cfg->nonce_cache_size;
	rt.graceful_timeout_ms = cfg->graceful_timeout_seconds * 1000;
	rt.drain_inflight = cfg->drain_inflight;
	/* every apps section, opaque: each worker module checks its own */
	for (size_t i = 0; i < cfg->n_apps && i < XR_CFG_MAX_APPS; i++)
		for (size_t j = 0; j < cfg->apps[i].n &&
		    j < XR_CFG_MAX_APP_SETTINGS; j++, na++) {
			execrpc__v1__app_setting__init(&as[na]);
			as[na].app = (char *)(uintptr_t)cfg->apps[i].name;
			as[na].key = (char *)(uintptr_t)cfg->apps[i].s[j].key;
			as[na].value = (char *)(uintptr_t)cfg->apps[i].s[j].value;
			asp[na] = &as[na];
		}
	b.n_apps = na;
	b.apps = asp;
	kb.kdf = s->keys.kdf == XR_KDF_NONE ? EXECRPC__V1__KDF__KDF_NONE :
	    EXECRPC__V1__KDF__KDF_HKDF_SHA256;
	kb.web_to_exec.data = s->keys.k[XR_DIR_WEB_TO_EXEC].b;
	kb.web_to_exec.len = s->keys.k[XR_DIR_WEB_TO_EXEC].len;
	kb.exec_to_web.data = s->keys.k[XR_DIR_EXEC_TO_WEB].b;
	kb.exec_to_web.len = s->keys.k[XR_DIR_EXEC_TO_WEB].len;
	kb.control.data = s->keys.k[XR_DIR_CONTROL].b;
	kb.control.len = s->keys.k[XR_DIR_CONTROL].len;
	b.runtime = &rt;
	b.keys = &kb;
	b.control_session_id.data = (uint8_t *)(uintptr_t)sid;
	b.control_session_id.len = XR_SESSION_ID_LEN;
	*len = execrpc__v1__bootstrap_bundle__get_packed_size(&b);
	if ((*out = malloc(*len)) == NULL)
		return XR_ERR_NOMEM;
	execrpc__v1__bootstrap_bundle__pack(&b, *out);
	return XR_OK;
}

/*
 * The child between fork and exec: async-signal-safe calls only. Default
 * signal dispositions and an empty mask (ignored signals survive exec), its
 * own process group, death signal, the two channel ends dup2'd to the fixed
 * fds 3 and 4, /dev/null as stdin and stdout, every other fd from 5 up
 * closed at exec (the error pipe with
 * them: EOF on it means exec succeeded), then exec. On failure the errno goes
 * down the error pipe.
 */
static void __attribute__((noreturn))
child_exec(const xr_supervisor *s, int boot, int ctl, int errfd, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	int b, c, e = errfd, err, nul;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (setpgid(0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		goto fail;
	if (getppid() != parent)
		_exit(127);	/* the supervisor is already gone */
	if ((b = fcntl(boot, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (c = fcntl(ctl, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (e = fcntl(errfd, F_DUPFD_CLOEXEC, 10)) < 0) {
		e = errfd;
		goto fail;
	}
	if (dup2(b, 3) != 3 || dup2(c, 4) != 4)
		goto fail;
	/* stdin and stdout are the application's (e.g. fundload's input and
	 * output): a worker gets /dev/null; stderr stays for diagnostics */
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    dup2(nul, 0) != 0 || dup2(nul, 1) != 1)
		goto fail;
	if (close_range(5, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
		for (int fd = 5; fd < s->max_fd; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	execve(s->exe, s->argv, s->envp);
 fail:
	err = errno;
	(void)!write(e, &err, sizeof(err));
	_exit(127);
}

static void ctl_read_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Start one worker process and hand it its bundle. Returns XR_OK, or
 * XR_ERR_BOOTSTRAP_START_FAILED with w->reason set (nothing left running).
 */
static int
spawn(struct worker *w)
{
	xr_supervisor *s = w->sup;
	int boot[2] = { -1, -1 }, ctl[2] = { -1, -1 }, ep[2] = { -1, -1 };
	uint8_t sid[XR_SESSION_ID_LEN], *bundle = NULL;
	size_t blen = 0;
	pid_t pid = -1, parent = getpid();
	int r = XR_ERR_BOOTSTRAP_START_FAILED, err = 0, fl, st;
	ssize_t n;

	w->reason[0] = '\0';
	if (xr_random_bytes(sid, sizeof(sid)) != XR_OK ||
	    bundle_pack(s, w, sid, &bundle, &blen) != XR_OK) {
		snprintf(w->reason, sizeof(w->reason), "cannot build the bundle");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, boot) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0 ||
	    pipe2(ep, O_CLOEXEC) != 0) {
		snprintf(w->reason, sizeof(w->reason), "socketpair/pipe: %s",
		    strerror(errno));
		goto out;
	}
	if ((pid = fork()) == 0)
		child_exec(s, boot[1], ctl[1], ep[1], parent);
	err = errno;
	/* the child's ends: ours are closed right away */
	close(boot[1]);
	close(ctl[1]);
	close(ep[1]);
	boot[1] = ctl[1] = ep[1] = -1;
	if (pid < 0) {
		snprintf(w->reason, sizeof(w->reason), "fork: %s",
		    strerror(err));
		goto out;
	}
	(void)setpgid(pid, pid);	/* both sides: no race with kill(-pid) */
	/* EOF: exec succeeded; an int: exec (or the setup before it) failed */
	do
		n = read(ep[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		snprintf(w->reason, sizeof(w->reason), "exec %s: %s", s->exe,
		    n == (ssize_t)sizeof(err) ? strerror(err) : "failed");
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		pid = -1;
		goto out;
	}
	/* exactly one bundle, then our end is closed */
	do
		n = send(boot[0], bundle, blen, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)blen)	/* the child died; its exit says why */
		xr_debug("supervisor: bundle send: %s", strerror(errno));
	w->pid = pid;
	w->ctl_fd = ctl[0];
	ctl[0] = -1;
	if ((fl = fcntl(w->ctl_fd, F_GETFL)) < 0 ||
	    fcntl(w->ctl_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    xr_chan_init(&w->chan, w->ctl_fd, s->ctl_auth, sid,
	    s->cfg->ttl_seconds) != XR_OK) {
		/* cannot talk to it: it can only be killed */
		snprintf(w->reason, sizeof(w->reason), "control channel setup");
		kill(-pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		w->pid = 0;
		ctl_close(w);
		goto out;
	}
	event_assign(&w->ctl_ev, s->base, w->ctl_fd, EV_READ | EV_PERSIST,
	    ctl_read_cb, w);
	event_add(&w->ctl_ev, NULL);
	w->ctl_ev_set = true;
	w->port = 0;
	w->acked = w->killed = false;
	r = XR_OK;
 out:
	if (bundle != NULL) {
		xr_wipe(bundle, blen);
		free(bundle);
	}
	xr_wipe(sid, sizeof(sid));
	for (int i = 0; i < 2; i++) {
		if (boot[i] >= 0)
			close(boot[i]);
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return r;
}

/* ---------- actions ---------- */

static void
exit_reason(const struct worker *w, char *buf, size_t cap)
{
	if (w->last_signal != 0)
		snprintf(buf, cap, "killed by signal %d", w->last_signal);
	else
		snprintf(buf, cap, "exited with status %d", w->last_exit_status);
}

static int
act_spawn(struct worker *w)
{
	w->err = 0;
	if (spawn(w) != XR_OK) {
		w->err = XR_ERR_BOOTSTRAP_START_FAILED;
		worker_event(w, w->err, w->reason);
		return XR_WORKER_FAILED;
	}
	worker_event(w, XR_OK, "spawned");
	return 0;
}

static int
act_crash(struct worker *w)
{
	bool was_starting = w->state == XR_WORKER_STARTING;
	char why[48];
	uint64_t now = xr_mono_ms();

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
	if (w->backoff_ms == 0 ||
	    (w->ready_ms != 0 && now - w->ready_ms >= BACKOFF_RESET_MS))
		w->backoff_ms = BACKOFF_FIRST_MS;
	arm_timer(w, now + w->backoff_ms);
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    w->backoff_ms * 2;
	return XR_WORKER_BACKOFF;
}

static void
act_kill(struct worker *w)
{
	if (w->pid <= 0)
		return;
	if (!w->killed) {
		/* the whole process group; the pid alone if the group is gone */
		if (kill(-w->pid, SIGKILL) != 0)
			kill(w->pid, SIGKILL);
		w->killed = true;
		w->grp->forced = true;
		xr_debug("supervisor: %s[%u] pid %d: SIGKILL",
		    w->grp->cfg->name, w->index, (int)w->pid);
	}
	event_del(&w->timer);
}

static int
run_action(struct worker *w, enum waction a, uint32_t arg)
{
	xr_supervisor *s = w->sup;
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	uint64_t now;

	switch (a) {
	case A_NONE:
		return 0;
	case A_SPAWN:
		return act_spawn(w);
	case A_READY:
		if (arg == 0 || arg > 65535) {
			xr_debug("supervisor: READY with bad port %u", arg);
			return (int)w->state;	/* stay */
		}
		w->port = (uint16_t)arg;
		w->ready_ms = xr_mono_ms();
		w->state = XR_WORKER_READY;	/* visible to the callback */
		worker_event(w, XR_OK, "ready");
		return 0;
	case A_DRAIN:
		c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN;
		send_cmd(w, &c);
		return 0;
	case A_STOP:
		now = xr_mono_ms();
		c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
		c.graceful_timeout_ms = s->stop_deadline > now ?
		    (uint32_t)(s->stop_deadline - now) : 0;
		c.drain_inflight = s->stop_drain;
		w->acked = w->killed = false;
		send_cmd(w, &c);
		arm_timer(w, s->stop_deadline);
		return 0;
	case A_ACK:
		w->acked = true;
		return 0;
	case A_PORT:
		if (arg > 0 && arg <= 65535)
			w->port = (uint16_t)arg;
		return 0;
	case A_CRASH:
		return act_crash(w);
	case A_REAPED:
		event_del(&w->timer);
		if (!w->acked || w->killed || w->last_signal != 0 ||
		    w->last_exit_status != 0)
			w->grp->forced = true;
		return 0;
	case A_KILL:
		act_kill(w);
		return 0;
	case A_RESPAWN:
		w->restarts++;
		return act_spawn(w);
	case A_CANCEL:
		event_del(&w->timer);
		return 0;
	case A_PROTO:
		xr_debug("supervisor: %s[%u]: unexpected message in state %s",
		    w->grp->cfg->name, w->index, xr_worker_state_name(w->state));
		return 0;
	}
	return 0;
}

static void
fsm(struct worker *w, enum wevent ev, uint32_t arg)
{
	const struct transition *t = &fsm_table[w->state][ev];
	int next;

	if (t->action == A_NONE && t->next == 0)
		return;
	next = run_action(w, (enum waction)t->action, arg);
	if (next == 0)
		next = t->next;
	if (next != 0)
		w->state = (xr_worker_state)next;
	check_round(w->sup);
}

/* ---------- events from the loop ---------- */

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	/* libevent may use a coarse clock and fire a few ms early: the
	 * deadline is the absolute CLOCK_MONOTONIC time, not the timer */
	if (xr_mono_ms() < w->deadline_ms) {
		arm_timer(w, w->deadline_ms);
		return;
	}
	fsm(w, E_DEADLINE, 0);
}

static void
ctl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	Execrpc__V1__Command *c;
	int r;

	(void)fd;
	(void)what;
	while (w->ctl_fd >= 0) {
		r = xr_chan_recv(&w->chan, &c);
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
		if (c->type == EXECRPC__V1__COMMAND_TYPE__COMMAND_READY)
			fsm(w, E_READY, c->port);
		else if (c->type == EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED)
			fsm(w, E_STOPPED, 0);
		else
			xr_debug("supervisor: %s[%u]: unexpected command %d",
			    w->grp->cfg->name, w->index, (int)c->type);
		execrpc__v1__command__free_unpacked(c, NULL);
	}
}

/* Reap every worker process that has exited (WNOHANG, per pid: children the
 * application started itself are left alone). */
static void
reap(xr_supervisor *s)
{
	for (size_t g = 0; g < s->ngroups; g++) {
		for (uint32_t i = 0; i < s->groups[g].n; i++) {
			struct worker *w = &s->groups[g].w[i];
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
				ctl_read_cb(w->ctl_fd, EV_READ, w);
			ctl_close(w);
			fsm(w, E_EXIT, 0);
		}
	}
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	reap(arg);
}

/* ---------- stop rounds ---------- */

static bool
group_running(const struct group *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->w[i].state != XR_WORKER_STOPPED &&
		    g->w[i].state != XR_WORKER_FAILED)
			return true;
	return false;
}

static void
emit_stop_event(xr_supervisor *s, struct group *g)
{
	xr_stop_mode mode = g->forced ? XR_STOP_FORCED : XR_STOP_GRACEFUL;

	g->in_stop = false;
	g->started = false;
	if (s->nevents < XR_CFG_MAX_GROUPS) {
		snprintf(s->events[s->nevents].group,
		    sizeof(s->events[s->nevents].group), "%s", g->cfg->name);
		s->events[s->nevents++].mode = mode;
	}
	xr_debug("supervisor: group %s stopped: %s", g->cfg->name,
	    xr_stop_mode_name(mode));
	if (s->on_stop_event != NULL)
		s->on_stop_event(s->stop_arg, g->cfg->name, mode);
}

/* After every transition: a group in the round whose workers have all
 * stopped gets its one stop event; a round with no group left is done. */
static void
check_round(xr_supervisor *s)
{
	bool left = false;

	if (!s->stopping)
		return;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!gr->in_stop)
			continue;
		if (group_running(gr))
			left = true;
		else
			emit_stop_event(s, gr);
	}
	if (left || !s->stopping)
		return;
	s->stopping = false;
	if (s->exit_on_done)
		s->want_exit = true;
	s->exit_on_done = false;
	xr__ctl_round_done(s);
}

static void
round_open(xr_supervisor *s, uint32_t graceful_timeout_ms, bool drain)
{
	if (!s->stopping) {
		s->stopping = true;
		s->nevents = 0;
	}
	s->stop_deadline = xr_mono_ms() + graceful_timeout_ms;
	s->stop_timeout_ms = graceful_timeout_ms;
	s->stop_drain = drain;
}

void
xr__sup_stop_begin(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight, bool exit_on_done)
{
	round_open(s, graceful_timeout_ms, drain_inflight);
	if (exit_on_done)
		s->exit_on_done = true;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (gr->in_stop || !group_running(gr))
			continue;
		gr->in_stop = true;
		gr->forced = false;
	}
	for (size_t g = 0; g < s->ngroups; g++)
		for (uint32_t i = 0; i < s->groups[g].n && s->groups[g].in_stop;
		    i++)
			fsm(&s->groups[g].w[i], E_STOP, 0);
	check_round(s);
}

void
xr__sup_drain_group(xr_supervisor *s, struct group *g)
{
	(void)s;
	for (uint32_t i = 0; i < g->n; i++)
		fsm(&g->w[i], E_DRAIN, 0);
}

struct group *
xr__sup_group(xr_supervisor *s, const char *name)
{
	for (size_t g = 0; g < s->ngroups; g++)
		if (strcmp(s->groups[g].cfg->name, name) == 0)
			return &s->groups[g];
	return NULL;
}

/* ---------- waiting ---------- */

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/*
 * Run the base until check() returns non-zero (returned) or the monotonic
 * deadline passes (0 returned; deadline 0 = none).
 */
static int
loop_until(xr_supervisor *s, int (*check)(xr_supervisor *, void *), void *arg,
    uint64_t deadline)
{
	int r;

	while ((r = check(s, arg)) == 0) {
		uint64_t now = xr_mono_ms();

		if (deadline != 0) {
			uint64_t left;
			struct timeval tv;

			if (now >= deadline)
				break;
			left = deadline - now;
			tv.tv_sec = (time_t)(left / 1000);
			tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
			evtimer_add(s->wake, &tv);
		}
		if (event_base_loop(s->base, EVLOOP_ONCE) < 0) {
			r = XR_ERR_INTERNAL;
			break;
		}
	}
	evtimer_del(s->wake);
	return r;
}

/* wait_ready's condition: 1 all ready, an xr_err on a failure, 0 pending. */
static int
ready_check(xr_supervisor *s, void *arg)
{
	xr_diag *d = arg;
	bool pending = false;

	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!gr->started)
			continue;
		for (uint32_t i = 0; i < gr->n; i++) {
			struct worker *w = &gr->w[i];

			if (w->state == XR_WORKER_FAILED)
				return xr_diag_set(d, w->err != 0 ? w->err :
				    XR_ERR_WORKER_FAILED, "%s", w->reason);
			if (w->state != XR_WORKER_READY)
				pending = true;
		}
	}
	if (s->stopping)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
		    "a stop is in progress");
	return pending ? 0 : 1;
}

static int
round_check(xr_supervisor *s, void *arg)
{
	(void)arg;
	return s->stopping ? 0 : 1;
}

static int
groups_down_check(xr_supervisor *s, void *arg)
{
	const bool *sel = arg;

	for (size_t g = 0; g < s->ngroups; g++)
		if (sel[g] && s->groups[g].in_stop)
			return 0;
	return 1;
}

static int
exit_check(xr_supervisor *s, void *arg)
{
	(void)arg;
	return s->want_exit && s->ctl_stop_waiters == 0 ? 1 : 0;
}

/* Select groups by name; NULL, 0 = all. */
static int
select_groups(xr_supervisor *s, const char *const *names, size_t n,
    bool sel[XR_CFG_MAX_GROUPS], xr_diag *d)
{
	memset(sel, 0, sizeof(bool) * XR_CFG_MAX_GROUPS);
	if (names == NULL || n == 0) {
		for (size_t g = 0; g < s->ngroups; g++)
			sel[g] = true;
		return XR_OK;
	}
	for (size_t i = 0; i < n; i++) {
		struct group *g = names[i] != NULL ?
		    xr__sup_group(s, names[i]) : NULL;

		if (g == NULL)
			return xr_diag_set(d, XR_ERR_INVALID_ARG,
			    "unknown process group \"%.64s\"",
			    names[i] != NULL ? names[i] : "(null)");
		sel[g - s->groups] = true;
	}
	return XR_OK;
}

/* ---------- public ---------- */

static void
harden_self(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
}

xr_supervisor *
xr_supervisor_new(struct event_base *base, const xr_supervisor_opts *o,
    xr_diag *d)
{
	const char *const *args = o->worker_args != NULL ? o->worker_args :
	    default_args;
	xr_supervisor *s;
	struct rlimit nofile;
	size_t nargs = 0;

	if (base == NULL || o == NULL || o->cfg == NULL || o->keys == NULL) {
		xr_diag_set(d, XR_ERR_INVALID_ARG, "supervisor: base, cfg and "
		    "keys are required");
		return NULL;
	}
	if (o->cfg->n_groups == 0 || o->cfg->n_groups > XR_CFG_MAX_GROUPS) {
		xr_diag_set(d, XR_ERR_INVALID_ARG, "supervisor: the config "
		    "has no process groups");
		return NULL;
	}
	for (int i = 0; i < XR_DIR_COUNT; i++)
		if (o->keys->k[i].len < 32 || o->keys->k[i].len > XR_KEY_MAX) {
			xr_diag_set(d, XR_ERR_INVALID_ARG, "supervisor: the "
			    "keyset needs 32..64-byte keys");
			return NULL;
		}
	harden_self();
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	s->base = base;
	s->cfg = o->cfg;
	s->keys = *o->keys;
	s->on_stop_event = o->on_stop_event;
	s->stop_arg = o->stop_arg;
	s->on_worker_event = o->on_worker_event;
	s->worker_arg = o->worker_arg;
	TAILQ_INIT(&s->ctl_conns);
	s->max_fd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
	    nofile.rlim_cur < FD_FALLBACK_MAX ? (int)nofile.rlim_cur :
	    FD_FALLBACK_MAX;
	while (args[nargs] != NULL)
		nargs++;
	if ((s->exe = strdup(o->worker_exe != NULL ? o->worker_exe :
	    "/proc/self/exe")) == NULL ||
	    (s->argv = calloc(nargs + 2, sizeof(char *))) == NULL ||
	    (s->envp = calloc(2, sizeof(char *))) == NULL)
		goto nomem;
	/* argv and environ: no secret ever; a minimal environment */
	if ((s->argv[0] = strdup(o->worker_exe != NULL ? o->worker_exe :
	    "execrpc-worker")) == NULL ||
	    (s->envp[0] = strdup("PATH=/usr/local/bin:/usr/bin:/bin")) == NULL)
		goto nomem;
	for (size_t i = 0; i < nargs; i++)
		if ((s->argv[i + 1] = strdup(args[i])) == NULL)
			goto nomem;
	if ((s->ctl_auth = xr_auth_new(&s->keys)) == NULL ||
	    (s->rpc_auth = xr_auth_new(&s->keys)) == NULL)
		goto nomem;
	s->ngroups = o->cfg->n_groups;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		gr->cfg = &o->cfg->groups[g];
		gr->n = gr->cfg->workers;
		if ((gr->w = calloc(gr->n, sizeof(*gr->w))) == NULL)
			goto nomem;
		for (uint32_t i = 0; i < gr->n; i++) {
			struct worker *w = &gr->w[i];

			w->sup = s;
			w->grp = gr;
			w->index = i;
			w->state = XR_WORKER_STOPPED;
			w->ctl_fd = -1;
			w->last_exit_status = -1;
			evtimer_assign(&w->timer, base, timer_cb, w);
		}
	}
	if ((s->wake = evtimer_new(base, wake_cb, s)) == NULL ||
	    (s->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, s)) == NULL ||
	    evsignal_add(s->sigchld, NULL) != 0)
		goto nomem;
	return s;
 nomem:
	xr_diag_set(d, XR_ERR_NOMEM, "supervisor: out of memory or no "
	    "event resources");
	xr_supervisor_free(s);
	return NULL;
}

int
xr_supervisor_start_groups(xr_supervisor *s, const char *const *names,
    size_t n, xr_diag *d)
{
	bool sel[XR_CFG_MAX_GROUPS];
	int r;

	if ((r = select_groups(s, names, n, sel, d)) != XR_OK)
		return r;
	if (s->stopping)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "a stop is in "
		    "progress");
	/* config order, whatever the order of `names` (BOOT-API-02) */
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!sel[g])
			continue;
		gr->started = true;
		for (uint32_t i = 0; i < gr->n; i++) {
			fsm(&gr->w[i], E_START, 0);
			if (gr->w[i].state == XR_WORKER_FAILED &&
			    gr->w[i].err == XR_ERR_BOOTSTRAP_START_FAILED)
				return xr_diag_set(d,
				    XR_ERR_BOOTSTRAP_START_FAILED,
				    "%s[%u]: %s", gr->cfg->name, i,
				    gr->w[i].reason);
		}
	}
	return XR_OK;
}

int
xr_supervisor_wait_ready(xr_supervisor *s, uint32_t timeout_ms, xr_diag *d)
{
	bool any = false;
	int r;

	for (size_t g = 0; g < s->ngroups; g++)
		any = any || s->groups[g].started;
	if (!any)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
		    "no process group was started");
	r = loop_until(s, ready_check, d, xr_mono_ms() + timeout_ms);
	if (r == 1)
		return XR_OK;
	if (r < 0)
		return r;
	for (size_t g = 0; g < s->ngroups; g++)
		for (uint32_t i = 0; s->groups[g].started && i < s->groups[g].n;
		    i++)
			if (s->groups[g].w[i].state != XR_WORKER_READY)
				return xr_diag_set(d, XR_ERR_READY_TIMEOUT,
				    "%s[%u] not ready within %u ms (state %s)",
				    s->groups[g].cfg->name, i, timeout_ms,
				    xr_worker_state_name(s->groups[g].w[i].state));
	return xr_diag_set(d, XR_ERR_READY_TIMEOUT, "not ready within %u ms",
	    timeout_ms);
}

/* The result of a completed round for the blocking callers. */
static int
round_result(xr_supervisor *s, xr_diag *d)
{
	char names[200] = "";
	size_t off = 0;
	bool forced = false;

	for (size_t i = 0; i < s->nevents; i++) {
		if (s->events[i].mode != XR_STOP_FORCED)
			continue;
		forced = true;
		if (off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off,
			    "%s%s", off > 0 ? ", " : "", s->events[i].group);
	}
	if (!forced)
		return XR_OK;
	return xr_diag_set(d, XR_ERR_STOP_TIMEOUT, "forced stop (SIGKILL) of "
	    "group(s): %s", names);
}

/* The latest kill deadline of the round (a joined round may hold groups
 * with an earlier, longer timeout), plus the reap grace. */
static uint64_t
round_wait_deadline(const xr_supervisor *s)
{
	uint64_t at = s->stop_deadline;

	for (size_t g = 0; g < s->ngroups; g++)
		for (uint32_t i = 0; s->groups[g].in_stop && i < s->groups[g].n;
		    i++)
			if (s->groups[g].w[i].state == XR_WORKER_STOPPING &&
			    s->groups[g].w[i].deadline_ms > at)
				at = s->groups[g].w[i].deadline_ms;
	return at + REAP_GRACE_MS;
}

int
xr_supervisor_stop_groups(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight, xr_diag *d)
{
	int r;

	xr__sup_stop_begin(s, graceful_timeout_ms, drain_inflight, false);
	r = loop_until(s, round_check, NULL, round_wait_deadline(s));
	if (r < 0)
		return xr_diag_set(d, r, "event loop failed");
	if (r == 0)
		return xr_diag_set(d, XR_ERR_STOP_FAILED, "workers not reaped "
		    "within %d ms of their SIGKILL", REAP_GRACE_MS);
	return round_result(s, d);
}

int
xr_supervisor_force_terminate_groups(xr_supervisor *s,
    const char *const *names, size_t n)
{
	bool sel[XR_CFG_MAX_GROUPS];
	int r;

	if ((r = select_groups(s, names, n, sel, NULL)) != XR_OK)
		return r;
	if (!s->stopping) {
		round_open(s, 0, false);
		s->stop_deadline = xr_mono_ms();
	}
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!sel[g] || (!gr->in_stop && !group_running(gr))) {
			sel[g] = false;
			continue;
		}
		gr->in_stop = true;
		for (uint32_t i = 0; i < gr->n; i++)
			fsm(&gr->w[i], E_KILL, 0);
	}
	check_round(s);
	r = loop_until(s, groups_down_check, sel, xr_mono_ms() + REAP_GRACE_MS);
	return r == 1 ? XR_OK : r < 0 ? r : XR_ERR_STOP_FAILED;
}

int
xr_supervisor_stop_begin(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight)
{
	xr__sup_stop_begin(s, graceful_timeout_ms, drain_inflight, true);
	return XR_OK;
}

int
xr_supervisor_run(xr_supervisor *s, xr_diag *d)
{
	int r = loop_until(s, exit_check, NULL, 0);

	s->want_exit = false;
	if (r < 0)
		return xr_diag_set(d, r, "event loop failed");
	return XR_OK;
}

size_t
xr_supervisor_workers(const xr_supervisor *s, xr_worker_info *out, size_t cap)
{
	size_t k = 0;

	for (size_t g = 0; g < s->ngroups; g++)
		for (uint32_t i = 0; i < s->groups[g].n; i++, k++)
			if (k < cap)
				xr__sup_worker_info(&s->groups[g].w[i], &out[k]);
	return k;
}

void
xr_supervisor_free(xr_supervisor *s)
{
	if (s == NULL)
		return;
	xr__ctl_shutdown(s);
	/* forced stop of anything still running: SIGKILL, then a blocking
	 * reap, so no zombie and no orphan is left behind */
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];
		bool had = false;

		for (uint32_t i = 0; gr->w != NULL && i < gr->n; i++) {
			struct worker *w = &gr->w[i];
			int st;

			event_del(&w->timer);
			if (w->pid > 0) {
				had = true;
				if (kill(-w->pid, SIGKILL) != 0)
					kill(w->pid, SIGKILL);
				while (waitpid(w->pid, &st, 0) < 0 &&
				    errno == EINTR)
					;
				w->pid = 0;
			}
			ctl_close(w);
			w->state = XR_WORKER_STOPPED;
		}
		if (had || gr->in_stop) {
			gr->forced = true;
			emit_stop_event(s, gr);
		}
		free(gr->w);
	}
	if (s->sigchld != NULL)
		event_free(s->sigchld);
	if (s->wake != NULL)
		event_free(s->wake);
	xr_auth_free(s->ctl_auth);
	xr_auth_free(s->rpc_auth);
	if (s->argv != NULL)
		for (size_t i = 0; s->argv[i] != NULL; i++)
			free(s->argv[i]);
	free(s->argv);
	if (s->envp != NULL)
		free(s->envp[0]);
	free(s->envp);
	free(s->exe);
	xr_keyset_wipe(&s->keys);
	free(s);
}
