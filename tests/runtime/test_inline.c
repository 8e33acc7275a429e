/*
 * tests/runtime/test_inline.c — the transport service and the inline
 * lifecycle: IPC-INT-01..04, 08..12, PROC-INT-01..03, 05..07, and a server
 * killed mid-call.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "echo.h"
#include "echo/v1/echo.xr.h"
#include "helper_rt.h"
#include "log.h"
#include "rx.h"
#include "summary.h"

#define SAY "echo.v1.Echo/Say"

static const char *yaml_memory =
    "runtime:\n"
    "  platform:\n"
    "    process_groups:\n"
    "      - name: execution\n"
    "        services: [echo.v1.Echo]\n";

static const char *yaml_tcp =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "    process_groups:\n"
    "      - name: execution\n"
    "        services: [echo.v1.Echo]\n";

/* tcp_local with lifecycle.graceful_timeout_seconds: 1 */
static const char *yaml_tcp_g1 =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "    lifecycle:\n"
    "      graceful_timeout_seconds: 1\n"
    "    process_groups:\n"
    "      - name: execution\n"
    "        services: [echo.v1.Echo]\n";

/* Stop (asserts a clean stop) and free. */
static void
rt_down(rt_ctx *r)
{
	xr_diag d = { 0 };

	assert_int_equal(xr_lifecycle_stop(r->lc, &d), XR_OK);
	rt_free(r);
}

/* Number of socket fds this process holds. */
static int
count_sockets(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		char path[300], target[64];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strncmp(target, "socket:", 7) == 0;
		}
	}
	closedir(dir);
	return n;
}

/* A Say as the parity test compares them. */
static void
say(xr_channel *ch, const char *text, uint32_t delay, uint32_t fail,
    const char *method, uint32_t timeout_ms, rt_result *out)
{
	rt_say(ch, method, text, delay, fail, timeout_ms, out);
}

/* IPC-INT-01 + IPC-INT-09: no execution_ipc section -> memory: calls run
 * in-process, no socket is opened; the transport service is the bound
 * object the application resolves. */
static void
test_ipc_int_01_09_memory_no_socket(void **state)
{
	rt_ctx rt;
	xr_channel *ch, *ch2;
	rt_result r;
	int err, before;

	(void)state;
	before = count_sockets();
	rt_up(&rt, yaml_memory);
	assert_non_null(xr_lifecycle_transport(rt.lc));
	assert_int_equal(xr_transport_profile(xr_lifecycle_transport(rt.lc)),
	    XR_TRANSPORT_MEMORY);
	assert_null(xr_transport_server(xr_lifecycle_transport(rt.lc)));
	assert_int_equal(xr_transport_port(xr_lifecycle_transport(rt.lc)), 0);
	assert_non_null(ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err));
	assert_non_null(ch2 = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", "k", 1, &err));
	assert_ptr_equal(ch, ch2);
	say(ch, "in-process", 0, 0, "echo.v1.Echo/Say", 1000, &r);
	assert_int_equal(r.code, XR_STATUS_OK);
	assert_string_equal(r.text, "in-process");
	assert_int_equal(count_sockets(), before);
	rt_down(&rt);
}

/* IPC-INT-02 + IPC-INT-04 + IPC-INT-10: transport tcp_local selects the
 * signed loopback path and comes up through the lifecycle's defaults (only
 * the transport key is set; nothing wired by hand). */
static void
test_ipc_int_02_04_10_tcp_local_defaults(void **state)
{
	rt_ctx rt;
	xr_transport_svc *t;
	xr_server_stats st;
	xr_channel *ch;
	rt_result r;
	int err, before;

	(void)state;
	before = count_sockets();
	rt_up(&rt, yaml_tcp);
	assert_non_null(t = xr_lifecycle_transport(rt.lc));
	assert_int_equal(xr_transport_profile(t), XR_TRANSPORT_TCP_LOCAL);
	assert_non_null(xr_transport_server(t));
	assert_int_not_equal(xr_transport_port(t), 0);
	/* listener + the ingress connection, both ends */
	assert_true(count_sockets() >= before + 3);
	assert_non_null(ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err));
	say(ch, "over tcp", 0, 0, "echo.v1.Echo/Say", 1000, &r);
	assert_int_equal(r.code, XR_STATUS_OK);
	xr_server_stats_get(xr_transport_server(t), &st);
	/* signed frames: HELLO + this request were verified by the pipeline */
	assert_int_equal(st.frames_accepted, 2);
	assert_int_equal(st.calls_ok, 1);
	rt_down(&rt);
}

