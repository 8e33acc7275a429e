/*
 * execrpc/main.h — one-call program entry: a program that hosts service
 * modules is
 *
 *	#include "execrpc/main.h"
 *	static const xr_service_module mods[] = { ... };
 *	int main(int argc, char **argv)
 *	{
 *		return xr_main(argc, argv, mods, sizeof(mods) / sizeof(mods[0]));
 *	}
 *
 * (xr_service_module: the module type of the server layer, module.h; a
 * module is a full service name and the function that registers its
 * methods). xr_main() makes it a complete execrpc program with this
 * command line:
 *
 *   PROG --config FILE [--log-level debug|info|warn|error] [ARG...]
 *	Load FILE (docs/config.md) and run its lifecycle with the program's
 *	modules; the lifecycle's policy (ready_timeout_seconds,
 *	graceful_timeout_seconds, drain_inflight, control.socket) comes from
 *	FILE.
 *	- bootstrap.mode process_supervisor: start every process group's
 *	  workers (this same program, re-executed with --worker; each gets its
 *	  keys once in its bootstrap bundle), wait until they are ready, serve
 *	  the control socket (execrpc status|stats|drain|stop --control
 *	  PATH) and print on stdout, per worker and again for a worker that
 *	  comes back after a crash:
 *		worker GROUP INDEX pid PID port PORT
 *	  A worker that dies unasked is one line on stderr:
 *		PROG: worker_failed (code -32): worker GROUP INDEX pid PID
 *		killed by signal 9 (SIGKILL); restart: on-failure
 *	  (on one line; "exited with status N" for an exit; other failures
 *	  with their own error name and reason). It runs until SIGTERM or
 *	  SIGINT (a stop with the config's policy) or a control-socket STOP,
 *	  prints "stop GROUP graceful|forced" per group and exits 0.
 *	- bootstrap.mode inline: the modules run in this process behind one
 *	  loopback endpoint (transport tcp_local) at bind_host:bind_port; it
 *	  prints
 *		listening HOST PORT
 *	  (transport memory, for a program with an ingress: no endpoint, no
 *	  line)
 *	  and serves until SIGTERM or SIGINT, then drains (GOAWAY; with
 *	  drain_inflight the calls in flight finish) within
 *	  graceful_timeout_seconds and exits 0. Unless the program has an
 *	  ingress, nobody in this process calls the modules, so inline needs transport tcp_local (memory would
 *	  serve no one) and secret_mode static (a generated key would exist
 *	  in this process only: no client could ever call): both are refused
 *	  as config_invalid before anything starts.
 *	A SIGTERM that arrives while the program starts is acted on once it
 *	is ready (or its start failed).
 *	The operands ARG... are for the program's ingress (below): a program
 *	without one refuses them (usage).
 *
 *   PROG config check FILE
 *	Validate FILE for this program without starting anything: the
 *	config schema, the rules above, every service the process groups
 *	name is one of the program's modules (else lifecycle_resolution,
 *	naming the missing service and listing the services the program
 *	contains), and each module's apps section. Prints "ok".
 *
 *   PROG --help | -h
 *	The usage, the modes and the services the program contains, on
 *	stdout; exit 0.
 *
 *   PROG --worker --bootstrap-fd N --control-fd M
 *	How the supervisor starts the program's workers; not for
 *	interactive use.
 *
 * Exit statuses: 0 success; for an execrpc error, its category number
 * (core/err.h xr_category: 2 config_invalid, 4 lifecycle_resolution, 9
 * stop_timeout, ...), after one line "PROG: NAME (code N): REASON" on
 * stderr; 64 (EX_USAGE) for bad usage.
 *
 * A program that calls its modules itself gives xr_main_run() an ingress
 * (xr_main_program.ingress, below; examples/kv). A program may add its own
 * options and operands (.options and .option: --rules, INPUT, ...), adjust
 * the loaded config before anything starts (.configure), and be a filter
 * (.filter: it does its work, e.g. reads INPUT and writes results on
 * stdout, and exits; apps/fundload):
 *
 *   PROG [--config FILE] [--log-level LEVEL] [--control] [OPTION...] [ARG...]
 *	As --config above, except: without --config the config's defaults
 *	(transport memory, bootstrap.mode inline); no worker, listening or
 *	stop lines (stdout is the ingress's); the control socket is served
 *	only with --control (process_supervisor), and then each group's stop
 *	is one line on stderr, "PROG: stop event: group GROUP graceful|forced";
 *	the run ends when the ingress returns: a stop with the config's
 *	policy, and the ingress's status (0 included) is the exit status.
 *	Crash lines on stderr as above.
 */
#ifndef EXECRPC_MAIN_H
#define EXECRPC_MAIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xr_service_module;
struct xr_lifecycle;

struct option;		/* <getopt.h> */
struct xr_config;
struct xr_diag;

