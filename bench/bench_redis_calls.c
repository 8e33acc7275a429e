/*
 * bench/bench_redis_calls.c — bench_redis's calling side (bench_redis.h):
 * the redis_streams ingress of the runtime transport service, or tcp_local
 * channels to execrpc-server endpoints, and 64-byte echo calls over either
 * with a chosen number in flight, each call's latency recorded.
 *
 * Calls go through the public client API as an application's do:
 * xr_call_start_msg() with nanopb messages (what generated stubs call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench_redis.h"
#include "echo.h"
#include "execrpc/client.h"
#include "execrpc/echo/v1/echo.pb.h"
#include "keys.h"
#include "runtime.h"
#include "transport.h"

#define SERVICE "echo.v1.Echo"
#define METHOD "echo.v1.Echo/Say"
#define GROUP "execution"
#define CALL_TIMEOUT_MS 30000
#define READY_MS 5000

struct rb_ing {
	struct event_base *base;
	xr_config cfg;
	int cfg_loaded;
	xr_keyset ks;
	xr_transport_svc *t;		/* redis_streams */
	xr_queue *q;
	xr_channel *ch[RB_MAX_WORKERS];	/* tcp_local */
	unsigned nch, next;
};

/* ---- making and freeing ---- */

static rb_ing *
ing_new(const rb_pool *p)
{
	rb_ing *g = calloc(1, sizeof(*g));
	xr_diag d = { 0 };

	if (g == NULL || (g->base = event_base_new()) == NULL)
		goto fail;
	if (xr_config_load_string(p->yaml, strlen(p->yaml), &g->cfg, &d) !=
	    XR_OK)
		goto fail;
	g->cfg_loaded = 1;
	if (xr_config_keyset(&g->cfg, &g->ks, &d) != XR_OK)
		goto fail;
	return g;
fail:
	fprintf(stderr, "bench_redis: ingress config: %s\n",
	    d.reason[0] != '\0' ? d.reason : "out of memory");
	rb_ing_free(g);
	return NULL;
}

rb_ing *
rb_ing_redis(const rb_pool *p)
{
	rb_ing *g = ing_new(p);
	xr_diag d = { 0 };

	if (g == NULL)
		return NULL;
	if ((g->t = xr_transport_new(g->base, &g->cfg, &g->ks,
	    &xr_echo_module, 1, &d)) == NULL ||
	    xr_transport_worker_up(g->t, GROUP, 0, 0, NULL, &d) != XR_OK ||
	    xr_transport_ingress_ready(g->t, READY_MS, &d) != XR_OK ||
	    (g->q = xr_transport_queue(g->t, SERVICE, &d)) == NULL) {
		fprintf(stderr, "bench_redis: redis ingress: %s\n", d.reason);
		rb_ing_free(g);
		return NULL;
	}
	return g;
}

rb_ing *
rb_ing_tcp(const rb_pool *p)
{
	rb_ing *g = ing_new(p);
	xr_channel_opts co = { 0 };
	xr_diag d = { 0 };

	if (g == NULL)
		return NULL;
	co.host = "127.0.0.1";
	for (g->nch = 0; g->nch < p->n; g->nch++) {
		co.port = p->port[g->nch];
		if ((g->ch[g->nch] = xr_channel_new_tcp_diag(g->base, &co,
		    &g->ks, &d)) == NULL ||
		    xr_channel_wait_ready_diag(g->ch[g->nch], READY_MS, &d) !=
		    XR_OK) {
			fprintf(stderr, "bench_redis: tcp_local channel: %s\n",
			    d.reason);
			g->nch++;
			rb_ing_free(g);
			return NULL;
		}
	}
	return g;
}

void
rb_ing_free(rb_ing *g)
{
	if (g == NULL)
		return;
	for (unsigned i = 0; i < g->nch; i++)
		xr_channel_free(g->ch[i]);
	xr_transport_free(g->t);
	xr_keyset_wipe(&g->ks);
	if (g->cfg_loaded)
		xr_config_free(&g->cfg);
	if (g->base != NULL)
		event_base_free(g->base);
	free(g);
}

/* The channel for the next call: the queue's pick (redis_streams: one
 * channel, the group's stream), or the pool's processes in turn. */
