/*
 * bench/compare.h — what the parts of bench_compare share: the run's
 * parameters, a row's result, the clock and the latency summary, and the
 * measurements each part offers (compare_peers.c: raw TCP, libevent and bare
 * processes; compare_xr.c: execrpc and the crypto ceiling; compare_grpc.cc:
 * gRPC C++). bench_compare.c drives them in interleaved repetitions.
 *
 * Every measurement fills an xrb_result and returns 0, or prints why on
 * stderr and returns -1. A benchmark prints figures; nothing here asserts
 * anything about time.
 */
#ifndef XRB_COMPARE_H
#define XRB_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The message: 64 bytes on the wire for every system. For execrpc and
 * gRPC it is the serialized echo.v1.SayRequest whose text is
 * XRB_TEXT_LEN bytes (tag, length, text). */
#define XRB_MSG 64
#define XRB_TEXT_LEN 62

/* How many of each kind of measurement one row makes. */
typedef struct xrb_sizes {
	size_t warmup;		/* untimed calls before a timed loop */
	size_t seq;		/* sequential round trips (latency rows) */
	size_t pipelined;	/* raw pipelined messages */
	size_t async;		/* calls of an in-flight row */
	size_t mem_async;	/* calls of the memory async row */
	size_t hmac;		/* MACs of the crypto row */
	size_t connects;	/* connects / handshakes */
} xrb_sizes;

/* One row's figure in one repetition. */
typedef struct xrb_result {
	double value;		/* p50 in µs, per second, or ms (by row) */
	double p99;		/* latency rows: p99 in µs; else 0 */
} xrb_result;

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t xrb_now_ns(void);

/* Sort `ns[0..n-1]` (n > 0) and set r->value to its p50 and r->p99 to its
 * p99, in microseconds. */
void xrb_latency(uint64_t *ns, size_t n, xrb_result *r);

/* A calloc of `n` latencies, or NULL with a message on stderr. */
uint64_t *xrb_lat_alloc(size_t n);

/* The request all systems send: XRB_TEXT_LEN bytes of 'x' (no NUL). */
extern const char xrb_text[XRB_TEXT_LEN + 1];

/*
 * Fork a server process: the child calls serve(port_fd, arg), which binds
 * 127.0.0.1 on an ephemeral port, writes the port (uint16_t, host order)
 * to port_fd and serves until killed; the child dies with the parent
 * (PR_SET_PDEATHSIG). Returns the child's pid with *port set, or -1.
 */
pid_t xrb_spawn_server(int (*serve)(int port_fd, void *arg), void *arg,
    uint16_t *port);

/* Kill (SIGKILL) and reap a server process; pid <= 0 is a no-op. */
void xrb_reap_server(pid_t pid);

/* ---- compare_peers.c ---- */

/* The servers: a blocking read/write echo, one connection at a time; a
 * libevent bufferevent echo (input buffer moved to the output). */
int xrb_raw_serve(int port_fd, void *arg);
int xrb_libevent_serve(int port_fd, void *arg);

/* Blocking ping-pong of XRB_MSG bytes against an echo at `port`: p50/p99. */
int xrb_pingpong(uint16_t port, const xrb_sizes *z, xrb_result *r);

/* `inflight` messages kept in flight on one connection, the window refilled
 * by one write per read: messages per second. */
int xrb_pipelined(uint16_t port, unsigned inflight, const xrb_sizes *z,
    xrb_result *r);

/* socket() + connect() to `port`, p50/p99 over z->connects. */
int xrb_connect_cost(uint16_t port, const xrb_sizes *z, xrb_result *r);

/* fork+exec `exe --bare-ready R S` `n` times and wait until each wrote one
 * byte to its ready pipe: milliseconds in r->value. */
int xrb_bare_start(const char *exe, unsigned n, xrb_result *r);

/* The child side of xrb_bare_start(): argv is "--bare-ready R S". Writes
 * one byte to R, waits for EOF on S, returns the exit status. */
int xrb_bare_child(int argc, char **argv);

/* ---- compare_xr.c ---- */

/* Generate the run's keys (before any server is forked); wipe them. */
int xrb_xr_keys_init(void);
void xrb_xr_keys_wipe(void);

/* The execrpc tcp_local echo server (xr_server + echo.v1.Echo). */
int xrb_xr_serve(int port_fd, void *arg);

/* Sequential xr_call_sync over a tcp_local channel to `port`. */
int xrb_xr_tcp_seq(uint16_t port, const xrb_sizes *z, xrb_result *r);
/* `inflight` async calls on one tcp_local channel: calls per second. */
int xrb_xr_tcp_async(uint16_t port, unsigned inflight, const xrb_sizes *z,
    xrb_result *r);
/* A new channel: connect + HELLO/HELLO_ACK, p50/p99 over z->connects. */
int xrb_xr_handshake(uint16_t port, const xrb_sizes *z, xrb_result *r);

/* Through the supervisor (process_supervisor lifecycle, `workers` worker
 * processes running `exe --worker`; calls picked round robin). */
int xrb_xr_sup_seq(const char *exe, unsigned workers, const xrb_sizes *z,
    xrb_result *r);
int xrb_xr_sup_async(const char *exe, unsigned workers, unsigned inflight,
    const xrb_sizes *z, xrb_result *r);
/* start() + ready() of a lifecycle with `workers` workers: milliseconds. */
int xrb_xr_sup_start(const char *exe, unsigned workers, xrb_result *r);

/* The memory profile: a memory channel to an in-process registry. */
int xrb_xr_mem_seq(const xrb_sizes *z, xrb_result *r);
int xrb_xr_mem_async(unsigned inflight, const xrb_sizes *z, xrb_result *r);

/* HMAC-SHA256 of a frame-sized message, key schedule once: MACs per
 * second. With `mbedtls` 0 through xr_auth_hmac_mac() (core/auth.c, the
 * frames' own code: nettle's SHA-256); with 1 through mbedTLS'
 * mbedtls_md_hmac_reset/update/finish, for comparison. */
int xrb_hmac_rate(int mbedtls, const xrb_sizes *z, xrb_result *r);

/* The worker side of the supervisor rows: argv has "--worker". */
int xrb_xr_worker_main(int argc, char **argv);

/* ---- compare_grpc.cc (only with XR_BENCH_GRPC) ---- */

/* kind 0: synchronous server; kind 1: callback server. `arg` points to an
 * int holding the kind. */
int xrb_grpc_serve(int port_fd, void *arg);
int xrb_grpc_seq(uint16_t port, const xrb_sizes *z, xrb_result *r);
int xrb_grpc_async(uint16_t port, unsigned outstanding, const xrb_sizes *z,
    xrb_result *r);
/* "1.51.1" */
const char *xrb_grpc_version(void);

#ifdef __cplusplus
}
#endif

#endif /* XRB_COMPARE_H */
