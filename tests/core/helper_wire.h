/*
 * tests/core/helper_wire.h — shared helpers for the wire tests: a fixed
 * keyset, envelopes built with protobuf-c, frames sealed with
 * xr_codec_seal(). Every helper fails the running cmocka test on error, so
 * callers need not check results. Linked into every tests/core test.
 */
#ifndef TW_HELPER_WIRE_H
#define TW_HELPER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "codec.h"
#include "keys.h"

/* The fixed test master secret (32 bytes, not a real key). */
extern const uint8_t tw_master[XR_MASTER_LEN];

/* Derive a keyset from tw_master with `kdf`. */
void tw_keyset(xr_keyset *ks, xr_kdf kdf);

/* An xr_auth for tw_master with `kdf` (free with xr_auth_free). */
xr_auth *tw_auth(xr_kdf kdf);

/* An xr_auth for another master: tw_master with every byte xored by `x`. */
xr_auth *tw_auth_other(xr_kdf kdf, uint8_t x);

/* An envelope plus the storage its byte fields point at. */
typedef struct tw_env {
	Execrpc__V1__Envelope env;
	uint8_t nonce[XR_NONCE_LEN];
	uint8_t session[XR_SESSION_ID_LEN];
} tw_env;

/*
 * Initialize `e` with xr_codec_env_init (version 1, `kind`, fresh random
 * nonce), then ts_ms = `ts_ms`, and, when `session` is not NULL, session_id
 * = a copy of `session` and sequence = `seq`. `payload` (may be NULL) is
 * borrowed and must outlive `e`.
 */
void tw_env_init(tw_env *e, uint32_t kind, uint64_t ts_ms,
    const uint8_t *session, uint64_t seq, const uint8_t *payload,
    size_t payload_len);

/* Seal `env` for direction `d` with xr_codec_seal; returns a malloc'd copy
 * of the frame body (the bytes after the 4-byte prefix), `*body_len` set. */
uint8_t *tw_seal(xr_auth *a, xr_dir d, const Execrpc__V1__Envelope *env,
    size_t *body_len);

/* tw_env_init + tw_seal in one call. If `nonce_out` is not NULL it gets the
 * frame's nonce. */
uint8_t *tw_frame(xr_auth *a, xr_dir d, uint32_t kind, uint64_t ts_ms,
    const uint8_t *session, uint64_t seq, const uint8_t *payload,
    size_t payload_len, size_t *body_len, uint8_t nonce_out[XR_NONCE_LEN]);

/* A frame body around arbitrary envelope bytes with a valid tag for `d`
 * (e.g. signed garbage). malloc'd. */
uint8_t *tw_seal_raw(xr_auth *a, xr_dir d, const uint8_t *env, size_t env_len,
    size_t *body_len);

/* A frame body with an explicit tag of any length (tag NULL: no tag field).
 * malloc'd. */
uint8_t *tw_body(const uint8_t *env, size_t env_len, const uint8_t *tag,
    size_t tag_len, size_t *body_len);

/* A malloc'd copy of `len` bytes (exact size, so ASan sees over-reads). */
uint8_t *tw_dup(const uint8_t *p, size_t len);

#endif /* TW_HELPER_WIRE_H */
