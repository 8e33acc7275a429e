/* bench/bench_srv.c — the in-thread echo endpoint of the benchmarks. */
#include "bench_srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "echo.h"

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_srv *s = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(s->base);
}

static void *
srv_main(void *arg)
{
	struct bench_srv *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

void
bench_srv_start(struct bench_srv *s, const xr_keyset *ks)
{
	xr_server_opts o = { 0 };
	xr_diag d = { 0 };

	s->base = event_base_new();
	s->reg = xr_registry_new(s->base);
	xr_echo_register(s->reg);
	if ((s->srv = xr_server_new(s->base, &o, ks, s->reg, &d)) == NULL ||
	    xr_server_listen(s->srv, &d) != XR_OK) {
		fprintf(stderr, "server: %s\n", d.reason);
		exit(1);
	}
	if (pipe(s->wake) != 0) {
		perror("pipe");
		exit(1);
	}
	s->wake_ev = event_new(s->base, s->wake[0], EV_READ, wake_cb, s);
	event_add(s->wake_ev, NULL);
	if (pthread_create(&s->thr, NULL, srv_main, s) != 0) {
		fprintf(stderr, "server: cannot start its thread\n");
		exit(1);
	}
}

uint16_t
bench_srv_port(const struct bench_srv *s)
{
	return xr_server_port(s->srv);
}

void
bench_srv_stop(struct bench_srv *s)
{
	if (write(s->wake[1], "q", 1) != 1)
		exit(1);
	pthread_join(s->thr, NULL);
	event_free(s->wake_ev);
	close(s->wake[0]);
	close(s->wake[1]);
	xr_server_free(s->srv);
	xr_registry_free(s->reg);
	event_base_free(s->base);
}
