/*
 * tests/supervisor/test_config_reach.c — every config value reaches the
 * running workers (process_supervisor mode, through the supervisor's public
 * API). For each value two YAML variants start real worker processes (this
 * binary in worker mode), and the test observes at a worker's port, or in
 * what the supervisor reports, a behaviour that only that value explains.
 * The YAML carries a static inline secret; a raw signing peer
 * (tests/server/helper_srv.h) signs with the keys of the worker's endpoint
 * (derived from that secret for the worker's slot and generation:
 * xr_supervisor_endpoint_keys) and builds HELLO frames by hand (size,
 * timestamp, count).
 *
 * SEC-IPC-05 / IPC-INT-06  max_payload_bytes: a length prefix of
 *               max_payload + envelope overhead + 1 is refused before any
 *               body byte (connection closed, no frame, oversized counted);
 *               a HELLO of exactly the limit handshakes; under a larger
 *               max_payload_bytes the same size handshakes
 * SEC-IPC-03    ttl_seconds: a HELLO stamped now - 15 s is EXPIRED under
 *               ttl 10 and accepted under ttl 20
 * SEC-IPC-04    nonce_cache_size: the cache fails closed when full: with 16
 *               the 17th distinct HELLO is refused, with 17 it is accepted
 *               and the 18th refused
 * STOP-IPC-01 / PROC-INT-03  drain_inflight: true -> the in-flight call's
 *               OK response arrives before the close; false -> the
 *               connection closes without it
 * STOP-IPC-02/03 graceful_timeout_seconds: workers that never honour STOP
 *               are SIGKILLed at that timeout (1 s vs 2 s): stop_timeout and
 *               one forced stop event, not before the timeout
 * PROC-INT-04/08 restart: on-failure brings a SIGKILLed worker back (new
 *               pid, restarts 1); never leaves it FAILED and wait_ready
 *               returns worker_failed
 * BOOT-API-01   workers: 1 vs 3 distinct processes and ports, each serving
 *               ready_timeout_seconds: a worker that never sends READY makes
 *               wait_ready return ready_timeout after that long (1 s vs 2 s)
 * STOP-IPC-02   stop_failed: a worker held by a ptrace tracer cannot be
 *               reaped after its SIGKILL: stop_groups returns stop_failed
 *               naming the group; released, it is reaped (forced event)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "dispatch.h"
#include "execrpc/v1/frame.pb-c.h"
#include "frame.h"
#include "helper_srv.h"
#include "helper_sup.h"
#include "rx.h"

/* The static master: the workers' keys and the raw peer's come from it. */
#define SECRET "config-reach-test-secret-32bytes"
_Static_assert(sizeof(SECRET) - 1 == 32, "a static secret: 32 bytes or more");

#define READY_MS 20000
#define TOLERANCE_MS 500	/* a deadline is met within this (2 busy cores) */

/* What one YAML variant sets. */
struct vals {
	uint32_t max_payload, ttl, nonces, ready_s, grace_s, workers;
	bool drain;
	const char *restart;
	const char *service;
};

static const struct vals base_vals = {
	.max_payload = 1048576, .ttl = 30, .nonces = 1024, .ready_s = 5,
	.grace_s = 5, .workers = 1, .drain = true, .restart = "never",
	.service = "echo.v1.Echo",
};

struct fx {
	struct event_base *base;
	xr_config cfg;
	bool have_cfg;
	xr_keyset ks;
	ts_rec rec;
	xr_supervisor *sup;
	xr_worker_info w[8];
	xr_keyset wk[8];	/* w[i]'s endpoint keys, as of remember() */
	size_t nw;
	pid_t pgids[16];	/* every worker pid seen: its process group */
	size_t npg;
	pid_t tracer;		/* stop_failed: the ptrace holder, or 0 */
	int release;		/* write end of the tracer's release pipe */
};

