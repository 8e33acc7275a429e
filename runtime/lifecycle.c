/* runtime/lifecycle.c — start/ready/stop/status for inline and
 * process_supervisor bootstrap modes, over one transport service. */
#include "lifecycle.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "redis.h"	/* xr_redis_probe */
#include "rx.h"		/* xr_mono_ms */

/* How long a supervised redis_streams stop reads on for the replies of
 * drained calls (collect_replies). */
#define XR_LC_REPLY_COLLECT_MS 2000u

struct xr_lifecycle {
	struct event_base *base;
	xr_lifecycle_opts o;
	const xr_config *cfg;
	xr_lc_state state;
	xr_registry *reg;		/* inline */
	xr_keyset ks;
	xr_log_secret_id key_ids[XR_DIR_COUNT];	/* ks, registered for
						 * log redaction */
	xr_transport_svc *transport;	/* every mode, after start */
	xr_supervisor *sup;		/* process_supervisor */
	xr_redis_probe *probe;		/* process_supervisor, redis_streams:
					 * the stream figures of STATUS */
	int stop_asked;			/* inline: xr_lifecycle_stop_begin() */
	int drained;			/* inline stop: the endpoint drained */
	int health;			/* the first worker event after ready,
					 * or the stop begun */
	char health_why[200];
};

static const char *const state_names[] = {
	[XR_LC_NEW] = "new",
	[XR_LC_STARTING] = "starting",
	[XR_LC_READY] = "ready",
	[XR_LC_STOPPING] = "stopping",
	[XR_LC_STOPPED] = "stopped",
	[XR_LC_FAILED] = "failed",
};

const char *
xr_lc_state_name(xr_lc_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[s];
}

static void
phase(xr_lifecycle *lc, const char *name)
{
	xr_debug("lifecycle: %s", name);
	if (lc->o.on_phase != NULL)
		lc->o.on_phase(lc->o.phase_arg, name);
}

static const xr_service_module *
find_module(const xr_lifecycle_opts *o, const char *name)
{
	for (size_t i = 0; i < o->n_mods; i++)
		if (strcmp(o->mods[i].name, name) == 0)
			return &o->mods[i];
	return NULL;
}

/* The module names of o->mods, ", "-separated, into buf (cut with "..."
 * where it does not fit); "none" for an empty table. */
static void
module_names(const xr_lifecycle_opts *o, char *buf, size_t cap)
{
	size_t len = 0;
	int n;

	snprintf(buf, cap, "%s", o->n_mods == 0 ? "none" : "");
	for (size_t i = 0; i < o->n_mods; i++) {
		n = snprintf(buf + len, cap - len, "%s%s", i > 0 ? ", " : "",
		    o->mods[i].name);
		if (n < 0 || (size_t)n >= cap - len) {
			snprintf(buf + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap,
			    "...");
			return;
		}
		len += (size_t)n;
	}
}

