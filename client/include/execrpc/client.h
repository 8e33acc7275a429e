/*
 * execrpc/client.h — libexecrpc-client: the web-side ingress.
 *
 * A channel carries unary calls to one execution endpoint, over one of two
 * transports behind the same API:
 *  - tcp_local: signed frames over one loopback TCP connection (docs/design.md
 *    section 2, docs/protocol.md), many calls in flight, responses in any
 *    order;
 *  - memory: in-process dispatch to an xr_local_target, no socket.
 *
 * Threading: a channel belongs to one event_base and one thread. Async calls
 * complete on that base; the blocking call runs the base until its own call
 * completes (other callbacks on the base may run meanwhile). The blocking
 * calls cannot be used from inside a callback running on the same base
 * (libevent refuses a nested loop): they then return XR_STATUS_INTERNAL.
 *
 * Sending (tcp_local): the requests (and cancels) of every call started in
 * one loop turn are signed at the end of the turn and leave in one write;
 * to an endpoint that advertised batches (docs/protocol.md, "Batches")
 * they travel as BATCH frames, several envelopes under one tag. A blocking
 * call writes its request at once. A response payload handed to a
 * callback is a view into the channel's input buffer, valid only during
 * the callback.
 *
 * Signals: the application ignores SIGPIPE. The channel writes to its
 * socket with write(2), and a library must not change the process's
 * signal disposition, so a server that closes while a write is pending
 * would otherwise kill the process.
 *
 * Every call completes exactly once with a definite status, never later
 * than its deadline (plus scheduling latency): OK, a server status, or a
 * local one — DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE (connection lost,
 * draining, or not connected), UNAUTHENTICATED (the endpoint refused the
 * handshake: secret or kdf mismatch?), RESOURCE_EXHAUSTED (local limit),
 * INVALID_ARGUMENT (bad method name / request too large), INTERNAL. The
 * message says what went wrong and names the endpoint ("127.0.0.1:5000").
 *
 * A NULL channel (most often the NULL of a failed xr_lifecycle_pick()):
 * xr_call_start(), xr_call_start_msg(), xr_call_sync() and
 * xr_call_sync_bytes() complete with UNAVAILABLE and the message
 * XR_CLIENT_MSG_NO_CHANNEL; the pick's `*err` has the reason.
 *
 * Handshake refused: an endpoint never answers a HELLO whose tag it cannot
 * verify (an unauthenticated peer gets no signed answer), it closes the
 * connection. A tcp_local channel whose connection the endpoint closes
 * after the HELLO and before HELLO_ACK therefore reports UNAUTHENTICATED
 * (wait_ready: XR_ERR_BAD_SIGNATURE) with the hint that the secret or the
 * kdf differ; a connection reset instead (an endpoint at max_connections)
 * is UNAVAILABLE.
 *
 * Payload limit (max_payload_bytes), the same in both transports: a request
 * payload over it fails locally with INVALID_ARGUMENT ("request larger than
 * max_payload_bytes") and never reaches the endpoint; a response payload
 * over it completes the call with RESOURCE_EXHAUSTED ("response larger than
 * max_payload_bytes") and the channel stays usable. (A tcp_local endpoint
 * applies its own limit to both before anything is sent; a frame past the
 * body limit, max_payload_bytes + 4096, still closes the connection.)
 */
#ifndef EXECRPC_CLIENT_H
#define EXECRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <pb.h>

#include "execrpc/dispatch.h"
#include "execrpc/err.h"
#include "execrpc/keys.h"

struct event_base;

typedef struct xr_channel xr_channel;
typedef struct xr_client_call xr_client_call;

/* A call's final status. `message` is NUL-terminated, never key material. */
typedef struct xr_status {
	int code;		/* XR_STATUS_* (gRPC codes) */
	char message[256];
} xr_status;

/*
 * Channel options. tcp_local uses them all; memory uses only the limits
 * that apply in-process, max_payload_bytes and max_inflight (marked "mem").
 * A tcp_local channel lowers both to what the endpoint announces in its
 * HELLO_ACK.
 */
typedef struct xr_channel_opts {
	const char *host;		/* loopback literal, e.g. "127.0.0.1" */
	uint16_t port;
	uint32_t max_payload_bytes;	/* mem; 0 = 1048576 */
	uint32_t ttl_seconds;		/* 0 = 30 */
	uint32_t max_inflight;		/* mem; local cap, 0 = 4096 */
	uint32_t connect_timeout_ms;	/* 0 = 5000: TCP connect + HELLO */
	const char *client_name;	/* for the server's logs; may be NULL */
} xr_channel_opts;

