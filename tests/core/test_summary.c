/*
 * tests/core/test_summary.c — core/summary.c: the runtime summary JSON
 * (BOOT-SUM-01, BOOT-SUM-02, IPC-INT-03).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "summary.h"

#define INLINE_SECRET "inline-dev-secret-0123456789-abcdefghij"

static const char full_yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "      bind_host: 127.0.0.2\n"
    "      bind_port: 7001\n"
    "      max_payload_bytes: 65536\n"
    "      auth:\n"
    "        secret_mode: static\n"
    "        secret_file: /etc/execrpc/secret-path-xyz\n"
    "        kdf: none\n"
    "        ttl_seconds: 45\n"
    "        nonce_cache_size: 4096\n"
    "    bootstrap:\n"
    "      mode: process_supervisor\n"
    "    lifecycle:\n"
    "      ready_timeout_seconds: 7\n"
    "      graceful_timeout_seconds: 0\n"
    "      drain_inflight: false\n"
    "    control:\n"
    "      socket: /tmp/xr-ctl.sock\n"
    "    process_groups:\n"
    "      - name: execution\n"
    "        workers: 3\n"
    "        services: [fundload.v1.FundLoad, echo.v1.Echo]\n"
    "      - name: batch\n"
    "        restart: never\n"
    "        services: [echo.v1.Echo]\n"
    "apps:\n"
    "  fundload:\n"
    "    rules: experiment\n";

static const char inline_yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc:\n"
    "      auth:\n"
    "        secret_mode: static\n"
    "        secret: \"" INLINE_SECRET "\"\n";

/* Load `yaml` and render its summary; the caller frees the result. */
static char *
render(const char *yaml)
{
	xr_config cfg;
	xr_diag d;
	char *s = NULL;
	int r;

	if ((r = xr_config_load_string(yaml, strlen(yaml), &cfg, &d)) != XR_OK)
		fail_msg("config: %d %s", r, d.reason);
	assert_int_equal(xr_summary_json(&cfg, &s), XR_OK);
	xr_config_free(&cfg);
	assert_non_null(s);
	return s;
}

static json_t *
parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (j == NULL)
		fail_msg("summary is not JSON: %s (line %d)", e.text, e.line);
	return j;
}

static const char *
str_at(json_t *o, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t
int_at(json_t *o, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void
assert_keys(json_t *o, size_t n)
{
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), n);
}

static void
assert_group(json_t *g, const char *name, json_int_t workers,
    const char *restart, const char *s0, const char *s1)
{
	json_t *svc = json_object_get(g, "services");

	assert_keys(g, 5);
	assert_string_equal(str_at(g, "name", NULL, NULL), name);
	assert_string_equal(str_at(g, "role", NULL, NULL), "execution");
	assert_int_equal(int_at(g, "workers", NULL, NULL), workers);
	assert_string_equal(str_at(g, "restart", NULL, NULL), restart);
	assert_true(json_is_array(svc));
	assert_int_equal(json_array_size(svc), s0 == NULL ? 0 :
	    s1 != NULL ? 2 : 1);
	if (s0 != NULL)
		assert_string_equal(json_string_value(json_array_get(svc, 0)),
		    s0);
	if (s1 != NULL)
		assert_string_equal(json_string_value(json_array_get(svc, 1)),
		    s1);
}

/* BOOT-SUM-01: the summary shows bootstrap mode, secret mode, kdf, limits,
 * groups and transport — every field, for a full and a default config. */
