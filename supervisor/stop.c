/*
 * supervisor/stop.c — stop rounds: every running group gets STOP with one
 * absolute deadline, workers not gone by then are SIGKILLed (fsm.c), and
 * each group of the round gets exactly one stop event, graceful or forced.
 */
#include "supervisor_priv.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "rx.h"

bool
xr__sup_group_running(const struct group *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->w[i].state != XR_WORKER_STOPPED &&
		    g->w[i].state != XR_WORKER_FAILED)
			return true;
	return false;
}

void
xr__sup_emit_stop_event(xr_supervisor *s, struct group *g)
{
	xr_stop_mode mode = g->forced ? XR_STOP_FORCED : XR_STOP_GRACEFUL;

	g->in_stop = false;
	g->deferred = false;
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

/*
 * The round's second phase: once no ingress group of the round is still
 * running, the deferred (execution) groups get STOP with a deadline of
 * their own (now + the round's timeout). True if it began now.
 */
static bool
release_deferred(xr_supervisor *s)
{
	bool any = false;

	for (size_t g = 0; g < s->ngroups; g++)
		if (s->groups[g].in_stop && xr__sup_is_ingress(&s->groups[g]))
			return false;
	for (size_t g = 0; g < s->ngroups; g++)
		any |= s->groups[g].deferred;
	if (!any)
		return false;
	s->stop_deadline = xr_mono_ms() + s->stop_timeout_ms;
	s->in_release = true;	/* the STOPs below re-enter check_round */
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!gr->deferred)
			continue;
		gr->deferred = false;
		for (uint32_t i = 0; i < gr->n; i++)
			(void)xr__sup_fsm(&gr->w[i], XR_SUP_EV_STOP, 0);
	}
	s->in_release = false;
	return true;
}

void
xr__sup_check_round(xr_supervisor *s)
{
	bool left = false;

	if (!s->stopping || s->in_release)
		return;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!gr->in_stop)
			continue;
		if (xr__sup_group_running(gr))
			left = true;
		else
			xr__sup_emit_stop_event(s, gr);
	}
	if (release_deferred(s)) {
		xr__sup_check_round(s);	/* a released group may be done */
		return;
	}
	if (left || !s->stopping)
		return;
	s->stopping = false;
	if (s->exit_on_done)
		s->want_exit = true;
	s->exit_on_done = false;
	xr__ctl_round_done(s);
}

void
xr__sup_round_open(xr_supervisor *s, uint32_t graceful_timeout_ms, bool drain)
{
	if (!s->stopping) {
		s->stopping = true;
		s->nevents = 0;
	}
	s->stop_deadline = xr_mono_ms() + graceful_timeout_ms;
	s->stop_timeout_ms = graceful_timeout_ms;
	s->stop_drain = drain;
}

/*
 * Ingress groups stop first: while one of the round is running, the
 * execution groups joining it are deferred (release_deferred), so a web
 * process finishes its requests against workers that still serve.
 */
void
xr__sup_stop_begin(xr_supervisor *s, uint32_t graceful_timeout_ms,
    bool drain_inflight, bool exit_on_done)
{
	bool web = false;

	xr__sup_round_open(s, graceful_timeout_ms, drain_inflight);
	if (exit_on_done)
		s->exit_on_done = true;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (gr->in_stop || !xr__sup_group_running(gr))
			continue;
		gr->in_stop = true;
		gr->forced = false;
	}
	for (size_t g = 0; g < s->ngroups; g++)
		web |= s->groups[g].in_stop &&
		    xr__sup_is_ingress(&s->groups[g]);
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!gr->in_stop || gr->deferred)
			continue;
		if (web && !xr__sup_is_ingress(gr)) {
			gr->deferred = true;
			continue;
		}
		for (uint32_t i = 0; i < gr->n; i++)
			(void)xr__sup_fsm(&gr->w[i], XR_SUP_EV_STOP, 0);
	}
	xr__sup_check_round(s);
}

void
xr__sup_kill_groups(xr_supervisor *s, bool sel[XR_CFG_MAX_GROUPS])
{
	if (!s->stopping) {
		xr__sup_round_open(s, 0, false);
		s->stop_deadline = xr_mono_ms();
	}
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!sel[g] || (!gr->in_stop && !xr__sup_group_running(gr))) {
			sel[g] = false;
			continue;
		}
		gr->in_stop = true;
		gr->deferred = false;
		for (uint32_t i = 0; i < gr->n; i++)
			(void)xr__sup_fsm(&gr->w[i], XR_SUP_EV_KILL, 0);
	}
	xr__sup_check_round(s);
}

void
xr__sup_drain_group(xr_supervisor *s, struct group *g)
{
	(void)s;
	if (xr__sup_is_ingress(g))	/* a web process takes STOP only */
		return;
	for (uint32_t i = 0; i < g->n; i++)
		(void)xr__sup_fsm(&g->w[i], XR_SUP_EV_DRAIN, 0);
}

int
xr__sup_round_result(xr_supervisor *s, xr_diag *d)
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

/* A joined round may hold groups with an earlier, longer timeout: the
 * latest kill deadline counts, plus the reap timeout. */
uint64_t
xr__sup_round_wait_deadline(const xr_supervisor *s)
{
	uint64_t at = s->stop_deadline;

	/* a second phase to come: its timeout and reap time on top */
	for (size_t g = 0; g < s->ngroups; g++)
		if (s->groups[g].deferred) {
			at += s->reap_grace_ms + s->stop_timeout_ms;
			break;
		}

	for (size_t g = 0; g < s->ngroups; g++)
		for (uint32_t i = 0; s->groups[g].in_stop && i < s->groups[g].n;
		    i++)
			if (s->groups[g].w[i].state == XR_WORKER_STOPPING &&
			    s->groups[g].w[i].deadline_ms > at)
				at = s->groups[g].w[i].deadline_ms;
	return at + s->reap_grace_ms;
}
