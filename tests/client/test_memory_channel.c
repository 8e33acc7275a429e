/*
 * tests/client/test_memory_channel.c — client/memory.c and the call API
 * over the memory transport, against fake xr_local_targets written here: an
 * echo that answers synchronously, one that answers after a timer, one that
 * never answers. A request "FAIL..." is answered NOT_FOUND; one "GROW..."
 * (also after a 2-byte field header: a SayRequest text) is answered at once
 * with a response one byte longer than the request.
 * The limits of xr_channel_new_memory_opts(): max_payload_bytes for
 * requests and responses, max_inflight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>

#include "echo/v1/echo.pb.h"
#include "execrpc/client.h"

#include "rx.h"		/* xr_mono_ms */

enum tgt_mode { T_ECHO_SYNC, T_DELAYED, T_NEVER };

struct tgt {
	struct event_base *base;
	int mode;
	int starts, cancels, live;
	uint32_t last_timeout;
	char last_method[128];
};

struct pend {
	struct tgt *t;
	struct event *ev;
	uint8_t *req;
	size_t len;
	xr_local_done_fn done;
	void *done_arg;
};

static void
pend_free(struct pend *p)
{
	if (p->ev != NULL)
		event_free(p->ev);
	free(p->req);
	p->t->live--;
	free(p);
}

static void
pend_fire(evutil_socket_t fd, short what, void *arg)
{
	struct pend *p = arg;
	xr_local_done_fn done = p->done;
	void *done_arg = p->done_arg;
	uint8_t *req = p->req;
	size_t len = p->len;

	(void)fd;
	(void)what;
	p->req = NULL;
	pend_free(p);
	done(done_arg, XR_STATUS_OK, "", req, len);
	free(req);
}

static void *
tgt_start(void *arg, const char *method, const uint8_t *req, size_t req_len,
    uint32_t timeout_ms, xr_local_done_fn done, void *done_arg)
{
	struct tgt *t = arg;
	struct pend *p;
	struct timeval tv;
	uint32_t delay;

	t->starts++;
	t->last_timeout = timeout_ms;
	snprintf(t->last_method, sizeof(t->last_method), "%s", method);
	if (req_len >= 4 && memcmp(req, "FAIL", 4) == 0) {
		done(done_arg, XR_STATUS_NOT_FOUND, "no such record", NULL, 0);
		return NULL;
	}
	if ((req_len >= 4 && memcmp(req, "GROW", 4) == 0) ||
	    (req_len >= 6 && memcmp(req + 2, "GROW", 4) == 0)) {
		uint8_t *big = calloc(1, req_len + 1);

		assert_non_null(big);
		done(done_arg, XR_STATUS_OK, "", big, req_len + 1);
		free(big);
		return NULL;
	}
	if (t->mode == T_ECHO_SYNC) {
		done(done_arg, XR_STATUS_OK, "", req, req_len);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->t = t;
	p->done = done;
	p->done_arg = done_arg;
	t->live++;
	if (t->mode == T_NEVER)
		return p;
	p->req = malloc(req_len ? req_len : 1);
	assert_non_null(p->req);
	memcpy(p->req, req, req_len);
	p->len = req_len;
	/* a delay from the request so answers come out of order */
	delay = req_len > 0 ? (uint32_t)(req[req_len - 1] * 7u) % 40u : 5u;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)delay * 1000;
	p->ev = evtimer_new(t->base, pend_fire, p);
	assert_non_null(p->ev);
	evtimer_add(p->ev, &tv);
	return p;
}

static void
tgt_cancel(void *arg, void *handle)
{
	struct tgt *t = arg;

	t->cancels++;
	pend_free(handle);
}

struct fx {
	struct event_base *base;
	struct tgt t;
	xr_channel *ch;
};

/* A channel made with xr_channel_new_memory_opts(`o`), or with
 * xr_channel_new_memory() when `use_opts` is 0. */