xr_lifecycle *
xr_lifecycle_new(struct event_base *base, const xr_lifecycle_opts *o,
    xr_diag *d)
{
	const xr_config *cfg = o->cfg;
	xr_lifecycle *lc;

	if (cfg == NULL || base == NULL) {
		xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
		    "lifecycle: no config or event base bound");
		return NULL;
	}
	if (cfg->boot_mode != XR_BOOT_INLINE &&
	    cfg->boot_mode != XR_BOOT_PROCESS_SUPERVISOR) {
		xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
		    "runtime.platform.bootstrap.mode: no lifecycle for mode %d "
		    "(allowed: inline, process_supervisor)", (int)cfg->boot_mode);
		return NULL;
	}
	if (cfg->boot_mode == XR_BOOT_PROCESS_SUPERVISOR &&
	    cfg->transport == XR_TRANSPORT_MEMORY) {
		xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
		    "runtime.platform.bootstrap.mode: process_supervisor needs "
		    "runtime.platform.execution_ipc.transport: tcp_local or "
		    "redis_streams");
		return NULL;
	}
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (cfg->boot_mode == XR_BOOT_PROCESS_SUPERVISOR &&
		    cfg->transport == XR_TRANSPORT_REDIS_STREAMS &&
		    cfg->groups[g].role == XR_ROLE_INGRESS) {
			xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
			    "runtime.platform.process_groups[%zu].role: "
			    "ingress needs transport tcp_local (a web process "
			    "under redis_streams is not in this version)", g);
			return NULL;
		}
	for (size_t g = 0; g < cfg->n_groups; g++)
		for (size_t s = 0; s < cfg->groups[g].n_services; s++)
			if (find_module(o, cfg->groups[g].services[s]) == NULL) {
				char have[200];

				module_names(o, have, sizeof(have));
				xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
				    "runtime.platform.process_groups[%zu]."
				    "services: no module provides \"%s\" (this "
				    "program contains: %s)", g,
				    cfg->groups[g].services[s], have);
				return NULL;
			}
	/* each module checks its apps section (absent: NULL) */
	for (size_t m = 0; m < o->n_mods; m++) {
		xr_diag ad = { 0 };

		if (o->mods[m].check_app != NULL &&
		    o->mods[m].check_app(xr_config_app(cfg, o->mods[m].app),
		    &ad) != XR_OK) {
			xr_diag_set(d, XR_ERR_CONFIG_INVALID, "%s", ad.reason);
			return NULL;
		}
	}
	if ((lc = calloc(1, sizeof(*lc))) == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "lifecycle: out of memory");
		return NULL;
	}
	lc->base = base;
	lc->o = *o;
	lc->cfg = cfg;
	for (size_t i = 0; i < o->n_ingress_services; i++)
		if (xr_lifecycle_route(lc, o->ingress_services[i]) == NULL) {
			xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
			    "runtime.platform.process_groups: no group hosts "
			    "\"%s\"", o->ingress_services[i]);
			free(lc);
			return NULL;
		}
	return lc;
}

/* The module of entry `i` of group `gc`'s services; an empty list is every
 * module of the table. NULL past the end. */
static const xr_service_module *
group_module(const xr_lifecycle *lc, const xr_group_cfg *gc, size_t i)
{
	if (gc->role == XR_ROLE_INGRESS)	/* a web group hosts nothing */
		return NULL;
	if (gc->n_services == 0)
		return i < lc->o.n_mods ? &lc->o.mods[i] : NULL;
	return i < gc->n_services ? find_module(&lc->o, gc->services[i]) : NULL;
}

const char *
xr_lifecycle_route(const xr_lifecycle *lc, const char *service)
{
	const xr_service_module *m;

	for (size_t g = 0; g < lc->cfg->n_groups; g++)
		for (size_t s = 0;
		    (m = group_module(lc, &lc->cfg->groups[g], s)) != NULL; s++)
			if (strcmp(m->name, service) == 0)
				return lc->cfg->groups[g].name;
	return NULL;
}

/* ---------- inline ---------- */

static int
build_registry(xr_lifecycle *lc, xr_diag *d)
{
	const xr_config *cfg = lc->cfg;
	const xr_service_module *m, **done;
	size_t ndone = 0;
	int r = XR_OK;

	if ((lc->reg = xr_registry_new(lc->base)) == NULL ||
	    (done = calloc(lc->o.n_mods + 1, sizeof(*done))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "lifecycle: out of memory");
	for (size_t g = 0; g < cfg->n_groups && r == XR_OK; g++) {
		const xr_group_cfg *gc = &cfg->groups[g];

		for (size_t s = 0; r == XR_OK &&
		    (m = group_module(lc, gc, s)) != NULL; s++) {
			xr_worker_ctx ctx = {
				.group = gc->name,
				.index = 0,
				.app = xr_config_app(cfg, m->app),
				.max_payload_bytes = cfg->max_payload_bytes,
				.base = lc->base,
			};
			xr_diag md = { 0 };
			bool seen = false;

			/* one registry: register each module once */
			for (size_t i = 0; i < ndone && !seen; i++)
				seen = done[i] == m;
			if (seen)
				continue;
			done[ndone++] = m;
			if ((r = m->add(lc->reg, &ctx, &md)) != XR_OK)
				r = xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
				    "service \"%s\": registration failed: %s",
				    m->name, md.reason[0] != '\0' ? md.reason :
				    xr_strerror(r));
		}
	}
	free(done);
	return r;
}

