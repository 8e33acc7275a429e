/*
 * bench/bench_srv.h — the echo endpoint that bench_rtt and bench_inflight
 * run on its own event_base in a thread of their process, on 127.0.0.1 with
 * default server options. Any failure prints why and exits 1 (a benchmark
 * has nothing to recover).
 */
#ifndef XR_BENCH_SRV_H
#define XR_BENCH_SRV_H

#include <pthread.h>
#include <stdint.h>

#include <event2/event.h>

#include "keys.h"
#include "registry.h"
#include "server.h"

struct bench_srv {
	struct event_base *base;
	xr_registry *reg;
	xr_server *srv;
	int wake[2];		/* a byte here stops the server thread */
	struct event *wake_ev;
	pthread_t thr;
};

/* Start the endpoint (echo.v1.Echo, keys `ks`) and its thread. */
void bench_srv_start(struct bench_srv *s, const xr_keyset *ks);

/* The port it listens on. */
uint16_t bench_srv_port(const struct bench_srv *s);

/* Stop the thread, then free the endpoint. */
void bench_srv_stop(struct bench_srv *s);

#endif /* XR_BENCH_SRV_H */
