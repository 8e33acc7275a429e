/*
 * tests/core/test_config.c — core/config.c, core/cfgtab.c, core/cfgapps.c:
 * YAML parse, defaults, validation, the schema table (every row's range and
 * default), the apps.NAME sections (flattening, bounds), secret sources
 * (BOOT-CFG-01..05, SEC-IPC-07 config part, KEY-IPC-02, KEY-IPC-04).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "keys.h"

#define P_IPC "runtime.platform.execution_ipc"
#define P_AUTH P_IPC ".auth"

static const char canary[] = "CANARY-SECRET-0123456789abcdef-XYZ!!";

/* A process_supervisor config that names every key, most at their defaults
 * (the annotated one with all defaults: docs/execrpc.example.yaml). */
static const char design_example[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local          # memory | tcp_local\n"
    "      bind_host: 127.0.0.1\n"
    "      bind_port: 0\n"
    "      max_payload_bytes: 1048576\n"
    "      auth:\n"
    "        mode: hmac\n"
    "        secret_mode: generated      # generated | static\n"
    "        # secret_file: /etc/execrpc/secret   # static: >= 32 bytes, file mode 0600 or stricter\n"
    "        # secret: \"dev-only-inline-secret\"   # static, development only, >= 32 bytes\n"
    "        kdf: hkdf_sha256            # none | hkdf_sha256\n"
    "        ttl_seconds: 30\n"
    "        nonce_cache_size: 65536\n"
    "    bootstrap:\n"
    "      mode: process_supervisor      # inline | process_supervisor\n"
    "    lifecycle:\n"
    "      ready_timeout_seconds: 5\n"
    "      graceful_timeout_seconds: 10\n"
    "      drain_inflight: true\n"
    "    control:\n"
    "      socket: /run/execrpc/control.sock   # scripted lifecycle commands\n"
    "    process_groups:\n"
    "      - name: execution\n"
    "        workers: 2                  # with bootstrap.mode inline, the group's services run in-process\n"
    "        restart: on-failure         # never | on-failure\n"
    "        services: [fundload.v1.FundLoad]\n"
    "apps:\n"
    "  fundload:\n"
    "    rules: baseline                 # baseline | experiment\n";

/* ---- helpers ------------------------------------------------------------ */

/* The defaults, spelled out independently of xr_config_defaults(). */
static void
expected_defaults(xr_config *e)
{
	memset(e, 0, sizeof(*e));
	e->transport = XR_TRANSPORT_MEMORY;
	strcpy(e->bind_host, "127.0.0.1");
	e->bind_port = 0;
	e->max_payload_bytes = 1048576;
	e->auth_mode = XR_AUTH_HMAC;
	e->secret_mode = XR_SECRET_GENERATED;
	e->kdf = XR_KDF_HKDF_SHA256;
	e->ttl_seconds = 30;
	e->nonce_cache_size = 65536;
	e->boot_mode = XR_BOOT_INLINE;
	e->ready_timeout_seconds = 5;
	e->graceful_timeout_seconds = 10;
	e->drain_inflight = true;
	strcpy(e->control_socket, "/run/execrpc/control.sock");
	e->n_groups = 1;
	strcpy(e->groups[0].name, "execution");
	e->groups[0].workers = 2;
	e->groups[0].restart = XR_RESTART_ON_FAILURE;
	e->groups[0].n_services = 0;	/* every service of the program */
	e->n_apps = 0;
}

/* Add apps.NAME.KEY = VALUE to `e` (the section made on first use). */
static void
expect_app(xr_config *e, const char *name, const char *key,
    const char *value)
{
	xr_app_section *sec = NULL;

	for (size_t i = 0; i < e->n_apps; i++)
		if (strcmp(e->apps[i].name, name) == 0)
			sec = &e->apps[i];
	if (sec == NULL) {
		assert_true(e->n_apps < XR_CFG_MAX_APPS);
		sec = &e->apps[e->n_apps++];
		strcpy(sec->name, name);
	}
	if (key == NULL)
		return;
	assert_true(sec->n < XR_CFG_MAX_APP_SETTINGS);
	strcpy(sec->s[sec->n].key, key);
	strcpy(sec->s[sec->n].value, value);
	sec->n++;
}

/* What design_example gives. */
static void
expected_design(xr_config *e)
{
	expected_defaults(e);
	e->transport = XR_TRANSPORT_TCP_LOCAL;
	e->boot_mode = XR_BOOT_PROCESS_SUPERVISOR;
	e->groups[0].n_services = 1;
	strcpy(e->groups[0].services[0], "fundload.v1.FundLoad");
	expect_app(e, "fundload", "rules", "baseline");
}

/* Every field of `g` equals `e`. */
static void
assert_cfg_eq(const xr_config *e, const xr_config *g)
{
	assert_int_equal(g->transport, e->transport);
	assert_string_equal(g->bind_host, e->bind_host);
	assert_int_equal(g->bind_port, e->bind_port);
	assert_int_equal(g->max_payload_bytes, e->max_payload_bytes);
	assert_int_equal(g->auth_mode, e->auth_mode);
	assert_int_equal(g->secret_mode, e->secret_mode);
	assert_string_equal(g->secret_file, e->secret_file);
	assert_int_equal(g->secret_inline_len, e->secret_inline_len);
	if (e->secret_inline == NULL)
		assert_null(g->secret_inline);
	else
		assert_memory_equal(g->secret_inline, e->secret_inline,
		    e->secret_inline_len);
	assert_int_equal(g->kdf, e->kdf);
	assert_int_equal(g->ttl_seconds, e->ttl_seconds);
	assert_int_equal(g->nonce_cache_size, e->nonce_cache_size);
	assert_int_equal(g->boot_mode, e->boot_mode);
	assert_int_equal(g->ready_timeout_seconds, e->ready_timeout_seconds);
	assert_int_equal(g->graceful_timeout_seconds,
	    e->graceful_timeout_seconds);
	assert_int_equal(g->drain_inflight, e->drain_inflight);
	assert_string_equal(g->control_socket, e->control_socket);
	assert_int_equal(g->n_groups, e->n_groups);
	for (size_t i = 0; i < e->n_groups; i++) {
		const xr_group_cfg *eg = &e->groups[i], *gg = &g->groups[i];

		assert_string_equal(gg->name, eg->name);
		assert_int_equal(gg->workers, eg->workers);
		assert_int_equal(gg->restart, eg->restart);
		assert_int_equal(gg->n_services, eg->n_services);
		for (size_t j = 0; j < eg->n_services; j++)
			assert_string_equal(gg->services[j], eg->services[j]);
	}
	assert_int_equal(g->n_apps, e->n_apps);
	for (size_t i = 0; i < e->n_apps; i++) {
		const xr_app_section *ea = &e->apps[i], *ga = &g->apps[i];

		assert_string_equal(ga->name, ea->name);
		assert_int_equal(ga->n, ea->n);
		for (size_t j = 0; j < ea->n; j++) {
			assert_string_equal(ga->s[j].key, ea->s[j].key);
			assert_string_equal(ga->s[j].value, ea->s[j].value);
		}
	}
}

static int
load(const char *yaml, xr_config *cfg, xr_diag *d)
{
	return xr_config_load_string(yaml, strlen(yaml), cfg, d);
}

/* `yaml` loads; the caller frees `cfg`. */
static void
expect_ok(const char *yaml, xr_config *cfg)
{
	xr_diag d;
	int r = load(yaml, cfg, &d);

	if (r != XR_OK)
		fail_msg("expected ok for:\n%s\ngot %d: %s", yaml, r,
		    d.reason);
}

/*
 * `yaml` fails with exactly `code`, the diag carries it and every needle,
 * and the config is reset to the defaults with no secret held.
 */
static void
expect_err(const char *yaml, int code, const char *n1, const char *n2)
{
	xr_config cfg, def;
	xr_diag d;
	int r = load(yaml, &cfg, &d);

	if (r != code)
		fail_msg("expected %d for:\n%s\ngot %d: %s", code, yaml, r,
		    d.reason);
	assert_int_equal(d.code, code);
	assert_true(d.reason[0] != '\0');
	assert_null(strchr(d.reason, '\n'));
	if (n1 != NULL && strstr(d.reason, n1) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", d.reason, n1);
	if (n2 != NULL && strstr(d.reason, n2) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", d.reason, n2);
	xr_config_defaults(&def);
	assert_null(cfg.secret_inline);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
	xr_config_free(&cfg);
}

/* No 8-byte run of the canary appears in `s`. */
static void
assert_no_canary(const char *s)
{
	size_t n = strlen(canary);

	for (size_t i = 0; i + 8 <= n; i++)
		if (memmem(s, strlen(s), canary + i, 8) != NULL)
			fail_msg("\"%s\" holds canary bytes at %zu", s, i);
}

static char tmpdir[64];

static int
setup_tmp(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/xr-test-config-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write `len` bytes to tmpdir/name with `mode`; returns the path (static). */
static const char *
write_file(const char *name, const void *buf, size_t len, mode_t mode)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* ---- BOOT-CFG ----------------------------------------------------------- */

/* BOOT-CFG-01: an unsupported bootstrap.mode is rejected. */
static void
test_BOOT_CFG_01_unsupported_bootstrap_mode(void **state)
{
	xr_config cfg;
	xr_diag d;

	(void)state;
	assert_int_equal(load("runtime:\n  platform:\n    bootstrap:\n"
	    "      mode: forked\n", &cfg, &d), XR_ERR_CONFIG_INVALID);
	assert_int_equal(d.code, XR_ERR_CONFIG_INVALID);
	assert_string_equal(d.reason, "runtime.platform.bootstrap.mode: "
	    "unsupported value \"forked\" (allowed: inline, "
	    "process_supervisor)");
	expect_err("runtime: {platform: {bootstrap: {mode: Inline}}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.bootstrap.mode",
	    "inline, process_supervisor");
	expect_err("runtime: {platform: {bootstrap: {mode: \"\"}}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.bootstrap.mode",
	    "inline, process_supervisor");
	expect_err("runtime: {platform: {bootstrap: {mode: [inline]}}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.bootstrap.mode",
	    "inline, process_supervisor");
	expect_err("runtime: {platform: {bootstrap: {mode: }}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.bootstrap.mode",
	    "inline, process_supervisor");
}

/* BOOT-CFG-02: an invalid auth.secret_mode is rejected. */
static void
test_BOOT_CFG_02_invalid_secret_mode(void **state)
{
	(void)state;
	expect_err("runtime:\n  platform:\n    execution_ipc:\n      auth:\n"
	    "        secret_mode: ephemeral\n", XR_ERR_CONFIG_INVALID,
	    P_AUTH ".secret_mode: unsupported value",
	    "(allowed: generated, static)");
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{secret_mode: 1}}}}", XR_ERR_CONFIG_INVALID,
	    P_AUTH ".secret_mode", "generated, static");
}

/* BOOT-CFG-03: an invalid auth.kdf is rejected. */
static void
test_BOOT_CFG_03_invalid_kdf(void **state)
{
	(void)state;
	expect_err("runtime:\n  platform:\n    execution_ipc:\n      auth:\n"
	    "        kdf: hkdf_sha512\n", XR_ERR_CONFIG_INVALID,
	    P_AUTH ".kdf: unsupported value", "(allowed: none, hkdf_sha256)");
	expect_err("runtime: {platform: {execution_ipc: {auth: {kdf: ~}}}}",
	    XR_ERR_CONFIG_INVALID, P_AUTH ".kdf", "none, hkdf_sha256");
}

