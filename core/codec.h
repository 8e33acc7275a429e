/*
 * core/codec.h — the protobuf-c side of envelope coding: the one place in
 * core that calls protobuf-c (docs/design.md, code conventions). Used by server, supervisor and the
 * CLIs; the client has its own nanopb codec.
 *
 * Decoding uses a per-codec arena (a ProtobufCAllocator), so a frame costs no
 * malloc once the arena has grown to the connection's working size.
 */
#ifndef XR_CODEC_H
#define XR_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "auth.h"
#include "execrpc/v1/frame.pb-c.h"
#include "rx.h"

typedef struct xr_codec xr_codec;

/*
 * Envelope header bounds, the same as nanopb's (proto/execrpc/v1/
 * frame.options: Envelope.headers max_count:8, Header.key max_size:64,
 * Header.value max_size:256, both sizes counting nanopb's NUL), so what one
 * side accepts the other can decode. Keys must be unique. A decoded
 * envelope outside them is XR_ERR_MALFORMED; a count over the bound is
 * refused by a scan of the wire bytes, before anything is unpacked.
 */
#define XR_MAX_HEADERS		8
#define XR_MAX_HEADER_KEY	63	/* bytes */
#define XR_MAX_HEADER_VALUE	255	/* bytes */

/* Arena bytes kept across decodes; an outlier decode that grew the arena
 * past this gives it all back when its envelope is released. */
#define XR_CODEC_ARENA_KEEP	65536

/* A codec with an empty arena. NULL on allocation failure. */
xr_codec *xr_codec_new(void);
/* Free the codec and its arena (wiped). NULL is a no-op. */
void xr_codec_free(xr_codec *c);

/* The decoder interface for xr_rx_frame(); decoded envelopes stay owned by
 * the codec. */
xr_env_decoder xr_codec_decoder(xr_codec *c);

/* The envelope decoded by the last successful xr_rx_frame(), or NULL. Valid
 * until xr_codec_reset() or the next decode. */
const Execrpc__V1__Envelope *xr_codec_envelope(const xr_codec *c);

/* The arena allocator, to unpack payload messages with the same lifetime as
 * the envelope (pass to *__unpack). */
ProtobufCAllocator *xr_codec_allocator(xr_codec *c);

/* Release the decoded envelope and everything allocated from the arena;
 * an arena grown past XR_CODEC_ARENA_KEEP is freed entirely. */
void xr_codec_reset(xr_codec *c);

/* Introspection for tests and diagnostics: bytes of arena the codec holds
 * (block capacities, headers excluded). 0 for a fresh codec. */
size_t xr_codec_arena_bytes(const xr_codec *c);

/* Fill the checked fields of `view` from a decoded envelope. */
void xr_codec_view(const Execrpc__V1__Envelope *e, xr_env_view *view);

/*
 * The packed size of `env`, and `env` packed into `out` (room for that
 * size; returns the bytes written): byte for byte what protobuf-c's
 * execrpc__v1__envelope__get_packed_size() and __pack() give, without their
 * walk over the descriptors.
 */
size_t xr_codec_packed_size(const Execrpc__V1__Envelope *env);
size_t xr_codec_pack(const Execrpc__V1__Envelope *env, uint8_t *out);

/* Bytes xr_codec_seal() writes for `env`. */
size_t xr_codec_sealed_len(const Execrpc__V1__Envelope *env);

/*
 * Serialize `env`, sign it for direction `d`, and write the complete frame
 * (length prefix, Frame wrapper, envelope, tag) into `out` (capacity `cap`,
 * >= xr_codec_sealed_len(env)). `*len` gets the bytes written.
 * Returns XR_OK, XR_ERR_NO_SPACE or XR_ERR_INTERNAL.
 */
int xr_codec_seal(xr_auth *a, xr_dir d, const Execrpc__V1__Envelope *env,
    uint8_t *out, size_t cap, size_t *len);

/* Fill a fresh envelope's common fields: version 1, kind, a random nonce
 * (into `nonce_buf`, which must outlive `env`), ts = now. */
int xr_codec_env_init(Execrpc__V1__Envelope *env, uint32_t kind,
    uint8_t nonce_buf[XR_NONCE_LEN]);

#endif /* XR_CODEC_H */
