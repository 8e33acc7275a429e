/*
 * bench/bench_compare.c — execrpc side by side with raw TCP, libevent and
 * gRPC C++ on the same 64-byte unary echo, in one run (bench/compare runs
 * it; docs/performance.md explains every row).
 *
 *   bench_compare [--reps N] [--quick | --smoke] [--cpu LIST]
 *                 [--only IDS] [--md FILE] [--dat PREFIX]
 *
 * The servers (raw, libevent, execrpc, and with XR_BENCH_GRPC the two gRPC
 * servers) are forked once at start, one process each, before anything
 * else runs; the clients run on the main thread. Each repetition runs
 * every row once, in the fixed order of the table below, so that a change
 * of the machine's state (the loopback's latency level, other load) hits
 * every row of that repetition alike; the ratios are taken within a
 * repetition, and the median of those per-repetition ratios is printed.
 *
 * --quick: smaller counts (a try); --smoke: tiny counts, one repetition
 * (the ctest bench/compare_smoke: every row must print a number);
 * --cpu LIST: pin this process and every child to the CPUs in LIST
 * ("0", "0,1", "0-1"), as taskset -c does; --only IDS: run only the rows
 * whose id starts with one of the comma-separated prefixes in IDS, and the
 * rows their ratios are taken against (a try of a few rows, e.g. --only
 * xr.tcp.async); --md FILE: also write the
 * machine, the levels and the table as Markdown; --dat PREFIX: also write
 * PREFIX-lat.dat and PREFIX-rate.dat for bench/compare.gp.
 *
 * The process rows (supervised workers, the bare fork+exec baseline) exec
 * bench_compare_child from this program's directory (compare_child.c).
 *
 * Exit status 0 when every row measured, 1 when one failed (its figure is
 * "failed"), 64 for bad arguments. Prints figures; asserts nothing about
 * time.
 */
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "compare.h"

#ifndef XRB_BUILD_TYPE
#define XRB_BUILD_TYPE "unknown"
#endif

#define MAX_REPS 50
#define FAST_LEVEL_US 30.0	/* raw ping-pong p50 below it: fast level */

enum { SRV_RAW, SRV_LIBEVENT, SRV_XR, SRV_GRPC_SYNC, SRV_GRPC_CB, SRV_N };

typedef struct run {
	xrb_sizes z;
	char child[4096];	/* bench_compare_child, beside this program */
	uint16_t port[SRV_N];
	pid_t pid[SRV_N];
} run;

typedef enum unit { U_US, U_RATE, U_MS } unit;

typedef struct row {
	const char *id;
	unit unit;
	int (*measure)(const run *R, xrb_result *r);	/* NULL: derived */
	int grpc;		/* needs the gRPC build */
	const char *base[2];	/* rows the ratios are taken against */
	const char *where;	/* where the server runs */
	const char *what;	/* what the figure is */
} row;

/* ---- the measurements, one per row ---- */

#define P(s) (R->port[SRV_##s])

