/*
 * client/msgcall.c — xr_call_start_msg(): an async call on nanopb messages.
 *
 * The one copy of what every generated <name>.xrc.c `_start()` stub does:
 * encode the request, xr_call_start() it, decode the response into a heap
 * message and hand it to the stub's typed trampoline
 * (docs/protoc-gen-execrpc.md). It uses only the public call API
 * (execrpc/client.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include <pb_common.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "execrpc/client.h"

/* Requests up to this size are encoded on the stack, in one pass. */
#define MSG_STACK_REQ 512

/* A call in flight: how to decode its response and whom to tell. */
struct msgcall {
	xr_msg_deliver_fn deliver;
	void (*cb)(void);		/* the typed callback, cast back by deliver */
	void *arg;
	const pb_msgdesc_t *resp_fields;
	size_t resp_size;
};

static void
msgcall_fail(const struct msgcall *m, int code, const char *msg)
{
	xr_status st;

	st.code = code;
	snprintf(st.message, sizeof(st.message), "%s", msg);
	m->deliver(m->cb, m->arg, &st, NULL);
}

/*
 * Whether every field of `desc`, and of every message inside it, defaults
 * to zero (no [default = ...]; always so in proto3). Then the zeroed
 * message already holds every default and the decode skips nanopb's
 * initialisation (PB_DECODE_NOINIT), which would clear it again field by
 * field: for a response with a 4 KiB string, a second 4 KiB memset per
 * call. `base` is the message (iterating only computes field addresses).
 * Recursion deeper than 16 (a recursive message) answers no.
 */
static int
zero_defaults(const pb_msgdesc_t *desc, void *base, int depth)
{
	pb_field_iter_t it;

	if (desc->default_value != NULL || depth > 16)
		return 0;
	if (!pb_field_iter_begin(&it, desc, base))
		return 1;	/* no fields */
	do {
		if (PB_LTYPE_IS_SUBMSG(it.type) && (it.submsg_desc == NULL ||
		    !zero_defaults(it.submsg_desc, base, depth + 1)))
			return 0;
	} while (pb_field_iter_next(&it));
	return 1;
}

/* zero_defaults() of the last few response types this thread decoded. */
#define ZD_CACHE 4
static _Thread_local struct {
	const pb_msgdesc_t *desc;
	int zero;
} zd_cache[ZD_CACHE];
static _Thread_local unsigned zd_next;

static unsigned
decode_flags(const pb_msgdesc_t *desc, void *msg)
{
	int zero;

	for (unsigned i = 0; i < ZD_CACHE; i++)
		if (zd_cache[i].desc == desc)
			return zd_cache[i].zero ? PB_DECODE_NOINIT : 0;
	zero = zero_defaults(desc, msg, 0);
	zd_cache[zd_next].desc = desc;
	zd_cache[zd_next].zero = zero;
	zd_next = (zd_next + 1) % ZD_CACHE;
	return zero ? PB_DECODE_NOINIT : 0;
}

/* The xr_call_cb of every call: decode, deliver once, free. */
static void
msgcall_done(void *arg, const xr_status *st, const uint8_t *resp,
    size_t resp_len)
{
	struct msgcall *m = arg;
	void *msg = NULL;
	pb_istream_t is;

	if (st->code != XR_STATUS_OK)
		m->deliver(m->cb, m->arg, st, NULL);
	else if ((msg = calloc(1, m->resp_size)) == NULL)
		msgcall_fail(m, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory for the response");
	else {
		is = pb_istream_from_buffer(resp, resp_len);
		if (pb_decode_ex(&is, m->resp_fields, msg,
		    decode_flags(m->resp_fields, msg)))
			m->deliver(m->cb, m->arg, st, msg);
		else
			msgcall_fail(m, XR_STATUS_INTERNAL,
			    "response does not decode");
	}
	free(msg);
	free(m);
}

xr_client_call *
xr_call_start_msg(xr_channel *ch, const char *method,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, size_t resp_size, uint32_t timeout_ms,
    xr_msg_deliver_fn deliver, void (*cb)(void), void *arg)
{
	struct msgcall tmpl, *m = NULL;
	xr_client_call *c;
	pb_ostream_t os;
	uint8_t stackbuf[MSG_STACK_REQ], *buf = NULL;
	const char *why = NULL;
	int code = XR_STATUS_INVALID_ARGUMENT;
	size_t len = 0;

	if (deliver == NULL)
		return NULL;
	tmpl.deliver = deliver;
	tmpl.cb = cb;
	tmpl.arg = arg;
	tmpl.resp_fields = resp_fields;
	tmpl.resp_size = resp_size;
	if (ch == NULL) {
		code = XR_STATUS_UNAVAILABLE;
		why = XR_CLIENT_MSG_NO_CHANNEL;
	} else if (req_fields == NULL || req == NULL || resp_fields == NULL ||
	    resp_size == 0)
		why = "bad arguments";
	else if ((m = malloc(sizeof(*m))) == NULL) {
		code = XR_STATUS_RESOURCE_EXHAUSTED;
		why = "out of memory";
	} else {
		/* one pass into the stack when it fits; else size it and
		 * encode into the heap */
		os = pb_ostream_from_buffer(stackbuf, sizeof(stackbuf));
		if (pb_encode(&os, req_fields, req)) {
			buf = stackbuf;
			len = os.bytes_written;
		} else if (!pb_get_encoded_size(&len, req_fields, req))
			why = "request does not encode";
		else if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
			code = XR_STATUS_RESOURCE_EXHAUSTED;
			why = "out of memory";
		} else {
			os = pb_ostream_from_buffer(buf, len);
			if (!pb_encode(&os, req_fields, req) ||
			    os.bytes_written != len)
				why = "request does not encode";
		}
	}
	if (why != NULL) {
		if (buf != stackbuf)
			free(buf);
		free(m);
		msgcall_fail(&tmpl, code, why);
		return NULL;
	}
	*m = tmpl;
	/* xr_call_start copies the request; `m` is msgcall_done's from
	 * here on, even when that runs inside this call */
	c = xr_call_start(ch, method, buf, len, timeout_ms, msgcall_done, m);
	if (buf != stackbuf)
		free(buf);
	return c;
}