/* BOOT-CFG-04: defaults are applied for empty, comment-only, null and
 * partial configs; every field is checked. */
static void
test_BOOT_CFG_04_defaults(void **state)
{
	static const char *const empties[] = {
		"", "\n", "# only a comment\n# and another\n", "{}", "~",
		"---\n", "---\n...\n", "null\n", "runtime:\n",
		"runtime:\n  platform:\n", "runtime: {platform: {}}\napps:\n",
		("runtime:\n  platform:\n    execution_ipc:\n      auth: {}\n"
		"    lifecycle: ~\n    control: {}\napps: {}\n"),
	};
	xr_config cfg, exp;
	xr_diag d;

	(void)state;
	expected_defaults(&exp);
	xr_config_defaults(&cfg);
	assert_cfg_eq(&exp, &cfg);
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		expect_ok(empties[i], &cfg);
		assert_cfg_eq(&exp, &cfg);
		xr_config_free(&cfg);
	}
	/* NULL input of length 0 is the empty file */
	assert_int_equal(xr_config_load_string(NULL, 0, &cfg, &d), XR_OK);
	assert_cfg_eq(&exp, &cfg);

	/* partial: only the named keys change */
	expect_ok("runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n      auth:\n        ttl_seconds: 7\n"
	    "    lifecycle:\n      drain_inflight: false\n", &cfg);
	exp.transport = XR_TRANSPORT_TCP_LOCAL;
	exp.ttl_seconds = 7;
	exp.drain_inflight = false;
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);

	/* an apps section is kept as written, whatever application it is for */
	expected_defaults(&exp);
	expect_ok("apps:\n  fundload:\n    rules: experiment\n", &cfg);
	expect_app(&exp, "fundload", "rules", "experiment");
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);
	expected_defaults(&exp);
	expect_ok("apps: {fundload: {}, other: ~}\n", &cfg);
	expect_app(&exp, "fundload", NULL, NULL);
	expect_app(&exp, "other", NULL, NULL);
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);

	/* a group with only the required keys gets workers 1, on-failure */
	expected_defaults(&exp);
	expect_ok("runtime:\n  platform:\n    process_groups:\n"
	    "      - name: g1\n        services: [a.B]\n", &cfg);
	strcpy(exp.groups[0].name, "g1");
	exp.groups[0].workers = 1;
	exp.groups[0].restart = XR_RESTART_ON_FAILURE;
	strcpy(exp.groups[0].services[0], "a.B");
	exp.groups[0].n_services = 1;
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);

	/* no services (absent, null or []): every service of the program */
	expected_defaults(&exp);
	strcpy(exp.groups[0].name, "g1");
	exp.groups[0].workers = 1;
	expect_ok("runtime:\n  platform:\n    process_groups:\n"
	    "      - name: g1\n", &cfg);
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);
	expect_ok("runtime: {platform: {process_groups: [{name: g1, "
	    "services: []}]}}", &cfg);
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);
	expect_ok("runtime: {platform: {process_groups: [{name: g1, "
	    "services: ~}]}}", &cfg);
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);
}

/* BOOT-CFG-05: process_supervisor requires transport tcp_local or
 * redis_streams. */
static void
test_BOOT_CFG_05_supervisor_requires_tcp_local(void **state)
{
	xr_config cfg;

	(void)state;
	expect_err("runtime:\n  platform:\n    bootstrap:\n"
	    "      mode: process_supervisor\n", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.bootstrap.mode",
	    "runtime.platform.execution_ipc.transport: tcp_local");
	expect_err("runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: memory\n    bootstrap:\n"
	    "      mode: process_supervisor\n", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.bootstrap.mode: process_supervisor requires "
	    "runtime.platform.execution_ipc.transport: tcp_local", "memory");
	expect_ok("runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n    bootstrap:\n"
	    "      mode: process_supervisor\n", &cfg);
	assert_int_equal(cfg.boot_mode, XR_BOOT_PROCESS_SUPERVISOR);
	assert_int_equal(cfg.transport, XR_TRANSPORT_TCP_LOCAL);
	xr_config_free(&cfg);
	/* redis_streams too: the workers read their group's streams */
	expect_ok("runtime: {platform: {execution_ipc: {transport: "
	    "redis_streams}, bootstrap: {mode: process_supervisor}}}", &cfg);
	assert_int_equal(cfg.boot_mode, XR_BOOT_PROCESS_SUPERVISOR);
	assert_int_equal(cfg.transport, XR_TRANSPORT_REDIS_STREAMS);
	xr_config_free(&cfg);
	expect_ok("runtime: {platform: {execution_ipc: {transport: tcp_local}, "
	    "bootstrap: {mode: inline}}}", &cfg);
	assert_int_equal(cfg.boot_mode, XR_BOOT_INLINE);
	xr_config_free(&cfg);
}

/* design_example parses to the values it shows. */
static void
test_design_example(void **state)
{
	xr_config cfg, exp;

	(void)state;
	expected_design(&exp);
	expect_ok(design_example, &cfg);
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);
}

/* A config that sets every key to a non-default value. */
static void
test_every_key(void **state)
{
	xr_config cfg, exp;

	(void)state;
	expect_ok("runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n      bind_host: \"::1\"\n"
	    "      bind_port: 7000\n      max_payload_bytes: 4096\n"
	    "      auth:\n        mode: hmac\n        secret_mode: static\n"
	    "        secret_file: /etc/execrpc/secret\n        kdf: none\n"
	    "        ttl_seconds: 60\n        nonce_cache_size: 1024\n"
	    "    bootstrap:\n      mode: process_supervisor\n"
	    "    lifecycle:\n      ready_timeout_seconds: 9\n"
	    "      graceful_timeout_seconds: 0\n      drain_inflight: false\n"
	    "    control:\n      socket: /tmp/x.sock\n"
	    "    process_groups:\n"
	    "      - name: a-1.x_y\n        workers: 64\n        restart: never\n"
	    "        services: [s1.S, s_2]\n"
	    "      - {name: b, services: [fundload.v1.FundLoad]}\n"
	    "apps:\n  fundload:\n    rules: experiment\n", &cfg);
	expected_defaults(&exp);
	exp.transport = XR_TRANSPORT_TCP_LOCAL;
	strcpy(exp.bind_host, "::1");
	exp.bind_port = 7000;
	exp.max_payload_bytes = 4096;
	exp.secret_mode = XR_SECRET_STATIC;
	strcpy(exp.secret_file, "/etc/execrpc/secret");
	exp.kdf = XR_KDF_NONE;
	exp.ttl_seconds = 60;
	exp.nonce_cache_size = 1024;
	exp.boot_mode = XR_BOOT_PROCESS_SUPERVISOR;
	exp.ready_timeout_seconds = 9;
	exp.graceful_timeout_seconds = 0;
	exp.drain_inflight = false;
	strcpy(exp.control_socket, "/tmp/x.sock");
	exp.n_groups = 2;
	strcpy(exp.groups[0].name, "a-1.x_y");
	exp.groups[0].workers = 64;
	exp.groups[0].restart = XR_RESTART_NEVER;
	exp.groups[0].n_services = 2;
	strcpy(exp.groups[0].services[0], "s1.S");
	strcpy(exp.groups[0].services[1], "s_2");
	strcpy(exp.groups[1].name, "b");
	exp.groups[1].workers = 1;
	exp.groups[1].restart = XR_RESTART_ON_FAILURE;
	exp.groups[1].n_services = 1;
	strcpy(exp.groups[1].services[0], "fundload.v1.FundLoad");
	expect_app(&exp, "fundload", "rules", "experiment");
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);
}

/* Unsupported values of the other enumerated keys. */
static void
test_unsupported_enums(void **state)
{
	(void)state;
	expect_err("runtime: {platform: {execution_ipc: {transport: tcp}}}",
	    XR_ERR_CONFIG_INVALID, P_IPC ".transport: unsupported value "
	    "\"tcp\"", "(allowed: memory, tcp_local, redis_streams)");
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{mode: none}}}}", XR_ERR_CONFIG_INVALID, P_AUTH ".mode",
	    "(allowed: hmac)");
	expect_err("runtime: {platform: {process_groups: [{name: g, "
	    "restart: always, services: [a]}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].restart: unsupported value "
	    "\"always\"", "(allowed: never, on-failure)");
}

/* role and command: an ingress group runs its command, hosts nothing,
 * needs the supervisor and an execution group beside it. */
static void
test_group_roles(void **state)
{
#define SUP "runtime: {platform: {execution_ipc: {transport: tcp_local}, " \
	"bootstrap: {mode: process_supervisor}, process_groups: ["
	xr_config cfg;
	xr_diag d;

	(void)state;
	assert_int_equal(load(SUP "{name: e, services: [a.B]}, {name: web, "
	    "role: ingress, workers: 3, command: [/usr/bin/web, --port, "
	    "\"8080\"]}]}}", &cfg, &d), XR_OK);
	assert_int_equal(cfg.groups[0].role, XR_ROLE_EXECUTION);
	assert_int_equal(cfg.groups[0].n_command, 0);
	assert_int_equal(cfg.groups[1].role, XR_ROLE_INGRESS);
	assert_int_equal(cfg.groups[1].workers, 3);
	assert_int_equal(cfg.groups[1].n_command, 3);
	assert_string_equal(cfg.groups[1].command[0], "/usr/bin/web");
	assert_string_equal(cfg.groups[1].command[2], "8080");
	xr_config_free(&cfg);
	expect_err(SUP "{name: e}, {name: w, role: ingress}]}}",
	    XR_ERR_CONFIG_INVALID, "process_groups[1].command: required with "
	    "role: ingress", NULL);
	expect_err(SUP "{name: e, command: [/bin/x]}]}}", XR_ERR_CONFIG_INVALID,
	    "process_groups[0].command: only for role: ingress", NULL);
	expect_err(SUP "{name: e}, {name: w, role: ingress, command: [/bin/x], "
	    "services: [a.B]}]}}", XR_ERR_CONFIG_INVALID,
	    "process_groups[1].services: an ingress group hosts no services",
	    NULL);
	expect_err(SUP "{name: w, role: ingress, command: [/bin/x]}]}}",
	    XR_ERR_CONFIG_INVALID, "no group with role: execution", NULL);
	expect_err(SUP "{name: e}, {name: w, role: ingress, command: [x]}]}}",
	    XR_ERR_CONFIG_INVALID, "process_groups[1].command[0]: must be an "
	    "absolute path", NULL);
	expect_err(SUP "{name: e}, {name: w, role: ingress, command: []}]}}",
	    XR_ERR_CONFIG_INVALID, "process_groups[1].command: expected a "
	    "non-empty list", NULL);
	expect_err(SUP "{name: e}, {name: w, role: ingress, command: /bin/x}]}}",
	    XR_ERR_CONFIG_INVALID, "process_groups[1].command: expected a "
	    "non-empty list", NULL);
	expect_err(SUP "{name: e}, {name: w, role: ingress, command: [/b, "
	    "[x]]}]}}", XR_ERR_CONFIG_INVALID,
	    "process_groups[1].command[1]: expected a string", NULL);
	expect_err(SUP "{name: e}, {name: w, role: ingress, command: [/b, 1, 2, "
	    "3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]}]}}",
	    XR_ERR_CONFIG_INVALID, "process_groups[1].command: too many "
	    "arguments (allowed: 1..16)", NULL);
	expect_err(SUP "{name: e, role: web}]}}", XR_ERR_CONFIG_INVALID,
	    "process_groups[0].role: unsupported value \"web\"",
	    "(allowed: execution, ingress)");
	expect_err("runtime: {platform: {process_groups: [{name: e}, {name: w, "
	    "role: ingress, command: [/bin/x]}]}}", XR_ERR_CONFIG_INVALID,
	    "process_groups[1].role: ingress requires "
	    "runtime.platform.bootstrap.mode: process_supervisor", NULL);
#undef SUP
}

