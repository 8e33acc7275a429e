/* tests/core/test_frame.c — core/frame.c: length prefix, Frame wrapper.
 * The frame reader is tested in tests/core/test_reader.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "execrpc/v1/frame.pb-c.h"
#include "frame.h"
#include "helper_wire.h"

static void
fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 131u + (i >> 8));
}

/* ---- length prefix ---- */

static void
test_prefix_round_trip(void **state)
{
	static const uint32_t vals[] = { 0, 1, 0x7f, 0x80, 0xff, 0x100,
	    0x01020304, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff };
	uint8_t p[XR_FRAME_PREFIX_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		xr_frame_put_len(p, vals[i]);
		assert_int_equal(xr_frame_get_len(p), vals[i]);
	}
	/* big-endian on the wire */
	xr_frame_put_len(p, 0x01020304);
	assert_int_equal(p[0], 0x01);
	assert_int_equal(p[1], 0x02);
	assert_int_equal(p[2], 0x03);
	assert_int_equal(p[3], 0x04);
}

/* ---- header/trailer == what protobuf-c packs for Frame{envelope, tag} ---- */

static void
check_header_trailer(size_t env_len)
{
	Execrpc__V1__Frame f = EXECRPC__V1__FRAME__INIT;
	uint8_t tag[XR_TAG_LEN], hdr[XR_FRAME_HEADER_MAX];
	uint8_t trl[XR_FRAME_TRAILER_LEN];
	uint8_t *env = malloc(env_len), *want, *got;
	size_t want_len, hl, got_len;

	assert_non_null(env);
	fill_pattern(env, env_len, (uint8_t)env_len);
	fill_pattern(tag, sizeof(tag), 0x77);
	f.envelope.data = env;
	f.envelope.len = env_len;
	f.tag.data = tag;
	f.tag.len = sizeof(tag);
	want_len = execrpc__v1__frame__get_packed_size(&f);
	want = malloc(want_len);
	assert_non_null(want);
	assert_int_equal(execrpc__v1__frame__pack(&f, want), want_len);

	hl = xr_frame_header(hdr, env_len);
	xr_frame_trailer(trl, tag);
	assert_true(hl <= XR_FRAME_HEADER_MAX);
	got_len = hl - XR_FRAME_PREFIX_LEN + env_len + XR_FRAME_TRAILER_LEN;
	assert_int_equal(got_len, want_len);
	assert_int_equal(xr_frame_get_len(hdr), want_len);
	assert_int_equal(xr_frame_wire_len(env_len), XR_FRAME_PREFIX_LEN + want_len);

	got = malloc(got_len);
	assert_non_null(got);
	memcpy(got, hdr + XR_FRAME_PREFIX_LEN, hl - XR_FRAME_PREFIX_LEN);
	memcpy(got + hl - XR_FRAME_PREFIX_LEN, env, env_len);
	memcpy(got + hl - XR_FRAME_PREFIX_LEN + env_len, trl, sizeof(trl));
	assert_memory_equal(got, want, want_len);
	free(got);
	free(want);
	free(env);
}

static void
test_header_trailer_match_protobuf_c(void **state)
{
	/* 1..5-byte varints for the envelope length. (An empty envelope is
	 * never sent: proto3 would omit the field entirely, whereas
	 * xr_frame_header writes 0a 00; xr_frame_split accepts both.) */
	static const size_t lens[] = { 1, 2, 100, 127, 128, 129, 300, 16383,
	    16384, 16385, 65536, 2097151, 2097152 };

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		check_header_trailer(lens[i]);
}

/* ---- xr_frame_split ---- */

