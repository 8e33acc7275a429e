/* tests/core/test_auth.c — core/auth.c: HMAC-SHA256 tags with direction
 * labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/md.h>

#include "auth.h"
#include "helper_wire.h"
#include "keys.h"
#include "../xr_xorshift.h"

static const uint8_t msg[] = "\x08\x01\x10\x03\x1a\x10" "0123456789abcdef"
    " an envelope-ish message with a \0 NUL in it";

static void
test_sign_verify_round_trip(void **state)
{
	static const xr_kdf kdfs[] = { XR_KDF_NONE, XR_KDF_HKDF_SHA256 };
	uint8_t tag[XR_AUTH_TAG_LEN], tag2[XR_AUTH_TAG_LEN];

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		xr_auth *a = tw_auth(kdfs[k]);

		for (int d = 0; d < XR_DIR_COUNT; d++) {
			assert_int_equal(xr_auth_sign(a, (xr_dir)d, msg,
			    sizeof(msg), tag), XR_OK);
			assert_int_equal(xr_auth_verify(a, (xr_dir)d, msg,
			    sizeof(msg), tag, sizeof(tag)), XR_OK);
			/* deterministic: the HMAC context is reset per call */
			assert_int_equal(xr_auth_sign(a, (xr_dir)d, msg,
			    sizeof(msg), tag2), XR_OK);
			assert_memory_equal(tag, tag2, sizeof(tag));
			/* an empty envelope signs and verifies too */
			assert_int_equal(xr_auth_sign(a, (xr_dir)d, msg, 0,
			    tag), XR_OK);
			assert_int_equal(xr_auth_verify(a, (xr_dir)d, msg, 0,
			    tag, sizeof(tag)), XR_OK);
		}
		xr_auth_free(a);
	}
}

/* The label is in the MAC input: a tag for web->exec never verifies for
 * exec->web or control, even when all three keys are the master. */
static void
test_direction_labels_separate(void **state)
{
	static const xr_kdf kdfs[] = { XR_KDF_NONE, XR_KDF_HKDF_SHA256 };
	uint8_t tag[XR_AUTH_TAG_LEN];
	xr_keyset ks;

	(void)state;
	tw_keyset(&ks, XR_KDF_NONE);
	assert_memory_equal(&ks.k[0], &ks.k[1], sizeof(ks.k[0]));
	assert_memory_equal(&ks.k[0], &ks.k[2], sizeof(ks.k[0]));
	xr_keyset_wipe(&ks);
	for (size_t k = 0; k < 2; k++) {
		xr_auth *a = tw_auth(kdfs[k]);

		for (int s = 0; s < XR_DIR_COUNT; s++) {
			assert_int_equal(xr_auth_sign(a, (xr_dir)s, msg,
			    sizeof(msg), tag), XR_OK);
			for (int v = 0; v < XR_DIR_COUNT; v++)
				assert_int_equal(xr_auth_verify(a, (xr_dir)v,
				    msg, sizeof(msg), tag, sizeof(tag)),
				    s == v ? XR_OK : XR_ERR_BAD_SIGNATURE);
		}
		xr_auth_free(a);
	}
}

static void
test_tag_length(void **state)
{
	xr_auth *a = tw_auth(XR_KDF_HKDF_SHA256);
	uint8_t tag[XR_AUTH_TAG_LEN + 1];

	(void)state;
	assert_int_equal(xr_auth_sign(a, XR_DIR_WEB_TO_EXEC, msg, sizeof(msg),
	    tag), XR_OK);
	tag[XR_AUTH_TAG_LEN] = 0;
	assert_int_equal(xr_auth_verify(a, XR_DIR_WEB_TO_EXEC, msg,
	    sizeof(msg), tag, 0), XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_auth_verify(a, XR_DIR_WEB_TO_EXEC, msg,
	    sizeof(msg), tag, 31), XR_ERR_BAD_SIGNATURE);
	/* 33 bytes whose first 32 are the right tag */
	assert_int_equal(xr_auth_verify(a, XR_DIR_WEB_TO_EXEC, msg,
	    sizeof(msg), tag, 33), XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_auth_verify(a, XR_DIR_WEB_TO_EXEC, msg,
	    sizeof(msg), NULL, 32), XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_auth_verify(a, XR_DIR_WEB_TO_EXEC, msg,
	    sizeof(msg), tag, 32), XR_OK);
	xr_auth_free(a);
}