static int m_raw_pp(const run *R, xrb_result *r)
{ return xrb_pingpong(P(RAW), &R->z, r); }
static int m_raw_pipe(const run *R, xrb_result *r)
{ return xrb_pipelined(P(RAW), 64, &R->z, r); }
static int m_le_pp(const run *R, xrb_result *r)
{ return xrb_pingpong(P(LIBEVENT), &R->z, r); }
static int m_xr_seq(const run *R, xrb_result *r)
{ return xrb_xr_tcp_seq(P(XR), &R->z, r); }
static int m_xr_a32(const run *R, xrb_result *r)
{ return xrb_xr_tcp_async(P(XR), 32, &R->z, r); }
static int m_xr_a64(const run *R, xrb_result *r)
{ return xrb_xr_tcp_async(P(XR), 64, &R->z, r); }
static int m_sup1_seq(const run *R, xrb_result *r)
{ return xrb_xr_sup_seq(R->child, 1, &R->z, r); }
static int m_sup1_a64(const run *R, xrb_result *r)
{ return xrb_xr_sup_async(R->child, 1, 64, &R->z, r); }
static int m_sup2_a64(const run *R, xrb_result *r)
{ return xrb_xr_sup_async(R->child, 2, 64, &R->z, r); }
static int m_mem_seq(const run *R, xrb_result *r)
{ return xrb_xr_mem_seq(&R->z, r); }
static int m_mem_a64(const run *R, xrb_result *r)
{ return xrb_xr_mem_async(64, &R->z, r); }
static int m_hmac(const run *R, xrb_result *r)
{ return xrb_hmac_rate(0, &R->z, r); }
static int m_hmac_mbed(const run *R, xrb_result *r)
{ return xrb_hmac_rate(1, &R->z, r); }
static int m_conn_raw(const run *R, xrb_result *r)
{ return xrb_connect_cost(P(RAW), &R->z, r); }
static int m_conn_xr(const run *R, xrb_result *r)
{ return xrb_xr_handshake(P(XR), &R->z, r); }
static int m_bare1(const run *R, xrb_result *r)
{ return xrb_bare_start(R->child, 1, r); }
static int m_bare2(const run *R, xrb_result *r)
{ return xrb_bare_start(R->child, 2, r); }
static int m_bare4(const run *R, xrb_result *r)
{ return xrb_bare_start(R->child, 4, r); }
static int m_sstart1(const run *R, xrb_result *r)
{ return xrb_xr_sup_start(R->child, 1, r); }
static int m_sstart2(const run *R, xrb_result *r)
{ return xrb_xr_sup_start(R->child, 2, r); }
static int m_sstart4(const run *R, xrb_result *r)
{ return xrb_xr_sup_start(R->child, 4, r); }

#ifdef XR_BENCH_GRPC
static int m_gs_seq(const run *R, xrb_result *r)
{ return xrb_grpc_seq(P(GRPC_SYNC), &R->z, r); }
static int m_gc_seq(const run *R, xrb_result *r)
{ return xrb_grpc_seq(P(GRPC_CB), &R->z, r); }
static int m_gs_a32(const run *R, xrb_result *r)
{ return xrb_grpc_async(P(GRPC_SYNC), 32, &R->z, r); }
static int m_gc_a32(const run *R, xrb_result *r)
{ return xrb_grpc_async(P(GRPC_CB), 32, &R->z, r); }
#else
#define m_gs_seq NULL
#define m_gc_seq NULL
#define m_gs_a32 NULL
#define m_gc_a32 NULL
#endif

#define FORKED "forked process"
#define SUPERVISED "supervised workers (fork+exec)"

