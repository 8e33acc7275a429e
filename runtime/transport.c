/* runtime/transport.c — the runtime transport service: endpoint, channels,
 * routing by service, queue and topic bindings. */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmap.h"		/* xr_hash_fnv1a */
#include "log.h"
#include "loop.h"
#include "redis.h"	/* redis_streams */
#include "redis_topic.h"
#include "rx.h"		/* xr_mono_ms */

/*
 * Calls pending per channel, and per endpoint connection: one number for
 * both, so that the memory channel refuses the same call a tcp_local one
 * does (the latter also lowers it to the endpoint's HELLO_ACK value).
 */
#define XR_TRANSPORT_MAX_INFLIGHT	1024u

/* One worker as the ingress sees it. */
struct slot {
	xr_channel *ch;			/* NULL before its first up */
	uint16_t port;
	xr_keyset ks;			/* its endpoint's keys (wiped on free) */
	bool up;
	uint64_t revived_ms;		/* group_revive(): the last remake */
};

struct group;

struct xr_queue {
	xr_transport_svc *t;
	struct group *g;
};

/* redis_streams: a channel to one topic member's stream */
struct tmember {
	char name[XR_CFG_NAME_MAX];	/* GROUP:topic:CONSUMER */
	xr_channel *ch;
};

struct xr_topic {
	xr_transport_svc *t;
	struct group *g;
	size_t n_m;			/* redis_streams: member channels */
	struct tmember m[XR_REDIS_MEMBERS_MAX];
};

struct group {
	char name[XR_CFG_NAME_MAX];
	size_t n;			/* slots: workers, or 1 inline */
	struct slot *slots;
	size_t rr;			/* round-robin cursor */
	bool failed;			/* a worker is gone for good */
	xr_queue q;
	xr_topic tp;
};

/* A service and the group that hosts it (the first in config order). */
struct route {
	char service[XR_CFG_NAME_MAX + 64];
	struct group *g;
};

struct xr_transport_svc {
	struct event_base *base;
	int profile;			/* XR_TRANSPORT_* */
	xr_keyset ks;
	xr_channel_opts copts;		/* channels (memory: the limits) */
	char host[XR_CFG_HOST_MAX];	/* the endpoint's bind_host */
	xr_server_opts sopts;
	/* execution side */
	xr_registry *reg;		/* served */
	xr_local_target local;		/* memory */
	xr_server *srv;			/* tcp_local */
	/* redis_streams: the workers served here (one per group, inline),
	 * the ingress (made with the first channel) */
	xr_redis_opts ropts;
	size_t n_rworkers;
	xr_redis_worker **rworkers;
	xr_redis_member **rmembers;	/* their topic sides */
	xr_redis_ingress *ringress;
	xr_redis_members *rview;	/* topic members, made with the first
					 * topic binding */
	/* ingress side */
	size_t n_groups;
	struct group *groups;
	size_t n_routes;
	struct route *routes;
	bool ready, stopping;
	bool supervised;		/* bootstrap.mode process_supervisor */
	uint64_t revived;		/* channels made again (group_revive) */
};

/* ---------- resolution ---------- */

static int
add_route(xr_transport_svc *t, const char *service, struct group *g)
{
	for (size_t i = 0; i < t->n_routes; i++)
		if (strcmp(t->routes[i].service, service) == 0)
			return XR_OK;	/* an earlier group hosts it */
	if (strlen(service) >= sizeof(t->routes[0].service))
		return XR_ERR_INVALID_ARG;
	snprintf(t->routes[t->n_routes].service,
	    sizeof(t->routes[0].service), "%s", service);
	t->routes[t->n_routes++].g = g;
	return XR_OK;
}