static struct fx *
fx_new_opts(int mode, int use_opts, const xr_channel_opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));
	xr_local_target target;

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	f->t.base = f->base;
	f->t.mode = mode;
	target.start = tgt_start;
	target.cancel = tgt_cancel;
	target.arg = &f->t;
	if (use_opts)
		f->ch = xr_channel_new_memory_opts(f->base, &target, o);
	else
		f->ch = xr_channel_new_memory(f->base, &target);
	assert_non_null(f->ch);
	return f;
}

static struct fx *
fx_new(int mode)
{
	return fx_new_opts(mode, 0, NULL);
}

static void
fx_free(struct fx *f)
{
	xr_channel_free(f->ch);
	assert_int_equal(f->t.live, 0);
	event_base_free(f->base);
	free(f);
}

/* Run the base until *counter reaches want or timeout_ms pass. */
static void
run_until(struct event_base *base, const int *counter, int want,
    uint32_t timeout_ms)
{
	uint64_t end = xr_mono_ms() + timeout_ms;

	while (*counter < want && xr_mono_ms() < end) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

struct res {
	int n;
	int code;
	char msg[256];
	uint8_t resp[64];
	size_t resp_len;
	int resp_null;
};

static void
res_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t resp_len)
{
	struct res *r = arg;

	r->n++;
	r->code = st->code;
	snprintf(r->msg, sizeof(r->msg), "%s", st->message);
	r->resp_null = resp == NULL;
	r->resp_len = resp_len;
	if (resp != NULL && resp_len <= sizeof(r->resp))
		memcpy(r->resp, resp, resp_len);
}

static void
test_ok_bytes(void **state)
{
	struct fx *f = fx_new(T_ECHO_SYNC);
	static const uint8_t req[] = "hello, memory";
	xr_channel_stats stats;
	uint8_t *resp = NULL;
	size_t len = 0;
	xr_status st;

	(void)state;
	assert_int_equal(xr_channel_wait_ready(f->ch, 100), XR_OK);
	assert_true(xr_channel_is_usable(f->ch));
	assert_int_equal(xr_call_sync_bytes(f->ch, "echo.v1.Echo/Say", req,
	    sizeof(req), &resp, &len, 1000, &st), XR_STATUS_OK);
	assert_int_equal(st.code, XR_STATUS_OK);
	assert_int_equal(len, sizeof(req));
	assert_memory_equal(resp, req, sizeof(req));
	assert_string_equal(f->t.last_method, "echo.v1.Echo/Say");
	assert_int_equal(f->t.last_timeout, 1000);
	free(resp);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.calls_started, 1);
	assert_int_equal(stats.calls_ok, 1);
	assert_int_equal(stats.calls_failed, 0);
	fx_free(f);
}

/* The same, answered later from the base (the blocking call runs it). */
static void
test_ok_bytes_delayed(void **state)
{
	struct fx *f = fx_new(T_DELAYED);
	static const uint8_t req[] = "later";
	uint8_t *resp = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(xr_call_sync_bytes(f->ch, "echo.v1.Echo/Say", req,
	    sizeof(req), &resp, &len, 0, NULL), XR_STATUS_OK);
	assert_int_equal(len, sizeof(req));
	assert_memory_equal(resp, req, sizeof(req));
	assert_int_equal(f->t.last_timeout, 0);
	free(resp);
	fx_free(f);
}

static void
test_sync_nanopb(void **state)
{
	struct fx *f = fx_new(T_DELAYED);
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse resp = echo_v1_SayResponse_init_zero;
	xr_status st;

	(void)state;
	strcpy(req.text, "nanopb round trip");
	req.delay_ms = 9;
	/* the echo target sends the request bytes back; SayResponse reads
	 * field 1 as text and field 2 as worker_pid */
	assert_int_equal(xr_call_sync(f->ch, "echo.v1.Echo/Say",
	    echo_v1_SayRequest_fields, &req, echo_v1_SayResponse_fields, &resp,
	    1000, &st), XR_STATUS_OK);
	assert_string_equal(resp.text, "nanopb round trip");
	assert_int_equal(resp.worker_pid, 9);
	fx_free(f);
}

