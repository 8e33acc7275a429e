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

int
xr_auth_hmac_init(xr_auth_hmac *h, const uint8_t *key, size_t klen,
    const uint8_t *prefix, size_t plen)
{
	uint8_t k[BLOCK], pad[BLOCK];

	memset(k, 0, sizeof(k));
	if (klen > BLOCK) {
		sha256_init(&h->inner);
		sha256_update(&h->inner, klen, key);
		sha256_digest(&h->inner, SHA256_DIGEST_SIZE, k);
	} else if (klen > 0)
		memcpy(k, key, klen);
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&h->inner);
	sha256_update(&h->inner, BLOCK, pad);
	if (plen > 0)
		sha256_update(&h->inner, plen, prefix);
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&h->outer);
	sha256_update(&h->outer, BLOCK, pad);
	mbedtls_platform_zeroize(k, sizeof(k));
	mbedtls_platform_zeroize(pad, sizeof(pad));
	return XR_OK;
}

int
xr_auth_hmac_mac(const xr_auth_hmac *h, const uint8_t *msg, size_t len,
    uint8_t out[XR_AUTH_TAG_LEN])
{
	struct sha256_ctx s = h->inner;
	uint8_t ih[SHA256_DIGEST_SIZE];

	if (len > 0)
		sha256_update(&s, len, msg);
	sha256_digest(&s, sizeof(ih), ih);
	s = h->outer;
	sha256_update(&s, sizeof(ih), ih);
	sha256_digest(&s, XR_AUTH_TAG_LEN, out);
	mbedtls_platform_zeroize(&s, sizeof(s));
	mbedtls_platform_zeroize(ih, sizeof(ih));
	return XR_OK;
}

void
xr_auth_hmac_wipe(xr_auth_hmac *h)
{
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