static int
build_ingress(xr_transport_svc *t, const xr_config *cfg,
    const xr_service_module *mods, size_t n_mods, xr_diag *d)
{
	size_t cap = 0;
	int r;

	if ((t->groups = calloc(cfg->n_groups ? cfg->n_groups : 1,
	    sizeof(*t->groups))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "transport: out of memory");
	for (size_t i = 0; i < cfg->n_groups; i++)
		cap += cfg->groups[i].n_services ? cfg->groups[i].n_services :
		    n_mods;
	if ((t->routes = calloc(cap ? cap : 1, sizeof(*t->routes))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "transport: out of memory");
	for (size_t i = 0; i < cfg->n_groups; i++) {
		const xr_group_cfg *gc = &cfg->groups[i];
		struct group *g;

		if (gc->role == XR_ROLE_INGRESS)	/* hosts nothing */
			continue;
		g = &t->groups[t->n_groups++];

		size_t n = cfg->boot_mode == XR_BOOT_PROCESS_SUPERVISOR ?
		    gc->workers : 1;

		snprintf(g->name, sizeof(g->name), "%s", gc->name);
		if ((g->slots = calloc(n ? n : 1, sizeof(*g->slots))) == NULL)
			return xr_diag_set(d, XR_ERR_NOMEM,
			    "transport: out of memory");
		g->n = n ? n : 1;
		g->q.t = g->tp.t = t;
		g->q.g = g->tp.g = g;
		for (size_t s = 0; s < gc->n_services; s++)
			if ((r = add_route(t, gc->services[s], g)) != XR_OK)
				return xr_diag_set(d, r, "transport: service "
				    "name too long");
		if (gc->n_services == 0)	/* every module */
			for (size_t m = 0; m < n_mods; m++)
				if ((r = add_route(t, mods[m].name, g)) != XR_OK)
					return xr_diag_set(d, r, "transport: "
					    "service name too long");
	}
	return XR_OK;
}

xr_transport_svc *
xr_transport_new(struct event_base *base, const xr_config *cfg,
    const xr_keyset *ks, const xr_service_module *mods, size_t n_mods,
    xr_diag *d)
{
	xr_transport_svc *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "transport: out of memory");
		return NULL;
	}
	t->base = base;
	t->profile = cfg->transport;
	t->supervised = cfg->boot_mode == XR_BOOT_PROCESS_SUPERVISOR;
	t->ks = *ks;
	snprintf(t->host, sizeof(t->host), "%s", cfg->bind_host);
	t->sopts.bind_host = t->host;
	t->sopts.bind_port = (uint16_t)cfg->bind_port;
	t->sopts.max_payload_bytes = cfg->max_payload_bytes;
	t->sopts.ttl_seconds = cfg->ttl_seconds;
	t->sopts.nonce_cache_size = cfg->nonce_cache_size;
	t->sopts.max_inflight = XR_TRANSPORT_MAX_INFLIGHT;
	/* channels connect where the endpoints listen */
	t->copts.host = strcmp(t->host, "localhost") == 0 ? "127.0.0.1" :
	    t->host;
	t->copts.max_payload_bytes = cfg->max_payload_bytes;
	t->copts.ttl_seconds = cfg->ttl_seconds;
	t->copts.max_inflight = XR_TRANSPORT_MAX_INFLIGHT;
	t->copts.client_name = "ingress";
	xr_redis_opts_from(&t->ropts, cfg);
	if (build_ingress(t, cfg, mods, n_mods, d) != XR_OK) {
		xr_transport_free(t);
		return NULL;
	}
	return t;
}

int
xr_transport_profile(const xr_transport_svc *t)
{
	return t->profile;
}

static struct group *
find_group(const xr_transport_svc *t, const char *service)
{
	for (size_t i = 0; i < t->n_routes; i++)
		if (strcmp(t->routes[i].service, service) == 0)
			return t->routes[i].g;
	return NULL;
}

xr_queue *
xr_transport_queue(xr_transport_svc *t, const char *service, xr_diag *d)
{
	struct group *g = service != NULL ? find_group(t, service) : NULL;

	if (g == NULL) {
		xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
		    "no process group hosts service \"%s\"",
		    service != NULL ? service : "(null)");
		return NULL;
	}
	return &g->q;
}

xr_topic *
xr_transport_topic(xr_transport_svc *t, const char *service, xr_diag *d)
{
	xr_queue *q = xr_transport_queue(t, service, d);
	char none[1][XR_CFG_NAME_MAX];

	if (q == NULL || t->profile != XR_TRANSPORT_REDIS_STREAMS ||
	    t->supervised)
		return q != NULL ? &q->g->tp : NULL;
	/* redis_streams inline: watch the group's members from now on */
	if (t->rview == NULL &&
	    (t->rview = xr_redis_members_new(t->base, &t->ropts, d)) == NULL)
		return NULL;
	xr_redis_members_get(t->rview, q->g->name, none, 0);
	return &q->g->tp;
}

const char *
xr_queue_group(const xr_queue *q)
{
	return q->g->name;
}

const char *
xr_topic_group(const xr_topic *tp)
{
	return tp->g->name;
}

/* ---------- the execution side ---------- */

static int topic_member_new(xr_transport_svc *t, xr_registry *reg,
    size_t i, const char *consumer, xr_diag *d);
static void topic_close(xr_transport_svc *t);

/* redis_streams: a worker per group reads that group's stream, in this
 * process, on `reg` (consumer GROUP-0-PID), with the group's keys, and
 * its topic stream. */