/* execution_ipc.redis: a url resolves into host, port, db or unix_socket;
 * the server is named once; a url never carries credentials, and neither
 * the url nor password_file is ever echoed. */
static void
test_redis_keys(void **state)
{
	xr_config cfg;

	(void)state;
	expect_ok("runtime: {platform: {execution_ipc: {transport: "
	    "redis_streams, redis: {url: \"redis://r1.example:6380/3\"}}}}",
	    &cfg);
	assert_int_equal(cfg.transport, XR_TRANSPORT_REDIS_STREAMS);
	assert_string_equal(cfg.redis.host, "r1.example");
	assert_int_equal(cfg.redis.port, 6380);
	assert_int_equal(cfg.redis.db, 3);
	assert_string_equal(cfg.redis.stream_prefix, "execrpc");
	assert_int_equal(cfg.redis.claim_idle_ms, 30000);
	assert_int_equal(cfg.redis.max_stream_len, 100000);
	xr_config_free(&cfg);
	expect_ok("runtime: {platform: {execution_ipc: {redis: {url: "
	    "\"unix:///run/redis/r.sock\"}}}}", &cfg);
	assert_string_equal(cfg.redis.unix_socket, "/run/redis/r.sock");
	assert_string_equal(cfg.redis.host, "");
	xr_config_free(&cfg);
	expect_ok("runtime: {platform: {execution_ipc: {redis: {host: "
	    "10.1.2.3, port: 7000, db: 15, stream_prefix: app.x}}}}", &cfg);
	assert_string_equal(cfg.redis.host, "10.1.2.3");
	assert_int_equal(cfg.redis.port, 7000);
	xr_config_free(&cfg);
	expect_err("runtime: {platform: {execution_ipc: {redis: {url: "
	    "\"redis://:hunter2pw@h:1\"}}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".redis.url: credentials are not allowed", NULL);
	expect_err("runtime: {platform: {execution_ipc: {redis: {url: "
	    "\"http://hunter2pw\"}}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".redis.url: not a Redis url", NULL);
	expect_err("runtime: {platform: {execution_ipc: {redis: {url: "
	    "\"redis://h:0\"}}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".redis.url: not a Redis url", NULL);
	expect_err("runtime: {platform: {execution_ipc: {redis: {url: "
	    "\"redis://h/16\"}}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".redis.url: not a Redis url", NULL);
	expect_err("runtime: {platform: {execution_ipc: {redis: {host: h, "
	    "unix_socket: /s}}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".redis: name the server once", NULL);
	expect_err("runtime: {platform: {execution_ipc: {redis: {host: "
	    "\"a b\"}}}}", XR_ERR_CONFIG_INVALID, P_IPC ".redis.host: "
	    "invalid host", NULL);
	expect_err("runtime: {platform: {execution_ipc: {redis: {"
	    "stream_prefix: \"a:b\"}}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".redis.stream_prefix: invalid name", NULL);
	/* neither the url's nor the password file's text is ever echoed */
	{
		xr_diag d;
		const char *y = "runtime: {platform: {execution_ipc: {redis: "
		    "{url: \"redis://:hunter2pw@h\"}}}}";

		assert_int_equal(load(y, &cfg, &d), XR_ERR_CONFIG_INVALID);
		assert_null(strstr(d.reason, "hunter2pw"));
		y = "runtime: {platform: {execution_ipc: {redis: "
		    "{password_file: 7}}}}";
		expect_ok(y, &cfg);
		xr_config_free(&cfg);
	}
}

/* ---- SEC-IPC-07 (config part) ------------------------------------------- */

/* SEC-IPC-07: a non-loopback bind_host and an invalid port are refused. */
static void
test_SEC_IPC_07_bind_host_and_port(void **state)
{
	static const char *const bad[] = { "0.0.0.0", "10.0.0.1",
	    "\"example.com\"", "192.168.1.1", "\"127.1\"", "\"127.0.0.01\"",
	    "\"::\"", "\"::ffff:127.0.0.1\"", "LOCALHOST", "\"127.0.0.1 \"",
	    "128.0.0.1", "\"\"" };
	static const char *const good[] = { "127.0.0.1", "127.1.2.3",
	    "\"::1\"", "localhost", "127.255.255.255", "'127.0.0.1'" };
	char y[256];
	xr_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), "runtime:\n  platform:\n"
		    "    execution_ipc:\n      transport: tcp_local\n"
		    "      bind_host: %s\n", bad[i]);
		expect_err(y, XR_ERR_CONFIG_INVALID, P_IPC ".bind_host", NULL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(y, sizeof(y), "runtime:\n  platform:\n"
		    "    execution_ipc:\n      transport: tcp_local\n"
		    "      bind_host: %s\n", good[i]);
		expect_ok(y, &cfg);
		xr_config_free(&cfg);
	}
	expect_err("runtime: {platform: {execution_ipc: {bind_port: 65536}}}",
	    XR_ERR_CONFIG_INVALID, P_IPC ".bind_port: 65536 out of range",
	    "0..65535");
	expect_err("runtime: {platform: {execution_ipc: {bind_port: -1}}}",
	    XR_ERR_CONFIG_INVALID, P_IPC ".bind_port: -1 out of range",
	    "0..65535");
	expect_err("runtime: {platform: {execution_ipc: {bind_port: http}}}",
	    XR_ERR_CONFIG_INVALID, P_IPC ".bind_port", "0..65535");

	assert_true(xr_host_is_loopback("127.0.0.1"));
	assert_true(xr_host_is_loopback("127.1.2.3"));
	assert_true(xr_host_is_loopback("::1"));
	assert_true(xr_host_is_loopback("localhost"));
	assert_false(xr_host_is_loopback("0.0.0.0"));
	assert_false(xr_host_is_loopback("10.0.0.1"));
	assert_false(xr_host_is_loopback("example.com"));
	assert_false(xr_host_is_loopback("127.1"));
	assert_false(xr_host_is_loopback("0x7f.0.0.1"));
	assert_false(xr_host_is_loopback("::"));
	assert_false(xr_host_is_loopback(""));
	assert_false(xr_host_is_loopback(NULL));
}

/* ---- structure ---------------------------------------------------------- */

/* An unknown key is rejected at every level, naming its path and the
 * allowed keys. */
static void
test_unknown_key_each_level(void **state)
{
	static const struct {
		const char *yaml, *path, *allowed;
	} t[] = {
		{ "bogus: 1\n", "bogus: unknown key", "runtime, apps" },
		{ "runtime: {bogus: 1}", "runtime.bogus: unknown key",
		    "(allowed: platform)" },
		{ "runtime: {platform: {bogus: 1}}",
		    "runtime.platform.bogus: unknown key", "process_groups" },
		{ "runtime: {platform: {execution_ipc: {bogus: 1}}}",
		    P_IPC ".bogus: unknown key (allowed: transport, bind_host, "
		    "bind_port, max_payload_bytes, auth, redis)", NULL },
		{ "runtime: {platform: {execution_ipc: {auth: {bogus: 1}}}}",
		    P_AUTH ".bogus: unknown key", "nonce_cache_size" },
		{ "runtime: {platform: {bootstrap: {bogus: 1}}}",
		    "runtime.platform.bootstrap.bogus: unknown key",
		    "(allowed: mode)" },
		{ "runtime: {platform: {lifecycle: {bogus: 1}}}",
		    "runtime.platform.lifecycle.bogus: unknown key",
		    "drain_inflight" },
		{ "runtime: {platform: {control: {bogus: 1}}}",
		    "runtime.platform.control.bogus: unknown key",
		    "(allowed: socket)" },
		{ "runtime: {platform: {process_groups: [{name: g, "
		    "services: [a], bogus: 1}]}}",
		    "runtime.platform.process_groups[0].bogus: unknown key",
		    "name, workers, restart, services" },
		/* apps.NAME is any section; its keys are its module's */
		{ "apps: {bogus: 1}", "apps.bogus: expected a mapping",
		    NULL },
		/* keys are case-sensitive; odd bytes are rendered safely
		 * (xr_printable: \xHH for control bytes and NUL) */
		{ "Runtime: {}", "Runtime: unknown key", NULL },
		{ "\"a\\nb\\u0000\": 1", "a\\x0ab\\x00: unknown key", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		expect_err(t[i].yaml, XR_ERR_CONFIG_INVALID, t[i].path,
		    t[i].allowed);
}

/* An untrusted key or value in a diagnostic: escaped by xr_printable, in
 * full up to 35 rendered bytes, else cut to at most 32 and "...". */
static void
test_echo_rendering_and_bound(void **state)
{
	static const struct {
		size_t keylen;		/* a root key of that many 'k' */
		size_t shown;		/* 'k's in the reason */
		const char *then;	/* what follows them */
	} t[] = {
		{ 35, 35, ": unknown key (allowed: " },
		{ 36, 32, "...: unknown key (allowed: " },
		{ 200, 32, "...: unknown key (allowed: " },
	};
	char y[256], want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		xr_config cfg;
		xr_diag d;

		memset(y, 'k', t[i].keylen);
		snprintf(y + t[i].keylen, sizeof(y) - t[i].keylen, ": 1");
		memset(want, 'k', t[i].shown);
		snprintf(want + t[i].shown, sizeof(want) - t[i].shown, "%s",
		    t[i].then);
		assert_int_equal(load(y, &cfg, &d), XR_ERR_CONFIG_INVALID);
		if (strncmp(d.reason, want, strlen(want)) != 0)
			fail_msg("reason \"%s\" does not start with \"%s\"",
			    d.reason, want);
		xr_config_free(&cfg);
	}
	/* a quote and a backslash in an echoed value are escaped, never raw */
	expect_err("runtime: {platform: {bootstrap: {mode: 'a\"b\\c'}}}",
	    XR_ERR_CONFIG_INVALID, "mode: unsupported value \"a\\\"b\\\\c\" "
	    "(allowed: inline, process_supervisor)", NULL);
	/* a 4-byte rendering (\xHH) is never split by the cut */
	expect_err("runtime: {platform: {execution_ipc: {bind_port: "
	    "1234567890123456789012345678\xc3\xa9}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".bind_port: \"1234567890123456789012345678\\xc3...\" is "
	    "not a decimal integer", NULL);
}

/* Wrong node types: a scalar or list where a mapping is expected, etc. */
static void
test_wrong_node_type(void **state)
{
	(void)state;
	expect_err("- a\n- b\n", XR_ERR_CONFIG_INVALID, "expected a mapping",
	    NULL);
	expect_err("hello\n", XR_ERR_CONFIG_INVALID, "expected a mapping",
	    NULL);
	expect_err("runtime: 5\n", XR_ERR_CONFIG_INVALID,
	    "runtime: expected a mapping", NULL);
	expect_err("runtime: [platform]\n", XR_ERR_CONFIG_INVALID,
	    "runtime: expected a mapping", NULL);
	expect_err("runtime: {platform: {execution_ipc: x}}",
	    XR_ERR_CONFIG_INVALID, P_IPC ": expected a mapping", NULL);
	expect_err("runtime: {platform: {execution_ipc: {auth: [1]}}}",
	    XR_ERR_CONFIG_INVALID, P_AUTH ": expected a mapping", NULL);
	expect_err("runtime: {platform: {execution_ipc: {transport: "
	    "{a: b}}}}", XR_ERR_CONFIG_INVALID, P_IPC ".transport", NULL);
	expect_err("runtime: {platform: {process_groups: {name: x}}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.process_groups:", NULL);
	expect_err("runtime: {platform: {process_groups: [x]}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.process_groups[0]: "
	    "expected a mapping", NULL);
	expect_err("runtime: {platform: {process_groups: ~}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.process_groups:", NULL);
	expect_err("runtime: {platform: {process_groups: "
	    "[{name: g, services: a.B}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].services", NULL);
	expect_err("runtime: {platform: {process_groups: "
	    "[{name: [g], services: [a]}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].name", NULL);
	expect_err("runtime: {platform: {control: {socket: [a]}}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.control.socket", NULL);
	expect_err("{[a]: 1}", XR_ERR_CONFIG_INVALID,
	    "mapping keys must be strings", NULL);
	expect_err("runtime: {platform: {execution_ipc: {bind_host: "
	    "\"127.0.0.1\\0x\"}}}", XR_ERR_CONFIG_INVALID,
	    P_IPC ".bind_host", "without NUL");
}

/* Out-of-range numbers: one below / above each bound is rejected naming
 * the range; the exact bounds are accepted. */
static void
test_number_ranges(void **state)
{
	static const struct {
		const char *sect, *key;
		long long min, max;
		size_t off;
	} t[] = {
		{ "execution_ipc", "bind_port", 0, 65535,
		    offsetof(xr_config, bind_port) },
		{ "execution_ipc", "max_payload_bytes", 1, 67108864,
		    offsetof(xr_config, max_payload_bytes) },
		{ "execution_ipc.auth", "ttl_seconds", 1, 3600,
		    offsetof(xr_config, ttl_seconds) },
		{ "execution_ipc.auth", "nonce_cache_size", 16, 16777216,
		    offsetof(xr_config, nonce_cache_size) },
		{ "lifecycle", "ready_timeout_seconds", 1, 3600,
		    offsetof(xr_config, ready_timeout_seconds) },
		{ "lifecycle", "graceful_timeout_seconds", 0, 3600,
		    offsetof(xr_config, graceful_timeout_seconds) },
		{ "process_groups", "workers", 1, 64, 0 },
	};
	char y[512], path[128], range[64];
	xr_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool grp = strcmp(t[i].sect, "process_groups") == 0;
		long long vals[4] = { t[i].min - 1, t[i].min, t[i].max,
		    t[i].max + 1 };

		snprintf(path, sizeof(path), "runtime.platform.%s%s.%s",
		    t[i].sect, grp ? "[0]" : "", t[i].key);
		snprintf(range, sizeof(range), "(allowed: %lld..%lld)",
		    t[i].min, t[i].max);
		for (int v = 0; v < 4; v++) {
			char one[300];

			if (grp)
				snprintf(y, sizeof(y), "runtime:\n  platform:\n"
				    "    process_groups:\n      - name: g\n"
				    "        services: [a]\n        %s: %lld\n",
				    t[i].key, vals[v]);
			else if (strchr(t[i].sect, '.') != NULL)
				snprintf(y, sizeof(y), "runtime:\n  platform:\n"
				    "    execution_ipc:\n      auth:\n"
				    "        %s: %lld\n", t[i].key, vals[v]);
			else
				snprintf(y, sizeof(y), "runtime:\n  platform:\n"
				    "    %s:\n      %s: %lld\n", t[i].sect,
				    t[i].key, vals[v]);
			if (v == 1 || v == 2) {
				uint32_t got;

				expect_ok(y, &cfg);
				got = grp ? cfg.groups[0].workers :
				    *(uint32_t *)((char *)&cfg + t[i].off);
				assert_int_equal(got, vals[v]);
				xr_config_free(&cfg);
				continue;
			}
			snprintf(one, sizeof(one), "%s: %lld out of range %s",
			    path, vals[v], range);
			expect_err(y, XR_ERR_CONFIG_INVALID, one, NULL);
		}
	}
	/* far beyond 32 bits does not wrap */
	expect_err("runtime: {platform: {execution_ipc: {max_payload_bytes: "
	    "4294967297}}}", XR_ERR_CONFIG_INVALID, "out of range", NULL);
	expect_err("runtime: {platform: {execution_ipc: {max_payload_bytes: "
	    "99999999999999999999999999}}}", XR_ERR_CONFIG_INVALID,
	    "out of range", NULL);
}

/* ---- the table (core/cfgtab.h) ------------------------------------------ */

/*
 * A flow-style YAML document that sets the key of `row` to `value` (a group
 * key: in the one group {name: g}), and the key's path as diagnostics show
 * it ("process_groups[0]" for a group's).
 */
static void
yaml_for_row(const xr_cfg_row *row, const char *value, char *y, size_t cap,
    char *dpath, size_t dcap)
{
	char comp[16][48];
	size_t n = 0, o = 0;
	const char *p = row->path;

	while (*p != '\0' && n < 16) {
		size_t len = strcspn(p, ".");

		assert_true(len < sizeof(comp[0]));
		memcpy(comp[n], p, len);
		comp[n++][len] = '\0';
		p += len + (p[len] == '.');
	}
	dpath[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		bool grp = strcmp(comp[i], "process_groups[]") == 0;

		if (grp)
			strcpy(comp[i], "process_groups");
		snprintf(dpath + strlen(dpath), dcap - strlen(dpath), "%s%s%s",
		    i ? "." : "", comp[i], grp ? "[0]" : "");
		if (i + 1 == n)
			o += (size_t)snprintf(y + o, cap - o, "%s: %s", comp[i],
			    value);
		else if (grp) {
			o += (size_t)snprintf(y + o, cap - o,
			    "%s: [{name: g, ", comp[i]);
		} else {
			o += (size_t)snprintf(y + o, cap - o, "%s: {", comp[i]);
		}
	}
	/* "}" for mappings, "}]" where a group list opened */
	for (size_t i = n - 1; i-- > 0;) {
		if (strcmp(comp[i], "process_groups") == 0)
			o += (size_t)snprintf(y + o, cap - o, "}]");
		else
			o += (size_t)snprintf(y + o, cap - o, "}");
	}
	assert_true(o < cap);
}

/* The field of `row` in `cfg` (a group row: in groups[0]). */
static uint64_t
row_get(const xr_config *cfg, const xr_cfg_row *row)
{
	return xr_cfg_get_u((row->flags & XR_CF_GROUP) ? (const void *)
	    &cfg->groups[0] : (const void *)cfg, row);
}

/* Every uint row: min-1 and max+1 are refused with the key path and the
 * range, min and max are accepted and stored; the same through
 * xr_config_check_uint(). The ranges are the ones the rows state; that
 * they are the documented ones is test_number_ranges'. */
static void
test_table_uint_ranges(void **state)
{
	char y[512], path[160], want[300], v[32];
	size_t nuint = 0;
	xr_config cfg;
	xr_diag d;

	(void)state;
	for (size_t k = 0; k < XR_CK__COUNT; k++) {
		const xr_cfg_row *row = &xr_cfg_rows[k];
		long long vals[4];

		if (row->type != XR_CT_UINT)
			continue;
		nuint++;
		vals[0] = (long long)row->min - 1;
		vals[1] = (long long)row->min;
		vals[2] = (long long)row->max;
		vals[3] = (long long)row->max + 1;
		for (int i = 0; i < 4; i++) {
			snprintf(v, sizeof(v), "%lld", vals[i]);
			yaml_for_row(row, v, y, sizeof(y), path, sizeof(path));
			if (i == 1 || i == 2) {
				expect_ok(y, &cfg);
				assert_int_equal(row_get(&cfg, row), vals[i]);
				xr_config_free(&cfg);
				continue;
			}
			snprintf(want, sizeof(want), "%s: %lld out of range "
			    "(allowed: %llu..%llu)", path, vals[i],
			    (unsigned long long)row->min,
			    (unsigned long long)row->max);
			expect_err(y, XR_ERR_CONFIG_INVALID, want, NULL);
		}
		/* the worker's check of its bundle uses the same rows */
		assert_int_equal(xr_config_check_uint(row->path, row->min, &d),
		    XR_OK);
		assert_int_equal(xr_config_check_uint(row->path, row->max, &d),
		    XR_OK);
		assert_int_equal(xr_config_check_uint(row->path, row->max + 1,
		    &d), XR_ERR_CONFIG_INVALID);
		snprintf(want, sizeof(want), "%s: %llu out of range (allowed: "
		    "%llu..%llu)", row->path, (unsigned long long)row->max + 1,
		    (unsigned long long)row->min, (unsigned long long)row->max);
		assert_string_equal(d.reason, want);
		if (row->min > 0) {
			assert_int_equal(xr_config_check_uint(row->path,
			    row->min - 1, &d), XR_ERR_CONFIG_INVALID);
			assert_non_null(strstr(d.reason, "out of range"));
		}
	}
	assert_int_equal(nuint, 11);
	assert_int_equal(xr_config_check_uint(P_AUTH ".kdf", 1, &d),
	    XR_ERR_CONFIG_INVALID);
	assert_int_equal(xr_config_check_uint("no.such.key", 1, &d),
	    XR_ERR_CONFIG_INVALID);
}

/* Every row's default is what xr_config_defaults() gives (a group row's:
 * what a group that names only its name gets), and the uint defaults the
 * endpoint and the client fall back on are the rows' (the endpoint's is
 * also seen on the wire: tests/server, SEC-IPC defaults). */
static void
test_table_defaults(void **state)
{
	xr_config def, grp;
	size_t nend = 0, ncli = 0;

	(void)state;
	xr_config_defaults(&def);
	expect_ok("runtime: {platform: {process_groups: [{name: g}]}}", &grp);
	for (size_t k = 0; k < XR_CK__COUNT; k++) {
		const xr_cfg_row *row = &xr_cfg_rows[k];
		const xr_config *c = (row->flags & XR_CF_GROUP) ? &grp : &def;
		const char *base = (row->flags & XR_CF_GROUP) ?
		    (const char *)&c->groups[0] : (const char *)c;

		assert_ptr_equal(xr_cfg_row_find(row->path), row);
		switch (row->type) {
		case XR_CT_UINT:
		case XR_CT_BOOL:
		case XR_CT_ENUM:
			if (row_get(c, row) != row->def)
				fail_msg("%s: default %llu, row says %llu",
				    row->path,
				    (unsigned long long)row_get(c, row),
				    (unsigned long long)row->def);
			break;
		case XR_CT_HOST:
		case XR_CT_PATH:
		case XR_CT_NAME:
			/* a required key has no default to compare */
			if ((row->flags & XR_CF_REQUIRED) == 0)
				assert_string_equal(base + row->off,
				    row->def_s);
			break;
		default:
			break;
		}
		if (row->type == XR_CT_UINT)
			assert_int_equal(xr_cfg_default_u32((xr_cfg_key)k),
			    row->def);
		else
			assert_int_equal(xr_cfg_default_u32((xr_cfg_key)k), 0);
		nend += (row->flags & XR_CF_ENDPOINT) != 0;
		ncli += (row->flags & XR_CF_CLIENT) != 0;
		/* a secret is never shown */
		if (row->flags & XR_CF_SECRET)
			assert_int_equal(row->flags & (XR_CF_SUMMARY |
			    XR_CF_ECHO), 0);
	}
	/* the documented values the endpoint and client options fall back on */
	assert_int_equal(nend, 3);
	assert_int_equal(ncli, 2);
	assert_int_equal(xr_cfg_default_u32(XR_CK_MAX_PAYLOAD_BYTES), 1048576);
	assert_int_equal(xr_cfg_default_u32(XR_CK_TTL_SECONDS), 30);
	assert_int_equal(xr_cfg_default_u32(XR_CK_NONCE_CACHE_SIZE), 65536);
	assert_true(xr_cfg_rows[XR_CK_MAX_PAYLOAD_BYTES].flags & XR_CF_CLIENT);
	assert_true(xr_cfg_rows[XR_CK_TTL_SECONDS].flags & XR_CF_CLIENT);
	/* the default group is not a row: it is spelled out */
	assert_string_equal(def.groups[0].name, XR_CFG_DEFAULT_GROUP);
	assert_int_equal(def.groups[0].workers, XR_CFG_DEFAULT_GROUP_WORKERS);
	assert_int_equal(def.groups[0].n_services, 0);
	assert_int_equal(grp.groups[0].workers, 1);
	assert_string_equal(xr_cfg_enum_name(XR_CK_KDF, 1), "hkdf_sha256");
	assert_string_equal(xr_cfg_enum_name(XR_CK_KDF, 2), "unknown");
	assert_string_equal(xr_cfg_enum_name(XR_CK_BIND_PORT, 0), "unknown");
	xr_config_free(&grp);
}

/* The rows flagged XR_CF_BUNDLE are the runtime slice of the worker's
 * bundle, field for field (by the key's last component; seconds travel as
 * _ms), and the slice carries nothing else. */
static void
test_table_bundle_rows(void **state)
{
	const ProtobufCMessageDescriptor *rt =
	    &execrpc__v1__runtime_slice__descriptor;
	size_t nrows = 0;

	(void)state;
	for (size_t k = 0; k < XR_CK__COUNT; k++) {
		const xr_cfg_row *row = &xr_cfg_rows[k];
		const char *leaf;
		char name[64];
		size_t len;

		if ((row->flags & XR_CF_BUNDLE) == 0)
			continue;
		nrows++;
		assert_non_null(leaf = strrchr(row->path, '.'));
		len = strlen(++leaf);
		snprintf(name, sizeof(name), "%s", leaf);
		if (len > 8 && strcmp(leaf + len - 8, "_seconds") == 0 &&
		    protobuf_c_message_descriptor_get_field_by_name(rt,
		    name) == NULL)
			snprintf(name + len - 8, sizeof(name) - (len - 8), "_ms");
		if (protobuf_c_message_descriptor_get_field_by_name(rt,
		    name) == NULL)
			fail_msg("%s: no RuntimeSlice.%s", row->path, name);
	}
	assert_int_equal(nrows, rt->n_fields);
}

/* ---- apps.NAME ---------------------------------------------------------- */

/* A section is its flattened (key, scalar) pairs, in document order. */
static void
test_apps_flatten(void **state)
{
	xr_config cfg, exp;
	const xr_app_section *sec;

	(void)state;
	expect_ok("apps:\n"
	    "  my-app.v2:\n"
	    "    rules: experiment\n"
	    "    limits:\n"
	    "      day: 5\n"
	    "      week: {max: '20', min: \"1\"}\n"
	    "    hosts: [a, b]\n"
	    "    routes:\n"
	    "      - {path: /x, to: [p, q]}\n"
	    "      - ~\n"
	    "    empty_string: \"\"\n"
	    "    nothing:\n"
	    "    quoted: \"a: b # c\"\n"
	    "  other: {Key_1: \"multi\\nline\"}\n", &cfg);
	expected_defaults(&exp);
	expect_app(&exp, "my-app.v2", "rules", "experiment");
	expect_app(&exp, "my-app.v2", "limits.day", "5");
	expect_app(&exp, "my-app.v2", "limits.week.max", "20");
	expect_app(&exp, "my-app.v2", "limits.week.min", "1");
	expect_app(&exp, "my-app.v2", "hosts[0]", "a");
	expect_app(&exp, "my-app.v2", "hosts[1]", "b");
	expect_app(&exp, "my-app.v2", "routes[0].path", "/x");
	expect_app(&exp, "my-app.v2", "routes[0].to[0]", "p");
	expect_app(&exp, "my-app.v2", "routes[0].to[1]", "q");
	expect_app(&exp, "my-app.v2", "routes[1]", "~");
	expect_app(&exp, "my-app.v2", "empty_string", "");
	expect_app(&exp, "my-app.v2", "nothing", "");
	expect_app(&exp, "my-app.v2", "quoted", "a: b # c");
	expect_app(&exp, "other", "Key_1", "multi\nline");
	assert_cfg_eq(&exp, &cfg);

	sec = xr_config_app(&cfg, "my-app.v2");
	assert_ptr_equal(sec, &cfg.apps[0]);
	assert_ptr_equal(xr_config_app(&cfg, "other"), &cfg.apps[1]);
	assert_null(xr_config_app(&cfg, "my-app"));
	assert_null(xr_config_app(&cfg, NULL));
	assert_null(xr_config_app(NULL, "other"));
	assert_string_equal(xr_app_get(sec, "limits.week.min"), "1");
	assert_string_equal(xr_app_get(sec, "nothing"), "");
	assert_null(xr_app_get(sec, "limits"));
	assert_null(xr_app_get(sec, "limits.week"));
	assert_null(xr_app_get(NULL, "rules"));
	assert_null(xr_app_get(sec, NULL));
	xr_config_free(&cfg);

	/* absent `apps` and an empty one: no sections */
	expect_ok("apps: {}\n", &cfg);
	assert_int_equal(cfg.n_apps, 0);
	xr_config_free(&cfg);
}

/* Bounds and shape: each refusal is config_invalid naming the path. */
static void
test_apps_bounds(void **state)
{
	char y[16384], k[200], v[300];
	size_t o;
	xr_config cfg;

	(void)state;
	/* XR_CFG_MAX_APPS sections accepted, one more refused */
	for (int n = XR_CFG_MAX_APPS; n <= XR_CFG_MAX_APPS + 1; n++) {
		o = (size_t)snprintf(y, sizeof(y), "apps:\n");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(y + o, sizeof(y) - o,
			    "  a%d: {k: v}\n", i);
		if (n == XR_CFG_MAX_APPS) {
			expect_ok(y, &cfg);
			assert_int_equal(cfg.n_apps, n);
			xr_config_free(&cfg);
		} else {
			expect_err(y, XR_ERR_CONFIG_INVALID,
			    "apps: too many sections (allowed: 0..8)", NULL);
		}
	}
	/* XR_CFG_MAX_APP_SETTINGS settings accepted, one more refused, also
	 * when a list makes them */
	for (int n = XR_CFG_MAX_APP_SETTINGS;
	    n <= XR_CFG_MAX_APP_SETTINGS + 1; n++) {
		o = (size_t)snprintf(y, sizeof(y), "apps:\n  x:\n");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(y + o, sizeof(y) - o,
			    "    k%d: %d\n", i, i);
		if (n == XR_CFG_MAX_APP_SETTINGS) {
			expect_ok(y, &cfg);
			assert_int_equal(cfg.apps[0].n, n);
			assert_string_equal(cfg.apps[0].s[n - 1].key, "k31");
			xr_config_free(&cfg);
		} else {
			expect_err(y, XR_ERR_CONFIG_INVALID,
			    "apps.x: too many settings at apps.x.k32",
			    "(allowed: 0..32 scalar values)");
		}
	}
	o = (size_t)snprintf(y, sizeof(y), "apps: {x: {l: [");
	for (int i = 0; i < XR_CFG_MAX_APP_SETTINGS + 1; i++)
		o += (size_t)snprintf(y + o, sizeof(y) - o, "%s%d",
		    i ? ", " : "", i);
	snprintf(y + o, sizeof(y) - o, "]}}");
	expect_err(y, XR_ERR_CONFIG_INVALID, "apps.x: too many settings at "
	    "apps.x.l[32]", NULL);

	/* a flattened key of 127 bytes accepted, 128 refused */
	memset(k, 'k', 127);
	k[127] = '\0';
	snprintf(y, sizeof(y), "apps: {x: {%s: v}}", k);
	expect_ok(y, &cfg);
	assert_string_equal(cfg.apps[0].s[0].key, k);
	xr_config_free(&cfg);
	k[125] = '\0';		/* "kkk...k.ab" = 125 + 1 + 2 = 128 bytes */
	snprintf(y, sizeof(y), "apps: {x: {%s: {ab: v}}}", k);
	expect_err(y, XR_ERR_CONFIG_INVALID, "key too long (allowed: 1..127 "
	    "bytes below apps.x)", "apps.x.kkkk");
	snprintf(y, sizeof(y), "apps: {x: {%s: {a: v}}}", k);
	expect_ok(y, &cfg);
	xr_config_free(&cfg);
	k[124] = '\0';		/* "kkk...k[10]": 124 + 4 = 128 */
	o = (size_t)snprintf(y, sizeof(y), "apps: {x: {%s: [", k);
	for (int i = 0; i < 11; i++)
		o += (size_t)snprintf(y + o, sizeof(y) - o, "%s%d",
		    i ? ", " : "", i);
	snprintf(y + o, sizeof(y) - o, "]}}");
	expect_err(y, XR_ERR_CONFIG_INVALID, "[10]: key too long", NULL);

	/* a value of 255 bytes accepted, 256 refused and never echoed */
	memset(v, 'v', 255);
	v[255] = '\0';
	snprintf(y, sizeof(y), "apps: {x: {k: \"%s\"}}", v);
	expect_ok(y, &cfg);
	assert_string_equal(xr_app_get(xr_config_app(&cfg, "x"), "k"), v);
	xr_config_free(&cfg);
	strcat(v, "v");
	snprintf(y, sizeof(y), "apps: {x: {k: \"%s\"}}", v);
	expect_err(y, XR_ERR_CONFIG_INVALID, "apps.x.k: value too long "
	    "(allowed: 0..255 bytes without NUL)", NULL);
	expect_err("apps: {x: {k: \"a\\0b\"}}", XR_ERR_CONFIG_INVALID,
	    "apps.x.k: value too long", "without NUL");
	{
		xr_diag d;

		snprintf(y, sizeof(y), "apps: {x: {k: \"%s%s\"}}", canary,
		    v);
		assert_int_equal(load(y, &cfg, &d), XR_ERR_CONFIG_INVALID);
		assert_no_canary(d.reason);
	}

	/* scalars only as leaves */
	expect_err("apps: {x: {k: {}}}", XR_ERR_CONFIG_INVALID,
	    "apps.x.k: an empty mapping has no value", "scalars as leaves");
	expect_err("apps: {x: {k: []}}", XR_ERR_CONFIG_INVALID,
	    "apps.x.k: an empty list has no value", NULL);
	expect_err("apps: {x: {k: [a, []]}}", XR_ERR_CONFIG_INVALID,
	    "apps.x.k[1]: an empty list", NULL);
	expect_err("apps: {x: {k: [{}]}}", XR_ERR_CONFIG_INVALID,
	    "apps.x.k[0]: an empty mapping", NULL);
	expect_err("apps: {x: [a, b]}", XR_ERR_CONFIG_INVALID,
	    "apps.x: expected a mapping", NULL);
	expect_err("apps: {x: 5}", XR_ERR_CONFIG_INVALID,
	    "apps.x: expected a mapping", NULL);
	expect_err("apps: [x]", XR_ERR_CONFIG_INVALID,
	    "apps: expected a mapping", NULL);

	/* names and keys */
	expect_err("apps: {\"a b\": {k: v}}", XR_ERR_CONFIG_INVALID,
	    "apps.a b: invalid section name", "[A-Za-z0-9_.-], 1..63 bytes");
	expect_err("apps: {\"\": {k: v}}", XR_ERR_CONFIG_INVALID,
	    "invalid section name", NULL);
	memset(k, 'n', 64);
	k[64] = '\0';
	snprintf(y, sizeof(y), "apps: {%s: {k: v}}", k);
	expect_err(y, XR_ERR_CONFIG_INVALID, "invalid section name", NULL);
	k[63] = '\0';
	snprintf(y, sizeof(y), "apps: {%s: {k: v}}", k);
	expect_ok(y, &cfg);
	assert_non_null(xr_config_app(&cfg, k));
	xr_config_free(&cfg);
	expect_err("apps: {x: {a.b: v}}", XR_ERR_CONFIG_INVALID,
	    "apps.x.a.b: invalid key", "(allowed: [A-Za-z0-9_-], nested keys "
	    "joined with '.')");
	expect_err("apps: {x: {\"k[0]\": v}}", XR_ERR_CONFIG_INVALID,
	    "invalid key", NULL);
	expect_err("apps: {x: {[k]: v}}", XR_ERR_CONFIG_INVALID,
	    "apps.x: mapping keys must be strings", NULL);
	expect_err("apps: {x: {k: 1, k: 2}}", XR_ERR_CONFIG_INVALID,
	    "apps.x.k: duplicate key", NULL);
	expect_err("apps: {x: {}, x: {}}", XR_ERR_CONFIG_INVALID,
	    "apps.x: duplicate key", NULL);
}

/* Integers must be plain decimal; booleans plain true/false. */
static void
test_scalar_types(void **state)
{
	static const char *const notint[] = { "\"80\"", "'80'", "12abc",
	    "1.5", "0x10", "010", "1e3", "true", "[1]", "{a: 1}", "~", "+",
	    "-", "1_000" };
	static const char *const notbool[] = { "yes", "no", "on", "1", "0",
	    "\"true\"", "True", "FALSE", "~", "[true]" };
	char y[256];
	xr_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(notint) / sizeof(notint[0]); i++) {
		snprintf(y, sizeof(y), "runtime: {platform: {execution_ipc: "
		    "{bind_port: %s}}}", notint[i]);
		expect_err(y, XR_ERR_CONFIG_INVALID, P_IPC ".bind_port",
		    "0..65535");
	}
	for (size_t i = 0; i < sizeof(notbool) / sizeof(notbool[0]); i++) {
		snprintf(y, sizeof(y), "runtime: {platform: {lifecycle: "
		    "{drain_inflight: %s}}}", notbool[i]);
		expect_err(y, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.lifecycle.drain_inflight",
		    "(allowed: true, false)");
	}
	expect_ok("runtime: {platform: {lifecycle: {drain_inflight: false},"
	    " execution_ipc: {bind_port: +80}}}", &cfg);
	assert_false(cfg.drain_inflight);
	assert_int_equal(cfg.bind_port, 80);
	xr_config_free(&cfg);
	/* strings may be quoted */
	expect_ok("runtime: {platform: {execution_ipc: {transport: "
	    "\"tcp_local\"}, bootstrap: {mode: 'inline'}}}", &cfg);
	assert_int_equal(cfg.transport, XR_TRANSPORT_TCP_LOCAL);
	xr_config_free(&cfg);
}

/* YAML that does not parse is XR_ERR_CONFIG_SYNTAX with a position. */
static void
test_syntax_error(void **state)
{
	(void)state;
	expect_err("runtime:\n  platform: [\n", XR_ERR_CONFIG_SYNTAX,
	    "line ", "column ");
	expect_err("a: b: c\n", XR_ERR_CONFIG_SYNTAX, "line 1, column 5",
	    NULL);
	expect_err("runtime:\n  platform:\n    x: 1\n   y: 2\n",
	    XR_ERR_CONFIG_SYNTAX, "line 4", NULL);
	expect_err("runtime: \"unterminated\n", XR_ERR_CONFIG_SYNTAX,
	    "line", NULL);
	expect_err("\tx: 1\n", XR_ERR_CONFIG_SYNTAX, "line 1", NULL);
	expect_err("a: \xff\xfe\n", XR_ERR_CONFIG_SYNTAX, "offset", NULL);
}

/* Anchors, aliases, explicit tags and multiple documents are refused. */
static void
test_anchors_aliases_documents(void **state)
{
	(void)state;
	expect_err("runtime: &r {platform: {}}\napps: *r\n",
	    XR_ERR_CONFIG_INVALID, "line 1", "anchors are not supported");
	expect_err("apps: *r\n", XR_ERR_CONFIG_INVALID, "line 1",
	    "aliases are not supported");
	expect_err("x: &a 1\n", XR_ERR_CONFIG_INVALID,
	    "anchors are not supported", NULL);
	expect_err("runtime: {platform: {execution_ipc: {bind_port: "
	    "!!int 80}}}", XR_ERR_CONFIG_INVALID, "tags are not supported",
	    NULL);
	expect_err("--- {}\n--- {}\n", XR_ERR_CONFIG_INVALID,
	    "multiple YAML documents", NULL);
	expect_err("apps: {}\n---\napps: {}\n", XR_ERR_CONFIG_INVALID,
	    "line 2: multiple YAML documents", NULL);
}

/* Duplicate keys are refused, naming the key path. */
static void
test_duplicate_keys(void **state)
{
	(void)state;
	expect_err("apps: {}\napps: {}\n", XR_ERR_CONFIG_INVALID,
	    "apps: duplicate key", "lines 1 and 2");
	expect_err("runtime:\n  platform:\n    bootstrap: {mode: inline}\n"
	    "    bootstrap: {mode: inline}\n", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.bootstrap: duplicate key", NULL);
	expect_err("runtime: {platform: {execution_ipc: {auth: {kdf: none, "
	    "kdf: none}}}}", XR_ERR_CONFIG_INVALID,
	    P_AUTH ".kdf: duplicate key", NULL);
	expect_err("runtime: {platform: {process_groups: [{name: g, "
	    "services: [a], workers: 1, workers: 2}]}}",
	    XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].workers: duplicate key",
	    NULL);
}

/* Process groups: names, services, counts. */
static void
test_groups(void **state)
{
	char y[4096], name[80];
	size_t o;
	xr_config cfg;

	(void)state;
	expect_err("runtime: {platform: {process_groups: []}}",
	    XR_ERR_CONFIG_INVALID, "runtime.platform.process_groups",
	    "non-empty");
	expect_err("runtime: {platform: {process_groups: [{services: [a]}]}}",
	    XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].name: required", NULL);
	expect_err("runtime: {platform: {process_groups: [{name: g, "
	    "services: {a: b}}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].services: expected a list",
	    "every service");
	expect_err("runtime: {platform: {process_groups: [{name: g, "
	    "services: [a]}, {name: h, services: [a]}, {name: g, "
	    "services: [b]}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[2].name: duplicate group name "
	    "\"g\"", NULL);
	expect_err("runtime: {platform: {process_groups: [{name: \"a b\", "
	    "services: [a]}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].name: invalid group name",
	    "[A-Za-z0-9_.-]");
	expect_err("runtime: {platform: {process_groups: [{name: \"a/b\", "
	    "services: [a]}]}}", XR_ERR_CONFIG_INVALID,
	    "process_groups[0].name", NULL);
	expect_err("runtime: {platform: {process_groups: [{name: \"\", "
	    "services: [a]}]}}", XR_ERR_CONFIG_INVALID,
	    "process_groups[0].name", NULL);
	expect_err("runtime: {platform: {process_groups: [{name: g, "
	    "services: [a-b]}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].services[0]: invalid "
	    "service name", NULL);
	expect_err("runtime: {platform: {process_groups: [{name: g, "
	    "services: [a, b, a]}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].services[2]: duplicate "
	    "service", NULL);
	expect_err("runtime: {platform: {process_groups: [{name: g, "
	    "services: [[a]]}]}}", XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].services[0]", NULL);

	/* group name length 63 accepted, 64 refused */
	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(y, sizeof(y), "runtime: {platform: {process_groups: "
	    "[{name: %s, services: [a]}]}}", name);
	expect_ok(y, &cfg);
	assert_string_equal(cfg.groups[0].name, name);
	xr_config_free(&cfg);
	strcat(name, "n");
	snprintf(y, sizeof(y), "runtime: {platform: {process_groups: "
	    "[{name: %s, services: [a]}]}}", name);
	expect_err(y, XR_ERR_CONFIG_INVALID,
	    "runtime.platform.process_groups[0].name", NULL);

	/* service name length 127 accepted, 128 refused */
	{
		char svc[130];

		memset(svc, 's', 127);
		svc[127] = '\0';
		snprintf(y, sizeof(y), "runtime: {platform: {process_groups: "
		    "[{name: g, services: [%s]}]}}", svc);
		expect_ok(y, &cfg);
		assert_string_equal(cfg.groups[0].services[0], svc);
		xr_config_free(&cfg);
		strcat(svc, "s");
		snprintf(y, sizeof(y), "runtime: {platform: {process_groups: "
		    "[{name: g, services: [%s]}]}}", svc);
		expect_err(y, XR_ERR_CONFIG_INVALID,
		    "runtime.platform.process_groups[0].services[0]", NULL);
	}

	/* XR_CFG_MAX_GROUPS groups accepted in order, one more refused */
	for (int n = XR_CFG_MAX_GROUPS; n <= XR_CFG_MAX_GROUPS + 1; n++) {
		o = (size_t)snprintf(y, sizeof(y),
		    "runtime:\n  platform:\n    process_groups:\n");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(y + o, sizeof(y) - o,
			    "      - {name: g%d, services: [s%d]}\n", i, i);
		if (n == XR_CFG_MAX_GROUPS) {
			expect_ok(y, &cfg);
			assert_int_equal(cfg.n_groups, XR_CFG_MAX_GROUPS);
			for (int i = 0; i < n; i++) {
				snprintf(name, sizeof(name), "g%d", i);
				assert_string_equal(cfg.groups[i].name, name);
			}
			xr_config_free(&cfg);
		} else {
			expect_err(y, XR_ERR_CONFIG_INVALID,
			    "runtime.platform.process_groups: too many groups",
			    "1..16");
		}
	}
	/* XR_CFG_MAX_SERVICES services accepted, one more refused */
	for (int n = XR_CFG_MAX_SERVICES; n <= XR_CFG_MAX_SERVICES + 1; n++) {
		o = (size_t)snprintf(y, sizeof(y), "runtime: {platform: "
		    "{process_groups: [{name: g, services: [");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(y + o, sizeof(y) - o, "%ss%d",
			    i ? ", " : "", i);
		snprintf(y + o, sizeof(y) - o, "]}]}}");
		if (n == XR_CFG_MAX_SERVICES) {
			expect_ok(y, &cfg);
			assert_int_equal(cfg.groups[0].n_services, n);
			xr_config_free(&cfg);
		} else {
			expect_err(y, XR_ERR_CONFIG_INVALID,
			    "runtime.platform.process_groups[0].services: too "
			    "many services", "0..16");
		}
	}
}

/* control.socket must fit a unix socket address. */
static void
test_control_socket(void **state)
{
	char y[512], p[200];
	xr_config cfg;

	(void)state;
	p[0] = '/';
	memset(p + 1, 'x', 106);
	p[107] = '\0';
	snprintf(y, sizeof(y), "runtime: {platform: {control: {socket: %s}}}",
	    p);
	expect_ok(y, &cfg);
	assert_string_equal(cfg.control_socket, p);
	xr_config_free(&cfg);
	strcat(p, "x");
	snprintf(y, sizeof(y), "runtime: {platform: {control: {socket: %s}}}",
	    p);
	expect_err(y, XR_ERR_CONFIG_INVALID, "runtime.platform.control.socket",
	    "1..107");
}

/* Deep nesting and odd input end in a clean error. */
static void
test_limits(void **state)
{
	char y[512];
	size_t i;

	(void)state;
	expect_err("[[[]", XR_ERR_CONFIG_SYNTAX, NULL, NULL);
	for (i = 0; i < 100; i++)
		y[i] = '[';
	for (; i < 200; i++)
		y[i] = ']';
	y[i] = '\0';
	expect_err(y, XR_ERR_CONFIG_INVALID, "too deep", NULL);
}

/* The load_file path: missing file, size limit, a good file. */
static void
test_load_file(void **state)
{
	xr_config cfg, exp;
	xr_diag d;
	const char *p;
	char *big;

	(void)state;
	assert_int_equal(xr_config_load_file("/nonexistent/xr.yaml", &cfg, &d),
	    XR_ERR_CONFIG_INVALID);
	assert_non_null(strstr(d.reason, "/nonexistent/xr.yaml"));

	p = write_file("ex.yaml", design_example, strlen(design_example), 0644);
	assert_int_equal(xr_config_load_file(p, &cfg, &d), XR_OK);
	expected_design(&exp);
	assert_cfg_eq(&exp, &cfg);
	xr_config_free(&cfg);

	/* exactly 1 MiB of comment is fine; one byte more is refused */
	big = malloc(1024 * 1024 + 1);
	assert_non_null(big);
	memset(big, ' ', 1024 * 1024 + 1);
	big[0] = '#';
	p = write_file("big.yaml", big, 1024 * 1024, 0644);
	assert_int_equal(xr_config_load_file(p, &cfg, &d), XR_OK);
	xr_config_free(&cfg);
	p = write_file("big.yaml", big, 1024 * 1024 + 1, 0644);
	assert_int_equal(xr_config_load_file(p, &cfg, &d),
	    XR_ERR_CONFIG_INVALID);
	assert_non_null(strstr(d.reason, "1 MiB"));
	assert_int_equal(xr_config_load_string(big, 1024 * 1024 + 1, &cfg,
	    &d), XR_ERR_CONFIG_INVALID);
	free(big);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(xr_transport_name(XR_TRANSPORT_MEMORY), "memory");
	assert_string_equal(xr_transport_name(XR_TRANSPORT_TCP_LOCAL),
	    "tcp_local");
	assert_string_equal(xr_boot_mode_name(XR_BOOT_INLINE), "inline");
	assert_string_equal(xr_boot_mode_name(XR_BOOT_PROCESS_SUPERVISOR),
	    "process_supervisor");
	assert_string_equal(xr_secret_mode_name(XR_SECRET_GENERATED),
	    "generated");
	assert_string_equal(xr_secret_mode_name(XR_SECRET_STATIC), "static");
	assert_string_equal(xr_kdf_name(XR_KDF_NONE), "none");
	assert_string_equal(xr_kdf_name(XR_KDF_HKDF_SHA256), "hkdf_sha256");
	assert_string_equal(xr_restart_name(XR_RESTART_NEVER), "never");
	assert_string_equal(xr_restart_name(XR_RESTART_ON_FAILURE),
	    "on-failure");
	assert_non_null(xr_transport_name((xr_transport)7));
}

/* Every truncation and every bit flip of a valid config ends in success
 * or a clean, coded error with the config reset (docs/design.md, code conventions: parser loop). */
static void
test_truncate_and_flip(void **state)
{
	static const char tail[] =
	    "        secret_mode: static\n"
	    "        secret: \"0123456789abcdef0123456789abcdef!\"\n";
	char buf[2048];
	size_t len;
	xr_config cfg, def;
	xr_diag d;
	int r;

	(void)state;
	/* the example with an inline secret spliced into auth */
	len = (size_t)snprintf(buf, sizeof(buf), "%s", design_example);
	{
		char *at = strstr(buf, "        kdf:");

		assert_non_null(at);
		memmove(at + strlen(tail), at, strlen(at) + 1);
		memcpy(at, tail, strlen(tail));
		len = strlen(buf);
		/* drop "secret_mode: generated" */
		at = strstr(buf, "        secret_mode: generated");
		assert_non_null(at);
		memset(at, ' ', strlen("        secret_mode: generated"));
		at[0] = '#';
	}
	assert_int_equal(xr_config_load_string(buf, len, &cfg, &d), XR_OK);
	assert_int_equal(cfg.secret_inline_len, 33);
	xr_config_free(&cfg);
	xr_config_defaults(&def);

	for (size_t n = 0; n <= len; n++) {
		r = xr_config_load_string(buf, n, &cfg, &d);
		if (r != XR_OK) {
			assert_true(r == XR_ERR_CONFIG_INVALID ||
			    r == XR_ERR_CONFIG_SYNTAX ||
			    r == XR_ERR_SECRET_INVALID);
			assert_true(d.reason[0] != '\0');
			assert_memory_equal(&cfg, &def, sizeof(cfg));
		}
		xr_config_free(&cfg);
	}
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			buf[i] ^= (char)(1 << b);
			r = xr_config_load_string(buf, len, &cfg, &d);
			if (r != XR_OK) {
				assert_true(r == XR_ERR_CONFIG_INVALID ||
				    r == XR_ERR_CONFIG_SYNTAX ||
				    r == XR_ERR_SECRET_INVALID);
				assert_true(d.reason[0] != '\0');
				assert_null(strstr(d.reason,
				    "0123456789abcdef0123"));
				assert_memory_equal(&cfg, &def, sizeof(cfg));
			}
			xr_config_free(&cfg);
			buf[i] ^= (char)(1 << b);
		}
	}
}

/* ---- secrets: KEY-IPC-02, KEY-IPC-04 ------------------------------------ */

/* Static secret source rules: exactly one of secret_file / secret, minimum
 * length, no conflict with secret_mode generated. */
static void
test_secret_rules(void **state)
{
	(void)state;
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{secret_mode: static}}}}", XR_ERR_SECRET_INVALID,
	    P_AUTH ".secret_mode: static requires exactly one of "
	    P_AUTH ".secret_file or " P_AUTH ".secret", NULL);
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{secret_mode: static, secret_file: /x, "
	    "secret: 0123456789abcdef0123456789abcdef}}}}",
	    XR_ERR_SECRET_INVALID, "exactly one of " P_AUTH ".secret_file or "
	    P_AUTH ".secret", NULL);
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{secret_mode: static, secret: short}}}}", XR_ERR_SECRET_INVALID,
	    P_AUTH ".secret: too short (minimum 32 bytes)", NULL);
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{secret_mode: generated, secret_file: /etc/x}}}}",
	    XR_ERR_CONFIG_INVALID, P_AUTH ".secret_file: conflicts with "
	    P_AUTH ".secret_mode: generated", NULL);
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{secret: 0123456789abcdef0123456789abcdef}}}}",
	    XR_ERR_CONFIG_INVALID, P_AUTH ".secret: conflicts", "generated");
	expect_err("runtime: {platform: {execution_ipc: {auth: "
	    "{secret_mode: static, secret_file: \"\"}}}}",
	    XR_ERR_CONFIG_INVALID, P_AUTH ".secret_file", NULL);
}

