/* tests/core/test_auth.c — core/auth.c: HMAC-SHA256 tags with direction
 * labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/md.h>

#include "auth.h"
#include "helper_wire.h"
#include "keys.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