static int
serve_redis(xr_transport_svc *t, xr_registry *reg, xr_diag *d)
{
	char consumer[XR_CFG_NAME_MAX + 32];
	xr_keyset gk;
	int r;

	if ((t->rworkers = calloc(t->n_groups ? t->n_groups : 1,
	    sizeof(*t->rworkers))) == NULL ||
	    (t->rmembers = calloc(t->n_groups ? t->n_groups : 1,
	    sizeof(*t->rmembers))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "transport: out of memory");
	for (size_t i = 0; i < t->n_groups; i++) {
		snprintf(consumer, sizeof(consumer), "%s-0-%ld",
		    t->groups[i].name, (long)getpid());
		if ((r = xr_keys_group(&t->ks, t->groups[i].name, &gk)) !=
		    XR_OK)
			return xr_diag_set(d, r, "transport: cannot derive "
			    "the keys of group %s", t->groups[i].name);
		t->rworkers[i] = xr_redis_worker_new(t->base, &t->ropts, &gk,
		    reg, t->groups[i].name, -1, consumer, d);
		xr_keyset_wipe(&gk);
		if (t->rworkers[i] == NULL)
			return d != NULL ? d->code : XR_ERR_NOMEM;
		t->n_rworkers = i + 1;
		if ((r = topic_member_new(t, reg, i, consumer, d)) != XR_OK)
			return r;
	}
	return XR_OK;
}

int
xr_transport_serve_stream(xr_transport_svc *t, xr_registry *reg,
    const char *group, uint32_t index, const char *consumer,
    void (*up)(void *), void *up_arg, xr_diag *d)
{
	if (t->profile != XR_TRANSPORT_REDIS_STREAMS || t->reg != NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "transport: not "
		    "redis_streams, or already serving");
	if ((t->rworkers = calloc(1, sizeof(*t->rworkers))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "transport: out of memory");
	t->reg = reg;
	/* the service's keys are the group's already (the bundle's) */
	if ((t->rworkers[0] = xr_redis_worker_new(t->base, &t->ropts, &t->ks,
	    reg, group, (int)index, consumer, d)) == NULL)
		return d != NULL ? d->code : XR_ERR_NOMEM;
	t->n_rworkers = 1;
	xr_redis_worker_on_up(t->rworkers[0], up, up_arg);
	return XR_OK;
}

/* The served stream readers drained (struct stream_drain counts them). */
struct stream_drain {
	size_t left;
	void (*done)(void *);
	void *arg;
};

static void
stream_drained(void *arg)
{
	struct stream_drain *sd = arg;

	if (--sd->left > 0)
		return;
	if (sd->done != NULL)
		sd->done(sd->arg);
	free(sd);
}

void
xr_transport_stream_drain(xr_transport_svc *t, void (*done)(void *),
    void *arg)
{
	struct stream_drain *sd;

	if (t->n_rworkers == 0 || done == NULL ||
	    (sd = calloc(1, sizeof(*sd))) == NULL) {
		for (size_t i = 0; i < t->n_rworkers; i++)
			xr_redis_worker_drain(t->rworkers[i], NULL, NULL);
		if (done != NULL)
			done(arg);
		return;
	}
	sd->left = t->n_rworkers + 1;	/* +1: none completes it early */
	sd->done = done;
	sd->arg = arg;
	for (size_t i = 0; i < t->n_rworkers; i++)
		xr_redis_worker_drain(t->rworkers[i], stream_drained, sd);
	stream_drained(sd);
}

/* redis_streams: a memory channel whose target is the ingress's for
 * `group` (the first group for NULL) and `slot` (-1: the group stream),
 * with the channels' limits. */
static xr_channel *
channel_redis(xr_transport_svc *t, const char *group, int slot, xr_diag *d)
{
	xr_local_target tgt;
	xr_channel *ch;

	if (group == NULL) {
		if (t->n_groups == 0) {
			xr_diag_set(d, XR_ERR_INVALID_ARG, "transport: no "
			    "process group");
			return NULL;
		}
		group = t->groups[0].name;
	}
	if (t->ringress == NULL &&
	    (t->ringress = xr_redis_ingress_new(t->base, &t->ropts, &t->ks,
	    d)) == NULL)
		return NULL;
	if (xr_redis_ingress_target(t->ringress, group, slot, &tgt, d) !=
	    XR_OK)
		return NULL;
	if ((ch = xr_channel_new_memory_opts(t->base, &tgt, &t->copts)) ==
	    NULL)
		xr_diag_set(d, XR_ERR_NOMEM, "transport: cannot create a "
		    "channel (%s)", xr_strerror(XR_ERR_NOMEM));
	return ch;
}

int
xr_transport_redis_stats(const xr_transport_svc *t,
    xr_redis_worker_stats *w, xr_redis_ingress_stats *in)
{
	xr_redis_worker_stats one;

	memset(w, 0, sizeof(*w));
	memset(in, 0, sizeof(*in));
	if (t->profile != XR_TRANSPORT_REDIS_STREAMS)
		return XR_ERR_INVALID_ARG;
	for (size_t i = 0; i < 2 * t->n_rworkers; i++) {
		if (i < t->n_rworkers)
			xr_redis_worker_stats_get(t->rworkers[i], &one);
		else if (t->rmembers != NULL &&
		    t->rmembers[i - t->n_rworkers] != NULL)
			xr_redis_member_stats_get(
			    t->rmembers[i - t->n_rworkers], &one);
		else
			continue;
		w->entries += one.entries;
		w->claimed += one.claimed;
		w->runs += one.runs;
		w->aborted += one.aborted;
		w->expired_deadline += one.expired_deadline;
		w->replies += one.replies;
		w->acked += one.acked;
		w->redis_errors += one.redis_errors;
		w->rx.accepted += one.rx.accepted;
		for (int k = 0; k < XR_REJECT_COUNT; k++)
			w->rx.rejects[k] += one.rx.rejects[k];
	}
	if (t->ringress != NULL)
		xr_redis_ingress_stats_get(t->ringress, in);
	return XR_OK;
}

int
xr_transport_serve(xr_transport_svc *t, xr_registry *reg, xr_diag *d)
{
	if (t->reg != NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG,
		    "transport: already serving");
	t->reg = reg;
	if (t->profile == XR_TRANSPORT_MEMORY) {
		t->local = xr_registry_local_target(reg);
		return XR_OK;
	}
	if (t->profile == XR_TRANSPORT_REDIS_STREAMS)
		return serve_redis(t, reg, d);
	if ((t->srv = xr_server_new(t->base, &t->sopts, &t->ks, reg,
	    d)) == NULL)
		return d != NULL ? d->code : XR_ERR_INTERNAL;
	return xr_server_listen(t->srv, d);
}

uint16_t
xr_transport_port(const xr_transport_svc *t)
{
	return t->srv != NULL ? xr_server_port(t->srv) : 0;
}

xr_server *
xr_transport_server(const xr_transport_svc *t)
{
	return t->srv;
}

void
xr_transport_drain(xr_transport_svc *t, void (*done)(void *), void *arg)
{
	if (t->srv != NULL)
		xr_server_drain(t->srv, done, arg);
	else if (done != NULL)
		done(arg);
}

/* ---------- channels ---------- */

/* A channel of the active profile; tcp_local ones sign with `ks`. */
static xr_channel *
channel_keys(xr_transport_svc *t, uint16_t port, const xr_keyset *ks,
    xr_diag *d)
{
	xr_channel_opts co = t->copts;
	xr_channel *ch;
	int err = XR_ERR_NOMEM;

	if (t->profile == XR_TRANSPORT_MEMORY) {
		if (t->reg == NULL) {
			xr_diag_set(d, XR_ERR_INVALID_ARG, "transport: memory "
			    "channel with no registry served here");
			return NULL;
		}
		/* the same limits as a tcp_local channel and endpoint:
		 * max_payload_bytes both ways, max_inflight */
		ch = xr_channel_new_memory_opts(t->base, &t->local, &co);
	} else {
		if (port == 0 && t->srv == NULL) {
			xr_diag_set(d, XR_ERR_INVALID_ARG, "transport: channel "
			    "to port 0 with no endpoint served here");
			return NULL;
		}
		co.port = port != 0 ? port : xr_server_port(t->srv);
		ch = xr_channel_new_tcp(t->base, &co, ks, &err);
	}
	if (ch == NULL)
		xr_diag_set(d, err, "transport: cannot create a channel (%s)",
		    xr_strerror(err));
	return ch;
}

xr_channel *
xr_transport_channel(xr_transport_svc *t, uint16_t port, xr_diag *d)
{
	if (t->profile == XR_TRANSPORT_REDIS_STREAMS)
		return channel_redis(t, NULL, -1, d);
	return channel_keys(t, port, &t->ks, d);
}

/* ---------- the ingress side ---------- */

/* redis_streams: the stream of worker slot `index`: its own slot stream
 * under process_supervisor (a worker process per slot), else the group
 * stream (-1). */
static int
slot_stream(const xr_transport_svc *t, uint32_t index)
{
	return t->supervised ? (int)index : -1;
}

/* A new channel to worker slot `s` (`index` of `group`): its slot stream
 * under redis_streams, else its port with its endpoint keys. */
static xr_channel *
slot_channel(xr_transport_svc *t, const char *group, uint32_t index,
    const struct slot *s, xr_diag *d)
{
	if (t->profile == XR_TRANSPORT_REDIS_STREAMS)
		return channel_redis(t, group, slot_stream(t, index), d);
	return channel_keys(t, s->port, &s->ks, d);
}

static struct slot *
find_slot(xr_transport_svc *t, const char *group, uint32_t index,
    struct group **gp)
{
	for (size_t i = 0; i < t->n_groups; i++)
		if (strcmp(t->groups[i].name, group) == 0) {
			if (index >= t->groups[i].n)
				return NULL;
			if (gp != NULL)
				*gp = &t->groups[i];
			return &t->groups[i].slots[index];
		}
	return NULL;
}

static bool
same_keys(const xr_keyset *a, const xr_keyset *b)
{
	if (a->kdf != b->kdf)
		return false;
	for (int d = 0; d < XR_DIR_COUNT; d++)
		if (a->k[d].len != b->k[d].len ||
		    memcmp(a->k[d].b, b->k[d].b, a->k[d].len) != 0)
			return false;
	return true;
}

int
xr_transport_worker_up(xr_transport_svc *t, const char *group,
    uint32_t index, uint16_t port, const xr_keyset *ks, xr_diag *d)
{
	struct slot *s = find_slot(t, group, index, NULL);

	if (s == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "transport: no "
		    "worker %s[%u]", group, index);
	if (t->stopping)
		return XR_OK;
	if (ks == NULL)
		ks = &t->ks;
	/* another process (a new generation) has other keys */
	if (s->ch == NULL || s->port != port || !xr_channel_is_usable(s->ch) ||
	    !same_keys(&s->ks, ks)) {
		xr_channel_free(s->ch);
		xr_keyset_wipe(&s->ks);
		s->port = port;
		s->ks = *ks;
		if ((s->ch = slot_channel(t, group, index, s, d)) == NULL) {
			s->up = false;
			return d != NULL ? d->code : XR_ERR_NOMEM;
		}
	}
	s->up = true;
	xr_debug("transport: worker %s[%u] up at port %u", group, index,
	    (unsigned)port);
	return XR_OK;
}

xr_channel *
xr_transport_worker_channel(xr_transport_svc *t, const char *group,
    uint32_t index, xr_diag *d)
{
	struct slot *s = find_slot(t, group, index, NULL);

	if (s == NULL || s->ch == NULL) {
		xr_diag_set(d, XR_ERR_INVALID_ARG, "transport: no worker "
		    "%s[%u] was up", group != NULL ? group : "(null)", index);
		return NULL;
	}
	return slot_channel(t, group, index, s, d);
}

void
xr_transport_worker_down(xr_transport_svc *t, const char *group,
    uint32_t index, bool permanent)
{
	struct group *g;
	struct slot *s = find_slot(t, group, index, &g);

	if (s == NULL)
		return;
	s->up = false;
	if (permanent)
		g->failed = true;
	xr_debug("transport: worker %s[%u] down%s", group, index,
	    permanent ? " for good" : "");
}

/* A closed channel to an up worker is made again at most this often. */
#define XR_REVIVE_MS 100u

/*
 * A channel to an up worker that closed (the endpoint closes a connection
 * idle for its idle timeout, 300 s by default; a reset) is made again when
 * the group is next picked from, as a gRPC channel goes from idle back to
 * connecting on its next call: a pick never skips a live worker, or moves
 * a key off it, for want of a connection. At most once per XR_REVIVE_MS a
 * slot, so a worker that refuses connections is not redialled per call.
 */
static void
group_revive(xr_transport_svc *t, struct group *g)
{
	uint64_t now = 0;

	for (size_t i = 0; i < g->n; i++) {
		struct slot *s = &g->slots[i];
		xr_channel *ch;

		if (!s->up || s->ch == NULL || xr_channel_is_usable(s->ch))
			continue;
		if (now == 0)
			now = xr_mono_ms();
		if (s->revived_ms != 0 && now - s->revived_ms < XR_REVIVE_MS)
			continue;
		s->revived_ms = now;
		if ((ch = slot_channel(t, g->name, (uint32_t)i, s, NULL)) ==
		    NULL)
			continue;
		xr_channel_free(s->ch);	/* closed: no call left on it */
		s->ch = ch;
		t->revived++;
		xr_debug("transport: channel to %s[%zu] made again", g->name,
		    i);
	}
}

uint64_t
xr_transport_channels_revived(const xr_transport_svc *t)
{
	return t->revived;
}

static bool
slot_usable(const struct slot *s)
{
	return s->up && s->ch != NULL && xr_channel_is_usable(s->ch);
}

static size_t
usable_slots(const struct group *g)
{
	size_t n = 0;

	for (size_t i = 0; i < g->n; i++)
		n += slot_usable(&g->slots[i]);
	return n;
}

static int
redis_up(void *arg)
{
	return xr_redis_ingress_up(arg);
}

int
xr_transport_ingress_ready(xr_transport_svc *t, uint32_t timeout_ms,
    xr_diag *d)
{
	uint64_t deadline = xr_mono_ms() + timeout_ms, now;
	xr_diag why = { 0 };
	int r;

	for (size_t i = 0; i < t->n_groups; i++) {
		struct group *g = &t->groups[i];

		for (size_t k = 0; k < g->n; k++) {
			if (!g->slots[k].up || g->slots[k].ch == NULL)
				continue;
			now = xr_mono_ms();
			r = xr_channel_wait_ready_diag(g->slots[k].ch,
			    deadline > now ? (uint32_t)(deadline - now) : 0,
			    &why);
			if (r != XR_OK)
				return xr_diag_set(d, r == XR_ERR_READY_TIMEOUT ?
				    r : XR_ERR_WORKER_FAILED, "ingress to "
				    "worker %s[%zu] not ready: %s", g->name, k,
				    why.reason);
		}
		if (usable_slots(g) == 0)
			return xr_diag_set(d, XR_ERR_WORKER_FAILED,
			    "no worker of group %s is usable", g->name);
	}
	if (t->ringress != NULL && (r = xr_loop_until(t->base, redis_up,
	    t->ringress, deadline)) != XR_OK)
		return xr_diag_set(d, XR_ERR_READY_TIMEOUT, "ingress: Redis "
		    "not reachable (redis_streams)");
	t->ready = !t->stopping;
	return XR_OK;
}

void
xr_transport_ingress_stop(xr_transport_svc *t)
{
	t->ready = false;
	t->stopping = true;
}

uint64_t
xr_transport_ingress_pending(const xr_transport_svc *t)
{
	xr_channel_stats st;
	uint64_t n = 0;

	for (size_t i = 0; i < t->n_groups; i++)
		for (size_t k = 0; k < t->groups[i].n; k++) {
			if (t->groups[i].slots[k].ch == NULL)
				continue;
			xr_channel_stats_get(t->groups[i].slots[k].ch, &st);
			n += st.calls_started - st.calls_ok - st.calls_failed;
		}
	return n;
}

void
xr_transport_close(xr_transport_svc *t)
{
	xr_transport_ingress_stop(t);
	for (size_t i = 0; i < t->n_groups; i++)
		for (size_t k = 0; k < t->groups[i].n; k++) {
			struct slot *s = &t->groups[i].slots[k];
			xr_channel *ch = s->ch;

			/* detach first: completions may run in here */
			s->ch = NULL;
			s->up = false;
			xr_channel_free(ch);
		}
	topic_close(t);
	xr_server_free(t->srv);
	t->srv = NULL;
	xr_redis_ingress_free(t->ringress);
	t->ringress = NULL;
	for (size_t i = 0; i < t->n_rworkers; i++) {
		if (t->rmembers != NULL)	/* inline only */
			xr_redis_member_free(t->rmembers[i]);
		xr_redis_worker_free(t->rworkers[i]);
	}
	t->n_rworkers = 0;
}

/* ---------- QUEUE ---------- */

xr_channel *
xr_queue_pick(xr_queue *q, const void *key, size_t key_len, int *err)
{
	struct group *g = q->g;
	size_t start;

	if (!q->t->ready) {
		*err = XR_ERR_LIFECYCLE_NOT_READY;
		return NULL;
	}
	group_revive(q->t, g);
	if (g->failed && usable_slots(g) < g->n) {
		*err = XR_ERR_WORKER_FAILED;
		return NULL;
	}
	start = key != NULL ? (size_t)(xr_hash_fnv1a(key, key_len) % g->n) :
	    g->rr++ % g->n;
	for (size_t i = 0; i < g->n; i++) {
		struct slot *s = &g->slots[(start + i) % g->n];

		if (slot_usable(s)) {
			*err = XR_OK;
			return s->ch;
		}
	}
	*err = XR_ERR_WORKER_FAILED;
	return NULL;
}

/* ---------- TOPIC ---------- */

struct publish;

struct delivery {
	struct publish *p;
	size_t i;
};

struct publish {
	xr_topic_done_fn done;
	void *arg;
	size_t n, left;
	bool starting;
	xr_topic_result *res;
	struct delivery *dl;
};

static void
publish_free(struct publish *p)
{
	for (size_t i = 0; i < p->n; i++)
		free((void *)(uintptr_t)p->res[i].resp);
	free(p->res);
	free(p->dl);
	free(p);
}

static void
delivery_cb(void *arg, const xr_status *st, const uint8_t *resp,
    size_t resp_len)
{
	struct delivery *dl = arg;
	struct publish *p = dl->p;
	xr_topic_result *r = &p->res[dl->i];
	uint8_t *copy;

	r->status = *st;
	if (st->code == XR_STATUS_OK && resp_len > 0) {
		if ((copy = malloc(resp_len)) == NULL) {
			r->status.code = XR_STATUS_RESOURCE_EXHAUSTED;
			snprintf(r->status.message, sizeof(r->status.message),
			    "out of memory for the response");
		} else {
			memcpy(copy, resp, resp_len);
			r->resp = copy;
			r->resp_len = resp_len;
		}
	}
	if (--p->left == 0 && !p->starting) {
		p->done(p->arg, p->res, p->n);
		publish_free(p);
	}
}

static struct publish *
publish_new(size_t n, xr_topic_done_fn done, void *arg)
{
	struct publish *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->res = calloc(n, sizeof(*p->res))) == NULL ||
	    (p->dl = calloc(n, sizeof(*p->dl))) == NULL) {
		if (p != NULL)
			free(p->res);
		free(p);
		return NULL;
	}
	p->done = done;
	p->arg = arg;
	p->n = p->left = n;
	p->starting = true;
	return p;
}