/* KEY-IPC-02: static secrets (file 0600, inline dev value) are supported
 * and give the keyset derived from them; generated gives fresh keys. */
static void
test_KEY_IPC_02_static_secret(void **state)
{
	static const char secret[] = "0123456789abcdef0123456789abcdefXY";
	char y[512];
	const char *p;
	xr_config cfg;
	xr_keyset ks, want, ks2;
	xr_diag d;

	(void)state;
	/* file, mode 0600, with a trailing newline */
	{
		char line[64];

		snprintf(line, sizeof(line), "%s\n", secret);
		p = write_file("secret", line, strlen(line), 0600);
	}
	snprintf(y, sizeof(y), "runtime:\n  platform:\n    execution_ipc:\n"
	    "      auth:\n        secret_mode: static\n"
	    "        secret_file: %s\n", p);
	expect_ok(y, &cfg);
	assert_int_equal(cfg.secret_mode, XR_SECRET_STATIC);
	assert_string_equal(cfg.secret_file, p);
	assert_null(cfg.secret_inline);
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d), XR_OK);
	assert_int_equal(xr_keys_derive((const uint8_t *)secret,
	    strlen(secret), XR_KDF_HKDF_SHA256, &want), XR_OK);
	assert_memory_equal(&ks, &want, sizeof(ks));
	assert_int_equal(ks.kdf, XR_KDF_HKDF_SHA256);
	assert_int_equal(ks.k[XR_DIR_WEB_TO_EXEC].len, 32);
	xr_config_free(&cfg);

	/* inline development value, kdf none: every key is the secret */
	snprintf(y, sizeof(y), "runtime:\n  platform:\n    execution_ipc:\n"
	    "      auth:\n        secret_mode: static\n"
	    "        secret: \"%s\"\n        kdf: none\n", secret);
	expect_ok(y, &cfg);
	assert_int_equal(cfg.secret_inline_len, strlen(secret));
	assert_memory_equal(cfg.secret_inline, secret, strlen(secret));
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d), XR_OK);
	assert_int_equal(ks.kdf, XR_KDF_NONE);
	for (int i = 0; i < XR_DIR_COUNT; i++) {
		assert_int_equal(ks.k[i].len, strlen(secret));
		assert_memory_equal(ks.k[i].b, secret, strlen(secret));
	}
	xr_config_free(&cfg);
	assert_null(cfg.secret_inline);
	assert_int_equal(cfg.secret_inline_len, 0);

	/* generated: fresh keys each time */
	expect_ok("", &cfg);
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d), XR_OK);
	assert_int_equal(xr_config_keyset(&cfg, &ks2, &d), XR_OK);
	assert_int_equal(ks.k[0].len, 32);
	assert_memory_not_equal(ks.k[0].b, ks2.k[0].b, 32);
	xr_keyset_wipe(&ks);
	xr_keyset_wipe(&ks2);
	xr_keyset_wipe(&want);
	xr_config_free(&cfg);
	xr_config_free(NULL);
}

