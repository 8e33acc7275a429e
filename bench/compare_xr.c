/*
 * bench/compare_xr.c — bench_compare's execrpc rows (compare.h): the
 * tcp_local echo server, sequential and in-flight calls over one channel,
 * the handshake, the same through the supervisor to supervised workers, the
 * memory profile, the worker start time, and the HMAC-SHA256 ceiling.
 *
 * Calls use the public client API the way an application does: the
 * sequential rows xr_call_sync() with nanopb messages, the in-flight rows
 * xr_call_start_msg() (what generated stubs call), the response decoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <mbedtls/md.h>

#include "compare.h"
#include "auth.h"
#include "echo.h"
#include "execrpc/client.h"
#include "execrpc/echo/v1/echo.pb.h"
#include "keys.h"
#include "runtime.h"
#include "server.h"

#define SERVICE "echo.v1.Echo"
#define METHOD "echo.v1.Echo/Say"
#define CALL_TIMEOUT_MS 10000

/* The MAC input of one REQUEST frame of a 64-byte echo call: the direction
 * label ("web->exec", 9 bytes) and the envelope (154 bytes, as
 * bench_verify prints it: envelope_bytes). */
#define FRAME_MAC_BYTES (9 + 154)

static xr_keyset g_ks;

int
xrb_xr_keys_init(void)
{
	uint8_t master[XR_MASTER_LEN];
	int r;

	if ((r = xr_keys_generate_master(master)) == XR_OK)
		r = xr_keys_derive(master, sizeof(master), XR_KDF_HKDF_SHA256,
		    &g_ks);
	xr_wipe(master, sizeof(master));
	return r == XR_OK ? 0 : -1;
}

void
xrb_xr_keys_wipe(void)
{
	xr_keyset_wipe(&g_ks);
}

static echo_v1_SayRequest
say_request(void)
{
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;

	memcpy(req.text, xrb_text, XRB_TEXT_LEN);
	req.text[XRB_TEXT_LEN] = '\0';
	return req;
}

/* ---- the server ---- */

