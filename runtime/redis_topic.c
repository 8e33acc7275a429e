/* runtime/redis_topic.c — topic members of the redis_streams profile: a
 * worker's own topic stream and its beat in the member set, and the
 * ingress's view of the live members (runtime/redis_topic.h). */
#include "redis_topic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "log.h"

#define TOPIC_KEY_MAX	(XR_CFG_NAME_MAX * 2 + 16)

static void
beat_timer(struct event *ev)
{
	struct timeval tv = { 0, XR_REDIS_MEMBER_BEAT_MS * 1000 };

	event_add(ev, &tv);
}

/* ---------- the worker side ---------- */

struct xr_redis_member {
	xr_redis_worker *reader;	/* the member's own stream */
	xr_rconn *conn;			/* the beats */
	struct event *beat;
	char set_key[TOPIC_KEY_MAX];	/* P:GROUP:members */
	char name[XR_CFG_NAME_MAX];	/* GROUP:topic:CONSUMER */
};

static void
member_beat(evutil_socket_t fd, short what, void *arg)
{
	xr_redis_member *m = arg;
	redisAsyncContext *ac = xr_rconn_ctx(m->conn);

	(void)fd;
	(void)what;
	if (ac != NULL)
		redisAsyncCommand(ac, NULL, NULL, "ZADD %s %llu %s", m->set_key,
		    (unsigned long long)xr_now_ms(), m->name);
	beat_timer(m->beat);
}

static void
member_up(void *arg)
{
	member_beat(-1, 0, arg);	/* a member at once, not a beat later */
}

xr_redis_member *
xr_redis_member_new(struct event_base *base, const xr_redis_opts *o,
    const xr_keyset *ks, xr_registry *reg, const char *group,
    const char *consumer, xr_diag *d)
{
	xr_redis_member *m = calloc(1, sizeof(*m));
	xr_rconn_cbs cbs = { member_up, NULL, m };
	xr_keyset mk;
	int n;

	if (m == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "redis topic: out of memory");
		return NULL;
	}
	n = snprintf(m->name, sizeof(m->name), "%s:topic:%s", group,
	    consumer);
	if (n < 0 || (size_t)n >= sizeof(m->name)) {
		free(m);
		xr_diag_set(d, XR_ERR_INVALID_ARG, "redis topic: group and "
		    "consumer names too long for a topic stream");
		return NULL;
	}
	snprintf(m->set_key, sizeof(m->set_key), "%s:%s:members",
	    o->rc.stream_prefix, group);
	if ((m->beat = evtimer_new(base, member_beat, m)) == NULL) {
		free(m);
		xr_diag_set(d, XR_ERR_NOMEM, "redis topic: out of memory");
		return NULL;
	}
	/* the topic stream is a target of its own at the ingress, signed
	 * with the keys of its name (xr_keys_group("GROUP:topic:CONSUMER")) */
	if ((n = xr_keys_group(ks, m->name, &mk)) != XR_OK) {
		xr_redis_member_free(m);
		xr_diag_set(d, n, "redis topic: cannot derive the keys of %s",
		    m->name);
		return NULL;
	}
	m->reader = xr_redis_worker_new(base, o, &mk, reg, m->name, -1,
	    consumer, d);
	xr_keyset_wipe(&mk);
	if (m->reader == NULL ||
	    (m->conn = xr_rconn_new(base, &o->rc, &cbs, d)) == NULL) {
		xr_redis_member_free(m);
		return NULL;
	}
	beat_timer(m->beat);
	return m;
}

void
xr_redis_member_stats_get(const xr_redis_member *m,
    xr_redis_worker_stats *out)
{
	xr_redis_worker_stats_get(m->reader, out);
}

void
xr_redis_member_free(xr_redis_member *m)
{
	redisAsyncContext *ac;

	if (m == NULL)
		return;
	if (m->conn != NULL && (ac = xr_rconn_ctx(m->conn)) != NULL)
		redisAsyncCommand(ac, NULL, NULL, "ZREM %s %s", m->set_key,
		    m->name);
	xr_rconn_free(m->conn);
	xr_redis_worker_free(m->reader);
	if (m->beat != NULL)
		event_free(m->beat);
	free(m);
}

/* ---------- the ingress side ---------- */

struct mgroup {
	char group[XR_CFG_NAME_MAX];
	char set_key[TOPIC_KEY_MAX];
	size_t n;
	char names[XR_REDIS_MEMBERS_MAX][XR_CFG_NAME_MAX];
	bool reading;
};

