/* core/auth.c — HMAC-SHA256 frame tags with direction labels. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>

struct xr_auth {
	mbedtls_md_context_t md[XR_DIR_COUNT];
	size_t label_len[XR_DIR_COUNT];
	int ready[XR_DIR_COUNT];
};

xr_auth *
xr_auth_new(const xr_keyset *ks)
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	xr_auth *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	for (int d = 0; d < XR_DIR_COUNT; d++)
		mbedtls_md_init(&a->md[d]);
	for (int d = 0; d < XR_DIR_COUNT; d++) {
		const xr_key *k = &ks->k[d];

		if (k->len == 0 || k->len > XR_KEY_MAX)
			goto fail;
		if (mbedtls_md_setup(&a->md[d], info, 1) != 0 ||
		    mbedtls_md_hmac_starts(&a->md[d], k->b, k->len) != 0)
			goto fail;
		a->label_len[d] = strlen(xr_dir_label((xr_dir)d));
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
	/* mbedtls_md_free zeroizes the ipad/opad key schedule */
	for (int d = 0; d < XR_DIR_COUNT; d++)
		mbedtls_md_free(&a->md[d]);
	xr_wipe(a, sizeof(*a));
	free(a);
}

int
xr_auth_sign(xr_auth *a, xr_dir d, const uint8_t *env, size_t len,
    uint8_t tag[XR_AUTH_TAG_LEN])
{
	mbedtls_md_context_t *md;

	if (a == NULL || (unsigned)d >= XR_DIR_COUNT || !a->ready[d])
		return XR_ERR_INVALID_ARG;
	md = &a->md[d];
	if (mbedtls_md_hmac_reset(md) != 0 ||
	    mbedtls_md_hmac_update(md, (const uint8_t *)xr_dir_label(d),
	    a->label_len[d]) != 0 ||
	    mbedtls_md_hmac_update(md, env, len) != 0 ||
	    mbedtls_md_hmac_finish(md, tag) != 0)
		return XR_ERR_INTERNAL;
	return XR_OK;
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
