/* supervisor/lifecycle.c — start/ready/stop/status for inline and
 * process_supervisor bootstrap modes. */
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "rx.h"		/* xr_mono_ms */


struct xr_lifecycle {
	struct event_base *base;
	xr_lifecycle_opts o;
	const xr_config *cfg;
	xr_lc_state state;
	xr_registry *reg;		/* inline */
	xr_keyset ks;
	xr_transport_svc *transport;	/* inline */
	xr_channel *ch;			/* inline: the ingress channel */
	xr_supervisor *sup;		/* process_supervisor */
	/* process_supervisor: one ingress channel per worker of the first
	 * group, (re)made when the worker reports ready with its port */
	size_t nworkers;
	xr_channel **wch;
	uint16_t *wport;
	size_t rr;			/* round-robin cursor */
	int worker_failed;		/* a worker died with restart: never */
	int timed_out;
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
	    cfg->transport != XR_TRANSPORT_TCP_LOCAL) {
		xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
		    "runtime.platform.bootstrap.mode: process_supervisor needs "
		    "runtime.platform.execution_ipc.transport: tcp_local");
		return NULL;
	}
	for (size_t g = 0; g < cfg->n_groups; g++)
		for (size_t s = 0; s < cfg->groups[g].n_services; s++)
			if (find_module(o, cfg->groups[g].services[s]) == NULL) {
				xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
				    "process_groups[%zu].services: no module "
				    "provides \"%s\"", g,
				    cfg->groups[g].services[s]);
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
	return lc;
}

/* ---------- inline ---------- */

/* The module of entry `i` of group `gc`'s services; an empty list is every
 * module of the table. NULL past the end. */
static const xr_service_module *
group_module(const xr_lifecycle *lc, const xr_group_cfg *gc, size_t i)
{
	if (gc->n_services == 0)
		return i < lc->o.n_mods ? &lc->o.mods[i] : NULL;
	return i < gc->n_services ? find_module(&lc->o, gc->services[i]) : NULL;
}

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
			xr_worker_ctx ctx = { gc->name, 0,
			    xr_config_app(cfg, m->app), cfg->max_payload_bytes,
			    lc->base };
			bool seen = false;

			/* one registry: register each module once */
			for (size_t i = 0; i < ndone && !seen; i++)
				seen = done[i] == m;
			if (seen)
				continue;
			done[ndone++] = m;
			if ((r = m->add(lc->reg, &ctx)) != XR_OK)
				r = xr_diag_set(d, XR_ERR_LIFECYCLE_RESOLUTION,
				    "service \"%s\": registration failed (%s)",
				    m->name, xr_strerror(r));
		}
	}
	free(done);
	return r;
}

static int
start_inline(xr_lifecycle *lc, xr_diag *d)
{
	int r;

	phase(lc, "registries");
	if ((r = build_registry(lc, d)) != XR_OK)
		return r;
	phase(lc, "runtime_services");
	if ((r = xr_config_keyset(lc->cfg, &lc->ks, d)) != XR_OK)
		return r;
	if ((lc->transport = xr_transport_new(lc->base, lc->cfg, &lc->ks,
	    lc->reg, d)) == NULL)
		return d != NULL ? d->code : XR_ERR_INTERNAL;
	/* inline: the execution endpoint is the transport's, already up */
	phase(lc, "workers");
	phase(lc, "ingress");
	if ((lc->ch = xr_transport_channel(lc->transport, d)) == NULL)
		return d != NULL ? d->code : XR_ERR_INTERNAL;
	return XR_OK;
}

/* ---------- process_supervisor ---------- */

static void
worker_event(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	xr_lifecycle *lc = arg;
	const char *first = lc->cfg->groups[0].name;

	if (strcmp(w->group, first) == 0 && w->index < lc->nworkers) {
		size_t i = w->index;

		if (err == XR_OK && strcmp(reason, "ready") == 0 &&
		    w->port != 0 && lc->state != XR_LC_STOPPING &&
		    (lc->wch[i] == NULL || lc->wport[i] != w->port ||
		    !xr_channel_is_usable(lc->wch[i]))) {
			xr_channel_opts co = { 0 };
			int e;

			xr_channel_free(lc->wch[i]);
			co.host = "127.0.0.1";
			co.port = w->port;
			co.max_payload_bytes = lc->cfg->max_payload_bytes;
			co.ttl_seconds = lc->cfg->ttl_seconds;
			co.client_name = "ingress";
			lc->wch[i] = xr_channel_new_tcp(lc->base, &co, &lc->ks, &e);
			lc->wport[i] = w->port;
		} else if (err == XR_ERR_WORKER_FAILED &&
		    lc->cfg->groups[0].restart == XR_RESTART_NEVER) {
			lc->worker_failed = 1;
		}
	}
	if (lc->o.on_worker_event != NULL)
		lc->o.on_worker_event(lc->o.worker_arg, w, err, reason);
}