static void
test_status_passthrough(void **state)
{
	struct fx *f = fx_new(T_ECHO_SYNC);
	struct res r;
	xr_client_call *c;

	(void)state;
	memset(&r, 0, sizeof(r));
	c = xr_call_start(f->ch, "echo.v1.Echo/Say", (const uint8_t *)"FAIL",
	    4, 0, res_cb, &r);
	assert_null(c);		/* completed inside start */
	assert_int_equal(r.n, 1);
	assert_int_equal(r.code, XR_STATUS_NOT_FOUND);
	assert_string_equal(r.msg, "no such record");
	assert_true(r.resp_null);
	assert_int_equal(r.resp_len, 0);
	fx_free(f);
}

static void
test_deadline(void **state)
{
	struct fx *f = fx_new(T_NEVER);
	uint64_t t0, dt;
	xr_status st;
	uint8_t *resp = NULL;
	size_t len = 0;

	(void)state;
	t0 = xr_mono_ms();
	assert_int_equal(xr_call_sync_bytes(f->ch, "echo.v1.Echo/Say",
	    (const uint8_t *)"x", 1, &resp, &len, 200, &st),
	    XR_STATUS_DEADLINE_EXCEEDED);
	dt = xr_mono_ms() - t0;
	assert_int_equal(st.code, XR_STATUS_DEADLINE_EXCEEDED);
	assert_null(resp);
	assert_true(dt >= 195);
	assert_true(dt < 300);
	assert_int_equal(f->t.cancels, 1);
	assert_int_equal(f->t.live, 0);
	fx_free(f);
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(*(int *)arg)++;
}

/* libevent's default clock is CLOCK_MONOTONIC_COARSE (a tick of a few ms
 * here): when the loop wakes for something else while a deadline is pending,
 * it re-arms the wait from the coarse clock, which can lag the precise one
 * by a whole tick, and the timer fires that much early. A deadline must
 * still never fire before it is due by the precise clock: 40 calls of
 * 1..40 ms, with a 1 ms ticker waking the loop, cover every phase of the
 * coarse tick. */
static void
test_deadline_never_early(void **state)
{
	struct fx *f = fx_new(T_NEVER);
	struct timeval one_ms = { 0, 1000 };
	struct event *tick;
	int ticks = 0;
	xr_status st;
	uint8_t *resp = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(tick = event_new(f->base, -1, EV_PERSIST, tick_cb,
	    &ticks));
	assert_int_equal(evtimer_add(tick, &one_ms), 0);
	for (uint32_t ms = 1; ms <= 40; ms++) {
		uint64_t t0 = mono_us(), dt;

		assert_int_equal(xr_call_sync_bytes(f->ch, "echo.v1.Echo/Say",
		    (const uint8_t *)"x", 1, &resp, &len, ms, &st),
		    XR_STATUS_DEADLINE_EXCEEDED);
		dt = mono_us() - t0;
		if (dt < (uint64_t)ms * 1000u)
			fail_msg("deadline %u ms fired after %llu us", ms,
			    (unsigned long long)dt);
	}
	assert_true(ticks > 40);	/* the loop did wake in between */
	event_free(tick);
	assert_int_equal(f->t.cancels, 40);
	fx_free(f);
}

static void
test_cancel(void **state)
{
	struct fx *f = fx_new(T_NEVER);
	struct res r;
	xr_client_call *c;
	xr_channel_stats stats;

	(void)state;
	memset(&r, 0, sizeof(r));
	c = xr_call_start(f->ch, "echo.v1.Echo/Say", (const uint8_t *)"x", 1,
	    5000, res_cb, &r);
	assert_non_null(c);
	assert_int_equal(r.n, 0);
	xr_call_cancel(c);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.code, XR_STATUS_CANCELLED);
	assert_int_equal(f->t.cancels, 1);
	/* no second completion, no deadline later */
	{
		int never = 0;

		run_until(f->base, &never, 1, 50);
	}
	assert_int_equal(r.n, 1);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.calls_started, 1);
	assert_int_equal(stats.calls_failed, 1);
	fx_free(f);
}