static xr_channel *
ing_pick(rb_ing *g)
{
	int err;

	if (g->q != NULL)
		return xr_queue_pick(g->q, NULL, 0, &err);
	return g->ch[g->next++ % g->nch];
}

/* ---- the calls ---- */

struct run;

/* One call in flight: its start time. */
struct slot {
	struct run *a;
	uint64_t t0;
};

struct run {
	rb_ing *g;
	echo_v1_SayRequest req;
	struct slot *slots;		/* `cap` of them */
	struct slot **free_slots;	/* a stack */
	unsigned cap, nfree;
	size_t started, done, total;
	uint64_t *lat;			/* NULL for a warmup */
	int failed, in_refill;
};

static void run_refill(struct run *a);

static void
run_deliver(void (*cb)(void), void *arg, const xr_status *st,
    const void *resp)
{
	struct slot *s = arg;
	struct run *a = s->a;

	(void)cb;
	(void)resp;
	if (a->lat != NULL)
		a->lat[a->done] = xrb_now_ns() - s->t0;
	a->done++;
	a->free_slots[a->nfree++] = s;
	if (st->code != XR_STATUS_OK && !a->failed) {
		a->failed = 1;
		fprintf(stderr, "bench_redis: call: %s %s\n",
		    xr_status_name(st->code), st->message);
	}
	run_refill(a);
	if (a->done == a->total || a->failed)
		event_base_loopbreak(a->g->base);
}

/* Start calls until `cap` are in flight (a call completing inside
 * xr_call_start_msg() does not recurse). */
static void
run_refill(struct run *a)
{
	if (a->in_refill)
		return;
	a->in_refill = 1;
	while (!a->failed && a->nfree > 0 && a->started < a->total) {
		struct slot *s = a->free_slots[--a->nfree];
		xr_channel *ch = ing_pick(a->g);

		a->started++;
		s->t0 = xrb_now_ns();
		if (ch == NULL) {
			fprintf(stderr, "bench_redis: no channel to pick\n");
			a->failed = 1;
			a->free_slots[a->nfree++] = s;
			a->started--;
			break;
		}
		xr_call_start_msg(ch, METHOD, echo_v1_SayRequest_fields,
		    &a->req, echo_v1_SayResponse_fields,
		    sizeof(echo_v1_SayResponse), CALL_TIMEOUT_MS, run_deliver,
		    NULL, s);
	}
	a->in_refill = 0;
}

static int
run_init(struct run *a, rb_ing *g, unsigned cap, size_t n, int timed)
{
	memset(a, 0, sizeof(*a));
	a->g = g;
	a->cap = cap;
	a->total = n;
	memcpy(a->req.text, xrb_text, XRB_TEXT_LEN);
	a->req.text[XRB_TEXT_LEN] = '\0';
	a->slots = calloc(cap, sizeof(*a->slots));
	a->free_slots = calloc(cap, sizeof(*a->free_slots));
	if (a->slots == NULL || a->free_slots == NULL ||
	    (timed && (a->lat = xrb_lat_alloc(n)) == NULL))
		return -1;
	for (unsigned i = 0; i < cap; i++) {
		a->slots[i].a = a;
		a->free_slots[a->nfree++] = &a->slots[i];
	}
	return 0;
}

static void
run_fini(struct run *a)
{
	free(a->slots);
	free(a->free_slots);
	free(a->lat);
}

int
rb_ing_run(rb_ing *g, unsigned inflight, size_t n, rb_result *r)
{
	struct run a;
	uint64_t t0;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	if (n == 0 || inflight == 0 || run_init(&a, g, inflight, n,
	    r != NULL) < 0)
		goto out;
	t0 = xrb_now_ns();
	run_refill(&a);
	while (a.done < a.total && !a.failed)
		if (event_base_loop(g->base, EVLOOP_ONCE) < 0)
			goto out;
	while (a.nfree < a.cap)		/* after a failure: let them end */
		if (event_base_loop(g->base, EVLOOP_ONCE) < 0)
			goto out;
	if (a.failed)
		goto out;
	if (r != NULL) {
		xrb_result x;

		r->rate = (double)n / ((double)(xrb_now_ns() - t0) / 1e9);
		xrb_latency(a.lat, n, &x);
		r->p50 = x.value;
		r->p99 = x.p99;
	}
	rc = 0;
out:
	run_fini(&a);
	return rc;
}
