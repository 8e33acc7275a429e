/*
 * apps/fundload/main.c — the fund-load reference application.
 *
 *   fundload [--config FILE] [--rules baseline|experiment] [--window N]
 *            [--stats] [--control] [INPUT]
 *
 * --control (process_supervisor): serve the lifecycle control socket of the
 * config (execrpc status|stats|drain|stop) while running, and print the stop
 * events on stderr.
 *
 * Reads one JSON load per line from INPUT (default: standard input), runs
 * every valid load through the execrpc lifecycle of the config's profile
 * (memory, tcp_local + inline, or process_supervisor with N workers; no
 * --config: the defaults, memory) and writes one decision line per load, in
 * input order. docs/fundload.md is the manual.
 *
 * In process_supervisor mode the supervisor re-executes this program as
 *   fundload --worker --bootstrap-fd 3 --control-fd 4
 * which serves fundload.v1.FundLoad (and echo.v1.Echo) in a worker: the
 * worker of execrpc/main.h (xr_main_worker()). The rest is fundload's own:
 * it is its own ingress (it reads the input and calls its modules), which
 * xr_main()'s hosting program is not.
 *
 * Exit status: 0 every line was valid and decided; 65 (EX_DATAERR) some
 * lines were invalid (each has its diagnostic; every valid line was
 * decided); 64 (EX_USAGE) bad arguments; otherwise the category number of
 * the execrpc error that stopped the run (2 config_invalid, 6
 * worker_failed, ...; see core/err.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "appcfg.h"
#include "echo.h"
#include "err.h"
#include "execrpc/main.h"
#include "proc.h"
#include "ingress.h"
#include "runtime.h"
#include "service.h"

#define PROG "fundload"	/* the diagnostics' prefix */
#define EXIT_USAGE 64
#define EXIT_DATAERR 65

/* The services this program hosts, in-process or as a worker. */
static const xr_service_module modules[] = {
	{ XR_FL_SERVICE, xr_fl_service_add, XR_FL_APP, xr_fl_app_check },
	XR_ECHO_MODULE_INIT,
};
#define NMODULES (sizeof(modules) / sizeof(modules[0]))

/* As a worker. (The FundLoad states go with their registries.) */
static const xr_main_program program = {
	.name = PROG,
	.mods = modules,
	.n_mods = NMODULES,
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fundload [--config FILE] [--rules baseline|experiment]\n"
	    "                [--window N] [--stats] [--control] [INPUT]\n"
	    "       fundload --help\n"
	    "       fundload --worker --bootstrap-fd N --control-fd M\n"
	    "services:");
	for (size_t i = 0; i < NMODULES; i++)
		fprintf(f, " %s", modules[i].name);
	fprintf(f, "\n"
	    "exit status: 0 ok, %d some input lines invalid, %d usage,\n"
	    "             1..11 the execrpc error category (2 config_invalid)\n",
	    EXIT_DATAERR, EXIT_USAGE);
}

/* ---------- the runtime as the ingress sees it ---------- */

struct app {
	xr_lifecycle *lc;
	xr_queue *q;			/* fundload.v1.FundLoad's */
	bool ready;
	int worker_err;			/* a worker failed or came back */
	char worker_why[200];
};

static xr_channel *
pick(void *arg, const char *customer, size_t len, int *err)
{
	struct app *a = arg;

	return xr_queue_pick(a->q, customer, len, err);
}

/* After ready, any worker event is fatal to a run: a worker that died took
 * its customers' state with it, and one that came back has none. */
static void
on_worker(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	struct app *a = arg;

	if (!a->ready || a->worker_err != XR_OK)
		return;
	a->worker_err = err != XR_OK ? err : XR_ERR_WORKER_FAILED;
	snprintf(a->worker_why, sizeof(a->worker_why),
	    "worker %s[%u] pid %d: %s", w->group, w->index, (int)w->last_pid,
	    reason);
}