/* Wipe the keys, then drop their log registrations. */
static void
wipe_keys(xr_lifecycle *lc)
{
	xr_keyset_wipe(&lc->ks);
	for (int i = 0; i < XR_DIR_COUNT; i++)
		xr_log_secret_remove(&lc->key_ids[i]);
}

static int
new_transport(xr_lifecycle *lc, xr_diag *d)
{
	int r;

	if ((r = xr_config_keyset(lc->cfg, &lc->ks, d)) != XR_OK)
		return r;
	/* defence in depth: a key that reaches a log line is redacted. A
	 * key that cannot be registered (the table is full) could be
	 * logged in clear: no start with it */
	for (int i = 0; i < XR_DIR_COUNT; i++)
		if ((r = xr_log_secret_add(lc->ks.k[i].b, lc->ks.k[i].len,
		    &lc->key_ids[i])) != XR_OK) {
			wipe_keys(lc);
			return xr_diag_set(d, r, "lifecycle: cannot register "
			    "the transport keys for log redaction (%s: %d "
			    "secrets registered, at most %d); not starting",
			    xr_strerror(r), (int)xr_log_secret_count(),
			    XR_LOG_SECRETS_MAX);
		}
	if ((lc->transport = xr_transport_new(lc->base, lc->cfg, &lc->ks,
	    lc->o.mods, lc->o.n_mods, d)) == NULL)
		return d != NULL && d->code != XR_OK ? d->code : XR_ERR_NOMEM;
	return XR_OK;
}

static int
start_inline(xr_lifecycle *lc, xr_diag *d)
{
	int r;

	phase(lc, "registries");
	if ((r = build_registry(lc, d)) != XR_OK)
		return r;
	phase(lc, "runtime_services");
	if ((r = new_transport(lc, d)) != XR_OK ||
	    (r = xr_transport_serve(lc->transport, lc->reg, d)) != XR_OK)
		return r;
	/* inline: each group is one worker, the endpoint served here */
	phase(lc, "workers");
	phase(lc, "ingress");
	for (size_t g = 0; g < lc->cfg->n_groups; g++)
		if ((r = xr_transport_worker_up(lc->transport,
		    lc->cfg->groups[g].name, 0, xr_transport_port(lc->transport),
		    NULL, d)) != XR_OK)
			return r;
	return XR_OK;
}

/* ---------- process_supervisor ---------- */

static const xr_group_cfg *
find_group(const xr_config *cfg, const char *name)
{
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (strcmp(cfg->groups[g].name, name) == 0)
			return &cfg->groups[g];
	return NULL;
}

/* The supervisor's worker events feed the transport's ingress side. */
static void
worker_event(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	xr_lifecycle *lc = arg;
	const xr_group_cfg *gc = find_group(lc->cfg, w->group);

	if (gc != NULL && gc->role == XR_ROLE_INGRESS) {
		/* a web process: nothing of this process calls it */
	} else if (err == XR_OK && strcmp(reason, "ready") == 0 &&
	    lc->cfg->transport == XR_TRANSPORT_REDIS_STREAMS) {
		/* no port, no endpoint keys: the group's stream, signed with
		 * the group's keys by the ingress itself */
		if (xr_transport_worker_up(lc->transport, w->group, w->index,
		    0, NULL, NULL) != XR_OK)
			xr_debug("lifecycle: no ingress channel to %s[%u]",
			    w->group, w->index);
	} else if (err == XR_OK && strcmp(reason, "ready") == 0 &&
	    w->port != 0) {
		xr_keyset ek;

		/* the keys of this worker's endpoint and generation */
		if (xr_supervisor_endpoint_keys(lc->sup, w->group, w->index,
		    w->generation, &ek) != XR_OK ||
		    xr_transport_worker_up(lc->transport, w->group, w->index,
		    w->port, &ek, NULL) != XR_OK)
			xr_debug("lifecycle: no ingress channel to %s[%u]",
			    w->group, w->index);
		xr_keyset_wipe(&ek);
	} else if (err != XR_OK) {
		xr_transport_worker_down(lc->transport, w->group, w->index,
		    err == XR_ERR_WORKER_FAILED && gc != NULL &&
		    gc->restart == XR_RESTART_NEVER);
	}
	/* after ready, a worker that failed took its state with it, and one
	 * that came back has none: the first such event is the health */
	if (lc->state == XR_LC_READY && !lc->stop_asked &&
	    lc->health == XR_OK) {
		lc->health = err != XR_OK ? err : XR_ERR_WORKER_FAILED;
		snprintf(lc->health_why, sizeof(lc->health_why),
		    "worker %s[%u] pid %d: %s", w->group, w->index,
		    (int)w->last_pid, reason);
	}
	if (lc->o.on_worker_event != NULL)
		lc->o.on_worker_event(lc->o.worker_arg, w, err, reason);
}

