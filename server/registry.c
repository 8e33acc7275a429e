/* server/registry.c — method table, dispatch, call lifetime. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "arena.h"
#include "err.h"
#include "hmap.h"
#include "log.h"
#include "printable.h"
#include "rx.h"

#define METHOD_NAME_MAX 160
#define STATUS_MSG_MAX 256
/* Methods one registry holds at most (the hash map's bound). */
#define REGISTRY_MAX_METHODS 4096

struct method {
	char name[METHOD_NAME_MAX];
	const ProtobufCMessageDescriptor *in, *out;
	xr_handler_fn fn;
	xr_any_fn typed;
	void *arg;
	uint32_t max_req, max_resp;	/* bytes, or XR_SIZE_UNLIMITED */
	const xr_bounds *req_bounds, *resp_bounds;	/* or NULL */
};

/* A hook run when the registry is freed (xr_registry_on_free()). */
struct on_free {
	void (*fn)(void *arg);
	void *arg;
	struct on_free *next;
};

struct xr_registry {
	struct event_base *base;
	xr_hmap methods;		/* full name -> struct method (owned) */
	struct on_free *on_free;	/* newest first */
	uint8_t *scratch;		/* response serialization, reused */
	size_t scratch_cap;
	struct xr_call *free_calls;	/* finished calls kept for reuse */
	size_t n_free;
};

#define CALL_FREELIST_MAX 1024
/* Each call slot unpacks its request into its own arena, kept with the
 * slot when it is reused: no allocation per call in steady state. The
 * first block fits a small request; a slot keeps at most CALL_ARENA_KEEP
 * bytes (a larger request gives its blocks back when it finishes). */
#define CALL_ARENA_FIRST 512
#define CALL_ARENA_KEEP 8192

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
	xr_arena arena;			/* req lives here; kept across reuse */
};

/* Free a call slot and its arena. */
static void
call_destroy(xr_call *c)
{
	xr_arena_fini(&c->arena);
	free(c);
}

xr_registry *
xr_registry_new(struct event_base *base)
{
	xr_registry *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->base = base;
	if (xr_hmap_init(&r->methods, REGISTRY_MAX_METHODS) != XR_OK) {
		free(r);
		return NULL;
	}
	return r;
}

void
xr_registry_free(xr_registry *r)
{
	xr_hmap_iter it;
	void *m;

	if (r == NULL)
		return;
	while (r->free_calls != NULL) {
		xr_call *c = r->free_calls;

		r->free_calls = c->next_free;
		call_destroy(c);
	}
	xr_hmap_iter_init(&it, &r->methods);
	while (xr_hmap_iter_next(&it, NULL, NULL, &m))
		free(m);
	xr_hmap_fini(&r->methods);
	free(r->scratch);
	/* the methods are gone: release what their handlers used, newest
	 * first */
	while (r->on_free != NULL) {
		struct on_free *h = r->on_free;

		r->on_free = h->next;
		h->fn(h->arg);
		free(h);
	}
	free(r);
}

int
xr_registry_on_free(xr_registry *r, void (*fn)(void *arg), void *arg)
{
	struct on_free *h;

	if (fn == NULL)
		return XR_ERR_INVALID_ARG;
	if (r == NULL || (h = malloc(sizeof(*h))) == NULL) {
		fn(arg);	/* released exactly once all the same */
		return r == NULL ? XR_ERR_INVALID_ARG : XR_ERR_NOMEM;
	}
	h->fn = fn;
	h->arg = arg;
	h->next = r->on_free;
	r->on_free = h;
	return XR_OK;
}

static const struct method *
find(const xr_registry *r, const char *name)
{
	return xr_hmap_find(&r->methods, name, strlen(name));
}

/* "pkg.Service/Method": one '/', something on both sides. */
static int
name_ok(const char *name)
{
	const char *slash = strchr(name, '/');

	return slash != NULL && slash != name && slash[1] != '\0' &&
	    strchr(slash + 1, '/') == NULL;
}

static int
method_new(const xr_method_def *def, void *arg, struct method **out,
    xr_diag *d)
{
	struct method *m;
	size_t n;

	*out = NULL;
	if (def->name == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "a method without "
		    "a name");
	n = strlen(def->name);
	if (n >= METHOD_NAME_MAX || !name_ok(def->name))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "%.*s: not a full "
		    "method name (\"pkg.Service/Method\", under %d bytes)",
		    METHOD_NAME_MAX, def->name, METHOD_NAME_MAX);
	if (def->fn == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "%s: no handler",
		    def->name);
	if (def->input == NULL || def->output == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "%s: no message "
		    "descriptor", def->name);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "%s: out of memory",
		    def->name);
	memcpy(m->name, def->name, n + 1);
	m->in = def->input;
	m->out = def->output;
	m->fn = def->fn;
	m->typed = def->typed;
	m->arg = arg;
	m->max_req = def->max_req;
	m->max_resp = def->max_resp;
	m->req_bounds = def->req_bounds;
	m->resp_bounds = def->resp_bounds;
	*out = m;
	return XR_OK;
}