/* All deliveries started: if every one has its status already, done. */
static void
publish_started(struct publish *p)
{
	p->starting = false;
	if (p->left == 0) {
		p->done(p->arg, p->res, p->n);
		publish_free(p);
	}
}

/* ---- redis_streams: every live member of the group ---- */

/* The topic side of worker `consumer` of group i served here; a group
 * whose names are too long for a topic stream has none (warned). */
static int
topic_member_new(xr_transport_svc *t, xr_registry *reg, size_t i,
    const char *consumer, xr_diag *d)
{
	xr_diag md = { 0 };

	if ((t->rmembers[i] = xr_redis_member_new(t->base, &t->ropts, &t->ks,
	    reg, t->groups[i].name, consumer, &md)) != NULL)
		return XR_OK;
	if (md.code == XR_ERR_INVALID_ARG) {
		xr_warn("transport: group %s gets no topics: %s",
		    t->groups[i].name, md.reason);
		return XR_OK;
	}
	return xr_diag_set(d, md.code, "%s", md.reason);
}

/* The channel to member `name` of the topic's group (made once). */
static xr_channel *
topic_member_channel(xr_topic *tp, const char *name)
{
	struct tmember *m;

	for (size_t i = 0; i < tp->n_m; i++)
		if (strcmp(tp->m[i].name, name) == 0)
			return tp->m[i].ch;
	if (tp->n_m == XR_REDIS_MEMBERS_MAX)
		return NULL;
	m = &tp->m[tp->n_m];
	if ((m->ch = channel_redis(tp->t, name, -1, NULL)) == NULL)
		return NULL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	tp->n_m++;
	return m->ch;
}

