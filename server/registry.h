/*
 * server/registry.h — services registered by full method name, and the call
 * object handlers complete.
 *
 * Methods are added by full name ("kv.v1.Kv/Put") with their input/output
 * message descriptors, a handler and the encoded-size limits of request and
 * response. protoc-gen-execrpc generates, per service, a struct of typed
 * handlers named after the methods and a registration function that fills
 * xr_method_def rows from it (xr_registry_add_methods()): a handler is bound
 * by its method's name, never by position (there is no registration by a
 * service descriptor's method order). Lookup is one hash probe on the full
 * name; nothing parses names on the hot path.
 *
 * Limits: a method's max_req / max_resp (bytes, or XR_SIZE_UNLIMITED) are the encoded
 * bounds its clients' nanopb structs imply. A request over max_req is
 * refused before it is decoded, and a response over max_resp is not sent:
 * both complete with RESOURCE_EXHAUSTED, gRPC's status for a message larger
 * than the configured limit in either direction, and a message naming both
 * sizes ("request is 4166 bytes, over the 4165-byte limit of kv.v1.Kv/Put").
 * A method's per-field bounds (server/bounds.h: what a nanopb peer can
 * decode) are checked too: a request field out of bounds is the client's
 * error, INVALID_ARGUMENT ("kv.v1.Kv/Put request: field
 * kv.v1.PutRequest.key is 100 bytes, over its declared 64"); a response
 * field out of bounds is the handler's, INTERNAL, and is not sent.
 *
 * Calls are started by a transport (a tcp_local connection, or the memory
 * target) with xr_dispatch_start() and finish in one of two ways:
 *  - the handler calls xr_call_reply() or xr_call_fail(): the transport's
 *    completion callback runs with that status;
 *  - the transport abandons the call (client CANCEL, connection closed) or
 *    the deadline passes: the handler's on-cancel hook runs, and the
 *    handler's later reply is dropped.
 * The handler must finish every call it was given exactly once (reply or
 * fail), cancelled or not; the call is freed when both sides are done.
 *
 * Single-threaded: a registry and its calls belong to one event_base.
 */
#ifndef XR_REGISTRY_H
#define XR_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "bounds.h"
#include "dispatch.h"
#include "err.h"

struct event_base;

typedef struct xr_registry xr_registry;
typedef struct xr_call xr_call;

/* A method handler: `req` is the decoded request (owned by the call, valid
 * until the handler finishes the call); `svc_arg` is the registration's. */
typedef void (*xr_handler_fn)(xr_call *call, const ProtobufCMessage *req,
    void *svc_arg);

/* A registry on `base` (borrowed). NULL on allocation failure. */
xr_registry *xr_registry_new(struct event_base *base);

/* Free the registry, then run its on-free hooks (xr_registry_on_free());
 * calls still running must have been abandoned first. NULL is a no-op. */
void xr_registry_free(xr_registry *r);

/*
 * Run fn(arg) once when `r` is freed, after its methods are gone: how a
 * service module hands the registry the state its handlers use (their
 * `arg`, made per registration), so that the state lives exactly as long
 * as the registry that calls it. Hooks run in the reverse order of their
 * registration. Returns XR_OK; XR_ERR_NOMEM (or XR_ERR_INVALID_ARG for a
 * NULL `r`) after running fn(arg) at once, so `arg` is released exactly
 * once either way; XR_ERR_INVALID_ARG for a NULL `fn`. Hook the state
 * before registering the methods that use it: if the registration then
 * fails, the state is still released with the registry.
 */
int xr_registry_on_free(xr_registry *r, void (*fn)(void *arg), void *arg);

/* Any function pointer type, for a typed handler carried through the
 * registry untyped (cast back to its own type before it is called). */
typedef void (*xr_any_fn)(void);

/*
 * One method to register. `name` is the full name "pkg.Service/Method"
 * (copied; under 160 bytes); `input`/`output` the protobuf-c descriptors of
 * its messages (static storage). `fn` runs for each call; `typed` (may be
 * NULL) is handed back to `fn` by xr_call_typed_handler(): generated code
 * sets `fn` to a per-method trampoline and `typed` to the user's typed
 * handler. `max_req` / `max_resp`: encoded-size limits in bytes (0: only
 * an empty message), or XR_SIZE_UNLIMITED. `req_bounds` / `resp_bounds`:
 * per-field bounds of the input / output message (static storage), or NULL.
 */