static void
remember(struct fx *f)
{
	f->nw = xr_supervisor_workers(f->sup, f->w, 8);
	for (size_t i = 0; i < f->nw && i < 8; i++) {
		bool seen = false;

		xr_keyset_wipe(&f->wk[i]);
		if (f->w[i].generation != 0)
			ts_ep_keys(f->sup, &f->w[i], &f->wk[i]);

		if (f->w[i].pid <= 0)
			continue;
		for (size_t j = 0; j < f->npg; j++)
			seen = seen || f->pgids[j] == f->w[i].pid;
		if (!seen && f->npg < 16)
			f->pgids[f->npg++] = f->w[i].pid;
	}
}

/* Let the tracer go (it exits, which hands the worker's exit back to the
 * supervisor), and reap it. */
static void
tracer_release(struct fx *f)
{
	int st;

	if (f->release >= 0) {
		close(f->release);
		f->release = -1;
	}
	if (f->tracer > 0) {
		kill(f->tracer, SIGKILL);
		while (waitpid(f->tracer, &st, 0) < 0 && errno == EINTR)
			;
		f->tracer = 0;
	}
}

/* Everything the fixture holds, on success and failure paths alike. The
 * tracer goes first: xr_supervisor_free() blocks in waitpid() for a worker
 * that a live tracer would keep from it. */
static void
fx_cleanup(struct fx *f)
{
	tracer_release(f);
	xr_supervisor_free(f->sup);
	f->sup = NULL;
	if (f->base != NULL)
		event_base_free(f->base);
	f->base = NULL;
	if (f->have_cfg)
		xr_config_free(&f->cfg);
	f->have_cfg = false;
	xr_keyset_wipe(&f->ks);
	for (size_t i = 0; i < 8; i++)
		xr_keyset_wipe(&f->wk[i]);
}

/* No child of ours left (live or zombie), nobody in a worker's group. */
static void
assert_no_leftovers(struct fx *f)
{
	pid_t kids[16];

	assert_int_equal(ts_children_of(getpid(), kids, 16), 0);
	for (size_t i = 0; i < f->npg; i++)
		assert_int_equal(ts_in_pgrp(f->pgids[i]), 0);
}

static void
fx_end(struct fx *f)
{
	fx_cleanup(f);
	assert_no_leftovers(f);
}

/* Parse the variant's YAML, take the keys from its secret, make the
 * supervisor and start the group "reach"; no waiting. */
static void
fx_begin(struct fx *f, const struct vals *v, uint32_t reap_timeout_ms)
{
	char yaml[1024];
	xr_supervisor_opts o = { 0 };
	xr_diag d = { 0 };

	memset(f, 0, sizeof(*f));
	f->release = -1;
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: tcp_local\n"
	    "      max_payload_bytes: %u\n"
	    "      auth: {secret_mode: static, secret: \"" SECRET "\","
	    " kdf: hkdf_sha256, ttl_seconds: %u, nonce_cache_size: %u}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: %u,"
	    " graceful_timeout_seconds: %u, drain_inflight: %s}\n"
	    "    process_groups:\n"
	    "      - {name: reach, workers: %u, restart: %s,"
	    " services: [%s]}\n",
	    v->max_payload, v->ttl, v->nonces, v->ready_s, v->grace_s,
	    v->drain ? "true" : "false", v->workers, v->restart, v->service);
	ts_config(&f->cfg, yaml);
	f->have_cfg = true;
	if (xr_config_keyset(&f->cfg, &f->ks, &d) != XR_OK)
		fail_msg("keyset: %s", d.reason);
	assert_non_null(f->base = event_base_new());
	o.cfg = &f->cfg;
	o.keys = &f->ks;
	o.on_stop_event = ts_on_stop;
	o.stop_arg = &f->rec;
	o.on_worker_event = ts_on_worker;
	o.worker_arg = &f->rec;
	o.reap_timeout_ms = reap_timeout_ms;
	if ((f->sup = xr_supervisor_new(f->base, &o, &d)) == NULL)
		fail_msg("supervisor_new: %s", d.reason);
	if (xr_supervisor_start_groups(f->sup, NULL, 0, &d) != XR_OK)
		fail_msg("start_groups: %s", d.reason);
	remember(f);
}