static int
publish_redis(xr_topic *tp, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, xr_topic_done_fn done, void *arg)
{
	char names[XR_REDIS_MEMBERS_MAX][XR_CFG_NAME_MAX];
	xr_status st = { 0 };
	struct publish *p;
	size_t n = tp->t->rview == NULL ? 0 : xr_redis_members_get(
	    tp->t->rview, tp->g->name, names, XR_REDIS_MEMBERS_MAX);

	if (n == 0)
		return XR_ERR_WORKER_FAILED;
	if ((p = publish_new(n, done, arg)) == NULL)
		return XR_ERR_NOMEM;
	for (size_t k = 0; k < n; k++) {
		p->res[k].group = tp->g->name;
		p->res[k].index = (uint32_t)k;	/* in member name order */
		p->dl[k].p = p;
		p->dl[k].i = k;
	}
	for (size_t k = 0; k < n; k++) {
		xr_channel *ch = topic_member_channel(tp, names[k]);

		if (ch != NULL) {
			xr_call_start(ch, method, req, req_len, timeout_ms,
			    delivery_cb, &p->dl[k]);
			continue;
		}
		st.code = XR_STATUS_UNAVAILABLE;
		snprintf(st.message, sizeof(st.message), "redis_streams: no "
		    "channel to topic member %s", names[k]);
		delivery_cb(&p->dl[k], &st, NULL, 0);
	}
	publish_started(p);
	return XR_OK;
}

