/*
 * client/channel.c — the public call API over both transports: starting,
 * cancelling and blocking calls, readiness, stats, and the channel's
 * lifetime (deferred free when freed from inside one of its callbacks).
 */
#include "channel_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "keys.h"
#include "loop.h"
#include "printable.h"

void
xr_channel_enter(xr_channel *ch)
{
	ch->busy++;
}

static void
channel_destroy(xr_channel *ch)
{
	if (ch->kind == XR_CH_TCP)
		xr_tcp_destroy(ch);
	xr_calls_destroy(&ch->calls);
	if (ch->scratch != NULL) {
		xr_wipe(ch->scratch, ch->scratch_cap);
		free(ch->scratch);
	}
	xr_wipe(ch, sizeof(*ch));
	free(ch);
}

int
xr_channel_leave(xr_channel *ch)
{
	if (--ch->busy == 0 && ch->freeing) {
		channel_destroy(ch);
		return 1;
	}
	return 0;
}

static xr_channel *
channel_alloc(struct event_base *base, int kind)
{
	xr_channel *ch;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return NULL;
	ch->base = base;
	ch->kind = kind;
	ch->max_payload = XR_CLIENT_DEF_MAX_PAYLOAD;
	ch->max_inflight = XR_CLIENT_DEF_MAX_INFLIGHT;
	ch->fd = -1;
	xr_calls_init(&ch->calls);
	return ch;
}

xr_channel *
xr_channel_new_tcp_diag(struct event_base *base, const xr_channel_opts *opts,
    const xr_keyset *ks, xr_diag *d)
{
	xr_channel *ch;

	if (base == NULL || opts == NULL || ks == NULL) {
		xr_diag_set(d, XR_ERR_INVALID_ARG, "tcp_local channel: %s is "
		    "NULL", base == NULL ? "the event base" : opts == NULL ?
		    "the options" : "the keyset");
		return NULL;
	}
	if ((ch = channel_alloc(base, XR_CH_TCP)) == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (xr_tcp_open(ch, opts, ks, d) != XR_OK) {
		xr_tcp_destroy(ch);
		xr_calls_destroy(&ch->calls);
		free(ch);
		return NULL;
	}
	xr_diag_set(d, XR_OK, "%s", "");
	return ch;
}

xr_channel *
xr_channel_new_tcp(struct event_base *base, const xr_channel_opts *opts,
    const xr_keyset *ks, int *err)
{
	xr_diag d = { 0 };
	xr_channel *ch = xr_channel_new_tcp_diag(base, opts, ks, &d);

	if (err != NULL)
		*err = ch != NULL ? XR_OK : d.code;
	return ch;
}

xr_channel *
xr_channel_new_memory_opts(struct event_base *base,
    const xr_local_target *target, const xr_channel_opts *opts)
{
	xr_channel *ch;

	if (base == NULL || target == NULL || target->start == NULL)
		return NULL;
	if ((ch = channel_alloc(base, XR_CH_MEMORY)) == NULL)
		return NULL;
	if (opts != NULL && opts->max_payload_bytes != 0)
		ch->max_payload = opts->max_payload_bytes;
	if (opts != NULL && opts->max_inflight != 0)
		ch->max_inflight = opts->max_inflight;
	ch->target = *target;
	ch->state = XR_CH_READY;
	return ch;
}

xr_channel *
xr_channel_new_memory(struct event_base *base, const xr_local_target *target)
{
	return xr_channel_new_memory_opts(base, target, NULL);
}

void
xr_channel_free(xr_channel *ch)
{
	xr_client_call *c;

	if (ch == NULL || ch->freeing)
		return;
	xr_channel_enter(ch);
	ch->freeing = 1;
	if (ch->kind == XR_CH_TCP) {
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "channel closed");
	} else {
		ch->state = XR_CH_CLOSED;
		while ((c = xr_calls_any(ch)) != NULL) {
			xr_mem_abandon(ch, c);
			xr_calls_complete(c, XR_STATUS_UNAVAILABLE,
			    "channel closed", NULL, 0);
		}
	}
	xr_channel_leave(ch);
}

int
xr_channel_is_usable(const xr_channel *ch)
{
	if (ch == NULL || ch->freeing)
		return 0;
	return ch->state == XR_CH_CONNECTING || ch->state == XR_CH_HANDSHAKE ||
	    ch->state == XR_CH_READY;
}

_Static_assert(XR_CHANNEL_REJECT_KINDS == XR_REJECT_COUNT,
    "xr_channel_stats.rejects is indexed by xr_reject");