static void
test_BOOT_SUM_01_fields(void **state)
{
	char *s;
	json_t *j, *g;

	(void)state;
	s = render(full_yaml);
	j = parse(s);
	assert_keys(j, 7);
	assert_keys(json_object_get(j, "bootstrap"), 1);
	assert_string_equal(str_at(j, "bootstrap", "mode", NULL),
	    "process_supervisor");
	assert_keys(json_object_get(j, "execution_ipc"), 5);
	assert_string_equal(str_at(j, "execution_ipc", "transport", NULL),
	    "tcp_local");
	assert_string_equal(str_at(j, "execution_ipc", "bind_host", NULL),
	    "127.0.0.2");
	assert_int_equal(int_at(j, "execution_ipc", "bind_port", NULL), 7001);
	assert_int_equal(int_at(j, "execution_ipc", "max_payload_bytes",
	    NULL), 65536);
	g = json_object_get(json_object_get(j, "execution_ipc"), "auth");
	assert_keys(g, 7);
	assert_string_equal(str_at(g, "mode", NULL, NULL), "hmac");
	assert_string_equal(str_at(g, "kdf", NULL, NULL), "none");
	assert_string_equal(str_at(g, "secret_mode", NULL, NULL), "static");
	assert_string_equal(str_at(g, "secret_source", NULL, NULL), "file");
	assert_true(json_is_true(json_object_get(g,
	    "secret_file_configured")));
	assert_int_equal(int_at(g, "ttl_seconds", NULL, NULL), 45);
	assert_int_equal(int_at(g, "nonce_cache_size", NULL, NULL), 4096);
	assert_keys(json_object_get(j, "lifecycle"), 3);
	assert_true(json_is_false(json_object_get(json_object_get(j,
	    "lifecycle"), "drain_inflight")));
	assert_int_equal(int_at(j, "lifecycle", "graceful_timeout_seconds",
	    NULL), 0);
	assert_int_equal(int_at(j, "lifecycle", "ready_timeout_seconds",
	    NULL), 7);
	assert_keys(json_object_get(j, "control"), 1);
	assert_string_equal(str_at(j, "control", "socket", NULL),
	    "/tmp/xr-ctl.sock");
	g = json_object_get(j, "process_groups");
	assert_true(json_is_array(g));
	assert_int_equal(json_array_size(g), 2);
	assert_group(json_array_get(g, 0), "execution", 3, "on-failure",
	    "fundload.v1.FundLoad", "echo.v1.Echo");
	assert_group(json_array_get(g, 1), "batch", 1, "never",
	    "echo.v1.Echo", NULL);
	assert_keys(json_object_get(j, "apps"), 1);
	assert_keys(json_object_get(json_object_get(j, "apps"), "fundload"),
	    1);
	assert_string_equal(str_at(j, "apps", "fundload", "rules"),
	    "experiment");
	assert_string_equal(str_at(j, "version", NULL, NULL),
	    XR_SUMMARY_VERSION);
	/* the secret file path is not in the summary */
	assert_null(strstr(s, "secret-path-xyz"));
	json_decref(j);
	free(s);

	/* defaults */
	s = render("");
	j = parse(s);
	assert_string_equal(str_at(j, "bootstrap", "mode", NULL), "inline");
	assert_string_equal(str_at(j, "execution_ipc", "transport", NULL),
	    "memory");
	assert_string_equal(str_at(j, "execution_ipc", "bind_host", NULL),
	    "127.0.0.1");
	assert_int_equal(int_at(j, "execution_ipc", "bind_port", NULL), 0);
	assert_int_equal(int_at(j, "execution_ipc", "max_payload_bytes",
	    NULL), 1048576);
	g = json_object_get(json_object_get(j, "execution_ipc"), "auth");
	assert_string_equal(str_at(g, "kdf", NULL, NULL), "hkdf_sha256");
	assert_string_equal(str_at(g, "secret_mode", NULL, NULL), "generated");
	assert_string_equal(str_at(g, "secret_source", NULL, NULL),
	    "generated");
	assert_true(json_is_false(json_object_get(g,
	    "secret_file_configured")));
	assert_int_equal(int_at(g, "ttl_seconds", NULL, NULL), 30);
	assert_int_equal(int_at(g, "nonce_cache_size", NULL, NULL), 65536);
	assert_true(json_is_true(json_object_get(json_object_get(j,
	    "lifecycle"), "drain_inflight")));
	assert_int_equal(int_at(j, "lifecycle", "graceful_timeout_seconds",
	    NULL), 10);
	assert_int_equal(int_at(j, "lifecycle", "ready_timeout_seconds",
	    NULL), 5);
	assert_string_equal(str_at(j, "control", "socket", NULL),
	    "/run/execrpc/control.sock");
	g = json_object_get(j, "process_groups");
	assert_int_equal(json_array_size(g), 1);
	/* the default group: every service of the program; no apps */
	assert_group(json_array_get(g, 0), "execution", 2, "on-failure",
	    NULL, NULL);
	assert_keys(json_object_get(j, "apps"), 0);
	json_decref(j);
	free(s);

	/* inline secret source */
	s = render(inline_yaml);
	j = parse(s);
	g = json_object_get(json_object_get(j, "execution_ipc"), "auth");
	assert_string_equal(str_at(g, "secret_source", NULL, NULL), "inline");
	assert_true(json_is_false(json_object_get(g,
	    "secret_file_configured")));
	json_decref(j);
	free(s);
}

