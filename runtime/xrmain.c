/*
 * runtime/xrmain.c — one-call program entry (execrpc/main.h): the command
 * line, --help, config check, the run of either bootstrap mode over the
 * lifecycle, signals, worker lines and crash lines. Program code: it
 * prints (stdout: the lines other programs read; stderr: diagnostics).
 */
#include "execrpc/main.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "runtime.h"

#define EXIT_USAGE 64

struct xm_run {
	const xr_main_program *p;
	const char *name;
	xr_config *cfg;		/* serve()'s: its inline secret is wiped once
				 * the keys are derived */
	xr_lifecycle *lc;
	int started;		/* initial readiness reached */
	int stop_asked;		/* SIGTERM or SIGINT seen */
	int control;		/* a filter's --control */
	int argc;		/* the operands, for p->ingress */
	char **argv;
	int status;		/* p->ingress's exit status, or 0 */
};

static const char *
prog_name(const xr_main_program *p, int argc, char **argv)
{
	const char *s;

	if (p->name != NULL)
		return p->name;
	if (argc < 1 || argv[0] == NULL || argv[0][0] == '\0')
		return "execrpc-program";
	s = strrchr(argv[0], '/');
	return s != NULL && s[1] != '\0' ? s + 1 : argv[0];
}

static void
usage(FILE *f, const xr_main_program *p, const char *name)
{
	const char *rest = p->usage != NULL ? p->usage :
	    p->ingress != NULL ? " [ARG...]" : "";

	if (p->filter)
		fprintf(f, "usage: %s [--config FILE] [--log-level "
		    "debug|info|warn|error] [--control]%s\n", name, rest);
	else
		fprintf(f, "usage: %s --config FILE [--log-level "
		    "debug|info|warn|error]%s\n", name, rest);
	fprintf(f, "       %s config check FILE\n"
	    "       %s --help\n", name, name);
}

/* --help's text on --config and --control, for a filter. */
static void
help_filter(FILE *f)
{
	fprintf(f, "\n"
	    "--config FILE       run the services below as FILE says "
	    "(without it: the\n"
	    "                    defaults, transport memory and "
	    "bootstrap.mode inline),\n"
	    "                    do the program's work once they are ready, "
	    "stop with\n"
	    "                    the config's lifecycle policy and exit\n"
	    "--control           bootstrap.mode process_supervisor: serve "
	    "control.socket\n"
	    "                    (execrpc status|stats|drain|stop --control "
	    "PATH) while\n"
	    "                    it runs; print the stop events on stderr\n");
}

/* --help's text on --config, for a program that serves. */
static void
help_server(FILE *f, const xr_main_program *p)
{
	fprintf(f, "\n"
	    "--config FILE       run the services below as FILE says:\n"
	    "  bootstrap.mode process_supervisor: start each process group's\n"
	    "    workers (this program, re-executed with --worker), serve\n"
	    "    control.socket (execrpc status|stats|drain|stop --control "
	    "PATH),\n"
	    "    print \"worker GROUP INDEX pid PID port PORT\" per ready "
	    "worker and\n"
	    "    one line on stderr per worker that dies;\n"
	    "%s"
	    "  SIGTERM or SIGINT stops with the config's lifecycle policy and\n"
	    "  exits 0.\n"
	    "%s", p->ingress == NULL ?
	    /* callers outside the process only: check_hosting() */
	    "  bootstrap.mode inline: serve them in this process (transport\n"
	    "    tcp_local, secret_mode static) and print "
	    "\"listening HOST PORT\".\n" :
	    /* ARG...'s calls come from this process */
	    "  bootstrap.mode inline: serve them in this process (any "
	    "transport\n"
	    "    and secret_mode; tcp_local also prints "
	    "\"listening HOST PORT\").\n",
	    p->ingress == NULL ? "" :
	    "ARG...              for the program's own calls, made once it "
	    "is ready;\n"
	    "                    then it serves as above (or exits)\n");
}

