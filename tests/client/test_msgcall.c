/*
 * tests/client/test_msgcall.c — client/msgcall.c: xr_call_start_msg(), the
 * async call on nanopb messages behind every generated `_start()` stub,
 * over a memory channel to a fake xr_local_target written here that
 * answers with a canned status and payload: inside start() (SYNC), from a
 * timer on the base (LATER), or never (NEVER).
 *
 * Each test asserts the exact status and message delivered, that `deliver`
 * ran exactly once (also after the base ran on), with the `cb` and `arg`
 * given, and what reached the target. The allocations are made to fail
 * through the linker's --wrap of malloc and calloc (CMakeLists.txt): the
 * k-th call after arming returns NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <pb_encode.h>

#include "echo/v1/echo.pb.h"
#include "execrpc/client.h"

#define SAY "echo.v1.Echo/Say"

/* ---- failing allocations ------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);

/* 0: off; k > 0: the k-th call from now fails (then off again) */
static int malloc_fail_in, calloc_fail_in;

void *
__wrap_malloc(size_t n)
{
	if (malloc_fail_in > 0 && --malloc_fail_in == 0)
		return NULL;
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t k, size_t n)
{
	if (calloc_fail_in > 0 && --calloc_fail_in == 0)
		return NULL;
	return __real_calloc(k, n);
}

/* ---- the target ---------------------------------------------------------- */

enum tgt_mode { T_SYNC, T_LATER, T_NEVER };

struct tgt {
	struct event_base *base;
	int mode;
	int starts, cancels;
	/* the answer */
	int code;
	const char *msg;
	const uint8_t *resp;
	size_t resp_len;
	int calloc_fail_at_done;	/* arm calloc_fail_in right before done() */
	/* what came in */
	uint8_t req[2048];
	size_t req_len;
	char method[128];
	uint32_t timeout_ms;
	/* the pending answer of T_LATER / T_NEVER */
	struct event *ev;
	xr_local_done_fn done;
	void *done_arg;
};

static void
tgt_answer(struct tgt *t)
{
	if (t->calloc_fail_at_done)
		calloc_fail_in = 1;
	t->done(t->done_arg, t->code, t->msg, t->resp, t->resp_len);
}

static void
tgt_fire(evutil_socket_t fd, short what, void *arg)
{
	struct tgt *t = arg;

	(void)fd;
	(void)what;
	event_free(t->ev);
	t->ev = NULL;
	tgt_answer(t);
}

static void *
tgt_start(void *arg, const char *method, const uint8_t *req, size_t req_len,
    uint32_t timeout_ms, xr_local_done_fn done, void *done_arg)
{
	struct tgt *t = arg;
	struct timeval tv = { 0, 1000 };

	t->starts++;
	assert_true(req_len <= sizeof(t->req));
	memcpy(t->req, req, req_len);
	t->req_len = req_len;
	snprintf(t->method, sizeof(t->method), "%s", method);
	t->timeout_ms = timeout_ms;
	t->done = done;
	t->done_arg = done_arg;
	if (t->mode == T_SYNC) {
		tgt_answer(t);
		return NULL;
	}
	assert_null(t->ev);
	if (t->mode == T_LATER) {
		assert_non_null(t->ev = evtimer_new(t->base, tgt_fire, t));
		assert_int_equal(evtimer_add(t->ev, &tv), 0);
	}
	return t;
}

static void
tgt_cancel(void *arg, void *handle)
{
	struct tgt *t = arg;

	assert_ptr_equal(handle, t);
	t->cancels++;
	if (t->ev != NULL) {
		event_free(t->ev);
		t->ev = NULL;
	}
}

struct fx {
	struct event_base *base;
	struct tgt t;
	xr_channel *ch;
};

static struct fx *
fx_new(int mode)
{
	struct fx *f = calloc(1, sizeof(*f));
	xr_local_target target;

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	f->t.base = f->base;
	f->t.mode = mode;
	f->t.msg = "";
	target.start = tgt_start;
	target.cancel = tgt_cancel;
	target.arg = &f->t;
	assert_non_null(f->ch = xr_channel_new_memory(f->base, &target));
	return f;
}

static void
fx_free(struct fx *f)
{
	xr_channel_free(f->ch);
	assert_null(f->t.ev);
	event_base_free(f->base);
	free(f);
}

/* ---- the caller's side: a typed callback behind a trampoline --------------- */

struct res {
	int delivers;		/* deliver() calls */
	int cbs;		/* typed callback calls */
	int code;
	char msg[256];
	int resp_null;
	char text[4096];
	uint64_t worker_pid;
};