struct many {
	int done;
	int bad;
};

struct one {
	struct many *m;
	char want[32];
	size_t want_len;
};

static void
many_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct one *o = arg;

	o->m->done++;
	if (st->code != XR_STATUS_OK || len != o->want_len ||
	    memcmp(resp, o->want, len) != 0)
		o->m->bad++;
}

static void
test_concurrent_1000(void **state)
{
	struct fx *f = fx_new(T_DELAYED);
	struct one *ones = calloc(1000, sizeof(*ones));
	struct many m = { 0, 0 };
	xr_channel_stats stats;

	(void)state;
	assert_non_null(ones);
	for (int i = 0; i < 1000; i++) {
		ones[i].m = &m;
		ones[i].want_len = (size_t)snprintf(ones[i].want,
		    sizeof(ones[i].want), "call-%d", i);
		assert_non_null(xr_call_start(f->ch, "echo.v1.Echo/Say",
		    (const uint8_t *)ones[i].want, ones[i].want_len, 5000,
		    many_cb, &ones[i]));
	}
	assert_int_equal(f->t.live, 1000);
	run_until(f->base, &m.done, 1000, 5000);
	assert_int_equal(m.done, 1000);
	assert_int_equal(m.bad, 0);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.calls_started, 1000);
	assert_int_equal(stats.calls_ok, 1000);
	free(ones);
	fx_free(f);
}

static void
test_invalid_arguments(void **state)
{
	struct fx *f = fx_new(T_ECHO_SYNC);
	static const char *bad[] = { "", "noslash", "/Method", "pkg.Svc/",
	    "a/b/c" };
	uint8_t *big = calloc(1, 1048577);
	struct res r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&r, 0, sizeof(r));
		assert_null(xr_call_start(f->ch, bad[i], (const uint8_t *)"x",
		    1, 0, res_cb, &r));
		assert_int_equal(r.n, 1);
		assert_int_equal(r.code, XR_STATUS_INVALID_ARGUMENT);
	}
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(f->ch, "echo.v1.Echo/Say", big, 1048577, 0,
	    res_cb, &r));
	assert_int_equal(r.code, XR_STATUS_INVALID_ARGUMENT);
	/* exactly the limit is fine */
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(f->ch, "echo.v1.Echo/Say", big, 1048576, 0,
	    res_cb, &r));
	assert_int_equal(r.code, XR_STATUS_OK);
	assert_int_equal(f->t.starts, 1);
	free(big);
	fx_free(f);
}

/* A NULL channel (the NULL of a failed xr_lifecycle_pick()): each call
 * function gives UNAVAILABLE and the message that names the pick, at once;
 * the async one calls its cb once with no response. */