/*
 * KEY-IPC-02 (issue 11, defect 9): a config file that holds an inline
 * secret passes the rules of a secret_file: a mode with any group or other
 * bit (0644, 0640, 0604, 0660) or a symbolic link is secret_invalid at
 * load, the config reset to defaults; 0600 and 0400 load. A file without
 * an inline secret keeps its mode free. Once the keys are derived,
 * xr_config_wipe_secret() takes the inline value, and a later keyset says
 * why there is none.
 */
static void
test_KEY_IPC_02_inline_needs_private_file(void **state)
{
	const char *secret = canary;
	static const mode_t bad[] = { 0644, 0640, 0604, 0660 };
	char y[512], want[512], link[160];
	const char *p;
	xr_config cfg;
	xr_keyset ks, want_ks;
	xr_diag d;

	(void)state;
	snprintf(y, sizeof(y), "runtime:\n  platform:\n    execution_ipc:\n"
	    "      auth:\n        secret_mode: static\n"
	    "        secret: \"%s\"\n", secret);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = write_file("inline.yaml", y, strlen(y), bad[i]);
		memset(&d, 0, sizeof(d));
		assert_int_equal(xr_config_load_file(p, &cfg, &d),
		    XR_ERR_SECRET_INVALID);
		snprintf(want, sizeof(want), P_AUTH ".secret: an inline "
		    "secret needs a private config file: config file %s: "
		    "mode %03o is accessible by group or other (must be 0600 "
		    "or stricter)", p, (unsigned)bad[i]);
		assert_string_equal(d.reason, want);
		assert_int_equal(d.code, XR_ERR_SECRET_INVALID);
		assert_null(cfg.secret_inline);
		assert_int_equal(cfg.secret_mode, XR_SECRET_GENERATED);
		assert_no_canary(d.reason);
	}

	/* a symbolic link to a 0600 file: as for secret_file */
	p = write_file("inline.yaml", y, strlen(y), 0600);
	snprintf(link, sizeof(link), "%s/link.yaml", tmpdir);
	unlink(link);
	assert_int_equal(symlink(p, link), 0);
	assert_int_equal(xr_config_load_file(link, &cfg, &d),
	    XR_ERR_SECRET_INVALID);
	snprintf(want, sizeof(want), P_AUTH ".secret: an inline secret needs "
	    "a private config file: config file %s: is a symbolic link (not "
	    "followed; name the file itself)", link);
	assert_string_equal(d.reason, want);
	unlink(link);

	/* 0600 and 0400 load, and give the secret's keys */
	assert_int_equal(xr_keys_derive((const uint8_t *)secret,
	    strlen(secret), XR_KDF_HKDF_SHA256, &want_ks), XR_OK);
	p = write_file("inline.yaml", y, strlen(y), 0400);
	assert_int_equal(xr_config_load_file(p, &cfg, &d), XR_OK);
	xr_config_free(&cfg);
	p = write_file("inline.yaml", y, strlen(y), 0600);
	assert_int_equal(xr_config_load_file(p, &cfg, &d), XR_OK);
	assert_int_equal(cfg.secret_inline_len, strlen(secret));
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d), XR_OK);
	assert_memory_equal(&ks, &want_ks, sizeof(ks));

	/* the keys are derived: the inline value goes */
	xr_config_wipe_secret(&cfg);
	assert_null(cfg.secret_inline);
	assert_int_equal(cfg.secret_inline_len, 0);
	assert_true(cfg.secret_wiped);
	memset(&d, 0, sizeof(d));
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d),
	    XR_ERR_SECRET_INVALID);
	assert_string_equal(d.reason, P_AUTH ".secret: wiped once the keys "
	    "were derived (xr_config_wipe_secret); load the config again");
	xr_config_wipe_secret(&cfg);		/* again: a no-op */
	xr_config_wipe_secret(NULL);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
	xr_keyset_wipe(&want_ks);

	/* no inline secret: the mode is not this rule's business */
	snprintf(y, sizeof(y), "runtime: {platform: {execution_ipc: "
	    "{auth: {secret_mode: generated}}}}\n");
	p = write_file("plain.yaml", y, strlen(y), 0644);
	assert_int_equal(xr_config_load_file(p, &cfg, &d), XR_OK);
	assert_false(cfg.secret_wiped);
	xr_config_free(&cfg);
}