static void
help(const xr_main_program *p, const char *name)
{
	FILE *f = stdout;

	usage(f, p, name);
	if (p->about != NULL)
		fprintf(f, "\n%s\n", p->about);
	if (p->filter)
		help_filter(f);
	else
		help_server(f, p);
	fprintf(f,
	    "config check FILE   validate FILE for this program, its "
	    "services included;\n"
	    "                    prints ok\n"
	    "--log-level LEVEL   log at LEVEL and above on stderr "
	    "(default warn)\n"
	    "\nservices:\n");
	for (size_t i = 0; i < p->n_mods; i++)
		fprintf(f, "  %s\n", p->mods[i].name);
	if (p->n_mods == 0)
		fprintf(f, "  (none)\n");
	fprintf(f, "\nexit status: 0 ok, 1..11 the error category "
	    "(2 config_invalid,\n  4 lifecycle_resolution), %d usage\n",
	    EXIT_USAGE);
	fflush(f);
}

/*
 * What a hosting program needs beyond the config schema and the lifecycle's
 * own resolution: its modules are called only from outside the process.
 */
static int
check_hosting(const xr_config *cfg, const xr_main_program *p,
    const char *name, xr_diag *d)
{
	if (cfg->boot_mode != XR_BOOT_INLINE || p->ingress != NULL)
		return XR_OK;	/* the ingress is the caller */
	/* redis_streams: this process reads its groups' streams, for
	 * ingresses elsewhere */
	if (cfg->transport == XR_TRANSPORT_MEMORY)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.execution_ipc.transport: %s serves "
		    "callers in this process only, and %s has none (use "
		    "tcp_local or redis_streams)",
		    xr_transport_name(cfg->transport), name);
	/* a generated secret lives in this process only: no client of the
	 * endpoint could ever call it */
	if (cfg->secret_mode == XR_SECRET_GENERATED)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID, "runtime.platform."
		    "execution_ipc.auth.secret_mode: generated makes a secret "
		    "no client can get; set secret_mode: static and secret_file:"
		    " PATH (mode 0600, 32..4096 bytes), and give the client the "
		    "same secret and kdf");
	return XR_OK;
}

/* The lifecycle's options for this program's modules, no callbacks. */
static void
lc_opts(xr_lifecycle_opts *o, const xr_config *cfg, const xr_main_program *p)
{
	memset(o, 0, sizeof(*o));
	o->cfg = cfg;
	o->mods = p->mods;
	o->n_mods = p->n_mods;
}

/* ---------- config check ---------- */

static int
config_check(const xr_main_program *p, const char *name, const char *path)
{
	xr_lifecycle_opts o;
	struct event_base *base = NULL;
	xr_lifecycle *lc = NULL;
	xr_config cfg;
	xr_diag d = { 0 };
	int r;

	/* the config may hold an inline secret */
	if ((r = xr_proc_harden(0, &d)) != XR_OK)
		return xr_diag_print(stderr, name, r, &d);
	if ((r = xr_config_load_file(path, &cfg, &d)) != XR_OK)
		return xr_diag_print(stderr, name, r, &d);
	if ((p->configure != NULL && (r = p->configure(&cfg, &d)) != XR_OK) ||
	    (r = check_hosting(&cfg, p, name, &d)) != XR_OK)
		goto out;
	if ((base = event_base_new()) == NULL) {
		r = xr_diag_set(&d, XR_ERR_NOMEM, "cannot create the event "
		    "loop");
		goto out;
	}
	/* the lifecycle's resolution (services, apps sections): nothing
	 * starts before xr_lifecycle_start() */
	lc_opts(&o, &cfg, p);
	if ((lc = xr_lifecycle_new(base, &o, &d)) == NULL) {
		r = d.code != XR_OK ? d.code : XR_ERR_INTERNAL;
		goto out;
	}
	/* the secret as the start checks it (xr_config_keyset) */
	r = xr_config_secret_check(&cfg, &d);
 out:
	xr_lifecycle_free(lc);
	if (base != NULL)
		event_base_free(base);
	xr_config_free(&cfg);
	if (r != XR_OK)
		return xr_diag_print(stderr, name, r, &d);
	printf("ok\n");
	return fflush(stdout) == 0 ? 0 : (int)xr_err_category(XR_ERR_SYSTEM);
}

/* ---------- the run's callbacks ---------- */

static void
print_worker(const xr_worker_info *w)
{
	printf("worker %s %u pid %d port %u\n", w->group, w->index,
	    (int)w->pid, (unsigned)w->port);
	fflush(stdout);
}

/* A group stopped: a line on stdout; a filter's stdout is its own, so
 * there on stderr, with --control only. */
