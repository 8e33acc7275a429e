/*
 * core/dispatch.h — the in-process call interface between an ingress channel
 * and an execution endpoint's method registry (the `memory` transport).
 *
 * Bytes in, bytes out: the request and response payloads are the methods'
 * serialized protobuf messages, exactly what `tcp_local` carries in
 * Envelope.payload, so both profiles run the same handlers on the same bytes
 * and give identical results.
 */
#ifndef XR_DISPATCH_H
#define XR_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

/* gRPC status codes (execrpc.v1.StatusCode). */
enum {
	XR_STATUS_OK = 0,
	XR_STATUS_CANCELLED = 1,
	XR_STATUS_UNKNOWN = 2,
	XR_STATUS_INVALID_ARGUMENT = 3,
	XR_STATUS_DEADLINE_EXCEEDED = 4,
	XR_STATUS_NOT_FOUND = 5,
	XR_STATUS_ALREADY_EXISTS = 6,
	XR_STATUS_PERMISSION_DENIED = 7,
	XR_STATUS_RESOURCE_EXHAUSTED = 8,
	XR_STATUS_FAILED_PRECONDITION = 9,
	XR_STATUS_ABORTED = 10,
	XR_STATUS_OUT_OF_RANGE = 11,
	XR_STATUS_UNIMPLEMENTED = 12,
	XR_STATUS_INTERNAL = 13,
	XR_STATUS_UNAVAILABLE = 14,
	XR_STATUS_DATA_LOSS = 15,
	XR_STATUS_UNAUTHENTICATED = 16,
};

/* "OK", "CANCELLED", ... (gRPC spelling); "UNKNOWN" for other values. */
const char *xr_status_name(int code);

/*
 * Completion of a local call: called exactly once per started call that was
 * not cancelled, with the status code, a message (never NULL, may be ""),
 * and the response payload (valid only during the callback; NULL/0 unless
 * code is XR_STATUS_OK). May run inside start() (synchronous handlers).
 */
typedef void (*xr_local_done_fn)(void *done_arg, int code, const char *msg,
    const uint8_t *resp, size_t resp_len);

typedef struct xr_local_target {
	/* Start `method` with the request payload. Returns a handle for
	 * cancel, or NULL when done() already ran (synchronously). The
	 * request bytes are only read during the call to start(). */
	void *(*start)(void *arg, const char *method, const uint8_t *req,
	    size_t req_len, uint32_t timeout_ms, xr_local_done_fn done,
	    void *done_arg);
	/* Abandon a started call: done() will not be called for it. */
	void (*cancel)(void *arg, void *handle);
	void *arg;
} xr_local_target;

#endif /* XR_DISPATCH_H */