/*
 * Open a tcp_local channel on `base` (borrowed; must outlive the channel)
 * with the keys in `ks` (copied; the caller may wipe its copy). Starts the
 * connect and the HELLO handshake asynchronously; calls made before the
 * handshake completes are queued and sent when it does (or fail with the
 * handshake's status — UNAVAILABLE, UNAUTHENTICATED — if it fails).
 * Returns NULL with `d` (may be NULL) filled on failure:
 * XR_ERR_INVALID_ARG for a NULL argument, a missing host, port 0, a host
 * that is not an address or not a loopback one (the reason names the host
 * and what tcp_local accepts: 127.0.0.0/8, ::1, localhost);
 * XR_ERR_NOMEM / XR_ERR_SYSTEM otherwise.
 */
xr_channel *xr_channel_new_tcp_diag(struct event_base *base,
    const xr_channel_opts *opts, const xr_keyset *ks, xr_diag *d);

/* xr_channel_new_tcp_diag() with only the code: `*err` (if non-NULL) gets
 * XR_OK or the code; the reason is lost. */
xr_channel *xr_channel_new_tcp(struct event_base *base,
    const xr_channel_opts *opts, const xr_keyset *ks, int *err);

/*
 * A memory channel on `base` (borrowed; must outlive the channel) calling
 * `target` in-process (no socket). `target` is copied; what it points to
 * must outlive the channel. `opts` (may be NULL: every default; read during
 * the call only) gives the limits: max_payload_bytes for requests and
 * responses, as tcp_local applies it, and max_inflight, the cap on calls
 * pending on the channel (past it: RESOURCE_EXHAUSTED). ttl_seconds does
 * not apply in-process: nothing is signed or carried, so nothing can go
 * stale or be replayed; host, port, connect_timeout_ms and client_name are
 * ignored too. Returns NULL on a NULL base or target, a target without
 * start(), or allocation failure.
 */
xr_channel *xr_channel_new_memory_opts(struct event_base *base,
    const xr_local_target *target, const xr_channel_opts *opts);

/* xr_channel_new_memory_opts(base, target, NULL): the default limits. */
xr_channel *xr_channel_new_memory(struct event_base *base,
    const xr_local_target *target);

/*
 * Wait (running `base`) until a tcp_local channel's handshake is done or
 * `timeout_ms` passes (0: report the current state). Returns XR_OK or:
 *  - XR_ERR_CLOSED: the connect failed ("connect to 127.0.0.1:5000
 *    failed: Connection refused ..."), the endpoint is draining, the
 *    connection was lost, or the channel was freed;
 *  - XR_ERR_BAD_SIGNATURE: the endpoint refused the handshake (closed the
 *    connection after our HELLO without answering): secret or kdf
 *    mismatch?;
 *  - XR_ERR_READY_TIMEOUT: no HELLO_ACK within the channel's
 *    connect_timeout_ms (the channel is then closed), or within
 *    `timeout_ms` (it keeps trying);
 *  - XR_ERR_INVALID_ARG: `ch` is NULL.
 * `d` (may be NULL) gets the code and a reason that names the endpoint and
 * says what to check; it never holds key material. A memory channel is
 * always ready.
 */
int xr_channel_wait_ready_diag(xr_channel *ch, uint32_t timeout_ms,
    xr_diag *d);

/* xr_channel_wait_ready_diag(ch, timeout_ms, NULL). */
int xr_channel_wait_ready(xr_channel *ch, uint32_t timeout_ms);

/* Fail every pending call with UNAVAILABLE, close, free. NULL is a no-op.
 * Completion callbacks run inside this call. */
void xr_channel_free(xr_channel *ch);

/* 1 while the channel can take calls (connected or connecting, not
 * draining, not closed). */
int xr_channel_is_usable(const xr_channel *ch);

/* The status message of a call on a NULL channel (UNAVAILABLE). */
#define XR_CLIENT_MSG_NO_CHANNEL	"no channel (NULL): did the pick fail? " \
	"xr_lifecycle_pick()/xr_queue_pick() give the reason in *err"

/*
 * Completion callback of an async call: `st` is the final status; `resp` the
 * response payload bytes (only for XR_STATUS_OK), valid during the callback.
 */
typedef void (*xr_call_cb)(void *arg, const xr_status *st,
    const uint8_t *resp, size_t resp_len);