/* Many calls in flight over tcp_local: 17,000 calls, 64 at a time, go out
 * and come back in BATCH frames while both sides' sequence numbers cross
 * the varint sizes (127/128, 16383/16384; the endpoint sizes a batched
 * answer once and adjusts for the sequence's varint). Every call OK, every
 * frame accepted, nothing rejected. */
#define LONG_CALLS 17000
#define LONG_INFLIGHT 64

struct long_run {
	xr_channel *ch;
	int started, ok, failed;
};

static void long_start(struct long_run *l);

static void
long_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct long_run *l = arg;

	if (st->code == XR_STATUS_OK && len > 0 && resp != NULL)
		l->ok++;
	else
		l->failed++;
	if (l->started < LONG_CALLS)
		long_start(l);
}

static void
long_start(struct long_run *l)
{
	static const uint8_t say[] = { 0x0a, 0x04, 'l', 'o', 'n', 'g' };

	l->started++;
	xr_call_start(l->ch, "echo.v1.Echo/Say", say, sizeof(say), 10000,
	    long_done, l);
}

static void
test_long_run_batched(void **state)
{
	struct long_run l = { 0 };
	xr_server_stats st;
	rt_ctx rt;
	int err;

	(void)state;
	rt_up(&rt, yaml_tcp);
	assert_non_null(l.ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL,
	    0, &err));
	for (int i = 0; i < LONG_INFLIGHT; i++)
		long_start(&l);
	for (int ms = 0; ms < 60000 && l.ok + l.failed < LONG_CALLS; ms += 10)
		rt_run_for(rt.base, 10);
	assert_int_equal(l.failed, 0);
	assert_int_equal(l.ok, LONG_CALLS);
	xr_server_stats_get(xr_transport_server(xr_lifecycle_transport(rt.lc)),
	    &st);
	assert_int_equal(st.calls_ok, LONG_CALLS);
	for (int i = 0; i < XR_REJECT_COUNT; i++)
		assert_int_equal(st.rejects[i], 0);
	/* accepted: the HELLO, every request, and the BATCH frames that
	 * carried them, many per BATCH */
	assert_true(st.frames_accepted > LONG_CALLS + 1);
	assert_true(st.frames_accepted - LONG_CALLS - 1 < LONG_CALLS / 4);
	rt_down(&rt);
}

/* IPC-INT-03: the summary reports the active profile, deterministically. */
static void
test_ipc_int_03_summary_profile(void **state)
{
	xr_config a, b;
	xr_diag d = { 0 };
	char *ja, *ja2, *jb;

	(void)state;
	assert_int_equal(xr_config_load_string(yaml_memory,
	    strlen(yaml_memory), &a, &d), XR_OK);
	assert_int_equal(xr_config_load_string(yaml_tcp, strlen(yaml_tcp), &b,
	    &d), XR_OK);
	assert_int_equal(xr_summary_json(&a, &ja), XR_OK);
	assert_int_equal(xr_summary_json(&a, &ja2), XR_OK);
	assert_int_equal(xr_summary_json(&b, &jb), XR_OK);
	assert_string_equal(ja, ja2);
	assert_non_null(strstr(ja, "\"transport\": \"memory\""));
	assert_non_null(strstr(jb, "\"transport\": \"tcp_local\""));
	free(ja);
	free(ja2);
	free(jb);
	xr_config_free(&a);
	xr_config_free(&b);
}

/* IPC-INT-11: channels for tcp_local are produced by the transport
 * service: a second one from xr_transport_channel works the same. */
static void
test_ipc_int_11_channels_from_service(void **state)
{
	rt_ctx rt;
	xr_channel *ch;
	xr_diag d = { 0 };
	rt_result r;

	(void)state;
	rt_up(&rt, yaml_tcp);
	assert_non_null(ch = xr_transport_channel(xr_lifecycle_transport(rt.lc),
	    0, &d));
	assert_int_equal(xr_channel_wait_ready(ch, 2000), XR_OK);
	say(ch, "second", 0, 0, "echo.v1.Echo/Say", 1000, &r);
	assert_int_equal(r.code, XR_STATUS_OK);
	xr_channel_free(ch);
	rt_down(&rt);
}

/* IPC-INT-12: the same calls give identical statuses, messages and
 * response bytes in memory and tcp_local. */
