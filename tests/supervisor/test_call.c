/*
 * tests/supervisor/test_call.c — CALL on the worker channel, the worker's
 * side alone: this binary is started as a worker by hand (ts_child_start)
 * and the test is its supervisor's end of the signed channel.
 *
 * SEC-IPC-01   a signed CALL reaches the handler and its CALL_REPLY carries
 *              the handler's response bytes exactly (echo: text, pid)
 * SEC-IPC-02 / IPC-INT-05
 *              a CALL datagram with any one byte changed, or cut short, is
 *              rejected by the channel's receive pipeline before it is
 *              decoded: no reply, and the handler never runs (test.v1.Count
 *              counts its calls)
 * SEC-IPC-04   a replayed CALL datagram is rejected the same way
 * plus: unknown and malformed method names, a handler's failure status, a
 *       request or response over the channel's call limit, a CALL while
 *       the worker drains (UNAVAILABLE at once), in-flight CALLs answered
 *       before STOPPED (drain) or UNAVAILABLE (no drain), a datagram over
 *       the channel's size limit.
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
#include <unistd.h>

#include "dispatch.h"
#include "echo/v1/echo.pb-c.h"
#include "frame.h"
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

/* A worker hosting `service`, started by hand, READY awaited. */
struct w {
	ts_child child;
	xr_auth *a;
	xr_wchan ch;
};

static uint32_t small_limit;	/* max_payload_bytes for m_small */

static void
m_small(Execrpc__V1__BootstrapBundle *b)
{
	b->runtime->max_payload_bytes = small_limit;
}

static void
w_start(struct w *w, const char *service, ts_mutate_fn m)
{
	size_t len;
	uint8_t *b = ts_bundle(&ks, sid, service, m, &len);
	const uint8_t *dg[1] = { b };
	Execrpc__V1__Command *c = NULL;
	struct pollfd p;

	ts_child_start(&w->child, dg, &len, 1);
	free(b);
	assert_non_null(w->a = xr_auth_new(&ks));
	assert_int_equal(xr_wchan_init(&w->ch, w->child.ctl, w->a, sid, 30),
	    XR_OK);
	/* the test's end may send payloads up to the cap */
	assert_int_equal(xr_wchan_set_payload_max(&w->ch,
	    XR_WCHAN_PAYLOAD_CAP), XR_OK);
	p.fd = w->child.ctl;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 20000), 1);
	assert_int_equal(xr_wchan_recv(&w->ch, &c), XR_OK);
	assert_int_equal(c->type, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY);
	execrpc__v1__command__free_unpacked(c, NULL);
}

/* The next command from the worker within `ms`, or NULL if none came. */
static Execrpc__V1__Command *
next_cmd(struct w *w, int ms)
{
	Execrpc__V1__Command *c = NULL;
	struct pollfd p = { w->child.ctl, POLLIN, 0 };

	if (poll(&p, 1, ms) != 1)
		return NULL;
	assert_int_equal(xr_wchan_recv(&w->ch, &c), XR_OK);
	return c;
}

