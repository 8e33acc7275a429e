/*
 * tests/reliability/helper_held.h — the held-bytes attacks' shared
 * pieces (test_inflight.c, battery_inflight.c): an endpoint in a forked
 * child serving TI_METHOD, its counters fetched over a pipe, a child's
 * memory from /proc, and a raw peer's large requests.
 *
 * TI_METHOD takes echo.v1's messages with no size limit of its own, so
 * that a request and its response can be as large as max_payload_bytes,
 * and answers the request's text: at once without delay_ms (through
 * echo.v1.Echo/Say's handler, server/echo.c), else after delay_ms or when
 * released (ti_server_release()), from the decoded request the call keeps
 * (no copy: server/echo.c's delay copies the text, which would double
 * what a slow call holds beyond its charge).
 */
#ifndef TI_HELPER_HELD_H
#define TI_HELPER_HELD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "helper_srv.h"

#define TI_METHOD "inflight.v1.Big/Say"

typedef struct ti_server {
	pid_t pid;		/* the child serving */
	int ctl;		/* to the child: 's' stats, 'r' release,
				 * 'q' quit */
	int rep;		/* from the child: the port, then stats */
	uint16_t port;
} ti_server;

/* Fork a child serving TI_METHOD (and the built-ins) on an ephemeral
 * loopback port with `o` and keys from ts_master; returns once it
 * listens. Call before any thread is started. Asserts on failure. */
void ti_server_start(ti_server *t, const xr_server_opts *o);
/* The child's xr_server_stats_get() now. */
void ti_server_stats(ti_server *t, xr_server_stats *st);
/* Poll the stats (every 10 ms, up to `timeout_ms`) until
 * calls_started + calls_over_budget reaches `n`; returns 1, or 0 on
 * timeout. */
int ti_server_wait_seen(ti_server *t, uint64_t n, int timeout_ms);
/* Make the child answer every TI_METHOD call still waiting for its
 * delay now: a test gives its calls a delay longer than it can run and
 * releases them once every request was seen, so that no answer depends on
 * how fast the requests got there. */
void ti_server_release(ti_server *t);
/* Stop the child and reap it; asserts it exited 0. */
void ti_server_stop(ti_server *t);

/* A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); -1 if absent. */
long ti_proc_kb(pid_t pid, const char *field);

/* The SayRequest payload TI_METHOD gets from ti_send_big(): its size for
 * a text of `text_len` bytes and `delay_ms`. */
size_t ti_big_payload_len(size_t text_len, uint32_t delay_ms);
/* Send one REQUEST for TI_METHOD whose text is `text_len` bytes of 'x';
 * returns the call id. Asserts the write succeeded. */
uint64_t ti_send_big(ts_peer *p, size_t text_len, uint32_t delay_ms,
    uint32_t timeout_ms);

#endif
