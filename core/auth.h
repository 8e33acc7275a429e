/*
 * core/auth.h — frame tags: HMAC-SHA256(key[dir], label(dir) || envelope).
 *
 * The direction label is part of the MAC input, so a frame signed for one
 * direction never verifies in another, even when both share one key
 * (kdf: none). Tags are exactly 32 bytes, compared with mbedtls_ct_memcmp.
 *
 * The key schedule is done once per key, not per frame: an xr_auth_hmac
 * keeps the SHA-256 states after the inner padded key block plus the
 * label, and after the outer padded key block, so a tag costs the
 * envelope's blocks and one outer block. Every saved state is zeroized
 * when it is released.
 *
 * SHA-256 here is nettle's, not mbedTLS': Debian's nettle is built "fat"
 * and picks the CPU's SHA extensions (SHA-NI) at run time, which makes a
 * tag of a 163-byte envelope about 3.4x cheaper than mbedTLS 2.28's
 * portable C (210 ns against 715 ns here; bench/bench_verify prints both).
 * A tag is the one cryptographic operation per frame, so it bounds the
 * calls per second of a busy channel. Its contexts are plain structs:
 * copying one is the per-frame "reset", with no allocation. Everything
 * else cryptographic (HKDF, the nonce DRBG, constant-time compares) stays
 * on mbedTLS; the tests check every tag against mbedtls_md_hmac().
 */
#ifndef XR_AUTH_H
#define XR_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#include "err.h"
#include "keys.h"

#define XR_AUTH_TAG_LEN 32

/* HMAC-SHA256 under one key with a fixed prefix of the message absorbed:
 * the precomputed inner and outer states. Read-only once made, so one may
 * be used by several threads. */
typedef struct xr_auth_hmac {
	struct sha256_ctx inner;	/* after (key ^ ipad) || prefix */
	struct sha256_ctx outer;	/* after (key ^ opad) */
} xr_auth_hmac;

/* Key `h` with `key` (klen bytes, any length: a key over 64 bytes is
 * hashed first, as HMAC specifies) and absorb `prefix` (plen bytes, may be
 * 0). Returns XR_OK. */
int xr_auth_hmac_init(xr_auth_hmac *h, const uint8_t *key, size_t klen,
    const uint8_t *prefix, size_t plen);

/* out = HMAC-SHA256(key, prefix || msg), msg being `len` bytes (msg may be
 * NULL when len is 0). Leaves `h` unchanged. Returns XR_OK. */
int xr_auth_hmac_mac(const xr_auth_hmac *h, const uint8_t *msg, size_t len,
    uint8_t out[XR_AUTH_TAG_LEN]);

/* Zeroize both saved states. */
void xr_auth_hmac_wipe(xr_auth_hmac *h);

typedef struct xr_auth xr_auth;

/* Build the keyed states from `ks` (nothing of `ks` is kept; the caller may
 * wipe it). Returns NULL on allocation failure, or a key of length 0 or
 * over XR_KEY_MAX. */
xr_auth *xr_auth_new(const xr_keyset *ks);

/* Wipe every saved state and free (NULL is a no-op). */
void xr_auth_free(xr_auth *a);

/* Compute the tag of `env` (len bytes) for direction `d` into `tag`.
 * Does not modify `a`. Returns XR_OK, or XR_ERR_INVALID_ARG for a NULL
 * `a`, an unknown direction or a direction without a key. */
int xr_auth_sign(xr_auth *a, xr_dir d, const uint8_t *env, size_t len,
    uint8_t tag[XR_AUTH_TAG_LEN]);

/* Verify `tag` (tag_len bytes; anything but 32 fails) over `env` for `d`,
 * in constant time. Returns XR_OK or XR_ERR_BAD_SIGNATURE. */
int xr_auth_verify(xr_auth *a, xr_dir d, const uint8_t *env, size_t len,
    const uint8_t *tag, size_t tag_len);

#endif /* XR_AUTH_H */
