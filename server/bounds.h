/*
 * server/bounds.h — the per-field bounds a message must keep so that a
 * nanopb peer can decode it, checked on a decoded protobuf-c message.
 *
 * protobuf-c decodes and encodes fields of any length; a nanopb client has
 * fixed-size storage (the max_size / max_length / max_count / int_size of
 * the .options) and fails to decode a message that does not fit, however
 * small the message is in total. protoc-gen-execrpc generates one
 * xr_bounds table per message a method reaches, from the same options
 * nanopb used; the registry checks each request after decoding it and each
 * response before sending it (server/registry.h). Only the fields that can
 * break a bound have rows: strings, bytes, repeated fields, narrowed
 * integers, and messages whose own fields have rows.
 */
#ifndef XR_BOUNDS_H
#define XR_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* What a row checks on each value of its field. */
enum {
	XR_FB_COUNT = 0,	/* nothing per value: the element count only */
	XR_FB_STRING,		/* at most `max` bytes (without the NUL) */
	XR_FB_BYTES,		/* at most `max` bytes */
	XR_FB_BYTES_FIXED,	/* 0 or exactly `max` bytes (fixed_length) */
	XR_FB_INT,		/* a signed value in [lo, hi] (int_size) */
	XR_FB_UINT,		/* an unsigned value at most `hi` (int_size) */
	XR_FB_MESSAGE,		/* the submessage keeps `sub` */
};

struct xr_bounds;

/* One field's bound. */
typedef struct xr_field_bound {
	uint32_t number;		/* the field number */
	uint8_t kind;			/* XR_FB_* */
	uint8_t count_exact;		/* repeated with fixed_count: 0 or
					 * max_count elements */
	uint32_t max;			/* bytes, for the string/bytes kinds */
	uint32_t max_count;		/* repeated: elements; 0 = singular */
	int64_t lo, hi;			/* XR_FB_INT / XR_FB_UINT */
	const struct xr_bounds *sub;	/* XR_FB_MESSAGE */
} xr_field_bound;

/* The bounds of one message type (static storage, generated). */
typedef struct xr_bounds {
	const char *name;		/* full message name */
	const xr_field_bound *fields;
	size_t n_fields;
} xr_bounds;

/*
 * Check `msg` (and its submessages) against `b`. Returns XR_OK, or
 * XR_ERR_NO_SPACE with `why` (`cap` bytes, NUL-terminated) naming the
 * first field out of bounds and both sizes ("field kv.v1.PutRequest.key is
 * 100 bytes, over its declared 64"); XR_ERR_INVALID_ARG if `b` does not
 * describe `msg`'s type. Reads only; allocates nothing.
 */
int xr_bounds_check(const ProtobufCMessage *msg, const xr_bounds *b,
    char *why, size_t cap);

#endif /* XR_BOUNDS_H */
