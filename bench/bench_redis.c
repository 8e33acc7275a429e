/*
 * bench/bench_redis.c — the redis_streams profile against tcp_local and
 * against Redis' own floor, on the same 64-byte unary echo, in one run
 * (docs/scaling.md explains the rows and gives the figures).
 *
 *   bench_redis [--reps N] [--quick | --smoke] [--cluster1] [--server PATH]
 *
 * One run starts its own redis-server (a unix socket and a loopback TCP
 * port in a temporary directory, --save '' --appendonly no) and, once,
 * every pool of execution processes (execrpc-server, `--server` or
 * $XR_SERVER_BIN or ../apps/server/execrpc-server beside this program):
 * for 1, 2 and 4 processes, a redis_streams pool over the socket, one over
 * TCP, and a tcp_local pool (one endpoint per process; the calls go to
 * them in turn). The calling side (the ingress) is this process: the
 * runtime transport service's redis_streams ingress, or tcp_local
 * channels. Idle pools only wait (XREADGROUP BLOCK).
 *
 * Each repetition runs every row once, in a fixed order in which the rows
 * to be compared are neighbours, so that a change of the machine's state
 * hits them alike; the ratios are taken within a repetition and their
 * median printed. Rows:
 *
 *   raw.tcp.pingpong        64-byte blocking ping-pong over loopback TCP:
 *                           the loopback's level in this run
 *   floor.xadd.{unix,tcp}.P1c1, .P16c32
 *                           redis-benchmark XADD (64-byte value), one
 *                           client unpipelined, 32 clients pipelining 16
 *   floor.stream_pp.{unix,tcp}
 *                           two processes, hiredis: XADD, the peer's XREAD
 *                           BLOCK, its XADD back, our XREAD BLOCK
 *   redis.{unix,tcp}.wN.{seq,if32,if64}, tcp_local.wN.{seq,if32,if64}
 *                           echo.v1.Echo/Say through execrpc to N worker
 *                           processes, sequential or 32/64 in flight
 *
 * Besides calls/s and latency, every row prints load-insensitive figures:
 * CPU µs per call of this process, of the workers and of redis-server
 * (/proc, getrusage), redis-server's CPU % during the row, and the Redis
 * commands per call (INFO commandstats
 * since CONFIG RESETSTAT at the row's start; idle pools add about one
 * XREADGROUP per idle worker every 2 s).
 *
 * --cluster1 runs the same against a one-node Redis Cluster (every slot
 * on the one node): a check of whether the profile's key names work under
 * Redis Cluster (docs/scaling.md), not a throughput figure.
 *
 * Exit status 0 when every row measured, 1 when one failed, 64 for bad
 * arguments. Prints figures; asserts nothing about time.
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_redis.h"

#define MAX_REPS 20
#define MAX_ROWS 48
#define FAST_LEVEL_US 30.0	/* raw ping-pong p50 below it: fast level */

typedef struct sizes {
	unsigned reps;
	size_t warmup, seq, inflight, xadd1, xadd16, pp;
} sizes;

typedef enum kind { K_RAW, K_XADD, K_PP, K_CALL } kind;

typedef struct row {
	char id[40];
	kind kind;
	int tcp;			/* K_XADD, K_PP: Redis over TCP */
	unsigned pipeline, clients;	/* K_XADD */
	unsigned inflight;		/* K_CALL: 1 = sequential */
	rb_pool *pool;			/* K_CALL */
	rb_ing *ing;
	int redis;			/* K_CALL: over redis_streams */
	rb_result res[MAX_REPS];
	int ok[MAX_REPS];
} row;

/* A pool and its calling side. */
typedef struct target {
	rb_pool pool;
	rb_ing *ing;
} target;

enum { T_RUNIX, T_RTCP, T_TCPL, T_N };
static const unsigned worker_counts[3] = { 1, 2, 4 };
static const unsigned conc[3] = { 1, 32, 64 };

typedef struct run {
	sizes z;
	int cluster;		/* --cluster1 */
	char server[PATH_MAX];
	rb_redis rs;
	uint16_t raw_port;
	pid_t raw_pid;
	target t[T_N][3];
	row rows[MAX_ROWS];
	unsigned nrows;
} run;

/* ---- arguments ---- */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_redis [--reps N] [--quick | --smoke] "
	    "[--cluster1] [--server PATH]\n");
}

