/*
 * bench/bench_redis_procs.c — bench_redis's processes (bench_redis.h): its
 * own redis-server and INFO commandstats, pools of execrpc-server
 * processes, the redis-benchmark XADD floor, the raw hiredis stream
 * ping-pong, and CPU time read from /proc.
 *
 * Every child dies with this process (PR_SET_PDEATHSIG), so an interrupted
 * run leaves no server behind; the temporary directory is removed by
 * rb_redis_stop().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench_redis.h"

#define XADD_MAXLEN "100000"

void
rb_result_clear(rb_result *r)
{
	r->rate = r->p50 = r->p99 = -1;
	r->cpu_ing = r->cpu_wrk = r->cpu_redis = r->redis_pct = -1;
	r->cmds = r->redis_usec = -1;
	r->cmdmix[0] = '\0';
}

/* ---- children ---- */

/* In a forked child: die with the parent, stdout to `out_fd` (or
 * /dev/null when negative), stderr to `err_path` (or /dev/null). */
static void
child_setup(int out_fd, const char *err_path)
{
	int null = open("/dev/null", O_RDWR);
	int err = err_path != NULL ? open(err_path, O_WRONLY | O_CREAT |
	    O_APPEND, 0600) : -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null >= 0)
		dup2(null, 0);
	dup2(out_fd >= 0 ? out_fd : null, 1);
	dup2(err >= 0 ? err : null, 2);
	signal(SIGPIPE, SIG_DFL);
}

static void
reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* ---- CPU time ---- */

uint64_t
rb_proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	long tck = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* after "pid (comm) ": field 3 (state) on; utime and stime are
	 * fields 14 and 15 */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2 || tck <= 0)
		return 0;
	return (ut + st) * 1000000ull / (unsigned long long)tck;
}

uint64_t
rb_self_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

uint64_t
rb_pool_cpu_us(const rb_pool *p)
{
	uint64_t us = 0;

	for (unsigned i = 0; i < p->n; i++)
		us += rb_proc_cpu_us(p->pid[i]);
	return us;
}

/* ---- redis-server ---- */

/* A free loopback port (bound, read, closed: another process could take
 * it before redis-server does; the start then fails and says so). */
static uint16_t
free_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static redisContext *
redis_connect(const rb_redis *rs, int tcp)
{
	redisContext *c = tcp ? redisConnect("127.0.0.1", rs->port) :
	    redisConnectUnix(rs->sock);

	if (c != NULL && c->err != 0) {
		redisFree(c);
		c = NULL;
	}
	return c;
}

/* A one-node cluster: every slot to this node. */
static int
cluster_slots(rb_redis *rs)
{
	redisReply *rep = redisCommand(rs->admin,
	    "CLUSTER ADDSLOTSRANGE 0 16383");
	int ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;

	if (rep != NULL)
		freeReplyObject(rep);
	for (int i = 0; ok && i < 500; i++) {	/* up to 5 s until ok */
		rep = redisCommand(rs->admin, "CLUSTER INFO");
		ok = rep != NULL && rep->type == REDIS_REPLY_STRING;
		if (ok && strstr(rep->str, "cluster_state:ok") != NULL) {
			freeReplyObject(rep);
			return 0;
		}
		if (rep != NULL)
			freeReplyObject(rep);
		usleep(10000);
	}
	fprintf(stderr, "bench_redis: the one-node cluster is not ok\n");
	return -1;
}

