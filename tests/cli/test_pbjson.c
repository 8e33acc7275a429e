/*
 * tests/cli/test_pbjson.c — the JSON <-> protobuf converter of `execrpc call
 * --protoset` (apps/execrpc/pbjson.h), on a descriptor set protoc made from
 * the protos in tests/cli/pbjson/ at build time (argv[1]; argv[2] the same set
 * without --include_imports).
 *
 * JSON -> bytes: the exact wire bytes of every scalar type, enums, nested
 * and repeated (packed and not) fields, oneofs, proto3 optional, both field
 * names, defaults left out, field-number order; every refusal with its exact
 * message (malformed JSON, wrong JSON types, out of range, unknown and
 * repeated fields, two oneof members, bad base64, unknown enum names, maps,
 * groups, well-known types, nesting depth).
 * bytes -> JSON: the exact text of every type, unknown fields skipped,
 * last-one-wins and merged messages, packed and unpacked forms; truncated
 * and hostile bytes (every truncation, every byte flipped, bad varints, wire
 * type mismatches, invalid UTF-8, nesting depth) end in clean errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"

static const char *set_path, *noimports_path;
static xr_pbjson *P;
static const xr_pbjson_type *ALL, *INNER, *UNSUP, *P2;

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	assert_non_null(b = malloc((size_t)n));
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static int
setup(void **state)
{
	xr_diag d = { 0 };
	size_t len;
	uint8_t *b = read_all(set_path, &len);

	(void)state;
	P = xr_pbjson_new(b, len, &d);
	free(b);
	if (P == NULL)
		fail_msg("load: %s", d.reason);
	assert_non_null(ALL = xr_pbjson_find(P, "pbjt.v1.All"));
	assert_non_null(INNER = xr_pbjson_find(P, "pbjt.v1.Inner"));
	assert_non_null(UNSUP = xr_pbjson_find(P, "pbjt.v1.Unsupported"));
	assert_non_null(P2 = xr_pbjson_find(P, "pbjt.v2.P2"));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	xr_pbjson_free(P);
	return 0;
}

static char *
hex_of(const uint8_t *b, size_t n)
{
	char *s = malloc(n * 2 + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	s[n * 2] = '\0';
	return s;
}

static uint8_t *
bytes_of(const char *hex, size_t *n)
{
	size_t l = strlen(hex);
	uint8_t *b = malloc(l / 2 + 1);

	assert_non_null(b);
	assert_int_equal(l % 2, 0);
	for (size_t i = 0; i < l / 2; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		b[i] = (uint8_t)v;
	}
	*n = l / 2;
	return b;
}

/* JSON -> exactly these wire bytes (hex) */
static void
enc_ok(const xr_pbjson_type *t, const char *json, const char *hex)
{
	xr_diag d = { 0 };
	uint8_t *out = NULL;
	size_t n = 0;
	char *h;
	int r = xr_pbjson_encode(P, t, json, strlen(json), &out, &n, &d);

	if (r != XR_OK)
		fail_msg("encode %s: %s", json, d.reason);
	assert_non_null(out);
	h = hex_of(out, n);
	if (strcmp(h, hex) != 0)
		fail_msg("encode %s: %s, want %s", json, h, hex);
	free(h);
	free(out);
}

/* JSON -> refused with exactly this reason */
static void
enc_fail(const xr_pbjson_type *t, const char *json, const char *why)
{
	xr_diag d = { 0 };
	uint8_t *out = (uint8_t *)"x";
	size_t n = 1;
	int r = xr_pbjson_encode(P, t, json, strlen(json), &out, &n, &d);

	if (r == XR_OK)
		fail_msg("encode %s: accepted", json);
	assert_int_equal(r, XR_ERR_INVALID_ARG);
	assert_int_equal(d.code, XR_ERR_INVALID_ARG);
	assert_null(out);
	assert_int_equal(n, 0);
	if (strcmp(d.reason, why) != 0)
		fail_msg("encode %s: \"%s\", want \"%s\"", json, d.reason, why);
}

/* wire bytes (hex) -> exactly this JSON */
static void
dec_ok(const xr_pbjson_type *t, const char *hex, const char *json)
{
	xr_diag d = { 0 };
	size_t n;
	uint8_t *b = bytes_of(hex, &n);
	char *out = NULL;
	int r = xr_pbjson_decode(P, t, b, n, &out, &d);

	if (r != XR_OK)
		fail_msg("decode %s: %s", hex, d.reason);
	if (strcmp(out, json) != 0)
		fail_msg("decode %s: %s, want %s", hex, out, json);
	free(out);
	free(b);
}