static void
test_null_channel(void **state)
{
	static const char want[] = "no channel (NULL): did the pick fail? "
	    "xr_lifecycle_pick()/xr_queue_pick() give the reason in *err";
	echo_v1_SayRequest q = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse a = echo_v1_SayResponse_init_zero;
	uint8_t *resp = (uint8_t *)&a;
	size_t resp_len = 7;
	struct fx *f;
	xr_status st;
	struct res r;

	(void)state;
	assert_string_equal(XR_CLIENT_MSG_NO_CHANNEL, want);
	memset(&r, 0, sizeof(r));
	assert_null(xr_call_start(NULL, "echo.v1.Echo/Say",
	    (const uint8_t *)"x", 1, 1000, res_cb, &r));
	assert_int_equal(r.n, 1);
	assert_int_equal(r.code, XR_STATUS_UNAVAILABLE);
	assert_string_equal(r.msg, want);
	assert_int_equal(r.resp_null, 1);

	memset(&st, 0, sizeof(st));
	assert_int_equal(xr_call_sync(NULL, "echo.v1.Echo/Say",
	    echo_v1_SayRequest_fields, &q, echo_v1_SayResponse_fields, &a,
	    1000, &st), XR_STATUS_UNAVAILABLE);
	assert_int_equal(st.code, XR_STATUS_UNAVAILABLE);
	assert_string_equal(st.message, want);

	memset(&st, 0, sizeof(st));
	assert_int_equal(xr_call_sync_bytes(NULL, "echo.v1.Echo/Say",
	    (const uint8_t *)"x", 1, &resp, &resp_len, 1000, &st),
	    XR_STATUS_UNAVAILABLE);
	assert_int_equal(st.code, XR_STATUS_UNAVAILABLE);
	assert_string_equal(st.message, want);
	assert_null(resp);
	assert_int_equal(resp_len, 0);

	/* the channel is checked first */
	assert_int_equal(xr_call_sync(NULL, NULL, NULL, NULL, NULL, NULL, 0,
	    NULL), XR_STATUS_UNAVAILABLE);
	/* the other NULL arguments stay INVALID_ARGUMENT */
	f = fx_new(T_ECHO_SYNC);
	memset(&st, 0, sizeof(st));
	assert_int_equal(xr_call_sync(f->ch, "echo.v1.Echo/Say", NULL, &q,
	    echo_v1_SayResponse_fields, &a, 1000, &st),
	    XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "bad arguments");
	memset(&st, 0, sizeof(st));
	assert_int_equal(xr_call_sync(f->ch, "echo.v1.Echo/Say",
	    echo_v1_SayRequest_fields, NULL, echo_v1_SayResponse_fields, &a,
	    1000, &st), XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "bad arguments");
	assert_int_equal(f->t.starts, 0);
	fx_free(f);
}

static void
test_inflight_cap(void **state)
{
	struct fx *f = fx_new(T_NEVER);
	struct res r, extra;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 4096; i++)
		assert_non_null(xr_call_start(f->ch, "echo.v1.Echo/Say",
		    NULL, 0, 0, res_cb, &r));
	memset(&extra, 0, sizeof(extra));
	assert_null(xr_call_start(f->ch, "echo.v1.Echo/Say", NULL, 0, 0,
	    res_cb, &extra));
	assert_int_equal(extra.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(r.n, 0);
	/* freeing fails all of them, cancelling each at the target */
	xr_channel_free(f->ch);
	f->ch = NULL;
	assert_int_equal(r.n, 4096);
	assert_int_equal(r.code, XR_STATUS_UNAVAILABLE);
	assert_int_equal(f->t.cancels, 4096);
	fx_free(f);
}

/* A start of `len` bytes of "GROW..." (or "x..." when !grow); the result
 * lands in `r`. */
static void
start_len(struct fx *f, size_t len, int grow, struct res *r)
{
	uint8_t req[64];

	assert_true(len <= sizeof(req) && len >= 4);
	memset(req, 'x', len);
	if (grow)
		memcpy(req, "GROW", 4);
	memset(r, 0, sizeof(*r));
	(void)xr_call_start(f->ch, "echo.v1.Echo/Say", req, len, 0, res_cb, r);
	assert_int_equal(r->n, 1);	/* synchronous targets */
}

/*
 * max_payload_bytes 16: a request of 17 bytes fails locally with
 * INVALID_ARGUMENT and never reaches the target; a response of 17 bytes
 * fails with RESOURCE_EXHAUSTED and no payload; 16 both ways is OK. The
 * channel stays usable. (The statuses of tcp_local for the same cases.)
 */
