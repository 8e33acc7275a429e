/* tests/server/test_registry.c — server/registry.c's method table: lookup
 * by full name, refusals that register nothing, many methods, dispatch of
 * an unknown and a known method, methods added by name with their limits,
 * the on-free hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "echo.h"
#include "echo/v1/echo.pb-c.h"
#include "err.h"
#include "registry.h"

static void
h_say(xr_call *call, const ProtobufCMessage *req, void *arg)
{
	(*(int *)arg)++;
	xr_echo_say(call, (const Echo__V1__SayRequest *)req, NULL);
}

/* Rows "name/m" for each method name of `m` (Say's types, h_say),
 * their full names written to `full`. */
static void
rows(xr_method_def *defs, char (*full)[200], const char *name,
    const char *const *m, unsigned n)
{
	memset(defs, 0, n * sizeof(*defs));
	for (unsigned i = 0; i < n; i++) {
		int w = snprintf(full[i], sizeof(full[i]), "%s/%s", name,
		    m[i]);

		assert_true(w > 0 && (size_t)w < sizeof(full[i]));
		defs[i].name = full[i];
		defs[i].input = &echo__v1__say_request__descriptor;
		defs[i].output = &echo__v1__say_response__descriptor;
		defs[i].fn = h_say;
		defs[i].max_req = defs[i].max_resp = XR_SIZE_UNLIMITED;
	}
}

static void
test_lookup_by_full_name(void **state)
{
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);

	(void)state;
	assert_non_null(r);
	assert_int_equal(xr_registry_count(r), 0);
	assert_int_equal(xr_registry_has(r, "echo.v1.Echo/Say"), 0);
	assert_int_equal(xr_echo_register(r), XR_OK);
	assert_int_equal(xr_registry_count(r), echo__v1__echo__descriptor.n_methods);
	assert_int_equal(xr_registry_has(r, "echo.v1.Echo/Say"), 1);
	assert_int_equal(xr_registry_has(r, "echo.v1.Echo/Sa"), 0);
	assert_int_equal(xr_registry_has(r, "echo.v1.Echo/Say "), 0);
	assert_int_equal(xr_registry_has(r, "echo.v1.Echo/say"), 0);
	assert_int_equal(xr_registry_has(r, ""), 0);
	/* the same service again: refused, nothing changes */
	assert_int_equal(xr_echo_register(r), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_registry_count(r), echo__v1__echo__descriptor.n_methods);
	xr_registry_free(r);
	xr_registry_free(NULL);
	event_base_free(b);
}

/* A refusal part-way through a batch registers none of its methods. */
static void
test_refusals_register_nothing(void **state)
{
	static const char *const dup[] = { "Extra1", "Extra2", "Say" };
	static const char *const three[] = { "a", "b", "c" };
	static const char *const one[] = { "m" };
	static char full[3][200];
	xr_method_def defs[3];
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);
	int calls = 0;
	char longname[200];
	size_t base_n;
	xr_diag d = { 0 };

	(void)state;
	assert_int_equal(xr_echo_register(r), XR_OK);
	base_n = xr_registry_count(r);
	/* the third name is already registered */
	rows(defs, full, "echo.v1.Echo", dup, 3);
	assert_int_equal(xr_registry_add_methods(r, defs, 3, &calls, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "echo.v1.Echo/Say: registered before");
	assert_int_equal(xr_registry_count(r), base_n);
	assert_int_equal(xr_registry_has(r, "echo.v1.Echo/Extra1"), 0);
	assert_int_equal(xr_registry_has(r, "echo.v1.Echo/Extra2"), 0);
	/* a NULL handler in the middle */
	rows(defs, full, "t.v1.Svc", three, 3);
	defs[1].fn = NULL;
	assert_int_equal(xr_registry_add_methods(r, defs, 3, &calls, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "t.v1.Svc/b: no handler");
	assert_int_equal(xr_registry_count(r), base_n);
	assert_int_equal(xr_registry_has(r, "t.v1.Svc/a"), 0);
	/* and then it goes in whole */
	defs[1].fn = h_say;
	assert_int_equal(xr_registry_add_methods(r, defs, 3, &calls, &d),
	    XR_OK);
	assert_int_equal(xr_registry_count(r), base_n + 3);
	assert_int_equal(xr_registry_has(r, "t.v1.Svc/c"), 1);
	/* a full name of 160 bytes or more */
	memset(longname, 's', 158);
	longname[158] = '\0';
	rows(defs, full, longname, one, 1);	/* 158 + "/m" = 160 */
	assert_int_equal(xr_registry_add_methods(r, defs, 1, &calls, NULL),
	    XR_ERR_INVALID_ARG);
	longname[157] = '\0';			/* 159: fits */
	rows(defs, full, longname, one, 1);
	assert_int_equal(xr_registry_add_methods(r, defs, 1, &calls, NULL),
	    XR_OK);
	assert_int_equal(xr_registry_count(r), base_n + 4);
	assert_int_equal(xr_registry_add_methods(NULL, defs, 1, &calls, &d),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_registry_add_methods(r, NULL, 1, &calls, &d),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_registry_count(r), base_n + 4);
	xr_registry_free(r);
	event_base_free(b);
}

static void
test_many_methods(void **state)
{
	enum { N = 1000 };
	static char names[N][8];
	static const char *np[N];
	static char full[N][200];
	static xr_method_def defs[N];
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);
	int calls = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "m%d", i);
		np[i] = names[i];
	}
	rows(defs, full, "t.v1.Many", np, N);
	assert_int_equal(xr_registry_add_methods(r, defs, N, &calls, NULL),
	    XR_OK);
	assert_int_equal(xr_registry_count(r), N);
	for (int i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "t.v1.Many/m%d", i);
		assert_int_equal(xr_registry_has(r, name), 1);
		snprintf(name, sizeof(name), "t.v1.Many/m%d", i + N);
		assert_int_equal(xr_registry_has(r, name), 0);
	}
	xr_registry_free(r);
	event_base_free(b);
}

