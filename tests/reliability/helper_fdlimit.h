/*
 * tests/reliability/helper_fdlimit.h — fd exhaustion:
 * an execution endpoint and execrpc-supervisor run under a small
 * RLIMIT_NOFILE in child processes, the floods that exhaust it, and the
 * probes that show recovery. Shared by test_fdlimit.c (bounded) and
 * battery_fdlimit.c (full size, figures).
 */
#ifndef FL_HELPER_FDLIMIT_H
#define FL_HELPER_FDLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "server.h"

/* The limit both children run under (ulimit -n 64). */
#define FL_NOFILE 64

uint64_t fl_now_ms(void);

/* ---- an endpoint (tests/server/helper_srv.h's server: echo.v1.Echo,
 * keys from ts_master) in a child process under RLIMIT_NOFILE `nofile` ---- */

typedef struct fl_endpoint {
	pid_t pid;
	int cmd;		/* write 'q': stop and report */
	int rep;		/* the port, then the report */
	uint16_t port;
} fl_endpoint;

typedef struct fl_report {
	xr_server_stats st;	/* the endpoint's counters at its stop */
	uint64_t cpu_ms;	/* the child's user + system CPU time */
} fl_report;

/* Fork the endpoint; returns 0 with e->port set, or -1. */
int fl_endpoint_start(fl_endpoint *e, unsigned nofile);
/* Ask it to stop; its report into `r`, its wait status into `*status`.
 * Returns 0, or -1 if it sent no report (crashed) or did not exit within
 * 10 s (then it is SIGKILLed). */
int fl_endpoint_stop(fl_endpoint *e, fl_report *r, int *status);

/* ---- floods: connections opened and held ---- */

/* Up to `cap` non-blocking TCP connects to 127.0.0.1:port; their fds in
 * `fds`; returns how many sockets were opened. */
int fl_flood_tcp(uint16_t port, int *fds, int cap);
/* Up to `cap` connects to the AF_UNIX stream socket `path` (non-blocking;
 * one refused for a full backlog is not kept); returns how many. */
int fl_flood_unix(const char *path, int *fds, int cap);
void fl_close_all(int *fds, int n);

/* One signed echo.v1.Echo/Say over a fresh connection (HELLO, REQUEST),
 * each answer awaited `wait_ms`: 1 if it came back OK, else 0. */
int fl_signed_say(uint16_t port, int wait_ms);

/* ---- execrpc-supervisor (XR_BINARY_DIR) under RLIMIT_NOFILE `nofile`,
 * one group "g" of 2 echo workers, restart on-failure, its control socket
 * in a fresh directory ---- */

typedef struct fl_sup {
	pid_t pid;
	int out;		/* its stdout */
	int err;		/* its stderr */
	char dir[64];		/* mkdtemp: config, control socket */
	char sock[128];
	char line[512];		/* stdout not yet split into lines */
	size_t n;
	pid_t worker[2];	/* from its "worker g I pid P port N" lines */
	unsigned lines[2];	/* such lines seen per index */
	char errtail[1024];	/* the end of its stderr so far */
} fl_sup;

/* Start it; returns 0 or -1 (cannot fork or write the config). */
int fl_sup_start(fl_sup *s, unsigned nofile);
/* Read its stdout for up to `ms`, until worker `index` has had `lines`
 * worker lines (index -1: both workers one each). 1 if so; 0 if not in
 * time; -1 if it exited (then *status is its wait status). */
int fl_sup_wait(fl_sup *s, int index, unsigned lines, int ms, int *status);
/* Drain its stderr (non-blocking) into s->errtail; returns it. */
const char *fl_sup_stderr(fl_sup *s);
/* SIGTERM, reap (SIGKILL after 10 s), remove the directory; the wait
 * status. */
int fl_sup_stop(fl_sup *s);

#endif