static int
start_supervisor(xr_lifecycle *lc, xr_diag *d)
{
	xr_supervisor_opts so = { 0 };
	int r;

	/* the workers build their registries from their bundles */
	phase(lc, "registries");
	phase(lc, "runtime_services");
	if ((r = xr_config_keyset(lc->cfg, &lc->ks, d)) != XR_OK)
		return r;
	lc->nworkers = lc->cfg->groups[0].workers;
	lc->wch = calloc(lc->nworkers, sizeof(*lc->wch));
	lc->wport = calloc(lc->nworkers, sizeof(*lc->wport));
	if (lc->wch == NULL || lc->wport == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "lifecycle: out of memory");
	so.cfg = lc->cfg;
	so.keys = &lc->ks;
	so.worker_exe = lc->o.worker_exe;
	so.worker_args = lc->o.worker_args;
	so.on_stop_event = lc->o.on_stop_event;
	so.stop_arg = lc->o.stop_arg;
	so.on_worker_event = worker_event;
	so.worker_arg = lc;
	if ((lc->sup = xr_supervisor_new(lc->base, &so, d)) == NULL)
		return d != NULL ? d->code : XR_ERR_INTERNAL;
	phase(lc, "workers");
	return xr_supervisor_start_groups(lc->sup, NULL, 0, d);
}

/* ---------- public ---------- */

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

static void
ready_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_lifecycle *lc = arg;

	(void)fd;
	(void)what;
	lc->timed_out = 1;
}

static size_t
usable_workers(const xr_lifecycle *lc)
{
	size_t n = 0;

	for (size_t i = 0; i < lc->nworkers; i++)
		n += lc->wch[i] != NULL && xr_channel_is_usable(lc->wch[i]);
	return n;
}

int
xr_lifecycle_ready(xr_lifecycle *lc, uint32_t timeout_ms, xr_diag *d)
{
	uint64_t deadline = xr_mono_ms() + timeout_ms;
	int r;

	if (lc->state == XR_LC_READY)
		return XR_OK;
	if (lc->state != XR_LC_STARTING)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
		    "lifecycle: ready() in state %s", xr_lc_state_name(lc->state));
	if (lc->sup == NULL) {
		r = xr_channel_wait_ready(lc->ch, timeout_ms);
		if (r == XR_ERR_READY_TIMEOUT)
			return xr_diag_set(d, r, "ingress not connected within "
			    "%u ms", timeout_ms);
		if (r != XR_OK) {
			lc->state = XR_LC_FAILED;
			return xr_diag_set(d, r, "ingress channel failed (%s)",
			    xr_strerror(r));
		}
	} else {
		uint64_t left;

		if ((r = xr_supervisor_wait_ready(lc->sup, timeout_ms, d)) != XR_OK) {
			if (r != XR_ERR_READY_TIMEOUT)
				lc->state = XR_LC_FAILED;
			return r;
		}
		/* the ingress channels (made as each worker reported ready):
		 * connected and past their handshake */
		phase(lc, "ingress");
		left = deadline > xr_mono_ms() ? deadline - xr_mono_ms() : 0;
		for (size_t i = 0; i < lc->nworkers; i++) {
			if (lc->wch[i] == NULL)
				continue;
			r = xr_channel_wait_ready(lc->wch[i], (uint32_t)left);
			if (r != XR_OK)
				return xr_diag_set(d, r == XR_ERR_READY_TIMEOUT ?
				    r : XR_ERR_WORKER_FAILED,
				    "ingress to worker %zu not ready (%s)", i,
				    xr_strerror(r));
			left = deadline > xr_mono_ms() ? deadline - xr_mono_ms() : 0;
		}
		if (usable_workers(lc) == 0)
			return xr_diag_set(d, XR_ERR_WORKER_FAILED,
			    "no worker of group %s is usable",
			    lc->cfg->groups[0].name);
	}
	lc->state = XR_LC_READY;
	phase(lc, "ready");
	return XR_OK;
}

