/*
 * tests/reliability/test_inflight.c — the held-bytes budgets of the
 * execution endpoint (server/server.h "Held bytes"; issue 11, defect 3):
 * an authenticated peer that sends many large requests to a slow handler
 * and does not read. Each call is charged its request payload +
 * XR_ENVELOPE_OVERHEAD while in flight; the calls that fit max_outbuf per
 * connection (max_held_bytes per endpoint) run, every other one gets
 * RESOURCE_EXHAUSTED before a handler sees it, the admitted ones are all
 * answered, and the server's accounted bytes never pass the bound.
 * The endpoint runs in a forked child (helper_held.h), so its memory
 * is its own. The full-size figure is battery_inflight.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "echo/v1/echo.pb-c.h"
#include "frame.h"
#include "helper_held.h"

#define MIB ((size_t)1 << 20)
#define TEXT 100000		/* bytes of text per request */

#if defined(__SANITIZE_ADDRESS__)
#define TI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TI_ASAN 1
#endif
#endif

/* A peer whose writes give up after 20 s instead of hanging the test on
 * an endpoint that stopped reading. */
static void
peer_open(ts_peer *p, uint16_t port)
{
	struct timeval tv = { 20, 0 };

	ts_peer_open(p, port, ts_master);
	assert_int_equal(setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)), 0);
	ts_handshake(p);
}

static size_t
charge_of(uint32_t delay_ms)
{
	return ti_big_payload_len(TEXT, delay_ms) + XR_ENVELOPE_OVERHEAD;
}

/* Read `n` responses (ids first..first+n-1, any order); count the OK ones
 * whose text came back whole, and the RESOURCE_EXHAUSTED ones; for each
 * id, 1 if it was answered OK in ok_ids (may be NULL). */
static void
read_answers(ts_peer *p, size_t n, int *ok, int *exhausted, uint8_t *ok_ids,
    uint64_t first)
{
	*ok = *exhausted = 0;
	for (size_t i = 0; i < n; i++) {
		const Execrpc__V1__Envelope *e;
		Echo__V1__SayResponse *r;
		int closed;

		assert_non_null(e = ts_recv(p, 20000, &closed));
		assert_int_equal(e->kind, XR_KIND_RESPONSE);
		assert_non_null(e->status);
		assert_true(e->call_id >= first && e->call_id < first + n);
		if ((int)e->status->code == XR_STATUS_RESOURCE_EXHAUSTED) {
			(*exhausted)++;
			continue;
		}
		assert_int_equal(e->status->code, XR_STATUS_OK);
		assert_non_null(r = echo__v1__say_response__unpack(NULL,
		    e->payload.len, e->payload.data));
		assert_int_equal(strlen(r->text), TEXT);
		echo__v1__say_response__free_unpacked(r, NULL);
		if (ok_ids != NULL)
			ok_ids[e->call_id - first] = 1;
		(*ok)++;
	}
}

/* The handler's delay: longer than a test runs; the tests release the
 * calls (ti_server_release) once every request was seen. */
#define HOLD_MS 100000

/*
 * max_outbuf 1 MiB, 40 requests of 100,008 payload bytes (charge 104,104)
 * to a handler that answers when released, not read meanwhile: the first 10
 * run (10 x 104,104 <= 1 MiB < 11 x), the other 30 get RESOURCE_EXHAUSTED
 * before a handler; all 10 are answered in full; the connection's
 * accounted bytes peaked between 10 charges and 1 MiB, and fall to 0.
 */
static void
test_connection_budget_exact_counts(void **state)
{
	xr_server_opts o = { .max_outbuf = MIB };
	size_t charge = charge_of(HOLD_MS), admit = MIB / charge;
	uint8_t ok_ids[40] = { 0 };
	xr_server_stats st;
	ti_server t;
	ts_peer p;
	int ok, exhausted;

	(void)state;
	assert_int_equal(charge, 104104);
	assert_int_equal(admit, 10);
	ti_server_start(&t, &o);
	peer_open(&p, t.port);
	for (int i = 0; i < 40; i++)
		(void)ti_send_big(&p, TEXT, HOLD_MS, 0);
	assert_true(ti_server_wait_seen(&t, 40, 20000));
	ti_server_stats(&t, &st);
	assert_int_equal(st.calls_started, admit);
	assert_int_equal(st.calls_over_budget, 40 - admit);
	assert_true(st.conn_held_peak >= admit * charge);
	assert_true(st.conn_held_peak <= MIB);
	assert_true(st.held_bytes_peak <= MIB);

	ti_server_release(&t);
	read_answers(&p, 40, &ok, &exhausted, ok_ids, 1);
	assert_int_equal(ok, admit);
	assert_int_equal(exhausted, 40 - admit);
	for (size_t i = 0; i < 40; i++)	/* the first ones ran */
		assert_int_equal(ok_ids[i], i < admit);
	ti_server_stats(&t, &st);
	assert_int_equal(st.calls_ok, admit);
	assert_int_equal(st.calls_failed, 40 - admit);
	assert_int_equal(st.held_bytes, 0);
	assert_true(st.conn_held_peak <= MIB);
	ts_peer_close(&p);
	ti_server_stop(&t);
}