/* Every LC_PROBE_MS the stream figures STATUS shows (redis_streams). */
#define LC_PROBE_MS 200

static bool
probe_group(void *arg, const char *group, xr_stream_figures *out)
{
	return xr_redis_probe_group(arg, group, out);
}

static bool
probe_consumer(void *arg, const char *group, const char *consumer,
    uint64_t *pending)
{
	return xr_redis_probe_consumer(arg, group, consumer, pending);
}

static int
start_supervisor(xr_lifecycle *lc, xr_diag *d)
{
	xr_supervisor_opts so = { 0 };
	int r;

	/* the workers build their registries from their bundles */
	phase(lc, "registries");
	phase(lc, "runtime_services");
	if ((r = new_transport(lc, d)) != XR_OK)
		return r;
	so.cfg = lc->cfg;
	so.keys = &lc->ks;
	so.worker_exe = lc->o.worker_exe;
	so.worker_args = lc->o.worker_args;
	so.on_stop_event = lc->o.on_stop_event;
	so.stop_arg = lc->o.stop_arg;
	so.on_worker_event = worker_event;
	so.worker_arg = lc;
	if (lc->cfg->transport == XR_TRANSPORT_REDIS_STREAMS) {
		if ((lc->probe = xr_redis_probe_new(lc->base, lc->cfg,
		    LC_PROBE_MS, d)) == NULL)
			return d != NULL && d->code != XR_OK ? d->code :
			    XR_ERR_NOMEM;
		so.stream_group = probe_group;
		so.stream_consumer = probe_consumer;
		so.stream_arg = lc->probe;
	}
	if ((lc->sup = xr_supervisor_new(lc->base, &so, d)) == NULL)
		return d != NULL && d->code != XR_OK ? d->code : XR_ERR_INTERNAL;
	phase(lc, "workers");
	return xr_supervisor_start_groups(lc->sup, NULL, 0, d);
}

/* ---------- start, ready ---------- */

int
xr_lifecycle_start(xr_lifecycle *lc, xr_diag *d)
{
	int r;

	if (lc->state != XR_LC_NEW)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
		    "lifecycle: start() in state %s", xr_lc_state_name(lc->state));
	lc->state = XR_LC_STARTING;
	phase(lc, "config");
	if (lc->cfg->boot_mode == XR_BOOT_INLINE)
		r = start_inline(lc, d);
	else
		r = start_supervisor(lc, d);
	if (r != XR_OK)
		lc->state = XR_LC_FAILED;
	return r;
}

int
xr_lifecycle_ready(xr_lifecycle *lc, xr_diag *d)
{
	uint32_t timeout_ms = lc->cfg->ready_timeout_seconds * 1000;
	uint64_t deadline = xr_mono_ms() + timeout_ms, now;
	int r;

	if (lc->state == XR_LC_READY)
		return XR_OK;
	if (lc->state != XR_LC_STARTING)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
		    "lifecycle: ready() in state %s", xr_lc_state_name(lc->state));
	if (lc->sup != NULL) {
		if ((r = xr_supervisor_wait_ready(lc->sup, timeout_ms, d)) != XR_OK) {
			if (r != XR_ERR_READY_TIMEOUT)
				lc->state = XR_LC_FAILED;
			return r;
		}
		/* the ingress channels, made as each worker reported ready:
		 * connected and past their handshake */
		phase(lc, "ingress");
	}
	now = xr_mono_ms();
	r = xr_transport_ingress_ready(lc->transport,
	    deadline > now ? (uint32_t)(deadline - now) : 0, d);
	if (r != XR_OK) {
		if (r != XR_ERR_READY_TIMEOUT)
			lc->state = XR_LC_FAILED;
		return r;
	}
	lc->state = XR_LC_READY;
	phase(lc, "ready");
	return XR_OK;
}

