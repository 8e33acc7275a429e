/*
 * client/calls.c — the pending-call table of a channel.
 *
 * Calls are keyed by call_id in a chained hash table with power-of-two
 * buckets; ids are sequential, so `id & mask` spreads them evenly. Call
 * structs come from a per-channel freelist and carry their deadline timer
 * (event_assign'ed), so a channel in steady state allocates nothing per call.
 */
#include "channel_priv.h"

#include <stdlib.h>
#include <string.h>

#define CALLS_FIRST_BUCKETS 64

void
xr_calls_init(xr_calls *t)
{
	memset(t, 0, sizeof(*t));
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
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
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

static int
calls_grow(xr_calls *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : CALLS_FIRST_BUCKETS;
	xr_client_call **nb, *c, *next;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return XR_ERR_NOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (c = t->buckets[i]; c != NULL; c = next) {
			next = c->hnext;
			c->hnext = nb[c->id & (n - 1)];
			nb[c->id & (n - 1)] = c;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
	return XR_OK;
}

int
xr_calls_insert(xr_channel *ch, xr_client_call *c)
{
	xr_calls *t = &ch->calls;
	size_t i;
	int r;

	if (t->count >= t->nbuckets && (r = calls_grow(t)) != XR_OK)
		return r;
	i = c->id & (t->nbuckets - 1);
	c->hnext = t->buckets[i];
	t->buckets[i] = c;
	t->count++;
	return XR_OK;
}

xr_client_call *
xr_calls_find(xr_channel *ch, uint64_t id)
{
	xr_calls *t = &ch->calls;
	xr_client_call *c;

	if (t->nbuckets == 0)
		return NULL;
	for (c = t->buckets[id & (t->nbuckets - 1)]; c != NULL; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

xr_client_call *
xr_calls_any(xr_channel *ch)
{
	xr_calls *t = &ch->calls;

	if (t->count == 0)
		return NULL;
	for (size_t i = 0; i < t->nbuckets; i++)
		if (t->buckets[i] != NULL)
			return t->buckets[i];
	return NULL;
}

static void
calls_remove(xr_calls *t, xr_client_call *c)
{
	xr_client_call **pp;

	if (t->nbuckets == 0)
		return;
	for (pp = &t->buckets[c->id & (t->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			c->hnext = NULL;
			t->count--;
			return;
		}
	}
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

static void
calls_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_client_call *c = arg;
	xr_channel *ch = c->ch;

	(void)fd;
	(void)what;
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
	c->deadline_ms = xr_mono_ms() + timeout_ms;
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