static int
parse_args(run *R, int argc, char **argv)
{
	sizes full = { 3, 200, 2000, 10000, 20000, 200000, 2000 };
	sizes quick = { 2, 100, 500, 2000, 5000, 50000, 500 };
	sizes smoke = { 1, 20, 100, 300, 300, 3000, 100 };
	const char *env = getenv("XR_SERVER_BIN");
	long reps = 0;

	R->z = full;
	R->server[0] = '\0';
	if (env != NULL)
		snprintf(R->server, sizeof(R->server), "%s", env);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			R->z = quick;
		else if (strcmp(argv[i], "--smoke") == 0)
			R->z = smoke;
		else if (strcmp(argv[i], "--cluster1") == 0)
			R->cluster = 1;
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			snprintf(R->server, sizeof(R->server), "%s", argv[++i]);
		else
			return -1;
	}
	if (reps < 0 || reps > MAX_REPS)
		return -1;
	if (reps > 0)
		R->z.reps = (unsigned)reps;
	if (R->server[0] == '\0') {
		char self[PATH_MAX - 64];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		if (n <= 0)
			return -1;
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL)
			*slash = '\0';
		snprintf(R->server, sizeof(R->server),
		    "%s/../apps/server/execrpc-server", self);
	}
	return 0;
}

/* ---- setup ---- */

static void
yaml_redis(char *y, size_t cap, const run *R, int tcp, const char *prefix)
{
	char where[160];

	if (tcp)
		snprintf(where, sizeof(where), "        host: 127.0.0.1\n"
		    "        port: %u\n", (unsigned)R->rs.port);
	else
		snprintf(where, sizeof(where), "        unix_socket: %s\n",
		    R->rs.sock);
	snprintf(y, cap,
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: redis_streams\n"
	    "      auth: {secret_mode: static, secret_file: %s/secret}\n"
	    "      redis:\n"
	    "%s"
	    "        stream_prefix: %s\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", R->rs.dir, where, prefix);
}

static void
yaml_tcp(char *y, size_t cap, const run *R)
{
	snprintf(y, cap,
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: tcp_local\n"
	    "      auth: {secret_mode: static, secret_file: %s/secret}\n",
	    R->rs.dir);
}