void
xr_channel_stats_get(const xr_channel *ch, xr_channel_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (ch == NULL)
		return;
	*out = ch->stats;
	memcpy(out->rejects, ch->rx.counters.rejects, sizeof(out->rejects));
}

/*
 * "package.Service/Method": non-empty parts, fits Envelope.method. NULL if
 * it is one, else why not, in `buf` (the name quoted, made printable).
 */
static const char *
method_refusal(const char *m, char *buf, size_t cap)
{
	const char *slash;
	char shown[XR_CLIENT_METHOD_MAX + 8];
	size_t n;

	if (m == NULL || m[0] == '\0') {
		snprintf(buf, cap, "no method name: give it as %s",
		    XR_CLIENT_METHOD_FORM);
		return buf;
	}
	n = strnlen(m, XR_CLIENT_METHOD_MAX);
	slash = strchr(m, '/');
	if (n < XR_CLIENT_METHOD_MAX && slash != NULL && slash != m &&
	    slash[1] != '\0' && strchr(slash + 1, '/') == NULL)
		return NULL;
	xr_printable(m, strlen(m), shown, 64);
	if (n >= XR_CLIENT_METHOD_MAX)
		snprintf(buf, cap, "method name \"%s\" is longer than %d "
		    "bytes", shown, XR_CLIENT_METHOD_MAX - 1);
	else
		snprintf(buf, cap, "malformed method name \"%s\": expected "
		    "%s, e.g. \"echo.v1.Echo/Say\"", shown,
		    XR_CLIENT_METHOD_FORM);
	return buf;
}

/* Why a channel takes no call, and the status: a closed channel's own
 * reason (refused handshake: UNAUTHENTICATED). */
static const char *
unusable_reason(const xr_channel *ch, int *status)
{
	*status = XR_STATUS_UNAVAILABLE;
	if (ch->freeing)
		return "channel closed";
	if (ch->close_why[0] == '\0')
		return "not connected";
	if (ch->state == XR_CH_CLOSED)
		*status = ch->close_status;
	return ch->close_why;
}

