/*
 * tests/runtime/xrmain_prog.c — a program built with xr_main_run()
 * (execrpc/main.h), driven by tests/runtime/xrmain.sh. It contains two
 * services: echo.v1.Echo and test.v1.Nop (registers nothing). Its cleanup
 * hook prints "xrmain_prog: cleanup pid PID" on stderr, so the test can
 * count the processes that ran it.
 *
 *   xrmain_prog call PORT SECRET_FILE TEXT
 *
 * is a client instead: one echo.v1.Echo/Say of TEXT to 127.0.0.1:PORT
 * (keys: HKDF-SHA256 of the secret file), printing "reply TEXT pid PID";
 * exit 0, or 1 with the status on stderr.
 *
 *   xrmain_prog ingress ARGS...
 *
 * is the same program with an ingress (xr_main_program.ingress), run on
 * ARGS (tests/runtime/xrmain_ingress.sh): per operand TEXT one
 * echo.v1.Echo/Say through the lifecycle, printing "said TEXT pid PID"
 * (round robin; "key=K": to the worker of the affinity key K); the
 * operand "stop" begins a stop (xr_lifecycle_stop_begin()), "exit=N"
 * returns N at once; then "ingress done argc N" and 0.
 *
 *   xrmain_prog filter [--workers N] ARGS...
 *
 * is the program as a filter (xr_main_program.filter, .options, .option,
 * .configure; tests/runtime/xrmain_filter.sh). --workers N (1..8, else the
 * usage error "--workers: 1..8") is set by its configure hook as the
 * worker count of the first process group, and that hook refuses a config
 * whose first group is named "refused". The operand "refused" is refused
 * by its option hook. Its ingress prints "workers N" (what
 * xr_lifecycle_workers() counts), then per operand: "say:TEXT" one Say,
 * printing "said TEXT pid PID"; "health": "health ok" (or the error) and
 * "waiting pid PID" (the first worker), then runs the lifecycle's event
 * base until xr_lifecycle_health() fails (at most 20 s), prints "health
 * NAME: WHY" and returns its category; "exit=N" returns N (0 too).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dispatch.h"
#include "echo.h"
#include "execrpc/client.h"
#include "execrpc/echo/v1/echo.pb.h"
#include "execrpc/main.h"
#include "keys.h"
#include "runtime.h"

static int
nop_add(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	(void)reg;
	(void)ctx;
	(void)d;
	return XR_OK;
}

static const xr_service_module mods[] = {
	XR_ECHO_MODULE_INIT,
	{ "test.v1.Nop", nop_add, NULL, NULL },
};

static void
cleanup(void)
{
	fprintf(stderr, "xrmain_prog: cleanup pid %d\n", (int)getpid());
}

static int
call(const char *port, const char *secret_file, const char *text)
{
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse resp = echo_v1_SayResponse_init_zero;
	xr_channel_opts co = { 0 };
	struct event_base *base;
	xr_status st = { 0 };
	xr_channel *ch;
	xr_keyset ks;
	xr_diag d = { 0 };
	uint8_t secret[4096];
	size_t len;
	int code, err;

	if (xr_keys_load_file(secret_file, secret, sizeof(secret), &len,
	    &d) != XR_OK ||
	    xr_keys_derive(secret, len, XR_KDF_HKDF_SHA256, &ks) != XR_OK) {
		fprintf(stderr, "xrmain_prog: call: %s\n", d.reason);
		return 1;
	}
	xr_wipe(secret, sizeof(secret));
	co.host = "127.0.0.1";
	co.port = (uint16_t)atoi(port);
	if ((base = event_base_new()) == NULL ||
	    (ch = xr_channel_new_tcp(base, &co, &ks, &err)) == NULL) {
		fprintf(stderr, "xrmain_prog: call: no channel\n");
		return 1;
	}
	xr_keyset_wipe(&ks);
	snprintf(req.text, sizeof(req.text), "%s", text);
	code = xr_call_sync(ch, "echo.v1.Echo/Say", echo_v1_SayRequest_fields,
	    &req, echo_v1_SayResponse_fields, &resp, 5000, &st);
	if (code == XR_STATUS_OK)
		printf("reply %s pid %llu\n", resp.text,
		    (unsigned long long)resp.worker_pid);
	else
		fprintf(stderr, "xrmain_prog: call: %s: %s\n",
		    xr_status_name(code), st.message);
	xr_channel_free(ch);
	event_base_free(base);
	return code == XR_STATUS_OK ? 0 : 1;
}

static int
ingress(struct xr_lifecycle *lc, int argc, char **argv)
{
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse resp = echo_v1_SayResponse_init_zero;
	xr_status st = { 0 };
	xr_channel *ch;
	const char *key;
	int i, err, code;

	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "exit=", 5) == 0)
			return atoi(argv[i] + 5);
		if (strcmp(argv[i], "stop") == 0) {
			(void)xr_lifecycle_stop_begin(lc);
			continue;
		}
		key = strncmp(argv[i], "key=", 4) == 0 ? argv[i] + 4 : NULL;
		if ((ch = xr_lifecycle_pick(lc, "echo.v1.Echo", key,
		    key != NULL ? strlen(key) : 0, &err)) == NULL) {
			printf("pick %s: %s\n", argv[i], xr_err_name(err));
			continue;
		}
		snprintf(req.text, sizeof(req.text), "%s", argv[i]);
		code = xr_call_sync(ch, "echo.v1.Echo/Say",
		    echo_v1_SayRequest_fields, &req, echo_v1_SayResponse_fields,
		    &resp, 5000, &st);
		if (code == XR_STATUS_OK)
			printf("said %s pid %llu\n", resp.text,
			    (unsigned long long)resp.worker_pid);
		else
			printf("say %s: %s: %s\n", argv[i], xr_status_name(code),
			    st.message);
	}
	printf("ingress done argc %d\n", argc);
	return 0;
}

/* ---------- the filter ---------- */

