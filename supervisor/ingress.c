/*
 * supervisor/ingress.c — the supervisor's side of web process groups
 * (role: ingress; docs/supervisor.md "Web process groups"): the ingress
 * bundle (the keys to derive every execution endpoint's keys with, the
 * table of execution endpoints) and the pushed updates of that table
 * (COMMAND_ENDPOINT on each ingress process's signed control channel),
 * with the re-send of the updates a full channel did not take.
 */
#include "supervisor_priv.h"

#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "log.h"

static void pending_clear_all(struct sup_worker *iw);

bool
xr__sup_is_ingress(const struct group *g)
{
	return g->cfg->role == XR_ROLE_INGRESS;
}

/* Serialize an ingress process's bundle (contract in bundle.h). */
int
xr_bundle_pack_ingress(const xr_config *cfg, const xr_group_cfg *g,
    uint32_t index, const xr_keyset *keys,
    const uint8_t inst[XR_INSTANCE_ID_LEN],
    const uint8_t sid[XR_SESSION_ID_LEN],
    Execrpc__V1__ExecEndpoint *const *eps, size_t n_eps, uint8_t **out,
    size_t *len)
{
	Execrpc__V1__BootstrapBundle b = EXECRPC__V1__BOOTSTRAP_BUNDLE__INIT;
	Execrpc__V1__RuntimeSlice rt = EXECRPC__V1__RUNTIME_SLICE__INIT;
	Execrpc__V1__KeyBundle kb = EXECRPC__V1__KEY_BUNDLE__INIT;
	Execrpc__V1__IngressKeys ik = EXECRPC__V1__INGRESS_KEYS__INIT;

	b.version = 1;
	b.group = (char *)(uintptr_t)g->name;
	b.index = index;
	b.role = EXECRPC__V1__GROUP_ROLE__GROUP_ROLE_INGRESS;
	rt.bind_host = (char *)(uintptr_t)cfg->bind_host;
	rt.max_payload_bytes = cfg->max_payload_bytes;
	rt.ttl_seconds = cfg->ttl_seconds;
	rt.nonce_cache_size = cfg->nonce_cache_size;
	rt.graceful_timeout_ms = cfg->graceful_timeout_seconds * 1000;
	rt.drain_inflight = cfg->drain_inflight;
	kb.kdf = keys->kdf == XR_KDF_NONE ? EXECRPC__V1__KDF__KDF_NONE :
	    EXECRPC__V1__KDF__KDF_HKDF_SHA256;
	kb.control.data = (uint8_t *)(uintptr_t)keys->k[XR_DIR_CONTROL].b;
	kb.control.len = keys->k[XR_DIR_CONTROL].len;
	ik.web_to_exec.data = (uint8_t *)(uintptr_t)
	    keys->k[XR_DIR_WEB_TO_EXEC].b;
	ik.web_to_exec.len = keys->k[XR_DIR_WEB_TO_EXEC].len;
	ik.exec_to_web.data = (uint8_t *)(uintptr_t)
	    keys->k[XR_DIR_EXEC_TO_WEB].b;
	ik.exec_to_web.len = keys->k[XR_DIR_EXEC_TO_WEB].len;
	ik.instance_id.data = (uint8_t *)(uintptr_t)inst;
	ik.instance_id.len = XR_INSTANCE_ID_LEN;
	b.runtime = &rt;
	b.keys = &kb;
	b.ingress = &ik;
	b.control_session_id.data = (uint8_t *)(uintptr_t)sid;
	b.control_session_id.len = XR_SESSION_ID_LEN;
	b.n_endpoints = n_eps;
	b.endpoints = (Execrpc__V1__ExecEndpoint **)(uintptr_t)eps;
	*len = execrpc__v1__bootstrap_bundle__get_packed_size(&b);
	if (*len > XR_BUNDLE_MAX)
		return XR_ERR_NO_SPACE;
	if ((*out = malloc(*len)) == NULL)
		return XR_ERR_NOMEM;
	execrpc__v1__bootstrap_bundle__pack(&b, *out);
	return XR_OK;
}

