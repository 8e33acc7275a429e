/*
 * apps/supervisor/main.c — execrpc-supervisor: the bootstrap supervisor
 * program.
 *
 *   execrpc-supervisor --config FILE [--log-level LEVEL]
 *
 * Loads the config (bootstrap.mode must be process_supervisor) and runs its
 * lifecycle (runtime/lifecycle.h): generates or loads the secret, starts
 * every process group with itself as the worker executable, waits for
 * readiness (lifecycle.ready_timeout_seconds), serves the control socket
 * (control.socket) and prints one line per worker:
 *
 *   worker GROUP INDEX pid PID port PORT
 *
 * (again for a worker that comes back after a crash). It runs until a STOP
 * on the control socket, or SIGTERM / SIGINT (a graceful stop with the
 * lifecycle policy), prints "stop GROUP graceful|forced" per group and exits
 * 0. A startup failure exits with its error category.
 *
 *   execrpc-supervisor --worker --bootstrap-fd 3 --control-fd 4
 *
 * is how the supervisor starts its workers (xr_runtime_worker_main with
 * echo.v1.Echo, xr_echo_module, as the module table); not for interactive
 * use.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "echo.h"
#include "log.h"
#include "proc.h"
#include "runtime.h"

struct run {
	xr_lifecycle *lc;
	int started;		/* initial readiness reached */
};

static void
print_worker(const xr_worker_info *w)
{
	printf("worker %s %u pid %d port %u\n", w->group, w->index,
	    (int)w->pid, (unsigned)w->port);
	fflush(stdout);
}

static void
on_stop(void *arg, const char *group, xr_stop_mode mode)
{
	(void)arg;
	printf("stop %s %s\n", group, xr_stop_mode_name(mode));
	fflush(stdout);
}

static void
on_worker(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	struct run *r = arg;

	if (err == XR_OK) {
		if (r->started && w->state == XR_WORKER_READY)
			print_worker(w);
		return;
	}
	xr_warn("worker %s[%u] pid %d: %s: %s", w->group, w->index,
	    (int)w->pid, xr_err_name(err), reason);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

	(void)sig;
	(void)what;
	xr_lifecycle_stop_begin(r->lc);	/* the lifecycle policy */
}

static int
fail(int code, const xr_diag *d)
{
	return xr_diag_print(stderr, "execrpc-supervisor", code, d);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_path = NULL;
	xr_lifecycle_opts o = { 0 };
	xr_config cfg;
	xr_diag d = { 0 }, sd = { 0 };
	struct run r = { 0 };
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	xr_worker_info *ws = NULL;
	size_t n;
	int ch, lvl, ret, status = 1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--worker") == 0)
			return xr_runtime_worker_main(argc, argv,
			    &xr_echo_module, 1);
	/* the config may hold an inline secret, and the supervisor holds the
	 * keys: no core dumps, not dumpable, closed pipes are errors (the
	 * supervisor library hardens again; loading comes first here) */
	if ((ret = xr_proc_harden(0, &d)) != XR_OK)
		return fail(ret, &d);
	while ((ch = getopt_long(argc, argv, "c:l:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'l':
			if ((lvl = xr_log_level_parse(optarg)) < 0) {
				fprintf(stderr, "execrpc-supervisor: bad "
				    "--log-level\n");
				return 64;
			}
			xr_log_set_level((xr_log_level)lvl);
			break;
		default:
			fprintf(stderr, "usage: execrpc-supervisor --config FILE "
			    "[--log-level debug|info|warn|error]\n");
			return 64;
		}
	}
	if (cfg_path == NULL || optind != argc) {
		fprintf(stderr, "usage: execrpc-supervisor --config FILE\n");
		return 64;
	}
	if ((ret = xr_config_load_file(cfg_path, &cfg, &d)) != XR_OK)
		return fail(ret, &d);
	if (cfg.boot_mode != XR_BOOT_PROCESS_SUPERVISOR) {
		ret = xr_diag_set(&d, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.bootstrap.mode: \"%s\"; execrpc-supervisor "
		    "needs process_supervisor", xr_boot_mode_name(cfg.boot_mode));
		goto out;
	}
	if (cfg.secret_inline != NULL)
		xr_log_register_secret(cfg.secret_inline, cfg.secret_inline_len);
	if ((base = event_base_new()) == NULL) {
		ret = xr_diag_set(&d, XR_ERR_NOMEM, "cannot create the event loop");
		goto out;
	}
	o.cfg = &cfg;
	o.mods = &xr_echo_module;	/* what its workers can host: echo */
	o.n_mods = 1;
	o.on_stop_event = on_stop;
	o.on_worker_event = on_worker;
	o.worker_arg = &r;
	if ((r.lc = xr_lifecycle_new(base, &o, &d)) == NULL) {
		ret = d.code;
		goto out;
	}
	if ((ret = xr_lifecycle_start(r.lc, &d)) != XR_OK ||
	    (ret = xr_lifecycle_ready(r.lc, &d)) != XR_OK ||
	    (ret = xr_lifecycle_control_listen(r.lc, &d)) != XR_OK)
		goto out;
	n = xr_lifecycle_workers(r.lc, NULL, 0);
	if ((ws = calloc(n, sizeof(*ws))) == NULL) {
		ret = xr_diag_set(&d, XR_ERR_NOMEM, "out of memory");
		goto out;
	}
	xr_lifecycle_workers(r.lc, ws, n);
	for (size_t i = 0; i < n; i++)
		print_worker(&ws[i]);
	r.started = 1;
	sigterm = evsignal_new(base, SIGTERM, signal_cb, &r);
	sigint = evsignal_new(base, SIGINT, signal_cb, &r);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL)) {
		ret = xr_diag_set(&d, XR_ERR_NOMEM, "cannot watch signals");
		goto out;
	}
	if ((ret = xr_lifecycle_run(r.lc, &d)) != XR_OK)
		goto out;
	/* the groups are stopped: this closes the ingress */
	if ((ret = xr_lifecycle_stop(r.lc, &sd)) != XR_OK) {
		d = sd;
		goto out;
	}
	status = 0;
 out:
	if (ret != XR_OK)
		status = fail(ret, &d);
	free(ws);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	xr_lifecycle_free(r.lc);
	if (base != NULL)
		event_base_free(base);
	xr_config_free(&cfg);
	xr_log_forget_secrets();
	return status;
}