/* fx_begin, then wait for READY with the config's ready timeout. */
static void
fx_ready(struct fx *f, const struct vals *v)
{
	xr_diag d = { 0 };

	fx_begin(f, v, 0);
	if (xr_supervisor_wait_ready(f->sup, READY_MS, &d) != XR_OK)
		fail_msg("wait_ready: %s", d.reason);
	remember(f);
	assert_int_equal(f->nw, v->workers);
}

/* Stop with the config's lifecycle policy, as the lifecycle does. */
static int
fx_stop(struct fx *f, xr_diag *d)
{
	return xr_supervisor_stop_groups(f->sup,
	    f->cfg.graceful_timeout_seconds * 1000, f->cfg.drain_inflight, d);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->release = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	fx_cleanup(f);
	free(f);
	return 0;
}

/* ---------- the raw peer ---------- */

/* A frame of `kind` whose body is exactly `body_len` bytes (0 = no
 * padding), stamped `ts_ms` (0 = now); malloc'd, 4-byte prefix included. */
static uint8_t *
padded_frame(ts_peer *p, uint32_t kind, uint64_t ts_ms, size_t body_len,
    size_t *len)
{
	uint8_t *f = ts_seal(p, kind, NULL, NULL, 0, 0, 0, ts_ms, len);
	uint8_t *pad;
	size_t bare = *len - XR_FRAME_PREFIX_LEN, n;

	if (body_len == 0)
		return f;
	free(f);
	assert_true(body_len > bare);
	assert_non_null(pad = calloc(1, body_len));
	/* the payload's key and length bytes come on top: count down */
	for (n = body_len - bare;; n--) {
		f = ts_seal(p, kind, NULL, pad, n, 0, 0, ts_ms, len);
		if (*len - XR_FRAME_PREFIX_LEN <= body_len || n == 0)
			break;
		free(f);
	}
	free(pad);
	assert_int_equal(*len - XR_FRAME_PREFIX_LEN, body_len);
	return f;
}

/*
 * One connection, one HELLO stamped `ts_ms` (0 = now). Returns 1 if the
 * worker answered with HELLO_ACK (the max_payload_bytes it announced in
 * *ack_max if non-NULL), 0 if it closed the connection without a frame.
 * With `body_len` (0 = none) a PING of that many body bytes follows on the
 * session (before HELLO a frame may be no longer than a HELLO): 1 only if
 * it is answered too.
 */
static int
hello_try(const xr_keyset *ks, uint16_t port, uint64_t ts_ms,
    size_t body_len, uint32_t *ack_max)
{
	const Execrpc__V1__Envelope *e;
	Execrpc__V1__HelloAck *ack;
	ts_peer p;
	uint8_t *f;
	size_t len;
	int closed = 0, r = 0;

	ts_peer_open_keys(&p, port, ks);
	f = padded_frame(&p, XR_KIND_HELLO, ts_ms, 0, &len);
	(void)ts_send_raw(&p, f, len);	/* a refusal may reset the stream */
	free(f);
	if ((e = ts_recv(&p, 3000, &closed)) != NULL) {
		assert_int_equal(e->kind, XR_KIND_HELLO_ACK);
		assert_int_equal(p.sess.state, XR_SESSION_OPEN);
		assert_non_null(ack = execrpc__v1__hello_ack__unpack(NULL,
		    e->payload.len, e->payload.data));
		if (ack_max != NULL)
			*ack_max = ack->max_payload_bytes;
		execrpc__v1__hello_ack__free_unpacked(ack, NULL);
		r = 1;
	}
	if (r == 1 && body_len > 0) {
		f = padded_frame(&p, XR_KIND_PING, 0, body_len, &len);
		(void)ts_send_raw(&p, f, len);
		free(f);
		if ((e = ts_recv(&p, 3000, &closed)) != NULL)
			assert_int_equal(e->kind, XR_KIND_PONG);
		else
			r = 0;
	}
	if (r == 0 && !closed)
		fail_msg("port %u: neither an answer nor a close within 3 s",
		    port);
	ts_peer_close(&p);
	return r;
}