int
xr_registry_add_methods(xr_registry *r, const xr_method_def *defs, size_t n,
    void *arg, xr_diag *d)
{
	struct method *m = NULL;
	size_t i, added = 0;
	int ret = XR_OK;

	if (r == NULL || (defs == NULL && n > 0))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "no registry or "
		    "no methods");
	for (i = 0; i < n; i++) {
		if ((ret = method_new(&defs[i], arg, &m, d)) != XR_OK)
			goto fail;
		if ((ret = xr_hmap_insert(&r->methods, m->name,
		    strlen(m->name), m)) != XR_OK) {
			/* a name registered before: INVALID_ARG; the bound:
			 * NO_SPACE */
			if (ret == XR_ERR_NO_SPACE)
				xr_diag_set(d, XR_ERR_INVALID_ARG, "%s: over %d "
				    "methods in all", m->name,
				    REGISTRY_MAX_METHODS);
			else if (ret == XR_ERR_NOMEM)
				xr_diag_set(d, ret, "%s: out of memory",
				    m->name);
			else
				xr_diag_set(d, XR_ERR_INVALID_ARG, "%s: "
				    "registered before", m->name);
			ret = ret == XR_ERR_NOMEM ? ret : XR_ERR_INVALID_ARG;
			goto fail;
		}
		m = NULL;
		added++;
	}
	return XR_OK;
 fail:
	free(m);
	/* nothing is registered on error: take this call's methods out */
	while (added-- > 0)
		free(xr_hmap_remove(&r->methods, defs[added].name,
		    strlen(defs[added].name)));
	return ret;
}

int
xr_registry_add_method(xr_registry *r, const char *name,
    const ProtobufCMessageDescriptor *input,
    const ProtobufCMessageDescriptor *output, xr_handler_fn fn, void *arg,
    uint32_t max_req, uint32_t max_resp, xr_diag *d)
{
	xr_method_def def = {
		.name = name, .input = input, .output = output, .fn = fn,
		.max_req = max_req, .max_resp = max_resp,
	};

	return xr_registry_add_methods(r, &def, 1, arg, d);
}

int
xr_registry_has(const xr_registry *r, const char *method)
{
	return find(r, method) != NULL;
}

size_t
xr_registry_count(const xr_registry *r)
{
	return xr_hmap_count(&r->methods);
}

/*
 * Whether `msg` breaks `b`: then `why` holds "NAME WHAT: reason". The
 * prefix is written only on a refusal (no formatting per call).
 */
static int
bounds_refuse(const ProtobufCMessage *msg, const xr_bounds *b,
    const char *name, const char *what, char *why, size_t cap)
{
	char reason[STATUS_MSG_MAX];

	reason[0] = '\0';
	if (xr_bounds_check(msg, b, reason, sizeof(reason)) == XR_OK)
		return 0;
	snprintf(why, cap, "%s %s: %s", name, what, reason);
	return 1;
}

static void
call_maybe_free(xr_call *c)
{
	xr_registry *r = c->reg;

	if (!c->owner_done || !c->handler_done || c->hold > 0)
		return;
	if (c->has_deadline)
		event_del(&c->deadline);
	c->req = NULL;
	xr_arena_reset(&c->arena);	/* the request, wiped */
	/* keep it for the next call: no allocation per call in steady state */
	if (r->n_free < CALL_FREELIST_MAX) {
		c->next_free = r->free_calls;
		r->free_calls = c;
		r->n_free++;
		return;
	}
	call_destroy(c);
}

/* A zeroed call slot whose arena is empty but keeps its block. */
static xr_call *
call_alloc(xr_registry *r)
{
	xr_call *c = r->free_calls;
	xr_arena keep;

	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) != NULL)
			xr_arena_init(&c->arena, CALL_ARENA_FIRST,
			    CALL_ARENA_KEEP);
		return c;
	}
	r->free_calls = c->next_free;
	r->n_free--;
	keep = c->arena;
	memset(c, 0, sizeof(*c));
	c->arena = keep;
	c->arena.alloc.allocator_data = &c->arena;
	return c;
}