int
xrb_xr_serve(int port_fd, void *arg)
{
	struct event_base *base = event_base_new();
	xr_server_opts o = { 0 };
	xr_diag d = { 0 };
	xr_registry *reg;
	xr_server *srv;
	uint16_t port;

	(void)arg;
	if (base == NULL || (reg = xr_registry_new(base)) == NULL ||
	    xr_echo_register(reg) != XR_OK)
		return -1;
	if ((srv = xr_server_new(base, &o, &g_ks, reg, &d)) == NULL ||
	    xr_server_listen(srv, &d) != XR_OK) {
		fprintf(stderr, "bench_compare: execrpc server: %s\n", d.reason);
		return -1;
	}
	port = xr_server_port(srv);
	if (write(port_fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
		return -1;
	close(port_fd);
	return event_base_dispatch(base) == 0 ? 0 : -1;
}

/* ---- sequential and in-flight calls ---- */

/* Sequential calls on channels from `pick` (a channel, or a lifecycle). */
struct picker {
	xr_channel *ch;
	xr_lifecycle *lc;
};

static xr_channel *
pick(const struct picker *p)
{
	int err;

	return p->lc != NULL ? xr_lifecycle_pick(p->lc, SERVICE, NULL, 0, &err)
	    : p->ch;
}

static int
run_seq(const struct picker *p, const xrb_sizes *z, xrb_result *r)
{
	echo_v1_SayRequest req = say_request();
	echo_v1_SayResponse resp;
	uint64_t *lat = xrb_lat_alloc(z->seq);
	xr_status st;

	if (lat == NULL)
		return -1;
	for (size_t i = 0; i < z->warmup + z->seq; i++) {
		uint64_t t0 = xrb_now_ns();

		if (xr_call_sync(pick(p), METHOD, echo_v1_SayRequest_fields,
		    &req, echo_v1_SayResponse_fields, &resp, CALL_TIMEOUT_MS,
		    &st) != XR_STATUS_OK) {
			fprintf(stderr, "bench_compare: execrpc call: %s %s\n",
			    xr_status_name(st.code), st.message);
			free(lat);
			return -1;
		}
		if (i >= z->warmup)
			lat[i - z->warmup] = xrb_now_ns() - t0;
	}
	xrb_latency(lat, z->seq, r);
	free(lat);
	return 0;
}

struct async {
	const struct picker *p;
	struct event_base *base;
	echo_v1_SayRequest req;
	unsigned cap, inflight;
	size_t started, done, total;
	int failed, in_refill;
};

static void async_refill(struct async *a);

static void
async_deliver(void (*cb)(void), void *arg, const xr_status *st,
    const void *resp)
{
	struct async *a = arg;

	(void)cb;
	(void)resp;
	a->inflight--;
	a->done++;
	if (st->code != XR_STATUS_OK && !a->failed) {
		a->failed = 1;
		fprintf(stderr, "bench_compare: execrpc async call: %s %s\n",
		    xr_status_name(st->code), st->message);
	}
	async_refill(a);
	if (a->done == a->total)
		event_base_loopbreak(a->base);
}

/* Start calls until `cap` are in flight; a call that completes inside
 * xr_call_start_msg() (the memory profile) does not recurse. */
static void
async_refill(struct async *a)
{
	if (a->in_refill)
		return;
	a->in_refill = 1;
	while (!a->failed && a->inflight < a->cap && a->started < a->total) {
		a->started++;
		a->inflight++;
		xr_call_start_msg(pick(a->p), METHOD,
		    echo_v1_SayRequest_fields, &a->req,
		    echo_v1_SayResponse_fields, sizeof(echo_v1_SayResponse),
		    CALL_TIMEOUT_MS, async_deliver, NULL, a);
	}
	a->in_refill = 0;
}

/* `total` calls with `cap` in flight; returns the seconds taken, or -1. */
static double
async_batch(const struct picker *p, struct event_base *base, unsigned cap,
    size_t total)
{
	struct async a;
	uint64_t t0 = xrb_now_ns();

	memset(&a, 0, sizeof(a));
	a.p = p;
	a.base = base;
	a.req = say_request();
	a.cap = cap;
	a.total = total;
	async_refill(&a);
	while (a.done < a.total && !a.failed)
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			return -1;
	while (a.inflight > 0)		/* after a failure: let them finish */
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			return -1;
	return a.failed ? -1 : (double)(xrb_now_ns() - t0) / 1e9;
}

static int
run_async(const struct picker *p, struct event_base *base, unsigned cap,
    const xrb_sizes *z, size_t total, xrb_result *r)
{
	double s;

	if (async_batch(p, base, cap, z->warmup) < 0 ||
	    (s = async_batch(p, base, cap, total)) < 0)
		return -1;
	r->value = (double)total / s;
	r->p99 = 0;
	return 0;
}

/* ---- tcp_local ---- */

static xr_channel *
tcp_channel(struct event_base *base, uint16_t port)
{
	xr_channel_opts co = { 0 };
	xr_diag d = { 0 };
	xr_channel *ch;

	co.host = "127.0.0.1";
	co.port = port;
	if ((ch = xr_channel_new_tcp_diag(base, &co, &g_ks, &d)) == NULL ||
	    xr_channel_wait_ready_diag(ch, 5000, &d) != XR_OK) {
		fprintf(stderr, "bench_compare: execrpc channel: %s\n",
		    d.reason);
		xr_channel_free(ch);
		return NULL;
	}
	return ch;
}

int
xrb_xr_tcp_seq(uint16_t port, const xrb_sizes *z, xrb_result *r)
{
	struct event_base *base = event_base_new();
	struct picker p = { 0 };
	int rc = -1;

	if (base != NULL && (p.ch = tcp_channel(base, port)) != NULL)
		rc = run_seq(&p, z, r);
	xr_channel_free(p.ch);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

int
xrb_xr_tcp_async(uint16_t port, unsigned inflight, const xrb_sizes *z,
    xrb_result *r)
{
	struct event_base *base = event_base_new();
	struct picker p = { 0 };
	int rc = -1;

	if (base != NULL && (p.ch = tcp_channel(base, port)) != NULL)
		rc = run_async(&p, base, inflight, z, z->async, r);
	xr_channel_free(p.ch);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

int
xrb_xr_handshake(uint16_t port, const xrb_sizes *z, xrb_result *r)
{
	struct event_base *base = event_base_new();
	uint64_t *lat = xrb_lat_alloc(z->connects);
	int rc = -1;

	if (base == NULL || lat == NULL)
		goto out;
	for (size_t i = 0; i < z->connects; i++) {
		uint64_t t0 = xrb_now_ns();
		xr_channel *ch = tcp_channel(base, port);

		lat[i] = xrb_now_ns() - t0;
		if (ch == NULL)
			goto out;
		xr_channel_free(ch);
	}
	xrb_latency(lat, z->connects, r);
	rc = 0;
out:
	free(lat);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

/* ---- through the supervisor ---- */

int
xrb_xr_worker_main(int argc, char **argv)
{
	return xr_runtime_worker_main(argc, argv, &xr_echo_module, 1);
}

struct sup {
	struct event_base *base;
	xr_config cfg;
	int cfg_loaded;
	xr_lifecycle *lc;
};

static void
sup_free(struct sup *s)
{
	xr_diag d = { 0 };

	if (s->lc != NULL && xr_lifecycle_status(s->lc) == XR_LC_READY)
		xr_lifecycle_stop(s->lc, &d);
	xr_lifecycle_free(s->lc);
	if (s->cfg_loaded)
		xr_config_free(&s->cfg);
	if (s->base != NULL)
		event_base_free(s->base);
}

/* Start a lifecycle with `workers` supervised workers running `exe`, and
 * wait until they are ready. */
static int
sup_start(struct sup *s, const char *exe, unsigned workers)
{
	const char *const wargs[] = { "--worker", "--bootstrap-fd", "3",
	    "--control-fd", "4", NULL };
	xr_lifecycle_opts o = { 0 };
	xr_diag d = { 0 };
	char yaml[512];

	memset(s, 0, sizeof(*s));
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 20, "
	    "graceful_timeout_seconds: 5}\n"
	    "    process_groups:\n"
	    "      - {name: execution, workers: %u, services: [echo.v1.Echo]}\n",
	    workers);
	if ((s->base = event_base_new()) == NULL)
		return -1;
	if (xr_config_load_string(yaml, strlen(yaml), &s->cfg, &d) != XR_OK)
		goto fail;
	s->cfg_loaded = 1;
	o.cfg = &s->cfg;
	o.mods = &xr_echo_module;
	o.n_mods = 1;
	o.worker_exe = exe;
	o.worker_args = wargs;
	if ((s->lc = xr_lifecycle_new(s->base, &o, &d)) == NULL ||
	    xr_lifecycle_start(s->lc, &d) != XR_OK ||
	    xr_lifecycle_ready(s->lc, &d) != XR_OK)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "bench_compare: supervisor: %s\n", d.reason);
	return -1;
}

int
xrb_xr_sup_seq(const char *exe, unsigned workers, const xrb_sizes *z,
    xrb_result *r)
{
	struct sup s;
	struct picker p = { 0 };
	int rc = -1;

	if (sup_start(&s, exe, workers) == 0) {
		p.lc = s.lc;
		rc = run_seq(&p, z, r);
	}
	sup_free(&s);
	return rc;
}

int
xrb_xr_sup_async(const char *exe, unsigned workers, unsigned inflight,
    const xrb_sizes *z, xrb_result *r)
{
	struct sup s;
	struct picker p = { 0 };
	int rc = -1;

	if (sup_start(&s, exe, workers) == 0) {
		p.lc = s.lc;
		rc = run_async(&p, s.base, inflight, z, z->async, r);
	}
	sup_free(&s);
	return rc;
}

int
xrb_xr_sup_start(const char *exe, unsigned workers, xrb_result *r)
{
	struct sup s;
	uint64_t t0 = xrb_now_ns();
	int rc = sup_start(&s, exe, workers);

	r->value = (double)(xrb_now_ns() - t0) / 1e6;
	r->p99 = 0;
	sup_free(&s);
	return rc;
}

/* ---- the memory profile ---- */

struct mem {
	struct event_base *base;
	xr_registry *reg;
	xr_local_target target;
	xr_channel *ch;
};

static int
mem_open(struct mem *m)
{
	memset(m, 0, sizeof(*m));
	if ((m->base = event_base_new()) == NULL ||
	    (m->reg = xr_registry_new(m->base)) == NULL ||
	    xr_echo_register(m->reg) != XR_OK)
		return -1;
	m->target = xr_registry_local_target(m->reg);
	return (m->ch = xr_channel_new_memory(m->base, &m->target)) != NULL ?
	    0 : -1;
}

static void
mem_close(struct mem *m)
{
	xr_channel_free(m->ch);
	xr_registry_free(m->reg);
	if (m->base != NULL)
		event_base_free(m->base);
}

int
xrb_xr_mem_seq(const xrb_sizes *z, xrb_result *r)
{
	struct mem m;
	struct picker p = { 0 };
	int rc = -1;

	if (mem_open(&m) == 0) {
		p.ch = m.ch;
		rc = run_seq(&p, z, r);
	}
	mem_close(&m);
	return rc;
}

int
xrb_xr_mem_async(unsigned inflight, const xrb_sizes *z, xrb_result *r)
{
	struct mem m;
	struct picker p = { 0 };
	int rc = -1;

	if (mem_open(&m) == 0) {
		p.ch = m.ch;
		rc = run_async(&p, m.base, inflight, z, z->mem_async, r);
	}
	mem_close(&m);
	return rc;
}

/* ---- the crypto ceiling ---- */

int
xrb_hmac_rate(int mbedtls, const xrb_sizes *z, xrb_result *r)
{
	const mbedtls_md_info_t *info =
	    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	const xr_key *k = &g_ks.k[XR_DIR_WEB_TO_EXEC];
	mbedtls_md_context_t md;
	xr_auth_hmac h;
	uint8_t msg[FRAME_MAC_BYTES], tag[32];
	volatile uint8_t sink = 0;
	uint64_t t0;
	int rc = -1;

	memset(msg, 0x5a, sizeof(msg));
	mbedtls_md_init(&md);
	if (xr_auth_hmac_init(&h, k->b, k->len, NULL, 0) != XR_OK ||
	    mbedtls_md_setup(&md, info, 1) != 0 ||
	    mbedtls_md_hmac_starts(&md, k->b, k->len) != 0)
		goto out;
	t0 = xrb_now_ns();
	for (size_t i = 0; i < z->hmac; i++) {
		if (mbedtls ? mbedtls_md_hmac_reset(&md) != 0 ||
		    mbedtls_md_hmac_update(&md, msg, sizeof(msg)) != 0 ||
		    mbedtls_md_hmac_finish(&md, tag) != 0 :
		    xr_auth_hmac_mac(&h, msg, sizeof(msg), tag) != XR_OK)
			goto out;
		sink ^= tag[0];
	}
	r->value = (double)z->hmac / ((double)(xrb_now_ns() - t0) / 1e9);
	r->p99 = 0;
	rc = 0;
out:
	(void)sink;
	mbedtls_md_free(&md);
	xr_auth_hmac_wipe(&h);
	return rc;
}