static void
w_stop(struct w *w)
{
	Execrpc__V1__Command q = EXECRPC__V1__COMMAND__INIT, *c;
	char err[1024];

	q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
	q.drain_inflight = 1;
	assert_int_equal(xr_wchan_send(&w->ch, &q), XR_OK);
	assert_non_null(c = next_cmd(w, 10000));
	assert_int_equal(c->type, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED);
	execrpc__v1__command__free_unpacked(c, NULL);
	assert_int_equal(ts_child_wait(&w->child, 10000, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	xr_wchan_fini(&w->ch);
	xr_auth_free(w->a);
}

/* Pack a SayRequest; malloc'd. */
static uint8_t *
say_req(const char *text, uint32_t delay_ms, uint32_t fail_code, size_t *len)
{
	Echo__V1__SayRequest r = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t *b;

	r.text = (char *)(uintptr_t)text;
	r.delay_ms = delay_ms;
	r.fail_code = fail_code;
	*len = echo__v1__say_request__get_packed_size(&r);
	assert_non_null(b = malloc(*len + 1));
	echo__v1__say_request__pack(&r, b);
	return b;
}

static void
send_call(struct w *w, uint64_t id, const char *method, const uint8_t *req,
    size_t len, uint32_t timeout_ms)
{
	Execrpc__V1__Command q = EXECRPC__V1__COMMAND__INIT;

	q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL;
	q.request_id = id;
	q.method = (char *)(uintptr_t)method;
	q.payload.data = (uint8_t *)(uintptr_t)req;
	q.payload.len = len;
	q.timeout_ms = timeout_ms;
	assert_int_equal(xr_wchan_send(&w->ch, &q), XR_OK);
}

/* The CALL_REPLY for `id`, which must be the next command. */
static Execrpc__V1__Command *
reply_for(struct w *w, uint64_t id)
{
	Execrpc__V1__Command *c = next_cmd(w, 10000);

	assert_non_null(c);
	assert_int_equal(c->type, EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL_REPLY);
	assert_int_equal(c->request_id, id);
	return c;
}

static void
expect_status(struct w *w, uint64_t id, int code, const char *msg)
{
	Execrpc__V1__Command *c = reply_for(w, id);

	assert_int_equal(c->status_code, code);
	assert_string_equal(c->status_message, msg);
	assert_int_equal(c->payload.len, 0);
	execrpc__v1__command__free_unpacked(c, NULL);
}

/* "calls=N" from test.v1.Count */
static void
expect_count(struct w *w, uint64_t id, const char *want)
{
	Execrpc__V1__Command *c;
	Echo__V1__SayResponse *r;
	size_t len;
	uint8_t *req = say_req("n", 0, 0, &len);

	send_call(w, id, "echo.v1.Echo/Say", req, len, 5000);
	free(req);
	c = reply_for(w, id);
	assert_int_equal(c->status_code, XR_STATUS_OK);
	assert_non_null(r = echo__v1__say_response__unpack(NULL,
	    c->payload.len, c->payload.data));
	assert_string_equal(r->text, want);
	echo__v1__say_response__free_unpacked(r, NULL);
	execrpc__v1__command__free_unpacked(c, NULL);
}

/* SEC-IPC-01: the same handlers, the same bytes; failures by status. */
static void
test_call_01_echo_exact(void **state)
{
	struct w w;
	Execrpc__V1__Command *c;
	uint8_t *req, want[32];
	size_t len, wl = 0;
	uint64_t pid;

	(void)state;
	w_start(&w, "echo.v1.Echo", NULL);
	req = say_req("hi", 0, 0, &len);
	send_call(&w, 7, "echo.v1.Echo/Say", req, len, 5000);
	c = reply_for(&w, 7);
	assert_int_equal(c->status_code, XR_STATUS_OK);
	assert_string_equal(c->status_message, "");
	/* SayResponse{text "hi", worker_pid}: 0a 02 'h' 'i' 10 varint(pid) */
	want[wl++] = 0x0a;
	want[wl++] = 0x02;
	want[wl++] = 'h';
	want[wl++] = 'i';
	want[wl++] = 0x10;
	for (pid = (uint64_t)w.child.pid; pid >= 0x80; pid >>= 7)
		want[wl++] = (uint8_t)(pid | 0x80);
	want[wl++] = (uint8_t)pid;
	assert_int_equal(c->payload.len, wl);
	assert_memory_equal(c->payload.data, want, wl);
	execrpc__v1__command__free_unpacked(c, NULL);
	/* a handler's failure: its status and message */
	free(req);
	req = say_req("x", 0, XR_STATUS_NOT_FOUND, &len);
	send_call(&w, 8, "echo.v1.Echo/Say", req, len, 5000);
	expect_status(&w, 8, XR_STATUS_NOT_FOUND, "failed as asked");
	/* an unknown method, named; a malformed one */
	send_call(&w, 9, "echo.v1.Echo/Nope", req, len, 5000);
	expect_status(&w, 9, XR_STATUS_UNIMPLEMENTED,
	    "unknown method \"echo.v1.Echo/Nope\"");
	send_call(&w, 10, "echo.v1.Echo", req, len, 5000);
	expect_status(&w, 10, XR_STATUS_INVALID_ARGUMENT,
	    "method is not of the form package.Service/Method");
	/* the handler's deadline: the call's timeout_ms */
	free(req);
	req = say_req("slow", 2000, 0, &len);
	send_call(&w, 11, "echo.v1.Echo/Say", req, len, 200);
	expect_status(&w, 11, XR_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
	free(req);
	w_stop(&w);
}

/*
 * SEC-IPC-02, SEC-IPC-04, IPC-INT-05: tampered, truncated and replayed
 * CALL datagrams never reach the handler.
 */
static void
test_call_02_tampered_never_dispatched(void **state)
{
	struct w w;
	int pair[2];
	uint8_t *req, dg[4096], bad[4096];
	size_t len;
	ssize_t n;
	int real_fd;

	(void)state;
	w_start(&w, "test.v1.Count", NULL);
	/* capture one signed CALL datagram instead of sending it */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
	real_fd = w.ch.fd;
	w.ch.fd = pair[0];
	req = say_req("forged", 0, 0, &len);
	send_call(&w, 100, "echo.v1.Echo/Say", req, len, 5000);
	free(req);
	w.ch.fd = real_fd;
	n = recv(pair[1], dg, sizeof(dg), 0);
	assert_true(n > 40);
	close(pair[0]);
	close(pair[1]);
	/* every single byte changed: rejected (signature or decode) */
	for (ssize_t i = 0; i < n; i++) {
		memcpy(bad, dg, (size_t)n);
		bad[i] ^= 0x01;
		assert_int_equal(send(w.child.ctl, bad, (size_t)n, MSG_NOSIGNAL),
		    n);
	}
	/* every truncation */
	for (ssize_t i = 1; i < n; i++)
		assert_int_equal(send(w.child.ctl, dg, (size_t)i, MSG_NOSIGNAL),
		    i);
	/* none ran: the next datagram is the answer to a valid CALL, and the
	 * handler counts it as its first */
	expect_count(&w, 101, "calls=1");
	/* the captured datagram itself is valid but its sequence is now
	 * behind: a replay */
	assert_int_equal(send(w.child.ctl, dg, (size_t)n, MSG_NOSIGNAL), n);
	expect_count(&w, 102, "calls=2");
	w_stop(&w);
}

/* The call limit of the channel: min(max_payload_bytes, the socket). */
static void
test_call_03_limits(void **state)
{
	struct w w;
	uint8_t *req, *big;
	size_t len;
	char *text;

	(void)state;
	small_limit = 1000;
	w_start(&w, "echo.v1.Echo", m_small);
	/* a request over the worker's limit: refused, naming both sizes */
	assert_non_null(big = calloc(1, 1001));
	send_call(&w, 1, "echo.v1.Echo/Say", big, 1001, 5000);
	expect_status(&w, 1, XR_STATUS_RESOURCE_EXHAUSTED, "request of 1001 "
	    "bytes is over the call limit of 1000 bytes");
	free(big);
	/* a response over it: the handler ran, the answer is refused */
	assert_non_null(text = malloc(1001));
	memset(text, 'a', 995);
	text[995] = '\0';
	req = say_req(text, 0, 0, &len);	/* 998 bytes */
	assert_int_equal(len, 998);
	send_call(&w, 2, "echo.v1.Echo/Say", req, len, 5000);
	/* response: 0a e3 07 + 995 + 10 varint(pid) > 1000 */
	{
		Execrpc__V1__Command *c = reply_for(&w, 2);
		char want[128];
		size_t pl = 3 + 995 + 1;

		for (uint64_t p = (uint64_t)w.child.pid; p != 0; p >>= 7)
			pl++;
		snprintf(want, sizeof(want), "response of %zu bytes is over "
		    "the call limit of 1000 bytes", pl);
		assert_int_equal(c->status_code, XR_STATUS_RESOURCE_EXHAUSTED);
		assert_string_equal(c->status_message, want);
		execrpc__v1__command__free_unpacked(c, NULL);
	}
	free(req);
	free(text);
	/* a datagram over the channel's size (1000 + XR_WCHAN_OVERHEAD):
	 * dropped by the pipeline; the worker keeps serving */
	assert_non_null(big = calloc(1, 6000));
	send_call(&w, 3, "echo.v1.Echo/Say", big, 6000, 5000);
	free(big);
	req = say_req("after", 0, 0, &len);
	send_call(&w, 4, "echo.v1.Echo/Say", req, len, 5000);
	{
		Execrpc__V1__Command *c = reply_for(&w, 4);

		assert_int_equal(c->status_code, XR_STATUS_OK);
		execrpc__v1__command__free_unpacked(c, NULL);
	}
	free(req);
	w_stop(&w);
}

/* DRAIN: no new CALL (UNAVAILABLE at once); in-flight ones finish before
 * STOPPED. STOP without drain: in-flight ones are answered UNAVAILABLE. */
static void
test_call_04_drain_and_stop(void **state)
{
	Execrpc__V1__Command q = EXECRPC__V1__COMMAND__INIT, *c;
	struct w w;
	uint8_t *req, *slow;
	size_t len, slen;
	char err[1024];
	uint64_t t0;

	(void)state;
	w_start(&w, "echo.v1.Echo", NULL);
	req = say_req("x", 0, 0, &len);
	slow = say_req("slow", 300, 0, &slen);
	send_call(&w, 1, "echo.v1.Echo/Say", slow, slen, 5000);
	q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN;
	assert_int_equal(xr_wchan_send(&w.ch, &q), XR_OK);
	t0 = xr_mono_ms();
	send_call(&w, 2, "echo.v1.Echo/Say", req, len, 5000);
	expect_status(&w, 2, XR_STATUS_UNAVAILABLE, "worker draining");
	assert_true(xr_mono_ms() - t0 < 250);	/* before the slow one */
	/* STOP with drain: the slow call's answer, then STOPPED */
	q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
	q.drain_inflight = 1;
	assert_int_equal(xr_wchan_send(&w.ch, &q), XR_OK);
	c = reply_for(&w, 1);
	assert_int_equal(c->status_code, XR_STATUS_OK);
	execrpc__v1__command__free_unpacked(c, NULL);
	assert_non_null(c = next_cmd(&w, 10000));
	assert_int_equal(c->type, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED);
	execrpc__v1__command__free_unpacked(c, NULL);
	assert_int_equal(ts_child_wait(&w.child, 10000, err, sizeof(err)), 0);
	xr_wchan_fini(&w.ch);
	xr_auth_free(w.a);

	/* STOP without drain: the in-flight call is answered UNAVAILABLE,
	 * then STOPPED, at once */
	w_start(&w, "echo.v1.Echo", NULL);
	send_call(&w, 1, "echo.v1.Echo/Say", slow, slen, 5000);
	q.drain_inflight = 0;
	t0 = xr_mono_ms();
	assert_int_equal(xr_wchan_send(&w.ch, &q), XR_OK);
	expect_status(&w, 1, XR_STATUS_UNAVAILABLE, "worker stopping");
	assert_non_null(c = next_cmd(&w, 10000));
	assert_int_equal(c->type, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED);
	execrpc__v1__command__free_unpacked(c, NULL);
	assert_true(xr_mono_ms() - t0 < 250);
	assert_int_equal(ts_child_wait(&w.child, 10000, err, sizeof(err)), 0);
	xr_wchan_fini(&w.ch);
	xr_auth_free(w.a);
	free(req);
	free(slow);
}

/* xr_wchan_method_ok: the form of a full method name. */
static void
test_call_05_method_form(void **state)
{
	char longest[XR_WCHAN_METHOD_MAX + 2];

	(void)state;
	assert_true(xr_wchan_method_ok("echo.v1.Echo/Say"));
	assert_true(xr_wchan_method_ok("Svc/M"));
	assert_true(xr_wchan_method_ok("_a.b_2/c_3"));
	assert_false(xr_wchan_method_ok(NULL));
	assert_false(xr_wchan_method_ok(""));
	assert_false(xr_wchan_method_ok("echo.v1.Echo"));
	assert_false(xr_wchan_method_ok("/Say"));
	assert_false(xr_wchan_method_ok("echo.v1.Echo/"));
	assert_false(xr_wchan_method_ok("echo..Echo/Say"));
	assert_false(xr_wchan_method_ok(".echo/Say"));
	assert_false(xr_wchan_method_ok("a/b/c"));
	assert_false(xr_wchan_method_ok("a/b.c"));
	assert_false(xr_wchan_method_ok("a.1b/c"));
	assert_false(xr_wchan_method_ok("a b/c"));
	assert_false(xr_wchan_method_ok("a/c\n"));
	memset(longest, 'a', sizeof(longest));
	longest[1] = '/';
	longest[XR_WCHAN_METHOD_MAX] = '\0';
	assert_true(xr_wchan_method_ok(longest));
	longest[XR_WCHAN_METHOD_MAX] = 'a';
	longest[XR_WCHAN_METHOD_MAX + 1] = '\0';
	assert_false(xr_wchan_method_ok(longest));
}

/* xr_wchan_size_socket: both ends of a pair get the same limit; it is
 * capped by the want and by XR_WCHAN_PAYLOAD_CAP. */
static void
test_call_06_socket_sizing(void **state)
{
	int sp[2];
	uint32_t a = 0, b = 0;
	xr_wchan ch;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(xr_wchan_size_socket(sp[0], 1000, &a), XR_OK);
	assert_int_equal(xr_wchan_size_socket(sp[1], 1000, &b), XR_OK);
	assert_int_equal(a, 1000);
	assert_int_equal(b, 1000);
	assert_int_equal(xr_wchan_size_socket(sp[0], UINT32_MAX, &a), XR_OK);
	assert_int_equal(xr_wchan_size_socket(sp[1], UINT32_MAX, &b), XR_OK);
	assert_int_equal(a, b);
	assert_true(a > 0 && a <= XR_WCHAN_PAYLOAD_CAP);
	/* a datagram of that size goes through */
	assert_int_equal(xr_wchan_init(&ch, sp[0], NULL, sid, 30), XR_OK);
	assert_int_equal(xr_wchan_set_payload_max(&ch, a), XR_OK);
	assert_int_equal(ch.rx.max_body, (size_t)a + XR_WCHAN_OVERHEAD);
	assert_int_equal(xr_wchan_set_payload_max(&ch,
	    XR_WCHAN_PAYLOAD_CAP + 1), XR_ERR_INVALID_ARG);
	assert_int_equal(ch.payload_max, a);
	xr_wchan_fini(&ch);
	assert_int_equal(xr_wchan_size_socket(-1, 10, &a), XR_ERR_SYSTEM);
	assert_int_equal(a, 0);
	close(sp[0]);
	close(sp[1]);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_01_echo_exact),
		cmocka_unit_test(test_call_02_tampered_never_dispatched),
		cmocka_unit_test(test_call_03_limits),
		cmocka_unit_test(test_call_04_drain_and_stop),
		cmocka_unit_test(test_call_05_method_form),
		cmocka_unit_test(test_call_06_socket_sizing),
	};
	int r = ts_worker_mode(argc, argv);

	if (r >= 0)
		return r;
	return cmocka_run_group_tests(tests, setup, NULL);
}
