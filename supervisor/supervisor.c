/*
 * supervisor/supervisor.c — the supervisor's public API: creating and
 * freeing it, starting groups, the waiting functions (each runs the base
 * until its condition or deadline) and the worker list. Spawning is in
 * spawn.c, the worker state machine in fsm.c, stop rounds in stop.c, the
 * control socket in ctl_server.c.
 */
#include "supervisor_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys.h"
#include "loop.h"
#include "proc.h"
#include "rx.h"

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

struct group *
xr__sup_group(xr_supervisor *s, const char *name)
{
	for (size_t g = 0; g < s->ngroups; g++)
		if (strcmp(s->groups[g].cfg->name, name) == 0)
			return &s->groups[g];
	return NULL;
}

/* ---------- waiting ---------- */

/* A waiting function's condition when it needs more than the supervisor. */
struct sup_wait {
	xr_supervisor *s;
	void *arg;
};

/* wait_ready's condition (arg: a sup_wait with the caller's xr_diag): 1 all
 * ready, an xr_err on a failure, 0 pending. */
static int
ready_check(void *arg)
{
	struct sup_wait *wt = arg;
	xr_supervisor *s = wt->s;
	xr_diag *d = wt->arg;
	bool pending = false;

	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!gr->started)
			continue;
		for (uint32_t i = 0; i < gr->n; i++) {
			struct sup_worker *w = &gr->w[i];

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

/* The stop round is over (arg: the supervisor). */
static int
round_check(void *arg)
{
	const xr_supervisor *s = arg;

	return s->stopping ? 0 : 1;
}

/* No selected group is still in a stop round (arg: a sup_wait with the
 * bool[XR_CFG_MAX_GROUPS] selection). */
static int
groups_down_check(void *arg)
{
	const struct sup_wait *wt = arg;
	const bool *sel = wt->arg;

	for (size_t g = 0; g < wt->s->ngroups; g++)
		if (sel[g] && wt->s->groups[g].in_stop)
			return 0;
	return 1;
}

/* run() may return (arg: the supervisor). */
static int
exit_check(void *arg)
{
	const xr_supervisor *s = arg;

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
	if (xr_proc_harden(0, d) != XR_OK)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	s->base = base;
	s->cfg = o->cfg;
	s->keys = *o->keys;
	/* endpoint keys of this instance differ from any other's, whatever
	 * the secret mode (a static secret outlives the supervisor) */
	if (xr_random_bytes(s->inst, sizeof(s->inst)) != XR_OK) {
		xr_keyset_wipe(&s->keys);
		free(s);
		xr_diag_set(d, XR_ERR_SYSTEM, "supervisor: getrandom failed");
		return NULL;
	}
	s->on_stop_event = o->on_stop_event;
	s->stop_arg = o->stop_arg;
	s->on_worker_event = o->on_worker_event;
	s->worker_arg = o->worker_arg;
	s->stream_group = o->stream_group;
	s->stream_consumer = o->stream_consumer;
	s->stream_arg = o->stream_arg;
	s->reap_grace_ms = o->reap_timeout_ms != 0 ? o->reap_timeout_ms :
	    XR_SUP_REAP_GRACE_MS;
	TAILQ_INIT(&s->ctl_conns);
	TAILQ_INIT(&s->calls);
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
	if ((s->ctl_auth = xr_auth_new(&s->keys)) == NULL)
		goto nomem;
	s->ngroups = o->cfg->n_groups;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		gr->cfg = &o->cfg->groups[g];
		gr->n = gr->cfg->workers;
		if ((gr->w = calloc(gr->n, sizeof(*gr->w))) == NULL)
			goto nomem;
		for (uint32_t i = 0; i < gr->n; i++) {
			struct sup_worker *w = &gr->w[i];

			w->sup = s;
			w->grp = gr;
			w->index = i;
			w->state = XR_WORKER_STOPPED;
			w->ctl_fd = -1;
			w->last_exit_status = -1;
			evtimer_assign(&w->timer, base, xr__sup_timer_cb,
			    w);
		}
	}
	if ((s->sigchld = evsignal_new(base, SIGCHLD,
	    xr__sup_sigchld_cb, s)) == NULL ||
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
			(void)xr__sup_fsm(&gr->w[i], XR_SUP_EV_START, 0);
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
	struct sup_wait wt = { s, d };
	bool any = false;
	int r;

	for (size_t g = 0; g < s->ngroups; g++)
		any = any || s->groups[g].started;
	if (!any)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
		    "no process group was started");
	r = xr_loop_until(s->base, ready_check, &wt,
	    xr_mono_ms() + timeout_ms);
	if (r != XR_ERR_AGAIN)
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

int
xr_supervisor_stop_groups(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight, xr_diag *d)
{
	int r;

	xr__sup_stop_begin(s, graceful_timeout_ms, drain_inflight, false);
	r = xr_loop_until(s->base, round_check, s,
	    xr__sup_round_wait_deadline(s));
	if (r == XR_ERR_AGAIN) {
		char names[200] = "";
		size_t off = 0;

		for (size_t g = 0; g < s->ngroups; g++)
			if (s->groups[g].in_stop && off < sizeof(names))
				off += (size_t)snprintf(names + off,
				    sizeof(names) - off, "%s%s", off > 0 ?
				    ", " : "", s->groups[g].cfg->name);
		return xr_diag_set(d, XR_ERR_STOP_FAILED, "group(s) %s: workers "
		    "not reaped within %u ms of their SIGKILL", names,
		    s->reap_grace_ms);
	}
	if (r != XR_OK)
		return xr_diag_set(d, r, "event loop failed");
	return xr__sup_round_result(s, d);
}

int
xr_supervisor_force_terminate_groups(xr_supervisor *s,
    const char *const *names, size_t n)
{
	bool sel[XR_CFG_MAX_GROUPS];
	struct sup_wait wt = { s, sel };
	int r;

	if ((r = select_groups(s, names, n, sel, NULL)) != XR_OK)
		return r;
	xr__sup_kill_groups(s, sel);
	r = xr_loop_until(s->base, groups_down_check, &wt,
	    xr_mono_ms() + s->reap_grace_ms);
	return r == XR_ERR_AGAIN ? XR_ERR_STOP_FAILED : r;
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
	int r = xr_loop_until(s->base, exit_check, s, 0);

	s->want_exit = false;
	if (r < 0)
		return xr_diag_set(d, r, "event loop failed");
	return XR_OK;
}

int
xr_supervisor_endpoint_keys(const xr_supervisor *s, const char *group,
    uint32_t index, uint32_t generation, xr_keyset *out)
{
	const struct group *g = NULL;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; group != NULL && i < s->ngroups && g == NULL; i++)
		if (strcmp(s->groups[i].cfg->name, group) == 0)
			g = &s->groups[i];
	if (g == NULL || index >= g->n || generation == 0)
		return XR_ERR_INVALID_ARG;
	return xr_keys_endpoint(&s->keys, s->inst, group, index, generation,
	    out);
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
	xr__sup_ingress_fini(s);
	/* forced stop of anything still running: SIGKILL, then a blocking
	 * reap, so no zombie and no orphan is left behind */
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];
		bool had = false;

		for (uint32_t i = 0; gr->w != NULL && i < gr->n; i++) {
			struct sup_worker *w = &gr->w[i];
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
			xr__sup_chan_close(w);
			w->state = XR_WORKER_STOPPED;
		}
		if (had || gr->in_stop) {
			gr->forced = true;
			xr__sup_emit_stop_event(s, gr);
		}
		free(gr->w);
	}
	if (s->sigchld != NULL)
		event_free(s->sigchld);
	xr_auth_free(s->ctl_auth);
	if (s->argv != NULL)
		for (size_t i = 0; s->argv[i] != NULL; i++)
			free(s->argv[i]);
	free(s->argv);
	if (s->envp != NULL)
		free(s->envp[0]);
	free(s->envp);
	free(s->exe);
	xr_keyset_wipe(&s->keys);
	xr_wipe(s->inst, sizeof(s->inst));
	free(s);
}
