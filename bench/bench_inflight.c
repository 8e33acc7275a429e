/*
 * bench/bench_inflight.c — calls per second with N unary calls kept in flight
 * on one tcp_local channel (the echo method, 64-byte text).
 *
 *   bench_inflight [--msg] [CALLS] [INFLIGHT...]  (default 200000, 32 64)
 *
 * The server runs on its own event_base in a thread of this process on
 * 127.0.0.1; the client keeps INFLIGHT async calls outstanding on the main
 * thread (each completion starts the next call) until CALLS completed,
 * after a warm-up of CALLS/10. Prints, per INFLIGHT: calls/s (wall clock),
 * the process's CPU seconds (user+sys, both threads) and calls per CPU
 * second, and the same for the client thread alone (RUSAGE_THREAD): less
 * sensitive to a loaded machine than the wall clock.
 * --msg: each call goes through xr_call_start_msg() with nanopb messages
 * (encode the SayRequest, decode the SayResponse: what generated stubs
 * and bench/compare's in-flight rows do) instead of payload bytes.
 * A benchmark prints figures; it asserts nothing about time.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <pb_encode.h>

#include "bench_srv.h"
#include "execrpc/client.h"
#include "execrpc/echo/v1/echo.pb.h"
#include "keys.h"
#include "server.h"

#define TEXT 64

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + sys) of the process, or of the calling thread. */
static double
cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the client: N in flight ---- */

struct run {
	xr_channel *ch;
	struct event_base *base;
	uint8_t req[TEXT + 8];
	size_t req_len;
	long started, done, total;
	int failed;
};

static void call_done(void *arg, const xr_status *st, const uint8_t *resp,
    size_t len);

static int use_msg;
static echo_v1_SayRequest msg_req;

static void
msg_deliver(void (*cb)(void), void *arg, const xr_status *st, const void *resp)
{
	(void)cb;
	call_done(arg, st, resp, 0);
}

static void
start_one(struct run *r)
{
	r->started++;
	if (use_msg)
		xr_call_start_msg(r->ch, "echo.v1.Echo/Say",
		    echo_v1_SayRequest_fields, &msg_req,
		    echo_v1_SayResponse_fields, sizeof(echo_v1_SayResponse),
		    10000, msg_deliver, NULL, r);
	else
		xr_call_start(r->ch, "echo.v1.Echo/Say", r->req, r->req_len,
		    10000, call_done, r);
}

static void
call_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct run *r = arg;

	(void)resp;
	(void)len;
	if (st->code != XR_STATUS_OK && !r->failed) {
		fprintf(stderr, "call failed: %d %s\n", st->code, st->message);
		r->failed = 1;
	}
	r->done++;
	if (r->done >= r->total)
		event_base_loopbreak(r->base);
	else if (r->started < r->total)
		start_one(r);
}

/* Keep `inflight` calls outstanding until `total` completed. */
static void
run_calls(struct run *r, long total, int inflight)
{
	r->started = r->done = 0;
	r->total = total;
	for (int i = 0; i < inflight && r->started < total; i++)
		start_one(r);
	event_base_dispatch(r->base);
	if (r->failed || r->done != total) {
		fprintf(stderr, "run incomplete: %ld of %ld\n", r->done, total);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	long calls;
	int deflt[] = { 32, 64 };
	uint8_t master[XR_MASTER_LEN];
	xr_keyset ks;
	struct bench_srv s = { 0 };
	struct run r;
	xr_channel_opts co = { 0 };
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	pb_ostream_t os;
	int err, nruns;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "--msg") == 0) {
		use_msg = 1;
		argc--;
		argv++;
	}
	calls = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	nruns = argc > 2 ? argc - 2 : 2;
	if (calls <= 0)
		calls = 200000;
	xr_keys_generate_master(master);
	xr_keys_derive(master, sizeof(master), XR_KDF_HKDF_SHA256, &ks);
	xr_wipe(master, sizeof(master));
	bench_srv_start(&s, &ks);

	memset(&r, 0, sizeof(r));
	memset(req.text, 'x', TEXT);
	req.text[TEXT] = '\0';
	os = pb_ostream_from_buffer(r.req, sizeof(r.req));
	if (!pb_encode(&os, echo_v1_SayRequest_fields, &req)) {
		fprintf(stderr, "encode\n");
		return 1;
	}
	r.req_len = os.bytes_written;
	msg_req = req;

	r.base = event_base_new();
	co.host = "127.0.0.1";
	co.port = bench_srv_port(&s);
	if ((r.ch = xr_channel_new_tcp(r.base, &co, &ks, &err)) == NULL ||
	    xr_channel_wait_ready(r.ch, 5000) != XR_OK) {
		fprintf(stderr, "channel not ready\n");
		return 1;
	}
	printf("calls=%ld request_bytes=%zu api=%s\n", calls, r.req_len,
	    use_msg ? "xr_call_start_msg" : "xr_call_start");
	for (int i = 0; i < nruns; i++) {
		int n = argc > 2 ? atoi(argv[2 + i]) : deflt[i];
		double t0, c0, cc0, wall, cpu, ccpu;

		if (n <= 0)
			continue;
		run_calls(&r, calls / 10 > 0 ? calls / 10 : 1, n);
		t0 = now_s();
		c0 = cpu_s(RUSAGE_SELF);
		cc0 = cpu_s(RUSAGE_THREAD);
		run_calls(&r, calls, n);
		wall = now_s() - t0;
		cpu = cpu_s(RUSAGE_SELF) - c0;
		ccpu = cpu_s(RUSAGE_THREAD) - cc0;
		printf("inflight=%-3d calls_per_s=%.0f cpu_s=%.3f "
		    "calls_per_cpu_s=%.0f client_calls_per_cpu_s=%.0f\n", n,
		    (double)calls / wall, cpu, (double)calls / cpu,
		    (double)calls / ccpu);
	}
	xr_channel_free(r.ch);
	event_base_free(r.base);
	bench_srv_stop(&s);
	xr_keyset_wipe(&ks);
	return 0;
}
