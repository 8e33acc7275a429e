/*
 * tests/runtime/test_policy.c — config values reach the running system:
 * the execution_ipc values (max_payload_bytes, ttl_seconds,
 * nonce_cache_size) reach the endpoints, inline and in the workers (whose
 * endpoints come from the transport service); the lifecycle policy
 * (ready_timeout_seconds, graceful_timeout_seconds, drain_inflight) comes
 * from the config. Each value is set away from its default, and the
 * behaviour it controls is observed. This binary is its own worker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "helper_rt.h"
#include "rx.h"		/* xr_mono_ms */

#define SAY "echo.v1.Echo/Say"
/* auth: a static secret, so that the test derives the same keys */
#define AUTH "auth: {secret_mode: static, " \
    "secret: \"0123456789abcdef0123456789abcdef-policy\", kdf: hkdf_sha256"

/* The keys the lifecycle derived (static secret: the same ones). */
static void
keys_of(const rt_ctx *r, xr_keyset *ks)
{
	xr_diag d = { 0 };

	assert_int_equal(xr_config_keyset(&r->cfg, ks, &d), XR_OK);
}

/* The keys of worker `w`'s endpoint (process_supervisor: its own, bound
 * to its slot and generation). */
static void
ep_keys_of(const rt_ctx *r, const xr_worker_info *w, xr_keyset *ks)
{
	assert_int_equal(xr_supervisor_endpoint_keys(
	    xr_lifecycle_supervisor(r->lc), w->group, w->index, w->generation,
	    ks), XR_OK);
}

/* A length prefix one byte over the body limit of max_payload_bytes 1000
 * (the default limit, 1 MiB, would admit it and wait for the body). */
static void
oversized_prefix(uint8_t p[XR_FRAME_PREFIX_LEN])
{
	xr_frame_put_len(p, (uint32_t)xr_frame_max_body(1000) + 1);
}

/* Every worker's Endpoint/Stats rejects, through the topic. */
static void
worker_rejects(rt_ctx *r, size_t n, uint64_t rej[][XR_REJECT_COUNT])
{
	xr_topic *tp;
	xr_topic_result *res;
	xr_diag d = { 0 };
	size_t got;
	uint64_t calls;

	assert_non_null(tp = xr_transport_topic(rt_transport(r),
	    "echo.v1.Echo", &d));
	assert_int_equal(xr_topic_publish_sync(tp, "execrpc.v1.Endpoint/Stats",
	    NULL, 0, 2000, &res, &got), XR_OK);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		rt_stats_rejects(&res[i], rej[i], &calls);
	xr_topic_results_free(res, got);
}

/* A Say of `len` bytes of text through the ingress. */
static int
say_len(rt_ctx *r, size_t len)
{
	static char text[2048];
	rt_result res;
	int err;

	assert_true(len < sizeof(text));
	memset(text, 'x', len);
	text[len] = '\0';
	return rt_say(xr_lifecycle_pick(r->lc, "echo.v1.Echo", NULL, 0, &err),
	    SAY, text, 0, 0, 2000, &res);
}

/*
 * The HELLOs a fresh endpoint with nonce_cache_size 16 still admits after
 * the ingress's own one: 15 answered, the 16th refused (fail closed, counted
 * as replay). With the default 65536 the 16th would be answered.
 */
static void
fill_nonce_cache(struct event_base *base, uint16_t port, const xr_keyset *ks)
{
	for (int i = 0; i < 15; i++)
		assert_int_equal(rt_raw_hello(base, port, ks, 0), 0);
	assert_int_equal(rt_raw_hello(base, port, ks, 0), 1);
}

static const char *yaml_ps_limits =
    "runtime:\n  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "      max_payload_bytes: 1000\n"
    "      " AUTH "}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    lifecycle: {ready_timeout_seconds: 10, graceful_timeout_seconds: 3}\n"
    "    process_groups:\n"
    "      - {name: a, workers: 2, services: [echo.v1.Echo]}\n";

/* max_payload_bytes reaches every worker's endpoint (a raw oversized
 * prefix is refused and counted) and the ingress channels (a request over
 * it fails locally, a response over it with RESOURCE_EXHAUSTED). */
static void
test_max_payload_process_supervisor(void **state)
{
	rt_ctx r;
	xr_worker_info w[2];
	uint8_t prefix[XR_FRAME_PREFIX_LEN];
	uint64_t rej[2][XR_REJECT_COUNT];
	xr_diag d = { 0 };

	(void)state;
	rt_up(&r, yaml_ps_limits);
	assert_int_equal(xr_lifecycle_workers(r.lc, w, 2), 2);
	oversized_prefix(prefix);
	for (int i = 0; i < 2; i++)
		assert_int_equal(rt_raw_send(r.base, w[i].port, prefix, sizeof(prefix)),
		    1);
	worker_rejects(&r, 2, rej);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rej[i][XR_REJECT_OVERSIZED], 1);
		assert_int_equal(rej[i][XR_REJECT_BAD_SIGNATURE], 0);
	}
	assert_int_equal(say_len(&r, 900), XR_STATUS_OK);
	assert_int_equal(say_len(&r, 1000), XR_STATUS_INVALID_ARGUMENT);
	/* a 1000-byte request whose echo (text + pid) is over the limit */
	assert_int_equal(say_len(&r, 997), XR_STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	rt_free(&r);
}

