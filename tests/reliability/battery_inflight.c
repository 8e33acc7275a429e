/*
 * tests/reliability/battery_inflight.c — held bytes at full size, with
 * figures (issue 11, defect 3; the bounded version: test_inflight.c). An
 * authenticated peer sends N requests of about 1 MB to an endpoint with
 * the default limits (max_outbuf 8 MiB) in a forked child and reads
 * nothing until every request was seen and every admitted call answered:
 *  1. to a handler that answers once every request was seen: exactly max_outbuf / charge
 *     calls run (charge = payload + XR_ENVELOPE_OVERHEAD), the others get
 *     RESOURCE_EXHAUSTED;
 *  2. to a handler that answers at once: the responses fill the socket
 *     and the output buffer, then the requests are refused.
 * Each: the server's peak RSS over its idle RSS must stay <= 2 x
 * max_outbuf, its accounted bytes per connection <= max_outbuf, and once
 * the peer reads, every call has its answer. Prints attack, expected,
 * observed; exits 1 if an expectation fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "frame.h"
#include "helper_held.h"

#define N 200
#define TEXT 1000000		/* 1 MB of text per request */
#define OUTBUF ((size_t)8 << 20)	/* xr_server_opts' default */

static int failed;

static void
expect(int ok, const char *what)
{
	printf("  %-66s %s\n", what, ok ? "ok" : "FAILED");
	failed |= !ok;
}

/* Read the N answers: OK ones (text whole) and RESOURCE_EXHAUSTED ones. */
static void
read_answers(ts_peer *p, int *ok, int *exhausted, int *other)
{
	*ok = *exhausted = *other = 0;
	for (int i = 0; i < N; i++) {
		const Execrpc__V1__Envelope *e;
		int closed;

		if ((e = ts_recv(p, 30000, &closed)) == NULL ||
		    (int)e->kind != XR_KIND_RESPONSE || e->status == NULL) {
			(*other)++;
			break;
		}
		if ((int)e->status->code == XR_STATUS_OK &&
		    e->payload.len > TEXT)
			(*ok)++;
		else if ((int)e->status->code == XR_STATUS_RESOURCE_EXHAUSTED)
			(*exhausted)++;
		else
			(*other)++;
	}
}

static void
attack(uint32_t delay_ms)
{
	xr_server_opts o = { 0 };
	struct timeval tv = { 30, 0 };
	size_t charge = ti_big_payload_len(TEXT, delay_ms) +
	    XR_ENVELOPE_OVERHEAD, admit = OUTBUF / charge;
	xr_server_stats st;
	ti_server t;
	ts_peer p;
	long idle, peak;
	int ok, exhausted, other, done = 0;

	printf("attack: %d requests of %d bytes of text to a handler that "
	    "answers %s, default limits, the peer reads nothing\n", N, TEXT,
	    delay_ms ? "once every request was seen" : "at once");
	if (delay_ms)
		printf("expected: %zu calls run (max_outbuf %zu / charge %zu), "
		    "%zu RESOURCE_EXHAUSTED; ", admit, OUTBUF, charge,
		    N - admit);
	else
		printf("expected: ");
	printf("RSS over idle <= 2 x max_outbuf = %zu kB; accounted bytes "
	    "per connection <= max_outbuf\n", 2 * OUTBUF / 1024);
	ti_server_start(&t, &o);
	ts_peer_open(&p, t.port, ts_master);
	(void)setsockopt(p.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ts_handshake(&p);
	idle = ti_proc_kb(t.pid, "VmRSS");
	for (int i = 0; i < N; i++)
		(void)ti_send_big(&p, TEXT, delay_ms, 0);
	(void)ti_server_wait_seen(&t, N, 60000);
	ti_server_release(&t);
	for (int i = 0; i < 3000 && !done; i++) {
		ti_server_stats(&t, &st);
		done = st.calls_ok + st.calls_failed == N;
		if (!done)
			usleep(10000);
	}
	peak = ti_proc_kb(t.pid, "VmHWM");
	read_answers(&p, &ok, &exhausted, &other);
	printf("observed: RSS idle %ld kB, peak %ld kB, over idle %ld kB; "
	    "calls run %llu, refused over budget %llu; accounted peak %llu "
	    "bytes; answers read: %d OK, %d RESOURCE_EXHAUSTED, %d other\n",
	    idle, peak, peak - idle, (unsigned long long)st.calls_started,
	    (unsigned long long)st.calls_over_budget,
	    (unsigned long long)st.conn_held_peak, ok, exhausted, other);
	expect(done, "every call answered or refused while the peer did not "
	    "read");
	if (delay_ms) {
		expect(st.calls_started == admit, "exactly max_outbuf / charge "
		    "calls run");
		expect(st.calls_over_budget == N - admit, "the others refused "
		    "over budget");
	}
	expect(ok == (int)st.calls_ok && exhausted == N - ok && other == 0,
	    "once read: OK for the calls run, RESOURCE_EXHAUSTED for the rest");
	expect(st.conn_held_peak <= OUTBUF, "accounted bytes per connection "
	    "<= max_outbuf");
	expect(idle > 0 && peak > 0 && (size_t)(peak - idle) <= 2 * OUTBUF /
	    1024, "server RSS over idle <= 2 x max_outbuf");
	ts_peer_close(&p);
	ti_server_stop(&t);
}

int
main(void)
{
	attack(3600 * 1000);	/* released by the attack */
	attack(0);
	return failed ? 1 : 0;
}
