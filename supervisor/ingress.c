/*
 * supervisor/ingress.c — the supervisor's side of web process groups
 * (role: ingress; docs/supervisor.md "Web process groups"): the ingress
 * bundle (the keys to derive every execution endpoint's keys with, the
 * table of execution endpoints) and the pushed updates of that table
 * (COMMAND_ENDPOINT on each ingress process's signed control channel).
 */
#include "supervisor_priv.h"

#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "log.h"

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

void
xr__sup_push_endpoint(const struct sup_worker *w)
{
	xr_supervisor *s = w->sup;
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__ExecEndpoint e;
	char *svc[XR_CFG_MAX_SERVICES];

	if (xr__sup_is_ingress(w->grp))
		return;
	xr__sup_endpoint_fill(w, &e, svc);
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_ENDPOINT;
	c.endpoint = &e;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];

		if (!xr__sup_is_ingress(gr))
			continue;
		for (uint32_t i = 0; i < gr->n; i++) {
			struct sup_worker *iw = &gr->w[i];

			/* a full channel loses this update: logged; the
			 * ingress sees the slot's next one */
			if (iw->ctl_fd >= 0 && xr__sup_send(iw, &c) != XR_OK)
				xr_info("supervisor: %s[%u]: endpoint update "
				    "for %s[%u] not delivered",
				    gr->cfg->name, i, w->grp->cfg->name,
				    w->index);
		}
	}
}