xr_channel *
xr_lifecycle_pick(xr_lifecycle *lc, const char *service, const void *key,
    size_t key_len, int *err)
{
	xr_queue *q;

	if (lc->state != XR_LC_READY) {
		*err = XR_ERR_LIFECYCLE_NOT_READY;
		return NULL;
	}
	if ((q = xr_transport_queue(lc->transport, service, NULL)) == NULL) {
		*err = XR_ERR_LIFECYCLE_RESOLUTION;
		return NULL;
	}
	return xr_queue_pick(q, key, key_len, err);
}

/* ---------- stop ---------- */

static void
drained_cb(void *arg)
{
	xr_lifecycle *lc = arg;

	lc->drained = 1;
}

/* The inline stop is over: the endpoint drained, every ingress call has its
 * status. */
static int
inline_stopped(void *arg)
{
	xr_lifecycle *lc = arg;

	return lc->drained && xr_transport_ingress_pending(lc->transport) == 0;
}

/*
 * Inline stop: no new ingress calls, drain the endpoint (tcp_local: GOAWAY,
 * in-flight calls finish, connections close), and wait until the ingress
 * channels have the last responses — or the timeout. Without
 * drain_inflight the channels close first (pending calls: UNAVAILABLE).
 */
static int
stop_inline(xr_lifecycle *lc, uint32_t graceful_ms, xr_diag *d)
{
	int r;

	if (!lc->cfg->drain_inflight)
		xr_transport_close(lc->transport);
	lc->drained = 0;
	xr_transport_drain(lc->transport, drained_cb, lc);
	r = xr_loop_until(lc->base, inline_stopped, lc,
	    xr_mono_ms() + graceful_ms);
	if (r == XR_ERR_AGAIN)
		r = xr_diag_set(d, XR_ERR_STOP_TIMEOUT, "in-flight calls did "
		    "not finish within %u ms (forced)", graceful_ms);
	else if (r != XR_OK)
		r = xr_diag_set(d, XR_ERR_STOP_FAILED, "the event loop "
		    "failed (%s)", xr_strerror(r));
	xr_transport_close(lc->transport);
	return r;
}

static int
no_ingress_pending(void *arg)
{
	xr_lifecycle *lc = arg;

	return xr_transport_ingress_pending(lc->transport) == 0;
}

/*
 * Supervised redis_streams: a drained worker has appended its last replies
 * to the reply streams before it exited, but unlike a socket's last bytes
 * nothing orders them before the exit the supervisor saw, and the ingress
 * may not have read them yet. Read on until every ingress call has its
 * status, for at most XR_LC_REPLY_COLLECT_MS (calls of a worker killed by
 * force never get a reply: they end UNAVAILABLE when the channels close).
 */
static void
collect_replies(xr_lifecycle *lc)
{
	if (lc->cfg->transport != XR_TRANSPORT_REDIS_STREAMS ||
	    !lc->cfg->drain_inflight)
		return;
	(void)xr_loop_until(lc->base, no_ingress_pending, lc,
	    xr_mono_ms() + XR_LC_REPLY_COLLECT_MS);
}

int
xr_lifecycle_stop(xr_lifecycle *lc, xr_diag *d)
{
	uint32_t graceful_ms = lc->cfg->graceful_timeout_seconds * 1000;
	int r = XR_OK;

	if (lc->state == XR_LC_STOPPED || lc->state == XR_LC_NEW) {
		lc->state = XR_LC_STOPPED;
		return XR_OK;
	}
	lc->state = XR_LC_STOPPING;
	if (lc->transport != NULL)
		xr_transport_ingress_stop(lc->transport);
	if (lc->sup != NULL) {
		r = xr_supervisor_stop_groups(lc->sup, graceful_ms,
		    lc->cfg->drain_inflight, d);
		collect_replies(lc);
		xr_transport_close(lc->transport);
	} else if (lc->transport != NULL) {
		r = stop_inline(lc, graceful_ms, d);
	}
	lc->state = XR_LC_STOPPED;
	return r;
}