/* After the handshake, send only a length prefix announcing `body_len`: 1
 * if the worker closes the connection without a frame (within 2 s), else
 * 0. */
static int
prefix_refused(const xr_keyset *ks, uint16_t port, uint32_t body_len)
{
	ts_peer p;
	uint8_t pre[XR_FRAME_PREFIX_LEN];
	int frames = -1, r;

	ts_peer_open_keys(&p, port, ks);
	ts_handshake(&p);
	xr_frame_put_len(pre, body_len);
	assert_int_equal(ts_send_raw(&p, pre, sizeof(pre)), 0);
	r = ts_wait_closed(&p, 2000, &frames);
	ts_peer_close(&p);
	return r == 1 && frames == 0;
}

/* The worker's reject counters (Endpoint/Stats; costs one HELLO). */
static void
rejects(struct fx *f, uint16_t port, uint64_t *oversized, uint64_t *expired)
{
	Execrpc__V1__WorkerStatus *ws;

	assert_int_equal(port, f->w[0].port);
	ws = ts_stats(port, &f->wk[0]);
	assert_int_equal(ws->n_rejects_by_kind, XR_REJECT_COUNT);
	*oversized = ws->rejects_by_kind[XR_REJECT_OVERSIZED];
	*expired = ws->rejects_by_kind[XR_REJECT_EXPIRED];
	execrpc__v1__worker_status__free_unpacked(ws, NULL);
}

/* ---------- SEC-IPC-05 / IPC-INT-06: max_payload_bytes ---------- */

static void
test_sec_ipc_05_max_payload_reaches_worker(void **state)
{
	struct fx *f = *state;
	struct vals v = base_vals;
	xr_diag d = { 0 };
	uint32_t ack = 0;
	uint64_t over, exp;
	const size_t lim_a = xr_frame_max_body(1024);	/* 5120 */
	const size_t lim_b = xr_frame_max_body(2048);	/* 6144 */

	/* A: max_payload_bytes 1024 */
	v.max_payload = 1024;
	fx_ready(f, &v);
	assert_int_equal(prefix_refused(&f->wk[0], f->w[0].port, (uint32_t)lim_a + 1), 1);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, 0, lim_a, &ack), 1);
	assert_int_equal(ack, 1024);	/* the endpoint announces it too */
	rejects(f, f->w[0].port, &over, &exp);
	assert_int_equal(over, 1);
	assert_int_equal(fx_stop(f, &d), XR_OK);
	fx_end(f);

	/* B: max_payload_bytes 2048: the same size passes, the limit moved */
	v.max_payload = 2048;
	fx_ready(f, &v);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, 0, lim_a + 1, &ack), 1);
	assert_int_equal(ack, 2048);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, 0, lim_b, NULL), 1);
	rejects(f, f->w[0].port, &over, &exp);
	assert_int_equal(over, 0);
	assert_int_equal(prefix_refused(&f->wk[0], f->w[0].port, (uint32_t)lim_b + 1), 1);
	rejects(f, f->w[0].port, &over, &exp);
	assert_int_equal(over, 1);
	assert_int_equal(fx_stop(f, &d), XR_OK);
	fx_end(f);
}

/* ---------- SEC-IPC-03: ttl_seconds ---------- */

static void
test_sec_ipc_03_ttl_reaches_worker(void **state)
{
	struct fx *f = *state;
	struct vals v = base_vals;
	xr_diag d = { 0 };
	uint64_t over, exp;

	/* A: ttl 10: 15 s old is expired, 5 s old is fresh */
	v.ttl = 10;
	fx_ready(f, &v);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, xr_now_ms() - 15000, 0, NULL),
	    0);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, xr_now_ms() - 5000, 0, NULL),
	    1);
	rejects(f, f->w[0].port, &over, &exp);
	assert_int_equal(exp, 1);
	assert_int_equal(over, 0);
	assert_int_equal(fx_stop(f, &d), XR_OK);
	fx_end(f);

	/* B: ttl 20: 15 s old is fresh now, 25 s old is expired */
	v.ttl = 20;
	fx_ready(f, &v);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, xr_now_ms() - 15000, 0, NULL),
	    1);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, xr_now_ms() - 25000, 0, NULL),
	    0);
	rejects(f, f->w[0].port, &over, &exp);
	assert_int_equal(exp, 1);
	assert_int_equal(fx_stop(f, &d), XR_OK);
	fx_end(f);
}

