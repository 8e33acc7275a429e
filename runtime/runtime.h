/*
 * runtime/runtime.h — the runtime's public API in one include: the
 * lifecycle (lifecycle.h), the transport service with its queue and topic
 * bindings (transport.h), and the worker entry point below. Applications
 * include this and call nothing from the layers under runtime/.
 */
#ifndef XR_RUNTIME_H
#define XR_RUNTIME_H

#include <stddef.h>

#include "lifecycle.h"
#include "transport.h"
#include "worker.h"

/*
 * The worker program (bootstrap.mode process_supervisor): call it from
 * main() when argv holds "--worker" and return its result. It finds the
 * channel fds in argv ("--bootstrap-fd N --control-fd M"), then runs
 * xr_worker_main() with `mods` (the program's module table, borrowed) and
 * an endpoint resolved through a transport service of its own, made from
 * the bundle's runtime slice: the worker's endpoint honours the same
 * execution_ipc values, by the same code, as the inline endpoint. A
 * program entry point: prints "usage: ARGV0 --worker --bootstrap-fd N
 * --control-fd M" on stderr and returns 64 for bad fd arguments; otherwise
 * returns xr_worker_main()'s exit status.
 */
int xr_runtime_worker_main(int argc, char **argv,
    const xr_service_module *mods, size_t n_mods);

#endif /* XR_RUNTIME_H */
