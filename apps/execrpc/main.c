/*
 * apps/execrpc/main.c — the execrpc command-line tool.
 *
 * Commands are rows of one table (cmds[] below): the words that name the
 * command, the usage of its arguments, the bounds on the argument count and
 * a handler that gets the arguments after the command words. To add a
 * command (status, stats, drain, stop, worker, ...) add a handler and a row.
 *
 * Exit statuses: 0 on success; for an execrpc error, its category number
 * (xr_err_category(), docs/design.md section 8: 2 for config_invalid, ...);
 * EXIT_USAGE (64, as sysexits.h EX_USAGE) for an unknown command or wrong
 * arguments; --help (-h) prints the usage on stdout and exits 0. An execrpc error is one line on stderr,
 * "execrpc: NAME (code N): reason" (xr_diag_print()).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "config.h"
#include "ctl_client.h"
#include "err.h"
#include "proc.h"
#include "summary.h"

#define EXIT_USAGE 64

struct cmd {
	const char *words;	/* the command words, one space apart */
	const char *args;	/* usage of the arguments, for the help text */
	int min_args;
	int max_args;		/* -1: no upper bound (handler checks) */
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int cmd_config_check(int, char **);
static int cmd_config_summary(int, char **);
static int cmd_config_keys(int, char **);
static int cmd_status(int, char **);
static int cmd_stats(int, char **);
static int cmd_drain(int, char **);
static int cmd_stop(int, char **);

static const struct cmd cmds[] = {
	{ "config check", "FILE", 1, 1, cmd_config_check,
	    "validate a config file; prints ok" },
	{ "config summary", "FILE", 1, 1, cmd_config_summary,
	    "print the runtime summary of a config file as JSON" },
	{ "config keys", "", 0, 0, cmd_config_keys,
	    "print every config key with its type, range and default" },
	{ "status", "--control PATH", 2, 2, cmd_status,
	    "workers of a running supervisor as JSON" },
	{ "stats", "--control PATH", 2, 2, cmd_stats,
	    "workers with call and reject counters as JSON" },
	{ "drain", "--control PATH", 2, 2, cmd_drain,
	    "workers stop accepting, finish in-flight calls, stay up" },
	{ "stop", "[--graceful-timeout S] [--drain|--no-drain] --control PATH", 2, 5,
	    cmd_stop, "graceful stop of every group; prints the stop events" },
	{ "call", XR_CLI_CALL_ARGS, 1, -1, xr_cli_call,
	    "call a method on a ready worker (call --help)" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: execrpc COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCMDS; i++) {
		char syn[64];

		snprintf(syn, sizeof(syn), "%s %s", cmds[i].words,
		    cmds[i].args);
		fprintf(f, "  %-28s %s\n", syn, cmds[i].help);
	}
	fprintf(f, "\nexit status: 0 ok, 1..11 the error category "
	    "(2 config_invalid), %d usage\n", EXIT_USAGE);
}

static int
cmd_config_check(int argc, char **argv)
{
	xr_config cfg;
	xr_diag d;
	int r;

	(void)argc;
	if ((r = xr_config_load_file(argv[0], &cfg, &d)) != XR_OK)
		return xr_diag_print(stderr, "execrpc", r, &d);
	/* the secret as a start checks it: same function, same reason */
	r = xr_config_secret_check(&cfg, &d);
	xr_config_free(&cfg);
	if (r != XR_OK)
		return xr_diag_print(stderr, "execrpc", r, &d);
	printf("ok\n");
	return 0;
}

static int
cmd_config_summary(int argc, char **argv)
{
	xr_config cfg;
	xr_diag d;
	char *s = NULL;
	int r;

	(void)argc;
	if ((r = xr_config_load_file(argv[0], &cfg, &d)) != XR_OK)
		return xr_diag_print(stderr, "execrpc", r, &d);
	r = xr_summary_json(&cfg, &s);
	xr_config_free(&cfg);
	if (r != XR_OK)
		return xr_diag_print(stderr, "execrpc", r, NULL);
	fputs(s, stdout);
	free(s);
	return 0;
}