/*
 * Start a unary call with a serialized request. `method` is the full name
 * ("echo.v1.Echo/Say"); `timeout_ms` 0 = no deadline. The request bytes are
 * copied. Returns a handle usable with xr_call_cancel() until `cb` runs;
 * `cb` runs exactly once — possibly inside this function (e.g. immediate
 * UNAVAILABLE), in which case NULL is returned.
 */
xr_client_call *xr_call_start(xr_channel *ch, const char *method,
    const uint8_t *req, size_t req_len, uint32_t timeout_ms, xr_call_cb cb,
    void *arg);

/* Cancel a started call: its callback runs now with CANCELLED and a CANCEL
 * frame tells the server. Must not be used after the callback ran. */
void xr_call_cancel(xr_client_call *call);

/*
 * Blocking unary call with nanopb messages: encodes `req` (fields
 * `req_fields`), runs the channel's base until the call completes, decodes
 * the response into `resp` (fields `resp_fields`) on OK. Returns the status
 * code (XR_STATUS_OK == 0) and fills `st` if non-NULL. A response that does
 * not decode gives XR_STATUS_INTERNAL.
 */
int xr_call_sync(xr_channel *ch, const char *method,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp, uint32_t timeout_ms,
    xr_status *st);

/* Blocking call with payload bytes; on OK `*resp`/`*resp_len` get a malloc'd
 * copy the caller frees. Returns the status code. */
int xr_call_sync_bytes(xr_channel *ch, const char *method, const uint8_t *req,
    size_t req_len, uint8_t **resp, size_t *resp_len, uint32_t timeout_ms,
    xr_status *st);

/*
 * How xr_call_start_msg() hands a completion to its caller's types: `cb` and
 * `arg` as given to xr_call_start_msg(), `st` the final status, `resp` the
 * decoded response (a `resp_size`-byte message of `resp_fields`) on OK, else
 * NULL; `st` and `resp` are valid during the call only. A generated stub's
 * deliver casts `cb` back to the method's typed callback (so no function is
 * called through a pointer of another type) and calls it if non-NULL.
 */
typedef void (*xr_msg_deliver_fn)(void (*cb)(void), void *arg,
    const xr_status *st, const void *resp);

/*
 * Start an async unary call with nanopb messages (what the generated
 * `<pkg>_<Svc>_<M>_start()` stubs call): encodes `req` (fields
 * `req_fields`; read during this call only) and starts it with
 * xr_call_start() (`method`, `timeout_ms` as there); on completion decodes
 * the response into a zeroed heap message of `resp_size` bytes (fields
 * `resp_fields`; borrowed, must stay valid until delivery), calls
 * `deliver(cb, arg, st, resp)` and frees the message.
 *
 * `deliver` runs exactly once, on the channel's base, possibly inside this
 * call (then NULL is returned); otherwise the handle is usable with
 * xr_call_cancel() until it runs. Statuses of this layer (the rest are
 * xr_call_start()'s):
 *  - UNAVAILABLE XR_CLIENT_MSG_NO_CHANNEL: `ch` NULL (a failed pick?);
 *  - INVALID_ARGUMENT "bad arguments": `req_fields`, `req` or
 *    `resp_fields` NULL, or `resp_size` 0;
 *  - INVALID_ARGUMENT "request does not encode": nanopb refuses `req`;
 *  - RESOURCE_EXHAUSTED "out of memory": no memory for the request;
 *  - RESOURCE_EXHAUSTED "out of memory for the response";
 *  - INTERNAL "response does not decode": the OK response is not a
 *    `resp_fields` message (or exceeds its nanopb bounds).
 * A NULL `deliver` starts nothing and returns NULL (there is no one to
 * tell).
 */
xr_client_call *xr_call_start_msg(xr_channel *ch, const char *method,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, size_t resp_size, uint32_t timeout_ms,
    xr_msg_deliver_fn deliver, void (*cb)(void), void *arg);

/* Number of reject kinds: XR_REJECT_COUNT of core/err.h (checked there). */
#define XR_CHANNEL_REJECT_KINDS 6

/* Counters of a channel (tcp_local): frames rejected by category, calls. */
typedef struct xr_channel_stats {
	uint64_t calls_started, calls_ok, calls_failed;
	/* indexed by xr_reject (core/err.h): oversized, bad_signature,
	 * malformed, kind_not_allowed, expired, replay */
	uint64_t rejects[XR_CHANNEL_REJECT_KINDS];
} xr_channel_stats;
void xr_channel_stats_get(const xr_channel *ch, xr_channel_stats *out);

#endif /* EXECRPC_CLIENT_H */
