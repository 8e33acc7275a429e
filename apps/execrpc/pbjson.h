/*
 * apps/execrpc/pbjson.h — JSON <-> protobuf wire bytes through a descriptor
 * set, for `execrpc call --protoset FILE` (docs/supervisor.md "execrpc
 * call").
 *
 * The descriptor set is the output of `protoc --descriptor_set_out=FILE
 * --include_imports` (a google.protobuf.FileDescriptorSet), decoded with
 * protobuf-c. The conversion follows the proto3 JSON mapping for what it
 * supports:
 *  - every scalar type: 32-bit integers as JSON numbers, 64-bit integers as
 *    strings on output (a number or a decimal string on input), float and
 *    double as numbers or "NaN" / "Infinity" / "-Infinity", bool as
 *    true / false, string, bytes as base64 (standard alphabet with padding
 *    on output; standard or URL-safe, padded or not, on input);
 *  - enums by value name (a number is accepted on input, and printed for a
 *    value the enum does not name);
 *  - nested messages, repeated fields (packed or not), oneofs and proto3
 *    `optional` (set members are printed even at their default);
 *  - field names: the JSON name (lowerCamelCase) on output, the JSON name
 *    or the proto name on input.
 * Input is strict: an unknown field, a field given twice, two members of one
 * oneof, a value of the wrong JSON type or out of its type's range is an
 * error naming the field and its message. Output omits fields at their
 * default value unless they have presence; unknown fields on the wire are
 * skipped. Not supported, refused with a message saying so: map fields,
 * groups, and the well-known types with a special JSON form (the
 * google.protobuf.* messages other than Empty).
 *
 * Errors are xr_err codes with `d` filled: XR_ERR_INVALID_ARG (the
 * descriptor set, the method, or the JSON does not fit), XR_ERR_MALFORMED
 * (wire bytes that do not decode as the message), XR_ERR_NOMEM.
 */
#ifndef XR_PBJSON_H
#define XR_PBJSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Nesting depth a message may have in either direction. */
#define XR_PBJSON_MAX_DEPTH 64

typedef struct xr_pbjson xr_pbjson;
typedef struct xr_pbjson_type xr_pbjson_type;	/* one message type */

/*
 * Decode a FileDescriptorSet from `len` bytes at `buf` (read during the
 * call only) and index its messages, enums and services. Returns the set,
 * or NULL with `d` filled (XR_ERR_INVALID_ARG: the bytes are not a
 * descriptor set, or a field refers to a type that is not in it).
 */
xr_pbjson *xr_pbjson_new(const uint8_t *buf, size_t len, xr_diag *d);

/* Free the set and every type it handed out. NULL is a no-op. */
void xr_pbjson_free(xr_pbjson *p);

/*
 * The input and output message types of the unary method "pkg.Service/
 * Method". Returns XR_OK, or XR_ERR_INVALID_ARG with `d` saying why (not of
 * that form, no such service or method in the set, a streaming method).
 */
int xr_pbjson_method(const xr_pbjson *p, const char *method,
    const xr_pbjson_type **in, const xr_pbjson_type **out, xr_diag *d);

/* The message type with full name `name` ("pkg.Msg", no leading dot), or
 * NULL. */
const xr_pbjson_type *xr_pbjson_find(const xr_pbjson *p, const char *name);

/* The full name of a type ("echo.v1.SayRequest"). */
const char *xr_pbjson_type_name(const xr_pbjson_type *t);

/*
 * Convert the JSON text of `len` bytes at `json` (one JSON object) to the
 * wire bytes of message type `t`: on XR_OK `*out` (malloc'd, caller frees;
 * non-NULL also when `*out_len` is 0) holds them, fields in field-number
 * order. Otherwise `*out` is NULL and `d` says what did not fit, naming the
 * field path ("items[2].name") and the message type.
 */
int xr_pbjson_encode(const xr_pbjson *p, const xr_pbjson_type *t,
    const char *json, size_t len, uint8_t **out, size_t *out_len, xr_diag *d);

/*
 * Convert `len` wire bytes at `buf` of message type `t` to one line of JSON
 * (fields in field-number order, no spaces): on XR_OK `*out` is the
 * NUL-terminated text (malloc'd, caller frees). Otherwise `*out` is NULL
 * and the result is XR_ERR_MALFORMED (truncated or hostile bytes: a bad
 * varint, a length past the end, a wire type that does not match the
 * field, invalid UTF-8 in a string, nesting over XR_PBJSON_MAX_DEPTH),
 * XR_ERR_INVALID_ARG (a type this converter does not support) or
 * XR_ERR_NOMEM, with `d` filled.
 */
int xr_pbjson_decode(const xr_pbjson *p, const xr_pbjson_type *t,
    const uint8_t *buf, size_t len, char **out, xr_diag *d);

#endif /* XR_PBJSON_H */