void
xr__sup_endpoint_fill(const struct sup_worker *w, Execrpc__V1__ExecEndpoint *e,
    char *svc[XR_CFG_MAX_SERVICES])
{
	const xr_group_cfg *gc = w->grp->cfg;

	execrpc__v1__exec_endpoint__init(e);
	e->group = (char *)(uintptr_t)gc->name;
	e->index = w->index;
	e->host = (char *)(uintptr_t)w->sup->cfg->bind_host;
	e->port = w->port;
	e->generation = w->generation;
	e->state = (Execrpc__V1__WorkerState)w->state;
	/* protobuf-c wants char **; the strings are only read */
	for (size_t i = 0; i < gc->n_services; i++)
		svc[i] = (char *)(uintptr_t)gc->services[i];
	e->n_services = gc->n_services;
	e->services = svc;
}

int
xr__sup_ingress_bundle(struct sup_worker *w, const xr_keyset *keys,
    const uint8_t sid[XR_SESSION_ID_LEN], uint8_t **out, size_t *len)
{
	xr_supervisor *s = w->sup;
	Execrpc__V1__ExecEndpoint *eps = NULL, **pp = NULL;
	char *(*svc)[XR_CFG_MAX_SERVICES] = NULL;
	size_t n = 0, k = 0;
	int r;

	/* a new process: its bundle holds the current table */
	pending_clear_all(w);
	for (size_t g = 0; g < s->ngroups; g++)
		if (!xr__sup_is_ingress(&s->groups[g]))
			n += s->groups[g].n;
	if (n > 0 && ((eps = calloc(n, sizeof(*eps))) == NULL ||
	    (pp = calloc(n, sizeof(*pp))) == NULL ||
	    (svc = calloc(n, sizeof(*svc))) == NULL)) {
		free(eps);
		free(pp);
		return XR_ERR_NOMEM;
	}
	for (size_t g = 0; g < s->ngroups; g++) {
		if (xr__sup_is_ingress(&s->groups[g]))
			continue;
		for (uint32_t i = 0; i < s->groups[g].n; i++, k++) {
			xr__sup_endpoint_fill(&s->groups[g].w[i], &eps[k],
			    svc[k]);
			pp[k] = &eps[k];
		}
	}
	r = xr_bundle_pack_ingress(s->cfg, w->grp->cfg, w->index, keys,
	    s->inst, sid, pp, n, out, len);
	free(svc);
	free(pp);
	free(eps);
	return r;
}

/* ---------- updates, and the re-send of lost ones ---------- */

/* The number of execution slots, and the position of execution worker `w`
 * among them (config order, then index) in *pos if `w` is not NULL. */
static size_t
exec_slots(const xr_supervisor *s, const struct sup_worker *w, size_t *pos)
{
	size_t n = 0;

	for (size_t g = 0; g < s->ngroups; g++) {
		if (xr__sup_is_ingress(&s->groups[g]))
			continue;
		if (w != NULL && w->grp == &s->groups[g])
			*pos = n + w->index;
		n += s->groups[g].n;
	}
	return n;
}

/* The execution worker at position `k` (exec_slots). */
static struct sup_worker *
exec_at(xr_supervisor *s, size_t k)
{
	for (size_t g = 0; g < s->ngroups; g++) {
		if (xr__sup_is_ingress(&s->groups[g]))
			continue;
		if (k < s->groups[g].n)
			return &s->groups[g].w[k];
		k -= s->groups[g].n;
	}
	return NULL;
}

/* Send execution worker `w`'s current record to ingress process `iw`. */
static int
send_record(struct sup_worker *iw, const struct sup_worker *w)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__ExecEndpoint e;
	char *svc[XR_CFG_MAX_SERVICES];

	xr__sup_endpoint_fill(w, &e, svc);
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_ENDPOINT;
	c.endpoint = &e;
	return xr__sup_send(iw, &c);
}

static void
pending_clear_all(struct sup_worker *iw)
{
	if (iw->ep_pending != NULL)
		memset(iw->ep_pending, 0, exec_slots(iw->sup, NULL, NULL));
	iw->n_pending = 0;
}