int
rb_redis_start(rb_redis *rs, int cluster)
{
	char portstr[8], nodes[192];
	char *argv[] = { "redis-server", "--port", portstr, "--bind",
	    "127.0.0.1", "--unixsocket", rs->sock, "--save", "",
	    "--appendonly", "no", "--dir", rs->dir, "--loglevel", "warning",
	    cluster ? "--cluster-enabled" : NULL, "yes",
	    "--cluster-config-file", nodes, NULL };
	redisContext *c;

	memset(rs, 0, sizeof(*rs));
	snprintf(rs->dir, sizeof(rs->dir), "/tmp/xr-rbench-XXXXXX");
	if (mkdtemp(rs->dir) == NULL) {
		rs->dir[0] = '\0';
		perror("bench_redis: mkdtemp");
		return -1;
	}
	snprintf(rs->sock, sizeof(rs->sock), "%s/redis.sock", rs->dir);
	if ((rs->port = free_port()) == 0) {
		fprintf(stderr, "bench_redis: no free loopback port\n");
		return -1;
	}
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)rs->port);
	snprintf(nodes, sizeof(nodes), "%s/nodes.conf", rs->dir);
	if ((rs->pid = fork()) < 0)
		return -1;
	if (rs->pid == 0) {
		child_setup(-1, NULL);
		execvp("redis-server", argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {		/* up to 5 s */
		if ((c = redis_connect(rs, 1)) != NULL) {
			redisFree(c);
			if ((rs->admin = redis_connect(rs, 0)) != NULL)
				return cluster ? cluster_slots(rs) : 0;
		}
		usleep(10000);
	}
	fprintf(stderr, "bench_redis: redis-server did not answer on %s and "
	    "127.0.0.1:%u (is it installed?)\n", rs->sock, (unsigned)rs->port);
	return -1;
}

void
rb_redis_stop(rb_redis *rs)
{
	DIR *dir;
	struct dirent *e;
	char path[512];

	if (rs->admin != NULL)
		redisFree(rs->admin);
	rs->admin = NULL;
	reap(rs->pid);
	rs->pid = 0;
	if (rs->dir[0] == '\0' || (dir = opendir(rs->dir)) == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", rs->dir, e->d_name);
		unlink(path);
	}
	closedir(dir);
	rmdir(rs->dir);
	rs->dir[0] = '\0';
}

int
rb_redis_resetstat(rb_redis *rs)
{
	redisReply *rep = redisCommand(rs->admin, "CONFIG RESETSTAT");
	int ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;

	if (rep != NULL)
		freeReplyObject(rep);
	if (!ok)
		fprintf(stderr, "bench_redis: CONFIG RESETSTAT failed\n");
	return ok ? 0 : -1;
}

/* One "cmdstat_NAME:calls=N,usec=U,..." line into the totals and the mix;
 * INFO and CONFIG (this program's own) are left out. */
static void
cmdstat_line(const char *line, size_t calls, rb_result *r)
{
	char name[64];
	unsigned long long n, usec;
	size_t len = strlen(r->cmdmix);

	if (sscanf(line, "cmdstat_%63[^:]:calls=%llu,usec=%llu", name, &n,
	    &usec) != 3 || strcmp(name, "info") == 0 ||
	    strncmp(name, "config", 6) == 0)
		return;
	r->cmds += (double)n / (double)calls;
	r->redis_usec += (double)usec / (double)calls;
	if (len < sizeof(r->cmdmix))
		snprintf(r->cmdmix + len, sizeof(r->cmdmix) - len,
		    "%s%s=%.2f(%.1fus)", len > 0 ? " " : "", name,
		    (double)n / (double)calls, n > 0 ? (double)usec /
		    (double)n : 0.0);
}

int
rb_redis_cmdstats(rb_redis *rs, size_t calls, rb_result *r)
{
	redisReply *rep = redisCommand(rs->admin, "INFO commandstats");
	char *s, *line, *save = NULL;

	if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
		fprintf(stderr, "bench_redis: INFO commandstats failed\n");
		if (rep != NULL)
			freeReplyObject(rep);
		return -1;
	}
	r->cmds = r->redis_usec = 0;
	r->cmdmix[0] = '\0';
	s = rep->str;
	for (line = strtok_r(s, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save))
		cmdstat_line(line, calls, r);
	freeReplyObject(rep);
	return 0;
}

/* ---- execrpc-server pools ---- */

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f != NULL && fputs(text, f) >= 0;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "bench_redis: cannot write %s\n", path);
	return ok ? 0 : -1;
}

/* Start one execrpc-server and read its first line: the port of
 * "listening HOST PORT" into *port, 0 for "serving redis_streams ...". */
