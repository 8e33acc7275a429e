/*
 * bench/bench_lifecycle.c — how long the process_supervisor lifecycle takes
 * to bring N workers to ready, and to stop them gracefully when idle.
 *
 *   bench_lifecycle [RUNS [WORKERS]]      (default 20 runs, 4 workers)
 *
 * Each run: xr_lifecycle_start() + xr_lifecycle_ready() (fork+exec of every
 * worker, one bundle each, READY with its port, ingress channels connected
 * and past their handshake), then xr_lifecycle_stop() (STOP, drain, STOPPED,
 * exit 0, reaped). Prints p50/min/max in milliseconds. The binary is its own
 * worker (--worker). Prints figures; asserts nothing about time.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "echo.h"
#include "runtime.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *name, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("%s p50_ms=%.2f min_ms=%.2f max_ms=%.2f\n", name, v[n / 2], v[0],
	    v[n - 1]);
}

int
main(int argc, char **argv)
{
	int runs = 20, workers = 4;
	double *up, *down;
	char yaml[512];
	xr_config cfg;
	xr_diag d = { 0 };

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return xr_runtime_worker_main(argc, argv, &xr_echo_module, 1);
	if (argc >= 2)
		runs = atoi(argv[1]);
	if (argc >= 3)
		workers = atoi(argv[2]);
	if (runs < 1 || workers < 1 || workers > 64) {
		fprintf(stderr, "usage: bench_lifecycle [RUNS [WORKERS]]\n");
		return 64;
	}
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 10, "
	    "graceful_timeout_seconds: 5}\n"
	    "    process_groups:\n"
	    "      - {name: execution, workers: %d, services: [echo.v1.Echo]}\n",
	    workers);
	if (xr_config_load_string(yaml, strlen(yaml), &cfg, &d) != XR_OK) {
		fprintf(stderr, "config: %s\n", d.reason);
		return 1;
	}
	up = calloc((size_t)runs, sizeof(*up));
	down = calloc((size_t)runs, sizeof(*down));
	for (int i = 0; i < runs; i++) {
		struct event_base *base = event_base_new();
		xr_lifecycle_opts o = { 0 };
		xr_lifecycle *lc;
		double t0, t1;

		o.cfg = &cfg;
		o.mods = &xr_echo_module;
		o.n_mods = 1;
		t0 = now_ms();
		if ((lc = xr_lifecycle_new(base, &o, &d)) == NULL ||
		    xr_lifecycle_start(lc, &d) != XR_OK ||
		    xr_lifecycle_ready(lc, &d) != XR_OK) {
			fprintf(stderr, "start: %s\n", d.reason);
			return 1;
		}
		t1 = now_ms();
		up[i] = t1 - t0;
		if (xr_lifecycle_stop(lc, &d) != XR_OK) {
			fprintf(stderr, "stop: %s\n", d.reason);
			return 1;
		}
		down[i] = now_ms() - t1;
		xr_lifecycle_free(lc);
		event_base_free(base);
	}
	printf("runs=%d workers=%d\n", runs, workers);
	report("start_to_ready", up, runs);
	report("graceful_stop_idle", down, runs);
	xr_config_free(&cfg);
	free(up);
	free(down);
	return 0;
}
