/* runtime/redis_probe.c — the figures `execrpc status` shows for the
 * request streams of each process group under redis_streams: read from
 * Redis every period, kept for the control socket (runtime/redis.h). */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "rx.h"		/* xr_mono_ms */

#define PROBE_MAX_CONSUMERS	256	/* per group; more are not shown */
#define PROBE_KEY_MAX		(XR_CFG_NAME_MAX * 2 + 24)

struct pconsumer {
	char name[XR_CFG_NAME_MAX + 32];
	uint64_t pending;
};

/* One group's figures: summed over its group stream and slot streams. */
struct pfig {
	bool known;
	uint64_t length, pending, consumers;
	int64_t lag;
	size_t n_cons;
	struct pconsumer cons[PROBE_MAX_CONSUMERS];
};

struct pgroup {
	struct xr_redis_probe *p;
	char name[XR_CFG_NAME_MAX];
	uint32_t workers;		/* slot streams 0..workers-1 */
	struct pfig cur, next;
	uint64_t at_ms;			/* when `cur` was complete */
	unsigned waiting;		/* replies of this round still out */
	bool failed;			/* a reply of this round failed */
};

struct xr_redis_probe {
	xr_redis_cfg rc;
	xr_rconn *c;
	struct event *tick;
	struct timeval period;
	size_t n;
	struct pgroup *g;
};

/* ---------- one round ---------- */

static void
round_reply_done(struct pgroup *g)
{
	if (--g->waiting > 0)
		return;
	if (!g->failed) {
		g->next.known = true;
		g->cur = g->next;
		g->at_ms = xr_mono_ms();
	}
}

static void
xlen_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct pgroup *g = priv;
	redisReply *rep = r;

	(void)ac;
	if (rep == NULL)
		return;		/* the connection went: the round is lost */
	if (rep->type == REDIS_REPLY_INTEGER)
		g->next.length += (uint64_t)rep->integer;
	else
		g->failed = true;
	round_reply_done(g);
}

/* The value of `name` in a flat field/value array, or NULL. */
static const redisReply *
map_get(const redisReply *m, const char *name)
{
	for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i + 1 < m->elements;
	    i += 2)
		if (m->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(m->element[i]->str, name) == 0)
			return m->element[i + 1];
	return NULL;
}

static void
xinfo_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct pgroup *g = priv;
	redisReply *rep = r;
	const redisReply *v;

	(void)ac;
	if (rep == NULL)
		return;
	if (rep->type != REDIS_REPLY_ARRAY) {
		/* no such key: a stream no worker made (yet): all zero */
		if (rep->type != REDIS_REPLY_ERROR ||
		    strstr(rep->str, "no such key") == NULL)
			g->failed = true;
		round_reply_done(g);
		return;
	}
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *m = rep->element[i];

		if ((v = map_get(m, "name")) == NULL ||
		    v->type != REDIS_REPLY_STRING ||
		    strcmp(v->str, g->name) != 0)
			continue;
		if ((v = map_get(m, "consumers")) != NULL &&
		    v->type == REDIS_REPLY_INTEGER)
			g->next.consumers += (uint64_t)v->integer;
		if ((v = map_get(m, "pending")) != NULL &&
		    v->type == REDIS_REPLY_INTEGER)
			g->next.pending += (uint64_t)v->integer;
		/* Redis 7: nil when it cannot tell */
		v = map_get(m, "lag");
		if (v == NULL || v->type != REDIS_REPLY_INTEGER)
			g->next.lag = -1;
		else if (g->next.lag >= 0)
			g->next.lag += v->integer;
	}
	round_reply_done(g);
}

static void
add_consumer(struct pfig *f, const char *name, uint64_t n)
{
	for (size_t i = 0; i < f->n_cons; i++)
		if (strcmp(f->cons[i].name, name) == 0) {
			f->cons[i].pending += n;
			return;
		}
	if (f->n_cons == PROBE_MAX_CONSUMERS ||
	    strlen(name) >= sizeof(f->cons[0].name))
		return;
	snprintf(f->cons[f->n_cons].name, sizeof(f->cons[0].name), "%s", name);
	f->cons[f->n_cons++].pending = n;
}

/* XPENDING KEY GROUP: [count, first, last, [[consumer, "n"], ...]] */
static void
xpending_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct pgroup *g = priv;
	redisReply *rep = r;
	const redisReply *list;

	(void)ac;
	if (rep == NULL)
		return;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 &&
	    (list = rep->element[3])->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < list->elements; i++) {
			const redisReply *e = list->element[i];

			if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
			    e->element[0]->type == REDIS_REPLY_STRING &&
			    e->element[1]->type == REDIS_REPLY_STRING)
				add_consumer(&g->next, e->element[0]->str,
				    strtoull(e->element[1]->str, NULL, 10));
		}
	} else if (rep->type == REDIS_REPLY_ERROR &&
	    strstr(rep->str, "NOGROUP") == NULL) {
		g->failed = true;
	}
	round_reply_done(g);
}