static void
test_opts_payload_limit(void **state)
{
	xr_channel_opts o;
	struct fx *f;
	struct res r;
	xr_channel_stats stats;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.max_payload_bytes = 16;
	f = fx_new_opts(T_ECHO_SYNC, 1, &o);
	start_len(f, 17, 0, &r);
	assert_int_equal(r.code, XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(r.msg, "request larger than max_payload_bytes");
	assert_int_equal(f->t.starts, 0);
	start_len(f, 16, 0, &r);
	assert_int_equal(r.code, XR_STATUS_OK);
	assert_int_equal(r.resp_len, 16);
	start_len(f, 15, 1, &r);	/* a 16-byte response */
	assert_int_equal(r.code, XR_STATUS_OK);
	assert_int_equal(r.resp_len, 16);
	start_len(f, 16, 1, &r);	/* a 17-byte response */
	assert_int_equal(r.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(r.msg, "response larger than max_payload_bytes");
	assert_true(r.resp_null);
	assert_int_equal(r.resp_len, 0);
	assert_int_equal(f->t.starts, 3);
	assert_true(xr_channel_is_usable(f->ch));
	start_len(f, 4, 0, &r);
	assert_int_equal(r.code, XR_STATUS_OK);
	xr_channel_stats_get(f->ch, &stats);
	assert_int_equal(stats.calls_ok, 3);
	assert_int_equal(stats.calls_failed, 2);
	fx_free(f);
}

/* The blocking nanopb call has the same limits. */
static void
test_opts_payload_limit_sync(void **state)
{
	xr_channel_opts o;
	struct fx *f;
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse resp = echo_v1_SayResponse_init_zero;
	xr_status st;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.max_payload_bytes = 16;
	f = fx_new_opts(T_ECHO_SYNC, 1, &o);
	strcpy(req.text, "fifteen bytes!!");	/* 2 + 15 = 17 encoded */
	assert_int_equal(xr_call_sync(f->ch, "echo.v1.Echo/Say",
	    echo_v1_SayRequest_fields, &req, echo_v1_SayResponse_fields, &resp,
	    1000, &st), XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "request larger than max_payload_bytes");
	strcpy(req.text, "GROW fourteen!");	/* 16 encoded, 17 back */
	assert_int_equal(xr_call_sync(f->ch, "echo.v1.Echo/Say",
	    echo_v1_SayRequest_fields, &req, echo_v1_SayResponse_fields, &resp,
	    1000, &st), XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(st.message,
	    "response larger than max_payload_bytes");
	fx_free(f);
}

/* max_inflight 3: the 4th pending call is refused, as on tcp_local. */
static void
test_opts_inflight(void **state)
{
	xr_channel_opts o;
	struct fx *f;
	struct res r, extra;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.max_inflight = 3;
	f = fx_new_opts(T_NEVER, 1, &o);
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 3; i++)
		assert_non_null(xr_call_start(f->ch, "echo.v1.Echo/Say",
		    NULL, 0, 0, res_cb, &r));
	memset(&extra, 0, sizeof(extra));
	assert_null(xr_call_start(f->ch, "echo.v1.Echo/Say", NULL, 0, 0,
	    res_cb, &extra));
	assert_int_equal(extra.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(f->t.starts, 3);
	fx_free(f);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.code, XR_STATUS_UNAVAILABLE);
}

/* NULL or zeroed options are the defaults (1 MiB); what does not apply
 * in-process (a non-loopback host, ttl) is ignored. */
static void
test_opts_defaults(void **state)
{
	xr_channel_opts o;
	uint8_t *big = calloc(1, 1048577);
	struct res r;

	(void)state;
	assert_non_null(big);
	memset(&o, 0, sizeof(o));
	o.host = "10.0.0.1";
	o.ttl_seconds = 1;
	for (int k = 0; k < 2; k++) {
		struct fx *f = fx_new_opts(T_ECHO_SYNC, 1, k ? &o : NULL);

		memset(&r, 0, sizeof(r));
		assert_null(xr_call_start(f->ch, "echo.v1.Echo/Say", big,
		    1048577, 0, res_cb, &r));
		assert_int_equal(r.code, XR_STATUS_INVALID_ARGUMENT);
		memset(&r, 0, sizeof(r));
		assert_null(xr_call_start(f->ch, "echo.v1.Echo/Say", big,
		    1048576, 0, res_cb, &r));
		assert_int_equal(r.code, XR_STATUS_OK);
		assert_int_equal(r.resp_len, 1048576);
		fx_free(f);
	}
	free(big);
}

/* A callback frees the channel: the rest fail, nothing is touched after. */
struct freer {
	xr_channel **chp;
	int n, unavailable;
};

static void
freer_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct freer *fr = arg;

	(void)resp;
	(void)len;
	fr->n++;
	if (st->code == XR_STATUS_UNAVAILABLE)
		fr->unavailable++;
	if (*fr->chp != NULL) {
		xr_channel *ch = *fr->chp;

		*fr->chp = NULL;
		xr_channel_free(ch);
		/* a new call on the closing channel fails at once */
	}
}

static void
test_free_from_callback(void **state)
{
	struct fx *f = fx_new(T_DELAYED);
	struct freer fr = { &f->ch, 0, 0 };

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_non_null(xr_call_start(f->ch, "echo.v1.Echo/Say",
		    (const uint8_t *)"abc", 3, 0, freer_cb, &fr));
	run_until(f->base, &fr.n, 5, 2000);
	assert_int_equal(fr.n, 5);
	assert_int_equal(fr.unavailable, 4);
	assert_null(f->ch);
	assert_int_equal(f->t.cancels, 4);
	fx_free(f);
}

/* Free from inside the completion of a call that finished inside start. */
static void
test_free_inside_start(void **state)
{
	struct fx *f = fx_new(T_ECHO_SYNC);
	struct freer fr = { &f->ch, 0, 0 };

	(void)state;
	assert_null(xr_call_start(f->ch, "echo.v1.Echo/Say",
	    (const uint8_t *)"abc", 3, 0, freer_cb, &fr));
	assert_int_equal(fr.n, 1);
	assert_null(f->ch);
	fx_free(f);
}

/* A blocking call from inside a callback cannot run the loop: INTERNAL. */
struct nested {
	xr_channel *ch;
	int n, inner;
};

static void
nested_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct nested *ne = arg;
	uint8_t *r = NULL;
	size_t rl = 0;

	(void)st;
	(void)resp;
	(void)len;
	ne->n++;
	ne->inner = xr_call_sync_bytes(ne->ch, "echo.v1.Echo/Say",
	    (const uint8_t *)"in", 2, &r, &rl, 100, NULL);
	free(r);
}