typedef void (*say_cb)(void *arg, const xr_status *st,
    const echo_v1_SayResponse *resp);

static void
say_done(void *arg, const xr_status *st, const echo_v1_SayResponse *resp)
{
	struct res *r = arg;

	r->cbs++;
	r->code = st->code;
	snprintf(r->msg, sizeof(r->msg), "%s", st->message);
	r->resp_null = resp == NULL;
	if (resp != NULL) {
		snprintf(r->text, sizeof(r->text), "%s", resp->text);
		r->worker_pid = resp->worker_pid;
	}
}

/* As a generated stub's: cast back, call if non-NULL. Counts itself in
 * the struct res of `arg` (so `arg` is never NULL here). */
static void
say_deliver(void (*fn)(void), void *arg, const xr_status *st,
    const void *resp)
{
	say_cb cb = (say_cb)fn;

	((struct res *)arg)->delivers++;
	if (cb != NULL)
		cb(arg, st, resp);
}

static xr_client_call *
say_start(xr_channel *ch, const echo_v1_SayRequest *req, uint32_t timeout_ms,
    struct res *r)
{
	return xr_call_start_msg(ch, SAY, echo_v1_SayRequest_fields, req,
	    echo_v1_SayResponse_fields, sizeof(echo_v1_SayResponse), timeout_ms,
	    say_deliver, (void (*)(void))say_done, r);
}

/* Run the base for 10 ms. */
static void
run_once(struct event_base *base)
{
	struct timeval tv = { 0, 10000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Run the base until `r` was delivered or 2 s pass, then once more. */
static void
run_until_delivered(struct event_base *base, const struct res *r)
{
	int i;

	for (i = 0; i < 200 && r->delivers == 0; i++)
		run_once(base);
	run_once(base);
}

static void
assert_once(const struct res *r, int code, const char *msg)
{
	assert_int_equal(r->delivers, 1);
	assert_int_equal(r->cbs, 1);
	assert_int_equal(r->code, code);
	assert_string_equal(r->msg, msg);
}

/* SayRequest{text:"hi", delay_ms:3} and SayResponse{text:"yo"} */
static const uint8_t req_hi[] = { 0x0a, 0x02, 'h', 'i', 0x10, 0x03 };
static const uint8_t resp_yo[] = { 0x0a, 0x02, 'y', 'o' };

static void
req_hi_init(echo_v1_SayRequest *q)
{
	memset(q, 0, sizeof(*q));
	strcpy(q->text, "hi");
	q->delay_ms = 3;
}

/* ---- tests --------------------------------------------------------------- */

/* An answer inside start(): the request's exact bytes reach the target,
 * the response is decoded into a zeroed message, NULL is returned. */
static void
test_ok_sync(void **state)
{
	struct fx *f = fx_new(T_SYNC);
	echo_v1_SayRequest q;
	struct res r;

	(void)state;
	memset(&r, 0, sizeof(r));
	req_hi_init(&q);
	f->t.resp = resp_yo;
	f->t.resp_len = sizeof(resp_yo);
	assert_null(say_start(f->ch, &q, 700, &r));
	assert_once(&r, XR_STATUS_OK, "");
	assert_int_equal(r.resp_null, 0);
	assert_string_equal(r.text, "yo");
	assert_int_equal(r.worker_pid, 0);
	assert_int_equal(f->t.starts, 1);
	assert_string_equal(f->t.method, SAY);
	assert_int_equal(f->t.timeout_ms, 700);
	assert_int_equal(f->t.req_len, sizeof(req_hi));
	assert_memory_equal(f->t.req, req_hi, sizeof(req_hi));
	run_until_delivered(f->base, &r);
	assert_int_equal(r.delivers, 1);
	fx_free(f);
}

/* An answer from the base: a handle is returned, nothing is delivered
 * until the base runs, then exactly once. An empty request encodes to
 * nothing and an empty response decodes to the zero message. */
static void
test_ok_later(void **state)
{
	struct fx *f = fx_new(T_LATER);
	echo_v1_SayRequest q;
	struct res r;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&q, 0, sizeof(q));
	f->t.resp = NULL;
	f->t.resp_len = 0;
	assert_non_null(say_start(f->ch, &q, 0, &r));
	assert_int_equal(r.delivers, 0);
	assert_int_equal(f->t.req_len, 0);
	run_until_delivered(f->base, &r);
	assert_once(&r, XR_STATUS_OK, "");
	assert_int_equal(r.resp_null, 0);
	assert_string_equal(r.text, "");
	fx_free(f);
}

/* A server status: passed through as is, no response. */
static void
test_server_status(void **state)
{
	struct fx *f = fx_new(T_LATER);
	echo_v1_SayRequest q;
	struct res r;

	(void)state;
	memset(&r, 0, sizeof(r));
	req_hi_init(&q);
	f->t.code = XR_STATUS_NOT_FOUND;
	f->t.msg = "no key hi";
	f->t.resp = resp_yo;
	f->t.resp_len = sizeof(resp_yo);
	assert_non_null(say_start(f->ch, &q, 1000, &r));
	run_until_delivered(f->base, &r);
	assert_once(&r, XR_STATUS_NOT_FOUND, "no key hi");
	assert_int_equal(r.resp_null, 1);
	fx_free(f);
}

/* An OK response that is not a SayResponse: INTERNAL, no response. Three
 * kinds: garbage, a truncated field, a string past nanopb's max_size. */
static void
test_response_does_not_decode(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff };
	static const uint8_t truncated[] = { 0x0a, 0x05, 'y' };
	static uint8_t too_long[3 + 4096];
	const struct {
		const uint8_t *b;
		size_t len;
	} bad[] = {
		{ garbage, sizeof(garbage) },
		{ truncated, sizeof(truncated) },
		{ too_long, sizeof(too_long) },
	};
	echo_v1_SayRequest q;
	struct res r;
	size_t i;

	(void)state;
	/* field 1, length 4096 (varint 0x80 0x20), 4096 bytes: one over */
	too_long[0] = 0x0a;
	too_long[1] = 0x80;
	too_long[2] = 0x20;
	memset(too_long + 3, 'x', 4096);
	req_hi_init(&q);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx *f = fx_new(i == 1 ? T_SYNC : T_LATER);

		memset(&r, 0, sizeof(r));
		f->t.resp = bad[i].b;
		f->t.resp_len = bad[i].len;
		(void)say_start(f->ch, &q, 1000, &r);
		run_until_delivered(f->base, &r);
		assert_once(&r, XR_STATUS_INTERNAL, "response does not decode");
		assert_int_equal(r.resp_null, 1);
		fx_free(f);
	}
}