static void
hex(const char *in, size_t n, char *out, const char *digits)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[(unsigned char)in[i] >> 4];
		out[2 * i + 1] = digits[(unsigned char)in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
base64(const char *in, size_t n, char *out)
{
	static const char t[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = t[p[i] >> 2];
		out[o++] = t[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = t[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = t[p[i + 2] & 63];
	}
	if (i < n) {
		out[o++] = t[p[i] >> 2];
		if (i + 1 < n) {
			out[o++] = t[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			out[o++] = t[(p[i + 1] & 15) << 2];
		} else {
			out[o++] = t[(p[i] & 3) << 4];
			out[o++] = '=';
		}
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* The apps sections, whatever application they are for, as their
 * flattened settings with the values as written. */
static void
test_apps_generic(void **state)
{
	char *s;
	json_t *j, *a;

	(void)state;
	s = render("apps:\n"
	    "  zeta: {rules: experiment}\n"
	    "  alpha:\n"
	    "    limits: {day: 5, week: '20'}\n"
	    "    hosts: [a, {port: 80}]\n"
	    "    off: ~\n"
	    "  empty: {}\n");
	j = parse(s);
	a = json_object_get(j, "apps");
	assert_keys(a, 3);
	assert_keys(json_object_get(a, "zeta"), 1);
	assert_string_equal(str_at(a, "zeta", "rules", NULL), "experiment");
	assert_keys(json_object_get(a, "alpha"), 5);
	assert_string_equal(str_at(a, "alpha", "limits.day", NULL), "5");
	assert_string_equal(str_at(a, "alpha", "limits.week", NULL), "20");
	assert_string_equal(str_at(a, "alpha", "hosts[0]", NULL), "a");
	assert_string_equal(str_at(a, "alpha", "hosts[1].port", NULL), "80");
	assert_string_equal(str_at(a, "alpha", "off", NULL), "~");
	assert_keys(json_object_get(a, "empty"), 0);
	/* sorted keys: alpha's settings in byte order */
	assert_non_null(strstr(s, "\"hosts[0]\": \"a\",\n      "
	    "\"hosts[1].port\": \"80\",\n      \"limits.day\": \"5\""));
	json_decref(j);
	free(s);
}

/* BOOT-SUM-02: the summary is deterministic, its keys are sorted, and it
 * holds no secret material (raw, hex, base64, or any 8-byte run). */
static void
test_BOOT_SUM_02_deterministic_no_secret(void **state)
{
	static const char *const yamls[] = { full_yaml, inline_yaml, "" };
	const char *sec = INLINE_SECRET;
	size_t sl = strlen(sec);
	char enc[256];

	(void)state;
	for (size_t k = 0; k < sizeof(yamls) / sizeof(yamls[0]); k++) {
		char *a = render(yamls[k]), *b = render(yamls[k]), *c;
		json_t *j = parse(a);
		size_t n = strlen(a);

		assert_string_equal(a, b);
		/* equal to jansson's own sorted, indented rendering */
		c = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2));
		assert_non_null(c);
		assert_int_equal(n, strlen(c) + 1);
		assert_memory_equal(a, c, strlen(c));
		assert_true(a[n - 1] == '\n' && a[n - 2] != '\n');
		free(c);
		json_decref(j);

		assert_null(strstr(a, sec));
		for (size_t i = 0; i + 8 <= sl; i++)
			assert_null(memmem(a, n, sec + i, 8));
		hex(sec, sl, enc, "0123456789abcdef");
		assert_null(strstr(a, enc));
		hex(sec, sl, enc, "0123456789ABCDEF");
		assert_null(strstr(a, enc));
		for (size_t off = 0; off < 3; off++) {
			/* every alignment of the secret inside a stream */
			base64(sec + off, sl - off, enc);
			enc[16] = '\0';
			assert_null(strstr(a, enc + 4));
		}
		free(a);
		free(b);
	}
}

/* IPC-INT-03: the summary reports the active transport profile,
 * deterministically. */
static void
test_IPC_INT_03_transport_profile(void **state)
{
	char *m1, *m2, *t1, *t2;
	json_t *j;

	(void)state;
	m1 = render("");
	m2 = render("runtime: {platform: {execution_ipc: "
	    "{transport: memory}}}");
	t1 = render("runtime: {platform: {execution_ipc: "
	    "{transport: tcp_local}}}");
	t2 = render("runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n");
	assert_string_equal(m1, m2);
	assert_string_equal(t1, t2);
	assert_string_not_equal(m1, t1);
	assert_non_null(strstr(m1, "\"transport\": \"memory\""));
	assert_non_null(strstr(t1, "\"transport\": \"tcp_local\""));
	j = parse(t1);
	assert_string_equal(str_at(j, "execution_ipc", "transport", NULL),
	    "tcp_local");
	json_decref(j);
	free(m1);
	free(m2);
	free(t1);
	free(t2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_BOOT_SUM_01_fields),
		cmocka_unit_test(test_apps_generic),
		cmocka_unit_test(test_BOOT_SUM_02_deterministic_no_secret),
		cmocka_unit_test(test_IPC_INT_03_transport_profile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