/*
 * The endpoint's budget across connections: max_held_bytes 1.5 MiB,
 * max_outbuf 1 MiB. A sends 20 (10 run, as above), then B sends 20: only
 * 5 more fit the endpoint (10 + 5 charges <= 1.5 MiB < 10 + 6), B's 15
 * others get RESOURCE_EXHAUSTED. Closing both abandons the 15 calls and
 * the endpoint's held bytes fall to 0.
 */
static void
test_endpoint_budget_across_connections(void **state)
{
	xr_server_opts o = { .max_outbuf = MIB, .max_held_bytes = 3 * MIB / 2 };
	size_t charge = charge_of(HOLD_MS);
	xr_server_stats st;
	ti_server t;
	ts_peer a, b;
	int ok, exhausted;

	(void)state;
	ti_server_start(&t, &o);
	peer_open(&a, t.port);
	peer_open(&b, t.port);
	for (int i = 0; i < 20; i++)
		(void)ti_send_big(&a, TEXT, HOLD_MS, 0);
	assert_true(ti_server_wait_seen(&t, 20, 20000));
	for (int i = 0; i < 20; i++)
		(void)ti_send_big(&b, TEXT, HOLD_MS, 0);
	assert_true(ti_server_wait_seen(&t, 40, 20000));
	ti_server_stats(&t, &st);
	assert_int_equal(st.calls_started, 15);
	assert_int_equal(st.calls_over_budget, 25);
	assert_true(st.held_bytes_peak >= 15 * charge);
	assert_true(st.held_bytes_peak <= 3 * MIB / 2);
	assert_true(st.conn_held_peak <= MIB);
	/* B's refusals are the ones after its first 5 */
	read_answers(&b, 15, &ok, &exhausted, NULL, 6);
	assert_int_equal(ok, 0);
	assert_int_equal(exhausted, 15);

	ts_peer_close(&a);
	ts_peer_close(&b);
	for (int i = 0; i < 2000; i++) {
		ti_server_stats(&t, &st);
		if (st.connections_open == 0)
			break;
		usleep(10000);
	}
	assert_int_equal(st.connections_open, 0);
	assert_int_equal(st.calls_cancelled, 15);
	assert_int_equal(st.held_bytes, 0);
	ti_server_stop(&t);
}

/*
 * Memory: 100 requests of 100 kB (10 MB) with max_outbuf 1 MiB, not read
 * until every one was seen and the admitted ones answered: the child's
 * peak RSS grows by less than 3 x max_outbuf over its idle RSS (not
 * checked under ASan, whose quarantine keeps freed memory resident).
 */
static void
test_rss_bounded(void **state)
{
	xr_server_opts o = { .max_outbuf = MIB };
	xr_server_stats st;
	ti_server t;
	ts_peer p;
	long idle, peak;
	int ok, exhausted;

	(void)state;
	ti_server_start(&t, &o);
	peer_open(&p, t.port);
	idle = ti_proc_kb(t.pid, "VmRSS");
	for (int i = 0; i < 100; i++)
		(void)ti_send_big(&p, TEXT, HOLD_MS, 0);
	assert_true(ti_server_wait_seen(&t, 100, 20000));
	/* the admitted calls answer, into a peer not reading */
	ti_server_release(&t);
	for (int i = 0; i < 2000; i++) {
		ti_server_stats(&t, &st);
		if (st.calls_ok + st.calls_failed == 100)
			break;
		usleep(10000);
	}
	peak = ti_proc_kb(t.pid, "VmHWM");
	print_message("server RSS idle %ld kB, peak %ld kB, growth %ld kB "
	    "(bound %zu kB)\n", idle, peak, peak - idle, 3 * MIB / 1024);
#ifndef TI_ASAN
	assert_true(idle > 0 && peak > 0);
	assert_true((size_t)(peak - idle) < 3 * MIB / 1024);
#endif
	assert_int_equal(st.calls_ok, 10);
	assert_int_equal(st.calls_over_budget, 90);
	read_answers(&p, 100, &ok, &exhausted, NULL, 1);
	assert_int_equal(ok, 10);
	assert_int_equal(exhausted, 90);
	ts_peer_close(&p);
	ti_server_stop(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_budget_exact_counts),
		cmocka_unit_test(test_endpoint_budget_across_connections),
		cmocka_unit_test(test_rss_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