static int
health(void *arg, char *why, size_t cap)
{
	struct app *a = arg;

	if (a->worker_err != XR_OK)
		snprintf(why, cap, "%s", a->worker_why);
	return a->worker_err;
}

/* One line of counters on stderr, after the workers are reaped: the
 * ingress's peak RSS, and the largest worker's (process_supervisor, where
 * `workers` is the FundLoad group's count). */
static void
print_stats(const xr_config *cfg, uint32_t workers,
    const xr_fl_ingress_stats *st)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	fprintf(stderr, "fundload: stats profile=%s/%s workers=%u rules=%s "
	    "lines=%llu invalid=%llu accepted=%llu declined=%llu ignored=%llu "
	    "held=%llu max_inflight=%u maxrss_kb=%ld worker_maxrss_kb=%ld\n",
	    xr_transport_name(cfg->transport), xr_boot_mode_name(cfg->boot_mode),
	    workers,
	    xr_rules_name(xr_fl_app_rules(xr_config_app(cfg, XR_FL_APP))),
	    (unsigned long long)st->lines, (unsigned long long)st->invalid,
	    (unsigned long long)st->accepted, (unsigned long long)st->declined,
	    (unsigned long long)st->ignored, (unsigned long long)st->held,
	    st->max_inflight, self.ru_maxrss, kids.ru_maxrss);
}

