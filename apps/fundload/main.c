/*
 * apps/fundload/main.c — fundload (docs/fundload.md): an execrpc filter
 * program (execrpc/main.h) whose ingress (ingress.c) has each JSON load of
 * INPUT decided by fundload.v1.FundLoad and writes the decisions in input
 * order. Exit status: 0; 65 (EX_DATAERR) some lines were invalid; 64
 * usage; else the category of the error that stopped the run.
 * `fundload --from-bootstrap ...` is the same ingress in a web process of
 * a supervised web group (web.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "appcfg.h"
#include "echo.h"
#include "execrpc/main.h"
#include "ingress.h"
#include "service.h"
#include "web.h"

/* The command line's options; the ingress and its input. */
static struct {
	int rules_set, stats, inputs;
	xr_rules rules;
	uint32_t window;
	const xr_config *cfg;		/* configure()'s, until cleanup */
	xr_fl_ingress *g;
} fl;

static int
option(int opt, const char *arg, xr_diag *d)
{
	char *end;
	unsigned long n = 1;

	if (opt == 'r' && xr_rules_parse(arg, &fl.rules) != XR_OK)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "--rules: baseline "
		    "or experiment");
	if (opt == 'w' && ((n = strtoul(arg, &end, 10)) < 1 ||
	    n > XR_FL_WINDOW_MAX || *end != '\0'))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "--window: 1..%d",
		    XR_FL_WINDOW_MAX);
	if (opt == 1 && fl.inputs++ > 0)	/* an operand: INPUT */
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "one INPUT at most");
	fl.rules_set |= opt == 'r';
	fl.stats |= opt == 's';
	fl.window = opt == 'w' ? (uint32_t)n : fl.window;
	return XR_OK;
}

/* --rules overrides apps.fundload.rules (the workers get it in their
 * bundle); a bad section is still refused by the module's check. */
static int
configure(xr_config *cfg, xr_diag *d)
{
	fl.cfg = cfg;
	return fl.rules_set ? xr_fl_app_set_rules(cfg, fl.rules, d) : XR_OK;
}

/* INPUT (none or "-": standard input) through the lifecycle. */
static int
ingress(xr_lifecycle *lc, int argc, char **argv)
{
	xr_fl_ingress_opts io = { .input = argc > 0 ? argv[0] : NULL,
	    .out = stdout, .err = stderr, .window = fl.window,
	    .rules = xr_fl_app_rules(xr_config_app(fl.cfg, XR_FL_APP)) };
	xr_fl_ingress_stats st;
	xr_diag d = { 0 };

	/* the lifecycle's channels */
	xr_fl_source_lifecycle(lc, fl.cfg, &io.src);
	if ((fl.g = xr_fl_ingress_new(&io, &d)) == NULL ||
	    xr_fl_ingress_run(fl.g, &d) != XR_OK)
		return xr_diag_print(stderr, "fundload", d.code, &d);
	xr_fl_ingress_stats_get(fl.g, &st);
	return st.invalid > 0 ? EX_DATAERR : 0;
}

/* After the lifecycle: its calls are complete, its workers reaped. */
static void
cleanup(void)
{
	if (fl.g != NULL && fl.stats)
		xr_fl_ingress_stats_print(fl.g, stderr);
	xr_fl_ingress_free(fl.g);
}

static const xr_service_module mods[] = {
	{ XR_FL_SERVICE, xr_fl_service_add, XR_FL_APP, xr_fl_app_check },
	XR_ECHO_MODULE_INIT,
};

static const struct option options[] = {
	{ "rules", required_argument, NULL, 'r' },
	{ "window", required_argument, NULL, 'w' },
	{ "stats", no_argument, NULL, 's' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	static const xr_main_program program = {
		.name = "fundload",
		.about = "INPUT (none or -: stdin): a JSON load a line; a "
		    "decision a line on stdout.\n--rules R           "
		    "baseline or experiment (overrides apps.fundload.rules)\n"
		    "--window N          loads between read and written, "
		    "1..1024 (default 1024)\n--stats             one line "
		    "of counters on stderr at the end\nexit status 65: some "
		    "input lines were invalid\n\nfundload --from-bootstrap "
		    "[--rules R] [--window N] [--batch N] [--stats] INPUT "
		    "OUTPUT\n    in a web process group: the supervisor's "
		    "workers, keys on fd 3\n    (docs/fundload.md, \"In a "
		    "web process group\")",
		.mods = mods,
		.n_mods = sizeof(mods) / sizeof(mods[0]),
		.cleanup = cleanup,
		.ingress = ingress,
		.options = options,
		.option = option,
		.usage = "\n    [--rules R] [--window N] [--stats] [INPUT]",
		.configure = configure,
		.filter = 1,
	};

	if (argc > 1 && strcmp(argv[1], "--from-bootstrap") == 0)
		return xr_fl_web_main(argc - 1, argv + 1);
	return xr_main_run(argc, argv, &program);
}