/*
 * One line per row of the config table (core/cfgtab.h), in table order:
 * "PATH\tTYPE\tRANGE\tDEFAULT". TYPE is integer, boolean, enum, host,
 * path, name, secret, list or mapping; RANGE is "MIN..MAX" (integers),
 * the names (booleans, enums: "a, b"), or a length with its unit ("1..63
 * bytes", "0..16 services"); DEFAULT is a YAML value that gives the default,
 * "required" for a key that must be given, "-" for none. docs/config.md
 * states the same columns (tests/cli/test_cli_config_doc.sh compares them).
 */
static int
cmd_config_keys(int argc, char **argv)
{
	static const struct {
		const char *type, *unit;
	} kinds[] = {
		[XR_CT_UINT] = { "integer", NULL },
		[XR_CT_BOOL] = { "boolean", NULL },
		[XR_CT_ENUM] = { "enum", NULL },
		[XR_CT_HOST] = { "host", "bytes" },
		[XR_CT_PATH] = { "path", "bytes" },
		[XR_CT_NAME] = { "name", "bytes" },
		[XR_CT_SECRET] = { "secret", "bytes" },
		[XR_CT_SERVICES] = { "list", "services" },
		[XR_CT_GROUPS] = { "list", "groups" },
		[XR_CT_APPS] = { "mapping", "sections" },
		[XR_CT_COMMAND] = { "list", "arguments" },
	};

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < XR_CK__COUNT; i++) {
		const xr_cfg_row *r = &xr_cfg_rows[i];
		const char *type = "unknown", *unit = NULL;

		if ((size_t)r->type < sizeof(kinds) / sizeof(kinds[0]) &&
		    kinds[r->type].type != NULL) {
			type = kinds[r->type].type;
			unit = kinds[r->type].unit;
		}
		printf("%s\t%s\t", r->path, type);
		if (r->type == XR_CT_BOOL)
			printf("true, false");
		for (size_t j = 0; r->type == XR_CT_ENUM && r->names[j] != NULL;
		    j++)
			printf("%s%s", j > 0 ? ", " : "", r->names[j]);
		if (r->type != XR_CT_BOOL && r->type != XR_CT_ENUM)
			printf("%llu..%llu%s%s", (unsigned long long)r->min,
			    (unsigned long long)r->max, unit != NULL ? " " : "",
			    unit != NULL ? unit : "");
		putchar('\t');
		switch (r->type) {
		case XR_CT_UINT:
			printf("%llu\n", (unsigned long long)r->def);
			break;
		case XR_CT_BOOL:
			printf("%s\n", r->def ? "true" : "false");
			break;
		case XR_CT_ENUM:
			printf("%s\n", xr_cfg_enum_name((xr_cfg_key)i,
			    (unsigned)r->def));
			break;
		case XR_CT_SERVICES:
			printf("[]\n");	/* every service of the program */
			break;
		case XR_CT_GROUPS:
			printf("[{name: %s, workers: %d}]\n",
			    XR_CFG_DEFAULT_GROUP, XR_CFG_DEFAULT_GROUP_WORKERS);
			break;
		case XR_CT_APPS:
			printf("{}\n");
			break;
		case XR_CT_COMMAND:
			printf("-\n");	/* required with role: ingress */
			break;
		default:
			printf("%s\n", r->def_s != NULL && r->def_s[0] != '\0' ?
			    r->def_s : (r->flags & XR_CF_REQUIRED) ? "required" :
			    "-");
			break;
		}
	}
	/* a failed write (closed stdout) is the system error's category */
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 :
	    (int)xr_err_category(XR_ERR_SYSTEM);
}

/*
 * The lifecycle commands: one execrpc.v1.Command to the supervisor's control
 * socket (supervisor/ctl_client.h), the reply printed as JSON with sorted keys.
 * A reply with an error (e.g. stop_timeout when a group had to be forced)
 * still prints its JSON, then exits with the error's category.
 */