/* --control: the stop events of the process groups, on stderr. */
static void
on_stop_event(void *arg, const char *group, xr_stop_mode mode)
{
	(void)arg;
	fprintf(stderr, "fundload: stop event: group %s %s\n", group,
	    xr_stop_mode_name(mode));
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "rules", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "stats", no_argument, NULL, 's' },
		{ "control", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_path = NULL, *rules = NULL, *input = NULL, *group;
	xr_rules rules_opt = XR_RULES_BASELINE;
	struct event_base *base = NULL;
	xr_fl_ingress_opts io = { 0 };
	xr_lifecycle_opts lo = { 0 };
	xr_fl_ingress *g = NULL;
	xr_fl_ingress_stats st;
	struct app a = { 0 };
	xr_config cfg;
	xr_diag d = { 0 }, sd = { 0 };
	unsigned long window = 0;
	uint32_t workers = 0;
	bool stats = false, have_cfg = false, control = false;
	int c, r, fd = STDIN_FILENO, status;
	char *end;

	if (xr_main_is_worker(argc, argv))
		return xr_main_worker(argc, argv, &program);
	while ((c = getopt_long(argc, argv, "c:r:w:sh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'r':
			rules = optarg;
			break;
		case 'w':
			window = strtoul(optarg, &end, 10);
			if (*end != '\0' || window < 1 || window > XR_FL_WINDOW_MAX) {
				fprintf(stderr, "fundload: --window: 1..%d\n",
				    XR_FL_WINDOW_MAX);
				return EXIT_USAGE;
			}
			break;
		case 's':
			stats = true;
			break;
		case 'C':
			control = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind < argc)
		input = argv[optind];
	if (rules != NULL && xr_rules_parse(rules, &rules_opt) != XR_OK) {
		fprintf(stderr, "fundload: --rules: baseline or experiment\n");
		return EXIT_USAGE;
	}

	/* the runtime holds keys: no core dumps, not dumpable; closed pipes
	 * are errors */
	if ((r = xr_proc_harden(0, &d)) != XR_OK)
		return xr_diag_print(stderr, PROG, r, &d);

	if (cfg_path != NULL) {
		if ((r = xr_config_load_file(cfg_path, &cfg, &d)) != XR_OK)
			return xr_diag_print(stderr, PROG, r, &d);
	} else {
		xr_config_defaults(&cfg);
	}
	have_cfg = true;
	/* --rules overrides apps.fundload.rules (workers get it in the bundle) */
	if (rules != NULL &&
	    (r = xr_fl_app_set_rules(&cfg, rules_opt, &d)) != XR_OK) {
		status = xr_diag_print(stderr, PROG, r, &d);
		goto out;
	}
	if (input != NULL && strcmp(input, "-") != 0 &&
	    (fd = open(input, O_RDONLY | O_CLOEXEC)) < 0) {
		xr_diag_set(&d, XR_ERR_SYSTEM, "%s: %s", input, strerror(errno));
		status = xr_diag_print(stderr, PROG, d.code, &d);
		goto out;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);

	if ((base = event_base_new()) == NULL) {
		status = xr_diag_print(stderr, PROG, XR_ERR_NOMEM, NULL);
		goto out;
	}
	lo.cfg = &cfg;
	lo.mods = modules;
	lo.n_mods = NMODULES;
	lo.on_worker_event = on_worker;
	lo.worker_arg = &a;
	if (control)
		lo.on_stop_event = on_stop_event;
	if ((a.lc = xr_lifecycle_new(base, &lo, &d)) == NULL) {
		status = xr_diag_print(stderr, PROG, d.code, &d);
		goto out;
	}
	if ((group = xr_lifecycle_route(a.lc, XR_FL_SERVICE)) == NULL) {
		xr_diag_set(&d, XR_ERR_CONFIG_INVALID, "runtime.platform."
		    "process_groups: no group serves %s", XR_FL_SERVICE);
		status = xr_diag_print(stderr, PROG, d.code, &d);
		goto out;
	}
	for (size_t i = 0; i < cfg.n_groups; i++)
		if (cfg.boot_mode == XR_BOOT_PROCESS_SUPERVISOR &&
		    strcmp(cfg.groups[i].name, group) == 0)
			workers = cfg.groups[i].workers;
	if ((r = xr_lifecycle_start(a.lc, &d)) != XR_OK ||
	    (a.q = xr_transport_queue(xr_lifecycle_transport(a.lc),
	    XR_FL_SERVICE, &d)) == NULL ||
	    (r = xr_lifecycle_ready(a.lc, &d)) != XR_OK) {
		status = xr_diag_print(stderr, PROG, d.code != XR_OK ? d.code :
		    XR_ERR_INTERNAL, &d);
		goto out;
	}
	a.ready = true;
	if (control && cfg.boot_mode == XR_BOOT_PROCESS_SUPERVISOR &&
	    (r = xr_lifecycle_control_listen(a.lc, &d)) != XR_OK) {
		status = xr_diag_print(stderr, PROG, r, &d);
		goto out;
	}

	io.base = base;
	io.in_fd = fd;
	io.out = stdout;
	io.err = stderr;
	io.rules = xr_fl_app_rules(xr_config_app(&cfg, XR_FL_APP));
	io.window = (uint32_t)window;
	io.pick = pick;
	io.pick_arg = &a;
	io.health = health;
	io.health_arg = &a;
	if ((g = xr_fl_ingress_new(&io)) == NULL) {
		status = xr_diag_print(stderr, PROG, XR_ERR_NOMEM, NULL);
		goto out;
	}
	r = xr_fl_ingress_run(g, &d);
	fflush(stdout);
	xr_fl_ingress_stats_get(g, &st);
	if (r != XR_OK)
		status = xr_diag_print(stderr, PROG, r, &d);
	else
		status = st.invalid > 0 ? EXIT_DATAERR : 0;
	a.ready = false;
	if ((r = xr_lifecycle_stop(a.lc, &sd)) != XR_OK && status == 0)
		status = xr_diag_print(stderr, PROG, r, &sd);
	if (stats)
		print_stats(&cfg, workers, &st);
 out:
	/* calls still pending complete here; the FundLoad states are freed
	 * with the registry */
	xr_lifecycle_free(a.lc);
	xr_fl_ingress_free(g);
	if (base != NULL)
		event_base_free(base);
	if (fd != STDIN_FILENO && fd >= 0)
		close(fd);
	if (have_cfg)
		xr_config_free(&cfg);
	return status;
}