struct xr_redis_members {
	xr_redis_cfg rc;
	xr_rconn *conn;
	struct event *beat;
	size_t n;
	struct mgroup g[XR_CFG_MAX_GROUPS];
};

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
members_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mgroup *g = priv;
	redisReply *rep = r;

	(void)ac;
	g->reading = false;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return;		/* keep the last view */
	g->n = 0;
	for (size_t i = 0; i < rep->elements && g->n < XR_REDIS_MEMBERS_MAX;
	    i++)
		if (rep->element[i]->type == REDIS_REPLY_STRING &&
		    rep->element[i]->len < XR_CFG_NAME_MAX)
			snprintf(g->names[g->n++], XR_CFG_NAME_MAX, "%s",
			    rep->element[i]->str);
	qsort(g->names, g->n, XR_CFG_NAME_MAX, name_cmp);
}

static void
members_read(xr_redis_members *ms)
{
	redisAsyncContext *ac = xr_rconn_ctx(ms->conn);
	unsigned long long now = xr_now_ms();

	if (ac == NULL)
		return;
	for (size_t i = 0; i < ms->n; i++) {
		struct mgroup *g = &ms->g[i];

		if (g->reading)
			continue;
		/* members gone for long (killed: no ZREM) are dropped */
		redisAsyncCommand(ac, NULL, NULL, "ZREMRANGEBYSCORE %s -inf %llu",
		    g->set_key, now > 60000 ? now - 60000 : 0);
		if (redisAsyncCommand(ac, members_cb, g, "ZRANGEBYSCORE %s %llu "
		    "+inf", g->set_key, now > XR_REDIS_MEMBER_LIVE_MS ? now -
		    XR_REDIS_MEMBER_LIVE_MS : 0) == REDIS_OK)
			g->reading = true;
	}
}

static void
members_beat(evutil_socket_t fd, short what, void *arg)
{
	xr_redis_members *ms = arg;

	(void)fd;
	(void)what;
	members_read(ms);
	beat_timer(ms->beat);
}

static void
members_down(void *arg)
{
	xr_redis_members *ms = arg;

	for (size_t i = 0; i < ms->n; i++)
		ms->g[i].reading = false;
}

static void
members_up(void *arg)
{
	members_down(arg);
	members_read(arg);
}

xr_redis_members *
xr_redis_members_new(struct event_base *base, const xr_redis_opts *o,
    xr_diag *d)
{
	xr_redis_members *ms = calloc(1, sizeof(*ms));
	xr_rconn_cbs cbs = { members_up, members_down, ms };

	if (ms == NULL || (ms->beat = evtimer_new(base, members_beat,
	    ms)) == NULL) {
		free(ms);
		xr_diag_set(d, XR_ERR_NOMEM, "redis topic: out of memory");
		return NULL;
	}
	ms->rc = o->rc;
	if ((ms->conn = xr_rconn_new(base, &ms->rc, &cbs, d)) == NULL) {
		xr_redis_members_free(ms);
		return NULL;
	}
	beat_timer(ms->beat);
	return ms;
}

size_t
xr_redis_members_get(xr_redis_members *ms, const char *group,
    char names[][XR_CFG_NAME_MAX], size_t max)
{
	struct mgroup *g = NULL;
	size_t n;

	for (size_t i = 0; i < ms->n && g == NULL; i++)
		if (strcmp(ms->g[i].group, group) == 0)
			g = &ms->g[i];
	if (g == NULL) {
		if (ms->n == XR_CFG_MAX_GROUPS ||
		    strlen(group) >= XR_CFG_NAME_MAX)
			return 0;
		g = &ms->g[ms->n++];
		snprintf(g->group, sizeof(g->group), "%s", group);
		snprintf(g->set_key, sizeof(g->set_key), "%s:%s:members",
		    ms->rc.stream_prefix, group);
		members_read(ms);
		return 0;
	}
	n = g->n < max ? g->n : max;
	for (size_t i = 0; i < n; i++)
		memcpy(names[i], g->names[i], XR_CFG_NAME_MAX);
	return n;
}

void
xr_redis_members_free(xr_redis_members *ms)
{
	if (ms == NULL)
		return;
	xr_rconn_free(ms->conn);	/* callbacks get NULL: ms still valid */
	if (ms->beat != NULL)
		event_free(ms->beat);
	free(ms);
}