static void
topic_close(xr_transport_svc *t)
{
	for (size_t i = 0; i < t->n_groups; i++) {
		xr_topic *tp = &t->groups[i].tp;

		for (size_t k = 0; k < tp->n_m; k++) {
			xr_channel *ch = tp->m[k].ch;

			tp->m[k].ch = NULL;
			xr_channel_free(ch);
		}
		tp->n_m = 0;
	}
	xr_redis_members_free(t->rview);
	t->rview = NULL;
}

int
xr_topic_publish(xr_topic *tp, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, xr_topic_done_fn done, void *arg)
{
	struct group *g = tp->g;
	struct publish *p;
	size_t n, k = 0;

	if (!tp->t->ready)
		return XR_ERR_LIFECYCLE_NOT_READY;
	group_revive(tp->t, g);
	n = usable_slots(g);
	/* inline redis_streams: the members; supervised: the slots, each
	 * its worker's slot stream */
	if (tp->t->profile == XR_TRANSPORT_REDIS_STREAMS && !tp->t->supervised)
		return publish_redis(tp, method, req, req_len, timeout_ms,
		    done, arg);
	if (n == 0)
		return XR_ERR_WORKER_FAILED;
	if ((p = publish_new(n, done, arg)) == NULL)
		return XR_ERR_NOMEM;
	/* the targets are fixed before the first call: a call that
	 * completes at once cannot change the set */
	for (size_t i = 0; i < g->n && k < n; i++)
		if (slot_usable(&g->slots[i])) {
			p->res[k].group = g->name;
			p->res[k].index = (uint32_t)i;
			p->dl[k].p = p;
			p->dl[k].i = k;
			k++;
		}
	for (k = 0; k < n; k++)
		xr_call_start(g->slots[p->res[k].index].ch, method, req,
		    req_len, timeout_ms, delivery_cb, &p->dl[k]);
	publish_started(p);
	return XR_OK;
}