static uint64_t
key_hash(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

xr_channel *
xr_lifecycle_pick(xr_lifecycle *lc, const void *key, size_t key_len,
    int *err)
{
	size_t start, i;

	if (lc->state != XR_LC_READY) {
		*err = XR_ERR_LIFECYCLE_NOT_READY;
		return NULL;
	}
	if (lc->sup == NULL) {
		*err = XR_OK;
		return lc->ch;
	}
	if (lc->worker_failed && usable_workers(lc) < lc->nworkers) {
		*err = XR_ERR_WORKER_FAILED;
		return NULL;
	}
	/* affinity: the key's worker; round robin without a key. A worker
	 * that is down is skipped (the next usable one, in index order), and
	 * used again once it is back. */
	start = key != NULL ? (size_t)(key_hash(key, key_len) % lc->nworkers)
	    : lc->rr++ % lc->nworkers;
	for (i = 0; i < lc->nworkers; i++) {
		xr_channel *ch = lc->wch[(start + i) % lc->nworkers];

		if (ch != NULL && xr_channel_is_usable(ch)) {
			*err = XR_OK;
			return ch;
		}
	}
	*err = XR_ERR_WORKER_FAILED;
	return NULL;
}

static void
drained_cb(void *arg)
{
	int *done = arg;

	*done = 1;
}

/* Calls started on `ch` that have no status yet. */
static uint64_t
pending_calls(const xr_channel *ch)
{
	xr_channel_stats st;

	if (ch == NULL)
		return 0;
	xr_channel_stats_get(ch, &st);
	return st.calls_started - st.calls_ok - st.calls_failed;
}

/*
 * Inline stop: no new ingress calls (state STOPPING), drain the endpoint
 * (tcp_local: GOAWAY, in-flight calls finish, connections close), and wait
 * until the ingress channel has the last responses — or the timeout.
 */
static int
stop_inline(xr_lifecycle *lc, uint32_t graceful_ms, xr_diag *d)
{
	struct event *tev = evtimer_new(lc->base, ready_timer_cb, lc);
	struct timeval tv = { graceful_ms / 1000, (graceful_ms % 1000) * 1000 };
	int drained = 0, r = XR_OK;

	if (!lc->cfg->drain_inflight) {
		xr_channel_free(lc->ch);	/* pending calls: UNAVAILABLE */
		lc->ch = NULL;
	}
	lc->timed_out = 0;
	if (tev == NULL)
		return xr_diag_set(d, XR_ERR_STOP_FAILED, "out of memory");
	evtimer_add(tev, &tv);
	xr_transport_drain(lc->transport, drained_cb, &drained);
	while (!lc->timed_out && (!drained || pending_calls(lc->ch) > 0))
		event_base_loop(lc->base, EVLOOP_ONCE);
	if (!drained || pending_calls(lc->ch) > 0)
		r = xr_diag_set(d, XR_ERR_STOP_TIMEOUT,
		    "in-flight calls did not finish within %u ms (forced)",
		    graceful_ms);
	event_free(tev);
	xr_channel_free(lc->ch);
	lc->ch = NULL;
	xr_transport_free(lc->transport);
	lc->transport = NULL;
	return r;
}

int
xr_lifecycle_stop(xr_lifecycle *lc, uint32_t graceful_ms, xr_diag *d)
{
	int r = XR_OK;

	if (lc->state == XR_LC_STOPPED || lc->state == XR_LC_NEW) {
		lc->state = XR_LC_STOPPED;
		return XR_OK;
	}
	lc->state = XR_LC_STOPPING;
	if (lc->sup != NULL) {
		r = xr_supervisor_stop_groups(lc->sup, graceful_ms,
		    lc->cfg->drain_inflight, d);
		for (size_t i = 0; i < lc->nworkers; i++) {
			xr_channel_free(lc->wch[i]);
			lc->wch[i] = NULL;
		}
	} else {
		r = stop_inline(lc, graceful_ms, d);
	}
	lc->state = XR_LC_STOPPED;
	return r;
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

xr_registry *
xr_lifecycle_registry(const xr_lifecycle *lc)
{
	return lc->reg;
}

void
xr_lifecycle_free(xr_lifecycle *lc)
{
	if (lc == NULL)
		return;
	if (lc->state == XR_LC_STARTING || lc->state == XR_LC_READY ||
	    lc->state == XR_LC_FAILED) {
		for (size_t i = 0; i < lc->nworkers && lc->wch != NULL; i++)
			xr_channel_free(lc->wch[i]);
		xr_channel_free(lc->ch);
		xr_transport_free(lc->transport);
		lc->ch = NULL;
		lc->transport = NULL;
	}
	xr_supervisor_free(lc->sup);
	free(lc->wch);
	free(lc->wport);
	xr_registry_free(lc->reg);
	xr_keyset_wipe(&lc->ks);
	free(lc);
}