static pid_t
pool_spawn(const char *bin, const char *cfgpath, const char *logpath,
    uint16_t *port)
{
	char line[160] = "";
	unsigned p = 0;
	int pfd[2];
	FILE *out;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		child_setup(pfd[1], logpath);
		execl(bin, bin, "--config", cfgpath, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if ((out = fdopen(pfd[0], "r")) == NULL ||
	    fgets(line, sizeof(line), out) == NULL) {
		if (out != NULL)
			fclose(out);
		else
			close(pfd[0]);
		fprintf(stderr, "bench_redis: %s --config %s said nothing "
		    "(see %s)\n", bin, cfgpath, logpath);
		reap(pid);
		return -1;
	}
	fclose(out);
	if (strncmp(line, "serving redis_streams ", 22) == 0)
		*port = 0;
	else if (sscanf(line, "listening %*s %u", &p) == 1 && p > 0 &&
	    p < 65536)
		*port = (uint16_t)p;
	else {
		fprintf(stderr, "bench_redis: %s said: %s", bin, line);
		reap(pid);
		return -1;
	}
	return pid;
}

int
rb_pool_start(rb_pool *p, const char *bin, const char *dir,
    const char *name, const char *yaml, unsigned n)
{
	char logpath[192];

	memset(p, 0, sizeof(*p));
	if (n > RB_MAX_WORKERS || strlen(yaml) >= sizeof(p->yaml))
		return -1;
	snprintf(p->yaml, sizeof(p->yaml), "%s", yaml);
	snprintf(p->cfgpath, sizeof(p->cfgpath), "%s/%s.yaml", dir, name);
	snprintf(logpath, sizeof(logpath), "%s/%s.log", dir, name);
	if (write_file(p->cfgpath, yaml) < 0)
		return -1;
	for (p->n = 0; p->n < n; p->n++)
		if ((p->pid[p->n] = pool_spawn(bin, p->cfgpath, logpath,
		    &p->port[p->n])) < 0)
			return -1;
	return 0;
}

void
rb_pool_stop(rb_pool *p)
{
	for (unsigned i = 0; i < p->n; i++)
		reap(p->pid[i]);
	p->n = 0;
}

/* ---- the floor: redis-benchmark ---- */

/* Run argv, its stdout into buf (NUL-terminated); 0 when it exits 0. */
static int
run_capture(char *const argv[], char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t k;
	int pfd[2], st = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		child_setup(pfd[1], NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while (len + 1 < cap && ((k = read(pfd[0], buf + len,
	    cap - 1 - len)) > 0 || (k < 0 && errno == EINTR)))
		if (k > 0)
			len += (size_t)k;
	buf[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int
rb_floor_xadd(rb_redis *rs, int tcp, size_t n, unsigned pipeline,
    unsigned clients, rb_result *r)
{
	char ns[24], ps[16], cs[16], portstr[8], val[XRB_MSG + 1], out[4096];
	char *argv[24], *l2, *f2;
	double rps, avg, mn, p50, p95, p99;
	uint64_t c0;
	int a = 0;

	snprintf(ns, sizeof(ns), "%zu", n);
	snprintf(ps, sizeof(ps), "%u", pipeline);
	snprintf(cs, sizeof(cs), "%u", clients);
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)rs->port);
	memset(val, 'x', XRB_MSG);
	val[XRB_MSG] = '\0';
	argv[a++] = "redis-benchmark";
	if (tcp) {
		argv[a++] = "-h";
		argv[a++] = "127.0.0.1";
		argv[a++] = "-p";
		argv[a++] = portstr;
	} else {
		argv[a++] = "-s";
		argv[a++] = rs->sock;
	}
	argv[a++] = "-n"; argv[a++] = ns;
	argv[a++] = "-P"; argv[a++] = ps;
	argv[a++] = "-c"; argv[a++] = cs;
	argv[a++] = "--csv";
	argv[a++] = "xadd"; argv[a++] = "bench:xadd";
	argv[a++] = "MAXLEN"; argv[a++] = "~"; argv[a++] = XADD_MAXLEN;
	argv[a++] = "*"; argv[a++] = "f"; argv[a++] = val;
	argv[a] = NULL;
	if (rb_redis_resetstat(rs) < 0)
		return -1;
	c0 = rb_proc_cpu_us(rs->pid);
	if (run_capture(argv, out, sizeof(out)) < 0) {
		fprintf(stderr, "bench_redis: redis-benchmark failed\n");
		return -1;
	}
	r->cpu_redis = (double)(rb_proc_cpu_us(rs->pid) - c0) / (double)n;
	/* line 2: "TEST","rps","avg","min","p50","p95","p99","max" (ms) */
	if ((l2 = strchr(out, '\n')) == NULL ||
	    (f2 = strstr(l2 + 1, "\",\"")) == NULL ||
	    sscanf(f2 + 2, "\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\"",
	    &rps, &avg, &mn, &p50, &p95, &p99) != 6) {
		fprintf(stderr, "bench_redis: redis-benchmark said: %s\n", out);
		return -1;
	}
	(void)avg;
	(void)mn;
	(void)p95;
	r->rate = rps;
	r->p50 = p50 * 1000;
	r->p99 = p99 * 1000;
	return rb_redis_cmdstats(rs, n, r);
}

/* ---- the floor: a raw stream ping-pong ---- */

/*
 * XREAD BLOCK 0 on `key` after *last: the first entry's field value into
 * val (at most cap - 1 bytes, NUL-terminated) and its id into *last.
 * Returns 0, or -1 on an error reply.
 */
static int
xread_one(redisContext *c, const char *key, char *last, size_t lastcap,
    char *val, size_t cap)
{
	redisReply *rep = redisCommand(c, "XREAD COUNT 1 BLOCK 0 STREAMS %s %s",
	    key, last);
	redisReply *e;
	int rc = -1;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements < 1 || rep->element[0]->elements < 2 ||
	    rep->element[0]->element[1]->elements < 1)
		goto out;
	e = rep->element[0]->element[1]->element[0];	/* [id, [f, v]] */
	if (e->elements < 2 || e->element[1]->elements < 2)
		goto out;
	snprintf(last, lastcap, "%s", e->element[0]->str);
	snprintf(val, cap, "%.*s", (int)e->element[1]->element[1]->len,
	    e->element[1]->element[1]->str);
	rc = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

static int
xadd(redisContext *c, const char *key, const char *val)
{
	redisReply *rep = redisCommand(c, "XADD %s MAXLEN ~ " XADD_MAXLEN
	    " * f %s", key, val);
	int ok = rep != NULL && rep->type == REDIS_REPLY_STRING;

	if (rep != NULL)
		freeReplyObject(rep);
	return ok ? 0 : -1;
}

/* The peer: answer every entry of `req` on `rep` until "stop". */
static int
pingpong_peer(const rb_redis *rs, int tcp, const char *req, const char *rep)
{
	redisContext *c = redis_connect(rs, tcp);
	char last[64] = "0-0", val[XRB_MSG + 1];

	if (c == NULL)
		return 1;
	for (;;) {
		if (xread_one(c, req, last, sizeof(last), val,
		    sizeof(val)) < 0)
			return 1;
		if (strcmp(val, "stop") == 0)
			return 0;
		if (xadd(c, rep, val) < 0)
			return 1;
	}
}

int
rb_floor_pingpong(rb_redis *rs, int tcp, size_t warmup, size_t n,
    rb_result *r)
{
	static unsigned seq;
	char req[64], rep[64], last[64] = "0-0", val[XRB_MSG + 1];
	char got[XRB_MSG + 1];
	uint64_t *lat = xrb_lat_alloc(n), t0 = 0, c0 = 0;
	redisContext *c = NULL;
	redisReply *del;
	xrb_result x;
	pid_t peer = -1;
	int rc = -1, st;

	snprintf(req, sizeof(req), "bench:pp:%u:req", ++seq);
	snprintf(rep, sizeof(rep), "bench:pp:%u:rep", seq);
	memset(val, 'x', XRB_MSG);
	val[XRB_MSG] = '\0';
	if (lat == NULL || (c = redis_connect(rs, tcp)) == NULL)
		goto out;
	if ((peer = fork()) < 0)
		goto out;
	if (peer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(pingpong_peer(rs, tcp, req, rep));
	}
	for (size_t i = 0; i < warmup + n; i++) {
		uint64_t t = xrb_now_ns();

		if (i == warmup) {
			if (rb_redis_resetstat(rs) < 0)
				goto out;
			t0 = t;
			c0 = rb_proc_cpu_us(rs->pid);
		}
		if (xadd(c, req, val) < 0 || xread_one(c, rep, last,
		    sizeof(last), got, sizeof(got)) < 0)
			goto out;
		if (i >= warmup)
			lat[i - warmup] = xrb_now_ns() - t;
	}
	r->rate = (double)n / ((double)(xrb_now_ns() - t0) / 1e9);
	r->cpu_redis = (double)(rb_proc_cpu_us(rs->pid) - c0) / (double)n;
	if (rb_redis_cmdstats(rs, n, r) < 0)
		goto out;
	xrb_latency(lat, n, &x);
	r->p50 = x.value;
	r->p99 = x.p99;
	if (xadd(c, req, "stop") < 0)
		goto out;
	while (waitpid(peer, &st, 0) < 0 && errno == EINTR)
		;
	peer = -1;
	rc = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
out:
	if (rc < 0)
		fprintf(stderr, "bench_redis: stream ping-pong failed\n");
	reap(peer);
	if (c != NULL) {
		if ((del = redisCommand(c, "DEL %s %s", req, rep)) != NULL)
			freeReplyObject(del);
		redisFree(c);
	}
	free(lat);
	return rc;
}

/* ---- what the run left in Redis ---- */

static long long
int_reply(redisContext *c, const char *fmt, const char *arg)
{
	redisReply *rep = redisCommand(c, fmt, arg);
	long long v = rep != NULL && rep->type == REDIS_REPLY_INTEGER ?
	    rep->integer : -1;

	if (rep != NULL)
		freeReplyObject(rep);
	return v;
}

/* SCAN the keys matching `pattern`: how many, and the first into first. */
static long long
scan_count(redisContext *c, const char *pattern, char *first, size_t cap)
{
	char cursor[32] = "0";
	long long n = 0;

	first[0] = '\0';
	do {
		redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 1000",
		    cursor, pattern);

		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != 2) {
			if (rep != NULL)
				freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		n += (long long)rep->element[1]->elements;
		if (first[0] == '\0' && rep->element[1]->elements > 0)
			snprintf(first, cap, "%s",
			    rep->element[1]->element[0]->str);
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

void
rb_redis_report(rb_redis *rs, const char *req_stream)
{
	static const char *const kinds[] = { "*:nonce:*", "*:call:*" };
	redisReply *rep = redisCommand(rs->admin, "INFO memory");
	const char *um;
	char key[256];

	printf("\nRedis after the run: ");
	if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    (um = strstr(rep->str, "used_memory:")) != NULL)
		printf("used_memory %lld bytes, ", atoll(um + 12));
	if (rep != NULL)
		freeReplyObject(rep);
	printf("%lld keys\n", int_reply(rs->admin, "DBSIZE%s", ""));
	for (size_t i = 0; i < 2; i++) {
		long long n = scan_count(rs->admin, kinds[i], key, sizeof(key));

		printf("  %-10s %lld keys (still within their PX), %s %lld "
		    "bytes each\n", kinds[i], n, n > 0 ? "one of" : "-",
		    n > 0 ? int_reply(rs->admin, "MEMORY USAGE %s", key) : 0);
	}
	printf("  %s: %lld entries, %lld bytes (MEMORY USAGE SAMPLES 0)\n",
	    req_stream, int_reply(rs->admin, "XLEN %s", req_stream),
	    int_reply(rs->admin, "MEMORY USAGE %s SAMPLES 0", req_stream));
}

void
rb_redis_errorstats(rb_redis *rs)
{
	redisReply *rep = redisCommand(rs->admin, "INFO errorstats");
	char *line, *save = NULL;

	if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
		if (rep != NULL)
			freeReplyObject(rep);
		return;
	}
	printf("Redis error replies so far (INFO errorstats):\n");
	for (line = strtok_r(rep->str, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save))
		if (line[0] != '#')
			printf("  %s\n", line);
	freeReplyObject(rep);
}
