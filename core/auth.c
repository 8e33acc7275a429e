/* core/auth.c — HMAC-SHA256 frame tags with direction labels, the key
 * schedule precomputed once per key. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>

#define BLOCK 64	/* SHA-256 block: the HMAC pad length */

struct xr_auth {
	xr_auth_hmac h[XR_DIR_COUNT];
	int ready[XR_DIR_COUNT];
};

/* A SHA-256 context started and fed `len` bytes of `b`: 0 or mbedTLS' error. */
static int
sha_start(mbedtls_sha256_context *s, const uint8_t *b, size_t len)
{
	mbedtls_sha256_init(s);
	if (mbedtls_sha256_starts_ret(s, 0) != 0)
		return -1;
	return mbedtls_sha256_update_ret(s, b, len);
}

int
xr_auth_hmac_init(xr_auth_hmac *h, const uint8_t *key, size_t klen,
    const uint8_t *prefix, size_t plen)
{
	uint8_t k[BLOCK], pad[BLOCK];
	int r = XR_ERR_INTERNAL;

	memset(k, 0, sizeof(k));
	mbedtls_sha256_init(&h->inner);
	mbedtls_sha256_init(&h->outer);
	if (klen > BLOCK) {
		if (mbedtls_sha256_ret(key, klen, k, 0) != 0)
			goto out;
	} else if (klen > 0)
		memcpy(k, key, klen);
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	if (sha_start(&h->inner, pad, BLOCK) != 0 ||
	    (plen > 0 && mbedtls_sha256_update_ret(&h->inner, prefix,
	    plen) != 0))
		goto out;
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	if (sha_start(&h->outer, pad, BLOCK) != 0)
		goto out;
	r = XR_OK;
 out:
	mbedtls_platform_zeroize(k, sizeof(k));
	mbedtls_platform_zeroize(pad, sizeof(pad));
	if (r != XR_OK)
		xr_auth_hmac_wipe(h);
	return r;
}

int
xr_auth_hmac_mac(const xr_auth_hmac *h, const uint8_t *msg, size_t len,
    uint8_t out[XR_AUTH_TAG_LEN])
{
	mbedtls_sha256_context s;
	uint8_t ih[32];
	int r = XR_ERR_INTERNAL;

	mbedtls_sha256_init(&s);
	mbedtls_sha256_clone(&s, &h->inner);
	if ((len > 0 && mbedtls_sha256_update_ret(&s, msg, len) != 0) ||
	    mbedtls_sha256_finish_ret(&s, ih) != 0)
		goto out;
	mbedtls_sha256_clone(&s, &h->outer);
	if (mbedtls_sha256_update_ret(&s, ih, sizeof(ih)) != 0 ||
	    mbedtls_sha256_finish_ret(&s, out) != 0)
		goto out;
	r = XR_OK;
 out:
	mbedtls_sha256_free(&s);	/* zeroizes the working state */
	mbedtls_platform_zeroize(ih, sizeof(ih));
	return r;
}

void
xr_auth_hmac_wipe(xr_auth_hmac *h)
{
	/* mbedtls_sha256_free zeroizes; zeroize again in case a future
	 * version stops doing it */
	mbedtls_sha256_free(&h->inner);
	mbedtls_sha256_free(&h->outer);
	mbedtls_platform_zeroize(h, sizeof(*h));
}

xr_auth *
xr_auth_new(const xr_keyset *ks)
{
	xr_auth *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	for (int d = 0; d < XR_DIR_COUNT; d++) {
		const xr_key *k = &ks->k[d];
		const char *label = xr_dir_label((xr_dir)d);

		if (k->len == 0 || k->len > XR_KEY_MAX ||
		    xr_auth_hmac_init(&a->h[d], k->b, k->len,
		    (const uint8_t *)label, strlen(label)) != XR_OK)
			goto fail;
		a->ready[d] = 1;
	}
	return a;
 fail:
	xr_auth_free(a);
	return NULL;
}

void
xr_auth_free(xr_auth *a)
{
	if (a == NULL)
		return;
	for (int d = 0; d < XR_DIR_COUNT; d++)
		xr_auth_hmac_wipe(&a->h[d]);
	xr_wipe(a, sizeof(*a));
	free(a);
}

int
xr_auth_sign(xr_auth *a, xr_dir d, const uint8_t *env, size_t len,
    uint8_t tag[XR_AUTH_TAG_LEN])
{
	if (a == NULL || (unsigned)d >= XR_DIR_COUNT || !a->ready[d])
		return XR_ERR_INVALID_ARG;
	return xr_auth_hmac_mac(&a->h[d], env, len, tag);
}

int
xr_auth_verify(xr_auth *a, xr_dir d, const uint8_t *env, size_t len,
    const uint8_t *tag, size_t tag_len)
{
	uint8_t want[XR_AUTH_TAG_LEN];
	int r = XR_ERR_BAD_SIGNATURE;

	if (tag == NULL || tag_len != XR_AUTH_TAG_LEN)
		return XR_ERR_BAD_SIGNATURE;
	if (xr_auth_sign(a, d, env, len, want) != XR_OK)
		goto out;
	if (mbedtls_ct_memcmp(want, tag, XR_AUTH_TAG_LEN) == 0)
		r = XR_OK;
 out:
	xr_wipe(want, sizeof(want));
	return r;
}