/* A request nanopb refuses (a string without its NUL): INVALID_ARGUMENT
 * inside the call, nothing reaches the target. */
static void
test_request_does_not_encode(void **state)
{
	struct fx *f = fx_new(T_SYNC);
	echo_v1_SayRequest *q = calloc(1, sizeof(*q));
	struct res r;

	(void)state;
	assert_non_null(q);
	memset(&r, 0, sizeof(r));
	memset(q->text, 'a', sizeof(q->text));
	assert_null(say_start(f->ch, q, 1000, &r));
	assert_once(&r, XR_STATUS_INVALID_ARGUMENT, "request does not encode");
	assert_int_equal(r.resp_null, 1);
	assert_int_equal(f->t.starts, 0);
	run_until_delivered(f->base, &r);
	assert_int_equal(r.delivers, 1);
	free(q);
	fx_free(f);
}

/* Each NULL argument (and a zero response size): "bad arguments", inside
 * the call, with the caller's cb and arg; nothing reaches the target; a
 * NULL channel (a failed pick) is UNAVAILABLE with the message that says
 * so. A NULL deliver starts nothing and tells no one. A NULL method is
 * xr_call_start()'s refusal. */
static void
test_null_arguments(void **state)
{
	struct fx *f = fx_new(T_SYNC);
	const pb_msgdesc_t *rq = echo_v1_SayRequest_fields;
	const pb_msgdesc_t *rs = echo_v1_SayResponse_fields;
	void (*cb)(void) = (void (*)(void))say_done;
	size_t sz = sizeof(echo_v1_SayResponse);
	echo_v1_SayRequest q;
	struct res r;

	(void)state;
	req_hi_init(&q);
	f->t.resp = resp_yo;
	f->t.resp_len = sizeof(resp_yo);
#define BAD(ch_, rq_, q_, rs_, sz_) do {				\
	memset(&r, 0, sizeof(r));					\
	assert_null(xr_call_start_msg((ch_), SAY, (rq_), (q_), (rs_),	\
	    (sz_), 1000, say_deliver, cb, &r));				\
	assert_once(&r, XR_STATUS_INVALID_ARGUMENT, "bad arguments");	\
	assert_int_equal(r.resp_null, 1);				\
} while (0)
	BAD(f->ch, NULL, &q, rs, sz);
	BAD(f->ch, rq, NULL, rs, sz);
	BAD(f->ch, rq, &q, NULL, sz);
	BAD(f->ch, rq, &q, rs, 0);