/* The body of xr_call_start, inside enter/leave. */
static xr_client_call *
call_start(xr_channel *ch, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, xr_call_cb cb, void *arg)
{
	xr_client_call *c;
	const char *why;
	char buf[XR_CLIENT_WHY_MAX];
	int status;

	if ((why = method_refusal(method, buf, sizeof(buf))) != NULL) {
		xr_calls_fail_now(ch, cb, arg, XR_STATUS_INVALID_ARGUMENT,
		    why);
		return NULL;
	}
	if (req == NULL && req_len > 0) {
		xr_calls_fail_now(ch, cb, arg, XR_STATUS_INVALID_ARGUMENT,
		    "request is NULL with a non-zero length");
		return NULL;
	}
	if (req_len > ch->max_payload) {
		xr_calls_fail_now(ch, cb, arg, XR_STATUS_INVALID_ARGUMENT,
		    XR_CLIENT_MSG_REQ_TOO_LARGE);
		return NULL;
	}
	if (!xr_channel_is_usable(ch)) {
		why = unusable_reason(ch, &status);
		xr_calls_fail_now(ch, cb, arg, status, why);
		return NULL;
	}
	if (xr_hmap_count(&ch->calls.map) >= ch->max_inflight ||
	    (ch->kind == XR_CH_TCP &&
	     xr_tcp_outbuf_len(ch) > XR_CLIENT_MAX_OUTBUF)) {
		xr_calls_fail_now(ch, cb, arg, XR_STATUS_RESOURCE_EXHAUSTED,
		    "too many calls in flight on the channel");
		return NULL;
	}
	if ((c = xr_calls_alloc(ch)) == NULL) {
		xr_calls_fail_now(ch, cb, arg, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory");
		return NULL;
	}
	if (xr_calls_insert(ch, c) != XR_OK) {
		xr_calls_release(ch, c);
		xr_calls_fail_now(ch, cb, arg, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory");
		return NULL;
	}
	ch->stats.calls_started++;
	c->cb = cb;
	c->arg = arg;
	memcpy(c->method, method, strlen(method) + 1);
	if (timeout_ms > 0 &&
	    xr_calls_arm_deadline(ch, c, timeout_ms) != XR_OK) {
		xr_calls_complete(c, XR_STATUS_INTERNAL,
		    "cannot arm the deadline timer", NULL, 0);
		return NULL;
	}
	if (ch->kind == XR_CH_TCP) {
		if (xr_tcp_start_call(ch, c, req, req_len, timeout_ms) != XR_OK)
			return NULL;
		return c;
	}
	xr_mem_start_call(ch, c, req, req_len, timeout_ms);
	/* the call may have completed inside the target's start() and its
	 * struct been recycled, even reused by a call started from the
	 * callback: it is ours only if still pending under its own id */
	return c;
}

xr_client_call *
xr_call_start(xr_channel *ch, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, xr_call_cb cb, void *arg)
{
	xr_client_call *c;
	uint64_t id;

	if (ch == NULL) {
		xr_calls_fail_now(NULL, cb, arg, XR_STATUS_UNAVAILABLE,
		    XR_CLIENT_MSG_NO_CHANNEL);
		return NULL;
	}
	xr_channel_enter(ch);
	id = ch->calls.next_id + 1;
	c = call_start(ch, method, req, req_len, timeout_ms, cb, arg);
	if (c != NULL && (c->state == XR_CALL_FREE || c->id != id ||
	    xr_calls_find(ch, id) != c))
		c = NULL;
	if (xr_channel_leave(ch))
		return NULL;
	return c;
}

void
xr_call_cancel(xr_client_call *c)
{
	xr_channel *ch;

	if (c == NULL || c->state == XR_CALL_FREE)
		return;
	ch = c->ch;
	xr_channel_enter(ch);
	if (c->state == XR_CALL_SENT) {
		if (ch->kind == XR_CH_TCP)
			xr_tcp_abandon(ch, c);
		else
			xr_mem_abandon(ch, c);
	}
	xr_calls_complete(c, XR_STATUS_CANCELLED, "cancelled", NULL, 0);
	if (ch->kind == XR_CH_TCP)
		xr_tcp_maybe_drained(ch);
	xr_channel_leave(ch);
}

/* ---- readiness ----------------------------------------------------------- */

static int
ready_done(void *arg)
{
	const xr_channel *ch = arg;

	return ch->freeing || (ch->state != XR_CH_CONNECTING &&
	    ch->state != XR_CH_HANDSHAKE);
}

int
xr_channel_wait_ready_diag(xr_channel *ch, uint32_t timeout_ms, xr_diag *d)
{
	int r;

	if (ch == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "no channel");
	if (ch->freeing)
		return xr_diag_set(d, XR_ERR_CLOSED, "channel closed");
	if (ch->kind == XR_CH_MEMORY)
		return xr_diag_set(d, XR_OK, "%s", "");
	xr_channel_enter(ch);
	/* 0: just report the current state. The loop's own result does not
	 * matter: the state says where it got (a timeout, or a loop that
	 * cannot run from inside a callback, leave it connecting) */
	if (timeout_ms > 0)
		(void)xr_loop_until(ch->base, ready_done, ch,
		    xr_mono_ms() + timeout_ms);
	if (ch->freeing)
		r = xr_diag_set(d, XR_ERR_CLOSED, "channel closed");
	else if (ch->state == XR_CH_CLOSED)
		r = xr_diag_set(d, ch->close_err != XR_OK ? ch->close_err :
		    XR_ERR_CLOSED, "%s", ch->close_why);
	else if (ch->state == XR_CH_READY || ch->state == XR_CH_DRAINING)
		r = xr_diag_set(d, XR_OK, "%s", "");
	else
		r = xr_diag_set(d, XR_ERR_READY_TIMEOUT, "%s to %s not done "
		    "within %u ms (still trying until connect_timeout_ms)",
		    ch->state == XR_CH_CONNECTING ? "connect" : "handshake",
		    ch->peer, (unsigned)timeout_ms);
	if (xr_channel_leave(ch))
		return XR_ERR_CLOSED;
	return r;
}

int
xr_channel_wait_ready(xr_channel *ch, uint32_t timeout_ms)
{
	return xr_channel_wait_ready_diag(ch, timeout_ms, NULL);
}

/* ---- blocking calls ------------------------------------------------------ */

struct sync_call {
	int done;
	xr_status st;
	/* bytes mode */
	int want_bytes;
	uint8_t *resp;
	size_t resp_len;
	/* nanopb mode */
	const pb_msgdesc_t *resp_fields;
	void *resp_msg;
};

static void
sync_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t resp_len)
{
	struct sync_call *s = arg;

	s->done = 1;
	s->st = *st;
	if (st->code != XR_STATUS_OK)
		return;
	if (s->want_bytes) {
		if (resp_len == 0)
			return;
		if ((s->resp = malloc(resp_len)) == NULL) {
			s->st.code = XR_STATUS_INTERNAL;
			snprintf(s->st.message, sizeof(s->st.message),
			    "out of memory for the response");
			return;
		}
		memcpy(s->resp, resp, resp_len);
		s->resp_len = resp_len;
	} else if (s->resp_fields != NULL) {
		pb_istream_t is = pb_istream_from_buffer(resp, resp_len);

		if (!pb_decode(&is, s->resp_fields, s->resp_msg)) {
			s->st.code = XR_STATUS_INTERNAL;
			snprintf(s->st.message, sizeof(s->st.message),
			    "response does not decode");
		}
	}
}

static int
sync_done(void *arg)
{
	return ((const struct sync_call *)arg)->done;
}

/* Start the call and run the base until it completes. */
static void
sync_run(xr_channel *ch, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, struct sync_call *s)
{
	struct event_base *base = ch->base;
	xr_client_call *c;

	c = xr_call_start(ch, method, req, req_len, timeout_ms, sync_cb, s);
	/* pending: send the request now rather than on the next loop turn */
	if (c != NULL && ch->kind == XR_CH_TCP)
		xr_tcp_flush(ch);
	/* `ch` may be gone once the base runs: only `c` and `base` are used.
	 * No deadline here: the call's own deadline timer completes it. */
	if (xr_loop_until(base, sync_done, s, 0) != XR_OK) {
		/* no event can complete it, or the loop is already running
		 * (a blocking call from a callback) */
		if (c != NULL)
			xr_call_cancel(c);
		s->st.code = XR_STATUS_INTERNAL;
		snprintf(s->st.message, sizeof(s->st.message),
		    "event loop cannot run (blocking call from a "
		    "callback, or nothing can complete the call)");
		s->done = 1;
		free(s->resp);
		s->resp = NULL;
		s->resp_len = 0;
	}
}

int
xr_call_sync_bytes(xr_channel *ch, const char *method, const uint8_t *req,
    size_t req_len, uint8_t **resp, size_t *resp_len, uint32_t timeout_ms,
    xr_status *st)
{
	struct sync_call s;

	memset(&s, 0, sizeof(s));
	s.want_bytes = 1;
	if (resp != NULL)
		*resp = NULL;
	if (resp_len != NULL)
		*resp_len = 0;
	if (ch == NULL) {
		s.st.code = XR_STATUS_UNAVAILABLE;
		snprintf(s.st.message, sizeof(s.st.message), "%s",
		    XR_CLIENT_MSG_NO_CHANNEL);
	} else
		sync_run(ch, method, req, req_len, timeout_ms, &s);
	if (s.st.code == XR_STATUS_OK && resp != NULL && resp_len != NULL) {
		*resp = s.resp;
		*resp_len = s.resp_len;
	} else
		free(s.resp);
	if (st != NULL)
		*st = s.st;
	return s.st.code;
}

static int
sync_fail(xr_status *st, int code, const char *msg)
{
	if (st != NULL) {
		st->code = code;
		snprintf(st->message, sizeof(st->message), "%s", msg);
	}
	return code;
}

int
xr_call_sync(xr_channel *ch, const char *method,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp, uint32_t timeout_ms,
    xr_status *st)
{
	struct sync_call s;
	pb_ostream_t os;
	size_t len;

	if (ch == NULL)
		return sync_fail(st, XR_STATUS_UNAVAILABLE,
		    XR_CLIENT_MSG_NO_CHANNEL);
	if (req_fields == NULL || req == NULL)
		return sync_fail(st, XR_STATUS_INVALID_ARGUMENT,
		    "bad arguments");
	if (!pb_get_encoded_size(&len, req_fields, req))
		return sync_fail(st, XR_STATUS_INVALID_ARGUMENT,
		    "request does not encode");
	if (len > ch->max_payload)
		return sync_fail(st, XR_STATUS_INVALID_ARGUMENT,
		    XR_CLIENT_MSG_REQ_TOO_LARGE);
	if (len > ch->scratch_cap) {
		uint8_t *nb = malloc(len);

		if (nb == NULL)
			return sync_fail(st, XR_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
		if (ch->scratch != NULL) {
			xr_wipe(ch->scratch, ch->scratch_cap);
			free(ch->scratch);
		}
		ch->scratch = nb;
		ch->scratch_cap = len;
	}
	os = pb_ostream_from_buffer(ch->scratch, len);
	if (!pb_encode(&os, req_fields, req) || os.bytes_written != len)
		return sync_fail(st, XR_STATUS_INVALID_ARGUMENT,
		    "request does not encode");

	memset(&s, 0, sizeof(s));
	s.resp_fields = resp_fields;
	s.resp_msg = resp;
	if (resp_fields == NULL || resp == NULL)
		s.resp_fields = NULL;
	/* xr_call_start copies the request, so the scratch is free again
	 * before anything else can use it */
	sync_run(ch, method, ch->scratch, len, timeout_ms, &s);
	if (st != NULL)
		*st = s.st;
	return s.st.code;
}