/* ---------- SEC-IPC-04: nonce_cache_size ---------- */

/*
 * Every accepted HELLO puts its nonce in the worker's cache until its ts +
 * ttl (30 s here), closing the connection does not take it out, and a full
 * cache refuses a new nonce (fails closed). So exactly `size` fresh HELLOs
 * pass and the next one is refused. Nothing else talks to the worker (no
 * Stats call here: it would spend a nonce too).
 */
static void
nonce_case(struct fx *f, uint32_t size)
{
	struct vals v = base_vals;
	xr_diag d = { 0 };

	v.nonces = size;
	fx_ready(f, &v);
	for (uint32_t i = 1; i <= size; i++)
		if (hello_try(&f->wk[0], f->w[0].port, 0, 0, NULL) != 1)
			fail_msg("nonce_cache_size %u: HELLO %u refused", size,
			    i);
	assert_int_equal(hello_try(&f->wk[0], f->w[0].port, 0, 0, NULL), 0);
	assert_int_equal(fx_stop(f, &d), XR_OK);
	fx_end(f);
}

static void
test_sec_ipc_04_nonce_cache_size_reaches_worker(void **state)
{
	nonce_case(*state, 16);	/* the 17th HELLO is refused */
	nonce_case(*state, 17);	/* the 17th passes, the 18th is refused */
}

/* ---------- STOP-IPC-01 / PROC-INT-03: drain_inflight ---------- */

/*
 * A Say of 800 ms in flight on a raw session, then the stop with the
 * config's policy. Returns how many RESPONSE frames for it arrived (OK, the
 * text echoed) before the connection closed; *goaway counts GOAWAYs.
 */
static int
drain_case(struct fx *f, bool drain, int *goaway, uint64_t *took)
{
	struct vals v = base_vals;
	const Execrpc__V1__Envelope *e;
	xr_diag d = { 0 };
	ts_peer p;
	uint64_t id, t0;
	int closed = 0, responses = 0;
	char text[64];

	v.drain = drain;
	v.grace_s = 5;
	fx_ready(f, &v);
	assert_int_equal(f->cfg.drain_inflight, drain);
	ts_peer_open_keys(&p, f->w[0].port, &f->wk[0]);
	ts_handshake(&p);
	id = ts_send_say(&p, "inflight", 800, 0);
	/* dispatched: the Stats call counts itself, so 2 calls */
	t0 = xr_mono_ms();
	for (;;) {
		Execrpc__V1__WorkerStatus *ws = ts_stats(f->w[0].port, &f->wk[0]);
		uint64_t calls = ws->calls;

		execrpc__v1__worker_status__free_unpacked(ws, NULL);
		if (calls >= 2)
			break;
		assert_true(xr_mono_ms() - t0 < 5000);
		usleep(10 * 1000);
	}
	t0 = xr_mono_ms();
	assert_int_equal(fx_stop(f, &d), XR_OK);	/* graceful either way */
	*took = xr_mono_ms() - t0;
	*goaway = 0;
	while ((e = ts_recv(&p, 3000, &closed)) != NULL) {
		if ((int)e->kind == XR_KIND_GOAWAY) {
			(*goaway)++;
			continue;
		}
		assert_int_equal(e->kind, XR_KIND_RESPONSE);
		assert_int_equal(e->call_id, id);
		assert_non_null(e->status);
		assert_int_equal(e->status->code, XR_STATUS_OK);
		ts_say_text(e, text, sizeof(text));
		assert_string_equal(text, "inflight");
		responses++;
	}
	assert_int_equal(closed, 1);
	ts_peer_close(&p);
	assert_int_equal(ts_stop_count(&f->rec, "reach", XR_STOP_GRACEFUL), 1);
	fx_end(f);
	return responses;
}

