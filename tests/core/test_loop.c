/* tests/core/test_loop.c — core/loop.c: xr_loop_until checks its condition
 * before and after every round, honours the deadline, passes a condition's
 * error through, refuses a nested call and leaves no event behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/event.h>

#include "loop.h"
#include "rx.h"

/* Generous: the machine is shared and builds run beside the tests. */
#define LATE_MS 400

struct ticker {
	unsigned ticks;		/* timer callbacks run */
	unsigned checks;	/* done() calls */
	unsigned want;		/* done once ticks reach it */
	int fail_with;		/* done() returns this at `want` if non-zero */
};

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ticker *t = arg;

	(void)fd;
	(void)what;
	t->ticks++;
}

static int
ticks_done(void *arg)
{
	struct ticker *t = arg;

	t->checks++;
	if (t->ticks < t->want)
		return 0;
	return t->fail_with != 0 ? t->fail_with : 1;
}

static int
never(void *arg)
{
	(*(unsigned *)arg)++;
	return 0;
}

static int
added_events(struct event_base *b)
{
	return event_base_get_num_events(b, EVENT_BASE_COUNT_ADDED);
}

/* One tick per round (a 1 ms persistent timer): done() sees every round. */
static void
test_done_after_each_round(void **state)
{
	struct event_base *b = event_base_new();
	struct ticker t = { .want = 5 };
	struct timeval ms = { 0, 1000 };
	struct event *ev;

	(void)state;
	assert_non_null(b);
	ev = event_new(b, -1, EV_PERSIST, tick_cb, &t);
	assert_non_null(ev);
	assert_int_equal(event_add(ev, &ms), 0);
	assert_int_equal(xr_loop_until(b, ticks_done, &t, 0), XR_OK);
	assert_int_equal(t.ticks, 5);
	assert_int_equal(t.checks, 6);	/* before the first round + 5 */
	/* with a deadline far away: same, and our timer is gone after */
	t.ticks = t.checks = 0;
	assert_int_equal(xr_loop_until(b, ticks_done, &t,
	    xr_mono_ms() + 60000), XR_OK);
	assert_int_equal(t.ticks, 5);
	assert_int_equal(t.checks, 6);
	assert_int_equal(added_events(b), 1);	/* only the ticker */
	event_free(ev);
	event_base_free(b);
}

/* A condition that already holds: no round runs. */
static void
test_done_first(void **state)
{
	struct event_base *b = event_base_new();
	struct ticker t = { .want = 0 };
	struct timeval now = { 0, 0 };
	struct event *ev;

	(void)state;
	ev = event_new(b, -1, 0, tick_cb, &t);
	assert_int_equal(event_add(ev, &now), 0);
	assert_int_equal(xr_loop_until(b, ticks_done, &t, 0), XR_OK);
	assert_int_equal(t.checks, 1);
	assert_int_equal(t.ticks, 0);
	event_free(ev);
	event_base_free(b);
}

static void
test_condition_error_passes_through(void **state)
{
	struct event_base *b = event_base_new();
	struct ticker t = { .want = 3, .fail_with = XR_ERR_WORKER_FAILED };
	struct timeval ms = { 0, 1000 };
	struct event *ev;

	(void)state;
	ev = event_new(b, -1, EV_PERSIST, tick_cb, &t);
	assert_int_equal(event_add(ev, &ms), 0);
	assert_int_equal(xr_loop_until(b, ticks_done, &t, 0),
	    XR_ERR_WORKER_FAILED);
	assert_int_equal(t.ticks, 3);
	event_free(ev);
	event_base_free(b);
}

/* Nothing else on the base: the call returns at the deadline, not before,
 * and not much after; nothing is left registered. */
static void
test_deadline_honoured(void **state)
{
	struct event_base *b = event_base_new();
	uint64_t t0, t1;
	unsigned checks = 0;

	(void)state;
	t0 = xr_mono_ms();
	assert_int_equal(xr_loop_until(b, never, &checks, t0 + 150),
	    XR_ERR_AGAIN);
	t1 = xr_mono_ms();
	assert_true(t1 >= t0 + 150);
	assert_true(t1 < t0 + 150 + LATE_MS);
	assert_true(checks >= 2);
	assert_int_equal(added_events(b), 0);
	/* a deadline already past: no round at all, one check */
	checks = 0;
	assert_int_equal(xr_loop_until(b, never, &checks, xr_mono_ms() - 1),
	    XR_ERR_AGAIN);
	assert_int_equal(checks, 1);
	event_base_free(b);
}

/* A busy base (a 1 ms ticker) does not stretch the deadline either. */
static void
test_deadline_with_busy_base(void **state)
{
	struct event_base *b = event_base_new();
	struct ticker t = { .want = UINT32_MAX };
	struct timeval ms = { 0, 1000 };
	struct event *ev;
	uint64_t t0, t1;

	(void)state;
	ev = event_new(b, -1, EV_PERSIST, tick_cb, &t);
	assert_int_equal(event_add(ev, &ms), 0);
	t0 = xr_mono_ms();
	assert_int_equal(xr_loop_until(b, ticks_done, &t, t0 + 100),
	    XR_ERR_AGAIN);
	t1 = xr_mono_ms();
	assert_true(t1 >= t0 + 100);
	assert_true(t1 < t0 + 100 + LATE_MS);
	assert_true(t.ticks >= 1);
	/* a round runs the ticker at most once: a check after every tick */
	assert_true(t.checks >= t.ticks + 1);
	assert_int_equal(added_events(b), 1);
	event_free(ev);
	event_base_free(b);
}

/* No deadline and no event that could ever fire: refused, not a hang. */
static void
test_nothing_pending(void **state)
{
	struct event_base *b = event_base_new();
	unsigned checks = 0;

	(void)state;
	assert_int_equal(xr_loop_until(b, never, &checks, 0), XR_ERR_INTERNAL);
	assert_int_equal(checks, 1);
	event_base_free(b);
}

struct nested {
	struct event_base *base;
	int inner;
	int ran;
};

static int
nested_done(void *arg)
{
	return ((struct nested *)arg)->ran;
}

static void
nested_cb(evutil_socket_t fd, short what, void *arg)
{
	struct nested *n = arg;
	unsigned checks = 0;

	(void)fd;
	(void)what;
	n->inner = xr_loop_until(n->base, never, &checks, xr_mono_ms() + 50);
	n->ran = 1;
}

/* Called from a callback on the same base: XR_ERR_INTERNAL at once. */
static void
test_nested_refused(void **state)
{
	struct nested n = { 0 };
	struct timeval now = { 0, 0 };
	struct event *ev;

	(void)state;
	n.base = event_base_new();
	ev = event_new(n.base, -1, 0, nested_cb, &n);
	assert_int_equal(event_add(ev, &now), 0);
	assert_int_equal(xr_loop_until(n.base, nested_done, &n,
	    xr_mono_ms() + 5000), XR_OK);
	assert_int_equal(n.inner, XR_ERR_INTERNAL);
	/* the inner call's timer did not stay behind */
	assert_int_equal(added_events(n.base), 0);
	event_free(ev);
	event_base_free(n.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_after_each_round),
		cmocka_unit_test(test_done_first),
		cmocka_unit_test(test_condition_error_passes_through),
		cmocka_unit_test(test_deadline_honoured),
		cmocka_unit_test(test_deadline_with_busy_base),
		cmocka_unit_test(test_nothing_pending),
		cmocka_unit_test(test_nested_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
