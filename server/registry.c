/* server/registry.c — method table, dispatch, call lifetime. */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "err.h"
#include "log.h"

#define METHOD_NAME_MAX 160
#define STATUS_MSG_MAX 256

struct method {
	char name[METHOD_NAME_MAX];
	uint64_t hash;
	const ProtobufCMessageDescriptor *in, *out;
	xr_handler_fn fn;
	void *arg;
};

struct xr_registry {
	struct event_base *base;
	struct method *methods;		/* dense array */
	size_t n, cap;
	uint32_t *index;		/* open addressing: method idx + 1, 0 = empty */
	size_t index_mask;
	uint8_t *scratch;		/* response serialization, reused */
	size_t scratch_cap;
	struct xr_call *free_calls;	/* finished calls kept for reuse */
	size_t n_free;
};

#define CALL_FREELIST_MAX 1024

struct xr_call {
	xr_registry *reg;
	const struct method *m;
	ProtobufCMessage *req;
	uint64_t call_id;
	xr_complete_fn complete;
	void *owner;
	void (*cancel_fn)(void *);
	void *cancel_arg;
	struct event deadline;
	unsigned has_deadline:1;
	unsigned owner_done:1;		/* completed or abandoned */
	unsigned handler_done:1;	/* reply/fail called */
	unsigned cancelled:1;
	unsigned hold;			/* >0 while registry code uses the call */
	struct xr_call *next_free;
};

static uint64_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

xr_registry *
xr_registry_new(struct event_base *base)
{
	xr_registry *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->base = base;
	return r;
}

void
xr_registry_free(xr_registry *r)
{
	if (r == NULL)
		return;
	while (r->free_calls != NULL) {
		xr_call *c = r->free_calls;

		r->free_calls = c->next_free;
		free(c);
	}
	free(r->methods);
	free(r->index);
	free(r->scratch);
	free(r);
}

