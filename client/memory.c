/*
 * client/memory.c — the memory transport: calls go in-process to an
 * xr_local_target (core/dispatch.h), with the same deadlines (a timer on the
 * channel's base), cancellation, payload limit and status codes as
 * tcp_local.
 */
#include "channel_priv.h"

/* The target's completion; may run inside target->start(). */
static void
mem_done(void *done_arg, int code, const char *msg, const uint8_t *resp,
    size_t resp_len)
{
	xr_client_call *c = done_arg;
	xr_channel *ch;

	if (c == NULL || c->state != XR_CALL_SENT)
		return;		/* a target breaking its contract */
	ch = c->ch;
	xr_channel_enter(ch);
	c->mem_handle = NULL;
	if (code < XR_STATUS_OK || code > XR_STATUS_UNAUTHENTICATED)
		code = XR_STATUS_UNKNOWN;
	if (code == XR_STATUS_OK && resp_len > ch->max_payload) {
		/* as a tcp_local endpoint or channel refuses it */
		code = XR_STATUS_RESOURCE_EXHAUSTED;
		msg = XR_CLIENT_MSG_RESP_TOO_LARGE;
		resp = NULL;
		resp_len = 0;
	}
	xr_calls_complete(c, code, msg, resp, resp_len);
	xr_channel_leave(ch);
}

void
xr_mem_start_call(xr_channel *ch, xr_client_call *c, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms)
{
	uint64_t id = c->id;
	void *h;

	c->state = XR_CALL_SENT;
	c->mem_in_start = 1;
	h = ch->target.start(ch->target.arg, c->method, req, req_len,
	    timeout_ms, mem_done, c);
	/* done() may have run and `c` been recycled (or even reused) */
	if (xr_calls_find(ch, id) != c)
		return;
	c->mem_in_start = 0;
	c->mem_handle = h;
}

void
xr_mem_abandon(xr_channel *ch, xr_client_call *c)
{
	void *h = c->mem_handle;

	c->mem_handle = NULL;
	if (c->state == XR_CALL_SENT && h != NULL && ch->target.cancel != NULL)
		ch->target.cancel(ch->target.arg, h);
}