/* XLEN, XINFO GROUPS and XPENDING of `key` into g->next. */
static void
probe_stream(struct pgroup *g, redisAsyncContext *ac, const char *key)
{
	if (redisAsyncCommand(ac, xlen_cb, g, "XLEN %s", key) == REDIS_OK)
		g->waiting++;
	if (redisAsyncCommand(ac, xinfo_cb, g, "XINFO GROUPS %s", key) ==
	    REDIS_OK)
		g->waiting++;
	if (redisAsyncCommand(ac, xpending_cb, g, "XPENDING %s %s", key,
	    g->name) == REDIS_OK)
		g->waiting++;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_redis_probe *p = arg;
	redisAsyncContext *ac = xr_rconn_ctx(p->c);
	char key[PROBE_KEY_MAX];

	(void)fd;
	(void)what;
	evtimer_add(p->tick, &p->period);
	if (ac == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct pgroup *g = &p->g[i];

		if (g->waiting > 0)
			continue;	/* the last round is still out */
		memset(&g->next, 0, sizeof(g->next));
		g->failed = false;
		g->waiting = 1;	/* none completes the round early */
		snprintf(key, sizeof(key), "%s:%s:req", p->rc.stream_prefix,
		    g->name);
		probe_stream(g, ac, key);
		for (uint32_t k = 0; k < g->workers; k++) {
			snprintf(key, sizeof(key), "%s:%s:req:%u",
			    p->rc.stream_prefix, g->name, k);
			probe_stream(g, ac, key);
		}
		round_reply_done(g);
	}
}

/* A lost connection loses the rounds out: start again. */
static void
probe_down(void *arg)
{
	xr_redis_probe *p = arg;

	for (size_t i = 0; i < p->n; i++)
		p->g[i].waiting = 0;
}

/* ---------- the object ---------- */

xr_redis_probe *
xr_redis_probe_new(struct event_base *base, const xr_config *cfg,
    uint32_t period_ms, xr_diag *d)
{
	xr_redis_probe *p = calloc(1, sizeof(*p));
	xr_rconn_cbs cbs = { NULL, probe_down, p };

	if (p == NULL || (p->g = calloc(cfg->n_groups ? cfg->n_groups : 1,
	    sizeof(*p->g))) == NULL) {
		free(p);
		xr_diag_set(d, XR_ERR_NOMEM, "redis probe: out of memory");
		return NULL;
	}
	p->rc = cfg->redis;
	for (size_t i = 0; i < cfg->n_groups; i++) {
		if (cfg->groups[i].role == XR_ROLE_INGRESS)
			continue;
		p->g[p->n].p = p;
		snprintf(p->g[p->n].name, sizeof(p->g[0].name), "%s",
		    cfg->groups[i].name);
		p->g[p->n++].workers = cfg->boot_mode ==
		    XR_BOOT_PROCESS_SUPERVISOR ? cfg->groups[i].workers : 0;
	}
	p->period.tv_sec = period_ms / 1000;
	p->period.tv_usec = (period_ms % 1000) * 1000;
	if ((p->tick = evtimer_new(base, tick_cb, p)) == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "redis probe: out of memory");
		goto fail;
	}
	if ((p->c = xr_rconn_new(base, &p->rc, &cbs, d)) == NULL)
		goto fail;
	evtimer_add(p->tick, &p->period);
	return p;
 fail:
	xr_redis_probe_free(p);
	return NULL;
}

static const struct pgroup *
probe_group(const xr_redis_probe *p, const char *group)
{
	for (size_t i = 0; p != NULL && i < p->n; i++)
		if (strcmp(p->g[i].name, group) == 0)
			return &p->g[i];
	return NULL;
}

bool
xr_redis_probe_group(const xr_redis_probe *p, const char *group,
    xr_stream_figures *out)
{
	const struct pgroup *g = probe_group(p, group);

	if (g == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	snprintf(out->stream, sizeof(out->stream), "%s:%s:req",
	    p->rc.stream_prefix, group);
	out->known = g->cur.known;
	out->length = g->cur.length;
	out->lag = g->cur.lag;
	out->pending = g->cur.pending;
	out->consumers = g->cur.consumers;
	out->age_ms = g->cur.known ? xr_mono_ms() - g->at_ms : 0;
	return true;
}

bool
xr_redis_probe_consumer(const xr_redis_probe *p, const char *group,
    const char *consumer, uint64_t *pending)
{
	const struct pgroup *g = probe_group(p, group);

	*pending = 0;
	if (g == NULL || !g->cur.known)
		return false;
	for (size_t i = 0; i < g->cur.n_cons; i++)
		if (strcmp(g->cur.cons[i].name, consumer) == 0)
			*pending = g->cur.cons[i].pending;
	return true;
}

void
xr_redis_probe_free(xr_redis_probe *p)
{
	if (p == NULL)
		return;
	xr_rconn_free(p->c);	/* callbacks get NULL: nothing touched */
	if (p->tick != NULL)
		event_free(p->tick);
	free(p->g);
	free(p);
}