/* The rows, in the order each repetition runs them. */
static const row rows[] = {
	{ "raw.pingpong", U_US, m_raw_pp, 0, { NULL, NULL }, FORKED,
	  "raw TCP, blocking write/read of 64 bytes, one at a time" },
	{ "raw.pipelined64", U_RATE, m_raw_pipe, 0, { NULL, NULL }, FORKED,
	  "raw TCP, 64 messages in flight, messages/s" },
	{ "libevent.pingpong", U_US, m_le_pp, 0, { "raw.pingpong", NULL },
	  FORKED, "libevent bufferevent echo server, blocking ping-pong "
	  "client" },
	{ "grpc.sync.seq", U_US, m_gs_seq, 1, { "raw.pingpong", NULL },
	  FORKED, "gRPC C++ sync server, sync client, sequential unary" },
	{ "grpc.callback.seq", U_US, m_gc_seq, 1, { "raw.pingpong", NULL },
	  FORKED, "gRPC C++ callback server, sync client, sequential unary" },
	{ "grpc.sync.async32", U_RATE, m_gs_a32, 1,
	  { "raw.pipelined64", NULL }, FORKED, "gRPC C++ sync server, "
	  "completion-queue client, 32 outstanding, calls/s" },
	{ "grpc.callback.async32", U_RATE, m_gc_a32, 1,
	  { "raw.pipelined64", NULL }, FORKED, "gRPC C++ callback server, "
	  "completion-queue client, 32 outstanding, calls/s" },
	{ "xr.tcp.seq", U_US, m_xr_seq, 0, { "raw.pingpong", "grpc.sync.seq" },
	  FORKED, "execrpc tcp_local, xr_call_sync, sequential unary" },
	{ "xr.tcp.async32", U_RATE, m_xr_a32, 0,
	  { "raw.pipelined64", "grpc.callback.async32" }, FORKED,
	  "execrpc tcp_local, 32 calls in flight on one channel, calls/s" },
	{ "xr.tcp.async64", U_RATE, m_xr_a64, 0,
	  { "raw.pipelined64", "crypto.ceiling" }, FORKED,
	  "execrpc tcp_local, 64 calls in flight on one channel, calls/s" },
	{ "xr.sup1.seq", U_US, m_sup1_seq, 0, { "raw.pingpong",
	  "grpc.sync.seq" }, SUPERVISED, "through the supervisor to 1 "
	  "worker, sequential unary" },
	{ "xr.sup1.async64", U_RATE, m_sup1_a64, 0, { "raw.pipelined64",
	  "grpc.callback.async32" }, SUPERVISED, "through the supervisor to "
	  "1 worker, 64 calls in flight, calls/s" },
	{ "xr.sup2.async64", U_RATE, m_sup2_a64, 0, { "raw.pipelined64",
	  "grpc.callback.async32" }, SUPERVISED, "through the supervisor to "
	  "2 workers (round robin), 64 calls in flight in all, calls/s" },
	{ "xr.mem.seq", U_US, m_mem_seq, 0, { NULL, NULL }, "in-process",
	  "execrpc memory profile, xr_call_sync, sequential" },
	{ "xr.mem.async64", U_RATE, m_mem_a64, 0, { NULL, NULL }, "in-process",
	  "execrpc memory profile, 64 calls in flight, calls/s" },
	{ "crypto.hmac", U_RATE, m_hmac, 0, { NULL, NULL }, "in-process",
	  "HMAC-SHA256 of a frame-sized message (163 bytes) as the frames "
	  "are signed (core/auth.c, nettle's SHA-256), MACs/s" },
	{ "crypto.hmac_mbedtls", U_RATE, m_hmac_mbed, 0, { "crypto.hmac",
	  NULL }, "in-process", "the same with mbedTLS' HMAC (portable "
	  "SHA-256), MACs/s" },
	{ "crypto.ceiling", U_RATE, NULL, 0, { NULL, NULL }, "derived",
	  "crypto.hmac / 4 (sign + verify on each side): calls/s that "
	  "one-frame-per-call signing allows one core" },
	{ "connect.raw", U_US, m_conn_raw, 0, { NULL, NULL }, FORKED,
	  "raw TCP socket() + connect()" },
	{ "connect.xr_hello", U_US, m_conn_xr, 0, { "connect.raw", NULL },
	  FORKED, "execrpc channel: connect + HELLO/HELLO_ACK" },
	{ "start.bare1", U_MS, m_bare1, 0, { NULL, NULL }, "fork+exec",
	  "fork+exec 1 process that reports ready over a pipe" },
	{ "start.sup1", U_MS, m_sstart1, 0, { "start.bare1", NULL },
	  SUPERVISED, "lifecycle start() + ready(), 1 worker" },
	{ "start.bare2", U_MS, m_bare2, 0, { NULL, NULL }, "fork+exec",
	  "fork+exec 2 processes that report ready over a pipe" },
	{ "start.sup2", U_MS, m_sstart2, 0, { "start.bare2", NULL },
	  SUPERVISED, "lifecycle start() + ready(), 2 workers" },
	{ "start.bare4", U_MS, m_bare4, 0, { NULL, NULL }, "fork+exec",
	  "fork+exec 4 processes that report ready over a pipe" },
	{ "start.sup4", U_MS, m_sstart4, 0, { "start.bare4", NULL },
	  SUPERVISED, "lifecycle start() + ready(), 4 workers" },
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

#ifdef XR_BENCH_GRPC
static const int with_grpc = 1;
#else
static const int with_grpc = 0;
#endif

/* value[row][rep], p99[row][rep]; NAN where not measured */
static double value[N_ROWS][MAX_REPS], p99v[N_ROWS][MAX_REPS];

static int
row_index(const char *id)
{
	for (size_t i = 0; i < N_ROWS; i++)
		if (id != NULL && strcmp(rows[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* --only: comma-separated prefixes of the row ids to run, or NULL (all) */
static const char *only;

static int
wanted(const char *id)
{
	const char *p = only;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");

		if (n > 0 && strncmp(id, p, n) == 0)
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* A row runs unless it needs gRPC that is not built, or --only leaves it
 * out (a row that a chosen row takes its ratios against stays in). */
static int
row_enabled(const row *w)
{
	if (w->grpc && !with_grpc)
		return 0;
	if (only == NULL || wanted(w->id))
		return 1;
	for (size_t i = 0; i < N_ROWS; i++)
		if (wanted(rows[i].id) && ((rows[i].base[0] != NULL &&
		    strcmp(rows[i].base[0], w->id) == 0) ||
		    (rows[i].base[1] != NULL &&
		    strcmp(rows[i].base[1], w->id) == 0)))
			return 1;
	return 0;
}

static const char *
unit_name(unit u)
{
	return u == U_US ? "p50_us" : u == U_RATE ? "per_s" : "ms";
}

/* The unit as the Markdown table spells it. */
static const char *
unit_md(unit u)
{
	return u == U_US ? "µs (p50)" : u == U_RATE ? "per s" : "ms";
}

/* ---- statistics ---- */

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of the finite values of v[0..n-1]; 0 if none. */
static int
stats(const double *v, int n, double *med, double *lo, double *hi)
{
	double s[MAX_REPS];
	int k = 0;

	for (int i = 0; i < n; i++)
		if (isfinite(v[i]))
			s[k++] = v[i];
	if (k == 0)
		return 0;
	qsort(s, (size_t)k, sizeof(s[0]), cmp_d);
	*med = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
	*lo = s[0];
	*hi = s[k - 1];
	return 1;
}

/* The median over repetitions of num[rep] / den[rep]. */
static int
ratio(const double *num, const double *den, int reps, double *med)
{
	double q[MAX_REPS], lo, hi;

	for (int i = 0; i < reps; i++)
		q[i] = isfinite(num[i]) && isfinite(den[i]) && den[i] > 0 ?
		    num[i] / den[i] : NAN;
	return stats(q, reps, med, &lo, &hi);
}

/* ---- the run ---- */

static int
measure_rep(const run *R, int rep)
{
	int failed = 0;
	int hmac = row_index("crypto.hmac"), ceil = row_index("crypto.ceiling");

	for (size_t i = 0; i < N_ROWS; i++) {
		xrb_result r = { NAN, NAN };

		value[i][rep] = p99v[i][rep] = NAN;
		if (!row_enabled(&rows[i]) || rows[i].measure == NULL)
			continue;
		if (rows[i].measure(R, &r) != 0) {
			fprintf(stderr, "bench_compare: %s failed in "
			    "repetition %d\n", rows[i].id, rep + 1);
			failed = 1;
			continue;
		}
		value[i][rep] = r.value;
		p99v[i][rep] = rows[i].unit == U_US ? r.p99 : NAN;
	}
	value[ceil][rep] = value[hmac][rep] / 4;
	return failed;
}

static int
start_servers(run *R)
{
	static int grpc_kind[2] = { 0, 1 };
	int (*serve[SRV_N])(int, void *) = { xrb_raw_serve,
	    xrb_libevent_serve, xrb_xr_serve, NULL, NULL };
	void *arg[SRV_N] = { NULL, NULL, NULL, &grpc_kind[0], &grpc_kind[1] };

#ifdef XR_BENCH_GRPC
	serve[SRV_GRPC_SYNC] = serve[SRV_GRPC_CB] = xrb_grpc_serve;
#endif
	for (int s = 0; s < SRV_N; s++) {
		R->pid[s] = 0;
		if (serve[s] == NULL)
			continue;
		if ((R->pid[s] = xrb_spawn_server(serve[s], arg[s],
		    &R->port[s])) < 0)
			return -1;
	}
	return 0;
}

static void
stop_servers(run *R)
{
	for (int s = 0; s < SRV_N; s++)
		xrb_reap_server(R->pid[s]);
}

/* ---- output ---- */

static void
fmt_value(char *out, size_t cap, unit u, double v)
{
	if (!isfinite(v))
		snprintf(out, cap, "failed");
	else if (u == U_RATE)
		snprintf(out, cap, "%.0f", v);
	else
		snprintf(out, cap, "%.2f", v);
}

/* The ratios of row i as text ("1.85x raw.pingpong (p99 1.40x), ..."). */
static void
fmt_ratios(char *out, size_t cap, size_t i, int reps)
{
	size_t len = 0;

	out[0] = '\0';
	for (int b = 0; b < 2; b++) {
		int j = row_index(rows[i].base[b]);
		double m, m99;

		if (j < 0 || !row_enabled(&rows[j]) ||
		    !ratio(value[i], value[j], reps, &m))
			continue;
		len += (size_t)snprintf(out + len, cap - len, "%s%.3gx %s",
		    len ? ", " : "", m, rows[j].id);
		if (rows[i].unit == U_US && rows[j].unit == U_US &&
		    ratio(p99v[i], p99v[j], reps, &m99))
			len += (size_t)snprintf(out + len, cap - len,
			    " (p99 %.3gx)", m99);
		if (len >= cap)
			break;
	}
}

static void
cpu_model(char *out, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, cap, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && c != NULL) {
			c += 1 + strspn(c + 1, " \t");
			c[strcspn(c, "\n")] = '\0';
			snprintf(out, cap, "%s", c);
			break;
		}
	}
	fclose(f);
}

static void
machine(char *out, size_t cap, const char *pinned)
{
	struct utsname u;
	char model[256], date[64];
	time_t now = time(NULL);

	cpu_model(model, sizeof(model));
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	snprintf(out, cap, "nproc %ld, CPU %s, kernel %s, %s; build %s, "
	    "libevent %s, gRPC %s; cpu pinning: %s",
	    sysconf(_SC_NPROCESSORS_ONLN), model, u.release, date,
	    XRB_BUILD_TYPE, event_get_version(),
#ifdef XR_BENCH_GRPC
	    xrb_grpc_version(),
#else
	    "not built (configure with -DXR_BENCH_GRPC=ON)",
#endif
	    pinned);
}

/* "rep 1 fast (raw p50 22.1 us), ..." */
static void
levels(char *out, size_t cap, int reps)
{
	int raw = row_index("raw.pingpong");
	size_t len = 0;

	out[0] = '\0';
	for (int k = 0; k < reps && len < cap; k++) {
		double v = value[raw][k];

		len += (size_t)snprintf(out + len, cap - len,
		    "%srep %d %s (raw ping-pong p50 %.1f us)", k ? ", " : "",
		    k + 1, !isfinite(v) ? "unknown" : v < FAST_LEVEL_US ?
		    "fast level" : "slow level", v);
	}
}

static const char placement[] =
    "servers in forked processes (one per server, started once before "
    "the first repetition); clients on this process's main thread; "
    "supervised workers fork+exec'd by the supervisor; the memory "
    "profile and the crypto row in-process";

/* One row's figures as text: median, min, max, p99 median ("" for a row
 * without p99), the ratios. */
typedef struct cells {
	char v[32], lo[32], hi[32], p99[32], ratios[512];
} cells;

static void
row_cells(size_t i, int reps, cells *c)
{
	double m = NAN, l = NAN, h = NAN, m99 = NAN, x;

	stats(value[i], reps, &m, &l, &h);
	stats(p99v[i], reps, &m99, &x, &x);
	fmt_value(c->v, sizeof(c->v), rows[i].unit, m);
	fmt_value(c->lo, sizeof(c->lo), rows[i].unit, l);
	fmt_value(c->hi, sizeof(c->hi), rows[i].unit, h);
	c->p99[0] = '\0';
	if (rows[i].unit == U_US)
		fmt_value(c->p99, sizeof(c->p99), U_US, m99);
	fmt_ratios(c->ratios, sizeof(c->ratios), i, reps);
}

static void
print_text(int reps, const char *mach)
{
	char lv[2048];
	cells c;

	levels(lv, sizeof(lv), reps);
	printf("bench_compare: 64-byte unary echo, %d interleaved "
	    "repetition%s\n", reps, reps == 1 ? "" : "s");
	printf("machine: %s\n", mach);
	printf("placement: %s\n", placement);
	printf("loopback level: %s (fast level: raw ping-pong p50 < %.0f "
	    "us)\n", lv, FAST_LEVEL_US);
	printf("%-22s %-7s %12s %25s %10s  %s\n", "row", "unit", "median",
	    "min-max", "p99_us", "ratios (median of per-repetition ratios)");
	for (size_t i = 0; i < N_ROWS; i++) {
		if (!row_enabled(&rows[i]))
			continue;
		row_cells(i, reps, &c);
		printf("%-22s %-7s %12s %12s-%-12s %10s  %s\n", rows[i].id,
		    unit_name(rows[i].unit), c.v, c.lo, c.hi,
		    c.p99[0] ? c.p99 : "-", c.ratios);
	}
}

static int
write_md(const char *path, int reps, const char *mach)
{
	FILE *f = fopen(path, "w");
	char lv[2048];
	cells c;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	levels(lv, sizeof(lv), reps);
	fprintf(f, "Machine: %s.\n\nPlacement: %s.\n\n"
	    "Repetitions: %d, interleaved. Loopback level: %s.\n\n",
	    mach, placement, reps, lv);
	fprintf(f, "| row | what | server | unit | median | min–max | "
	    "p99 µs | ratios (median of per-repetition ratios) |\n"
	    "| --- | --- | --- | --- | ---: | ---: | ---: | --- |\n");
	for (size_t i = 0; i < N_ROWS; i++) {
		if (!row_enabled(&rows[i]))
			continue;
		row_cells(i, reps, &c);
		fprintf(f, "| `%s` | %s | %s | %s | %s | %s–%s | %s | %s |\n",
		    rows[i].id, rows[i].what, rows[i].where,
		    unit_md(rows[i].unit), c.v, c.lo, c.hi, c.p99, c.ratios);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* PREFIX-lat.dat: the sequential rows (µs); PREFIX-rate.dat: the in-flight
 * rows (thousand calls/s). Columns: label, median, min, max. */
static int
write_dat(const char *prefix, int reps)
{
	static const char *const lat[] = { "raw.pingpong", "libevent.pingpong",
	    "grpc.sync.seq", "grpc.callback.seq", "xr.tcp.seq", "xr.sup1.seq",
	    "connect.raw", "connect.xr_hello" };
	static const char *const rate[] = { "raw.pipelined64",
	    "grpc.sync.async32", "grpc.callback.async32", "xr.tcp.async32",
	    "xr.tcp.async64", "xr.sup1.async64", "xr.sup2.async64",
	    "crypto.ceiling" };
	const char *const *set[2] = { lat, rate };
	const size_t n[2] = { sizeof(lat) / sizeof(lat[0]),
	    sizeof(rate) / sizeof(rate[0]) };

	for (int k = 0; k < 2; k++) {
		char path[1024];
		FILE *f;
		double scale = k == 0 ? 1 : 1e-3;

		snprintf(path, sizeof(path), "%s-%s.dat", prefix,
		    k == 0 ? "lat" : "rate");
		if ((f = fopen(path, "w")) == NULL) {
			perror(path);
			return -1;
		}
		for (size_t i = 0; i < n[k]; i++) {
			int j = row_index(set[k][i]);
			double m, l, h;

			if (j >= 0 && row_enabled(&rows[j]) &&
			    stats(value[j], reps, &m, &l, &h))
				fprintf(f, "\"%s\" %.3f %.3f %.3f\n",
				    rows[j].id, m * scale, l * scale,
				    h * scale);
		}
		if (fclose(f) != 0)
			return -1;
	}
	return 0;
}

/* ---- arguments ---- */

/* The path of bench_compare_child, in this program's directory. */
static int
child_path(char *out, size_t cap)
{
	char self[4096], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s/bench_compare_child", self) >= cap)
		return -1;
	return access(out, X_OK);
}

typedef struct args {
	int reps;
	const char *md, *dat, *cpu;
} args;

static void
sizes_for(xrb_sizes *z, int quick, int smoke)
{
	static const xrb_sizes full = { 500, 5000, 300000, 40000, 200000,
	    300000, 300 };
	static const xrb_sizes fast = { 100, 1000, 50000, 5000, 20000, 50000,
	    50 };
	static const xrb_sizes tiny = { 5, 30, 500, 200, 200, 1000, 5 };

	*z = smoke ? tiny : quick ? fast : full;
}

/* Pin to the CPUs of "0", "0,1", "0-3". */
static int
pin(const char *list)
{
	cpu_set_t set;
	const char *p = list;

	CPU_ZERO(&set);
	while (*p != '\0') {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p || a < 0 || a >= CPU_SETSIZE)
			return -1;
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (end == p || b < a || b >= CPU_SETSIZE)
				return -1;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, &set);
		if (*end == ',')
			end++;
		else if (*end != '\0')
			return -1;
		p = end;
	}
	return sched_setaffinity(0, sizeof(set), &set);
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_compare [--reps N] [--quick | --smoke] "
	    "[--cpu LIST] [--only IDS] [--md FILE] [--dat PREFIX]\n");
	return 64;
}

static int
parse(int argc, char **argv, args *a, xrb_sizes *z)
{
	int quick = 0, smoke = 0, reps = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--quick") == 0)
			quick = 1;
		else if (strcmp(o, "--smoke") == 0)
			smoke = 1;
		else if (v != NULL && strcmp(o, "--reps") == 0 && ++i)
			reps = atoi(v);
		else if (v != NULL && strcmp(o, "--md") == 0 && ++i)
			a->md = v;
		else if (v != NULL && strcmp(o, "--dat") == 0 && ++i)
			a->dat = v;
		else if (v != NULL && strcmp(o, "--cpu") == 0 && ++i)
			a->cpu = v;
		else if (v != NULL && strcmp(o, "--only") == 0 && ++i)
			only = v;
		else
			return -1;
	}
	sizes_for(z, quick, smoke);
	a->reps = reps ? reps : smoke ? 1 : quick ? 3 : 5;
	return a->reps < 1 || a->reps > MAX_REPS ? -1 : 0;
}

int
main(int argc, char **argv)
{
	char mach[1024];
	args a;
	run R;
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	memset(&R, 0, sizeof(R));
	if (parse(argc, argv, &a, &R.z) != 0)
		return usage();
	if (child_path(R.child, sizeof(R.child)) != 0) {
		fprintf(stderr, "bench_compare: no bench_compare_child beside "
		    "this program\n");
		return 1;
	}
	if (a.cpu != NULL && pin(a.cpu) != 0) {
		fprintf(stderr, "bench_compare: --cpu %s: cannot pin\n", a.cpu);
		return 64;
	}
	if (xrb_xr_keys_init() != 0 || start_servers(&R) != 0) {
		stop_servers(&R);
		return 1;
	}
	/* after the forks: nothing of gRPC runs in this process before */
	machine(mach, sizeof(mach), a.cpu != NULL ? a.cpu : "none");
	for (int k = 0; k < a.reps; k++) {
		fprintf(stderr, "bench_compare: repetition %d of %d\n", k + 1,
		    a.reps);
		failed |= measure_rep(&R, k);
	}
	stop_servers(&R);
	xrb_xr_keys_wipe();
	print_text(a.reps, mach);
	if (a.md != NULL && write_md(a.md, a.reps, mach) != 0)
		failed = 1;
	if (a.dat != NULL && write_dat(a.dat, a.reps) != 0)
		failed = 1;
	return failed;
}
