/*
 * client/calls.c — the pending-call table of a channel.
 *
 * Calls are keyed by call_id in an xr_hmap (core/hmap.h; the 8-byte key
 * lives in the slot). Call structs come from a per-channel freelist and
 * carry their deadline timer (event_assign'ed), and the map only grows, so
 * a channel in steady state allocates nothing per call.
 */
#include "channel_priv.h"

#include <stdlib.h>
#include <string.h>

void
xr_calls_init(xr_calls *t)
{
	memset(t, 0, sizeof(*t));
	/* the in-flight cap (channel.c, checked on start) bounds the count;
	 * the map's own bound is only the backstop */
	(void)xr_hmap_init(&t->map, XR_HMAP_MAX_ENTRIES);
}

void
xr_calls_destroy(xr_calls *t)
{
	xr_client_call *c, *n;

	for (c = t->free; c != NULL; c = n) {
		n = c->qnext;
		free(c);
	}
	t->free = NULL;
	t->nfree = 0;
	xr_hmap_fini(&t->map);
}

xr_client_call *
xr_calls_alloc(xr_channel *ch)
{
	xr_calls *t = &ch->calls;
	xr_client_call *c;

	if ((c = t->free) != NULL) {
		t->free = c->qnext;
		t->nfree--;
	} else if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	memset(c, 0, offsetof(xr_client_call, method));
	c->method[0] = '\0';
	c->ch = ch;
	c->id = ++t->next_id;
	return c;
}

void
xr_calls_release(xr_channel *ch, xr_client_call *c)
{
	xr_calls *t = &ch->calls;

	free(c->qreq);
	c->qreq = NULL;
	c->qreq_len = 0;
	c->state = XR_CALL_FREE;
	c->cb = NULL;
	c->arg = NULL;
	if (t->nfree >= ch->max_inflight) {
		free(c);
		return;
	}
	c->qnext = t->free;
	t->free = c;
	t->nfree++;
}

int
xr_calls_insert(xr_channel *ch, xr_client_call *c)
{
	/* ids are unique and the cap is far below the map's bound: only
	 * growth can fail (XR_ERR_NOMEM) */
	return xr_hmap_insert(&ch->calls.map, &c->id, sizeof(c->id), c);
}

xr_client_call *
xr_calls_find(xr_channel *ch, uint64_t id)
{
	return xr_hmap_find(&ch->calls.map, &id, sizeof(id));
}

xr_client_call *
xr_calls_any(xr_channel *ch)
{
	xr_hmap_iter it;
	void *c;

	xr_hmap_iter_init(&it, &ch->calls.map);
	return xr_hmap_iter_next(&it, NULL, NULL, &c) ? c : NULL;
}

static void
calls_remove(xr_calls *t, xr_client_call *c)
{
	(void)xr_hmap_remove(&t->map, &c->id, sizeof(c->id));
}

void
xr_calls_enqueue(xr_channel *ch, xr_client_call *c)
{
	c->qnext = NULL;
	c->qprev = ch->q_tail;
	if (ch->q_tail != NULL)
		ch->q_tail->qnext = c;
	else
		ch->q_head = c;
	ch->q_tail = c;
	c->state = XR_CALL_QUEUED;
}

void
xr_calls_unqueue(xr_channel *ch, xr_client_call *c)
{
	if (c->qprev != NULL)
		c->qprev->qnext = c->qnext;
	else
		ch->q_head = c->qnext;
	if (c->qnext != NULL)
		c->qnext->qprev = c->qprev;
	else
		ch->q_tail = c->qprev;
	c->qprev = c->qnext = NULL;
}

static int
timer_arm_us(xr_client_call *c, uint64_t us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000u);
	tv.tv_usec = (suseconds_t)(us % 1000000u);
	return evtimer_add(&c->timer, &tv);
}

/* libevent may keep time on CLOCK_MONOTONIC_COARSE (a few ms per tick), so
 * its timer can fire before the deadline by the precise clock: the call then
 * waits out the rest rather than failing early. */
static void
calls_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_client_call *c = arg;
	xr_channel *ch = c->ch;
	uint64_t now = xr_mono_us();

	(void)fd;
	(void)what;
	/* (a timer that cannot be armed again ends the call now: it
	 * never waits without one) */
	if (now < c->deadline_us && timer_arm_us(c, c->deadline_us - now) == 0)
		return;
	c->has_timer = 0;
	xr_channel_enter(ch);
	if (c->state == XR_CALL_SENT) {
		if (ch->kind == XR_CH_TCP)
			xr_tcp_abandon(ch, c);
		else
			xr_mem_abandon(ch, c);
	}
	xr_calls_complete(c, XR_STATUS_DEADLINE_EXCEEDED, "deadline exceeded",
	    NULL, 0);
	if (ch->kind == XR_CH_TCP)
		xr_tcp_maybe_drained(ch);
	xr_channel_leave(ch);
}

int
xr_calls_arm_deadline(xr_channel *ch, xr_client_call *c, uint32_t timeout_ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	if (event_assign(&c->timer, ch->base, -1, 0, calls_deadline_cb, c) != 0 ||
	    evtimer_add(&c->timer, &tv) != 0)
		return XR_ERR_SYSTEM;
	c->has_timer = 1;
	c->deadline_us = xr_mono_us() + (uint64_t)timeout_ms * 1000u;
	return XR_OK;
}

static void
status_fill(xr_status *st, int code, const char *msg)
{
	size_t n;

	st->code = code;
	if (msg == NULL)
		msg = "";
	n = strnlen(msg, sizeof(st->message) - 1);
	memcpy(st->message, msg, n);
	st->message[n] = '\0';
}

void
xr_calls_complete(xr_client_call *c, int code, const char *msg,
    const uint8_t *resp, size_t resp_len)
{
	xr_channel *ch = c->ch;
	xr_call_cb cb = c->cb;
	void *arg = c->arg;
	xr_status st;

	calls_remove(&ch->calls, c);
	if (c->state == XR_CALL_QUEUED)
		xr_calls_unqueue(ch, c);
	if (c->has_timer) {
		evtimer_del(&c->timer);
		c->has_timer = 0;
	}
	xr_calls_release(ch, c);
	if (code == XR_STATUS_OK)
		ch->stats.calls_ok++;
	else
		ch->stats.calls_failed++;
	status_fill(&st, code, msg);
	if (code != XR_STATUS_OK) {
		resp = NULL;
		resp_len = 0;
	}
	if (cb != NULL)
		cb(arg, &st, resp, resp_len);
}

void
xr_calls_fail_now(xr_channel *ch, xr_call_cb cb, void *arg, int code,
    const char *msg)
{
	xr_status st;

	if (ch != NULL) {
		ch->stats.calls_started++;
		ch->stats.calls_failed++;
	}
	status_fill(&st, code, msg);
	if (cb != NULL)
		cb(arg, &st, NULL, 0);
}
