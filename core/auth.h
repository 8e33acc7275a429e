/*
 * core/auth.h — frame tags: HMAC-SHA256(key[dir], label(dir) || envelope).
 *
 * The direction label is part of the MAC input, so a frame signed for one
 * direction never verifies in another, even when both share one key
 * (kdf: none). Tags are exactly 32 bytes, compared with mbedtls_ct_memcmp.
 *
 * An xr_auth keeps one keyed HMAC context per direction (the key schedule is
 * done once, not per frame). It is not thread-safe: one per thread or loop.
 */
#ifndef XR_AUTH_H
#define XR_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

#define XR_AUTH_TAG_LEN 32

typedef struct xr_auth xr_auth;

/* Build the HMAC contexts from `ks` (copied; the caller may wipe `ks`).
 * Returns NULL on allocation or mbedTLS failure. */
xr_auth *xr_auth_new(const xr_keyset *ks);

/* Wipe and free (NULL is a no-op). */
void xr_auth_free(xr_auth *a);

/* Compute the tag of `env` (len bytes) for direction `d` into `tag`.
 * Returns XR_OK or XR_ERR_INTERNAL / XR_ERR_INVALID_ARG. */
int xr_auth_sign(xr_auth *a, xr_dir d, const uint8_t *env, size_t len,
    uint8_t tag[XR_AUTH_TAG_LEN]);

/* Verify `tag` (tag_len bytes; anything but 32 fails) over `env` for `d`,
 * in constant time. Returns XR_OK or XR_ERR_BAD_SIGNATURE. */
int xr_auth_verify(xr_auth *a, xr_dir d, const uint8_t *env, size_t len,
    const uint8_t *tag, size_t tag_len);

#endif /* XR_AUTH_H */