/* Give back a slot that never started its handler (its arena reset). */
static void
call_release_unstarted(xr_call *c)
{
	c->owner_done = c->handler_done = 1;
	c->hold = 0;
	c->has_deadline = 0;
	call_maybe_free(c);
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

/* Arm the deadline timer of a pending call to fire at `at_ms` (monotonic;
 * at once if that has passed). */
static void
call_arm_deadline(xr_call *c, uint64_t at_ms)
{
	uint64_t now = xr_mono_ms(), left = at_ms > now ? at_ms - now : 0;
	struct timeval tv = { (time_t)(left / 1000),
	    (suseconds_t)(left % 1000) * 1000 };

	event_assign(&c->deadline, c->reg->base, -1, 0, call_deadline_cb, c);
	event_add(&c->deadline, &tv);
	c->has_deadline = 1;
}

xr_call *
xr_dispatch_start(xr_registry *r, const char *method, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms, xr_complete_fn complete, void *owner,
    uint64_t call_id)
{
	const struct method *m = find(r, method);
	ProtobufCMessage *msg;
	uint64_t started_ms;
	xr_call *c;

	if (m == NULL) {
		/* name it (made printable) and, if malformed, the form */
		const char *name = method != NULL ? method : "";
		const char *sl = strchr(name, '/');
		char shown[72], why[STATUS_MSG_MAX];

		xr_printable(name, strlen(name), shown, sizeof(shown));
		if (sl == NULL || sl == name || sl[1] == '\0' ||
		    strchr(sl + 1, '/') != NULL)
			snprintf(why, sizeof(why), "malformed method name "
			    "\"%s\": expected \"package.Service/Method\"",
			    shown);
		else
			snprintf(why, sizeof(why), "unknown method \"%s\": "
			    "this endpoint serves no such method (check the "
			    "name, and which services the worker hosts)",
			    shown);
		complete(owner, call_id, XR_STATUS_UNIMPLEMENTED, why, NULL,
		    0);
		return NULL;
	}
	if (m->max_req != XR_SIZE_UNLIMITED && req_len > m->max_req) {
		char why[STATUS_MSG_MAX];

		snprintf(why, sizeof(why), "request is %zu bytes, over the "
		    "%u-byte limit of %s", req_len, m->max_req, m->name);
		complete(owner, call_id, XR_STATUS_RESOURCE_EXHAUSTED, why,
		    NULL, 0);
		return NULL;
	}
	if ((c = call_alloc(r)) == NULL) {
		complete(owner, call_id, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory", NULL, 0);
		return NULL;
	}
	c->reg = r;
	if ((msg = protobuf_c_message_unpack(m->in,
	    xr_arena_allocator(&c->arena), req_len, req)) == NULL) {
		call_release_unstarted(c);
		complete(owner, call_id, XR_STATUS_INVALID_ARGUMENT,
		    "request does not decode as the method's input", NULL, 0);
		return NULL;
	}
	if (m->req_bounds != NULL) {
		char why[STATUS_MSG_MAX];

		if (bounds_refuse(msg, m->req_bounds, m->name, "request", why,
		    sizeof(why))) {
			call_release_unstarted(c);
			complete(owner, call_id, XR_STATUS_INVALID_ARGUMENT,
			    why, NULL, 0);
			return NULL;
		}
	}
	c->m = m;
	c->req = msg;
	c->call_id = call_id;
	c->complete = complete;
	c->owner = owner;
	/* the deadline runs from here; its timer is armed only for a call
	 * the handler leaves pending (most finish inside it, and a timer can
	 * fire only once the handler has returned anyway) */
	started_ms = timeout_ms > 0 ? xr_mono_ms() : 0;
	c->hold++;
	m->fn(c, msg, m->arg);
	c->hold--;
	if (c->owner_done) {
		/* finished synchronously: the owner already has its answer */
		call_maybe_free(c);
		return NULL;
	}
	if (timeout_ms > 0)
		call_arm_deadline(c, started_ms + timeout_ms);
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
	if (c->m->max_resp != XR_SIZE_UNLIMITED && len > c->m->max_resp) {
		char why[STATUS_MSG_MAX];

		snprintf(why, sizeof(why), "response is %zu bytes, over the "
		    "%u-byte limit of %s", len, c->m->max_resp, c->m->name);
		return call_finish(c, XR_STATUS_RESOURCE_EXHAUSTED, why, NULL,
		    0);
	}
	if (c->m->resp_bounds != NULL) {
		char why[STATUS_MSG_MAX];

		if (bounds_refuse(resp, c->m->resp_bounds, c->m->name,
		    "response", why, sizeof(why)))
			return call_finish(c, XR_STATUS_INTERNAL, why, NULL, 0);
	}
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

xr_any_fn
xr_call_typed_handler(const xr_call *c)
{
	return c->m->typed;
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
