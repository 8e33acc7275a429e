/*
 * tests/runtime/test_limits.c — the channel limits of the config reach
 * every profile, with the same results: the same YAML but for
 * runtime.platform.execution_ipc.transport (memory, tcp_local), inline,
 * through the lifecycle and its transport service.
 *
 *  - max_payload_bytes 1024, requests: a request payload over it fails
 *    with INVALID_ARGUMENT before it leaves the channel; one at the limit
 *    is sent.
 *  - max_payload_bytes 1024, responses: a response payload of exactly 1024
 *    bytes is OK, one of 1025 (or of 6000, past tcp_local's body limit of
 *    max_payload_bytes + 4096) fails with RESOURCE_EXHAUSTED, and the
 *    ingress stays usable.
 *    Before the memory channel took the limit, tcp_local answered such
 *    responses OK up to the body limit and past it closed the connection
 *    (UNAVAILABLE; the inline ingress then had no usable worker), while
 *    memory answered everything OK.
 *  - in flight: the 1025th call pending on one channel is refused with
 *    RESOURCE_EXHAUSTED in both (memory used to admit 4096).
 *
 * This binary is its own worker.
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
#define INFLIGHT 1024		/* the transport's per-channel cap */

#define REQ_MSG "request larger than max_payload_bytes"
#define RESP_MSG "response larger than max_payload_bytes"

/* The same YAML but for the transport. */
static const char *const yamls[2] = {
    "runtime:\n  platform:\n"
    "    execution_ipc:\n"
    "      transport: memory\n"
    "      max_payload_bytes: 1024\n"
    "    process_groups:\n"
    "      - {name: a, services: [echo.v1.Echo, test.v1.Echo]}\n",
    "runtime:\n  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "      max_payload_bytes: 1024\n"
    "    process_groups:\n"
    "      - {name: a, services: [echo.v1.Echo, test.v1.Echo]}\n",
};
static const char *const profile[2] = { "memory", "tcp_local" };

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

/* The text length whose echo response (text + this pid) is `want` bytes. */
static size_t
text_for_response(size_t want)
{
	Echo__V1__SayResponse resp = ECHO__V1__SAY_RESPONSE__INIT;

	resp.worker_pid = (uint64_t)getpid();	/* inline: this process */
	for (size_t n = 0; n < 4000; n++) {
		resp.text = (char *)(uintptr_t)text_of(n);
		if (echo__v1__say_response__get_packed_size(&resp) == want)
			return n;
	}
	fail_msg("no text gives a %zu-byte response", want);
	return 0;
}

/* Every outcome of one profile, compared across profiles. */
struct outcomes {
	int code[6];
	char message[6][256];
};

static void
expect(const struct out *o, int code, const char *message)
{
	assert_int_equal(o->code, code);
	assert_string_equal(o->message, message);
}

static void
payload_limit(int m, struct outcomes *oc)
{
	rt_ctx r;
	struct out o[6];
	size_t at = text_for_response(LIMIT);
	xr_diag d = { 0 };

	rt_up(&r, yamls[m]);
	assert_int_equal(xr_transport_profile(rt_transport(&r)),
	    m == 0 ? XR_TRANSPORT_MEMORY : XR_TRANSPORT_TCP_LOCAL);
	/* a request over the limit, never sent */
	say(&r, "echo.v1.Echo", SAY, text_of(2000), &o[0]);
	assert_int_equal(o[0].req_len, 2003);
	expect(&o[0], XR_STATUS_INVALID_ARGUMENT, REQ_MSG);
	/* a request at the limit, sent; its echo is over the limit */
	say(&r, "echo.v1.Echo", SAY, text_of(1021), &o[1]);
	assert_int_equal(o[1].req_len, LIMIT);
	expect(&o[1], XR_STATUS_RESOURCE_EXHAUSTED, RESP_MSG);
	/* a response of exactly the limit, and one byte over */
	say(&r, "echo.v1.Echo", SAY, text_of(at), &o[2]);
	expect(&o[2], XR_STATUS_OK, "");
	assert_int_equal(o[2].resp_len, LIMIT);
	say(&r, "echo.v1.Echo", SAY, text_of(at + 1), &o[3]);
	expect(&o[3], XR_STATUS_RESOURCE_EXHAUSTED, RESP_MSG);
	/* far over, past tcp_local's body limit (a response larger than
	 * its request: test.v1.Echo's grow-N) */
	say(&r, "test.v1.Echo", TSAY, "grow-6000", &o[4]);
	expect(&o[4], XR_STATUS_RESOURCE_EXHAUSTED, RESP_MSG);
	/* the ingress is still usable */
	say(&r, "echo.v1.Echo", SAY, "after", &o[5]);
	expect(&o[5], XR_STATUS_OK, "");
	for (int i = 0; i < 6; i++) {
		oc->code[i] = o[i].code;
		snprintf(oc->message[i], sizeof(oc->message[i]), "%s",
		    o[i].message);
	}
	assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
	rt_free(&r);
}

