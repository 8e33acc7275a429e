/*
 * bench/bench_rtt.c — sequential signed unary call round trip over tcp_local
 * against a raw TCP 68-byte echo ping-pong, measured in the same run.
 *
 *   bench_rtt [ITERATIONS]        (default 20000, after 2000 warm-up)
 *
 * Both servers run in a thread of this process on 127.0.0.1; both clients
 * run on the main thread, one call/message at a time. Prints p50/p99/mean in
 * microseconds for each and the execrpc/raw ratios. A benchmark prints
 * figures; it asserts nothing about time.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_srv.h"
#include "execrpc/client.h"
#include "execrpc/echo/v1/echo.pb.h"
#include "keys.h"
#include "server.h"

#define MSG 68
#define WARMUP 2000

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct figures {
	double p50_us, p99_us, mean_us;
};

static struct figures
summarize(uint64_t *lat, size_t n)
{
	struct figures f;
	uint64_t sum = 0;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += lat[i];
	f.p50_us = (double)lat[n / 2] / 1000.0;
	f.p99_us = (double)lat[(n * 99) / 100] / 1000.0;
	f.mean_us = (double)sum / (double)n / 1000.0;
	return f;
}

/* ---- raw TCP echo baseline ---- */

static int
listen_loopback(uint16_t *port)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
		perror("raw listen");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
read_full(int fd, uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, b, n);

		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void *
raw_server(void *arg)
{
	int lfd = *(int *)arg, fd, one = 1;
	uint8_t buf[MSG];

	if ((fd = accept(lfd, NULL, NULL)) < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (read_full(fd, buf, MSG) == 0)
		if (write(fd, buf, MSG) != MSG)
			break;
	close(fd);
	return NULL;
}

static struct figures
bench_raw(size_t iters)
{
	struct sockaddr_in sin = { 0 };
	uint8_t buf[MSG];
	uint16_t port;
	int lfd = listen_loopback(&port), fd, one = 1;
	pthread_t thr;
	uint64_t *lat = calloc(iters, sizeof(*lat));
	struct figures f;

	pthread_create(&thr, NULL, raw_server, &lfd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("raw connect");
		exit(1);
	}
	memset(buf, 'x', sizeof(buf));
	for (size_t i = 0; i < WARMUP + iters; i++) {
		uint64_t t0 = now_ns();

		if (write(fd, buf, MSG) != MSG || read_full(fd, buf, MSG) != 0) {
			fprintf(stderr, "raw echo failed\n");
			exit(1);
		}
		if (i >= WARMUP)
			lat[i - WARMUP] = now_ns() - t0;
	}
	close(fd);
	pthread_join(thr, NULL);
	close(lfd);
	f = summarize(lat, iters);
	free(lat);
	return f;
}

/* ---- execrpc over tcp_local ---- */

static struct figures
bench_execrpc(size_t iters, const xr_keyset *ks, size_t *req_bytes)
{
	struct bench_srv s = { 0 };
	xr_channel_opts co = { 0 };
	struct event_base *cbase;
	xr_channel *ch;
	uint64_t *lat = calloc(iters, sizeof(*lat));
	struct figures f;
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse resp;
	xr_status st;
	int err;

	bench_srv_start(&s, ks);
	co.host = "127.0.0.1";
	co.port = bench_srv_port(&s);

	cbase = event_base_new();
	if ((ch = xr_channel_new_tcp(cbase, &co, ks, &err)) == NULL ||
	    xr_channel_wait_ready(ch, 5000) != XR_OK) {
		fprintf(stderr, "channel not ready\n");
		exit(1);
	}
	/* a SayRequest whose payload is 68 bytes, like the raw message */
	memset(req.text, 'x', 66);
	req.text[66] = '\0';
	*req_bytes = 68;
	for (size_t i = 0; i < WARMUP + iters; i++) {
		uint64_t t0 = now_ns();

		if (xr_call_sync(ch, "echo.v1.Echo/Say", echo_v1_SayRequest_fields,
		    &req, echo_v1_SayResponse_fields, &resp, 5000, &st) !=
		    XR_STATUS_OK) {
			fprintf(stderr, "call failed: %d %s\n", st.code, st.message);
			exit(1);
		}
		if (i >= WARMUP)
			lat[i - WARMUP] = now_ns() - t0;
	}
	xr_channel_free(ch);
	event_base_free(cbase);
	bench_srv_stop(&s);
	f = summarize(lat, iters);
	free(lat);
	return f;
}

int
main(int argc, char **argv)
{
	size_t iters = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 20000;
	uint8_t master[XR_MASTER_LEN];
	xr_keyset ks;
	struct figures raw, x;
	size_t req_bytes = 0;

	signal(SIGPIPE, SIG_IGN);
	if (iters == 0)
		iters = 20000;
	xr_keys_generate_master(master);
	xr_keys_derive(master, sizeof(master), XR_KDF_HKDF_SHA256, &ks);
	xr_wipe(master, sizeof(master));
	raw = bench_raw(iters);
	x = bench_execrpc(iters, &ks, &req_bytes);
	xr_keyset_wipe(&ks);
	printf("iterations=%zu payload_bytes=%d\n", iters, MSG);
	printf("raw_tcp_echo      p50_us=%.2f p99_us=%.2f mean_us=%.2f\n",
	    raw.p50_us, raw.p99_us, raw.mean_us);
	printf("execrpc_tcp_local p50_us=%.2f p99_us=%.2f mean_us=%.2f\n",
	    x.p50_us, x.p99_us, x.mean_us);
	printf("ratio_p50=%.2f ratio_p99=%.2f ratio_mean=%.2f\n",
	    x.p50_us / raw.p50_us, x.p99_us / raw.p99_us,
	    x.mean_us / raw.mean_us);
	return 0;
}