static void
on_stop(void *arg, const char *group, xr_stop_mode mode)
{
	struct xm_run *r = arg;

	if (!r->p->filter) {
		printf("stop %s %s\n", group, xr_stop_mode_name(mode));
		fflush(stdout);
	} else if (r->control) {
		fprintf(stderr, "%s: stop event: group %s %s\n", r->name, group,
		    xr_stop_mode_name(mode));
	}
}

static const char *
restart_of(const struct xm_run *r, const char *group)
{
	for (size_t g = 0; g < r->cfg->n_groups; g++)
		if (strcmp(r->cfg->groups[g].name, group) == 0)
			return xr_restart_name(r->cfg->groups[g].restart);
	return "unknown";
}

/*
 * Worker events: a ready worker after the start is a worker line (the
 * initial ones are printed together once ready); a failure is one line on
 * stderr, whenever it happens.
 */
static void
on_worker(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	struct xm_run *r = arg;
	pid_t pid = w->last_pid;	/* a crash: the dead process */
	const char *sig;
	xr_diag d = { 0 };

	if (err == XR_OK) {
		if (r->started && !r->p->filter && strcmp(reason, "ready") == 0)
			print_worker(w);
		return;
	}
	if (err == XR_ERR_WORKER_FAILED && w->last_signal > 0) {
		sig = sigabbrev_np(w->last_signal);
		xr_diag_set(&d, err, "worker %s %u pid %d killed by signal %d "
		    "(SIG%s); restart: %s", w->group, w->index, (int)pid,
		    w->last_signal, sig != NULL ? sig : "?",
		    restart_of(r, w->group));
	} else if (err == XR_ERR_WORKER_FAILED) {
		xr_diag_set(&d, err, "worker %s %u pid %d exited with status "
		    "%d; restart: %s", w->group, w->index, (int)pid,
		    w->last_exit_status, restart_of(r, w->group));
	} else {
		xr_diag_set(&d, err, "worker %s %u pid %d: %s", w->group,
		    w->index, (int)pid, reason);
	}
	(void)xr_diag_print(stderr, r->name, err, &d);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct xm_run *r = arg;

	(void)what;
	xr_info("%s: signal %d: stopping", r->name, (int)sig);
	r->stop_asked = 1;
	if (r->started)
		(void)xr_lifecycle_stop_begin(r->lc);	/* the config's policy */
}

/* ---------- the run ---------- */