static int filter_workers;	/* --workers, or 0 */

static int
filter_option(int opt, const char *arg, xr_diag *d)
{
	if (opt == 'w' && ((filter_workers = atoi(arg)) < 1 ||
	    filter_workers > 8))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "--workers: 1..8");
	if (opt == 1 && strcmp(arg, "refused") == 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "%s: refused", arg);
	return XR_OK;
}

static int
filter_configure(xr_config *cfg, xr_diag *d)
{
	if (cfg->n_groups > 0 && strcmp(cfg->groups[0].name, "refused") == 0)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID, "runtime.platform."
		    "process_groups[0].name: refused by the program");
	if (filter_workers > 0 && cfg->n_groups > 0)
		cfg->groups[0].workers = (uint32_t)filter_workers;
	return XR_OK;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* "health": until the lifecycle's health fails, on its event base */
static int
filter_health(xr_lifecycle *lc)
{
	struct event_base *base = xr_lifecycle_base(lc);
	struct timeval tv = { 0, 50000 };
	xr_worker_info w;
	struct event *t;
	char why[256] = "";
	int r = xr_lifecycle_health(lc, why, sizeof(why));

	printf("health %s\n", r == XR_OK ? "ok" : xr_err_name(r));
	if (xr_lifecycle_workers(lc, &w, 1) > 0)
		printf("waiting pid %d\n", (int)w.pid);
	fflush(stdout);
	if ((t = event_new(base, -1, EV_PERSIST, tick, NULL)) == NULL ||
	    event_add(t, &tv) != 0)
		return 1;
	for (int i = 0; i < 400 && r == XR_OK; i++) {
		event_base_loop(base, EVLOOP_ONCE);
		r = xr_lifecycle_health(lc, why, sizeof(why));
	}
	event_free(t);
	printf("health %s: %s\n", xr_err_name(r), why);
	return r == XR_OK ? 1 : (int)xr_err_category(r);
}

static int
filter_ingress(xr_lifecycle *lc, int argc, char **argv)
{
	char *one[1];

	printf("workers %zu\n", xr_lifecycle_workers(lc, NULL, 0));
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "exit=", 5) == 0)
			return atoi(argv[i] + 5);
		if (strcmp(argv[i], "health") == 0)
			return filter_health(lc);
		if (strncmp(argv[i], "say:", 4) == 0) {
			one[0] = argv[i] + 4;
			(void)ingress(lc, 1, one);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const xr_main_program prog = {
		.about = "A test program: echo.v1.Echo and test.v1.Nop.",
		.mods = mods,
		.n_mods = sizeof(mods) / sizeof(mods[0]),
		.cleanup = cleanup,
	};

	static const xr_main_program with_ingress = {
		.mods = mods,
		.n_mods = sizeof(mods) / sizeof(mods[0]),
		.cleanup = cleanup,
		.ingress = ingress,
	};

	static const struct option filter_opts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	static const xr_main_program filter = {
		.mods = mods,
		.n_mods = sizeof(mods) / sizeof(mods[0]),
		.cleanup = cleanup,
		.ingress = filter_ingress,
		.options = filter_opts,
		.option = filter_option,
		.usage = " [--workers N] [ARG...]",
		.configure = filter_configure,
		.filter = 1,
	};

	if (argc == 5 && strcmp(argv[1], "call") == 0)
		return call(argv[2], argv[3], argv[4]);
	if (argc >= 2 && strcmp(argv[1], "ingress") == 0) {
		argv[1] = argv[0];
		return xr_main_run(argc - 1, argv + 1, &with_ingress);
	}
	if (argc >= 2 && strcmp(argv[1], "filter") == 0) {
		argv[1] = argv[0];
		return xr_main_run(argc - 1, argv + 1, &filter);
	}
	return xr_main_run(argc, argv, &prog);
}