static void
test_ipc_int_12_parity(void **state)
{
	static const struct {
		const char *text, *method;
		uint32_t delay, fail, timeout;
	} calls[] = {
		{ "plain", "echo.v1.Echo/Say", 0, 0, 1000 },
		{ "", "echo.v1.Echo/Say", 0, 0, 1000 },
		{ "later", "echo.v1.Echo/Say", 30, 0, 1000 },
		{ "fail-3", "echo.v1.Echo/Say", 0, 3, 1000 },
		{ "fail-9", "echo.v1.Echo/Say", 0, 9, 1000 },
		{ "fail-99", "echo.v1.Echo/Say", 0, 99, 1000 },
		{ "late", "echo.v1.Echo/Say", 2000, 0, 100 },
		{ "nope", "echo.v1.Nope/Say", 0, 0, 1000 },
		{ "bad", "not-a-method", 0, 0, 1000 },
	};
	enum { N = sizeof(calls) / sizeof(calls[0]) };
	static rt_result res[2][N];
	const char *yamls[2] = { yaml_memory, yaml_tcp };

	(void)state;
	for (int p = 0; p < 2; p++) {
		rt_ctx rt;
		xr_channel *ch;
		int err;

		rt_up(&rt, yamls[p]);
		ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err);
		for (int i = 0; i < N; i++)
			say(ch, calls[i].text, calls[i].delay, calls[i].fail,
			    calls[i].method, calls[i].timeout, &res[p][i]);
		rt_down(&rt);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(res[0][i].code, res[1][i].code);
		assert_string_equal(res[0][i].message, res[1][i].message);
		assert_int_equal(res[0][i].resp_len != 0, res[1][i].resp_len != 0);
		if (res[0][i].code == XR_STATUS_OK) {
			/* the text; the pids are the same process here */
			assert_string_equal(res[0][i].text, res[1][i].text);
			assert_string_equal(res[0][i].text, calls[i].text);
		}
	}
	assert_int_equal(res[0][3].code, 3);
	assert_int_equal(res[0][6].code, XR_STATUS_DEADLINE_EXCEEDED);
	assert_int_equal(res[0][7].code, XR_STATUS_UNIMPLEMENTED);
	assert_int_equal(res[0][8].code, XR_STATUS_INVALID_ARGUMENT);
}

/* PROC-INT-01: start order is config -> registries -> runtime services ->
 * workers -> ingress -> ready, driven through the public API (PROC-INT-05). */
static void
test_proc_int_01_05_start_order(void **state)
{
	rt_ctx rt;

	(void)state;
	rt_up(&rt, yaml_tcp);
	assert_string_equal(rt.ev.phases,
	    "config,registries,runtime_services,workers,ingress,ready,");
	assert_int_equal(xr_lifecycle_status(rt.lc), XR_LC_READY);
	{
		xr_diag d = { 0 };

		assert_int_equal(xr_lifecycle_stop(rt.lc, &d), XR_OK);
	}
	assert_int_equal(xr_lifecycle_status(rt.lc), XR_LC_STOPPED);
	rt_down(&rt);
}

/* PROC-INT-02 / PROC-INT-07: before ready no ingress call is accepted: the
 * pick fails at once with lifecycle-not-ready; after stop too. */
static void
test_proc_int_02_07_not_ready(void **state)
{
	struct event_base *base = event_base_new();
	xr_config cfg;
	xr_lifecycle_opts o = { 0 };
	xr_lifecycle *lc;
	xr_diag d = { 0 };
	int err = 0;

	(void)state;
	assert_int_equal(xr_config_load_string(yaml_tcp, strlen(yaml_tcp),
	    &cfg, &d), XR_OK);
	o.cfg = &cfg;
	o.mods = rt_mods;
	o.n_mods = RT_NMODS;
	assert_non_null(lc = xr_lifecycle_new(base, &o, &d));
	assert_null(xr_lifecycle_pick(lc, "echo.v1.Echo", NULL, 0, &err));
	assert_int_equal(err, XR_ERR_LIFECYCLE_NOT_READY);
	assert_int_equal(xr_lifecycle_ready(lc, &d),
	    XR_ERR_LIFECYCLE_NOT_READY);
	assert_int_equal(xr_lifecycle_start(lc, &d), XR_OK);
	err = 0;
	assert_null(xr_lifecycle_pick(lc, "echo.v1.Echo", NULL, 0, &err));
	assert_int_equal(err, XR_ERR_LIFECYCLE_NOT_READY);
	assert_int_equal(xr_err_category(err), XR_CAT_LIFECYCLE_NOT_READY);
	assert_int_equal(xr_lifecycle_ready(lc, &d), XR_OK);
	assert_non_null(xr_lifecycle_pick(lc, "echo.v1.Echo", NULL, 0, &err));
	assert_int_equal(xr_lifecycle_stop(lc, &d), XR_OK);
	assert_null(xr_lifecycle_pick(lc, "echo.v1.Echo", NULL, 0, &err));
	assert_int_equal(err, XR_ERR_LIFECYCLE_NOT_READY);
	xr_lifecycle_free(lc);
	xr_config_free(&cfg);
	event_base_free(base);
}

