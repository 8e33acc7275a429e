/*
 * core/frame.h — stream framing and the outer Frame wrapper (docs/design.md s. 2).
 *
 * On a stream a frame is a 4-byte big-endian length L followed by L bytes of
 * a serialized execrpc.v1.Frame { bytes envelope = 1; bytes tag = 2; }.
 * This module handles the prefix and the two-field wrapper by hand, so that
 * it depends on no protobuf generator and never touches the Envelope: the
 * envelope bytes are returned as a view for the verifier. Streams read
 * frames through the one reader in core/reader.h.
 */
#ifndef XR_FRAME_H
#define XR_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define XR_FRAME_PREFIX_LEN 4
#define XR_TAG_LEN 32
/* What an envelope may add around its payload (metadata, headers, status). */
#define XR_ENVELOPE_OVERHEAD 4096
/* Largest header xr_frame_header() writes: prefix + key byte + varint. */
#define XR_FRAME_HEADER_MAX (XR_FRAME_PREFIX_LEN + 1 + 5)
/* The tag trailer: key byte, length byte, 32 tag bytes. */
#define XR_FRAME_TRAILER_LEN (2 + XR_TAG_LEN)

/* The frame body limit for a payload limit: max_payload + overhead. */
size_t xr_frame_max_body(size_t max_payload_bytes);

/* Read / write the big-endian length prefix. */
uint32_t xr_frame_get_len(const uint8_t p[XR_FRAME_PREFIX_LEN]);
void xr_frame_put_len(uint8_t p[XR_FRAME_PREFIX_LEN], uint32_t len);

/* Total bytes on the stream for an envelope of `env_len` bytes. */
size_t xr_frame_wire_len(size_t env_len);

/*
 * Write the frame header for an envelope of `env_len` bytes into `out`
 * (capacity >= XR_FRAME_HEADER_MAX): the length prefix, then the Frame's
 * envelope field key and length. Returns the bytes written. The caller sends
 * header, envelope, then the trailer from xr_frame_trailer().
 */
size_t xr_frame_header(uint8_t out[XR_FRAME_HEADER_MAX], size_t env_len);

/* Write the tag trailer (field 2, 32 bytes) into `out`. */
void xr_frame_trailer(uint8_t out[XR_FRAME_TRAILER_LEN],
    const uint8_t tag[XR_TAG_LEN]);

/*
 * Split a frame body (the L bytes after the prefix) into envelope and tag
 * views, without decoding the envelope. Accepts exactly the fields 1 and 2,
 * each length-delimited and at most once, with no trailing bytes. A body the
 * wrapper cannot be parsed from, or without a tag, returns
 * XR_ERR_BAD_SIGNATURE (nothing in it can be authenticated). The tag length
 * is returned as found; the verifier checks it is exactly 32.
 * A missing envelope field yields an empty envelope view.
 */
int xr_frame_split(const uint8_t *body, size_t len, const uint8_t **env,
    size_t *env_len, const uint8_t **tag, size_t *tag_len);

#endif /* XR_FRAME_H */