static void
test_every_bit_flip(void **state)
{
	xr_auth *a = tw_auth(XR_KDF_HKDF_SHA256);
	uint8_t tag[XR_AUTH_TAG_LEN], t2[XR_AUTH_TAG_LEN], m2[sizeof(msg)];

	(void)state;
	assert_int_equal(xr_auth_sign(a, XR_DIR_EXEC_TO_WEB, msg, sizeof(msg),
	    tag), XR_OK);
	for (size_t bit = 0; bit < sizeof(tag) * 8; bit++) {
		memcpy(t2, tag, sizeof(tag));
		t2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(xr_auth_verify(a, XR_DIR_EXEC_TO_WEB, msg,
		    sizeof(msg), t2, sizeof(t2)), XR_ERR_BAD_SIGNATURE);
	}
	for (size_t bit = 0; bit < sizeof(msg) * 8; bit++) {
		memcpy(m2, msg, sizeof(msg));
		m2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(xr_auth_verify(a, XR_DIR_EXEC_TO_WEB, m2,
		    sizeof(m2), tag, sizeof(tag)), XR_ERR_BAD_SIGNATURE);
	}
	/* and every truncation of the envelope */
	for (size_t len = 0; len < sizeof(msg); len++)
		assert_int_equal(xr_auth_verify(a, XR_DIR_EXEC_TO_WEB, msg,
		    len, tag, sizeof(tag)), XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_auth_verify(a, XR_DIR_EXEC_TO_WEB, msg,
	    sizeof(msg), tag, sizeof(tag)), XR_OK);
	xr_auth_free(a);
}

/* Known answer: the tag is HMAC-SHA256(key[d], label(d) || envelope),
 * computed here independently with mbedTLS' one-shot HMAC. */
static void
test_known_answer(void **state)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	static const xr_kdf kdfs[] = { XR_KDF_NONE, XR_KDF_HKDF_SHA256 };
	uint8_t want[32], got[XR_AUTH_TAG_LEN], in[16 + sizeof(msg)];
	xr_keyset ks;

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		xr_auth *a = tw_auth(kdfs[k]);

		tw_keyset(&ks, kdfs[k]);
		for (int d = 0; d < XR_DIR_COUNT; d++) {
			const char *label = xr_dir_label((xr_dir)d);
			size_t ll = strlen(label);

			memcpy(in, label, ll);
			memcpy(in + ll, msg, sizeof(msg));
			assert_int_equal(mbedtls_md_hmac(md, ks.k[d].b,
			    ks.k[d].len, in, ll + sizeof(msg), want), 0);
			assert_int_equal(xr_auth_sign(a, (xr_dir)d, msg,
			    sizeof(msg), got), XR_OK);
			assert_memory_equal(got, want, sizeof(want));
		}
		xr_keyset_wipe(&ks);
		xr_auth_free(a);
	}
	/* the labels themselves are the documented strings */
	assert_string_equal(xr_dir_label(XR_DIR_WEB_TO_EXEC), "web->exec");
	assert_string_equal(xr_dir_label(XR_DIR_EXEC_TO_WEB), "exec->web");
	assert_string_equal(xr_dir_label(XR_DIR_CONTROL), "control");
	assert_null(xr_dir_label(XR_DIR_COUNT));
	/* fixed vector: kdf none, key = tw_master, "web->exec" || msg */
	{
		xr_auth *a = tw_auth(XR_KDF_NONE);
		size_t ll = strlen("web->exec");

		memcpy(in, "web->exec", ll);
		memcpy(in + ll, msg, sizeof(msg));
		assert_int_equal(mbedtls_md_hmac(md, tw_master,
		    sizeof(tw_master), in, ll + sizeof(msg), want), 0);
		assert_int_equal(xr_auth_sign(a, XR_DIR_WEB_TO_EXEC, msg,
		    sizeof(msg), got), XR_OK);
		assert_memory_equal(got, want, sizeof(want));
		xr_auth_free(a);
	}
}

