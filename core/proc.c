/* core/proc.c — process hardening (contract in proc.h). */
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

int
xr_proc_harden(unsigned flags, xr_diag *d)
{
	const struct rlimit nocore = { 0, 0 };
	struct sigaction sa;
	pid_t parent = getppid();

	if ((flags & ~XR_PROC_DIE_WITH_PARENT) != 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG,
		    "unknown hardening flags 0x%x", flags);
	if (setrlimit(RLIMIT_CORE, &nocore) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM,
		    "cannot disable core files: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM,
		    "cannot make the process non-dumpable: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM,
		    "cannot ignore SIGPIPE: %s", strerror(errno));
	if ((flags & XR_PROC_DIE_WITH_PARENT) == 0)
		return XR_OK;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM,
		    "PR_SET_PDEATHSIG: %s", strerror(errno));
	if (getppid() != parent)
		return xr_diag_set(d, XR_ERR_SYSTEM,
		    "the parent exited before PR_SET_PDEATHSIG took effect");
	return XR_OK;
}
