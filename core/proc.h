/*
 * core/proc.h — hardening for every process that holds key material.
 *
 * Called first thing in main() (or in the child after fork) by the endpoint,
 * the supervisor, the worker and the CLIs that load a secret, so that keys
 * can never reach a core file or a ptrace-attaching peer, and a closed pipe
 * is an error return instead of a fatal signal.
 */
#ifndef XR_PROC_H
#define XR_PROC_H

#include "err.h"

/* Also die (SIGKILL) when the parent process exits: for workers. */
#define XR_PROC_DIE_WITH_PARENT	0x1u

/*
 * Harden the calling process, in this order:
 *  1. RLIMIT_CORE soft and hard limits 0 (no core files);
 *  2. prctl(PR_SET_DUMPABLE, 0) (no core dumps through a pipe handler, no
 *     ptrace attach by same-uid processes, /proc/PID/mem closed);
 *  3. SIGPIPE ignored (writes to a closed socket return EPIPE);
 *  4. with XR_PROC_DIE_WITH_PARENT: prctl(PR_SET_PDEATHSIG, SIGKILL), then a
 *     check that the parent is the one this function saw on entry (if it
 *     exited in between, the signal would never come). A parent that exited
 *     before the call is not detected here: a supervisor also sets the
 *     death signal between fork and exec, where it can check its own pid.
 * Other bits of `flags` are refused before anything changes.
 *
 * Returns XR_OK, XR_ERR_INVALID_ARG (unknown flag) or XR_ERR_SYSTEM with `d`
 * (may be NULL) saying which step failed; the steps before it stay done.
 */
int xr_proc_harden(unsigned flags, xr_diag *d);

#endif /* XR_PROC_H */