/* xr_auth_new copies the keys: the caller may wipe its keyset. */
static void
test_keys_copied_and_bad_args(void **state)
{
	uint8_t t1[XR_AUTH_TAG_LEN], t2[XR_AUTH_TAG_LEN];
	xr_keyset ks;
	xr_auth *a, *b;

	(void)state;
	tw_keyset(&ks, XR_KDF_HKDF_SHA256);
	a = xr_auth_new(&ks);
	assert_non_null(a);
	xr_keyset_wipe(&ks);
	b = tw_auth(XR_KDF_HKDF_SHA256);
	assert_int_equal(xr_auth_sign(a, XR_DIR_CONTROL, msg, sizeof(msg), t1),
	    XR_OK);
	assert_int_equal(xr_auth_sign(b, XR_DIR_CONTROL, msg, sizeof(msg), t2),
	    XR_OK);
	assert_memory_equal(t1, t2, sizeof(t1));
	/* a wiped (all-zero-length) keyset builds nothing */
	assert_null(xr_auth_new(&ks));
	assert_int_equal(xr_auth_sign(a, XR_DIR_COUNT, msg, sizeof(msg), t1),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_auth_sign(NULL, XR_DIR_CONTROL, msg, sizeof(msg),
	    t1), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_auth_verify(a, XR_DIR_COUNT, msg, sizeof(msg), t1,
	    sizeof(t1)), XR_ERR_BAD_SIGNATURE);
	xr_auth_free(a);
	xr_auth_free(b);
	xr_auth_free(NULL);
}

/* ---- the precomputed key schedule against RFC 4231 and mbedTLS ---- */

struct rfc4231 {
	size_t klen;
	uint8_t kbyte;		/* key = klen bytes of kbyte, or 1..klen */
	const char *data;	/* NULL: dlen bytes of dbyte */
	size_t dlen;
	uint8_t dbyte;
	size_t tlen;		/* bytes of the tag compared */
	const char *hex;
};

static const struct rfc4231 rfc[] = {
	{ 20, 0x0b, "Hi There", 0, 0, 32, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7" },
	{ 4, 0, "what do ya want for nothing?", 0, 0, 32, "5bdcc146bf60754e"
	    "6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ 20, 0xaa, NULL, 50, 0xdd, 32, "773ea91e36800e46854db8ebd09181a7"
	    "2959098b3ef8c122d9635514ced565fe" },
	{ 25, 0x01, NULL, 50, 0xcd, 32, "82558a389a443c0ea4cc819899f2083a"
	    "85f0faa3e578f8077a2e3ff46729665b" },
	{ 20, 0x0c, "Test With Truncation", 0, 0, 16,
	    "a3b6167473100ee06e0c796c2955552b" },
	{ 131, 0xaa, "Test Using Larger Than Block-Size Key - Hash Key First",
	    0, 0, 32, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c514"
	    "0546040f0ee37f54" },
	{ 131, 0xaa, "This is a test using a larger than block-size key and a "
	    "larger than block-size data. The key needs to be hashed before "
	    "being used by the HMAC algorithm.", 0, 0, 32, "9b09ffa71b942fcb"
	    "27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

static void
unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i] != '\0'; i++) {
		unsigned v;

		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* RFC 4231 test cases 1-7 (case 2's key is "Jefe", case 4's 0x01..0x19),
 * and every split of the input between the absorbed prefix and the
 * message gives the same tag. */
static void
test_hmac_rfc4231(void **state)
{
	(void)state;
	for (size_t t = 0; t < sizeof(rfc) / sizeof(rfc[0]); t++) {
		const struct rfc4231 *v = &rfc[t];
		uint8_t key[131], data[160], want[32], got[32];
		size_t dlen = v->data ? strlen(v->data) : v->dlen;
		xr_auth_hmac h;

		for (size_t i = 0; i < v->klen; i++)
			key[i] = v->kbyte == 0x01 ? (uint8_t)(i + 1) : v->kbyte;
		if (t == 1)
			memcpy(key, "Jefe", 4);
		if (v->data)
			memcpy(data, v->data, dlen);
		else
			memset(data, v->dbyte, dlen);
		unhex(v->hex, want);
		for (size_t split = 0; split <= dlen; split++) {
			assert_int_equal(xr_auth_hmac_init(&h, key, v->klen,
			    data, split), XR_OK);
			assert_int_equal(xr_auth_hmac_mac(&h, data + split,
			    dlen - split, got), XR_OK);
			assert_memory_equal(got, want, v->tlen);
			/* the saved states are unchanged: same tag again */
			assert_int_equal(xr_auth_hmac_mac(&h, data + split,
			    dlen - split, got), XR_OK);
			assert_memory_equal(got, want, v->tlen);
			xr_auth_hmac_wipe(&h);
		}
	}
}

/* A deterministic generator for the random cases (xorshift64*). */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
rnd(void)
{
	return xr_xorshift(&rng);
}

static void
rnd_fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(rnd() >> 56);
}

/* Random keys (1..200 bytes, over the block size too) and message lengths
 * 0..5000 (every length around the block boundaries, then random ones):
 * byte-equal to mbedtls_md_hmac(). */
static void
test_hmac_random_against_mbedtls(void **state)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	static uint8_t m[5000];
	uint8_t key[200], want[32], got[32];
	xr_auth_hmac h;

	(void)state;
	rnd_fill(m, sizeof(m));
	for (size_t i = 0; i < 700; i++) {
		size_t klen = 1 + (size_t)(rnd() % sizeof(key));
		size_t len = i <= 300 ? i : (size_t)(rnd() % (sizeof(m) + 1));

		if (i == 699)
			len = sizeof(m);
		rnd_fill(key, klen);
		assert_int_equal(mbedtls_md_hmac(md, key, klen, m, len, want),
		    0);
		assert_int_equal(xr_auth_hmac_init(&h, key, klen, NULL, 0),
		    XR_OK);
		assert_int_equal(xr_auth_hmac_mac(&h, m, len, got), XR_OK);
		assert_memory_equal(got, want, sizeof(want));
		xr_auth_hmac_wipe(&h);
	}
}