#undef BAD
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start_msg(NULL, SAY, rq, &q, rs, sz, 1000,
	    say_deliver, cb, &r));
	assert_once(&r, XR_STATUS_UNAVAILABLE, "no channel (NULL): did the "
	    "pick fail? xr_lifecycle_pick()/xr_queue_pick() give the reason in "
	    "*err");
	assert_int_equal(r.resp_null, 1);
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start_msg(NULL, SAY, NULL, NULL, NULL, 0, 1000,
	    say_deliver, cb, &r));
	assert_once(&r, XR_STATUS_UNAVAILABLE, XR_CLIENT_MSG_NO_CHANNEL);
	assert_int_equal(f->t.starts, 0);

	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start_msg(f->ch, SAY, rq, &q, rs, sz, 1000, NULL,
	    cb, &r));
	assert_null(xr_call_start_msg(NULL, NULL, NULL, NULL, NULL, 0, 0, NULL,
	    cb, &r));
	run_once(f->base);
	assert_int_equal(r.delivers, 0);
	assert_int_equal(f->t.starts, 0);

	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start_msg(f->ch, NULL, rq, &q, rs, sz, 1000,
	    say_deliver, cb, &r));
	assert_once(&r, XR_STATUS_INVALID_ARGUMENT,
	    "no method name: give it as \"package.Service/Method\"");
	assert_int_equal(f->t.starts, 0);
	fx_free(f);
}

/* A NULL cb reaches deliver as NULL, once, for OK and for a failure. */
static void
test_null_cb(void **state)
{
	struct fx *f = fx_new(T_SYNC);
	echo_v1_SayRequest q;
	struct res r;

	(void)state;
	req_hi_init(&q);
	f->t.resp = resp_yo;
	f->t.resp_len = sizeof(resp_yo);
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start_msg(f->ch, SAY, echo_v1_SayRequest_fields, &q,
	    echo_v1_SayResponse_fields, sizeof(echo_v1_SayResponse), 1000,
	    say_deliver, NULL, &r));
	assert_int_equal(r.delivers, 1);
	assert_int_equal(r.cbs, 0);
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start_msg(NULL, SAY, echo_v1_SayRequest_fields, &q,
	    echo_v1_SayResponse_fields, sizeof(echo_v1_SayResponse), 1000,
	    say_deliver, NULL, &r));
	assert_int_equal(r.delivers, 1);
	assert_int_equal(r.cbs, 0);
	assert_int_equal(f->t.starts, 1);
	fx_free(f);
}

/* The request reaches the call as exactly pb_encode()'s bytes, whether it
 * is encoded on the stack (up to 512 bytes) or in the heap (over). */
static void
test_request_bytes(void **state)
{
	static const size_t lens[] = { 0, 2, 505, 506, 507, 508, 509, 510,
	    1500 };
	struct fx *f = fx_new(T_SYNC);
	echo_v1_SayRequest q;
	uint8_t want[2048];
	struct res r;

	(void)state;
	f->t.resp = resp_yo;
	f->t.resp_len = sizeof(resp_yo);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		pb_ostream_t os = pb_ostream_from_buffer(want, sizeof(want));

		req_hi_init(&q);
		memset(q.text, 'a' + (int)i, lens[i]);
		q.text[lens[i]] = '\0';
		assert_true(pb_encode(&os, echo_v1_SayRequest_fields, &q));
		memset(&r, 0, sizeof(r));
		assert_null(say_start(f->ch, &q, 1000, &r));
		assert_int_equal(r.delivers, 1);
		assert_int_equal(f->t.req_len, os.bytes_written);
		assert_memory_equal(f->t.req, want, os.bytes_written);
	}
	/* text 507: 1 + 2 + 507 + 2 (delay_ms) = 512 bytes, the last that fits */
	assert_int_equal(f->t.starts, 9);
	fx_free(f);
}

/* A proto3 response is decoded into the zeroed message without nanopb's
 * initialisation; a response type with [default = ...] values (here
 * echo's SayResponse descriptor with worker_pid defaulting to 7) still
 * gets them, for a field the response leaves out, and loses them to one
 * it carries. */
