/*
 * tests/supervisor/test_child_boot.c — the worker side alone: this binary
 * is started as a worker by hand, with socketpairs the test owns, and fed
 * bundles directly (no supervisor in between).
 *
 * CHILD-BOOT-01  the registry is built from the bundle's service names
 * CHILD-BOOT-02  the worker comes up: READY{port} on the control channel,
 *                the port serves signed calls, STATS -> STATS_REPLY with
 *                the endpoint's exact counters, a command it does not act
 *                on (READY) is refused, STOP -> STOPPED -> exit 0
 * CHILD-BOOT-03  malformed bundles (garbage, truncated, oversized, unknown
 *                service, no key bundle, short key, non-loopback bind_host,
 *                limits out of the config table's ranges, bad version,
 *                apps settings over the config's bounds or refused by
 *                their module, none at all, two bundles) exit with the
 *                child-bootstrap status and one clear stderr line that
 *                holds no key bytes
 * plus: the apps sections of a bundle reach their module (ctx->app), a
 *       bundle naming no service hosts every module of the table, a
 *       module's refusal is reported with its reason, and a module's
 *       state is freed exactly once with the worker's registry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch.h"
#include "helper_sup.h"
#include "worker.h"
#include "worker_chan.h"

static xr_keyset ks;
static uint8_t sid[16];

static int
setup(void **state)
{
	(void)state;
	ts_keys(&ks, NULL);
	assert_int_equal(xr_random_bytes(sid, sizeof(sid)), XR_OK);
	return 0;
}

static void
no_secret_in(const char *text)
{
	for (int i = 0; i < XR_DIR_COUNT; i++)
		assert_false(ts_contains_secret((const uint8_t *)text,
		    strlen(text), ks.k[i].b, ks.k[i].len));
}

/* Start a worker with these datagrams; it must fail its bootstrap with the
 * child-bootstrap status and a diagnostic containing `want`. */
static void
expect_boot_fail(const uint8_t *const *dg, const size_t *lens, size_t n,
    const char *want)
{
	static const char prefix[] =
	    "execrpc-worker: child_bootstrap_failed (code -34): ";
	ts_child c;
	char err[4096];
	int st;

	ts_child_start(&c, dg, lens, n);
	st = ts_child_wait(&c, 20000, err, sizeof(err));
	if (st != (int)XR_CAT_CHILD_BOOTSTRAP_FAILED || strstr(err, want) == NULL)
		fail_msg("status %d, stderr: %s (want \"%s\")", st, err, want);
	assert_int_equal(strncmp(err, prefix, sizeof(prefix) - 1), 0);
	/* exactly one line */
	assert_non_null(strchr(err, '\n'));
	assert_int_equal(strchr(err, '\n')[1], '\0');
	no_secret_in(err);
}

static void
expect_bundle_fail(ts_mutate_fn m, const char *want)
{
	size_t len;
	uint8_t *b = ts_bundle(&ks, sid, "echo.v1.Echo", m, &len);
	const uint8_t *dg[1] = { b };

	expect_boot_fail(dg, &len, 1, want);
	free(b);
}

/* ---- CHILD-BOOT-01/02 ---- */

static uint16_t
wait_ready(xr_wchan *ch)
{
	Execrpc__V1__Command *c = NULL;
	struct pollfd p = { ch->fd, POLLIN, 0 };
	uint16_t port;

	assert_int_equal(poll(&p, 1, 20000), 1);
	assert_int_equal(xr_wchan_recv(ch, &c), XR_OK);
	assert_int_equal(c->type, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY);
	assert_true(c->port > 0 && c->port <= 65535);
	port = (uint16_t)c->port;
	execrpc__v1__command__free_unpacked(c, NULL);
	return port;
}

static void
send_stop(xr_wchan *ch)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;

	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
	c.graceful_timeout_ms = 5000;
	c.drain_inflight = 1;
	assert_int_equal(xr_wchan_send(ch, &c), XR_OK);
}

/* STATS{request_id} -> STATS_REPLY{request_id, the worker's counters} */
static Execrpc__V1__Command *
ask_stats(xr_wchan *ch, uint64_t id)
{
	Execrpc__V1__Command q = EXECRPC__V1__COMMAND__INIT, *c = NULL;
	struct pollfd p = { ch->fd, POLLIN, 0 };

	q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS;
	q.request_id = id;
	assert_int_equal(xr_wchan_send(ch, &q), XR_OK);
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(xr_wchan_recv(ch, &c), XR_OK);
	assert_int_equal(c->type,
	    EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS_REPLY);
	assert_int_equal(c->request_id, id);
	assert_non_null(c->status);
	return c;
}

