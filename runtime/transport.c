/* runtime/transport.c — the runtime transport service. */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xr_transport_svc {
	struct event_base *base;
	int profile;			/* XR_TRANSPORT_* */
	xr_registry *reg;
	xr_local_target local;		/* memory */
	xr_server *srv;			/* tcp_local */
	xr_keyset ks;			/* tcp_local: for the channels */
	xr_channel_opts copts;
	char host[XR_CFG_HOST_MAX];
};

xr_transport_svc *
xr_transport_new(struct event_base *base, const xr_config *cfg,
    const xr_keyset *ks, xr_registry *reg, xr_diag *d)
{
	xr_transport_svc *t = calloc(1, sizeof(*t));
	xr_server_opts o = { 0 };

	if (t == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "transport: out of memory");
		return NULL;
	}
	t->base = base;
	t->reg = reg;
	t->profile = cfg->transport;
	if (cfg->transport == XR_TRANSPORT_MEMORY) {
		t->local = xr_registry_local_target(reg);
		return t;
	}
	snprintf(t->host, sizeof(t->host), "%s", cfg->bind_host);
	o.bind_host = t->host;
	o.bind_port = (uint16_t)cfg->bind_port;
	o.max_payload_bytes = cfg->max_payload_bytes;
	o.ttl_seconds = cfg->ttl_seconds;
	o.nonce_cache_size = cfg->nonce_cache_size;
	if ((t->srv = xr_server_new(base, &o, ks, reg, d)) == NULL ||
	    xr_server_listen(t->srv, d) != XR_OK) {
		xr_transport_free(t);
		return NULL;
	}
	t->ks = *ks;
	/* channels connect where the endpoint listens */
	t->copts.host = strcmp(t->host, "localhost") == 0 ? "127.0.0.1" : t->host;
	t->copts.port = xr_server_port(t->srv);
	t->copts.max_payload_bytes = cfg->max_payload_bytes;
	t->copts.ttl_seconds = cfg->ttl_seconds;
	t->copts.client_name = "ingress";
	return t;
}

int
xr_transport_profile(const xr_transport_svc *t)
{
	return t->profile;
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

xr_channel *
xr_transport_channel(xr_transport_svc *t, xr_diag *d)
{
	xr_channel *ch;
	int err = XR_OK;

	if (t->profile == XR_TRANSPORT_MEMORY)
		ch = xr_channel_new_memory(t->base, &t->local);
	else
		ch = xr_channel_new_tcp(t->base, &t->copts, &t->ks, &err);
	if (ch == NULL)
		xr_diag_set(d, err != XR_OK ? err : XR_ERR_NOMEM,
		    "transport: cannot create a channel (%s)",
		    xr_strerror(err != XR_OK ? err : XR_ERR_NOMEM));
	return ch;
}

void
xr_transport_drain(xr_transport_svc *t, void (*done)(void *), void *arg)
{
	if (t->srv != NULL)
		xr_server_drain(t->srv, done, arg);
	else if (done != NULL)
		done(arg);
}

void
xr_transport_free(xr_transport_svc *t)
{
	if (t == NULL)
		return;
	xr_server_free(t->srv);
	xr_keyset_wipe(&t->ks);
	free(t);
}