int
xr_lifecycle_stop_begin(xr_lifecycle *lc)
{
	if (lc->health == XR_OK && !lc->stop_asked) {
		lc->health = XR_ERR_LIFECYCLE_NOT_READY;
		snprintf(lc->health_why, sizeof(lc->health_why), "a stop was "
		    "begun");
	}
	lc->stop_asked = 1;
	if (lc->sup != NULL)
		return xr_supervisor_stop_begin(lc->sup,
		    lc->cfg->graceful_timeout_seconds * 1000,
		    lc->cfg->drain_inflight);
	return XR_OK;	/* run() sees stop_asked after this round */
}

static int
stop_asked(void *arg)
{
	return ((xr_lifecycle *)arg)->stop_asked;
}

int
xr_lifecycle_run(xr_lifecycle *lc, xr_diag *d)
{
	if (lc->state == XR_LC_NEW || lc->transport == NULL)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
		    "lifecycle: run() before start()");
	if (lc->sup != NULL)
		return xr_supervisor_run(lc->sup, d);
	if (xr_loop_until(lc->base, stop_asked, lc, 0) != XR_OK)
		return xr_diag_set(d, XR_ERR_INTERNAL, "lifecycle: the event "
		    "loop failed, or has nothing that could stop it");
	return XR_OK;
}

/* ---------- queries ---------- */

int
xr_lifecycle_control_listen(xr_lifecycle *lc, xr_diag *d)
{
	if (lc->sup == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "the control socket "
		    "needs runtime.platform.bootstrap.mode: process_supervisor, "
		    "started");
	return xr_supervisor_control_listen(lc->sup, lc->cfg->control_socket,
	    d);
}

size_t
xr_lifecycle_workers(const xr_lifecycle *lc, xr_worker_info *out, size_t cap)
{
	if (lc->sup != NULL)
		return xr_supervisor_workers(lc->sup, out, cap);
	if (lc->transport == NULL)
		return 0;
	for (size_t g = 0; g < lc->cfg->n_groups && g < cap; g++) {
		xr_worker_info *w = &out[g];

		memset(w, 0, sizeof(*w));
		snprintf(w->group, sizeof(w->group), "%s",
		    lc->cfg->groups[g].name);
		w->pid = getpid();
		w->state = lc->state == XR_LC_READY ? XR_WORKER_READY :
		    lc->state == XR_LC_STARTING ? XR_WORKER_STARTING :
		    XR_WORKER_STOPPED;
		w->port = xr_transport_port(lc->transport);
		w->last_exit_status = -1;
	}
	return lc->cfg->n_groups;
}

xr_lc_state
xr_lifecycle_status(const xr_lifecycle *lc)
{
	return lc->state;
}

xr_transport_svc *
xr_lifecycle_transport(const xr_lifecycle *lc)
{
	return lc->transport;
}

xr_supervisor *
xr_lifecycle_supervisor(const xr_lifecycle *lc)
{
	return lc->sup;
}

struct event_base *
xr_lifecycle_base(const xr_lifecycle *lc)
{
	return lc->base;
}

int
xr_lifecycle_health(const xr_lifecycle *lc, char *why, size_t cap)
{
	if (lc->health != XR_OK && cap > 0)
		snprintf(why, cap, "%s", lc->health_why);
	return lc->health;
}

void
xr_lifecycle_free(xr_lifecycle *lc)
{
	if (lc == NULL)
		return;
	/* channels and endpoint first: pending calls complete now */
	if (lc->transport != NULL)
		xr_transport_close(lc->transport);
	xr_supervisor_free(lc->sup);
	xr_redis_probe_free(lc->probe);
	xr_transport_free(lc->transport);
	xr_registry_free(lc->reg);
	wipe_keys(lc);
	free(lc);
}