struct done {
	int n, code;
	char msg[256];
	char text[64];
};

static void
on_complete(void *owner, uint64_t call_id, int code, const char *msg,
    const uint8_t *resp, size_t resp_len)
{
	struct done *d = owner;
	Echo__V1__SayResponse *m;

	assert_int_equal(call_id, 77);
	d->n++;
	d->code = code;
	snprintf(d->msg, sizeof(d->msg), "%s", msg);
	if (code == XR_STATUS_OK &&
	    (m = echo__v1__say_response__unpack(NULL, resp_len, resp)) != NULL) {
		snprintf(d->text, sizeof(d->text), "%s", m->text);
		echo__v1__say_response__free_unpacked(m, NULL);
	}
}

/* Register `name` with Say's request and response types, no size limits. */
static void
add_say_typed(xr_registry *r, const char *name, xr_handler_fn fn, void *arg)
{
	assert_int_equal(xr_registry_add_method(r, name,
	    &echo__v1__say_request__descriptor,
	    &echo__v1__say_response__descriptor, fn, arg,
	    XR_SIZE_UNLIMITED, XR_SIZE_UNLIMITED, NULL), XR_OK);
}

/* Dispatch resolves the method through the table: unknown names fail
 * synchronously, a known one reaches its handler. */
static void
test_dispatch(void **state)
{
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t buf[64];
	size_t len;
	struct done d = { 0 };
	int calls = 0;

	(void)state;
	add_say_typed(r, "echo.v1.Echo/Say", h_say, &calls);
	req.text = "hi";
	len = echo__v1__say_request__pack(&req, buf);
	assert_null(xr_dispatch_start(r, "echo.v1.Echo/Nope", buf, len, 0,
	    on_complete, &d, 77));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.code, XR_STATUS_UNIMPLEMENTED);
	assert_int_equal(calls, 0);
	assert_null(xr_dispatch_start(r, "echo.v1.Echo/Say", buf, len, 0,
	    on_complete, &d, 77));
	assert_int_equal(d.n, 2);
	assert_int_equal(d.code, XR_STATUS_OK);
	assert_string_equal(d.text, "hi");
	assert_int_equal(calls, 1);
	xr_registry_free(r);
	event_base_free(b);
}

