/*
 * tests/reliability/test_hello_replay.c — issue 11 defect 4: a captured
 * HELLO is accepted by no endpoint but the one it was signed for.
 *
 * A supervisor runs group "rep" with 2 workers (restart: on-failure). A
 * HELLO is signed as the ingress signs it for worker 0 (the keys of that
 * endpoint and generation: xr_supervisor_endpoint_keys) and captured:
 *
 *   worker 0, as sent          HELLO_ACK (the handshake works)
 *   worker 0, replayed         closed, no frame, replay +1 (its nonce cache)
 *   worker 1, replayed         closed, no frame, bad_signature +1
 *   worker 0 after a restart   closed, no frame, bad_signature +1
 *     (SIGKILLed, respawned as generation 2: a new process, a new nonce
 *     cache, new keys)
 *
 * Every count is exact and every other counter stays 0 (read with the
 * endpoint's Endpoint/Stats, signed with that endpoint's own keys). Before
 * the fix every worker of a supervisor had the same keys: the replays at
 * worker 1 and at the restarted worker 0 got a HELLO_ACK and no counter
 * moved.
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

#include <event2/event.h>

#include "dispatch.h"
#include "helper_sup.h"

#define READY_MS 20000

static const char yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    process_groups:\n"
    "      - {name: rep, workers: 2, restart: on-failure,"
    " services: [echo.v1.Echo]}\n";

/* The reject counters of the worker at `port` (Endpoint/Stats with `ks`). */
static void
rejects(uint16_t port, const xr_keyset *ks, uint64_t out[XR_REJECT_COUNT])
{
	Execrpc__V1__WorkerStatus *ws = ts_stats(port, ks);

	assert_int_equal(ws->n_rejects_by_kind, XR_REJECT_COUNT);
	memcpy(out, ws->rejects_by_kind, sizeof(uint64_t) * XR_REJECT_COUNT);
	execrpc__v1__worker_status__free_unpacked(ws, NULL);
}

/* Exactly one reject, of kind `kind`, since `before`. */
static void
assert_one_more(const uint64_t before[XR_REJECT_COUNT],
    const uint64_t after[XR_REJECT_COUNT], int kind)
{
	for (int k = 0; k < XR_REJECT_COUNT; k++)
		assert_int_equal(after[k] - before[k], k == kind ? 1 : 0);
}

/* Send the captured bytes on a fresh connection to `port`: true if the
 * endpoint closes it within 3 s without sending a frame. */
static bool
replay_refused(uint16_t port, const xr_keyset *ks, const uint8_t *hello,
    size_t len)
{
	ts_peer p;
	int frames = -1, closed;

	ts_peer_open_keys(&p, port, ks);
	(void)ts_send_raw(&p, hello, len);	/* a refusal may reset */
	closed = ts_wait_closed(&p, 3000, &frames);
	ts_peer_close(&p);
	return closed == 1 && frames == 0;
}

/* Run the loop until worker `index` of the supervisor has a process other
 * than `old` that is READY (a restart), at most READY_MS. */
static void
wait_restart(struct event_base *base, xr_supervisor *sup, size_t index,
    pid_t old, xr_worker_info *w)
{
	uint64_t t0 = xr_mono_ms();
	xr_worker_info all[2];

	for (;;) {
		struct timeval tv = { 0, 20 * 1000 };

		assert_int_equal(xr_supervisor_workers(sup, all, 2), 2);
		if (all[index].pid > 0 && all[index].pid != old &&
		    all[index].state == XR_WORKER_READY)
			break;
		assert_true(xr_mono_ms() - t0 < READY_MS);
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	*w = all[index];
}

static void
test_hello_replay_other_endpoint_and_generation(void **state)
{
	struct event_base *base;
	xr_supervisor_opts o = { 0 };
	xr_supervisor *sup;
	xr_config cfg;
	xr_keyset ks, k0, k1, k0b;
	xr_worker_info w[2], w0b;
	xr_diag d = { 0 };
	ts_rec rec = { 0 };
	uint64_t before[XR_REJECT_COUNT], after[XR_REJECT_COUNT];
	const Execrpc__V1__Envelope *e;
	ts_peer p;
	uint8_t *hello;
	size_t len;
	int closed = 0;

	(void)state;
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	o.cfg = &cfg;
	o.keys = &ks;
	o.on_worker_event = ts_on_worker;
	o.worker_arg = &rec;
	if ((sup = xr_supervisor_new(base, &o, &d)) == NULL ||
	    xr_supervisor_start_groups(sup, NULL, 0, &d) != XR_OK ||
	    xr_supervisor_wait_ready(sup, READY_MS, &d) != XR_OK)
		fail_msg("supervisor: %s", d.reason);
	assert_int_equal(xr_supervisor_workers(sup, w, 2), 2);
	assert_int_equal(w[0].generation, 1);
	assert_int_equal(w[1].generation, 1);
	ts_ep_keys(sup, &w[0], &k0);
	ts_ep_keys(sup, &w[1], &k1);

	/* the ingress's HELLO to worker 0, captured on its way */
	ts_peer_open_keys(&p, w[0].port, &k0);
	hello = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0, 0, &len);
	assert_int_equal(ts_send_raw(&p, hello, len), 0);
	assert_non_null(e = ts_recv(&p, 3000, &closed));
	assert_int_equal(e->kind, XR_KIND_HELLO_ACK);
	ts_peer_close(&p);

	/* worker 0 itself: the same nonce is a replay */
	rejects(w[0].port, &k0, before);
	assert_true(replay_refused(w[0].port, &k0, hello, len));
	rejects(w[0].port, &k0, after);
	assert_one_more(before, after, XR_REJECT_REPLAY);

	/* worker 1: another endpoint, other keys */
	rejects(w[1].port, &k1, before);
	assert_true(replay_refused(w[1].port, &k1, hello, len));
	rejects(w[1].port, &k1, after);
	assert_one_more(before, after, XR_REJECT_BAD_SIGNATURE);

	/* worker 0 after a restart: generation 2, other keys */
	assert_int_equal(kill(w[0].pid, SIGKILL), 0);
	wait_restart(base, sup, 0, w[0].pid, &w0b);
	assert_int_equal(w0b.generation, 2);
	assert_int_equal(w0b.restarts, 1);
	ts_ep_keys(sup, &w0b, &k0b);
	assert_memory_not_equal(k0b.k[XR_DIR_WEB_TO_EXEC].b,
	    k0.k[XR_DIR_WEB_TO_EXEC].b, 32);
	rejects(w0b.port, &k0b, before);
	assert_true(replay_refused(w0b.port, &k0b, hello, len));
	rejects(w0b.port, &k0b, after);
	assert_one_more(before, after, XR_REJECT_BAD_SIGNATURE);
	/* the old generation's keys open no session there either */
	assert_true(ts_hello_refused(w0b.port, &k0));

	free(hello);
	assert_int_equal(xr_supervisor_stop_groups(sup, 5000, true, &d), XR_OK);
	xr_supervisor_free(sup);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
	xr_keyset_wipe(&k0);
	xr_keyset_wipe(&k1);
	xr_keyset_wipe(&k0b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_hello_replay_other_endpoint_and_generation),
	};
	int r = ts_worker_mode(argc, argv);

	if (r >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