static void
test_sync_inside_callback(void **state)
{
	struct fx *f = fx_new(T_DELAYED);
	struct nested ne = { f->ch, 0, -1 };
	xr_channel_stats stats;

	(void)state;
	assert_non_null(xr_call_start(f->ch, "echo.v1.Echo/Say",
	    (const uint8_t *)"out", 3, 1000, nested_cb, &ne));
	run_until(f->base, &ne.n, 1, 2000);
	assert_int_equal(ne.n, 1);
	assert_int_equal(ne.inner, XR_STATUS_INTERNAL);
	xr_channel_stats_get(f->ch, &stats);
	/* the inner call was started, then cancelled when the loop refused */
	assert_int_equal(stats.calls_started, 2);
	assert_int_equal(stats.calls_ok, 1);
	assert_int_equal(f->t.cancels, 1);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_bytes),
		cmocka_unit_test(test_ok_bytes_delayed),
		cmocka_unit_test(test_sync_nanopb),
		cmocka_unit_test(test_status_passthrough),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_deadline_never_early),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_concurrent_1000),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_null_channel),
		cmocka_unit_test(test_inflight_cap),
		cmocka_unit_test(test_opts_payload_limit),
		cmocka_unit_test(test_opts_payload_limit_sync),
		cmocka_unit_test(test_opts_inflight),
		cmocka_unit_test(test_opts_defaults),
		cmocka_unit_test(test_free_from_callback),
		cmocka_unit_test(test_free_inside_start),
		cmocka_unit_test(test_sync_inside_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