static void
test_stop_ipc_01_drain_inflight_reaches_worker(void **state)
{
	struct fx *f = *state;
	uint64_t took;
	int goaway;

	/* true: GOAWAY, the call completes, then the close */
	assert_int_equal(drain_case(f, true, &goaway, &took), 1);
	assert_int_equal(goaway, 1);
	assert_true(took >= 300 && took < 5000);
	/* false: the connection is closed under the call, no response */
	assert_int_equal(drain_case(f, false, &goaway, &took), 0);
	assert_int_equal(goaway, 0);
	assert_true(took < 700);
}

/* ---------- STOP-IPC-02/03: graceful_timeout_seconds ---------- */

static void
grace_case(struct fx *f, uint32_t grace_s)
{
	struct vals v = base_vals;
	xr_diag d = { 0 };
	uint64_t t0, at = 0;
	const uint64_t want = grace_s * 1000u;

	v.service = "test.v1.Wedge";
	v.workers = 2;
	v.grace_s = grace_s;
	fx_ready(f, &v);
	t0 = xr_mono_ms();
	assert_int_equal(fx_stop(f, &d), XR_ERR_STOP_TIMEOUT);
	assert_non_null(strstr(d.reason, "reach"));
	assert_int_equal(ts_stop_count(&f->rec, "reach", XR_STOP_FORCED), 1);
	assert_int_equal(ts_stop_count(&f->rec, "reach", 0), 1);
	for (size_t i = 0; i < f->rec.n; i++)
		if (f->rec.ev[i].kind == 1)
			at = f->rec.ev[i].at_ms - t0;
	print_message("    graceful_timeout_seconds %u: forced stop event "
	    "after %llu ms\n", grace_s, (unsigned long long)at);
	assert_true(at >= want && at <= want + TOLERANCE_MS);
	f->nw = xr_supervisor_workers(f->sup, f->w, 8);
	assert_int_equal(f->w[0].last_signal, SIGKILL);
	assert_int_equal(f->w[1].last_signal, SIGKILL);
	fx_end(f);
}

static void
test_stop_ipc_02_03_graceful_timeout_reaches_stop(void **state)
{
	grace_case(*state, 1);
	grace_case(*state, 2);
}

/* ---------- PROC-INT-04/08: restart ---------- */

