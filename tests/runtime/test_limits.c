/*
 * tests/runtime/test_limits.c — runtime.platform.execution_ipc.max_payload_bytes
 * through the lifecycle and the transport service: the status a call gets
 * for a request over the limit and for a response over it.
 *
 * This first version records what tcp_local inline does today (before the
 * memory profile takes the limit): a request over the limit is refused by
 * the client (INVALID_ARGUMENT); a response over it is NOT refused while
 * its frame fits the body limit (max_payload_bytes + 4096): OK; a response
 * past the body limit closes the connection: UNAVAILABLE, and the inline
 * ingress has no usable worker left (XR_ERR_WORKER_FAILED). This binary is
 * its own worker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo/v1/echo.pb-c.h"
#include "helper_rt.h"

#define SAY "echo.v1.Echo/Say"
#define TSAY "test.v1.Echo/Say"
#define LIMIT 1024

/* One call's outcome. */
struct out {
	int code;		/* XR_STATUS_*, or an XR_ERR_* of the pick */
	char message[256];
	size_t req_len, resp_len;
};

/* A Say of `text` to `service` through the lifecycle's queue. */
static int
say(rt_ctx *r, const char *service, const char *method, const char *text,
    struct out *o)
{
	static uint8_t buf[1 << 16];
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t *resp = NULL;
	xr_channel *ch;
	xr_status st;
	int err;

	memset(o, 0, sizeof(*o));
	req.text = (char *)(uintptr_t)text;
	assert_true(echo__v1__say_request__get_packed_size(&req) <= sizeof(buf));
	o->req_len = echo__v1__say_request__pack(&req, buf);
	if ((ch = xr_lifecycle_pick(r->lc, service, NULL, 0, &err)) == NULL)
		return o->code = err;
	o->code = xr_call_sync_bytes(ch, method, buf, o->req_len, &resp,
	    &o->resp_len, 2000, &st);
	snprintf(o->message, sizeof(o->message), "%s", st.message);
	free(resp);
	return o->code;
}

/* A text of `n` bytes of 'x' (static; valid until the next call). */
static const char *
text_of(size_t n)
{
	static char t[4096];

	assert_true(n < sizeof(t));
	memset(t, 'x', n);
	t[n] = '\0';
	return t;
}

static const char *yaml_tcp =
    "runtime:\n  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "      max_payload_bytes: 1024\n"
    "    process_groups:\n"
    "      - {name: a, services: [echo.v1.Echo, test.v1.Echo]}\n";

/* tcp_local inline, as it is before the fix. */
static void
test_tcp_local_today(void **state)
{
	rt_ctx r;
	struct out o;
	xr_diag d = { 0 };

	(void)state;
	rt_up(&r, yaml_tcp);
	/* (a) a request over the limit: refused by the client */
	assert_int_equal(say(&r, "echo.v1.Echo", SAY, text_of(2000), &o),
	    XR_STATUS_INVALID_ARGUMENT);
	assert_int_equal(o.req_len, 2003);
	assert_string_equal(o.message, "request larger than max_payload_bytes");
	/* (b) a request at the limit whose response is over it: OK */
	assert_int_equal(say(&r, "echo.v1.Echo", SAY, text_of(1021), &o),
	    XR_STATUS_OK);
	assert_int_equal(o.req_len, LIMIT);
	assert_true(o.resp_len > LIMIT);
	/* a response far over the limit, inside the body limit: OK */
	assert_int_equal(say(&r, "test.v1.Echo", TSAY, "grow-5000", &o),
	    XR_STATUS_OK);
	assert_true(o.resp_len > 5000);
	/* past the body limit: the connection closes ... */
	assert_int_equal(say(&r, "test.v1.Echo", TSAY, "grow-6000", &o),
	    XR_STATUS_UNAVAILABLE);
	assert_string_equal(o.message, "connection closed: oversized frame");
	/* ... and the inline ingress has no usable worker left */
	assert_int_equal(say(&r, "echo.v1.Echo", SAY, "after", &o),
	    XR_ERR_WORKER_FAILED);
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	rt_free(&r);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_local_today),
	};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