static void
test_split_valid(void **state)
{
	uint8_t env[200], tag[XR_TAG_LEN];
	const uint8_t *e, *t;
	size_t el, tl, bl;
	uint8_t *b;

	(void)state;
	fill_pattern(env, sizeof(env), 3);
	fill_pattern(tag, sizeof(tag), 9);
	b = tw_body(env, sizeof(env), tag, sizeof(tag), &bl);
	assert_int_equal(bl, 1 + 2 + 200 + 2 + 32);
	assert_int_equal(xr_frame_split(b, bl, &e, &el, &t, &tl), XR_OK);
	assert_ptr_equal(e, b + 3);
	assert_int_equal(el, sizeof(env));
	assert_memory_equal(e, env, sizeof(env));
	assert_ptr_equal(t, b + 3 + 200 + 2);
	assert_int_equal(tl, XR_TAG_LEN);
	assert_memory_equal(t, tag, sizeof(tag));
	free(b);
}

static void
test_split_tag_first_and_no_envelope(void **state)
{
	/* field order is free in protobuf; a missing envelope is an empty view */
	uint8_t b[2 + 32 + 2 + 3];
	const uint8_t *e, *t;
	size_t el, tl;

	(void)state;
	b[0] = 0x12;
	b[1] = 32;
	fill_pattern(b + 2, 32, 1);
	b[34] = 0x0a;
	b[35] = 3;
	memcpy(b + 36, "abc", 3);
	assert_int_equal(xr_frame_split(b, sizeof(b), &e, &el, &t, &tl), XR_OK);
	assert_int_equal(el, 3);
	assert_memory_equal(e, "abc", 3);
	assert_ptr_equal(t, b + 2);
	assert_int_equal(tl, 32);

	assert_int_equal(xr_frame_split(b, 34, &e, &el, &t, &tl), XR_OK);
	assert_int_equal(el, 0);
	assert_int_equal(tl, 32);
}

