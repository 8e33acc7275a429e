/* tests/core/test_err.c — core/err.c: xr_diag_set and the programs' one
 * diagnostic line, xr_diag_print (exact bytes and exit statuses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

/* Print through xr_diag_print into memory; returns the status, `out` the
 * bytes (caller frees). */
static int
printed(const char *prog, int code, const xr_diag *d, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int st;

	assert_non_null(f);
	st = xr_diag_print(f, prog, code, d);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(*out), len);
	return st;
}

static void
test_diag_set(void **state)
{
	xr_diag d = { 0 };

	(void)state;
	assert_int_equal(xr_diag_set(&d, XR_ERR_CONFIG_INVALID, "key %s: %d",
	    "auth.ttl_seconds", 7), XR_ERR_CONFIG_INVALID);
	assert_int_equal(d.code, XR_ERR_CONFIG_INVALID);
	assert_string_equal(d.reason, "key auth.ttl_seconds: 7");
	assert_int_equal(xr_diag_set(NULL, XR_ERR_NOMEM, "x"), XR_ERR_NOMEM);
}

static void
test_diag_print_exact(void **state)
{
	xr_diag d = { 0 };
	char *s = NULL;

	(void)state;
	xr_diag_set(&d, XR_ERR_CONFIG_INVALID, "auth.ttl_seconds: out of range");
	assert_int_equal(printed("execrpc-server", XR_ERR_CONFIG_INVALID, &d,
	    &s), 2);
	assert_string_equal(s, "execrpc-server: config_invalid (code -20): "
	    "auth.ttl_seconds: out of range\n");
	free(s);

	/* the code printed is the argument, the reason d's */
	xr_diag_set(&d, XR_ERR_BAD_SIGNATURE, "tag wrong");
	assert_int_equal(printed("fundload", XR_ERR_CHILD_BOOTSTRAP_FAILED, &d,
	    &s), 8);
	assert_string_equal(s, "fundload: child_bootstrap_failed (code -34): "
	    "tag wrong\n");
	free(s);

	/* an empty reason or no diag: xr_strerror(code) */
	d.reason[0] = '\0';
	assert_int_equal(printed("execrpc", XR_ERR_READY_TIMEOUT, &d, &s), 5);
	assert_string_equal(s, "execrpc: ready_timeout (code -37): "
	    "workers not ready before the timeout\n");
	free(s);
	assert_int_equal(printed("execrpc-supervisor", XR_ERR_STOP_FAILED, NULL,
	    &s), 10);
	assert_string_equal(s, "execrpc-supervisor: stop_failed (code -36): "
	    "stop failed\n");
	free(s);

	/* an unknown code: internal, status 1 */
	assert_int_equal(printed("p", -999, NULL, &s), 1);
	assert_string_equal(s, "p: unknown (code -999): unknown error\n");
	free(s);
}

/* The returned status is the category for every code of the table. */
static void
test_diag_print_status(void **state)
{
	static const int codes[] = {
		XR_ERR_INTERNAL, XR_ERR_NOMEM, XR_ERR_INVALID_ARG,
		XR_ERR_SYSTEM, XR_ERR_AGAIN, XR_ERR_NO_SPACE, XR_ERR_CLOSED,
		XR_ERR_OVERSIZED, XR_ERR_BAD_SIGNATURE, XR_ERR_MALFORMED,
		XR_ERR_KIND_NOT_ALLOWED, XR_ERR_EXPIRED, XR_ERR_REPLAY,
		XR_ERR_NONCE_CACHE_FULL, XR_ERR_CONFIG_INVALID,
		XR_ERR_CONFIG_SYNTAX, XR_ERR_SECRET_INVALID,
		XR_ERR_LIFECYCLE_RESOLUTION, XR_ERR_LIFECYCLE_NOT_READY,
		XR_ERR_WORKER_FAILED, XR_ERR_BOOTSTRAP_START_FAILED,
		XR_ERR_CHILD_BOOTSTRAP_FAILED, XR_ERR_STOP_TIMEOUT,
		XR_ERR_STOP_FAILED, XR_ERR_READY_TIMEOUT, XR_ERR_RPC,
	};
	static const int want[] = {
		1, 1, 1, 1, 1, 1, 1,
		3, 3, 3, 3, 3, 3, 3,
		2, 2, 2,
		4, 5, 6, 7, 8, 9, 10, 5, 11,
	};
	char *s = NULL;

	(void)state;
	assert_int_equal(sizeof(codes), sizeof(want));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_int_equal(printed("p", codes[i], NULL, &s), want[i]);
		free(s);
	}
	assert_int_equal(printed("p", XR_OK, NULL, &s), 0);
	assert_string_equal(s, "p: ok (code 0): success\n");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diag_set),
		cmocka_unit_test(test_diag_print_exact),
		cmocka_unit_test(test_diag_print_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
