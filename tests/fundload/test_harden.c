/*
 * tests/fundload/test_harden.c — the inline fund-load run hardens itself
 * (core/proc.h xr_proc_harden), seen from outside while it runs (memory,
 * and tcp_local + inline):
 *  - /proc/PID/limits "Max core file size": soft and hard limit 0;
 *  - /proc/PID/status SigIgn: SIGPIPE ignored;
 *  - not dumpable: /proc/PID/mem cannot be opened by its parent (same
 *    uid, no CAP_SYS_PTRACE): the kernel's ptrace attach check refuses a
 *    non-dumpable process to anyone without the capability, and lets a
 *    parent open a dumpable child's (also under Yama ptrace_scope 1).
 *    /proc/PID/environ is no witness: kernels differ on whether its
 *    read-mode check looks at dumpability.
 * The same three are read from a control process (a fork of this test, not
 * hardened) to show that each check can fail. fundload is started with
 * SIGPIPE at its default and RLIMIT_CORE soft = hard, so that nothing it
 * inherits passes for its own hardening.
 *
 * As root, the test first gives up CAP_SYS_PTRACE (bounding set,
 * permitted, effective), so that it and every process it starts are held to
 * the dumpable check like any other user's processes.
 *
 * usage: fundload_test_harden FUNDLOAD
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TCP_YAML "tcp.yaml"	/* in tmp */

static const char *fundload;
static char tmp[] = "/tmp/xr-harden.XXXXXX";

static const char valid[] = "{\"id\":\"1\",\"customer_id\":\"1\","
    "\"load_amount\":\"$1.00\",\"time\":\"2000-01-01T00:00:00Z\"}\n";
static const char decision[] = "{\"id\":\"1\",\"customer_id\":\"1\","
    "\"accepted\":true}\n";

/* What /proc shows of one process. */
struct seen {
	char core_soft[32], core_hard[32];	/* "0", "unlimited", ... */
	bool sigpipe_ignored;
	int mem_errno;				/* 0: it opened */
};

/* Give up CAP_SYS_PTRACE for this process and what it starts. Returns 0,
 * or -1 when it is held and cannot be given up. */
static int
drop_ptrace_cap(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2];
	const unsigned bit = 1u << CAP_SYS_PTRACE;	/* in c[0]: < 32 */

	if (syscall(SYS_capget, &h, c) != 0)
		return -1;
	/* not held (not root, or a container without it): nothing to do;
	 * else also out of the bounding set, which is what an exec'd root
	 * process gets */
	if (((c[0].effective | c[0].permitted | c[0].inheritable) & bit) == 0)
		return 0;
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) != 0)
		return -1;
	c[0].effective &= ~bit;
	c[0].permitted &= ~bit;
	c[0].inheritable &= ~bit;
	return syscall(SYS_capset, &h, c) == 0 ? 0 : -1;
}

/* In a child before exec (or pause): nothing inherited looks hardened. */
static void
unharden(void)
{
	struct rlimit rl;

	signal(SIGPIPE, SIG_DFL);
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_CORE, &rl);
	}
}

static void
look(pid_t pid, struct seen *s)
{
	char path[64], line[256];
	unsigned long long ign = 0;
	FILE *f;
	int fd;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max core file size", 18) == 0)
			assert_int_equal(sscanf(line + 18, "%31s %31s",
			    s->core_soft, s->core_hard), 2);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "SigIgn:", 7) == 0)
			ign = strtoull(line + 7, NULL, 16);
	fclose(f);
	s->sigpipe_ignored = (ign >> (SIGPIPE - 1)) & 1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
		close(fd);
	else
		s->mem_errno = errno;
}

/* Read from `fd` until a newline (within 20 s); NUL-terminated in buf. */
static void
read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap && memchr(buf, '\n', n) == NULL) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 20000) != 1)
			fail_msg("no decision line from fundload within 20 s");
		if ((r = read(fd, buf + n, cap - 1 - n)) <= 0)
			fail_msg("fundload closed its output: %zd", r);
		n += (size_t)r;
	}
	buf[n] = '\0';
}

static void
run(const char *config)
{
	struct seen fl, ctl;
	char line[256], b;
	int in[2], out[2], cp[2], st;
	pid_t pid, cpid;

	/* the control: this test's own kind of process, not hardened; it
	 * says when it is set */
	assert_int_equal(pipe2(cp, O_CLOEXEC), 0);
	assert_true((cpid = fork()) >= 0);
	if (cpid == 0) {
		/* gone with the test, also when an assertion ends it early */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		unharden();
		if (write(cp[1], "", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(cp[1]);
	assert_int_equal(read(cp[0], &b, 1), 1);
	close(cp[0]);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		unharden();
		if (dup2(in[0], STDIN_FILENO) < 0 ||
		    dup2(out[1], STDOUT_FILENO) < 0)
			_exit(126);
		if (config != NULL)
			execl(fundload, fundload, "--config", config,
			    (char *)NULL);
		else
			execl(fundload, fundload, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* one decision: the run is past its start, in its input loop */
	assert_int_equal(write(in[1], valid, sizeof(valid) - 1),
	    (ssize_t)(sizeof(valid) - 1));
	read_line(out[0], line, sizeof(line));
	assert_string_equal(line, decision);

	look(pid, &fl);
	look(cpid, &ctl);
	kill(cpid, SIGKILL);
	waitpid(cpid, NULL, 0);

	/* the control shows what an unhardened process looks like... */
	assert_string_equal(ctl.core_soft, ctl.core_hard);
	assert_false(ctl.sigpipe_ignored);
	if (ctl.mem_errno != 0)
		fail_msg("/proc/%d/mem of the control: %s", (int)cpid,
		    strerror(ctl.mem_errno));
	/* ...and fundload is not that */
	assert_string_equal(fl.core_soft, "0");
	assert_string_equal(fl.core_hard, "0");
	if (strcmp(ctl.core_hard, "0") == 0)
		print_message("note: RLIMIT_CORE hard limit is 0 here already; "
		    "the core limit check cannot fail\n");
	assert_true(fl.sigpipe_ignored);
	if (fl.mem_errno != EACCES && fl.mem_errno != EPERM)
		fail_msg("/proc/%d/mem of fundload: %s (want it refused: not "
		    "dumpable)", (int)pid, fl.mem_errno == 0 ? "opened" :
		    strerror(fl.mem_errno));

	close(in[1]);	/* end of input: the run ends */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(out[0]);
}

/* memory transport, inline (no --config: the defaults) */
static void
test_memory_run_hardened(void **state)
{
	(void)state;
	run(NULL);
}

/* tcp_local transport, inline */
static void
test_tcp_local_inline_run_hardened(void **state)
{
	static const char yaml[] =
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: tcp_local\n"
	    "    bootstrap:\n"
	    "      mode: inline\n";
	char path[sizeof(tmp) + 16];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/" TCP_YAML, tmp);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(yaml, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	run(path);
}

static int
setup(void **state)
{
	(void)state;
	if (drop_ptrace_cap() != 0) {
		print_message("cannot give up CAP_SYS_PTRACE: %s\n",
		    strerror(errno));
		return -1;
	}
	return mkdtemp(tmp) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char path[sizeof(tmp) + 16];

	(void)state;
	snprintf(path, sizeof(path), "%s/" TCP_YAML, tmp);
	unlink(path);
	rmdir(tmp);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_run_hardened),
		cmocka_unit_test(test_tcp_local_inline_run_hardened),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: fundload_test_harden FUNDLOAD\n");
		return 64;
	}
	fundload = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
