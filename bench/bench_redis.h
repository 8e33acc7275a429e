/*
 * bench/bench_redis.h — what the parts of bench_redis share: the row's
 * result (rate, latency, CPU per call, Redis commands per call), the
 * processes it runs (redis-server, execrpc-server pools, redis-benchmark,
 * a raw hiredis ping-pong peer) and the execrpc calls it makes.
 *
 *   bench_redis_procs.c  rb_redis_*: the run's own redis-server (a unix
 *                        socket and a loopback TCP port, a temporary
 *                        directory, --save '' --appendonly no) and its
 *                        INFO commandstats; rb_pool_*: execrpc-server
 *                        processes serving redis_streams or tcp_local;
 *                        rb_floor_*: redis-benchmark XADD and the hiredis
 *                        XADD + XREAD BLOCK ping-pong; CPU time from /proc.
 *   bench_redis_calls.c  rb_ing_*: the calling side in this process (the
 *                        runtime transport service's redis_streams ingress,
 *                        or tcp_local channels to a pool), sequential and
 *                        in-flight 64-byte echo calls with per-call latency.
 *   bench_redis.c        main: the rows in interleaved repetitions, the
 *                        table, the ratios, the machine and loopback level.
 *
 * A benchmark: prints figures, asserts nothing about time. Every function
 * returning int returns 0, or -1 with the reason on stderr.
 */
#ifndef XRB_BENCH_REDIS_H
#define XRB_BENCH_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "compare.h"

#define RB_MAX_WORKERS 4
#define RB_MAX_CMDS 16		/* distinct Redis commands tracked per row */

/* One row's figures in one repetition; a figure that does not apply is
 * negative. */
typedef struct rb_result {
	double rate;		/* calls (or ops) per second */
	double p50, p99;	/* latency, µs */
	double cpu_ing;		/* CPU µs per call: this process (ingress) */
	double cpu_wrk;		/* ... the pool's worker processes, summed */
	double cpu_redis;	/* ... redis-server */
	double redis_pct;	/* redis-server's CPU %: cpu_redis * rate */
	double cmds;		/* Redis commands per call (commandstats) */
	double redis_usec;	/* Redis' own µs in commands per call */
	char cmdmix[320];	/* per call, with Redis' µs per command:
				 * "xadd=2.00(3.1us) eval=1.00(20.5us) ..." */
} rb_result;

/* Reset every figure to "does not apply". */
void rb_result_clear(rb_result *r);

/* ---- bench_redis_procs.c ---- */

/* The run's redis-server. */
typedef struct rb_redis {
	char dir[64];		/* temporary directory (socket, secret, cfgs) */
	char sock[128];		/* its unix socket */
	uint16_t port;		/* its loopback TCP port */
	pid_t pid;
	struct redisContext *admin;	/* CONFIG RESETSTAT, INFO */
} rb_redis;

/* Start redis-server in a fresh temporary directory and wait (5 s) until
 * it answers on both the socket and the port; with `cluster`, as a
 * one-node Redis Cluster holding every slot (so that a command whose keys
 * hash to different slots fails CROSSSLOT as on a real cluster).
 * rb_redis_stop() undoes it, also after a failure. */
int rb_redis_start(rb_redis *rs, int cluster);
void rb_redis_stop(rb_redis *rs);

/* CONFIG RESETSTAT (start of a row). */
int rb_redis_resetstat(rb_redis *rs);

/* INFO commandstats since the last reset, divided by `calls`: r->cmds,
 * r->redis_usec and r->cmdmix (INFO and CONFIG left out). */
int rb_redis_cmdstats(rb_redis *rs, size_t calls, rb_result *r);

/* Print what the run left in Redis: used_memory, the key count, the
 * nonce and call records (count, bytes of one) and `req_stream`'s length
 * and bytes: the figures for sizing (docs/scaling.md). */
void rb_redis_report(rb_redis *rs, const char *req_stream);

/* Print INFO errorstats: the error replies Redis sent so far. */
void rb_redis_errorstats(rb_redis *rs);

/* CPU time (user + system) of process `pid` so far, µs (clock ticks of
 * /proc/PID/stat); 0 if unreadable. */
uint64_t rb_proc_cpu_us(pid_t pid);
/* CPU time of this process so far, µs (getrusage). */
uint64_t rb_self_cpu_us(void);

/* Execution processes: `n` execrpc-server processes on one config. */
typedef struct rb_pool {
	unsigned n;
	pid_t pid[RB_MAX_WORKERS];
	uint16_t port[RB_MAX_WORKERS];	/* tcp_local: their endpoints */
	char cfgpath[192];
	char yaml[1024];	/* the config, for the calling side too */
} rb_pool;

/*
 * Write `yaml` to DIR/NAME.yaml and start `n` execrpc-server (`bin`)
 * processes on it (stderr to DIR/NAME.log, dying with this process); wait
 * for each one's first line: "serving redis_streams ..." or
 * "listening HOST PORT" (the port is kept). rb_pool_stop() undoes it, also
 * after a failure.
 */
int rb_pool_start(rb_pool *p, const char *bin, const char *dir,
    const char *name, const char *yaml, unsigned n);
void rb_pool_stop(rb_pool *p);

/* CPU µs of the pool's processes so far, summed. */
uint64_t rb_pool_cpu_us(const rb_pool *p);

/*
 * redis-benchmark -s SOCK (tcp: -h 127.0.0.1 -p PORT) -n `n` -P `pipeline`
 * -c `clients` --csv XADD KEY MAXLEN ~ 100000 * f <64 bytes>: its ops/s,
 * p50 and p99, and redis-server's CPU µs per op.
 */
int rb_floor_xadd(rb_redis *rs, int tcp, size_t n, unsigned pipeline,
    unsigned clients, rb_result *r);

/*
 * The least a stream transport pays per call: this process XADDs a 64-byte
 * entry to one stream and waits (XREAD BLOCK) for a forked peer's XADD on
 * a second stream, the peer doing the mirror image; blocking hiredis, one
 * connection each. `warmup` + `n` round trips: p50, p99, the rate, Redis
 * commands and CPU per round trip.
 */
int rb_floor_pingpong(rb_redis *rs, int tcp, size_t warmup, size_t n,
    rb_result *r);

/* ---- bench_redis_calls.c ---- */

typedef struct rb_ing rb_ing;

/* The calling side for a redis_streams pool: a runtime transport service
 * made from the pool's config (no endpoint served; the group's slot up),
 * ready within 5 s. NULL with the reason on stderr. */
rb_ing *rb_ing_redis(const rb_pool *p);

/* The calling side for a tcp_local pool: one channel per process, with
 * the keys of the pool's config, picked in turn. */
rb_ing *rb_ing_tcp(const rb_pool *p);

void rb_ing_free(rb_ing *g);

/*
 * `n` calls of echo.v1.Echo/Say with a 62-byte text (64 bytes serialized)
 * with `inflight` calls in flight (1: sequential, each started when the
 * last completed): calls/s, p50 and p99 (from each call's start to its
 * completion) into r, unless r is NULL (a warmup); the CPU figures are
 * the caller's. Every call must end OK.
 */
int rb_ing_run(rb_ing *g, unsigned inflight, size_t n, rb_result *r);

#endif /* XRB_BENCH_REDIS_H */