/* A blocking publish's context: on the heap, so that a loop failure can
 * leave it to the deliveries still pending (orphan: freed when done). */
struct sync_pub {
	bool done, orphan;
	xr_topic_result *res;
	size_t n;
};

static void
sync_done(void *arg, const xr_topic_result *res, size_t n)
{
	struct sync_pub *s = arg;

	s->done = true;
	if (s->orphan) {
		free(s);
		return;
	}
	if ((s->res = calloc(n ? n : 1, sizeof(*s->res))) == NULL)
		return;
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		s->res[i] = res[i];
		s->res[i].resp = NULL;
		if (res[i].resp_len > 0 &&
		    (s->res[i].resp = malloc(res[i].resp_len)) != NULL)
			memcpy((void *)(uintptr_t)s->res[i].resp, res[i].resp,
			    res[i].resp_len);
		else
			s->res[i].resp_len = 0;
	}
}

static int
sync_is_done(void *arg)
{
	return ((struct sync_pub *)arg)->done;
}

int
xr_topic_publish_sync(xr_topic *tp, const char *method,
    const uint8_t *req, size_t req_len, uint32_t timeout_ms,
    xr_topic_result **out, size_t *n)
{
	struct sync_pub *s;
	int r;

	*out = NULL;
	*n = 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return XR_ERR_NOMEM;
	if ((r = xr_topic_publish(tp, method, req, req_len, timeout_ms,
	    sync_done, s)) != XR_OK) {
		free(s);
		return r;
	}
	if ((r = xr_loop_until(tp->t->base, sync_is_done, s, 0)) != XR_OK) {
		s->orphan = true;	/* the pending deliveries free it */
		return XR_ERR_INTERNAL;
	}
	if (s->res == NULL) {
		free(s);
		return XR_ERR_NOMEM;
	}
	*out = s->res;
	*n = s->n;
	free(s);
	return XR_OK;
}

void
xr_topic_results_free(xr_topic_result *res, size_t n)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((void *)(uintptr_t)res[i].resp);
	free(res);
}

void
xr_transport_free(xr_transport_svc *t)
{
	if (t == NULL)
		return;
	xr_transport_close(t);
	for (size_t i = 0; i < t->n_groups; i++) {
		for (size_t k = 0; k < t->groups[i].n; k++)
			xr_keyset_wipe(&t->groups[i].slots[k].ks);
		free(t->groups[i].slots);
	}
	free(t->groups);
	free(t->routes);
	free(t->rworkers);
	free(t->rmembers);
	xr_keyset_wipe(&t->ks);
	free(t);
}