static void
test_response_defaults(void **state)
{
	/* worker_pid = 7, then the zero tag that ends nanopb's defaults */
	static const uint8_t dflt[] = { 0x10, 0x07, 0x00 };
	static const uint8_t resp_pid[] = { 0x0a, 0x01, 'p', 0x10, 0x2a };
	pb_msgdesc_t with_dflt = echo_v1_SayResponse_msg;
	struct fx *f = fx_new(T_SYNC);
	echo_v1_SayRequest q;
	struct res r;

	(void)state;
	with_dflt.default_value = dflt;
	req_hi_init(&q);
	for (int round = 0; round < 2; round++) {	/* uncached, cached */
		f->t.resp = resp_yo;
		f->t.resp_len = sizeof(resp_yo);
		memset(&r, 0, sizeof(r));
		assert_null(say_start(f->ch, &q, 1000, &r));
		assert_string_equal(r.text, "yo");
		assert_int_equal(r.worker_pid, 0);
		memset(&r, 0, sizeof(r));
		assert_null(xr_call_start_msg(f->ch, SAY,
		    echo_v1_SayRequest_fields, &q, &with_dflt,
		    sizeof(echo_v1_SayResponse), 1000, say_deliver,
		    (void (*)(void))say_done, &r));
		assert_once(&r, XR_STATUS_OK, "");
		assert_string_equal(r.text, "yo");
		assert_int_equal(r.worker_pid, 7);
		f->t.resp = resp_pid;
		f->t.resp_len = sizeof(resp_pid);
		memset(&r, 0, sizeof(r));
		assert_null(xr_call_start_msg(f->ch, SAY,
		    echo_v1_SayRequest_fields, &q, &with_dflt,
		    sizeof(echo_v1_SayResponse), 1000, say_deliver,
		    (void (*)(void))say_done, &r));
		assert_string_equal(r.text, "p");
		assert_int_equal(r.worker_pid, 42);
	}
	fx_free(f);
}

/* No memory for the call's state, then for the request: RESOURCE_EXHAUSTED
 * "out of memory" inside the call; for the decoded response: "out of
 * memory for the response". */
static void
test_out_of_memory(void **state)
{
	struct fx *f = fx_new(T_SYNC);
	echo_v1_SayRequest q;
	struct res r;
	int k;

	(void)state;
	req_hi_init(&q);
	f->t.resp = resp_yo;
	f->t.resp_len = sizeof(resp_yo);
	/* the call's state (k 1); a request over the 512 bytes encoded on
	 * the stack also takes a heap buffer (k 2) */
	for (k = 1; k <= 3; k++) {
		if (k == 2)
			memset(q.text, 'x', 600);
		memset(&r, 0, sizeof(r));
		malloc_fail_in = k == 3 ? 2 : 1;
		assert_null(say_start(f->ch, &q, 1000, &r));
		assert_int_equal(malloc_fail_in, 0);
		assert_once(&r, XR_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		assert_int_equal(r.resp_null, 1);
		assert_int_equal(f->t.starts, 0);
	}
	req_hi_init(&q);

	memset(&r, 0, sizeof(r));
	f->t.calloc_fail_at_done = 1;
	assert_null(say_start(f->ch, &q, 1000, &r));
	assert_int_equal(calloc_fail_in, 0);
	assert_once(&r, XR_STATUS_RESOURCE_EXHAUSTED,
	    "out of memory for the response");
	assert_int_equal(r.resp_null, 1);
	assert_int_equal(f->t.starts, 1);
	fx_free(f);
}

/* Cancelled, past its deadline, or its channel freed: the call's status,
 * once (the sanitizer build proves the call's state is freed each time). */
static void
test_cancel_deadline_free(void **state)
{
	struct fx *f = fx_new(T_NEVER);
	xr_client_call *c;
	echo_v1_SayRequest q;
	struct res r;

	(void)state;
	req_hi_init(&q);
	memset(&r, 0, sizeof(r));
	assert_non_null(c = say_start(f->ch, &q, 0, &r));
	xr_call_cancel(c);
	assert_once(&r, XR_STATUS_CANCELLED, "cancelled");
	assert_int_equal(f->t.cancels, 1);

	memset(&r, 0, sizeof(r));
	assert_non_null(say_start(f->ch, &q, 5, &r));
	run_until_delivered(f->base, &r);
	assert_once(&r, XR_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
	assert_int_equal(f->t.cancels, 2);

	memset(&r, 0, sizeof(r));
	assert_non_null(say_start(f->ch, &q, 0, &r));
	xr_channel_free(f->ch);
	f->ch = NULL;
	assert_once(&r, XR_STATUS_UNAVAILABLE, "channel closed");
	assert_int_equal(r.resp_null, 1);
	assert_int_equal(f->t.cancels, 3);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_sync),
		cmocka_unit_test(test_ok_later),
		cmocka_unit_test(test_server_status),
		cmocka_unit_test(test_response_does_not_decode),
		cmocka_unit_test(test_request_does_not_encode),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_null_cb),
		cmocka_unit_test(test_request_bytes),
		cmocka_unit_test(test_response_defaults),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_cancel_deadline_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