#define XR_SIZE_UNLIMITED UINT32_MAX

typedef struct xr_method_def {
	const char *name;
	const ProtobufCMessageDescriptor *input, *output;
	xr_handler_fn fn;
	xr_any_fn typed;
	uint32_t max_req, max_resp;
	const xr_bounds *req_bounds, *resp_bounds;
} xr_method_def;

/*
 * Register the `n` methods of `defs`, all with `arg`, all or none. Returns
 * XR_OK, XR_ERR_INVALID_ARG (a NULL handler or descriptor, a name not of
 * the form "pkg.Service/Method" or of 160 bytes or more, a name registered
 * before, over 4096 methods in all) or XR_ERR_NOMEM; on error `d` (may be
 * NULL) names the method and the reason, and nothing is registered.
 */
int xr_registry_add_methods(xr_registry *r, const xr_method_def *defs,
    size_t n, void *arg, xr_diag *d);

/* Register one method: xr_registry_add_methods() of one row without a
 * typed handler. Returns as that. */
int xr_registry_add_method(xr_registry *r, const char *name,
    const ProtobufCMessageDescriptor *input,
    const ProtobufCMessageDescriptor *output, xr_handler_fn fn, void *arg,
    uint32_t max_req, uint32_t max_resp, xr_diag *d);

/* 1 if the full method name is registered. */
int xr_registry_has(const xr_registry *r, const char *method);

/* Number of registered methods. */
size_t xr_registry_count(const xr_registry *r);

/*
 * Completion of a dispatched call, run once unless the transport abandoned
 * the call first: status `code`, message `msg` (never NULL), response payload
 * (only with XR_STATUS_OK; valid during the callback).
 */
typedef void (*xr_complete_fn)(void *owner, uint64_t call_id, int code,
    const char *msg, const uint8_t *resp, size_t resp_len);

/*
 * Start `method` with request payload bytes (read during this call only).
 * `timeout_ms` 0 = no deadline. Unknown method -> UNIMPLEMENTED; a payload
 * over the method's max_req -> RESOURCE_EXHAUSTED; a payload that does not
 * decode, or breaks the method's request bounds -> INVALID_ARGUMENT; these
 * complete synchronously.
 * Returns the call handle while it is in flight, or NULL if `complete` has
 * already run (synchronously).
 */
xr_call *xr_dispatch_start(xr_registry *r, const char *method,
    const uint8_t *req, size_t req_len, uint32_t timeout_ms,
    xr_complete_fn complete, void *owner, uint64_t call_id);

/* The transport abandons an in-flight call: `complete` will not run for it;
 * the handler's on-cancel hook runs. */
void xr_dispatch_abandon(xr_call *c);

/* An xr_local_target (core/dispatch.h) over this registry: the memory
 * transport. */
xr_local_target xr_registry_local_target(xr_registry *r);

/* --- what handlers use --- */

/* Finish with OK and `resp` (serialized here; the handler keeps ownership of
 * `resp`). A response of another message type, or one that breaks the
 * method's response bounds, finishes the call with INTERNAL; one over the
 * method's max_resp with RESOURCE_EXHAUSTED.
 * Returns XR_OK, or XR_ERR_CLOSED if the call had been cancelled (the reply
 * was dropped). Either way the handler is done with `c`. */
int xr_call_reply(xr_call *c, const ProtobufCMessage *resp);

/* Finish with a non-OK status `code` and `msg` (copied; never key material
 * or payload bytes). Return as xr_call_reply(). */
int xr_call_fail(xr_call *c, int code, const char *msg);

/* 1 once the call was cancelled or its deadline passed. */
int xr_call_is_cancelled(const xr_call *c);

/* Register a hook run once when the call is cancelled or expires (e.g. to
 * stop a timer and finish early). Replaces an earlier hook. */
void xr_call_on_cancel(xr_call *c, void (*fn)(void *arg), void *arg);

/* The registry's event_base, for handlers that finish later. */
struct event_base *xr_call_base(const xr_call *c);

/* The full method name. */
const char *xr_call_method(const xr_call *c);

/* The `typed` handler the call's method was registered with (NULL if
 * none): for generated trampolines, which cast it back to its type. */
xr_any_fn xr_call_typed_handler(const xr_call *c);

#endif /* XR_REGISTRY_H */