static const char *yaml_ps_replay =
    "runtime:\n  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "      " AUTH ", nonce_cache_size: 16}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    lifecycle: {ready_timeout_seconds: 10, graceful_timeout_seconds: 3}\n"
    "    process_groups:\n"
    "      - {name: a, workers: 1, services: [echo.v1.Echo]}\n";

static const char *yaml_ps_ttl =
    "runtime:\n  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "      " AUTH ", ttl_seconds: 2}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    lifecycle: {ready_timeout_seconds: 10, graceful_timeout_seconds: 3}\n"
    "    process_groups:\n"
    "      - {name: a, workers: 1, services: [echo.v1.Echo]}\n";

/* nonce_cache_size and ttl_seconds reach the worker's endpoint. */
static void
test_replay_limits_process_supervisor(void **state)
{
	rt_ctx r;
	xr_worker_info w;
	xr_keyset ks;
	uint64_t rej[1][XR_REJECT_COUNT];
	xr_diag d = { 0 };

	(void)state;
	rt_up(&r, yaml_ps_replay);
	assert_int_equal(xr_lifecycle_workers(r.lc, &w, 1), 1);
	ep_keys_of(&r, &w, &ks);
	fill_nonce_cache(r.base, w.port, &ks);
	worker_rejects(&r, 1, rej);
	assert_int_equal(rej[0][XR_REJECT_REPLAY], 1);
	assert_int_equal(rej[0][XR_REJECT_EXPIRED], 0);
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	rt_free(&r);

	/* ttl 2 s: a HELLO 5 s old is expired (30 s would admit it), one
	 * 1 s old is not */
	xr_keyset_wipe(&ks);
	rt_up(&r, yaml_ps_ttl);
	assert_int_equal(xr_lifecycle_workers(r.lc, &w, 1), 1);
	ep_keys_of(&r, &w, &ks);
	assert_int_equal(rt_raw_hello(r.base, w.port, &ks, -5000), 1);
	assert_int_equal(rt_raw_hello(r.base, w.port, &ks, -1000), 0);
	worker_rejects(&r, 1, rej);
	assert_int_equal(rej[0][XR_REJECT_EXPIRED], 1);
	assert_int_equal(rej[0][XR_REJECT_REPLAY], 0);
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	rt_free(&r);
	xr_keyset_wipe(&ks);
}

/* The same values reach the inline endpoint (tcp_local). */
static void
test_execution_ipc_values_inline(void **state)
{
	static const char *yaml_limits =
	    "runtime:\n  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: tcp_local\n"
	    "      max_payload_bytes: 1000\n"
	    "      " AUTH ", nonce_cache_size: 16}\n"
	    "    process_groups:\n"
	    "      - {name: a, services: [echo.v1.Echo]}\n";
	static const char *yaml_ttl =
	    "runtime:\n  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: tcp_local\n"
	    "      " AUTH ", ttl_seconds: 2}\n"
	    "    process_groups:\n"
	    "      - {name: a, services: [echo.v1.Echo]}\n";
	rt_ctx r;
	xr_keyset ks;
	xr_server_stats st;
	uint8_t prefix[XR_FRAME_PREFIX_LEN];
	uint16_t port;
	xr_diag d = { 0 };

	(void)state;
	rt_up(&r, yaml_limits);
	keys_of(&r, &ks);
	port = xr_transport_port(rt_transport(&r));
	oversized_prefix(prefix);
	assert_int_equal(rt_raw_send(r.base, port, prefix, sizeof(prefix)), 1);
	fill_nonce_cache(r.base, port, &ks);
	xr_server_stats_get(xr_transport_server(rt_transport(&r)), &st);
	assert_int_equal(st.rejects[XR_REJECT_OVERSIZED], 1);
	assert_int_equal(st.rejects[XR_REJECT_REPLAY], 1);
	assert_int_equal(st.rejects[XR_REJECT_EXPIRED], 0);
	assert_int_equal(say_len(&r, 900), XR_STATUS_OK);
	assert_int_equal(say_len(&r, 1000), XR_STATUS_INVALID_ARGUMENT);
	/* a 1000-byte request whose echo (text + pid) is over the limit */
	assert_int_equal(say_len(&r, 997), XR_STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	rt_free(&r);

	rt_up(&r, yaml_ttl);
	port = xr_transport_port(rt_transport(&r));
	assert_int_equal(rt_raw_hello(r.base, port, &ks, -5000), 1);
	assert_int_equal(rt_raw_hello(r.base, port, &ks, -1000), 0);
	xr_server_stats_get(xr_transport_server(rt_transport(&r)), &st);
	assert_int_equal(st.rejects[XR_REJECT_EXPIRED], 1);
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	rt_free(&r);
	xr_keyset_wipe(&ks);
}

/* Milliseconds `fn` took. */
static uint64_t
since(uint64_t t0)
{
	return xr_mono_ms() - t0;
}

/* ready() gives up after lifecycle.ready_timeout_seconds when a worker
 * never reports ready (the worker executable sleeps); stop() then forces
 * it after lifecycle.graceful_timeout_seconds. */
static void
test_ready_timeout_and_forced_stop(void **state)
{
	static const char *yaml =
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 1, "
	    "graceful_timeout_seconds: 2}\n"
	    "    process_groups:\n"
	    "      - {name: a, workers: 1, services: [echo.v1.Echo]}\n";
	static const char *const sleep_args[] = { "30", NULL };
	rt_ctx r;
	xr_diag d = { 0 };
	uint64_t t0, took;
	int err;

	(void)state;
	rt_new(&r, yaml, "/bin/sleep", sleep_args);
	assert_int_equal(xr_lifecycle_start(r.lc, &d), XR_OK);
	t0 = xr_mono_ms();
	assert_int_equal(xr_lifecycle_ready(r.lc, &d), XR_ERR_READY_TIMEOUT);
	took = since(t0);
	assert_true(took >= 950 && took < 1900);
	assert_int_equal(d.code, XR_ERR_READY_TIMEOUT);
	assert_int_equal(xr_lifecycle_status(r.lc), XR_LC_STARTING);
	assert_null(xr_lifecycle_pick(r.lc, "echo.v1.Echo", NULL, 0, &err));
	assert_int_equal(err, XR_ERR_LIFECYCLE_NOT_READY);
	t0 = xr_mono_ms();
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_ERR_STOP_TIMEOUT);
	took = since(t0);
	assert_true(took >= 1950 && took < 3500);
	assert_int_equal(r.ev.stop_forced, 1);
	assert_int_equal(r.ev.stop_graceful, 0);
	rt_free(&r);
}