static void
test_split_missing_tag(void **state)
{
	uint8_t env[10];
	const uint8_t *e, *t;
	size_t el, tl, bl;
	uint8_t *b;

	(void)state;
	fill_pattern(env, sizeof(env), 5);
	b = tw_body(env, sizeof(env), NULL, 0, &bl);
	assert_int_equal(xr_frame_split(b, bl, &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	free(b);
	/* an empty body has no tag either */
	assert_int_equal(xr_frame_split(env, 0, &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
}

static void
test_split_duplicate_fields(void **state)
{
	static const uint8_t dup_env[] = { 0x0a, 1, 'x', 0x0a, 1, 'y',
	    0x12, 1, 't' };
	static const uint8_t dup_tag[] = { 0x0a, 1, 'x', 0x12, 1, 't',
	    0x12, 1, 'u' };
	const uint8_t *e, *t;
	size_t el, tl;

	(void)state;
	assert_int_equal(xr_frame_split(dup_env, sizeof(dup_env), &e, &el, &t,
	    &tl), XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(dup_tag, sizeof(dup_tag), &e, &el, &t,
	    &tl), XR_ERR_BAD_SIGNATURE);
}

static void
test_split_unknown_field(void **state)
{
	/* field 3 (bytes), field 1 as varint, field 2 as fixed32, a 2-byte
	 * key for field 16, and a trailing unknown field after a valid pair */
	static const uint8_t f3[] = { 0x0a, 1, 'x', 0x12, 1, 't', 0x1a, 1, 'z' };
	static const uint8_t f1v[] = { 0x08, 1, 0x12, 1, 't' };
	static const uint8_t f2f[] = { 0x0a, 1, 'x', 0x15, 1, 2, 3, 4 };
	static const uint8_t f16[] = { 0x82, 0x01, 1, 'z', 0x0a, 1, 'x',
	    0x12, 1, 't' };
	const uint8_t *e, *t;
	size_t el, tl;

	(void)state;
	assert_int_equal(xr_frame_split(f3, sizeof(f3), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(f1v, sizeof(f1v), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(f2f, sizeof(f2f), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(f16, sizeof(f16), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
}

static void
test_split_truncated_varint(void **state)
{
	static const uint8_t cut[] = { 0x0a, 0x80 };
	static const uint8_t cut2[] = { 0x12, 0xff, 0xff };
	/* six continuation bytes: longer than a 32-bit varint */
	static const uint8_t lng[] = { 0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	/* five bytes but a value over 2^32 */
	static const uint8_t big[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x1f };
	static const uint8_t key_only[] = { 0x0a };
	const uint8_t *e, *t;
	size_t el, tl;

	(void)state;
	assert_int_equal(xr_frame_split(cut, sizeof(cut), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(cut2, sizeof(cut2), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(lng, sizeof(lng), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(big, sizeof(big), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(key_only, sizeof(key_only), &e, &el,
	    &t, &tl), XR_ERR_BAD_SIGNATURE);
}

static void
test_split_length_past_end(void **state)
{
	static const uint8_t env_past[] = { 0x0a, 5, 'a', 'b', 0x12, 1, 't' };
	static const uint8_t tag_past[] = { 0x0a, 1, 'a', 0x12, 32, 1, 2, 3 };
	/* a 4-byte varint length of ~2^28 on a tiny body */
	static const uint8_t huge[] = { 0x0a, 0x80, 0x80, 0x80, 0x7f, 'a' };
	const uint8_t *e, *t;
	size_t el, tl;
	uint8_t *b;

	(void)state;
	assert_int_equal(xr_frame_split(env_past, sizeof(env_past), &e, &el,
	    &t, &tl), XR_ERR_BAD_SIGNATURE);
	assert_int_equal(xr_frame_split(tag_past, sizeof(tag_past), &e, &el,
	    &t, &tl), XR_ERR_BAD_SIGNATURE);
	b = tw_dup(huge, sizeof(huge));
	assert_int_equal(xr_frame_split(b, sizeof(huge), &e, &el, &t, &tl),
	    XR_ERR_BAD_SIGNATURE);
	free(b);
}

/* docs/design.md, code conventions: every bit flip and every truncation of a valid input gives a
 * clean result. Any truncation loses the tag or cuts a field: always
 * BAD_SIGNATURE. A bit flip may still parse (e.g. inside the envelope); then
 * the views must lie inside the body. */
static void
test_split_bitflip_and_truncation(void **state)
{
	uint8_t env[150], tag[XR_TAG_LEN];
	const uint8_t *e, *t;
	size_t el, tl, bl;
	uint8_t *b, *c;

	(void)state;
	fill_pattern(env, sizeof(env), 11);
	fill_pattern(tag, sizeof(tag), 12);
	b = tw_body(env, sizeof(env), tag, sizeof(tag), &bl);
	for (size_t len = 0; len < bl; len++) {
		c = tw_dup(b, len);
		assert_int_equal(xr_frame_split(c, len, &e, &el, &t, &tl),
		    XR_ERR_BAD_SIGNATURE);
		free(c);
	}
	for (size_t bit = 0; bit < bl * 8; bit++) {
		int r;

		c = tw_dup(b, bl);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		r = xr_frame_split(c, bl, &e, &el, &t, &tl);
		if (r == XR_OK) {
			assert_true(e >= c && e + el <= c + bl);
			assert_true(t >= c && t + tl <= c + bl);
		} else {
			assert_int_equal(r, XR_ERR_BAD_SIGNATURE);
		}
		free(c);
	}
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_round_trip),
		cmocka_unit_test(test_header_trailer_match_protobuf_c),
		cmocka_unit_test(test_split_valid),
		cmocka_unit_test(test_split_tag_first_and_no_envelope),
		cmocka_unit_test(test_split_missing_tag),
		cmocka_unit_test(test_split_duplicate_fields),
		cmocka_unit_test(test_split_unknown_field),
		cmocka_unit_test(test_split_truncated_varint),
		cmocka_unit_test(test_split_length_past_end),
		cmocka_unit_test(test_split_bitflip_and_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