static void
restart_case(struct fx *f, const char *restart)
{
	struct vals v = base_vals;
	xr_diag d = { 0 };
	uint64_t pid = 0;
	pid_t victim;
	int r;

	v.restart = restart;
	fx_ready(f, &v);
	victim = f->w[0].pid;
	assert_int_equal(kill(victim, SIGKILL), 0);
	/* run the loop until the supervisor has reaped it */
	while (ts_worker_count(&f->rec, XR_ERR_WORKER_FAILED, NULL) == 0) {
		struct timeval tv = { 0, 20 * 1000 };

		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	r = xr_supervisor_wait_ready(f->sup, READY_MS, &d);
	remember(f);
	assert_int_equal(ts_worker_count(&f->rec, XR_ERR_WORKER_FAILED,
	    "killed by signal 9"), 1);
	if (strcmp(restart, "on-failure") == 0) {
		assert_int_equal(r, XR_OK);
		assert_int_equal(f->w[0].state, XR_WORKER_READY);
		assert_int_equal(f->w[0].restarts, 1);
		assert_true(f->w[0].pid > 0);
		assert_int_not_equal(f->w[0].pid, victim);
		assert_int_equal(ts_say(f->w[0].port, &f->wk[0], "back", 0, NULL, 0,
		    &pid), XR_STATUS_OK);
		assert_int_equal((pid_t)pid, f->w[0].pid);
		assert_int_equal(ts_worker_count(&f->rec, XR_OK, "spawned"), 2);
	} else {
		assert_int_equal(r, XR_ERR_WORKER_FAILED);
		assert_non_null(strstr(d.reason, "killed by signal 9"));
		assert_int_equal(f->w[0].state, XR_WORKER_FAILED);
		assert_int_equal(f->w[0].restarts, 0);
		assert_int_equal(f->w[0].pid, 0);
		assert_int_equal(ts_worker_count(&f->rec, XR_OK, "spawned"), 1);
	}
	assert_int_equal(fx_stop(f, &d), XR_OK);
	fx_end(f);
}

static void
test_proc_int_04_08_restart_reaches_supervision(void **state)
{
	restart_case(*state, "on-failure");
	restart_case(*state, "never");
}

/* ---------- BOOT-API-01: workers ---------- */

static void
workers_case(struct fx *f, uint32_t n)
{
	struct vals v = base_vals;
	xr_diag d = { 0 };

	v.workers = n;
	fx_ready(f, &v);
	assert_int_equal(f->nw, n);
	assert_int_equal(ts_worker_count(&f->rec, XR_OK, "spawned"), (int)n);
	assert_int_equal(ts_worker_count(&f->rec, XR_OK, "ready"), (int)n);
	for (size_t i = 0; i < n; i++) {
		uint64_t pid = 0;

		assert_int_equal(f->w[i].state, XR_WORKER_READY);
		assert_int_equal(f->w[i].index, i);
		assert_true(f->w[i].pid > 0 && f->w[i].port != 0);
		for (size_t j = 0; j < i; j++) {
			assert_int_not_equal(f->w[i].pid, f->w[j].pid);
			assert_int_not_equal(f->w[i].port, f->w[j].port);
		}
		/* each port is served by that worker's own process */
		assert_int_equal(ts_say(f->w[i].port, &f->wk[i], "w", 0, NULL, 0,
		    &pid), XR_STATUS_OK);
		assert_int_equal((pid_t)pid, f->w[i].pid);
	}
	assert_int_equal(fx_stop(f, &d), XR_OK);
	fx_end(f);
}

static void
test_boot_api_01_workers_reaches_supervisor(void **state)
{
	workers_case(*state, 1);
	workers_case(*state, 3);
}

/* ---------- ready_timeout_seconds ---------- */

static void
ready_case(struct fx *f, uint32_t ready_s)
{
	struct vals v = base_vals;
	xr_diag d = { 0 };
	uint64_t t0, took;
	const uint64_t want = ready_s * 1000u;

	v.service = "test.v1.Stall";
	v.ready_s = ready_s;
	fx_begin(f, &v, 0);
	t0 = xr_mono_ms();
	assert_int_equal(xr_supervisor_wait_ready(f->sup,
	    f->cfg.ready_timeout_seconds * 1000, &d), XR_ERR_READY_TIMEOUT);
	took = xr_mono_ms() - t0;
	print_message("    ready_timeout_seconds %u: ready_timeout after "
	    "%llu ms\n", ready_s, (unsigned long long)took);
	assert_true(took >= want && took <= want + 1500);
	assert_non_null(strstr(d.reason, "reach[0] not ready within"));
	assert_non_null(strstr(d.reason, "(state starting)"));
	remember(f);
	assert_int_equal(f->w[0].state, XR_WORKER_STARTING);
	assert_true(f->w[0].pid > 0);
	assert_int_equal(ts_worker_count(&f->rec, XR_OK, "ready"), 0);
	assert_int_equal(xr_supervisor_force_terminate_groups(f->sup, NULL, 0),
	    XR_OK);
	assert_int_equal(ts_stop_count(&f->rec, "reach", XR_STOP_FORCED), 1);
	fx_end(f);
}

static void
test_ready_timeout_reaches_wait_ready(void **state)
{
	ready_case(*state, 1);
	ready_case(*state, 2);
}

/* ---------- STOP-IPC-02: stop_failed ---------- */

/*
 * Fork a tracer that PTRACE_SEIZEs `pid`. A traced process's exit is
 * reported to its tracer; the real parent (the supervisor) cannot reap it
 * until the tracer waits for it, detaches or exits. The tracer does none of
 * that until its release pipe closes (or it is killed).
 */
static void
tracer_start(struct fx *f, pid_t pid)
{
	int up[2], rel[2], err = -1;
	ssize_t n;

	assert_int_equal(pipe2(up, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rel, O_CLOEXEC), 0);
	f->tracer = fork();
	assert_true(f->tracer >= 0);
	if (f->tracer == 0) {
		char c;

		/* nothing but the two pipe ends: no copy of a worker channel */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != up[1] && fd != rel[0])
				close(fd);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		err = ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0 ? 0 : errno;
		(void)!write(up[1], &err, sizeof(err));
		if (err != 0)
			_exit(1);
		while (read(rel[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(up[1]);
	close(rel[0]);
	f->release = rel[1];
	do
		n = read(up[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(up[0]);
	if (n != (ssize_t)sizeof(err))
		fail_msg("the tracer died before it reported");
	if (err != 0)
		fail_msg("PTRACE_SEIZE of worker %d refused: %s; this test needs "
		    "ptrace of a non-dumpable process (CAP_SYS_PTRACE, e.g. "
		    "root, and no seccomp or Yama policy against it)",
		    (int)pid, strerror(err));
}

static void
test_stop_ipc_02_stop_failed_when_not_reaped(void **state)
{
	struct fx *f = *state;
	struct vals v = base_vals;
	xr_diag d = { 0 };
	const uint32_t reap_ms = 500;
	uint64_t t0, took;
	pid_t victim;

	v.service = "test.v1.Wedge";	/* ignores STOP: needs the SIGKILL */
	v.grace_s = 0;
	fx_begin(f, &v, reap_ms);
	if (xr_supervisor_wait_ready(f->sup, READY_MS, &d) != XR_OK)
		fail_msg("wait_ready: %s", d.reason);
	remember(f);
	victim = f->w[0].pid;
	tracer_start(f, victim);
	t0 = xr_mono_ms();
	assert_int_equal(fx_stop(f, &d), XR_ERR_STOP_FAILED);
	took = xr_mono_ms() - t0;
	print_message("    stop_failed after %llu ms (grace 0, reap timeout "
	    "%u ms)\n", (unsigned long long)took, reap_ms);
	assert_int_equal(xr_err_category(d.code), XR_CAT_STOP_FAILED);
	assert_non_null(strstr(d.reason, "reach"));
	assert_non_null(strstr(d.reason, "not reaped within 500 ms"));
	assert_true(took >= reap_ms && took <= reap_ms + TOLERANCE_MS);
	/* the SIGKILL went out: a zombie nobody but the tracer may reap */
	assert_int_equal(ts_stop_count(&f->rec, "reach", 0), 0);
	f->nw = xr_supervisor_workers(f->sup, f->w, 8);
	assert_int_equal(f->w[0].state, XR_WORKER_STOPPING);
	assert_int_equal(f->w[0].pid, victim);
	assert_int_equal(waitpid(victim, NULL, WNOHANG), 0);

	/* released: the supervisor reaps it, the round completes, forced */
	tracer_release(f);
	assert_int_equal(fx_stop(f, &d), XR_ERR_STOP_TIMEOUT);
	assert_non_null(strstr(d.reason, "reach"));
	assert_int_equal(ts_stop_count(&f->rec, "reach", XR_STOP_FORCED), 1);
	assert_int_equal(ts_stop_count(&f->rec, "reach", 0), 1);
	f->nw = xr_supervisor_workers(f->sup, f->w, 8);
	assert_int_equal(f->w[0].state, XR_WORKER_STOPPED);
	assert_int_equal(f->w[0].pid, 0);
	assert_int_equal(f->w[0].last_signal, SIGKILL);
	fx_end(f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_sec_ipc_05_max_payload_reaches_worker),
		T(test_sec_ipc_03_ttl_reaches_worker),
		T(test_sec_ipc_04_nonce_cache_size_reaches_worker),
		T(test_stop_ipc_01_drain_inflight_reaches_worker),
		T(test_stop_ipc_02_03_graceful_timeout_reaches_stop),
		T(test_proc_int_04_08_restart_reaches_supervision),
		T(test_boot_api_01_workers_reaches_supervisor),
		T(test_ready_timeout_reaches_wait_ready),
		T(test_stop_ipc_02_stop_failed_when_not_reaped),
#undef T
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
