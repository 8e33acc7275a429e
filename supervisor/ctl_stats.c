/*
 * supervisor/ctl_stats.c — the control socket's STATS command: ask every
 * serving worker of the selected groups for its counters over its signed
 * worker channel, and answer the CLI when the last has answered or at the
 * deadline (STATS_DEADLINE_MS); a worker that did not answer is reported
 * STATS_STATE_NO_ANSWER. The supervisor's loop never waits on a worker.
 */
#include "ctl_priv.h"

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "log.h"

#define STATS_DEADLINE_MS 1000	/* a STATS reply waits this long for workers */

/* The position of `w` among all workers (config order, then index). */
static size_t
worker_pos(const xr_supervisor *s, const struct sup_worker *w)
{
	size_t pos = 0;

	for (size_t g = 0; g < s->ngroups && &s->groups[g] != w->grp; g++)
		pos += s->groups[g].n;
	return pos + w->index;
}

static void
stats_finish(struct ctl_conn *c)
{
	evtimer_del(&c->stats_ev);
	c->stats_id = 0;	/* answers still coming are late: dropped */
	c->nwaiting = 0;
	xr__ctl_send_status(c, c->sel, true, false, XR_OK, NULL);
}

/* The deadline: workers that have not answered are reported without
 * counters (STATS_STATE_NO_ANSWER). */
void
xr__ctl_stats_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->stats_id != 0 && !c->dead)
		stats_finish(c);
}

/* Stop waiting for slot `pos` of `c`; the reply goes out with the last. */
static void
stats_settle(struct ctl_conn *c, size_t pos)
{
	if (c->stats_id == 0 || c->dead || pos >= c->nslots ||
	    !c->slots[pos].waiting)
		return;
	c->slots[pos].waiting = false;
	if (--c->nwaiting == 0)
		stats_finish(c);
}

/*
 * Ask every serving worker of the selected groups for its counters over its
 * worker channel (STATS{request_id}); the reply is sent by
 * xr__ctl_stats_reply() when the last has answered, or at the deadline.
 */
void
xr__ctl_stats_begin(struct ctl_conn *c, const bool *sel)
{
	xr_supervisor *s = c->s;
	Execrpc__V1__Command q = EXECRPC__V1__COMMAND__INIT;
	struct timeval tv = { STATS_DEADLINE_MS / 1000,
	    (STATS_DEADLINE_MS % 1000) * 1000 };
	size_t total = 0, pos = 0;

	for (size_t g = 0; g < s->ngroups; g++)
		total += s->groups[g].n;
	if ((c->slots = calloc(total + 1, sizeof(*c->slots))) == NULL) {
		xr__ctl_conn_close(c);
		return;
	}
	c->nslots = total;
	memcpy(c->sel, sel, sizeof(c->sel));
	c->stats_id = ++s->stats_seq;
	q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS;
	q.request_id = c->stats_id;
	for (size_t g = 0; g < s->ngroups; g++)
		for (uint32_t i = 0; i < s->groups[g].n; i++, pos++) {
			struct sup_worker *w = &s->groups[g].w[i];

			/* a web process has no endpoint counters */
			if (!sel[g] || xr__sup_is_ingress(&s->groups[g]) ||
			    (w->state != XR_WORKER_READY &&
			    w->state != XR_WORKER_DRAINING))
				continue;
			c->slots[pos].state = NO_ANSWER;
			if (xr__sup_send(w, &q) != XR_OK)
				continue;
			c->slots[pos].waiting = true;
			c->nwaiting++;
		}
	if (c->nwaiting == 0) {
		stats_finish(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	evtimer_add(&c->stats_ev, &tv);
}

void
xr__ctl_stats_reply(xr_supervisor *s, const struct sup_worker *w,
    const Execrpc__V1__Command *cmd)
{
	const Execrpc__V1__WorkerStatus *st = cmd->status;
	struct ctl_conn *c;
	struct stats_slot *sl;
	size_t pos = worker_pos(s, w);

	TAILQ_FOREACH(c, &s->ctl_conns, link)
		if (cmd->request_id != 0 && c->stats_id == cmd->request_id)
			break;
	if (c == NULL || c->dead || pos >= c->nslots ||
	    !c->slots[pos].waiting) {
		xr_debug("supervisor: %s[%u]: late stats reply %llu dropped",
		    w->grp->cfg->name, w->index,
		    (unsigned long long)cmd->request_id);
		return;
	}
	sl = &c->slots[pos];
	if (st != NULL) {
		sl->state = ANSWERED;
		sl->calls = st->calls;
		sl->calls_failed = st->calls_failed;
		sl->protocol_errors = st->protocol_errors;
		for (size_t i = 0; i < XR_REJECT_COUNT &&
		    i < st->n_rejects_by_kind; i++)
			sl->rejects[i] = st->rejects_by_kind[i];
	}
	stats_settle(c, pos);
}

void
xr__ctl_worker_gone(xr_supervisor *s, const struct sup_worker *w)
{
	struct ctl_conn *c;
	size_t pos = worker_pos(s, w);

	TAILQ_FOREACH(c, &s->ctl_conns, link)
		stats_settle(c, pos);
	xr__call_worker_gone(s, w);
}
