/* runtime/runtime.c — the worker's entry point: its endpoint through the
 * transport service. */
#include "runtime.h"

#include <stdio.h>

/* The worker's endpoint: a transport service of the worker's own. */
struct worker_ep {
	xr_transport_svc *t;
};

static xr_server *
ep_open(void *arg, struct event_base *base, const xr_config *slice,
    const xr_keyset *ks, xr_registry *reg, xr_diag *d)
{
	struct worker_ep *e = arg;

	if ((e->t = xr_transport_new(base, slice, ks, NULL, 0, d)) == NULL ||
	    xr_transport_serve(e->t, reg, d) != XR_OK)
		return NULL;
	return xr_transport_server(e->t);
}

static void
ep_close(void *arg)
{
	struct worker_ep *e = arg;

	xr_transport_free(e->t);
	e->t = NULL;
}

int
xr_runtime_worker_main(int argc, char **argv, const xr_service_module *mods,
    size_t n_mods)
{
	struct worker_ep e = { NULL };
	const xr_worker_endpoint ep = { ep_open, ep_close, &e };
	int bfd, cfd;

	if (xr_worker_args(argc, argv, &bfd, &cfd) != XR_OK) {
		fprintf(stderr, "usage: %s --worker --bootstrap-fd N "
		    "--control-fd M\n", argc > 0 ? argv[0] : "worker");
		return 64;
	}
	return xr_worker_main(bfd, cfd, mods, n_mods, &ep);
}
