/*
 * client/codec_nb.h — the nanopb side of envelope coding (private to the
 * client library; client/ is the one place that calls nanopb, docs/design.md).
 *
 * Encoding: the caller fills an execrpc_v1_Envelope (all static fields) and
 * passes the payload bytes separately; field 16 is written straight from
 * the caller's buffer, so no payload-sized struct is ever made. xr_nb_seal() writes a complete
 * signed frame (prefix, Frame wrapper, envelope, tag) into memory the caller
 * provides, e.g. space reserved in an evbuffer.
 *
 * Decoding: an xr_env_decoder for core/rx.h's xr_rx_frame(). It decodes the
 * exact envelope bytes in place; the payload is recorded as a
 * zero-copy view (pointer + length) into those bytes, valid as long as the
 * input buffer is. A byte or string field longer than its nanopb max_size,
 * or more repeated entries than max_count, fails the decode (MALFORMED).
 * Nothing here allocates.
 */
#ifndef XR_CLIENT_CODEC_NB_H
#define XR_CLIENT_CODEC_NB_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "execrpc/v1/frame.pb.h"
#include "keys.h"
#include "rx.h"

/* The decoder context: the last decoded envelope and its payload view. */
typedef struct xr_nb_dec {
	execrpc_v1_Envelope env;	/* every field but the payload */
	const uint8_t *payload;		/* into the decoded input, or NULL */
	size_t payload_len;
	const uint8_t *in;		/* the input being decoded */
	size_t in_len;
} xr_nb_dec;

/*
 * Decode `len` bytes at `env` into `d` and fill `view` (byte fields are
 * copied into the view; their lengths never exceed the view's arrays because
 * nanopb refuses anything over max_size). Returns XR_OK or XR_ERR_MALFORMED
 * (then `d` holds no payload view). `env` must stay valid while the payload
 * view is used.
 */
int xr_nb_decode(xr_nb_dec *d, const uint8_t *env, size_t len,
    xr_env_view *view);

/* The xr_env_decoder interface over `d` (borrowed). */
xr_env_decoder xr_nb_decoder(xr_nb_dec *d);

/*
 * Encoded size of `env` with `payload` (plen bytes, may be NULL if 0) in
 * field 16. Sets env->payload to the encoder callback. Returns XR_OK, or
 * XR_ERR_INTERNAL if nanopb refuses the envelope (e.g. an unterminated
 * string).
 */
int xr_nb_env_size(execrpc_v1_Envelope *env, const uint8_t *payload,
    size_t plen, size_t *env_len);

/*
 * Write the complete signed frame for `env` + `payload` into `out`, which
 * has room for exactly xr_frame_wire_len(env_len) bytes, `env_len` being what
 * xr_nb_env_size() returned for the same arguments. The tag is
 * HMAC(key[d], label(d) || envelope). Returns XR_OK, or XR_ERR_INTERNAL
 * (encoding did not produce env_len bytes, or signing failed).
 */
int xr_nb_seal(xr_auth *a, xr_dir d, execrpc_v1_Envelope *env,
    const uint8_t *payload, size_t plen, size_t env_len, uint8_t *out);

/*
 * Encode `env` + `payload` unsigned into `out` (cap bytes): one pass, no
 * sizing pass. `*env_len` gets the bytes written. Returns XR_OK, or
 * XR_ERR_NO_SPACE if it does not fit in `cap` bytes (or nanopb refuses the
 * envelope). The client's send path encodes straight into its pending area
 * this way and signs later (xr_nb_frame), alone or inside a BATCH.
 */
int xr_nb_encode(execrpc_v1_Envelope *env, const uint8_t *payload,
    size_t plen, uint8_t *out, size_t cap, size_t *env_len);

/*
 * Write the complete signed frame for the encoded envelope `env` (env_len
 * bytes) into `out`, which has room for xr_frame_wire_len(env_len) bytes:
 * header, a copy of the envelope, the tag over label(d) || envelope.
 * Returns XR_OK or the signer's error.
 */
int xr_nb_frame(xr_auth *a, xr_dir d, const uint8_t *env, size_t env_len,
    uint8_t *out);

#endif /* XR_CLIENT_CODEC_NB_H */