/* Started and ready: say so (worker lines, or the listening line). */
static int
announce(struct xm_run *r, xr_diag *d)
{
	const xr_config *cfg = r->cfg;
	xr_worker_info *ws;
	size_t n;
	int ret;

	if (r->p->filter)	/* its stdout is its own */
		return r->control && cfg->boot_mode ==
		    XR_BOOT_PROCESS_SUPERVISOR ?
		    xr_lifecycle_control_listen(r->lc, d) : XR_OK;
	if (cfg->boot_mode == XR_BOOT_INLINE &&
	    cfg->transport == XR_TRANSPORT_MEMORY)
		return XR_OK;	/* an ingress's in-process modules */
	if (cfg->boot_mode == XR_BOOT_INLINE &&
	    cfg->transport == XR_TRANSPORT_REDIS_STREAMS) {
		printf("serving redis_streams %s\n", cfg->redis.stream_prefix);
		fflush(stdout);
		xr_info("%s: serving the streams of prefix %s", r->name,
		    cfg->redis.stream_prefix);
		return XR_OK;
	}
	if (cfg->boot_mode == XR_BOOT_INLINE) {
		uint16_t port = xr_transport_port(xr_lifecycle_transport(r->lc));

		printf("listening %s %u\n", cfg->bind_host, (unsigned)port);
		fflush(stdout);
		xr_info("%s: listening on %s:%u", r->name, cfg->bind_host,
		    (unsigned)port);
		return XR_OK;
	}
	if ((ret = xr_lifecycle_control_listen(r->lc, d)) != XR_OK)
		return ret;
	n = xr_lifecycle_workers(r->lc, NULL, 0);
	if ((ws = calloc(n + 1, sizeof(*ws))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	n = xr_lifecycle_workers(r->lc, ws, n);
	for (size_t i = 0; i < n; i++)
		print_worker(&ws[i]);
	free(ws);
	return XR_OK;
}

static int
run(struct xm_run *r, struct event_base *base, xr_diag *d)
{
	xr_lifecycle_opts o;
	int ret;

	lc_opts(&o, r->cfg, r->p);
	o.on_worker_event = on_worker;
	o.worker_arg = r;
	o.on_stop_event = on_stop;
	o.stop_arg = r;
	if ((r->lc = xr_lifecycle_new(base, &o, d)) == NULL)
		return d->code != XR_OK ? d->code : XR_ERR_INTERNAL;
	ret = xr_lifecycle_start(r->lc, d);
	/* the keys are derived (or never will be): the inline secret goes
	 * now, not at exit; the log table keeps only its keyed hashes
	 * (docs/design.md section 3) */
	xr_config_wipe_secret(r->cfg);
	if (ret != XR_OK ||
	    (ret = xr_lifecycle_ready(r->lc, d)) != XR_OK ||
	    (ret = announce(r, d)) != XR_OK)
		return ret;
	r->started = 1;
	if (r->stop_asked)	/* a signal during the start */
		(void)xr_lifecycle_stop_begin(r->lc);
	/* the program's ingress: its calls (what it printed is flushed, as
	 * the worker lines are), then serve, or stop now (a filter: always) */
	if (r->p->ingress != NULL) {
		r->status = r->p->ingress(r->lc, r->argc, r->argv);
		fflush(stdout);
		if (r->status != 0 || r->p->filter)
			return xr_lifecycle_stop(r->lc, d);
	}
	if ((ret = xr_lifecycle_run(r->lc, d)) != XR_OK)
		return ret;
	/* the groups are stopped (or the endpoint asked to): finish */
	return xr_lifecycle_stop(r->lc, d);
}

static int
serve(const xr_main_program *p, const char *name, const char *cfg_path,
    int control, int argc, char **argv)
{
	struct xm_run r;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	xr_config cfg;
	xr_diag d = { 0 };
	int ret, status;

	memset(&r, 0, sizeof(r));
	r.p = p;
	r.name = name;
	r.cfg = &cfg;
	r.control = control;
	r.argc = argc;
	r.argv = argv;
	xr_config_defaults(&cfg);
	/* this process holds keys: no core dumps, not dumpable, closed pipes
	 * are errors; a filter without --config runs on the defaults */
	if ((ret = xr_proc_harden(0, &d)) != XR_OK || (cfg_path != NULL &&
	    (ret = xr_config_load_file(cfg_path, &cfg, &d)) != XR_OK))
		goto out;
	if (cfg.secret_inline != NULL &&
	    (ret = xr_log_register_secret(cfg.secret_inline,
	    cfg.secret_inline_len)) != XR_OK) {
		xr_diag_set(&d, ret, "cannot register the config's secret for "
		    "log redaction");
		goto out;
	}
	if ((p->configure != NULL && (ret = p->configure(&cfg, &d)) != XR_OK) ||
	    (ret = check_hosting(&cfg, p, name, &d)) != XR_OK)
		goto out;
	if ((base = event_base_new()) == NULL ||
	    (sigterm = evsignal_new(base, SIGTERM, signal_cb, &r)) == NULL ||
	    (sigint = evsignal_new(base, SIGINT, signal_cb, &r)) == NULL ||
	    evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0) {
		ret = xr_diag_set(&d, XR_ERR_NOMEM, "cannot set up the event "
		    "loop and its signals");
		goto out;
	}
	ret = run(&r, base, &d);
 out:
	/* the ingress's failure comes first; a stop's that follows it is
	 * still said */
	status = r.status;
	if (ret != XR_OK) {
		ret = xr_diag_print(stderr, name, ret, &d);
		if (status == 0)
			status = ret;
	}
	xr_lifecycle_free(r.lc);	/* forced, if it still runs */
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (base != NULL)
		event_base_free(base);
	if (p->cleanup != NULL)
		p->cleanup();
	xr_config_free(&cfg);
	xr_log_forget_secrets();
	return status;
}

/* ---------- entry points ---------- */

/*
 * Only the argv the supervisor execs (supervisor/supervisor.c, the default
 * worker_args): "--worker --bootstrap-fd N --control-fd M" right after
 * argv[0]. A "--worker" elsewhere (an ingress's operand) is not this; the
 * fd values are checked by xr_worker_args() in xr_main_worker().
 */
int
xr_main_is_worker(int argc, char *const *argv)
{
	return argc == 6 && strcmp(argv[1], "--worker") == 0 &&
	    strcmp(argv[2], "--bootstrap-fd") == 0 &&
	    strcmp(argv[4], "--control-fd") == 0;
}

int
xr_main_worker(int argc, char **argv, const xr_main_program *p)
{
	int status;

	status = xr_runtime_worker_main(argc, argv, p->mods, p->n_mods);
	if (p->cleanup != NULL)
		p->cleanup();
	return status;
}

/* xr_main_run()'s options and the program's (p->options) in one table
 * (free() it); NULL when out of memory. */
static struct option *
all_options(const xr_main_program *p)
{
	static const struct option own[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "control", no_argument, NULL, 'C' },	/* a filter's */
	};
	size_t n_own = p->filter ? 4 : 3, n = 0;
	struct option *t;

	while (p->options != NULL && p->options[n].name != NULL)
		n++;
	if ((t = calloc(n_own + n + 1, sizeof(*t))) == NULL)
		return NULL;
	memcpy(t, own, n_own * sizeof(*t));
	if (n > 0)
		memcpy(t + n_own, p->options, n * sizeof(*t));
	return t;
}

/* The program's option (or operand: opt 1) `opt`: XR_OK, or a usage error
 * said on stderr. */
static int
program_option(const xr_main_program *p, const char *name, int opt,
    const char *arg)
{
	xr_diag d = { 0 };
	int r;

	if ((r = p->option(opt, arg, &d)) != XR_OK)
		fprintf(stderr, "%s: %s\n", name, d.reason[0] != '\0' ?
		    d.reason : xr_err_name(r));
	return r;
}

/* The command line after the mode checks: options, then operands.
 * Returns -1 to run, else the exit status. */
static int
parse(int argc, char **argv, const xr_main_program *p, const char *name,
    const char **cfg_path, int *control)
{
	struct option *opts;
	int ch, lvl, status = -1;

	if ((opts = all_options(p)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", name);
		return (int)xr_err_category(XR_ERR_NOMEM);
	}
	/* "+": the options end at the first operand (an ingress's, which may
	 * start with '-') */
	while (status < 0 &&
	    (ch = getopt_long(argc, argv, "+c:l:h", opts, NULL)) != -1) {
		if (ch == 'c') {
			*cfg_path = optarg;
		} else if (ch == 'l') {
			if ((lvl = xr_log_level_parse(optarg)) < 0) {
				fprintf(stderr, "%s: --log-level: debug, info, "
				    "warn, error or off\n", name);
				status = EXIT_USAGE;
			} else {
				xr_log_set_level((xr_log_level)lvl);
			}
		} else if (ch == 'h') {
			help(p, name);
			status = 0;
		} else if (ch == 'C') {
			*control = 1;
		} else if (ch == '?' || ch == ':' || p->option == NULL) {
			usage(stderr, p, name);
			status = EXIT_USAGE;
		} else if (program_option(p, name, ch, optarg) != XR_OK) {
			status = EXIT_USAGE;
		}
	}
	free(opts);
	if (status >= 0)
		return status;
	if ((*cfg_path == NULL && !p->filter) ||
	    (optind != argc && p->ingress == NULL && p->option == NULL)) {
		usage(stderr, p, name);
		return EXIT_USAGE;
	}
	for (int i = optind; p->option != NULL && i < argc; i++)
		if (program_option(p, name, 1, argv[i]) != XR_OK)
			return EXIT_USAGE;
	return -1;
}

int
xr_main_run(int argc, char **argv, const xr_main_program *p)
{
	const char *name = prog_name(p, argc, argv), *cfg_path = NULL;
	int control = 0, status;

	if (xr_main_is_worker(argc, argv))
		return xr_main_worker(argc, argv, p);
	if (argc >= 2 && strcmp(argv[1], "config") == 0) {
		if (argc == 4 && strcmp(argv[2], "check") == 0)
			return config_check(p, name, argv[3]);
		usage(stderr, p, name);
		return EXIT_USAGE;
	}
	if ((status = parse(argc, argv, p, name, &cfg_path, &control)) >= 0)
		return status;
	return serve(p, name, cfg_path, control, argc - optind,
	    argv + optind);
}

int
xr_main(int argc, char **argv, const struct xr_service_module *mods,
    size_t n_mods)
{
	const xr_main_program p = { .mods = mods, .n_mods = n_mods };

	return xr_main_run(argc, argv, &p);
}
