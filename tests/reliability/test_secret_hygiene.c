/*
 * tests/reliability/test_secret_hygiene.c — secret hygiene of a running
 * execrpc-supervisor (issue 11, defect 9; KEY-IPC-02, SEC-IPC-08,
 * IPC-INT-08).
 *
 * Two runs of the build's execrpc-supervisor, process_supervisor mode, one
 * group of 2 workers, kdf hkdf_sha256, --log-level debug:
 *   file    a canary master in a 0600 secret_file;
 *   inline  a canary inline secret in a 0600 config.
 * Once both workers are ready, for the supervisor and each worker:
 *   - no form of the canary (raw, hex lower and upper, base64 padded,
 *     unpadded and url-safe) in /proc/PID/cmdline, /proc/PID/environ, or
 *     the readable memory (/proc/PID/maps + /proc/PID/mem): the workers
 *     hold derived keys only, and the supervisor wiped the inline secret
 *     once the keys were derived (its log table holds keyed hashes);
 *   - RLIMIT_CORE 0 (/proc/PID/limits) and not dumpable: the supervisor
 *     runs with gid 65534, so /proc/PID/status belongs to gid 0 exactly
 *     when the process is not dumpable (the kernel gives a non-dumpable
 *     process's /proc files to root); not root: /proc/PID/mem of a
 *     process of the same uid cannot be opened exactly when it is not
 *     dumpable;
 *   - a worker killed by SIGQUIT (its default action dumps core, and no
 *     sanitizer catches it) leaves no core file in the cwd;
 * then, after SIGTERM, no form in the supervisor's stdout and stderr (the
 * workers' stderr with it), nor in `execrpc config summary`.
 * Reading another process's memory needs root (CAP_SYS_PTRACE, the target
 * is not dumpable): without it the memory part is skipped, saying so.
 * Bounded: each wait has a deadline; a run takes a few seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define NOBODY_GID	65534
#define READY_MS	30000		/* both workers ready */
#define EXIT_MS		20000		/* the supervisor exits on SIGTERM */
#define CRASH_MS	10000		/* a SIGSEGV'd worker is reported */
#define REGION_MAX	(1ull << 30)	/* larger mappings: reserved space
					 * (ASan's shadow), not scanned */
#define CHUNK		(1u << 20)
#define FORMS		7
#define FORM_MAX	160

/* One canary and its forms. */
struct canary {
	char raw[64];
	char form[FORMS][FORM_MAX];
	const char *name[FORMS];
};

struct run {
	char dir[64];
	char cfg[128];
	char out[128], err[128];
	pid_t sup;
	pid_t workers[2];
	int gid_set;		/* the supervisor runs with NOBODY_GID */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* `prefix` and 32 random alphanumerics. */
static void
canary_make(struct canary *c, const char *prefix)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t rnd[32];
	size_t n, i, o;
	uint32_t v;

	assert_int_equal(getrandom(rnd, sizeof(rnd), 0), (ssize_t)sizeof(rnd));
	n = (size_t)snprintf(c->raw, sizeof(c->raw), "%s", prefix);
	for (i = 0; i < sizeof(rnd); i++)
		c->raw[n++] = al[rnd[i] % (sizeof(al) - 1)];
	c->raw[n] = '\0';
	memset(c->form, 0, sizeof(c->form));
	snprintf(c->form[0], FORM_MAX, "%s", c->raw);
	c->name[0] = "raw";
	for (i = 0; i < n; i++) {
		snprintf(c->form[1] + 2 * i, 3, "%02x", (uint8_t)c->raw[i]);
		snprintf(c->form[2] + 2 * i, 3, "%02X", (uint8_t)c->raw[i]);
	}
	c->name[1] = "hex";
	c->name[2] = "HEX";
	for (i = 0, o = 0; i < n; i += 3) {
		v = (uint32_t)(uint8_t)c->raw[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(uint8_t)c->raw[i + 1] << 8;
		if (i + 2 < n)
			v |= (uint8_t)c->raw[i + 2];
		c->form[3][o++] = b64[(v >> 18) & 63];
		c->form[3][o++] = b64[(v >> 12) & 63];
		c->form[3][o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		c->form[3][o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	c->name[3] = "base64";
	/* unpadded: the padded one less its '='; url-safe likewise */
	snprintf(c->form[4], FORM_MAX, "%.*s", (int)strcspn(c->form[3], "="),
	    c->form[3]);
	c->name[4] = "base64 unpadded";
	snprintf(c->form[5], FORM_MAX, "%s", c->form[4]);
	for (i = 0; c->form[5][i] != '\0'; i++)
		c->form[5][i] = c->form[5][i] == '+' ? '-' :
		    c->form[5][i] == '/' ? '_' : c->form[5][i];
	c->name[5] = "base64url";
	/* the random part alone: catches a copy cut at any prefix */
	snprintf(c->form[6], FORM_MAX, "%s", c->raw + strlen(prefix));
	c->name[6] = "random part";
}

/* The first form of `c` in buf[0..n), or -1. */
static int
canary_find(const struct canary *c, const void *buf, size_t n)
{
	for (int f = 0; f < FORMS; f++)
		if (memmem(buf, n, c->form[f], strlen(c->form[f])) != NULL)
			return f;
	return -1;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The whole of a small file (at most cap - 1 bytes), NUL-terminated;
 * returns its length, or -errno. */
static ssize_t
read_small(const char *path, char *buf, size_t cap)
{
	size_t have = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	while (have + 1 < cap && (n = read(fd, buf + have,
	    cap - 1 - have)) > 0)
		have += (size_t)n;
	close(fd);
	buf[have] = '\0';
	return (ssize_t)have;
}

static const char *
bin(const char *rel, char *buf, size_t cap)
{
	const char *b = getenv("XR_BINARY_DIR");

	assert_non_null(b);
	snprintf(buf, cap, "%s/%s", b, rel);
	assert_int_equal(access(buf, X_OK), 0);
	return buf;
}

/* ---- the run ------------------------------------------------------------ */

static void
config_write(struct run *r, const char *auth)
{
	char y[1024];

	snprintf(y, sizeof(y),
	    "runtime:\n  platform:\n"
	    "    execution_ipc:\n      transport: tcp_local\n"
	    "      auth: {secret_mode: static, %s, kdf: hkdf_sha256}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 20, "
	    "graceful_timeout_seconds: 5}\n"
	    "    control: {socket: %s/ctl.sock}\n"
	    "    process_groups:\n"
	    "      - {name: execution, workers: 2, restart: never, "
	    "services: [echo.v1.Echo]}\n", auth, r->dir);
	write_file(r->cfg, y, 0600);
}

/*
 * The ownership rule check_not_dumpable() reads holds here: a dumpable
 * process on gid NOBODY_GID (sleep, after exec) has /proc/PID/status of
 * that gid. Returns 1 if so.
 */
static int
gid_rule_holds(void)
{
	char path[64];
	struct stat st;
	pid_t pid;
	int p[2], ok = 0;
	char b;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) == 0 && setgid(NOBODY_GID) == 0)
			execl("/bin/sleep", "sleep", "10", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	(void)!read(p[0], &b, 1);	/* EOF: exec'd (or exited) */
	close(p[0]);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ok = stat(path, &st) == 0 && st.st_gid == NOBODY_GID;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return ok;
}

/* Start the supervisor: cwd the run's directory, gid NOBODY_GID when it
 * can be set, stdout and stderr to files. */
static void
sup_start(struct run *r)
{
	char path[512];
	const char *sup = bin("apps/supervisor/execrpc-supervisor", path,
	    sizeof(path));
	int gp[2], ok = 0;

	assert_int_equal(pipe2(gp, O_CLOEXEC), 0);
	r->sup = fork();
	assert_true(r->sup >= 0);
	if (r->sup == 0) {
		int o = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
		    chdir(r->dir) != 0)
			_exit(127);
		ok = setgroups(0, NULL) == 0 && setgid(NOBODY_GID) == 0;
		(void)!write(gp[1], &ok, sizeof(ok));
		execl(sup, sup, "--config", r->cfg, "--log-level", "debug",
		    (char *)NULL);
		_exit(127);
	}
	close(gp[1]);
	assert_int_equal(read(gp[0], &ok, sizeof(ok)), (ssize_t)sizeof(ok));
	close(gp[0]);
	r->gid_set = ok && gid_rule_holds();
}

/* Wait until stdout has both worker lines; fill r->workers. */
static void
sup_wait_ready(struct run *r)
{
	char buf[4096], err[4096];
	uint64_t t0 = now_ms();
	int n = 0, st;

	while (now_ms() - t0 < READY_MS) {
		const char *p = buf;

		n = 0;
		if (read_small(r->out, buf, sizeof(buf)) < 0)
			buf[0] = '\0';
		while ((p = strstr(p, "worker ")) != NULL && n < 2) {
			int pid;

			if (sscanf(p, "worker %*s %*u pid %d port", &pid) == 1)
				r->workers[n++] = (pid_t)pid;
			p += 7;
		}
		if (n == 2)
			return;
		if (waitpid(r->sup, &st, WNOHANG) == r->sup) {
			read_small(r->err, err, sizeof(err));
			r->sup = 0;
			fail_msg("the supervisor exited (status 0x%x) before "
			    "ready: %s", st, err);
		}
		usleep(50 * 1000);
	}
	read_small(r->err, err, sizeof(err));
	fail_msg("no 2 worker lines in %d ms: stdout \"%s\" stderr \"%s\"",
	    READY_MS, buf, err);
}

/* SIGTERM, then wait for the exit (SIGKILL of the group at the deadline). */
static void
sup_stop(struct run *r)
{
	uint64_t t0 = now_ms();
	int st;

	if (r->sup <= 0)
		return;
	kill(r->sup, SIGTERM);
	while (now_ms() - t0 < EXIT_MS) {
		if (waitpid(r->sup, &st, WNOHANG) == r->sup) {
			r->sup = 0;
			return;
		}
		usleep(20 * 1000);
	}
	kill(r->sup, SIGKILL);
	for (int i = 0; i < 2; i++)
		if (r->workers[i] > 0)
			kill(r->workers[i], SIGKILL);
	waitpid(r->sup, &st, 0);
	r->sup = 0;
	fail_msg("the supervisor did not exit %d ms after SIGTERM", EXIT_MS);
}

/* ---- the checks --------------------------------------------------------- */

/* cmdline and environ of `pid`: no form of `c`. Returns 0, or -errno if
 * environ cannot be read (not root: the process is not dumpable). */
static int
check_proc_files(pid_t pid, const struct canary *c, const char *who)
{
	static char buf[1 << 16];
	char path[64];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	assert_true((n = read_small(path, buf, sizeof(buf))) >= 0);
	if ((f = canary_find(c, buf, (size_t)n)) >= 0)
		fail_msg("%s: the canary (%s) in %s", who, c->name[f], path);
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if ((n = read_small(path, buf, sizeof(buf))) < 0)
		return (int)n;
	if ((f = canary_find(c, buf, (size_t)n)) >= 0)
		fail_msg("%s: the canary (%s) in %s", who, c->name[f], path);
	return 0;
}

/* RLIMIT_CORE soft and hard 0 in /proc/PID/limits. */
static void
check_no_core_limit(pid_t pid, const char *who)
{
	char path[64], buf[4096], soft[32], hard[32];
	const char *l;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	assert_true(read_small(path, buf, sizeof(buf)) > 0);
	assert_non_null(l = strstr(buf, "Max core file size"));
	assert_int_equal(sscanf(l + strlen("Max core file size"), "%31s %31s",
	    soft, hard), 2);
	if (strcmp(soft, "0") != 0 || strcmp(hard, "0") != 0)
		fail_msg("%s: RLIMIT_CORE is %s/%s, not 0/0", who, soft, hard);
}

/*
 * Not dumpable. Root, with the supervisor on gid NOBODY_GID: the kernel
 * gives a non-dumpable process's /proc/PID files to uid 0 and gid 0, a
 * dumpable one's to its credentials. Not root: /proc/PID/mem of our own
 * uid opens only if the process is dumpable. Returns 0 if checked.
 */
static int
check_not_dumpable(const struct run *r, pid_t pid, const char *who)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (geteuid() == 0) {
		if (!r->gid_set)
			return -1;
		assert_int_equal(stat(path, &st), 0);
		if (st.st_gid != 0)
			fail_msg("%s is dumpable: %s has gid %u (a "
			    "non-dumpable process's is 0)", who, path,
			    (unsigned)st.st_gid);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		close(fd);
		fail_msg("%s is dumpable: %s opens for its own uid", who, path);
	}
	return 0;
}

/* Count in buf[0..n) the forms of `c` that end past buf[skip] (those
 * inside buf[0..skip) were counted with the previous chunk). */
static void
count_forms(const struct canary *c, const char *buf, size_t n, size_t skip,
    unsigned hits[FORMS])
{
	for (int f = 0; f < FORMS; f++) {
		size_t fl = strlen(c->form[f]), o = 0;
		const char *p;

		while (o + fl <= n && (p = memmem(buf + o, n - o, c->form[f],
		    fl)) != NULL) {
			o = (size_t)(p - buf);
			if (o + fl > skip)
				hits[f]++;
			o++;
		}
	}
}

/* True if a page of [at, at + len) is in memory or swapped out, by
 * /proc/PID/pagemap (`pm`, -1: unknown, so true); the others read as
 * zeros and hold nothing. */
static int
any_page(int pm, unsigned long long at, size_t len)
{
	static uint64_t e[CHUNK / 4096];
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg;
	ssize_t got;

	if (pm < 0 || n > sizeof(e) / sizeof(e[0]))
		return 1;
	got = pread(pm, e, n * sizeof(e[0]), (off_t)(at / pg * sizeof(e[0])));
	if (got != (ssize_t)(n * sizeof(e[0])))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (e[i] & (3ull << 62))	/* present, swapped */
			return 1;
	return 0;
}

/*
 * Every readable mapping of `pid` (at most REGION_MAX each), through
 * /proc/PID/mem, searched for every form of `c`: hits[f] counts form f,
 * `where` gets the first mapping that held one. A chunk none of whose
 * pages was ever touched is not read (a sanitizer's shadow). Returns the
 * bytes read, or -errno if /proc/PID/mem cannot be opened.
 */
static long long
memory_scan(pid_t pid, const struct canary *c, unsigned hits[FORMS],
    char *where, size_t where_cap)
{
	static char chunk[CHUNK + FORM_MAX];
	char path[64], line[512];
	unsigned long long lo, hi, at, total = 0, before;
	size_t keep, want, len;
	char perms[8];
	FILE *maps;
	ssize_t n;
	int fd, pm;

	memset(hits, 0, FORMS * sizeof(hits[0]));
	where[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	pm = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	assert_non_null(maps = fopen(path, "re"));
	while (fgets(line, sizeof(line), maps) != NULL) {
		if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 ||
		    perms[0] != 'r' || hi - lo > REGION_MAX)
			continue;
		/* [vvar] and the like refuse to be read: skip them */
		for (at = lo, keep = 0; at < hi; at += (size_t)n) {
			want = hi - at < CHUNK ? (size_t)(hi - at) : CHUNK;
			if (!any_page(pm, at, want)) {
				n = (ssize_t)want;
				keep = 0;
				continue;
			}
			n = pread(fd, chunk + keep, want, (off_t)at);
			if (n <= 0)
				break;
			total += (unsigned long long)n;
			len = keep + (size_t)n;
			before = 0;
			for (int f = 0; f < FORMS; f++)
				before += hits[f];
			count_forms(c, chunk, len, keep, hits);
			for (int f = 0; f < FORMS; f++)
				before -= hits[f];
			if (before != 0 && where[0] == '\0')
				snprintf(where, where_cap, "%.*s",
				    (int)strcspn(line, "\n"), line);
			/* a form may straddle two chunks: keep the tail */
			keep = len < FORM_MAX - 1 ? len : FORM_MAX - 1;
			memmove(chunk, chunk + len - keep, keep);
		}
	}
	fclose(maps);
	if (pm >= 0)
		close(pm);
	close(fd);
	return (long long)total;
}

/* No form of `c` in the memory of `pid`; the bytes searched, or -errno. */
static long long
check_memory(pid_t pid, const struct canary *c, const char *who)
{
	unsigned hits[FORMS], any = 0;
	char where[512], list[512];
	long long bytes;
	size_t o = 0;

	if ((bytes = memory_scan(pid, c, hits, where, sizeof(where))) < 0)
		return bytes;
	list[0] = '\0';
	for (int f = 0; f < FORMS; f++)
		if (hits[f] > 0 && o < sizeof(list)) {
			any += hits[f];
			o += (size_t)snprintf(list + o, sizeof(list) - o,
			    " %s x%u", c->name[f], hits[f]);
		}
	if (any > 0)
		fail_msg("%s: the canary in its memory:%s (first in %s)", who,
		    list, where);
	return bytes;
}

/* The search works: this process holds the canary, and it is found. */
static void
check_scan_finds(const struct canary *c)
{
	unsigned hits[FORMS];
	char where[512];

	if (memory_scan(getpid(), c, hits, where, sizeof(where)) < 0)
		return;
	assert_true(hits[0] > 0);
	assert_true(hits[6] >= hits[0]);
}

/* ---- the tests ---------------------------------------------------------- */

/* The checks on one running process; `mem` says whether its memory is
 * searched for `c` too. */
static void
check_process(const struct run *r, pid_t pid, const char *who,
    const struct canary *c, int mem)
{
	long long bytes;
	int e;

	if ((e = check_proc_files(pid, c, who)) != 0)
		print_message("NOTE: %s: /proc/%d/environ unreadable (%s): "
		    "not searched\n", who, (int)pid, strerror(-e));
	check_no_core_limit(pid, who);
	if (check_not_dumpable(r, pid, who) != 0)
		print_message("NOTE: %s: could not run the supervisor on gid "
		    "%d: dumpability not checked\n", who, NOBODY_GID);
	if (!mem)
		return;
	if ((bytes = check_memory(pid, c, who)) < 0) {
		print_message("SKIP: %s: /proc/%d/mem: %s (reading another "
		    "process's memory needs root): memory not searched\n",
		    who, (int)pid, strerror((int)-bytes));
		return;
	}
	print_message("%s pid %d: %lld bytes of memory searched, no canary\n",
	    who, (int)pid, bytes);
	assert_true(bytes > 0);
}

/* SIGQUIT to a worker: the supervisor reports the death; no core file
 * appears in the cwd (core_pattern "core...": the only pattern a test
 * can see). */
static void
check_crash_no_core(const struct run *r)
{
	char buf[1 << 16], pat[256], path[160];
	uint64_t t0 = now_ms();
	int seen = 0;

	assert_int_equal(kill(r->workers[1], SIGQUIT), 0);
	while (!seen && now_ms() - t0 < CRASH_MS) {
		if (read_small(r->err, buf, sizeof(buf)) > 0 &&
		    strstr(buf, "killed by signal 3 (SIGQUIT)") != NULL)
			seen = 1;
		else
			usleep(50 * 1000);
	}
	if (!seen)
		fail_msg("no report of the SIGQUIT worker in %d ms: %s",
		    CRASH_MS, buf);
	if (read_small("/proc/sys/kernel/core_pattern", pat, sizeof(pat)) <= 0
	    || pat[0] == '|' || pat[0] == '/') {
		print_message("NOTE: core_pattern \"%s\" is not in the cwd: "
		    "the no-core check rests on the limit and dumpability\n",
		    pat);
		return;
	}
	snprintf(path, sizeof(path), "%s/core", r->dir);
	if (access(path, F_OK) == 0)
		fail_msg("a core file: %s", path);
	snprintf(path, sizeof(path), "%s/core.%d", r->dir, (int)r->workers[1]);
	if (access(path, F_OK) == 0)
		fail_msg("a core file: %s", path);
}

/* No form of `c` in a file (the logs). */
static void
check_file(const char *path, const struct canary *c, const char *what)
{
	static char buf[1 << 22];
	ssize_t n;
	int f;

	assert_true((n = read_small(path, buf, sizeof(buf))) >= 0);
	if ((f = canary_find(c, buf, (size_t)n)) >= 0)
		fail_msg("the canary (%s) in %s", c->name[f], what);
}

/* `execrpc config summary CFG`: succeeds, shows no form of `c`. */
static void
check_summary(const struct run *r, const struct canary *c)
{
	char path[512], out[192];
	const char *cli = bin("apps/execrpc/execrpc", path, sizeof(path));
	pid_t pid;
	int st, fd;

	snprintf(out, sizeof(out), "%s/summary", r->dir);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execl(cli, cli, "config", "summary", r->cfg, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char buf[4096];

		read_small(out, buf, sizeof(buf));
		fail_msg("execrpc config summary: status 0x%x: %s", st, buf);
	}
	check_file(out, c, "execrpc config summary");
}

static struct run *cur;		/* for the teardown after a failure */

static void
run_one(const char *what, int master_in_file)
{
	struct run r;
	struct canary c;
	char auth[512], secret_path[128], text[128], who[32];

	memset(&r, 0, sizeof(r));
	cur = &r;
	snprintf(r.dir, sizeof(r.dir), "/tmp/xr-hygiene-XXXXXX");
	assert_non_null(mkdtemp(r.dir));
	snprintf(r.cfg, sizeof(r.cfg), "%s/c.yaml", r.dir);
	snprintf(r.out, sizeof(r.out), "%s/sup.out", r.dir);
	snprintf(r.err, sizeof(r.err), "%s/sup.err", r.dir);
	canary_make(&c, master_in_file ? "hygiene-file-master-" :
	    "hygiene-inline-secret-");
	if (master_in_file) {
		snprintf(secret_path, sizeof(secret_path), "%s/master", r.dir);
		snprintf(text, sizeof(text), "%s\n", c.raw);
		write_file(secret_path, text, 0600);
		snprintf(auth, sizeof(auth), "secret_file: %s", secret_path);
	} else
		snprintf(auth, sizeof(auth), "secret: \"%s\"", c.raw);
	config_write(&r, auth);

	check_scan_finds(&c);
	sup_start(&r);
	sup_wait_ready(&r);
	print_message("%s: supervisor pid %d, workers %d %d%s\n", what,
	    (int)r.sup, (int)r.workers[0], (int)r.workers[1],
	    r.gid_set ? "" : " (gid not set)");
	check_process(&r, r.sup, "supervisor", &c, 1);
	for (int i = 0; i < 2; i++) {
		snprintf(who, sizeof(who), "worker %d", i);
		check_process(&r, r.workers[i], who, &c, 1);
	}
	check_crash_no_core(&r);
	sup_stop(&r);
	check_file(r.out, &c, "the supervisor's stdout");
	check_file(r.err, &c, "the stderr of the supervisor and workers");
	check_summary(&r, &c);
	cur = NULL;
	snprintf(text, sizeof(text), "rm -rf '%s'", r.dir);
	assert_int_equal(system(text), 0);
}

/* A canary master in a 0600 secret_file: in no process, log or summary. */
static void
test_secret_hygiene_file_master(void **state)
{
	(void)state;
	run_one("file", 1);
}

/* A canary inline secret in a 0600 config: wiped from the supervisor once
 * the keys are derived, never in a worker, log or summary. */
static void
test_secret_hygiene_inline(void **state)
{
	(void)state;
	run_one("inline", 0);
}

/* After a failed assertion: kill what runs, keep the directory (it holds
 * the logs) and say where it is. */
static int
teardown(void **state)
{
	(void)state;
	if (cur == NULL)
		return 0;
	if (cur->sup > 0) {
		kill(cur->sup, SIGKILL);
		waitpid(cur->sup, NULL, 0);
	}
	for (int i = 0; i < 2; i++)
		if (cur->workers[i] > 0)
			kill(cur->workers[i], SIGKILL);
	print_message("kept %s (logs)\n", cur->dir);
	cur = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_secret_hygiene_file_master,
		    teardown),
		cmocka_unit_test_teardown(test_secret_hygiene_inline, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