static const struct method *
find(const xr_registry *r, const char *name)
{
	uint64_t h;
	size_t i;

	if (r->index == NULL)
		return NULL;
	h = name_hash(name);
	for (i = h & r->index_mask; r->index[i] != 0; i = (i + 1) & r->index_mask) {
		const struct method *m = &r->methods[r->index[i] - 1];

		if (m->hash == h && strcmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}

static int
reindex(xr_registry *r)
{
	size_t size = 16;
	uint32_t *idx;

	while (size < r->n * 2)
		size <<= 1;
	if ((idx = calloc(size, sizeof(*idx))) == NULL)
		return XR_ERR_NOMEM;
	free(r->index);
	r->index = idx;
	r->index_mask = size - 1;
	for (size_t k = 0; k < r->n; k++) {
		size_t i = r->methods[k].hash & r->index_mask;

		while (r->index[i] != 0)
			i = (i + 1) & r->index_mask;
		r->index[i] = (uint32_t)(k + 1);
	}
	return XR_OK;
}

int
xr_registry_add(xr_registry *r, const ProtobufCServiceDescriptor *sd,
    const xr_handler_fn *handlers, void *svc_arg)
{
	size_t old_n = r->n;
	int ret = XR_ERR_INVALID_ARG;

	if (sd == NULL || handlers == NULL)
		return XR_ERR_INVALID_ARG;
	if (r->n + sd->n_methods > r->cap) {
		size_t cap = r->cap ? r->cap : 8;
		struct method *nm;

		while (cap < r->n + sd->n_methods)
			cap *= 2;
		if ((nm = realloc(r->methods, cap * sizeof(*nm))) == NULL)
			return XR_ERR_NOMEM;
		r->methods = nm;
		r->cap = cap;
	}
	for (unsigned i = 0; i < sd->n_methods; i++) {
		struct method *m = &r->methods[r->n];
		int n;

		n = snprintf(m->name, sizeof(m->name), "%s/%s", sd->name,
		    sd->methods[i].name);
		if (n < 0 || (size_t)n >= sizeof(m->name) ||
		    handlers[i] == NULL || find(r, m->name) != NULL)
			goto fail;
		m->hash = name_hash(m->name);
		m->in = sd->methods[i].input;
		m->out = sd->methods[i].output;
		m->fn = handlers[i];
		m->arg = svc_arg;
		r->n++;
		if ((ret = reindex(r)) != XR_OK)
			goto fail;
		ret = XR_ERR_INVALID_ARG;
	}
	return XR_OK;
 fail:
	r->n = old_n;
	if (reindex(r) != XR_OK)
		return XR_ERR_NOMEM;
	return ret;
}

int
xr_registry_has(const xr_registry *r, const char *method)
{
	return find(r, method) != NULL;
}

size_t
xr_registry_count(const xr_registry *r)
{
	return r->n;
}

static void
call_maybe_free(xr_call *c)
{
	xr_registry *r = c->reg;

	if (!c->owner_done || !c->handler_done || c->hold > 0)
		return;
	if (c->has_deadline)
		event_del(&c->deadline);
	if (c->req != NULL)
		protobuf_c_message_free_unpacked(c->req, NULL);
	/* keep it for the next call: no allocation per call in steady state */
	if (r->n_free < CALL_FREELIST_MAX) {
		c->next_free = r->free_calls;
		r->free_calls = c;
		r->n_free++;
		return;
	}
	free(c);
}

static xr_call *
call_alloc(xr_registry *r)
{
	xr_call *c = r->free_calls;

	if (c == NULL)
		return calloc(1, sizeof(*c));
	r->free_calls = c->next_free;
	r->n_free--;
	memset(c, 0, sizeof(*c));
	return c;
}

static void
call_cancel(xr_call *c)
{
	void (*fn)(void *) = c->cancel_fn;

	if (c->cancelled)
		return;
	c->cancelled = 1;
	c->cancel_fn = NULL;
	if (c->has_deadline)
		event_del(&c->deadline);
	if (fn != NULL)
		fn(c->cancel_arg);
}

static void
call_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_call *c = arg;

	(void)fd;
	(void)what;
	if (c->owner_done)
		return;
	c->owner_done = 1;
	c->hold++;
	c->complete(c->owner, c->call_id, XR_STATUS_DEADLINE_EXCEEDED,
	    "deadline exceeded", NULL, 0);
	call_cancel(c);		/* may make the handler finish */
	c->hold--;
	call_maybe_free(c);
}

xr_call *
xr_dispatch_start(xr_registry *r, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, xr_complete_fn complete, void *owner,
    uint64_t call_id)
{
	const struct method *m = find(r, method);
	ProtobufCMessage *msg;
	xr_call *c;

	if (m == NULL) {
		complete(owner, call_id, XR_STATUS_UNIMPLEMENTED,
		    "unknown method", NULL, 0);
		return NULL;
	}
	if ((msg = protobuf_c_message_unpack(m->in, NULL, req_len, req)) == NULL) {
		complete(owner, call_id, XR_STATUS_INVALID_ARGUMENT,
		    "request does not decode as the method's input", NULL, 0);
		return NULL;
	}
	if ((c = call_alloc(r)) == NULL) {
		protobuf_c_message_free_unpacked(msg, NULL);
		complete(owner, call_id, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory", NULL, 0);
		return NULL;
	}
	c->reg = r;
	c->m = m;
	c->req = msg;
	c->call_id = call_id;
	c->complete = complete;
	c->owner = owner;
	if (timeout_ms > 0) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

		event_assign(&c->deadline, r->base, -1, 0, call_deadline_cb, c);
		event_add(&c->deadline, &tv);
		c->has_deadline = 1;
	}
	c->hold++;
	m->fn(c, msg, m->arg);
	c->hold--;
	if (c->owner_done) {
		/* finished synchronously: the owner already has its answer */
		call_maybe_free(c);
		return NULL;
	}
	return c;
}

void
xr_dispatch_abandon(xr_call *c)
{
	if (c == NULL || c->owner_done)
		return;
	c->owner_done = 1;
	c->hold++;
	call_cancel(c);
	c->hold--;
	call_maybe_free(c);
}

static int
call_finish(xr_call *c, int code, const char *msg, const uint8_t *resp,
    size_t len)
{
	int ret = XR_ERR_CLOSED;

	if (c->handler_done)
		return XR_ERR_INVALID_ARG;	/* finished twice: a handler bug */
	c->handler_done = 1;
	if (!c->owner_done) {
		c->owner_done = 1;
		if (c->has_deadline)
			event_del(&c->deadline);
		c->hold++;
		c->complete(c->owner, c->call_id, code, msg, resp, len);
		c->hold--;
		ret = XR_OK;
	}
	call_maybe_free(c);
	return ret;
}

int
xr_call_reply(xr_call *c, const ProtobufCMessage *resp)
{
	xr_registry *r = c->reg;
	size_t len;

	if (c->owner_done || c->handler_done)
		return call_finish(c, XR_STATUS_CANCELLED, "", NULL, 0);
	if (resp == NULL || resp->descriptor != c->m->out)
		return call_finish(c, XR_STATUS_INTERNAL,
		    "handler replied with the wrong message type", NULL, 0);
	len = protobuf_c_message_get_packed_size(resp);
	if (len > r->scratch_cap) {
		size_t cap = r->scratch_cap ? r->scratch_cap : 4096;
		uint8_t *nb;

		while (cap < len)
			cap *= 2;
		if ((nb = realloc(r->scratch, cap)) == NULL)
			return call_finish(c, XR_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory", NULL, 0);
		r->scratch = nb;
		r->scratch_cap = cap;
	}
	protobuf_c_message_pack(resp, r->scratch);
	return call_finish(c, XR_STATUS_OK, "", r->scratch, len);
}

int
xr_call_fail(xr_call *c, int code, const char *msg)
{
	char buf[STATUS_MSG_MAX];

	if (code == XR_STATUS_OK)
		code = XR_STATUS_UNKNOWN;
	snprintf(buf, sizeof(buf), "%s", msg != NULL ? msg : "");
	return call_finish(c, code, buf, NULL, 0);
}

int
xr_call_is_cancelled(const xr_call *c)
{
	return c->cancelled;
}

void
xr_call_on_cancel(xr_call *c, void (*fn)(void *arg), void *arg)
{
	c->cancel_fn = fn;
	c->cancel_arg = arg;
}

struct event_base *
xr_call_base(const xr_call *c)
{
	return c->reg->base;
}

const char *
xr_call_method(const xr_call *c)
{
	return c->m->name;
}

/* --- the memory transport target --- */

struct local_ctx {
	xr_local_done_fn done;
	void *done_arg;
};

static void
local_complete(void *owner, uint64_t call_id, int code, const char *msg,
    const uint8_t *resp, size_t len)
{
	struct local_ctx *lc = owner;

	(void)call_id;
	lc->done(lc->done_arg, code, msg, resp, len);
	free(lc);
}

static void *
local_start(void *arg, const char *method, const uint8_t *req, size_t req_len,
    uint32_t timeout_ms, xr_local_done_fn done, void *done_arg)
{
	struct local_ctx *lc = malloc(sizeof(*lc));

	if (lc == NULL) {
		done(done_arg, XR_STATUS_RESOURCE_EXHAUSTED, "out of memory",
		    NULL, 0);
		return NULL;
	}
	lc->done = done;
	lc->done_arg = done_arg;
	return xr_dispatch_start(arg, method, req, req_len, timeout_ms,
	    local_complete, lc, 0);
}

static void
local_cancel(void *arg, void *handle)
{
	xr_call *c = handle;

	(void)arg;
	if (c == NULL)
		return;
	free(c->owner);
	xr_dispatch_abandon(c);
}

xr_local_target
xr_registry_local_target(xr_registry *r)
{
	xr_local_target t = { local_start, local_cancel, r };

	return t;
}