static void
dec_fail(const xr_pbjson_type *t, const char *hex, int code, const char *why)
{
	xr_diag d = { 0 };
	size_t n;
	uint8_t *b = bytes_of(hex, &n);
	char *out = (char *)"x";
	int r = xr_pbjson_decode(P, t, b, n, &out, &d);

	if (r == XR_OK)
		fail_msg("decode %s: accepted: %s", hex, out);
	assert_int_equal(r, code);
	assert_null(out);
	if (strcmp(d.reason, why) != 0)
		fail_msg("decode %s: \"%s\", want \"%s\"", hex, d.reason, why);
	free(b);
}

/* ---- the set and its methods ---- */

static void
test_pbjson_set_and_methods(void **state)
{
	const xr_pbjson_type *in = NULL, *out = NULL;
	xr_diag d = { 0 };
	uint8_t junk[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *b;
	size_t len;

	(void)state;
	assert_int_equal(xr_pbjson_method(P, "pbjt.v1.T/Do", &in, &out, &d),
	    XR_OK);
	assert_ptr_equal(in, ALL);
	assert_ptr_equal(out, INNER);
	assert_string_equal(xr_pbjson_type_name(out), "pbjt.v1.Inner");
	assert_null(xr_pbjson_find(P, "pbjt.v1.Nope"));
	assert_int_equal(xr_pbjson_method(P, "pbjt.v1.T/Nope", &in, &out, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "service pbjt.v1.T in the descriptor set "
	    "has no method \"Nope\"");
	assert_int_equal(xr_pbjson_method(P, "pbjt.v1.X/Do", &in, &out, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "service \"pbjt.v1.X\" is not in the "
	    "descriptor set");
	assert_int_equal(xr_pbjson_method(P, "pbjt.v1.T", &in, &out, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "method \"pbjt.v1.T\" is not of the form "
	    "package.Service/Method");
	assert_int_equal(xr_pbjson_method(P, "pbjt.v1.T/Watch", &in, &out, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "method \"pbjt.v1.T/Watch\" is streaming; "
	    "calls are unary");
	/* not a descriptor set */
	assert_null(xr_pbjson_new(junk, sizeof(junk), &d));
	assert_int_equal(d.code, XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "not a descriptor set (make one with "
	    "protoc --descriptor_set_out=FILE --include_imports)");
	/* without --include_imports: the imported types are missing */
	b = read_all(noimports_path, &len);
	assert_null(xr_pbjson_new(b, len, &d));
	free(b);
	assert_int_equal(d.code, XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "descriptor set: field nothing of "
	    "pbjt.v1.All refers to google.protobuf.Empty, which is not in the "
	    "set (protoc --include_imports)");
	xr_pbjson_free(NULL);
}

/* ---- JSON -> bytes ---- */

static void
test_pbjson_encode_scalars(void **state)
{
	(void)state;
	enc_ok(ALL, "{}", "");
	enc_ok(ALL, "{\"i32\":-1}", "08ffffffffffffffffff01");
	enc_ok(ALL, "{\"i32\":\"7\"}", "0807");
	enc_ok(ALL, "{\"i32\":1e2}", "0864");
	enc_ok(ALL, "{\"i32\":2147483647}", "08ffffffff07");
	enc_ok(ALL, "{\"i64\":\"-2\"}", "10feffffffffffffffff01");
	enc_ok(ALL, "{\"i64\":5}", "1005");
	enc_ok(ALL, "{\"i64\":\"9223372036854775807\"}",
	    "10ffffffffffffffff7f");
	enc_ok(ALL, "{\"u32\":4294967295}", "18ffffffff0f");
	enc_ok(ALL, "{\"u64\":\"18446744073709551615\"}",
	    "20ffffffffffffffffff01");
	enc_ok(ALL, "{\"s32\":-1}", "2801");
	enc_ok(ALL, "{\"s32\":1}", "2802");
	enc_ok(ALL, "{\"s32\":-2147483648}", "28ffffffff0f");
	enc_ok(ALL, "{\"s64\":\"-3\"}", "3005");
	enc_ok(ALL, "{\"f32\":1}", "3d01000000");
	enc_ok(ALL, "{\"f64\":\"1\"}", "410100000000000000");
	enc_ok(ALL, "{\"sf32\":-2}", "4dfeffffff");
	enc_ok(ALL, "{\"sf64\":-2}", "51feffffffffffffff");
	enc_ok(ALL, "{\"fl\":1.5}", "5d0000c03f");
	enc_ok(ALL, "{\"fl\":0.1}", "5dcdcccc3d");
	enc_ok(ALL, "{\"db\":0.1}", "619a9999999999b93f");
	enc_ok(ALL, "{\"db\":\"NaN\"}", "61000000000000f87f");
	enc_ok(ALL, "{\"db\":\"Infinity\"}", "61000000000000f07f");
	enc_ok(ALL, "{\"db\":\"-Infinity\"}", "61000000000000f0ff");
	enc_ok(ALL, "{\"db\":-0.0}", "610000000000000080");
	enc_ok(ALL, "{\"b\":true}", "6801");
	enc_ok(ALL, "{\"s\":\"h\\u00e9\"}", "720368c3a9");
}

static void
test_pbjson_encode_structure(void **state)
{
	char deep[2048];
	size_t o = 0;
	xr_diag d = { 0 };
	uint8_t *out = NULL;
	size_t n = 0;

	(void)state;
	/* bytes: standard and URL-safe alphabets, with or without padding */
	enc_ok(ALL, "{\"by\":\"AQID\"}", "7a03010203");
	enc_ok(ALL, "{\"by\":\"AQI=\"}", "7a020102");
	enc_ok(ALL, "{\"by\":\"AQI\"}", "7a020102");
	enc_ok(ALL, "{\"by\":\"+/8=\"}", "7a02fbff");
	enc_ok(ALL, "{\"by\":\"-_8\"}", "7a02fbff");
	/* enums by name or number */
	enc_ok(ALL, "{\"color\":\"COLOR_BLUE\"}", "800102");
	enc_ok(ALL, "{\"color\":\"COLOR_NEG\"}", "8001ffffffffffffffffff01");
	enc_ok(ALL, "{\"color\":7}", "800107");
	/* nested messages, also empty ones (they have presence) */
	enc_ok(ALL, "{\"inner\":{\"name\":\"a\",\"n\":2}}", "8a01050a01611002");
	enc_ok(ALL, "{\"inner\":{}}", "8a0100");
	enc_ok(ALL, "{\"inner\":{\"child\":{\"child\":{}}}}", "8a01041a021a00");
	enc_ok(ALL, "{\"nothing\":{}}", "e20100");
	/* repeated: packed by default in proto3, not with [packed = false] */
	enc_ok(ALL, "{\"ri32\":[1,2,300]}", "9201040102ac02");
	enc_ok(ALL, "{\"rs\":[\"a\",\"\"]}", "9a0101619a0100");
	enc_ok(ALL, "{\"rinner\":[{},{\"n\":1}]}", "a20100a201021001");
	enc_ok(ALL, "{\"rcolor\":[\"COLOR_RED\",7]}", "aa01020107");
	enc_ok(ALL, "{\"unpacked\":[1,2]}", "b00101b00102");
	enc_ok(ALL, "{\"rdb\":[1]}", "da0108000000000000f03f");
	enc_ok(ALL, "{\"ri32\":[]}", "");
	/* presence: oneof members and proto3 optional, even at default */
	enc_ok(ALL, "{\"oText\":\"\"}", "ba0100");
	enc_ok(ALL, "{\"oNum\":0}", "c00100");
	enc_ok(ALL, "{\"oText\":\"a\",\"oNum\":null}", "ba010161");
	enc_ok(ALL, "{\"opt\":0}", "c80100");
	/* both names of a field */
	enc_ok(ALL, "{\"snake_case_name\":\"x\"}", "d2010178");
	enc_ok(ALL, "{\"snakeCaseName\":\"x\"}", "d2010178");
	/* field-number order, whatever the JSON order */
	enc_ok(ALL, "{\"b\":true,\"i32\":1}", "08016801");
	/* defaults and nulls are left out */
	enc_ok(ALL, "{\"i32\":0,\"i64\":\"0\",\"s\":\"\",\"b\":false,"
	    "\"color\":\"COLOR_UNSPECIFIED\",\"db\":0,\"fl\":0.0,\"by\":\"\","
	    "\"ri32\":[],\"inner\":null,\"u64\":null}", "");
	enc_ok(ALL, "{\"i64\":\"-9223372036854775808\"}",
	    "1080808080808080808001");
	/* proto2: presence for every optional field; packed only if asked */
	enc_ok(P2, "{\"a\":0}", "0800");
	enc_ok(P2, "{\"r\":[1,2]}", "10011002");
	enc_ok(P2, "{\"rp\":[1,2]}", "1a020102");
	/* nesting past XR_PBJSON_MAX_DEPTH */
	o += (size_t)snprintf(deep + o, sizeof(deep) - o, "{\"inner\":");
	for (int i = 0; i < 70; i++)
		o += (size_t)snprintf(deep + o, sizeof(deep) - o,
		    "{\"child\":");
	o += (size_t)snprintf(deep + o, sizeof(deep) - o, "{}");
	for (int i = 0; i < 70; i++)	/* the childs' */
		deep[o++] = '}';
	deep[o++] = '}';		/* the top object's */
	deep[o] = '\0';
	assert_int_equal(xr_pbjson_encode(P, ALL, deep, o, &out, &n, &d),
	    XR_ERR_INVALID_ARG);
	assert_null(out);
	/* the path's last 77 bytes: 13 times "child" */
	assert_string_equal(d.reason, "field \"...child.child.child.child."
	    "child.child.child.child.child.child.child.child.child\" of "
	    "pbjt.v1.Inner: nested deeper than 64");
}

static void
test_pbjson_encode_refusals(void **state)
{
	xr_diag d = { 0 };
	uint8_t *out = NULL;
	size_t n = 0;

	(void)state;
	/* not JSON, or not an object */
	assert_int_equal(xr_pbjson_encode(P, ALL, "{", 1, &out, &n, &d),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(strncmp(d.reason, "not valid JSON: ", 16), 0);
	assert_non_null(strstr(d.reason, "(line 1, column 1)"));
	assert_int_equal(xr_pbjson_encode(P, ALL, "{\"i32\":1,\"i32\":2}", 17,
	    &out, &n, &d), XR_ERR_INVALID_ARG);
	assert_int_equal(strncmp(d.reason, "not valid JSON: duplicate object "
	    "key", 34), 0);
	assert_int_equal(xr_pbjson_encode(P, ALL, "{} x", 4, &out, &n, &d),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(strncmp(d.reason, "not valid JSON: ", 16), 0);
	enc_fail(ALL, "[]", "expected a JSON object for pbjt.v1.All, got an "
	    "array");
	enc_fail(ALL, "\"x\"", "expected a JSON object for pbjt.v1.All, got a "
	    "string");
	/* unknown and repeated fields */
	enc_fail(ALL, "{\"zz\":1}", "unknown field \"zz\" in pbjt.v1.All");
	enc_fail(ALL, "{\"inner\":{\"zz\":1}}", "unknown field \"inner.zz\" in "
	    "pbjt.v1.Inner");
	enc_fail(ALL, "{\"I32\":1}", "unknown field \"I32\" in pbjt.v1.All");
	enc_fail(ALL, "{\"snakeCaseName\":\"a\",\"snake_case_name\":\"b\"}",
	    "field \"snakeCaseName\" of pbjt.v1.All given twice");
	enc_fail(ALL, "{\"oText\":\"a\",\"oNum\":1}", "fields \"oText\" and "
	    "\"oNum\" of pbjt.v1.All are members of one oneof");
	/* wrong JSON types */
	enc_fail(ALL, "{\"i32\":\"x\"}", "field \"i32\" of pbjt.v1.All: \"x\" "
	    "is not an integer");
	enc_fail(ALL, "{\"i32\":\"\"}", "field \"i32\" of pbjt.v1.All: \"\" is "
	    "not an integer");
	enc_fail(ALL, "{\"i32\":\" 1\"}", "field \"i32\" of pbjt.v1.All: \" 1\" "
	    "is not an integer");
	enc_fail(ALL, "{\"i32\":true}", "field \"i32\" of pbjt.v1.All: expected "
	    "an integer, got a boolean");
	enc_fail(ALL, "{\"u64\":{}}", "field \"u64\" of pbjt.v1.All: expected "
	    "an integer, got an object");
	enc_fail(ALL, "{\"s\":1}", "field \"s\" of pbjt.v1.All: expected a "
	    "string, got an integer");
	enc_fail(ALL, "{\"b\":1}", "field \"b\" of pbjt.v1.All: expected true "
	    "or false, got an integer");
	enc_fail(ALL, "{\"b\":\"true\"}", "field \"b\" of pbjt.v1.All: expected "
	    "true or false, got a string");
	enc_fail(ALL, "{\"db\":\"x\"}", "field \"db\" of pbjt.v1.All: \"x\" is "
	    "not a number");
	enc_fail(ALL, "{\"db\":[]}", "field \"db\" of pbjt.v1.All: expected a "
	    "number, got an array");
	enc_fail(ALL, "{\"inner\":1}", "field \"inner\" of pbjt.v1.All: "
	    "expected an object, got an integer");
	enc_fail(ALL, "{\"by\":5}", "field \"by\" of pbjt.v1.All: expected a "
	    "base64 string, got an integer");
	enc_fail(ALL, "{\"ri32\":1}", "field \"ri32\" of pbjt.v1.All: expected "
	    "an array, got an integer");
	enc_fail(ALL, "{\"rs\":[\"a\",null]}", "field \"rs[1]\" of pbjt.v1.All: "
	    "null in an array");
	enc_fail(ALL, "{\"ri32\":[1,\"x\"]}", "field \"ri32[1]\" of "
	    "pbjt.v1.All: \"x\" is not an integer");
	enc_fail(ALL, "{\"rinner\":[{\"n\":\"x\"}]}", "field \"rinner[0].n\" of "
	    "pbjt.v1.Inner: \"x\" is not an integer");
	/* out of range */
	enc_fail(ALL, "{\"i32\":2147483648}", "field \"i32\" of pbjt.v1.All: "
	    "2147483648 is out of range");
	enc_fail(ALL, "{\"i32\":-2147483649}", "field \"i32\" of pbjt.v1.All: "
	    "-2147483649 is out of range");
	enc_fail(ALL, "{\"i32\":1.5}", "field \"i32\" of pbjt.v1.All: 1.5 is not "
	    "an integer in range");
	enc_fail(ALL, "{\"u32\":-1}", "field \"u32\" of pbjt.v1.All: -1 is out "
	    "of range");
	enc_fail(ALL, "{\"u32\":\"4294967296\"}", "field \"u32\" of "
	    "pbjt.v1.All: \"4294967296\" is out of range");
	enc_fail(ALL, "{\"u64\":\"-1\"}", "field \"u64\" of pbjt.v1.All: \"-1\" "
	    "is out of range");
	enc_fail(ALL, "{\"u64\":\"18446744073709551616\"}", "field \"u64\" of "
	    "pbjt.v1.All: \"18446744073709551616\" is out of range");
	enc_fail(ALL, "{\"i64\":\"9223372036854775808\"}", "field \"i64\" of "
	    "pbjt.v1.All: \"9223372036854775808\" is out of range");
	enc_fail(ALL, "{\"i64\":\"-9223372036854775809\"}", "field \"i64\" of "
	    "pbjt.v1.All: \"-9223372036854775809\" is out of range");
	enc_fail(ALL, "{\"fl\":1e39}", "field \"fl\" of pbjt.v1.All: 1e+39 is "
	    "out of range for float");
	/* enums, base64 */
	enc_fail(ALL, "{\"color\":\"PURPLE\"}", "field \"color\" of pbjt.v1.All: "
	    "\"PURPLE\" is not a value of enum pbjt.v1.Color");
	enc_fail(ALL, "{\"color\":2147483648}", "field \"color\" of "
	    "pbjt.v1.All: 2147483648 is out of range");
	enc_fail(ALL, "{\"by\":\"@@@@\"}", "field \"by\" of pbjt.v1.All: not "
	    "valid base64");
	enc_fail(ALL, "{\"by\":\"A\"}", "field \"by\" of pbjt.v1.All: not valid "
	    "base64");
	enc_fail(ALL, "{\"by\":\"AQ=I\"}", "field \"by\" of pbjt.v1.All: not "
	    "valid base64");
	enc_fail(ALL, "{\"by\":\"AQI==\"}", "field \"by\" of pbjt.v1.All: not "
	    "valid base64");
	/* what the converter does not support */
	enc_fail(UNSUP, "{\"m\":{}}", "field m of pbjt.v1.Unsupported is a map: "
	    "not supported");
	enc_fail(UNSUP, "{\"ts\":\"2020-01-01T00:00:00Z\"}", "field ts of "
	    "pbjt.v1.Unsupported is a google.protobuf.Timestamp, whose special "
	    "JSON form is not supported");
	enc_fail(P2, "{\"g\":{}}", "field g of pbjt.v2.P2 is a group: not "
	    "supported");
}

/* ---- bytes -> JSON ---- */

/* Every supported shape at once; field-number order. */
static const char every[] =
    "{\"i32\":-1,\"i64\":\"-2\",\"u32\":4294967295,"
    "\"u64\":\"18446744073709551615\",\"s32\":-1,\"s64\":\"-3\",\"f32\":1,"
    "\"f64\":\"1\",\"sf32\":-2,\"sf64\":\"-2\",\"fl\":0.1,\"db\":0.1,"
    "\"b\":true,\"s\":\"h\xc3\xa9\",\"by\":\"AQID\",\"color\":\"COLOR_BLUE\","
    "\"inner\":{\"name\":\"a\",\"n\":2,\"child\":{\"n\":3}},"
    "\"ri32\":[1,2,300],\"rs\":[\"a\",\"\"],\"rinner\":[{},{\"n\":1}],"
    "\"rcolor\":[\"COLOR_RED\",7],\"unpacked\":[1,2],\"oText\":\"\","
    "\"opt\":0,\"snakeCaseName\":\"x\","
    "\"rdb\":[\"NaN\",\"Infinity\",\"-Infinity\",1e+300,-2.5],"
    "\"nothing\":{}}";

static uint8_t *
encode_every(size_t *n)
{
	xr_diag d = { 0 };
	uint8_t *b = NULL;

	if (xr_pbjson_encode(P, ALL, every, strlen(every), &b, n, &d) != XR_OK)
		fail_msg("encode: %s", d.reason);
	return b;
}

static void
test_pbjson_decode_exact(void **state)
{
	xr_diag d = { 0 };
	uint8_t *b;
	size_t n;
	char *json = NULL;

	(void)state;
	/* the round trip of every shape */
	b = encode_every(&n);
	assert_int_equal(xr_pbjson_decode(P, ALL, b, n, &json, &d), XR_OK);
	assert_string_equal(json, every);
	free(json);
	free(b);
	/* nothing, defaults: {} */
	dec_ok(ALL, "", "{}");
	assert_int_equal(xr_pbjson_decode(P, ALL, NULL, 0, &json, &d), XR_OK);
	assert_string_equal(json, "{}");
	free(json);
	dec_ok(ALL, "0800", "{}");
	dec_ok(ALL, "08011002", "{\"i32\":1,\"i64\":\"2\"}");
	/* presence */
	dec_ok(ALL, "ba0100", "{\"oText\":\"\"}");
	dec_ok(ALL, "c80100", "{\"opt\":0}");
	dec_ok(P2, "0800", "{\"a\":0}");
	/* the last value wins, also a default; messages merge */
	dec_ok(ALL, "08010802", "{\"i32\":2}");
	dec_ok(ALL, "7201617200", "{}");
	dec_ok(ALL, "8a01030a01618a01021005",
	    "{\"inner\":{\"name\":\"a\",\"n\":5}}");
	dec_ok(ALL, "8a01041a0210018a01051a030a0162",
	    "{\"inner\":{\"child\":{\"name\":\"b\",\"n\":1}}}");
	/* packed or not, whatever the field's declaration */
	dec_ok(ALL, "900101900102", "{\"ri32\":[1,2]}");
	dec_ok(ALL, "b201020102", "{\"unpacked\":[1,2]}");
	dec_ok(ALL, "92010101900102", "{\"ri32\":[1,2]}");
	dec_ok(ALL, "920100", "{}");
	/* unknown fields of every wire type are skipped */
	dec_ok(ALL, "9806019a060261629d0601020304990601020304050607080805",
	    "{\"i32\":5}");
}

static void
test_pbjson_decode_values(void **state)
{
	(void)state;
	dec_ok(ALL, "800107", "{\"color\":7}");
	dec_ok(ALL, "8001ffffffffffffffffff01", "{\"color\":\"COLOR_NEG\"}");
	dec_ok(ALL, "5dcdcccc3d", "{\"fl\":0.1}");
	dec_ok(ALL, "5dabaaaa3e", "{\"fl\":0.33333334}");
	dec_ok(ALL, "5d0000807f", "{\"fl\":\"Infinity\"}");
	dec_ok(ALL, "610000000000000080", "{\"db\":-0}");
	dec_ok(ALL, "61000000000000f03f", "{\"db\":1}");
	dec_ok(ALL, "7a020102", "{\"by\":\"AQI=\"}");
	dec_ok(ALL, "7a01ff", "{\"by\":\"/w==\"}");
	dec_ok(ALL, "7a0100", "{\"by\":\"AA==\"}");
	dec_ok(ALL, "7203220a5c", "{\"s\":\"\\\"\\u000a\\\\\"}");
	dec_ok(ALL, "72026100", "{\"s\":\"a\\u0000\"}");
	dec_ok(ALL, "2801", "{\"s32\":-1}");
	dec_ok(ALL, "30ffffffffffffffffff01",
	    "{\"s64\":\"-9223372036854775808\"}");
	dec_ok(ALL, "4d00000080", "{\"sf32\":-2147483648}");
	dec_ok(ALL, "18ffffffff0f", "{\"u32\":4294967295}");
	dec_ok(ALL, "6802", "{\"b\":true}");
}

static void
test_pbjson_decode_hostile(void **state)
{
	char deep[1024], hex[8];
	size_t len = 0;

	(void)state;
	dec_fail(ALL, "7201ff", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field s: not valid UTF-8");
	dec_fail(ALL, "0d00000000", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field i32: wire type 5, expected 0");
	dec_fail(ALL, "880100", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field inner: wire type 0, expected 2");
	dec_fail(ALL, "00", XR_ERR_MALFORMED, "does not decode as pbjt.v1.All: "
	    "field number 0");
	dec_fail(ALL, "80", XR_ERR_MALFORMED, "does not decode as pbjt.v1.All: "
	    "truncated tag at byte 1");
	dec_fail(ALL, "08", XR_ERR_MALFORMED, "does not decode as pbjt.v1.All: "
	    "field 1: truncated or bad wire type 0");
	dec_fail(ALL, "08ffffffffffffffffff7f", XR_ERR_MALFORMED, "does not "
	    "decode as pbjt.v1.All: field 1: truncated or bad wire type 0");
	dec_fail(ALL, "08ffffffffffffffffffff01", XR_ERR_MALFORMED, "does not "
	    "decode as pbjt.v1.All: field 1: truncated or bad wire type 0");
	dec_fail(ALL, "720561", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field 14: truncated or bad wire type 2");
	dec_fail(ALL, "72ffffffff0f61", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field 14: truncated or bad wire type 2");
	dec_fail(ALL, "1b", XR_ERR_MALFORMED, "does not decode as pbjt.v1.All: "
	    "field 3: truncated or bad wire type 3");
	dec_fail(ALL, "0e", XR_ERR_MALFORMED, "does not decode as pbjt.v1.All: "
	    "field 1: truncated or bad wire type 6");
	dec_fail(ALL, "6100", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field 12: truncated or bad wire type 1");
	dec_fail(ALL, "920103010280", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field ri32: truncated packed value");
	dec_fail(ALL, "da010700000000000000", XR_ERR_MALFORMED, "does not "
	    "decode as pbjt.v1.All: field rdb: truncated packed value");
	dec_fail(ALL, "8a01020a01", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.Inner: field 1: truncated or bad wire type 2");
	dec_fail(ALL, "808080801001", XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.All: field number 536870912");
	dec_fail(UNSUP, "0a00", XR_ERR_INVALID_ARG, "field m of "
	    "pbjt.v1.Unsupported is a map: not supported");
	dec_fail(UNSUP, "1200", XR_ERR_INVALID_ARG, "field ts of "
	    "pbjt.v1.Unsupported is a google.protobuf.Timestamp, whose special "
	    "JSON form is not supported");
	/* nested 70 deep: All.inner, then Inner.child, each empty inside;
	 * built from the inside out, lengths as varints */
	{
		uint8_t b[512], t[512];
		size_t n = 0;

		for (int i = 0; i <= 70; i++) {
			size_t h = 0;

			t[h++] = i < 70 ? 0x1a : 0x8a;	/* child, or inner */
			if (i == 70)
				t[h++] = 0x01;
			for (size_t v = n; ; v >>= 7) {
				t[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ?
				    0x80 : 0));
				if (v <= 0x7f)
					break;
			}
			memcpy(t + h, b, n);
			memcpy(b, t, h + n);
			n += h;
		}
		assert_true(n * 2 < sizeof(deep));
		for (size_t i = 0; i < n; i++) {
			snprintf(hex, sizeof(hex), "%02x", b[i]);
			memcpy(deep + len, hex, 2);
			len += 2;
		}
		deep[len] = '\0';
	}
	dec_fail(ALL, deep, XR_ERR_MALFORMED, "does not decode as "
	    "pbjt.v1.Inner: nested deeper than 64");
}

/* The top-level field boundaries of `b` (a second, independent walk). */
static size_t
boundaries(const uint8_t *b, size_t n, size_t *at, size_t cap)
{
	size_t pos = 0, k = 0;

	at[k++] = 0;
	while (pos < n && k < cap) {
		uint64_t tag = 0, len = 0;
		int sh = 0;

		do
			tag |= (uint64_t)(b[pos] & 0x7f) << sh, sh += 7;
		while (b[pos++] & 0x80);
		switch (tag & 7) {
		case 0:
			while (b[pos++] & 0x80)
				;
			break;
		case 1:
			pos += 8;
			break;
		case 5:
			pos += 4;
			break;
		case 2:
			sh = 0;
			do
				len |= (uint64_t)(b[pos] & 0x7f) << sh, sh += 7;
			while (b[pos++] & 0x80);
			pos += (size_t)len;
			break;
		default:
			fail_msg("wire type %d", (int)(tag & 7));
		}
		at[k++] = pos;
	}
	assert_int_equal(pos, n);
	return k;
}

/* Every truncation of a valid message: a cut at a field boundary decodes,
 * any other ends in MALFORMED; every byte of it flipped, and random
 * bytes: OK or MALFORMED, nothing else (and nothing ASan sees). */
static void
test_pbjson_decode_truncations_and_flips(void **state)
{
	size_t n, at[128], nat, ok = 0;
	uint8_t *b = encode_every(&n), *x;
	unsigned seed = 12345;

	(void)state;
	nat = boundaries(b, n, at, 128);
	assert_int_equal(nat, 31);	/* 30 records: rs, rinner, unpacked 2 each */
	for (size_t k = 0; k <= n; k++) {
		xr_diag d = { 0 };
		char *json = NULL;
		bool boundary = false;
		int r;

		/* a copy of exactly k bytes: ASan sees any read past it */
		assert_non_null(x = malloc(k + 1));
		memcpy(x, b, k);
		r = xr_pbjson_decode(P, ALL, x, k, &json, &d);
		for (size_t i = 0; i < nat; i++)
			boundary |= at[i] == k;
		if (boundary) {
			if (r != XR_OK)
				fail_msg("cut at %zu: %s", k, d.reason);
			ok++;
		} else {
			if (r != XR_ERR_MALFORMED)
				fail_msg("cut at %zu: %d", k, r);
			assert_null(json);
			assert_int_equal(strncmp(d.reason, "does not decode as "
			    "pbjt.v1.", 27), 0);
		}
		free(json);
		free(x);
	}
	assert_int_equal(ok, nat);
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			xr_diag d = { 0 };
			char *json = NULL;
			int r;

			assert_non_null(x = malloc(n));
			memcpy(x, b, n);
			x[i] ^= (uint8_t)(1u << bit);
			r = xr_pbjson_decode(P, ALL, x, n, &json, &d);
			assert_true(r == XR_OK || r == XR_ERR_MALFORMED);
			assert_true((r == XR_OK) == (json != NULL));
			free(json);
			free(x);
		}
	for (int round = 0; round < 2000; round++) {
		uint8_t rnd[64];
		size_t len = (size_t)(rand_r(&seed) % (int)sizeof(rnd));
		xr_diag d = { 0 };
		char *json = NULL;
		int r;

		for (size_t i = 0; i < len; i++)
			rnd[i] = (uint8_t)rand_r(&seed);
		r = xr_pbjson_decode(P, ALL, rnd, len, &json, &d);
		assert_true(r == XR_OK || r == XR_ERR_MALFORMED);
		free(json);
	}
	free(b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pbjson_set_and_methods),
		cmocka_unit_test(test_pbjson_encode_scalars),
		cmocka_unit_test(test_pbjson_encode_structure),
		cmocka_unit_test(test_pbjson_encode_refusals),
		cmocka_unit_test(test_pbjson_decode_exact),
		cmocka_unit_test(test_pbjson_decode_values),
		cmocka_unit_test(test_pbjson_decode_hostile),
		cmocka_unit_test(test_pbjson_decode_truncations_and_flips),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s PROTOSET PROTOSET_NO_IMPORTS\n",
		    argv[0]);
		return 2;
	}
	set_path = argv[1];
	noimports_path = argv[2];
	return cmocka_run_group_tests(tests, setup, teardown);
}