static int
control_cmd(const char *words, Execrpc__V1__CommandType type, int argc,
    char **argv)
{
	Execrpc__V1__Command cmd = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__Reply *reply = NULL;
	const char *path = NULL;
	uint32_t wait_ms = 10000;
	xr_diag d = { 0 };
	char *json = NULL, *end;
	double secs;
	int r;

	cmd.type = type;
	for (int i = 0; i < argc; i++) {
		bool stop = type == EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;

		if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (stop && strcmp(argv[i], "--graceful-timeout") == 0 &&
		    i + 1 < argc) {
			secs = strtod(argv[++i], &end);
			if (*end != '\0' || !(secs > 0 && secs <= 3600))
				goto usage;
			cmd.graceful_timeout_ms = (uint32_t)(secs * 1000 + 0.5);
			if (cmd.graceful_timeout_ms == 0)
				cmd.graceful_timeout_ms = 1;
		} else if (stop && strcmp(argv[i], "--drain") == 0) {
			cmd.drain = EXECRPC__V1__DRAIN_POLICY__DRAIN_POLICY_DRAIN;
		} else if (stop && strcmp(argv[i], "--no-drain") == 0) {
			cmd.drain = EXECRPC__V1__DRAIN_POLICY__DRAIN_POLICY_NO_DRAIN;
		} else {
			goto usage;
		}
	}
	if (path == NULL)
		goto usage;
	if (type == EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP)
		/* 0 = the supervisor's configured timeout (at most 3600 s) */
		wait_ms = (cmd.graceful_timeout_ms != 0 ?
		    cmd.graceful_timeout_ms : 3600000) + 10000;
	if ((r = xr_ctl_client_call(path, &cmd, wait_ms, &reply, &d)) != XR_OK)
		return xr_diag_print(stderr, "execrpc", r, &d);
	if ((r = xr_ctl_client_reply_json(reply, &json)) != XR_OK) {
		execrpc__v1__reply__free_unpacked(reply, NULL);
		return xr_diag_print(stderr, "execrpc", r, NULL);
	}
	printf("%s\n", json);
	free(json);
	r = reply->error_code;
	if (r != XR_OK) {
		xr_diag_set(&d, r, "%s", reply->error_message);
		execrpc__v1__reply__free_unpacked(reply, NULL);
		return xr_diag_print(stderr, "execrpc", r, &d);
	}
	execrpc__v1__reply__free_unpacked(reply, NULL);
	return 0;
 usage:
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].words, words) == 0)
			fprintf(stderr, "usage: execrpc %s %s\n", words,
			    cmds[i].args);
	return EXIT_USAGE;
}

static int
cmd_status(int argc, char **argv)
{
	return control_cmd("status", EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS,
	    argc, argv);
}

static int
cmd_stats(int argc, char **argv)
{
	return control_cmd("stats", EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS,
	    argc, argv);
}

static int
cmd_drain(int argc, char **argv)
{
	return control_cmd("drain", EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN,
	    argc, argv);
}

static int
cmd_stop(int argc, char **argv)
{
	return control_cmd("stop", EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP,
	    argc, argv);
}

/* Number of leading argv words that match `words`, or 0 if they do not. */
static int
cmd_match(const char *words, int argc, char **argv)
{
	char buf[64];
	char *w, *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", words);
	for (w = strtok_r(buf, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save), n++)
		if (n >= argc || strcmp(argv[n], w) != 0)
			return 0;
	return n;
}

int
main(int argc, char **argv)
{
	xr_diag d = { 0 };
	int nw, nargs, r;

	/* a config may hold an inline secret: no core dumps, not dumpable */
	if ((r = xr_proc_harden(0, &d)) != XR_OK)
		return xr_diag_print(stderr, "execrpc", r, &d);
	for (size_t i = 0; i < NCMDS; i++) {
		const struct cmd *c = &cmds[i];

		if ((nw = cmd_match(c->words, argc - 1, argv + 1)) == 0)
			continue;
		nargs = argc - 1 - nw;
		if (nargs < c->min_args ||
		    (c->max_args >= 0 && nargs > c->max_args)) {
			fprintf(stderr, "usage: execrpc %s %s\n", c->words,
			    c->args);
			return EXIT_USAGE;
		}
		return c->fn(nargs, argv + 1 + nw);
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return EXIT_USAGE;
}