/* A handler that works 300 ms inside the call and leaves it pending. */
static void
h_slow_pending(xr_call *call, const ProtobufCMessage *req, void *arg)
{
	(void)req;
	*(xr_call **)arg = call;
	usleep(300 * 1000);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * A call's deadline runs from its start, also when its handler spends time
 * inside the call and leaves it pending: with a 400 ms timeout and 300 ms
 * in the handler, DEADLINE_EXCEEDED comes about 400 ms after the start (not
 * 700, a full timeout after the handler returned), and a reply after that
 * is refused (the owner has its answer).
 */
static void
test_deadline_from_start(void **state)
{
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	Echo__V1__SayResponse resp = ECHO__V1__SAY_RESPONSE__INIT;
	xr_call *pending = NULL, *c;
	uint8_t buf[64];
	struct done d = { 0 };
	uint64_t t0, took;
	size_t len;

	(void)state;
	add_say_typed(r, "slow.v1.S/Work", h_slow_pending, &pending);
	req.text = "hi";
	len = echo__v1__say_request__pack(&req, buf);
	t0 = mono_ms();
	c = xr_dispatch_start(r, "slow.v1.S/Work", buf, len, 400, on_complete,
	    &d, 77);
	assert_non_null(c);
	assert_ptr_equal(c, pending);
	assert_int_equal(d.n, 0);
	while (d.n == 0 && mono_ms() - t0 < 5000)
		event_base_loop(b, EVLOOP_ONCE);
	took = mono_ms() - t0;
	assert_int_equal(d.n, 1);
	assert_int_equal(d.code, XR_STATUS_DEADLINE_EXCEEDED);
	assert_true(took >= 390);	/* a coarse clock may fire a tick early */
	assert_true(took < 650);
	resp.text = "late";
	assert_int_equal(xr_call_reply(pending, &resp.base), XR_ERR_CLOSED);
	assert_int_equal(d.n, 1);
	xr_registry_free(r);
	event_base_free(b);
}

/* xr_registry_add_method(s): a name of the form "pkg.Service/Method"; a
 * handler and both descriptors; each refusal names the method and
 * registers nothing of the batch. */
static void
test_add_method_refusals(void **state)
{
	static const char *const bad_names[] = {
		"NoSlash", "/m", "s.v1.S/", "s.v1.S/a/b",
	};
	const ProtobufCMessageDescriptor *in = &echo__v1__say_request__descriptor;
	const ProtobufCMessageDescriptor *out = &echo__v1__say_response__descriptor;
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);
	xr_method_def defs[3];
	xr_diag d = { 0 };
	int calls = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		char want[256];

		assert_int_equal(xr_registry_add_method(r, bad_names[i], in, out,
		    h_say, &calls, 10, 10, &d), XR_ERR_INVALID_ARG);
		snprintf(want, sizeof(want), "%s: not a full method name "
		    "(\"pkg.Service/Method\", under 160 bytes)", bad_names[i]);
		assert_string_equal(d.reason, want);
	}
	assert_int_equal(xr_registry_add_method(r, "s.v1.S/M", in, out, NULL,
	    &calls, 10, 10, &d), XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "s.v1.S/M: no handler");
	assert_int_equal(xr_registry_add_method(r, "s.v1.S/M", NULL, out, h_say,
	    &calls, 10, 10, &d), XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "s.v1.S/M: no message descriptor");
	assert_int_equal(xr_registry_count(r), 0);

	/* a batch: the third row repeats the first: none of it stays */
	memset(defs, 0, sizeof(defs));
	defs[0].name = "s.v1.S/A";
	defs[1].name = "s.v1.S/B";
	defs[2].name = "s.v1.S/A";
	for (i = 0; i < 3; i++) {
		defs[i].input = in;
		defs[i].output = out;
		defs[i].fn = h_say;
		defs[i].max_req = defs[i].max_resp = XR_SIZE_UNLIMITED;
	}
	assert_int_equal(xr_registry_add_methods(r, defs, 3, &calls, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "s.v1.S/A: registered before");
	assert_int_equal(xr_registry_count(r), 0);
	assert_int_equal(xr_registry_add_methods(r, defs, 2, &calls, &d),
	    XR_OK);
	assert_int_equal(xr_registry_count(r), 2);
	assert_int_equal(xr_registry_has(r, "s.v1.S/B"), 1);
	xr_registry_free(r);
	event_base_free(b);
}

/* A method's limits: a request over max_req is refused before decoding
 * and its handler does not run; a response over max_resp is not sent;
 * both RESOURCE_EXHAUSTED naming both sizes. 0 is a limit (only an empty
 * message), XR_SIZE_UNLIMITED none. */