/* xr_auth_sign on random keysets (every key length 1..XR_KEY_MAX) and
 * envelope lengths 0..5000 equals mbedtls_md_hmac(key, label || env). */
static void
test_sign_random_against_mbedtls(void **state)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	static uint8_t in[16 + 5000];
	uint8_t want[32], got[XR_AUTH_TAG_LEN];

	(void)state;
	for (size_t i = 0; i < 200; i++) {
		size_t len = (size_t)(rnd() % 5001);
		xr_keyset ks;
		xr_auth *a;

		memset(&ks, 0, sizeof(ks));
		ks.kdf = XR_KDF_HKDF_SHA256;
		for (int d = 0; d < XR_DIR_COUNT; d++) {
			ks.k[d].len = 1 + (i + (size_t)d) % XR_KEY_MAX;
			rnd_fill(ks.k[d].b, ks.k[d].len);
		}
		assert_non_null(a = xr_auth_new(&ks));
		for (int d = 0; d < XR_DIR_COUNT; d++) {
			const char *label = xr_dir_label((xr_dir)d);
			size_t ll = strlen(label);

			memcpy(in, label, ll);
			rnd_fill(in + ll, len);
			assert_int_equal(mbedtls_md_hmac(md, ks.k[d].b,
			    ks.k[d].len, in, ll + len, want), 0);
			assert_int_equal(xr_auth_sign(a, (xr_dir)d, in + ll,
			    len, got), XR_OK);
			assert_memory_equal(got, want, sizeof(want));
			assert_int_equal(xr_auth_verify(a, (xr_dir)d, in + ll,
			    len, want, sizeof(want)), XR_OK);
		}
		xr_keyset_wipe(&ks);
		xr_auth_free(a);
	}
}

/* xr_auth_hmac_wipe leaves no byte of either saved state. */
static void
test_hmac_wipe(void **state)
{
	static const uint8_t zero[sizeof(xr_auth_hmac)];
	xr_auth_hmac h;

	(void)state;
	assert_int_equal(xr_auth_hmac_init(&h, tw_master, sizeof(tw_master),
	    (const uint8_t *)"web->exec", 9), XR_OK);
	assert_memory_not_equal(&h, zero, sizeof(h));
	xr_auth_hmac_wipe(&h);
	assert_memory_equal(&h, zero, sizeof(h));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify_round_trip),
		cmocka_unit_test(test_direction_labels_separate),
		cmocka_unit_test(test_tag_length),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_keys_copied_and_bad_args),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hmac_random_against_mbedtls),
		cmocka_unit_test(test_sign_random_against_mbedtls),
		cmocka_unit_test(test_hmac_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
