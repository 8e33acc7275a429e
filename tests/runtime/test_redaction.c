/*
 * tests/runtime/test_redaction.c — SEC-IPC-08 / IPC-INT-08 over the
 * lifecycle's life: the transport keys a lifecycle derives are registered
 * for log redaction while it lives and removed when it is freed, so a
 * process that starts and frees lifecycles again and again (tests, an
 * application restarting its runtime) still redacts the current keys and
 * the redaction table does not grow. A full table makes start() fail
 * instead of running with keys a log line could show.
 *
 * The keys: static secrets, one per round, derived here the same way
 * (xr_keys_derive, hkdf_sha256). This binary is its own worker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_rt.h"
#include "log.h"

#define ROUNDS 40

static char last_line[1100];

/* Keeps the last line; never fails (a cmocka failure would longjmp out
 * of xr_log). */
static void
sink(void *arg, xr_log_level lvl, const char *line)
{
	(void)arg;
	(void)lvl;
	snprintf(last_line, sizeof(last_line), "%s", line);
}

static int
setup(void **state)
{
	(void)state;
	xr_log_forget_secrets();
	xr_log_set_sink(sink, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	xr_log_set_sink(NULL, NULL);
	xr_log_forget_secrets();
	return 0;
}

static void
to_hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * The secret of round `round` and its keys: the first variant whose three
 * keys hold no NUL byte, so that "%.*s" prints each one whole (raw
 * redaction is then tested on every key, not on a prefix).
 */
static void
round_secret(int round, char *secret, size_t cap, xr_keyset *ks)
{
	for (int v = 0; v < 1000; v++) {
		bool nul = false;

		snprintf(secret, cap, "redaction-round-%02d-variant-%03d-"
		    "0123456789abcdef", round, v);
		assert_int_equal(xr_keys_derive((const uint8_t *)secret,
		    strlen(secret), XR_KDF_HKDF_SHA256, ks), XR_OK);
		for (int i = 0; i < XR_DIR_COUNT; i++)
			nul = nul || memchr(ks->k[i].b, 0, ks->k[i].len) != NULL;
		if (!nul)
			return;
		xr_keyset_wipe(ks);
	}
	fail_msg("no secret variant without a NUL in its keys");
}

static void
yaml_for(const char *secret, char *yaml, size_t cap)
{
	snprintf(yaml, cap,
	    "runtime:\n  platform:\n"
	    "    execution_ipc:\n"
	    "      auth: {secret_mode: static, secret: \"%s\", "
	    "kdf: hkdf_sha256}\n"
	    "    process_groups:\n"
	    "      - {name: a, services: [echo.v1.Echo]}\n", secret);
}

/* 1 if a line with key `i` of `ks` as hex and raw comes out redacted, 0 if
 * it comes out whole (asserts it is one or the other). */
static int
key_redacted(const xr_keyset *ks, int i)
{
	char hex[2 * sizeof(ks->k[i].b) + 1], want[1100];
	const xr_key *k = &ks->k[i];

	to_hex(k->b, k->len, hex);
	xr_warn("key %d hex %s raw <%.*s> end", i, hex, (int)k->len,
	    (const char *)k->b);
	snprintf(want, sizeof(want), "key %d hex [REDACTED] raw <[REDACTED]> "
	    "end", i);
	if (strcmp(last_line, want) == 0)
		return 1;
	/* whole: the hex is there, nothing redacted */
	assert_non_null(strstr(last_line, hex));
	assert_null(strstr(last_line, "[REDACTED]"));
	return 0;
}

/*
 * ROUNDS lifecycles started, used and freed in one process, each with new
 * keys: while one lives its three keys are redacted (hex and raw) and the
 * table holds exactly them; once freed the table is back where it was and
 * the old keys are no longer registered. (With registrations never
 * removed, the 16-slot table was full after 5 rounds and later keys were
 * logged in clear.)
 */
static void
test_sec_ipc_08_lifecycles_restarted(void **state)
{
	xr_keyset ks, prev;
	char secret[128], yaml[512];
	size_t base = xr_log_secret_count();

	(void)state;
	memset(&prev, 0, sizeof(prev));
	assert_int_equal(base, 0);
	for (int round = 0; round < ROUNDS; round++) {
		rt_ctx r;
		rt_result res;
		int err;

		round_secret(round, secret, sizeof(secret), &ks);
		yaml_for(secret, yaml, sizeof(yaml));
		rt_up(&r, yaml);
		assert_int_equal(xr_log_secret_count(), base + XR_DIR_COUNT);
		assert_int_equal(rt_say(xr_lifecycle_pick(r.lc, "echo.v1.Echo",
		    NULL, 0, &err), "echo.v1.Echo/Say", "hi", 0, 0, 2000, &res),
		    XR_STATUS_OK);
		for (int i = 0; i < XR_DIR_COUNT; i++)
			assert_int_equal(key_redacted(&ks, i), 1);
		if (round > 0)
			for (int i = 0; i < XR_DIR_COUNT; i++)
				assert_int_equal(key_redacted(&prev, i), 0);
		rt_free(&r);
		assert_int_equal(xr_log_secret_count(), base);
		for (int i = 0; i < XR_DIR_COUNT; i++)
			assert_int_equal(key_redacted(&ks, i), 0);
		xr_keyset_wipe(&prev);
		prev = ks;
	}
	xr_keyset_wipe(&prev);
	xr_keyset_wipe(&ks);
}

/*
 * A table with room for two secrets only: start() fails with
 * XR_ERR_NO_SPACE (state FAILED), registers nothing; with room for the
 * three keys it starts.
 */
static void
test_full_table_refuses_start(void **state)
{
	xr_log_secret_id fill[XR_LOG_SECRETS_MAX];
	size_t nfill = XR_LOG_SECRETS_MAX - 2;
	xr_keyset ks;
	char secret[128], yaml[512];
	uint8_t key[16];
	rt_ctx r;
	xr_diag d = { 0 };

	(void)state;
	for (size_t i = 0; i < nfill; i++) {
		memset(key, 'f', sizeof(key));
		key[0] = (uint8_t)('a' + i);
		assert_int_equal(xr_log_secret_add(key, sizeof(key), &fill[i]),
		    XR_OK);
	}
	round_secret(99, secret, sizeof(secret), &ks);
	yaml_for(secret, yaml, sizeof(yaml));
	rt_new(&r, yaml, NULL, NULL);
	assert_int_equal(xr_lifecycle_start(r.lc, &d), XR_ERR_NO_SPACE);
	assert_int_equal(d.code, XR_ERR_NO_SPACE);
	assert_non_null(strstr(d.reason, "log redaction"));
	assert_int_equal(xr_lifecycle_status(r.lc), XR_LC_FAILED);
	assert_null(xr_lifecycle_transport(r.lc));
	assert_int_equal(xr_log_secret_count(), nfill);
	for (int i = 0; i < XR_DIR_COUNT; i++)
		assert_int_equal(key_redacted(&ks, i), 0);
	rt_free(&r);
	assert_int_equal(xr_log_secret_count(), nfill);

	/* one more slot: the three keys fit */
	xr_log_secret_remove(&fill[0]);
	rt_up(&r, yaml);
	assert_int_equal(xr_log_secret_count(), XR_LOG_SECRETS_MAX);
	for (int i = 0; i < XR_DIR_COUNT; i++)
		assert_int_equal(key_redacted(&ks, i), 1);
	rt_free(&r);
	assert_int_equal(xr_log_secret_count(), nfill - 1);
	for (size_t i = 1; i < nfill; i++)
		xr_log_secret_remove(&fill[i]);
	assert_int_equal(xr_log_secret_count(), 0);
	xr_keyset_wipe(&ks);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_sec_ipc_08_lifecycles_restarted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table_refuses_start,
		    setup, teardown),
	};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