/* KEY-IPC-04: no diagnostic about a bad secret configuration contains the
 * secret, nor any 8-byte run of it. */
static void
test_KEY_IPC_04_no_secret_in_errors(void **state)
{
	char y[512], shortc[32];
	const char *p;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d;
	int r;

	(void)state;
	assert_true(strlen(canary) >= XR_SECRET_MIN);
	memcpy(shortc, canary, 20);
	shortc[20] = '\0';

	/* "@" stands for the canary, "%" for its 20-byte prefix */
	static const char *const bad[] = {
		/* too short (a prefix of the canary) */
		"      auth: {secret_mode: static, secret: \"%\"}\n",
		/* conflicting: secret with secret_mode generated */
		"      auth: {secret_mode: generated, secret: \"@\"}\n",
		"      auth: {secret: \"@\"}\n",
		/* conflicting: both sources */
		"      auth: {secret_mode: static, secret_file: /x, "
		"secret: \"@\"}\n",
		/* misplaced into other auth keys */
		"      auth: {secret_mode: \"@\"}\n",
		"      auth: {kdf: \"@\"}\n",
		"      auth: {mode: \"@\"}\n",
		"      auth: {secret_mode: static, secret: [\"@\"]}\n",
		"      auth: {secret_mode: static, secret: {\"x\": \"@\"}}\n",
		/* a valid secret, then a later error in the same section */
		"      auth: {secret_mode: static, secret: \"@\", "
		"ttl_seconds: 0}\n",
		"      auth: {secret_mode: static, secret: \"@\", bogus: 1}\n",
		"      auth: {secret_mode: static, secret: \"@\", "
		"secret: \"@\"}\n",
		"      auth: {secret_mode: static, secret: \"@\"}\n"
		"    bootstrap: {mode: process_supervisor}\n",
		/* a syntax error right after the secret */
		"      auth: {secret_mode: static, secret: \"@\" : :}\n",
		"      auth: {secret_mode: static, secret: \"@\n",
		"      auth: {secret_mode: static, secret: @}\n  - x\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t o = (size_t)snprintf(y, sizeof(y), "runtime:\n"
		    "  platform:\n    execution_ipc:\n");

		for (const char *t = bad[i]; *t != '\0' && o + 40 < sizeof(y);
		    t++) {
			if (*t == '@')
				o += (size_t)snprintf(y + o, sizeof(y) - o,
				    "%s", canary);
			else if (*t == '%')
				o += (size_t)snprintf(y + o, sizeof(y) - o,
				    "%s", shortc);
			else
				y[o++] = *t;
		}
		y[o] = '\0';
		r = load(y, &cfg, &d);
		if (r == XR_OK)
			fail_msg("accepted: %s", y);
		assert_int_equal(d.code, r);
		assert_no_canary(d.reason);
		assert_null(cfg.secret_inline);
		xr_config_free(&cfg);
	}
	expect_err("runtime: {platform: {execution_ipc: {auth: {secret_mode: "
	    "static, secret: \"CANARY-SECRET-0123456\"}}}}",
	    XR_ERR_SECRET_INVALID,
	    P_AUTH ".secret: too short (minimum 32 bytes)", NULL);

	/* a file readable by group/other is refused by xr_config_keyset */
	p = write_file("loose", canary, strlen(canary), 0644);
	snprintf(y, sizeof(y), "runtime:\n  platform:\n    execution_ipc:\n"
	    "      auth:\n        secret_mode: static\n"
	    "        secret_file: %s\n", p);
	expect_ok(y, &cfg);
	memset(&d, 0, sizeof(d));
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d),
	    XR_ERR_SECRET_INVALID);
	assert_int_equal(d.code, XR_ERR_SECRET_INVALID);
	assert_non_null(strstr(d.reason, P_AUTH ".secret_file"));
	assert_no_canary(d.reason);
	for (size_t i = 0; i < sizeof(ks); i++)
		assert_int_equal(((uint8_t *)&ks)[i], 0);
	xr_config_free(&cfg);

	/* a short file, and a missing one */
	p = write_file("short", shortc, strlen(shortc), 0600);
	snprintf(y, sizeof(y), "runtime:\n  platform:\n    execution_ipc:\n"
	    "      auth:\n        secret_mode: static\n"
	    "        secret_file: %s\n", p);
	expect_ok(y, &cfg);
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d),
	    XR_ERR_SECRET_INVALID);
	assert_no_canary(d.reason);
	xr_config_free(&cfg);
	snprintf(y, sizeof(y), "runtime:\n  platform:\n    execution_ipc:\n"
	    "      auth:\n        secret_mode: static\n"
	    "        secret_file: %s/missing\n", tmpdir);
	expect_ok(y, &cfg);
	assert_int_equal(xr_config_keyset(&cfg, &ks, &d),
	    XR_ERR_SECRET_INVALID);
	assert_no_canary(d.reason);
	xr_config_free(&cfg);

	/* the valid canary is accepted and kept exactly */
	snprintf(y, sizeof(y), "runtime: {platform: {execution_ipc: {auth: "
	    "{secret_mode: static, secret: \"%s\"}}}}", canary);
	expect_ok(y, &cfg);
	assert_memory_equal(cfg.secret_inline, canary, strlen(canary));
	xr_config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_BOOT_CFG_01_unsupported_bootstrap_mode),
		cmocka_unit_test(test_BOOT_CFG_02_invalid_secret_mode),
		cmocka_unit_test(test_BOOT_CFG_03_invalid_kdf),
		cmocka_unit_test(test_BOOT_CFG_04_defaults),
		cmocka_unit_test(test_BOOT_CFG_05_supervisor_requires_tcp_local),
		cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_unsupported_enums),
		cmocka_unit_test(test_SEC_IPC_07_bind_host_and_port),
		cmocka_unit_test(test_unknown_key_each_level),
		cmocka_unit_test(test_redis_keys),
		cmocka_unit_test(test_echo_rendering_and_bound),
		cmocka_unit_test(test_wrong_node_type),
		cmocka_unit_test(test_number_ranges),
		cmocka_unit_test(test_table_uint_ranges),
		cmocka_unit_test(test_table_defaults),
		cmocka_unit_test(test_table_bundle_rows),
		cmocka_unit_test(test_apps_flatten),
		cmocka_unit_test(test_apps_bounds),
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_anchors_aliases_documents),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_group_roles),
		cmocka_unit_test(test_control_socket),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_truncate_and_flip),
		cmocka_unit_test(test_secret_rules),
		cmocka_unit_test(test_KEY_IPC_02_static_secret),
		cmocka_unit_test(test_KEY_IPC_02_inline_needs_private_file),
		cmocka_unit_test(test_KEY_IPC_04_no_secret_in_errors),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