static void
test_child_boot_01_02_ready_serves_stops(void **state)
{
	size_t len;
	uint8_t *b = ts_bundle(&ks, sid, "echo.v1.Echo", NULL, &len);
	const uint8_t *dg[1] = { b };
	Execrpc__V1__Command *c = NULL;
	xr_auth *a = xr_auth_new(&ks), *other;
	xr_keyset wrong;
	xr_wchan ch, forged;
	ts_child child;
	struct pollfd p;
	struct stat st;
	char path[64], text[64], err[1024];
	uint64_t pid = 0;
	uint16_t port;

	(void)state;
	assert_non_null(a);
	ts_child_start(&child, dg, &len, 1);
	free(b);
	assert_int_equal(xr_wchan_init(&ch, child.ctl, a, sid, 30), XR_OK);
	port = wait_ready(&ch);

	/* CHILD-BOOT-02: the endpoint serves signed calls with the keys */
	assert_int_equal(ts_say(port, &ks, "hello", 0, text, sizeof(text),
	    &pid), XR_STATUS_OK);
	assert_string_equal(text, "hello");
	assert_int_equal((pid_t)pid, child.pid);
	/* the bootstrap socket was read once and closed (fd 3 may have been
	 * reused since: look for the socket itself); control stays open */
	assert_false(ts_has_socket(child.pid, child.boot_ino));
	snprintf(path, sizeof(path), "/proc/%d/fd/4", (int)child.pid);
	assert_int_equal(lstat(path, &st), 0);

	/* a control frame signed with another key is dropped: still serving */
	ts_keys(&wrong, NULL);
	assert_non_null(other = xr_auth_new(&wrong));
	assert_int_equal(xr_wchan_init(&forged, child.ctl, other, sid, 30),
	    XR_OK);
	forged.sess.send_seq = 100;
	send_stop(&forged);
	usleep(100 * 1000);
	assert_int_equal(ts_say(port, &ks, "still", 0, text, sizeof(text),
	    NULL), XR_STATUS_OK);

	/* STATS: the endpoint's counters, exactly (2 calls; the forged
	 * control frame is the channel's business, not the endpoint's) */
	c = ask_stats(&ch, 77);
	assert_int_equal(c->status->pid, child.pid);
	assert_int_equal(c->status->port, port);
	assert_int_equal(c->status->calls, 2);
	assert_int_equal(c->status->calls_failed, 0);
	assert_int_equal(c->status->n_rejects_by_kind, XR_REJECT_COUNT);
	for (size_t i = 0; i < XR_REJECT_COUNT; i++)
		assert_int_equal(c->status->rejects_by_kind[i], 0);
	assert_int_equal(c->status->stats,
	    EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED);
	execrpc__v1__command__free_unpacked(c, NULL);
	/* a command the worker does not act on (it sends READY, it does not
	 * take one) is refused: no answer, still serving */
	{
		Execrpc__V1__Command q = EXECRPC__V1__COMMAND__INIT;

		q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_READY;
		q.port = 1;
		assert_int_equal(xr_wchan_send(&ch, &q), XR_OK);
	}
	c = ask_stats(&ch, 78);	/* the next datagram is this answer */
	assert_int_equal(c->status->calls, 2);
	execrpc__v1__command__free_unpacked(c, NULL);

	/* STOP -> STOPPED -> exit 0 */
	send_stop(&ch);
	p.fd = child.ctl;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(xr_wchan_recv(&ch, &c), XR_OK);
	assert_int_equal(c->type, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED);
	execrpc__v1__command__free_unpacked(c, NULL);
	assert_int_equal(ts_child_wait(&child, 10000, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	xr_wchan_fini(&forged);
	xr_wchan_fini(&ch);
	xr_auth_free(other);
	xr_auth_free(a);
	xr_keyset_wipe(&wrong);
}

/* CHILD-BOOT-01: only the bundle's services are registered. */
static void
test_child_boot_01_registry_from_names(void **state)
{
	size_t len;
	uint8_t *b = ts_bundle(&ks, sid, "test.v1.Empty", NULL, &len);
	const uint8_t *dg[1] = { b };
	Execrpc__V1__WorkerStatus *ws;
	xr_auth *a = xr_auth_new(&ks);
	xr_wchan ch;
	ts_child child;
	char err[1024];
	uint16_t port;
	uint64_t t0;
	int st;

	(void)state;
	ts_child_start(&child, dg, &len, 1);
	free(b);
	assert_int_equal(xr_wchan_init(&ch, child.ctl, a, sid, 30), XR_OK);
	port = wait_ready(&ch);
	/* echo was not named: not registered */
	assert_int_equal(ts_say(port, &ks, "x", 0, NULL, 0, NULL),
	    XR_STATUS_UNIMPLEMENTED);
	/* the built-in Endpoint/Stats is always there */
	ws = ts_stats(port, &ks);
	assert_int_equal(ws->pid, child.pid);
	execrpc__v1__worker_status__free_unpacked(ws, NULL);
	/* the supervisor goes away (control channel closes): exit promptly */
	xr_wchan_fini(&ch);
	t0 = xr_mono_ms();
	shutdown(child.ctl, SHUT_RDWR);
	st = ts_child_wait(&child, 5000, err, sizeof(err));
	assert_int_equal(st, 1);
	assert_true(xr_mono_ms() - t0 < 2000);
	xr_auth_free(a);
}

/* A module's state is the registry's (xr_registry_on_free(), through
 * echo_v1_Echo_MODULE_ADD_STATE): the worker frees it exactly once when it
 * frees its registry, after a STOP and when the supervisor goes away. */
static void
test_child_boot_module_state_freed_once(void **state)
{
	xr_auth *a = xr_auth_new(&ks);
	Execrpc__V1__Command *c = NULL;
	struct pollfd p;
	char text[64], err[1024];
	size_t len;

	(void)state;
	assert_non_null(a);
	for (int stop = 1; stop >= 0; stop--) {
		uint8_t *b = ts_bundle(&ks, sid, "test.v1.Owned", NULL, &len);
		const uint8_t *dg[1] = { b };
		ts_child child;
		xr_wchan ch;
		uint16_t port;

		ts_child_start(&child, dg, &len, 1);
		free(b);
		assert_int_equal(xr_wchan_init(&ch, child.ctl, a, sid, 30),
		    XR_OK);
		port = wait_ready(&ch);
		for (int i = 1; i <= 2; i++) {
			char want[16];

			snprintf(want, sizeof(want), "call %d", i);
			assert_int_equal(ts_say(port, &ks, "x", 0, text,
			    sizeof(text), NULL), XR_STATUS_OK);
			assert_string_equal(text, want);
		}
		if (stop) {
			/* STOP -> STOPPED -> exit 0 */
			send_stop(&ch);
			p.fd = child.ctl;
			p.events = POLLIN;
			assert_int_equal(poll(&p, 1, 10000), 1);
			assert_int_equal(xr_wchan_recv(&ch, &c), XR_OK);
			assert_int_equal(c->type,
			    EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED);
			execrpc__v1__command__free_unpacked(c, NULL);
		} else {
			/* the supervisor goes away: exit 1 */
			shutdown(child.ctl, SHUT_RDWR);
		}
		xr_wchan_fini(&ch);
		assert_int_equal(ts_child_wait(&child, 10000, err,
		    sizeof(err)), stop ? 0 : 1);
		assert_string_equal(err,
		    "test.v1.Owned: state freed after 2 calls\n");
	}
	xr_auth_free(a);
}

/* ---- CHILD-BOOT-03 ---- */

static void
test_child_boot_03_garbage(void **state)
{
	uint8_t g[200];
	const uint8_t *dg[1] = { g };
	size_t len = sizeof(g);

	(void)state;
	memset(g, 0xff, sizeof(g));
	expect_boot_fail(dg, &len, 1, "does not decode");
}

static void
test_child_boot_03_truncated(void **state)
{
	size_t len;
	uint8_t *b = ts_bundle(&ks, sid, "echo.v1.Echo", NULL, &len);
	const uint8_t *dg[1] = { b };

	(void)state;
	len -= 5;	/* inside the last field */
	expect_boot_fail(dg, &len, 1, "does not decode");
	free(b);
}

static void
test_child_boot_03_oversized(void **state)
{
	size_t len = XR_BUNDLE_MAX + 100;
	uint8_t *b = calloc(1, len);
	const uint8_t *dg[1] = { b };

	(void)state;
	assert_non_null(b);
	expect_boot_fail(dg, &len, 1, "exceeds the 131072-byte limit");
	free(b);
}

static void
test_child_boot_03_two_bundles(void **state)
{
	size_t len[2];
	uint8_t *b1 = ts_bundle(&ks, sid, "echo.v1.Echo", NULL, &len[0]);
	uint8_t *b2 = ts_bundle(&ks, sid, "echo.v1.Echo", NULL, &len[1]);
	const uint8_t *dg[2] = { b1, b2 };

	(void)state;
	expect_boot_fail(dg, len, 2, "second bundle");
	free(b1);
	free(b2);
}

static void
test_child_boot_03_no_bundle(void **state)
{
	(void)state;
	expect_boot_fail(NULL, NULL, 0, "closed without a bundle");
}

static void
m_unknown_service(Execrpc__V1__BootstrapBundle *b)
{
	static char *svc[] = { "nope.v1.Missing" };

	b->services = svc;
}

/* a name with a newline, a quote and a byte over 0x7f: the diagnostic
 * stays one line (xr_printable) */
static void
m_unprintable_service(Execrpc__V1__BootstrapBundle *b)
{
	static char *svc[] = { "x\ny\"z\xff" };

	b->services = svc;
}

static void
m_no_services(Execrpc__V1__BootstrapBundle *b)
{
	b->n_services = 0;
}

/* A bundle whose apps settings are (app, key, value-of-vlen-'v'), n of
 * them; value NULL: vlen bytes of 'v'. */
static Execrpc__V1__AppSetting app_set[40];
static Execrpc__V1__AppSetting *app_ptr[40];
static char app_names[40][16], app_keys[40][16], app_long[400];

static void
set_apps(Execrpc__V1__BootstrapBundle *b, size_t n, const char *app,
    const char *key, const char *value)
{
	for (size_t i = 0; i < n; i++) {
		execrpc__v1__app_setting__init(&app_set[i]);
		snprintf(app_names[i], sizeof(app_names[i]), "%s", app);
		snprintf(app_keys[i], sizeof(app_keys[i]), "%s", key);
		app_set[i].app = app_names[i];
		app_set[i].key = app_keys[i];
		app_set[i].value = (char *)(uintptr_t)value;
		app_ptr[i] = &app_set[i];
	}
	b->n_apps = n;
	b->apps = app_ptr;
}

static void
m_app_long_value(Execrpc__V1__BootstrapBundle *b)
{
	memset(app_long, 'v', 256);
	app_long[256] = '\0';
	set_apps(b, 1, "probe", "k", app_long);
}

static void
m_app_long_key(Execrpc__V1__BootstrapBundle *b)
{
	set_apps(b, 1, "probe", "k", "v");
	memset(app_long, 'k', 128);
	app_long[128] = '\0';
	app_set[0].key = app_long;
}

static void
m_app_no_key(Execrpc__V1__BootstrapBundle *b)
{
	set_apps(b, 1, "probe", "", "v");
}

static void
m_app_bad_name(Execrpc__V1__BootstrapBundle *b)
{
	set_apps(b, 1, "a/b", "k", "v");
}

static void
m_app_too_many_settings(Execrpc__V1__BootstrapBundle *b)
{
	set_apps(b, XR_CFG_MAX_APP_SETTINGS + 1, "probe", "k", "v");
}

static void
m_app_too_many_sections(Execrpc__V1__BootstrapBundle *b)
{
	set_apps(b, XR_CFG_MAX_APPS + 1, "x", "k", "v");
	for (size_t i = 0; i < XR_CFG_MAX_APPS + 1; i++)
		snprintf(app_names[i], sizeof(app_names[i]), "app%zu", i);
}

/* test.v1.Apps refuses a key named "bad" */
static void
m_app_refused(Execrpc__V1__BootstrapBundle *b)
{
	static char *svc[] = { "test.v1.Apps" };

	b->services = svc;
	set_apps(b, 1, "probe", "bad", "1");
}

static void
m_no_keys(Execrpc__V1__BootstrapBundle *b)
{
	b->keys = NULL;
}

static void
m_short_key(Execrpc__V1__BootstrapBundle *b)
{
	b->keys->control.len = 16;
}

static void
m_bad_kdf(Execrpc__V1__BootstrapBundle *b)
{
	b->keys->kdf = (Execrpc__V1__Kdf)7;
}

static void
m_remote_host(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime->bind_host = "10.1.2.3";
}

static void
m_no_runtime(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime = NULL;
}

static void
m_bad_limit(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime->ttl_seconds = 0;
}

static void
m_big_payload(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime->max_payload_bytes = 67108865;
}

static void
m_small_cache(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime->nonce_cache_size = 15;
}

static void
m_big_port(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime->bind_port = 65536;
}

static void
m_long_grace(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime->graceful_timeout_ms = 3600001;
}

static void
m_bad_version(Execrpc__V1__BootstrapBundle *b)
{
	b->version = 2;
}

static void
m_no_sid(Execrpc__V1__BootstrapBundle *b)
{
	b->control_session_id.len = 0;
}

/* A bundle's apps settings reach the module that reads them, in order,
 * and only its own section. */
static void
m_apps_round_trip(Execrpc__V1__BootstrapBundle *b)
{
	static char *svc[] = { "test.v1.Apps" };
	static const char *const rows[][3] = {
		{ "other", "rules", "experiment" },
		{ "probe", "a", "1" },
		{ "probe", "b.c", "x y" },
		{ "other", "z", "" },
		{ "probe", "l[0]", "~" },
		{ "probe", "l[1].k", "" },
	};

	b->services = svc;
	set_apps(b, 6, "", "", NULL);
	for (size_t i = 0; i < 6; i++) {
		snprintf(app_names[i], sizeof(app_names[i]), "%s", rows[i][0]);
		snprintf(app_keys[i], sizeof(app_keys[i]), "%s", rows[i][1]);
		app_set[i].value = (char *)(uintptr_t)rows[i][2];
	}
}

static void
test_child_boot_apps_reach_module(void **state)
{
	size_t len;
	uint8_t *b = ts_bundle(&ks, sid, "x", m_apps_round_trip, &len);
	const uint8_t *dg[1] = { b };
	xr_auth *a = xr_auth_new(&ks);
	xr_wchan ch;
	ts_child child;
	char text[TS_APPS_SEEN_MAX], err[1024];
	uint16_t port;

	(void)state;
	ts_child_start(&child, dg, &len, 1);
	free(b);
	assert_int_equal(xr_wchan_init(&ch, child.ctl, a, sid, 30), XR_OK);
	port = wait_ready(&ch);
	assert_int_equal(ts_say_to(port, &ks, "test.v1.Apps/Say", "", 0, text,
	    sizeof(text), NULL), XR_STATUS_OK);
	assert_string_equal(text, "a=1;b.c=x y;l[0]=~;l[1].k=;");
	xr_wchan_fini(&ch);
	shutdown(child.ctl, SHUT_RDWR);
	assert_int_equal(ts_child_wait(&child, 5000, err, sizeof(err)), 1);
	xr_auth_free(a);
}

static void
test_child_boot_03_bad_modules(void **state)
{
	(void)state;
	expect_bundle_fail(m_unknown_service,
	    "unknown service \"nope.v1.Missing\"");
	expect_bundle_fail(m_unprintable_service,
	    "unknown service \"x\\x0ay\\\"z\\xff\"\n");
	/* no service named: every module of the table — here echo.v1.Echo,
	 * then test.v1.Probe, which registers echo.v1.Echo again: the
	 * module's own reason */
	expect_bundle_fail(m_no_services,
	    "registering service \"test.v1.Probe\" failed: "
	    "echo.v1.Echo/Say: registered before\n");
}

/* The apps settings of a bundle are held to the config's bounds, and each
 * module of the bundle checks its section. */
static void
test_child_boot_03_bad_apps(void **state)
{
	(void)state;
	expect_bundle_fail(m_app_long_value,
	    "apps[0]: value of 256 bytes (allowed: 0..255)");
	expect_bundle_fail(m_app_long_key,
	    "apps[0]: key of 128 bytes (allowed: 1..127)");
	expect_bundle_fail(m_app_no_key,
	    "apps[0]: key of 0 bytes (allowed: 1..127)");
	expect_bundle_fail(m_app_bad_name,
	    "apps[0]: bad section name \"a/b\"");
	expect_bundle_fail(m_app_too_many_settings,
	    "apps[32]: more than 32 settings in apps.probe");
	expect_bundle_fail(m_app_too_many_sections,
	    "apps[8]: more than 8 sections");
	expect_bundle_fail(m_app_refused, "service \"test.v1.Apps\": "
	    "apps.probe.bad: unknown key (allowed: any other)");
}

static void
test_child_boot_03_bad_keys(void **state)
{
	(void)state;
	expect_bundle_fail(m_no_keys, "no key bundle");
	expect_bundle_fail(m_short_key, "control key not 32..64 bytes");
	expect_bundle_fail(m_bad_kdf, "unknown kdf");
	expect_bundle_fail(m_no_sid, "control session id");
}

static void
test_child_boot_03_bad_runtime(void **state)
{
	(void)state;
	expect_bundle_fail(m_remote_host,
	    "runtime.bind_host \"10.1.2.3\" is not a loopback address");
	expect_bundle_fail(m_no_runtime, "no runtime slice");
	expect_bundle_fail(m_bad_limit, "runtime slice: runtime.platform."
	    "execution_ipc.auth.ttl_seconds: 0 out of range (allowed: "
	    "1..3600)");
	expect_bundle_fail(m_big_payload, "runtime slice: runtime.platform."
	    "execution_ipc.max_payload_bytes: 67108865 out of range (allowed: "
	    "1..67108864)");
	expect_bundle_fail(m_small_cache, "runtime slice: runtime.platform."
	    "execution_ipc.auth.nonce_cache_size: 15 out of range (allowed: "
	    "16..16777216)");
	expect_bundle_fail(m_big_port, "runtime slice: runtime.platform."
	    "execution_ipc.bind_port: 65536 out of range (allowed: 0..65535)");
	expect_bundle_fail(m_long_grace, "runtime slice: runtime.platform."
	    "lifecycle.graceful_timeout_seconds: 3600001 ms out of range "
	    "(allowed: 0..3600 s)");
	expect_bundle_fail(m_bad_version, "unsupported bundle version 2");
}

/* The worker's argv: both fds, decimal, >= 3, distinct — else refused. */
static void
test_worker_args(void **state)
{
	char *ok[] = { "w", "--worker", "--bootstrap-fd", "3", "--control-fd",
	    "4" };
	char *swapped[] = { "w", "--control-fd", "7", "--bootstrap-fd", "5" };
	char *missing[] = { "w", "--worker", "--bootstrap-fd", "3" };
	char *junk[] = { "w", "--bootstrap-fd", "3x", "--control-fd", "4" };
	char *low[] = { "w", "--bootstrap-fd", "2", "--control-fd", "4" };
	char *same[] = { "w", "--bootstrap-fd", "4", "--control-fd", "4" };
	int b = 0, c = 0;

	(void)state;
	assert_int_equal(xr_worker_args(6, ok, &b, &c), XR_OK);
	assert_int_equal(b, 3);
	assert_int_equal(c, 4);
	assert_int_equal(xr_worker_args(5, swapped, &b, &c), XR_OK);
	assert_int_equal(b, 5);
	assert_int_equal(c, 7);
	assert_int_equal(xr_worker_args(4, missing, &b, &c), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_worker_args(5, junk, &b, &c), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_worker_args(5, low, &b, &c), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_worker_args(5, same, &b, &c), XR_ERR_INVALID_ARG);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_args),
		cmocka_unit_test(test_child_boot_01_02_ready_serves_stops),
		cmocka_unit_test(test_child_boot_01_registry_from_names),
		cmocka_unit_test(test_child_boot_module_state_freed_once),
		cmocka_unit_test(test_child_boot_03_garbage),
		cmocka_unit_test(test_child_boot_03_truncated),
		cmocka_unit_test(test_child_boot_03_oversized),
		cmocka_unit_test(test_child_boot_03_two_bundles),
		cmocka_unit_test(test_child_boot_03_no_bundle),
		cmocka_unit_test(test_child_boot_03_bad_modules),
		cmocka_unit_test(test_child_boot_03_bad_keys),
		cmocka_unit_test(test_child_boot_03_bad_runtime),
		cmocka_unit_test(test_child_boot_03_bad_apps),
		cmocka_unit_test(test_child_boot_apps_reach_module),
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, setup, NULL);
}