/* A fresh 32-byte secret (hex) in DIR/secret, mode 0600. */
static int
write_secret(const run *R)
{
	char path[192], hex[65];
	unsigned char b[32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/secret", R->rs.dir);
	if (getentropy(b, sizeof(b)) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fchmod(fileno(f), 0600);
	fprintf(f, "%s\n", hex);
	return fclose(f) == 0 ? 0 : -1;
}

static int
setup_targets(run *R)
{
	static const char *const tname[T_N] = { "ru", "rt", "tl" };
	char y[1024], name[16];

	if (write_secret(R) < 0) {
		fprintf(stderr, "bench_redis: cannot write the secret\n");
		return -1;
	}
	for (int t = 0; t < T_N; t++)
		for (int k = 0; k < 3; k++) {
			target *g = &R->t[t][k];

			snprintf(name, sizeof(name), "%s%u", tname[t],
			    worker_counts[k]);
			if (t == T_TCPL)
				yaml_tcp(y, sizeof(y), R);
			else
				yaml_redis(y, sizeof(y), R, t == T_RTCP, name);
			if (rb_pool_start(&g->pool, R->server, R->rs.dir, name,
			    y, worker_counts[k]) < 0)
				return -1;
			g->ing = t == T_TCPL ? rb_ing_tcp(&g->pool) :
			    rb_ing_redis(&g->pool);
			if (g->ing == NULL)
				return -1;
			/* the first calls: every worker connected and reading */
			if (rb_ing_run(g->ing, 1, 1, NULL) < 0)
				return -1;
		}
	return 0;
}

static void
teardown(run *R)
{
	for (int t = 0; t < T_N; t++)
		for (int k = 0; k < 3; k++) {
			rb_ing_free(R->t[t][k].ing);
			R->t[t][k].ing = NULL;
			rb_pool_stop(&R->t[t][k].pool);
		}
	xrb_reap_server(R->raw_pid);
	rb_redis_stop(&R->rs);
}

/* ---- the rows ---- */

static row *
add_row(run *R, kind k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static row *
add_row(run *R, kind k, const char *fmt, ...)
{
	row *w = &R->rows[R->nrows++];
	va_list ap;

	memset(w, 0, sizeof(*w));
	w->kind = k;
	va_start(ap, fmt);
	vsnprintf(w->id, sizeof(w->id), fmt, ap);
	va_end(ap);
	return w;
}

static const char *
conc_name(unsigned c)
{
	static char b[16];

	if (c == 1)
		return "seq";
	snprintf(b, sizeof(b), "if%u", c);
	return b;
}

/* The fixed order: the floors, then per worker count and concurrency
 * tcp_local, redis over the socket, redis over TCP side by side. */
static void
build_rows(run *R)
{
	static const char *const tn[2] = { "unix", "tcp" };
	row *w;

	add_row(R, K_RAW, "raw.tcp.pingpong");
	for (int tcp = 0; tcp < 2; tcp++) {
		w = add_row(R, K_XADD, "floor.xadd.%s.P1c1", tn[tcp]);
		w->tcp = tcp, w->pipeline = 1, w->clients = 1;
		w = add_row(R, K_XADD, "floor.xadd.%s.P16c32", tn[tcp]);
		w->tcp = tcp, w->pipeline = 16, w->clients = 32;
		w = add_row(R, K_PP, "floor.stream_pp.%s", tn[tcp]);
		w->tcp = tcp;
	}
	for (int k = 0; k < 3; k++)
		for (int c = 0; c < 3; c++) {
			static const int order[T_N] = { T_TCPL, T_RUNIX,
			    T_RTCP };

			for (int i = 0; i < T_N; i++) {
				int t = order[i];
				target *g = &R->t[t][k];

				w = add_row(R, K_CALL, "%s.w%u.%s",
				    t == T_TCPL ? "tcp_local" :
				    t == T_RUNIX ? "redis.unix" : "redis.tcp",
				    worker_counts[k], conc_name(conc[c]));
				w->inflight = conc[c];
				w->pool = &g->pool;
				w->ing = g->ing;
				w->redis = t != T_TCPL;
			}
		}
}

static int
measure_call(run *R, row *w, rb_result *r)
{
	size_t n = w->inflight == 1 ? R->z.seq : R->z.inflight;
	uint64_t ci, cw, cr = 0;

	if (rb_ing_run(w->ing, w->inflight, R->z.warmup, NULL) < 0)
		return -1;
	if (w->redis && rb_redis_resetstat(&R->rs) < 0)
		return -1;
	ci = rb_self_cpu_us();
	cw = rb_pool_cpu_us(w->pool);
	cr = rb_proc_cpu_us(R->rs.pid);
	if (rb_ing_run(w->ing, w->inflight, n, r) < 0)
		return -1;
	r->cpu_ing = (double)(rb_self_cpu_us() - ci) / (double)n;
	r->cpu_wrk = (double)(rb_pool_cpu_us(w->pool) - cw) / (double)n;
	if (!w->redis)
		return 0;
	r->cpu_redis = (double)(rb_proc_cpu_us(R->rs.pid) - cr) / (double)n;
	return rb_redis_cmdstats(&R->rs, n, r);
}

static int measure_kind(run *R, row *w, rb_result *r);

/* One row once: its figures, and redis-server's CPU % from them. */
static int
measure(run *R, row *w, rb_result *r)
{
	rb_result_clear(r);
	if (measure_kind(R, w, r) < 0)
		return -1;
	if (r->cpu_redis >= 0 && r->rate > 0)
		r->redis_pct = r->cpu_redis * r->rate / 1e4;
	return 0;
}

static int
measure_kind(run *R, row *w, rb_result *r)
{
	xrb_sizes xz = { 0 };
	xrb_result x;

	switch (w->kind) {
	case K_RAW:
		xz.warmup = R->z.warmup;
		xz.seq = R->z.pp;
		if (xrb_pingpong(R->raw_port, &xz, &x) < 0)
			return -1;
		r->p50 = x.value;
		r->p99 = x.p99;
		return 0;
	case K_XADD:
		return rb_floor_xadd(&R->rs, w->tcp, w->pipeline == 1 ?
		    R->z.xadd1 : R->z.xadd16, w->pipeline, w->clients, r);
	case K_PP:
		return rb_floor_pingpong(&R->rs, w->tcp, R->z.warmup, R->z.pp,
		    r);
	case K_CALL:
		return measure_call(R, w, r);
	}
	return -1;
}

/* ---- statistics and printing ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of the non-negative values v[0..n-1], or -1 if none. */
static double
median(const double *v, unsigned n)
{
	double s[MAX_REPS];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		if (v[i] >= 0)
			s[k++] = v[i];
	if (k == 0)
		return -1;
	qsort(s, k, sizeof(double), cmp_double);
	return k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

/* The median over repetitions of the field at `off` of a row's results. */
static double
row_median(const run *R, const row *w, size_t off)
{
	double v[MAX_REPS];

	for (unsigned i = 0; i < R->z.reps; i++)
		v[i] = w->ok[i] ? *(const double *)(const void *)
		    ((const char *)&w->res[i] + off) : -1;
	return median(v, R->z.reps);
}

static void
fmt_fig(char *b, size_t cap, double v, int prec)
{
	if (v < 0)
		snprintf(b, cap, "-");
	else
		snprintf(b, cap, "%.*f", prec, v);
}

static void
print_table(const run *R)
{
	static const struct { size_t off; int prec; int width; } col[] = {
		{ offsetof(rb_result, rate), 0, 10 },
		{ offsetof(rb_result, p50), 1, 9 },
		{ offsetof(rb_result, p99), 1, 9 },
		{ offsetof(rb_result, cpu_ing), 1, 8 },
		{ offsetof(rb_result, cpu_wrk), 1, 8 },
		{ offsetof(rb_result, cpu_redis), 1, 8 },
		{ offsetof(rb_result, redis_pct), 0, 7 },
		{ offsetof(rb_result, cmds), 2, 7 },
		{ offsetof(rb_result, redis_usec), 1, 8 },
	};

	printf("\n%-24s %-6s %10s %9s %9s %8s %8s %8s %7s %7s %8s\n", "row",
	    "status", "calls/s", "p50_us", "p99_us", "cpu_ing", "cpu_wrk",
	    "cpu_rds", "rds_%", "cmds", "rds_us");
	for (unsigned i = 0; i < R->nrows; i++) {
		const row *w = &R->rows[i];
		int any = 0;

		for (unsigned k = 0; k < R->z.reps; k++)
			any |= w->ok[k];
		printf("%-24s %-6s", w->id, any ? "ok" : "failed");
		for (size_t c = 0; c < sizeof(col) / sizeof(col[0]); c++) {
			char b[32];

			fmt_fig(b, sizeof(b), row_median(R, w, col[c].off),
			    col[c].prec);
			printf(" %*s", col[c].width, b);
		}
		printf("\n");
	}
	printf("(medians over %u repetitions; cpu_*: CPU µs per call of the "
	    "ingress (this process), the workers, redis-server; rds_%%: "
	    "redis-server's CPU %%; cmds: Redis commands per call, rds_us: "
	    "Redis' µs inside them per call)\n",
	    R->z.reps);
}

static void
print_cmdmix(const run *R)
{
	unsigned last = R->z.reps - 1;

	printf("\nRedis commands per call (INFO commandstats, repetition "
	    "%u; in brackets Redis' µs per command; the SETs of the "
	    "redis rows run inside the EVAL script, not as round trips):\n",
	    last + 1);
	for (unsigned i = 0; i < R->nrows; i++) {
		const row *w = &R->rows[i];

		if (w->ok[last] && w->res[last].cmdmix[0] != '\0')
			printf("  %-24s %s\n", w->id, w->res[last].cmdmix);
	}
}

static const row *
find_row(const run *R, const char *id)
{
	for (unsigned i = 0; i < R->nrows; i++)
		if (strcmp(R->rows[i].id, id) == 0)
			return &R->rows[i];
	return NULL;
}

/* The median over repetitions of a.field / b.field (rate or p50). */
static double
ratio(const run *R, const char *a, const char *b, size_t off)
{
	const row *x = find_row(R, a), *y = find_row(R, b);
	double v[MAX_REPS];

	for (unsigned i = 0; i < R->z.reps; i++) {
		double p, q;

		v[i] = -1;
		if (x == NULL || y == NULL || !x->ok[i] || !y->ok[i])
			continue;
		p = *(const double *)(const void *)((const char *)&x->res[i] +
		    off);
		q = *(const double *)(const void *)((const char *)&y->res[i] +
		    off);
		if (p >= 0 && q > 0)
			v[i] = p / q;
	}
	return median(v, R->z.reps);
}

static void
print_ratios(const run *R)
{
	const size_t RATE = offsetof(rb_result, rate);
	const size_t P50 = offsetof(rb_result, p50);

	printf("\nRatios (median of per-repetition ratios; calls/s unless "
	    "said):\n");
	printf("%-10s %12s %12s %14s %14s %14s\n", "row", "unix/tcp_loc",
	    "tcp/tcp_loc", "unix/xadd_flr", "p50 unix/pp", "p50 unix/tcpl");
	for (int k = 0; k < 3; k++)
		for (int c = 0; c < 3; c++) {
			char ru[48], rt[48], tl[48], id[32], b[5][24];
			const char *flr = conc[c] == 1 ?
			    "floor.xadd.unix.P1c1" : "floor.xadd.unix.P16c32";

			snprintf(id, sizeof(id), "w%u.%s", worker_counts[k],
			    conc_name(conc[c]));
			snprintf(ru, sizeof(ru), "redis.unix.%s", id);
			snprintf(rt, sizeof(rt), "redis.tcp.%s", id);
			snprintf(tl, sizeof(tl), "tcp_local.%s", id);
			fmt_fig(b[0], 24, ratio(R, ru, tl, RATE), 3);
			fmt_fig(b[1], 24, ratio(R, rt, tl, RATE), 3);
			fmt_fig(b[2], 24, ratio(R, ru, flr, RATE), 3);
			fmt_fig(b[3], 24, ratio(R, ru,
			    "floor.stream_pp.unix", P50), 2);
			fmt_fig(b[4], 24, ratio(R, ru, tl, P50), 2);
			printf("%-10s %12s %12s %14s %14s %14s\n", id, b[0],
			    b[1], b[2], b[3], b[4]);
		}
	printf("(unix/xadd_flr: against redis-benchmark XADD on the socket, "
	    "-P 1 -c 1 for seq, -P 16 -c 32 in flight; p50 unix/pp: against "
	    "the raw hiredis stream ping-pong)\n");
}

/* ---- the machine ---- */

static void
cpu_model(char *b, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(b, cap, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && p != NULL) {
			snprintf(b, cap, "%s", p + 2);
			b[strcspn(b, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

static void
loadavg(char *b, size_t cap)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(b, cap, "unknown");
	if (f != NULL) {
		if (fgets(b, (int)cap, f) != NULL)
			b[strcspn(b, "\n")] = '\0';
		fclose(f);
	}
}

static void
print_machine(const run *R, const char *load0)
{
	char model[128], load1[128];
	const row *raw = find_row(R, "raw.tcp.pingpong");

	cpu_model(model, sizeof(model));
	loadavg(load1, sizeof(load1));
	printf("\nmachine: nproc %ld, CPU %s; load average at start %s, at "
	    "end %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, load0, load1);
	printf("placement: redis-server, each execrpc-server worker and the "
	    "peers are separate processes; the ingress is this process\n");
	for (unsigned i = 0; raw != NULL && i < R->z.reps; i++)
		if (raw->ok[i])
			printf("loopback level: rep %u %s level (raw TCP "
			    "ping-pong p50 %.1f us; fast < %.0f us)\n", i + 1,
			    raw->res[i].p50 < FAST_LEVEL_US ? "fast" : "slow",
			    raw->res[i].p50, FAST_LEVEL_US);
}

int
main(int argc, char **argv)
{
	static run R;
	char load0[128];
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	if (parse_args(&R, argc, argv) < 0) {
		usage();
		return 64;
	}
	loadavg(load0, sizeof(load0));
	if (access(R.server, X_OK) != 0) {
		fprintf(stderr, "bench_redis: no execrpc-server at %s (use "
		    "--server)\n", R.server);
		return 1;
	}
	if (rb_redis_start(&R.rs, R.cluster) < 0 ||
	    (R.raw_pid = xrb_spawn_server(xrb_raw_serve, NULL,
	    &R.raw_port)) < 0 || setup_targets(&R) < 0) {
		if (R.rs.admin != NULL)
			rb_redis_errorstats(&R.rs);
		teardown(&R);
		return 1;
	}
	build_rows(&R);
	printf("bench_redis: %u repetitions; %zu sequential calls, %zu in "
	    "flight per row; redis-server %s, port %u\n", R.z.reps, R.z.seq,
	    R.z.inflight, R.rs.sock, (unsigned)R.rs.port);
	for (unsigned rep = 0; rep < R.z.reps; rep++)
		for (unsigned i = 0; i < R.nrows; i++) {
			row *w = &R.rows[i];

			w->ok[rep] = measure(&R, w, &w->res[rep]) == 0;
			if (!w->ok[rep]) {
				fprintf(stderr, "bench_redis: row %s failed\n",
				    w->id);
				failed = 1;
			}
		}
	print_table(&R);
	print_cmdmix(&R);
	print_ratios(&R);
	print_machine(&R, load0);
	rb_redis_report(&R.rs, "ru1:execution:req");
	teardown(&R);
	return failed;
}
