/* runtime/runtime.c — the worker's entry point: its endpoint through the
 * transport service. */
#include "runtime.h"

#include <stdio.h>
#include <string.h>

#include "redis.h"	/* xr_redis_worker_stats */

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

/* redis_streams: the worker's stream reader, through the same service. */
static int
st_open(void *arg, struct event_base *base, const xr_config *slice,
    const xr_keyset *ks, xr_registry *reg, const char *group,
    uint32_t index, const char *consumer, void (*up)(void *), void *up_arg,
    xr_diag *d)
{
	struct worker_ep *e = arg;

	if ((e->t = xr_transport_new(base, slice, ks, NULL, 0, d)) == NULL)
		return d != NULL && d->code != XR_OK ? d->code : XR_ERR_NOMEM;
	return xr_transport_serve_stream(e->t, reg, group, index, consumer,
	    up, up_arg, d);
}

static void
st_drain(void *arg, void (*done)(void *), void *done_arg)
{
	struct worker_ep *e = arg;

	xr_transport_stream_drain(e->t, done, done_arg);
}

static void
st_stats(void *arg, xr_worker_stream_stats *out)
{
	struct worker_ep *e = arg;
	xr_redis_worker_stats w;
	xr_redis_ingress_stats in;

	memset(out, 0, sizeof(*out));
	if (xr_transport_redis_stats(e->t, &w, &in) != XR_OK)
		return;
	out->calls = w.runs;
	out->calls_failed = w.aborted + w.expired_deadline;
	memcpy(out->rejects, w.rx.rejects, sizeof(out->rejects));
}

static const xr_worker_stream stream_ops = { st_open, st_drain, st_stats };

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
	const xr_worker_endpoint ep = { ep_open, ep_close, &e, &stream_ops };
	int bfd, cfd;

	if (xr_worker_args(argc, argv, &bfd, &cfd) != XR_OK) {
		fprintf(stderr, "usage: %s --worker --bootstrap-fd N "
		    "--control-fd M\n", argc > 0 ? argv[0] : "worker");
		return 64;
	}
	return xr_worker_main(bfd, cfd, mods, n_mods, &ep);
}