/* PROC-INT-06: an unknown mode, or a service with no module, raises the
 * lifecycle-resolution error. */
static void
test_proc_int_06_resolution(void **state)
{
	static const char *yaml_unknown_svc =
	    "runtime:\n  platform:\n    process_groups:\n"
	    "      - name: execution\n        services: [nobody.v1.Home]\n";
	struct event_base *base = event_base_new();
	xr_config cfg;
	xr_lifecycle_opts o = { 0 };
	xr_diag d = { 0 };

	(void)state;
	assert_int_equal(xr_config_load_string(yaml_unknown_svc,
	    strlen(yaml_unknown_svc), &cfg, &d), XR_OK);
	o.cfg = &cfg;
	o.mods = rt_mods;
	o.n_mods = RT_NMODS;
	assert_null(xr_lifecycle_new(base, &o, &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	assert_non_null(strstr(d.reason, "nobody.v1.Home"));
	xr_config_free(&cfg);

	assert_int_equal(xr_config_load_string(yaml_memory,
	    strlen(yaml_memory), &cfg, &d), XR_OK);
	cfg.boot_mode = (xr_boot_mode)7;	/* no such mode */
	memset(&d, 0, sizeof(d));
	assert_null(xr_lifecycle_new(base, &o, &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	o.cfg = NULL;
	assert_null(xr_lifecycle_new(base, &o, &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	xr_config_free(&cfg);
	event_base_free(base);
}

/* A module that reads apps.probe: its check allows the key "greeting"
 * only; its add() records the section it was given. */
static char probe_seen[256];
static int probe_checks;

static int
probe_add(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	(void)reg;
	(void)d;
	if (ctx->app == NULL)
		snprintf(probe_seen, sizeof(probe_seen), "none");
	else
		snprintf(probe_seen, sizeof(probe_seen), "%s: %zu, greeting=%s",
		    ctx->app->name, ctx->app->n,
		    xr_app_get(ctx->app, "greeting"));
	return XR_OK;
}

static int
probe_check(const xr_app_section *sec, xr_diag *d)
{
	probe_checks++;
	for (size_t i = 0; sec != NULL && i < sec->n; i++)
		if (strcmp(sec->s[i].key, "greeting") != 0)
			return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
			    "apps.probe.%s: unknown key (allowed: greeting)",
			    sec->s[i].key);
	return XR_OK;
}

static const xr_service_module app_mods[] = {
	XR_ECHO_MODULE_INIT,
	{ "test.v1.AppProbe", probe_add, "probe", probe_check },
};

/* apps.NAME: a key the core cannot judge passes the config and fails the
 * module's check in xr_lifecycle_new (config_invalid, naming the key);
 * a good section reaches the module's add() (its own section only), and a
 * group with no services hosts every module of the table. */
static void
test_apps_section_checked_and_delivered(void **state)
{
	static const char *const bad =
	    "apps:\n  probe: {greeting: hi, bogus: 1}\n";
	static const char *const good =
	    "apps:\n  other: {greeting: not-mine}\n"
	    "  probe: {greeting: hi}\n";
	struct event_base *base = event_base_new();
	xr_lifecycle_opts o = { 0 };
	xr_lifecycle *lc;
	xr_config cfg;
	xr_channel *ch;
	rt_result r;
	xr_diag d = { 0 };
	int err;

	(void)state;
	o.mods = app_mods;
	o.n_mods = 2;
	o.cfg = &cfg;
	assert_int_equal(xr_config_load_string(bad, strlen(bad), &cfg, &d),
	    XR_OK);
	probe_checks = 0;
	assert_null(xr_lifecycle_new(base, &o, &d));
	assert_int_equal(d.code, XR_ERR_CONFIG_INVALID);
	assert_string_equal(d.reason,
	    "apps.probe.bogus: unknown key (allowed: greeting)");
	assert_int_equal(probe_checks, 1);
	xr_config_free(&cfg);

	/* no section: the check sees NULL, add() gets NULL */
	assert_int_equal(xr_config_load_string("", 0, &cfg, &d), XR_OK);
	assert_non_null(lc = xr_lifecycle_new(base, &o, &d));
	assert_int_equal(probe_checks, 2);
	assert_int_equal(xr_lifecycle_start(lc, &d), XR_OK);
	assert_string_equal(probe_seen, "none");
	xr_lifecycle_free(lc);
	xr_config_free(&cfg);

	/* the default group (no services) registers both modules */
	assert_int_equal(xr_config_load_string(good, strlen(good), &cfg, &d),
	    XR_OK);
	assert_int_equal(cfg.groups[0].n_services, 0);
	assert_non_null(lc = xr_lifecycle_new(base, &o, &d));
	assert_int_equal(xr_lifecycle_start(lc, &d), XR_OK);
	assert_int_equal(xr_lifecycle_ready(lc, &d), XR_OK);
	assert_string_equal(probe_seen, "probe: 1, greeting=hi");
	assert_non_null(ch = xr_lifecycle_pick(lc, "echo.v1.Echo", NULL, 0,
	    &err));
	say(ch, "all modules", 0, 0, SAY, 1000, &r);
	assert_int_equal(r.code, XR_STATUS_OK);
	assert_string_equal(r.text, "all modules");
	assert_int_equal(xr_lifecycle_stop(lc, &d), XR_OK);
	xr_lifecycle_free(lc);
	xr_config_free(&cfg);
	event_base_free(base);
}

/* test.v1.Held: echo.v1.Echo/Say answers "held N" from a state the
 * registry owns (echo_v1_Echo_MODULE_ADD_STATE); the frees are counted.
 * Hosted beside echo.v1.Echo it registers echo.v1.Echo/Say a second time:
 * refused, with the registry's reason. test.v1.Mute fails without one. */
struct held {
	unsigned calls;
};

static int held_made, held_freed;

static void *
held_new(void)
{
	held_made++;
	return calloc(1, sizeof(struct held));
}

static void
held_free(void *arg)
{
	held_freed++;
	free(arg);
}

static void
held_say(xr_call *call, const Echo__V1__SayRequest *req, void *arg)
{
	Echo__V1__SayResponse r = ECHO__V1__SAY_RESPONSE__INIT;
	struct held *h = arg;
	char text[32];

	(void)req;
	snprintf(text, sizeof(text), "held %u", ++h->calls);
	r.text = text;
	echo_v1_Echo_Say_reply(call, &r);
}

static const echo_v1_Echo_handlers held_handlers = { .Say = held_say };
echo_v1_Echo_MODULE_ADD_STATE(held_add, &held_handlers, held_new(), held_free)

static int
mute_add(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	(void)reg;
	(void)ctx;
	(void)d;
	return XR_ERR_NOMEM;
}

static const xr_service_module held_mods[] = {
	XR_ECHO_MODULE_INIT,
	{ "test.v1.Held", held_add, NULL, NULL },
	{ "test.v1.Mute", mute_add, NULL, NULL },
};

/* A lifecycle over held_mods with `services`; NULL if it does not start
 * (`d` says why). */
static xr_lifecycle *
held_up(struct event_base *base, const char *services, xr_config *cfg,
    xr_diag *d)
{
	xr_lifecycle_opts o = { 0 };
	xr_lifecycle *lc;
	char yaml[256];

	snprintf(yaml, sizeof(yaml), "runtime:\n  platform:\n"
	    "    process_groups:\n      - {name: a, services: [%s]}\n",
	    services);
	assert_int_equal(xr_config_load_string(yaml, strlen(yaml), cfg, d),
	    XR_OK);
	o.cfg = cfg;
	o.mods = held_mods;
	o.n_mods = sizeof(held_mods) / sizeof(held_mods[0]);
	assert_non_null(lc = xr_lifecycle_new(base, &o, d));
	if (xr_lifecycle_start(lc, d) == XR_OK)
		return lc;
	xr_lifecycle_free(lc);
	return NULL;
}

/* A module's refusal reaches the lifecycle's diagnostic with the module's
 * reason (or the code's text when it gives none); a module's state is the
 * registry's: freed exactly once, with the registry, whether the
 * registration was refused or served calls. */
static void
test_module_refusal_reason_and_state(void **state)
{
	struct event_base *base = event_base_new();
	xr_lifecycle *lc;
	xr_channel *ch;
	xr_config cfg;
	rt_result r;
	xr_diag d = { 0 };
	int err;

	(void)state;
	held_made = held_freed = 0;
	assert_null(held_up(base, "echo.v1.Echo, test.v1.Held", &cfg, &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	assert_string_equal(d.reason, "service \"test.v1.Held\": "
	    "registration failed: echo.v1.Echo/Say: registered before");
	/* refused, and freed with the registry (in xr_lifecycle_free) */
	assert_int_equal(held_made, 1);
	assert_int_equal(held_freed, 1);
	xr_config_free(&cfg);

	memset(&d, 0, sizeof(d));
	assert_null(held_up(base, "test.v1.Mute", &cfg, &d));
	assert_int_equal(d.code, XR_ERR_LIFECYCLE_RESOLUTION);
	assert_string_equal(d.reason, "service \"test.v1.Mute\": "
	    "registration failed: out of memory");
	xr_config_free(&cfg);

	held_made = held_freed = 0;
	assert_non_null(lc = held_up(base, "test.v1.Held", &cfg, &d));
	assert_int_equal(xr_lifecycle_ready(lc, &d), XR_OK);
	assert_non_null(ch = xr_lifecycle_pick(lc, "test.v1.Held", NULL, 0,
	    &err));
	for (int i = 1; i <= 2; i++) {
		char want[16];

		snprintf(want, sizeof(want), "held %d", i);
		assert_int_equal(rt_say(ch, SAY, "x", 0, 0, 2000, &r),
		    XR_STATUS_OK);
		assert_string_equal(r.text, want);
	}
	assert_int_equal(xr_lifecycle_stop(lc, &d), XR_OK);
	assert_int_equal(held_freed, 0);	/* the registry still lives */
	xr_lifecycle_free(lc);
	assert_int_equal(held_made, 1);
	assert_int_equal(held_freed, 1);
	xr_config_free(&cfg);
	event_base_free(base);
}

static void
start_say(xr_channel *ch, uint32_t delay, uint32_t timeout, rt_pending *p)
{
	rt_start_say(ch, SAY, delay, timeout, p);
}

/* PROC-INT-03: a graceful stop drains in-flight calls within the timeout,
 * in both inline profiles. */
static void
test_proc_int_03_graceful_stop_drains(void **state)
{
	const char *yamls[2] = { yaml_memory, yaml_tcp };

	(void)state;
	for (int i = 0; i < 2; i++) {
		rt_ctx rt;
		rt_pending p[3];
		xr_diag d = { 0 };
		xr_channel *ch;
		int err;

		rt_up(&rt, yamls[i]);
		ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err);
		for (int k = 0; k < 3; k++)
			start_say(ch, 200 + 50 * (uint32_t)k, 5000, &p[k]);
		/* let the requests reach the endpoint before the stop */
		rt_run_for(rt.base, 50);
		assert_int_equal(xr_lifecycle_stop(rt.lc, &d), XR_OK);
		for (int k = 0; k < 3; k++) {
			if (p[k].code != 0)
				fprintf(stderr, "profile %d call %d: %d\n", i, k, p[k].code);
			assert_int_equal(p[k].done, 1);
			assert_int_equal(p[k].code, XR_STATUS_OK);
		}
		xr_lifecycle_free(rt.lc);
		xr_config_free(&rt.cfg);
		event_base_free(rt.base);
	}
}

/* A stop whose in-flight calls outlive lifecycle.graceful_timeout_seconds
 * is reported as a stop timeout after that long, and every call still gets
 * a definite status. */
static void
test_stop_timeout_forced(void **state)
{
	rt_ctx rt;
	rt_pending p;
	xr_diag d = { 0 };
	xr_channel *ch;
	int err;

	uint64_t t0, took;

	(void)state;
	rt_up(&rt, yaml_tcp_g1);
	ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err);
	start_say(ch, 3000, 10000, &p);
	rt_run_for(rt.base, 50);
	t0 = xr_mono_ms();
	assert_int_equal(xr_lifecycle_stop(rt.lc, &d), XR_ERR_STOP_TIMEOUT);
	took = xr_mono_ms() - t0;
	assert_true(took >= 950 && took < 2500);
	assert_int_equal(xr_err_category(d.code), XR_CAT_STOP_TIMEOUT);
	assert_int_equal(p.done, 1);
	assert_int_equal(p.code, XR_STATUS_UNAVAILABLE);
	xr_lifecycle_free(rt.lc);
	xr_config_free(&rt.cfg);
	event_base_free(rt.base);
}

/* IPC-INT-08 / SEC-IPC-08: a full session at debug level with a canary
 * secret (kdf none: the key IS the canary): tampered and replayed traffic
 * included, no log line holds the canary raw, hex or base64, and nothing
 * even tried (no redaction marker). */
static char logbuf[1 << 16];

static void
capture(void *arg, xr_log_level lvl, const char *line)
{
	(void)arg;
	(void)lvl;
	strncat(logbuf, line, sizeof(logbuf) - strlen(logbuf) - 2);
	strcat(logbuf, "\n");
}

static void
test_ipc_int_08_sec_ipc_08_no_secret_in_logs(void **state)
{
	static const char *canary = "CANARY-0123456789-abcdef-XYZ-secret!";
	static const char *hex_lc = "43414e4152592d30313233";	/* "CANARY-0123" */
	static const char *hex_uc = "43414E4152592D30313233";
	static const char *b64 = "Q0FOQVJZLTAxMjM0NTY3ODktYWJjZGVm";
	char yaml[1024];
	rt_ctx rt;
	xr_channel *ch;
	rt_result r;
	int err;

	(void)state;
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n"
	    "      auth: {secret_mode: static, secret: \"%s\", kdf: none}\n"
	    "    process_groups:\n      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", canary);
	logbuf[0] = '\0';
	xr_log_set_level(XR_LOG_DEBUG);
	xr_log_set_sink(capture, NULL);
	rt_up(&rt, yaml);
	ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err);
	say(ch, canary, 0, 0, "echo.v1.Echo/Say", 1000, &r);
	assert_int_equal(r.code, XR_STATUS_OK);
	say(ch, "x", 0, 5, "echo.v1.Echo/Say", 1000, &r);
	assert_int_equal(r.code, 5);
	/* a peer with the wrong key: rejected and logged at debug */
	{
		xr_keyset ks;
		xr_channel_opts co = { 0 };
		xr_channel *bad;
		uint8_t other[32] = { 1 };

		xr_keys_derive(other, sizeof(other), XR_KDF_NONE, &ks);
		co.host = "127.0.0.1";
		co.port = xr_transport_port(xr_lifecycle_transport(rt.lc));
		bad = xr_channel_new_tcp(rt.base, &co, &ks, &err);
		assert_int_not_equal(xr_channel_wait_ready(bad, 2000), XR_OK);
		xr_channel_free(bad);
		xr_keyset_wipe(&ks);
	}
	rt_down(&rt);
	xr_log_set_sink(NULL, NULL);
	xr_log_set_level(XR_LOG_WARN);
	assert_true(strlen(logbuf) > 0);	/* debug lines were written */
	assert_non_null(strstr(logbuf, "bad_signature"));
	assert_null(strstr(logbuf, "CANARY"));
	assert_null(strstr(logbuf, hex_lc));
	assert_null(strstr(logbuf, hex_uc));
	assert_null(strstr(logbuf, b64));
	assert_null(strstr(logbuf, "[REDACTED]"));
}

/* A server killed mid-call: every pending call gets UNAVAILABLE at once,
 * long before its deadline. */
static void
test_server_killed_mid_call(void **state)
{
	const char *bin = getenv("XR_SERVER_BIN");
	char dir[] = "/tmp/xr-kill-XXXXXX", cfgp[300], secp[300], line[128];
	FILE *f, *out;
	int pipefd[2], port = 0, err;
	pid_t pid;
	struct event_base *base;
	xr_keyset ks;
	xr_channel_opts co = { 0 };
	xr_channel *ch;
	rt_pending p[5];
	uint64_t t0;
	static const char secret[] = "0123456789abcdef0123456789abcdef-kill";

	(void)state;
	assert_non_null(bin);
	assert_non_null(mkdtemp(dir));
	snprintf(secp, sizeof(secp), "%s/secret", dir);
	snprintf(cfgp, sizeof(cfgp), "%s/c.yaml", dir);
	assert_non_null(f = fopen(secp, "w"));
	fputs(secret, f);
	fclose(f);
	chmod(secp, 0600);
	assert_non_null(f = fopen(cfgp, "w"));
	fprintf(f, "runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n"
	    "      auth: {secret_mode: static, secret_file: %s, kdf: hkdf_sha256}\n",
	    secp);
	fclose(f);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(bin, bin, "--config", cfgp, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	assert_non_null(fgets(line, sizeof(line), out));
	assert_int_equal(sscanf(line, "listening %*s %d", &port), 1);

	base = event_base_new();
	assert_int_equal(xr_keys_derive((const uint8_t *)secret,
	    strlen(secret), XR_KDF_HKDF_SHA256, &ks), XR_OK);
	co.host = "127.0.0.1";
	co.port = (uint16_t)port;
	assert_non_null(ch = xr_channel_new_tcp(base, &co, &ks, &err));
	assert_int_equal(xr_channel_wait_ready(ch, 2000), XR_OK);
	for (int k = 0; k < 5; k++)
		start_say(ch, 3000, 8000, &p[k]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	usleep(100 * 1000);
	t0 = xr_mono_ms();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	while (xr_mono_ms() - t0 < 2000) {
		int all = 1;

		for (int k = 0; k < 5; k++)
			all &= p[k].done;
		if (all)
			break;
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	for (int k = 0; k < 5; k++) {
		assert_int_equal(p[k].done, 1);
		assert_int_equal(p[k].code, XR_STATUS_UNAVAILABLE);
	}
	assert_true(xr_mono_ms() - t0 < 1000);
	xr_channel_free(ch);
	xr_keyset_wipe(&ks);
	event_base_free(base);
	fclose(out);
	unlink(secp);
	unlink(cfgp);
	rmdir(dir);
}

/* 1,000 concurrent calls on one tcp_local channel (the client library
 * against the real endpoint) complete with matched responses. */
struct matched {
	int done, ok;
	char want[32];
};

static void
matched_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct matched *m = arg;
	Echo__V1__SayResponse *r;

	m->done = 1;
	if (st->code != XR_STATUS_OK)
		return;
	r = echo__v1__say_response__unpack(NULL, len, resp);
	m->ok = r != NULL && strcmp(r->text, m->want) == 0;
	if (r != NULL)
		echo__v1__say_response__free_unpacked(r, NULL);
}

static void
test_thousand_concurrent_calls_client(void **state)
{
	enum { N = 1000 };
	static struct matched m[N];
	rt_ctx rt;
	xr_channel *ch;
	int err, done = 0, ok = 0;
	uint64_t t0;

	(void)state;
	rt_up(&rt, yaml_tcp);
	ch = xr_lifecycle_pick(rt.lc, "echo.v1.Echo", NULL, 0, &err);
	for (int i = 0; i < N; i++) {
		Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
		uint8_t buf[64];
		size_t len;

		memset(&m[i], 0, sizeof(m[i]));
		snprintf(m[i].want, sizeof(m[i].want), "n%d", i);
		req.text = m[i].want;
		req.delay_ms = (uint32_t)(i % 3) * 10;	/* out of order */
		len = echo__v1__say_request__pack(&req, buf);
		xr_call_start(ch, "echo.v1.Echo/Say", buf, len, 10000,
		    matched_cb, &m[i]);
	}
	t0 = xr_mono_ms();
	while (done < N && xr_mono_ms() - t0 < 10000) {
		event_base_loop(rt.base, EVLOOP_ONCE);
		done = 0;
		for (int i = 0; i < N; i++)
			done += m[i].done;
	}
	for (int i = 0; i < N; i++)
		ok += m[i].ok;
	assert_int_equal(done, N);
	assert_int_equal(ok, N);
	rt_down(&rt);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipc_int_01_09_memory_no_socket),
		cmocka_unit_test(test_ipc_int_02_04_10_tcp_local_defaults),
		cmocka_unit_test(test_long_run_batched),
		cmocka_unit_test(test_ipc_int_03_summary_profile),
		cmocka_unit_test(test_ipc_int_11_channels_from_service),
		cmocka_unit_test(test_ipc_int_12_parity),
		cmocka_unit_test(test_proc_int_01_05_start_order),
		cmocka_unit_test(test_proc_int_02_07_not_ready),
		cmocka_unit_test(test_proc_int_06_resolution),
		cmocka_unit_test(test_apps_section_checked_and_delivered),
		cmocka_unit_test(test_module_refusal_reason_and_state),
		cmocka_unit_test(test_proc_int_03_graceful_stop_drains),
		cmocka_unit_test(test_stop_timeout_forced),
		cmocka_unit_test(test_ipc_int_08_sec_ipc_08_no_secret_in_logs),
		cmocka_unit_test(test_server_killed_mid_call),
		cmocka_unit_test(test_thousand_concurrent_calls_client),
	};

	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	if (getenv("XR_DEBUG") != NULL)
		xr_log_set_level(XR_LOG_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