/* max_payload_bytes: memory and tcp_local give the same statuses. */
static void
test_max_payload_same_in_both_profiles(void **state)
{
	struct outcomes oc[2];

	(void)state;
	for (int m = 0; m < 2; m++) {
		print_message("profile %s\n", profile[m]);
		payload_limit(m, &oc[m]);
	}
	assert_memory_equal(oc[0].code, oc[1].code, sizeof(oc[0].code));
	for (int i = 0; i < 6; i++)
		assert_string_equal(oc[0].message[i], oc[1].message[i]);
}

/* The topic's deliveries have the same limit (one worker inline). */
static void
test_max_payload_topic(void **state)
{
	static uint8_t buf[2048];
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	xr_topic_result *res;
	xr_topic *tp;
	xr_diag d = { 0 };
	size_t len, n;

	(void)state;
	for (int m = 0; m < 2; m++) {
		rt_ctx r;

		rt_up(&r, yamls[m]);
		assert_non_null(tp = xr_transport_topic(rt_transport(&r),
		    "echo.v1.Echo", &d));
		req.text = (char *)(uintptr_t)text_of(1021);
		len = echo__v1__say_request__pack(&req, buf);
		assert_int_equal(xr_topic_publish_sync(tp, SAY, buf, len, 2000,
		    &res, &n), XR_OK);
		assert_int_equal(n, 1);
		assert_int_equal(res[0].status.code,
		    XR_STATUS_RESOURCE_EXHAUSTED);
		assert_string_equal(res[0].status.message, RESP_MSG);
		assert_null(res[0].resp);
		xr_topic_results_free(res, n);
		assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
		rt_free(&r);
	}
}

/* The in-flight cap: INFLIGHT calls pending on one channel, the next one
 * refused at once, in both profiles; the others then finish OK. */
static void
test_inflight_same_in_both_profiles(void **state)
{
	static rt_pending p[INFLIGHT + 1];

	(void)state;
	for (int m = 0; m < 2; m++) {
		rt_ctx r;
		xr_channel *ch;
		xr_diag d = { 0 };
		int err, ok = 0;

		rt_up(&r, yamls[m]);
		ch = xr_lifecycle_pick(r.lc, "echo.v1.Echo", NULL, 0, &err);
		for (int i = 0; i <= INFLIGHT; i++)
			rt_start_say(ch, SAY, 300, 10000, &p[i]);
		for (int i = 0; i < INFLIGHT; i++)
			assert_int_equal(p[i].done, 0);
		assert_int_equal(p[INFLIGHT].done, 1);
		assert_int_equal(p[INFLIGHT].code,
		    XR_STATUS_RESOURCE_EXHAUSTED);
		for (int k = 0; k < 100 && ok < INFLIGHT; k++) {
			rt_run_for(r.base, 50);
			ok = 0;
			for (int i = 0; i < INFLIGHT; i++)
				ok += p[i].done && p[i].code == XR_STATUS_OK;
		}
		assert_int_equal(ok, INFLIGHT);
		assert_int_equal(xr_lifecycle_stop(r.lc, &d), XR_OK);
		rt_free(&r);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_payload_same_in_both_profiles),
		cmocka_unit_test(test_max_payload_topic),
		cmocka_unit_test(test_inflight_same_in_both_profiles),
	};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