/* Mark (on) or unmark slot `k` of ingress process `iw`; false if the mark
 * cannot be kept (out of memory: the update is lost, as it was). */
static bool
pending_mark(struct sup_worker *iw, size_t k, bool on)
{
	size_t n = exec_slots(iw->sup, NULL, NULL);

	if (iw->ep_pending == NULL && (!on ||
	    (iw->ep_pending = calloc(n, 1)) == NULL))
		return !on;
	if (iw->ep_pending[k] != on) {
		iw->ep_pending[k] = on;
		if (on)
			iw->n_pending++;
		else
			iw->n_pending--;
	}
	return true;
}

static void resync_cb(evutil_socket_t fd, short what, void *arg);

static void
resync_arm(xr_supervisor *s)
{
	struct timeval tv = { 0, XR_SUP_RESYNC_MS * 1000 };

	if (s->ep_resync == NULL &&
	    (s->ep_resync = evtimer_new(s->base, resync_cb, s)) == NULL) {
		xr_warn("supervisor: no timer for the endpoint re-send");
		return;
	}
	if (!evtimer_pending(s->ep_resync, NULL))
		evtimer_add(s->ep_resync, &tv);
}

/* Send each pending slot's current record to `iw` until the channel is
 * full again. True if some are still pending. */
static bool
resync_one(struct sup_worker *iw)
{
	xr_supervisor *s = iw->sup;
	size_t n = exec_slots(s, NULL, NULL);

	if (iw->ctl_fd < 0) {	/* the process is gone: its next one gets a
				 * bundle with the current table */
		pending_clear_all(iw);
		return false;
	}
	for (size_t k = 0; k < n && iw->n_pending > 0; k++) {
		if (!iw->ep_pending[k])
			continue;
		if (send_record(iw, exec_at(s, k)) != XR_OK)
			return true;
		(void)pending_mark(iw, k, false);
	}
	xr_info("supervisor: %s[%u]: endpoint table delivered again",
	    iw->grp->cfg->name, iw->index);
	return false;
}

static void
resync_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_supervisor *s = arg;
	bool more = false;

	(void)fd;
	(void)what;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!xr__sup_is_ingress(gr))
			continue;
		for (uint32_t i = 0; i < gr->n; i++)
			if (gr->w[i].n_pending > 0 && resync_one(&gr->w[i]))
				more = true;
	}
	if (more)
		resync_arm(s);
}

/* Deliver `w`'s record (at position `k`) to ingress process `iw` now, or
 * mark it for the re-send. */
static void
deliver(struct sup_worker *iw, const struct sup_worker *w, size_t k)
{
	int r = send_record(iw, w);

	if (r == XR_OK) {
		(void)pending_mark(iw, k, false);
		return;
	}
	if (iw->ep_pending == NULL || !iw->ep_pending[k])
		xr_info("supervisor: %s[%u]: endpoint update for %s[%u] not "
		    "delivered (%s): sent again when the channel takes it",
		    iw->grp->cfg->name, iw->index, w->grp->cfg->name,
		    w->index, xr_err_name(r));
	if (pending_mark(iw, k, true))
		resync_arm(w->sup);
}

void
xr__sup_push_endpoint(const struct sup_worker *w)
{
	xr_supervisor *s = w->sup;
	size_t k = 0;

	if (xr__sup_is_ingress(w->grp))
		return;
	(void)exec_slots(s, w, &k);
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!xr__sup_is_ingress(gr))
			continue;
		for (uint32_t i = 0; i < gr->n; i++)
			if (gr->w[i].ctl_fd >= 0)
				deliver(&gr->w[i], w, k);
	}
}

void
xr__sup_ingress_fini(xr_supervisor *s)
{
	for (size_t g = 0; g < s->ngroups; g++)
		for (uint32_t i = 0; s->groups[g].w != NULL &&
		    i < s->groups[g].n; i++) {
			free(s->groups[g].w[i].ep_pending);
			s->groups[g].w[i].ep_pending = NULL;
			s->groups[g].w[i].n_pending = 0;
		}
	if (s->ep_resync != NULL)
		event_free(s->ep_resync);
	s->ep_resync = NULL;
}