static void
test_method_limits(void **state)
{
	const ProtobufCMessageDescriptor *in = &echo__v1__say_request__descriptor;
	const ProtobufCMessageDescriptor *out = &echo__v1__say_response__descriptor;
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t buf[64];
	size_t len;
	struct done d = { 0 };
	int calls = 0;

	(void)state;
	req.text = "hello";			/* 7 bytes; SayResponse 9+ */
	len = echo__v1__say_request__pack(&req, buf);
	assert_int_equal(len, 7);
	assert_int_equal(xr_registry_add_method(r, "l.v1.L/Req6", in, out,
	    h_say, &calls, 6, XR_SIZE_UNLIMITED, NULL), XR_OK);
	assert_int_equal(xr_registry_add_method(r, "l.v1.L/Req7", in, out,
	    h_say, &calls, 7, XR_SIZE_UNLIMITED, NULL), XR_OK);
	assert_int_equal(xr_registry_add_method(r, "l.v1.L/Resp8", in, out,
	    h_say, &calls, XR_SIZE_UNLIMITED, 8, NULL), XR_OK);
	assert_int_equal(xr_registry_add_method(r, "l.v1.L/Zero", in, out,
	    h_say, &calls, 0, XR_SIZE_UNLIMITED, NULL), XR_OK);

	assert_null(xr_dispatch_start(r, "l.v1.L/Req6", buf, len, 0,
	    on_complete, &d, 77));
	assert_int_equal(d.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(d.msg, "request is 7 bytes, over the 6-byte limit "
	    "of l.v1.L/Req6");
	assert_int_equal(calls, 0);
	assert_null(xr_dispatch_start(r, "l.v1.L/Req7", buf, len, 0,
	    on_complete, &d, 77));
	assert_int_equal(d.code, XR_STATUS_OK);
	assert_string_equal(d.text, "hello");
	assert_int_equal(calls, 1);
	/* the handler runs; its reply (text + worker_pid) is over 8 bytes */
	assert_null(xr_dispatch_start(r, "l.v1.L/Resp8", buf, len, 0,
	    on_complete, &d, 77));
	assert_int_equal(calls, 2);
	assert_int_equal(d.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_true(strncmp(d.msg, "response is ", 12) == 0);
	assert_non_null(strstr(d.msg, " bytes, over the 8-byte limit of "
	    "l.v1.L/Resp8"));
	/* limit 0: the empty request passes, any byte does not */
	assert_null(xr_dispatch_start(r, "l.v1.L/Zero", buf, 0, 0,
	    on_complete, &d, 77));
	assert_int_equal(d.code, XR_STATUS_OK);
	assert_null(xr_dispatch_start(r, "l.v1.L/Zero", buf, len, 0,
	    on_complete, &d, 77));
	assert_int_equal(d.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(d.msg, "request is 7 bytes, over the 0-byte limit "
	    "of l.v1.L/Zero");
	assert_int_equal(calls, 3);
	xr_registry_free(r);
	event_base_free(b);
}

/* xr_registry_on_free(): each hook runs exactly once, when the registry is
 * freed (after its methods), newest first; a hook that cannot be kept runs
 * at once. */
struct freed {
	char order[8];
	int n;
};

static struct freed freed;

static void
on_free_a(void *arg)
{
	freed.order[freed.n++] = *(const char *)arg;
}

static void
test_on_free_hooks(void **state)
{
	static const char a = 'a', b2 = 'b', c = 'c', z = 'z';
	struct event_base *b = event_base_new();
	xr_registry *r = xr_registry_new(b);

	(void)state;
	memset(&freed, 0, sizeof(freed));
	assert_int_equal(xr_registry_on_free(r, on_free_a, (void *)&a), XR_OK);
	assert_int_equal(xr_registry_on_free(r, on_free_a, (void *)&b2),
	    XR_OK);
	assert_int_equal(xr_echo_register(r), XR_OK);
	assert_int_equal(xr_registry_on_free(r, on_free_a, (void *)&c), XR_OK);
	assert_int_equal(xr_registry_on_free(r, NULL, (void *)&z),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(freed.n, 0);
	/* no registry: released at once */
	assert_int_equal(xr_registry_on_free(NULL, on_free_a, (void *)&z),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(freed.n, 1);
	assert_string_equal(freed.order, "z");
	xr_registry_free(r);
	assert_int_equal(freed.n, 4);
	assert_string_equal(freed.order, "zcba");
	event_base_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_by_full_name),
		cmocka_unit_test(test_refusals_register_nothing),
		cmocka_unit_test(test_many_methods),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_deadline_from_start),
		cmocka_unit_test(test_add_method_refusals),
		cmocka_unit_test(test_method_limits),
		cmocka_unit_test(test_on_free_hooks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