/* A program: its modules and what xr_main_run() says about it. */
typedef struct xr_main_program {
	/* the prefix of its messages and its usage; NULL: the last component
	 * of argv[0] */
	const char *name;
	/* text for --help, under the usage (a filter's: its options);
	 * NULL: none */
	const char *about;
	/* the services it contains (borrowed; a static table) */
	const struct xr_service_module *mods;
	size_t n_mods;
	/* called once at the end of a run (--config) or a worker
	 * (--worker), whatever its outcome, after the modules' registries
	 * are gone and before the exit status is returned: frees what the
	 * program keeps beyond any one registry (state made per
	 * registration is the registry's: xr_registry_on_free()). Not
	 * called for --help, usage errors or config check. NULL: none. */
	void (*cleanup)(void);
	/*
	 * The program's own ingress, or NULL (its modules are called from
	 * outside only). With --config, once the lifecycle is ready
	 * (process_supervisor: every worker ready, the worker lines printed,
	 * the control socket served; inline: the endpoint up), called once,
	 * not from the event loop, with the lifecycle (borrowed) and the
	 * operands that follow the options (PROG --config FILE [ARG...];
	 * argc may be 0). It calls the modules through xr_lifecycle_pick()
	 * (execrpc/runtime.h) and the typed stubs, blocking ones included.
	 * Then stdout is flushed. It returns 0 to go on serving until a
	 * stop (SIGTERM, SIGINT, a control-socket STOP, or its own
	 * xr_lifecycle_stop_begin()), or an exit status 1..255: the
	 * lifecycle stops with the config's policy and the program exits
	 * with that status (a failure of that stop is still said on stderr).
	 * A filter's run ends at its return, 0 included. An ingress that
	 * keeps per-worker state runs its own loop on xr_lifecycle_base() and
	 * asks xr_lifecycle_health() whether a worker event lost it. A
	 * program with an ingress is its modules' caller, so inline runs
	 * with any transport and secret_mode.
	 */
	int (*ingress)(struct xr_lifecycle *lc, int argc, char **argv);
	/*
	 * The program's own long options (borrowed; getopt_long()'s table,
	 * ended by a zero entry; `flag` NULL, `val` none of 'c', 'l', 'h',
	 * 'C', '?', ':', 1), parsed with xr_main_run()'s. `option` gets each
	 * of them, in order (opt: its `val`, arg: its argument or NULL), and
	 * then each operand (opt 1, getopt's code for an operand; they also
	 * reach the ingress), before anything starts. It returns XR_OK, or an
	 * error with a reason in `d`: a usage error ("PROG: REASON" on
	 * stderr, exit 64). Without `option`, an option not xr_main_run()'s
	 * is a usage error, and so are operands unless there is an ingress.
	 */
	const struct option *options;
	int (*option)(int opt, const char *arg, struct xr_diag *d);
	/* what follows the common options on the usage line, e.g.
	 * " [--rules R] [INPUT]" (NULL: " [ARG...]" with an ingress) */
	const char *usage;
	/*
	 * Called once the config is loaded (or defaulted), before anything
	 * starts, and by config check before it checks the services: may
	 * change `cfg` (e.g. an option that overrides a config key), which
	 * stays valid until cleanup returns. Returns XR_OK, or an error with
	 * a reason in `d`: "PROG: NAME (code N): REASON", exit its category.
	 * NULL: none.
	 */
	int (*configure)(struct xr_config *cfg, struct xr_diag *d);
	/* 1: the program is a filter (the header comment, PROG [--config
	 * FILE] ...): needs an ingress */
	int filter;
} xr_main_program;

/*
 * The program: xr_main_run() with `mods` (borrowed, n_mods entries) and
 * no name, about or cleanup. Returns the exit status for main() to
 * return. Call it once per process, from main().
 */
int xr_main(int argc, char **argv, const struct xr_service_module *mods,
    size_t n_mods);

/* As xr_main() for the program `p` (borrowed). */
int xr_main_run(int argc, char **argv, const xr_main_program *p);

/* 1 if argv is exactly what the supervisor execs a worker with,
 * "PROG --worker --bootstrap-fd N --control-fd M": the process was started
 * as a worker and main() should return xr_main_worker(); else 0 (a
 * "--worker" anywhere else, e.g. an operand, is not worker mode). */
int xr_main_is_worker(int argc, char *const *argv);

/*
 * The worker: serve p->mods as the bootstrap bundle on the inherited
 * channels says (the runtime's worker entry, xr_runtime_worker_main()),
 * then p->cleanup. Returns the exit status: 0 after a STOP, 64 for bad
 * fd arguments, the child-bootstrap category (8) for a bundle it refuses,
 * 1 when the supervisor is gone.
 */
int xr_main_worker(int argc, char **argv, const xr_main_program *p);

#ifdef __cplusplus
}
#endif

#endif /* EXECRPC_MAIN_H */
