/* tests/core/test_proc.c — core/proc.c: xr_proc_harden in a forked child
 * leaves it not dumpable, with no core files, SIGPIPE ignored and, on
 * request, killed when its parent exits (docs/design.md section 3: no key
 * material in core dumps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

/* What the child saw, before and after xr_proc_harden. */
struct report {
	int ret;
	int diag_code;
	int dumpable_before, dumpable_after;
	int sigpipe_ign_before, sigpipe_ign_after;
	int pdeathsig_after;
	rlim_t core_cur_after, core_max_after;
};

static int
sigpipe_ignored(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) != 0)
		return -1;
	return sa.sa_handler == SIG_IGN;
}

/* Fork; the child puts itself in the unhardened state, calls
 * xr_proc_harden(flags) and reports through a pipe. */
static struct report
run_child(unsigned flags)
{
	struct report rep;
	int p[2], st;
	pid_t pid;

	memset(&rep, 0, sizeof(rep));
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		xr_diag d = { 0 };
		struct rlimit rl;

		close(p[0]);
		signal(SIGPIPE, SIG_DFL);
		(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		rep.dumpable_before = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		rep.sigpipe_ign_before = sigpipe_ignored();
		rep.ret = xr_proc_harden(flags, &d);
		rep.diag_code = d.code;
		rep.dumpable_after = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		rep.sigpipe_ign_after = sigpipe_ignored();
		(void)prctl(PR_GET_PDEATHSIG, &rep.pdeathsig_after, 0, 0, 0);
		if (getrlimit(RLIMIT_CORE, &rl) == 0) {
			rep.core_cur_after = rl.rlim_cur;
			rep.core_max_after = rl.rlim_max;
		} else
			rep.core_cur_after = rep.core_max_after = 12345;
		if (write(p[1], &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &rep, sizeof(rep)), (ssize_t)sizeof(rep));
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return rep;
}

static void
test_harden(void **state)
{
	struct report r = run_child(0);

	(void)state;
	assert_int_equal(r.ret, XR_OK);
	assert_int_equal(r.dumpable_before, 1);
	assert_int_equal(r.dumpable_after, 0);
	assert_int_equal(r.sigpipe_ign_before, 0);
	assert_int_equal(r.sigpipe_ign_after, 1);
	assert_true(r.core_cur_after == 0);
	assert_true(r.core_max_after == 0);
	assert_int_equal(r.pdeathsig_after, 0);	/* not asked for */
}

static void
test_harden_die_with_parent(void **state)
{
	struct report r = run_child(XR_PROC_DIE_WITH_PARENT);

	(void)state;
	assert_int_equal(r.ret, XR_OK);
	assert_int_equal(r.dumpable_after, 0);
	assert_int_equal(r.sigpipe_ign_after, 1);
	assert_true(r.core_cur_after == 0 && r.core_max_after == 0);
	assert_int_equal(r.pdeathsig_after, SIGKILL);
}

/* An unknown flag changes nothing. */
static void
test_unknown_flag(void **state)
{
	struct report r = run_child(0x80);

	(void)state;
	assert_int_equal(r.ret, XR_ERR_INVALID_ARG);
	assert_int_equal(r.diag_code, XR_ERR_INVALID_ARG);
	assert_int_equal(r.dumpable_after, 1);
	assert_int_equal(r.sigpipe_ign_after, 0);
	assert_int_equal(r.pdeathsig_after, 0);
}

/*
 * The death signal works: this process becomes a subreaper, child A forks
 * B, B hardens with XR_PROC_DIE_WITH_PARENT and says so, A exits; B (now
 * ours) must end by SIGKILL. Without the hardening B would sit in pause()
 * until its alarm (SIGALRM) ended it.
 */
static void
test_killed_when_parent_exits(void **state)
{
	int p[2], st;
	pid_t a, b;
	char c;

	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	assert_int_equal(pipe(p), 0);
	a = fork();
	assert_true(a >= 0);
	if (a == 0) {
		int q[2];
		pid_t bb;

		if (pipe(q) != 0 || (bb = fork()) < 0)
			_exit(3);
		if (bb == 0) {
			alarm(10);
			if (xr_proc_harden(XR_PROC_DIE_WITH_PARENT, NULL) != XR_OK)
				_exit(4);
			if (write(q[1], "r", 1) != 1)
				_exit(5);
			for (;;)
				pause();
		}
		/* wait for B to be hardened, tell the test its pid, exit */
		close(q[1]);
		if (read(q[0], &c, 1) != 1)
			_exit(6);
		if (write(p[1], &bb, sizeof(bb)) != (ssize_t)sizeof(bb))
			_exit(7);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &b, sizeof(b)), (ssize_t)sizeof(b));
	assert_int_equal(waitpid(a, &st, 0), a);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(waitpid(b, &st, 0), b);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	close(p[0]);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_harden),
		cmocka_unit_test(test_harden_die_with_parent),
		cmocka_unit_test(test_unknown_flag),
		cmocka_unit_test(test_killed_when_parent_exits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