/* stop() waits lifecycle.graceful_timeout_seconds for a call in flight on
 * a worker, then forces. */
static void
test_graceful_timeout_process_supervisor(void **state)
{
	static const char *yaml =
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 10, "
	    "graceful_timeout_seconds: 1}\n"
	    "    process_groups:\n"
	    "      - {name: a, workers: 1, services: [echo.v1.Echo]}\n";
	rt_ctx r;
	rt_pending p;
	xr_diag d = { 0 };
	uint64_t t0, took;
	int err;

	(void)state;
	rt_up(&r, yaml);
	rt_start_say(xr_lifecycle_pick(r.lc, "echo.v1.Echo", NULL, 0, &err),
	    SAY, 5000, 10000, &p);
	rt_run_for(r.base, 50);
	t0 = xr_mono_ms();
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_ERR_STOP_TIMEOUT);
	took = since(t0);
	assert_true(took >= 950 && took < 2500);
	assert_int_equal(r.ev.stop_forced, 1);
	assert_int_equal(p.done, 1);
	assert_int_equal(p.code, XR_STATUS_UNAVAILABLE);
	rt_free(&r);
}

/* drain_inflight: false — stop() does not wait for calls in flight: they
 * end UNAVAILABLE at once and the stop is graceful (a drain would take the
 * call's 3 s and answer it OK). In all three modes. */
static void
test_no_drain_inflight(void **state)
{
	static const char *yamls[3] = {
	    "runtime:\n  platform:\n"
	    "    lifecycle: {graceful_timeout_seconds: 5, drain_inflight: false}\n"
	    "    process_groups:\n"
	    "      - {name: a, services: [echo.v1.Echo]}\n",
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    lifecycle: {graceful_timeout_seconds: 5, drain_inflight: false}\n"
	    "    process_groups:\n"
	    "      - {name: a, services: [echo.v1.Echo]}\n",
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 10, "
	    "graceful_timeout_seconds: 5, drain_inflight: false}\n"
	    "    process_groups:\n"
	    "      - {name: a, workers: 1, services: [echo.v1.Echo]}\n",
	};

	(void)state;
	for (int m = 0; m < 3; m++) {
		rt_ctx r;
		rt_pending p;
		xr_diag d = { 0 };
		uint64_t t0, took;
		int err;

		rt_up(&r, yamls[m]);
		rt_start_say(xr_lifecycle_pick(r.lc, "echo.v1.Echo", NULL, 0,
		    &err), SAY, 3000, 10000, &p);
		rt_run_for(r.base, 50);
		assert_int_equal(p.done, 0);
		t0 = xr_mono_ms();
		assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
		took = since(t0);
		assert_true(took < 1500);
		assert_int_equal(p.done, 1);
		assert_int_equal(p.code, XR_STATUS_UNAVAILABLE);
		if (m == 2)
			assert_int_equal(r.ev.stop_graceful, 1);
		rt_free(&r);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_payload_process_supervisor),
		cmocka_unit_test(test_replay_limits_process_supervisor),
		cmocka_unit_test(test_execution_ipc_values_inline),
		cmocka_unit_test(test_ready_timeout_and_forced_stop),
		cmocka_unit_test(test_graceful_timeout_process_supervisor),
		cmocka_unit_test(test_no_drain_inflight),
	};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
