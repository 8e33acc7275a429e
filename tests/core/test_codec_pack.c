/*
 * tests/core/test_codec_pack.c — xr_codec_pack() and xr_codec_packed_size()
 * against protobuf-c's own execrpc__v1__envelope__pack() and
 * __get_packed_size().
 *
 * Proves: on 5,000 random envelopes (every field present or left at its
 * default, empty and NULL strings, bytes of any length, up to eight headers,
 * a status or none, negative enum values, 64-bit numbers of every varint
 * length) both give exactly protobuf-c's bytes and size; an envelope whose
 * status carries unknown fields is still packed exactly (protobuf-c does it);
 * a sealed frame holds those bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "frame.h"
#include "helper_wire.h"
#include "../xr_xorshift.h"

/* xorshift64*: a fixed sequence, so a failure reproduces */
static uint64_t rs = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	return xr_xorshift(&rs);
}

/* A number of a random varint length (0 one time in four). */
static uint64_t
rnd_num(void)
{
	unsigned bits = (unsigned)(rnd() % 65);

	if (rnd() % 4 == 0)
		return 0;
	return bits == 64 ? rnd() : rnd() & ((1ULL << bits) - 1);
}

struct env_buf {
	Execrpc__V1__Envelope e;
	Execrpc__V1__Header h[8], *hp[8];
	Execrpc__V1__Status st;
	uint8_t bytes[5][64];
	char str[3][130];
	char hstr[8][2][70];
	char stmsg[260];
};

static void
rnd_bytes(ProtobufCBinaryData *b, uint8_t *buf, size_t cap)
{
	b->len = rnd() % 3 == 0 ? 0 : (size_t)(rnd() % cap);
	for (size_t i = 0; i < b->len; i++)
		buf[i] = (uint8_t)rnd();
	b->data = b->len == 0 && rnd() % 2 ? NULL : buf;
}

/* NULL, "" or up to cap - 1 random non-NUL bytes. */
static char *
rnd_str(char *buf, size_t cap)
{
	size_t n;

	switch (rnd() % 4) {
	case 0:
		return NULL;
	case 1:
		buf[0] = '\0';
		return buf;
	default:
		n = (size_t)(rnd() % cap);
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(1 + rnd() % 255);
		buf[n] = '\0';
		return buf;
	}
}

/* An enum value: zero, a small one or (one time in eight) a negative. */
static int
rnd_enum(void)
{
	if (rnd() % 8 == 0)
		return -(int)(1 + rnd() % 1000);
	return (int)(rnd() % 12);
}

static void
rnd_env(struct env_buf *b)
{
	Execrpc__V1__Envelope *e = &b->e;

	execrpc__v1__envelope__init(e);
	e->version = (uint32_t)rnd_num();
	e->kind = (Execrpc__V1__Kind)rnd_enum();
	rnd_bytes(&e->nonce, b->bytes[0], 64);
	e->ts_ms = rnd_num();
	rnd_bytes(&e->session_id, b->bytes[1], 64);
	e->sequence = rnd_num();
	rnd_bytes(&e->ack_nonce, b->bytes[2], 64);
	rnd_bytes(&e->trace_id, b->bytes[3], 64);
	e->reply_to = rnd_str(b->str[0], 64);
	e->target = rnd_str(b->str[1], 64);
	e->n_headers = (size_t)(rnd() % 9);
	for (size_t i = 0; i < e->n_headers; i++) {
		execrpc__v1__header__init(&b->h[i]);
		b->h[i].key = rnd_str(b->hstr[i][0], 64);
		b->h[i].value = rnd_str(b->hstr[i][1], 70);
		b->hp[i] = &b->h[i];
	}
	e->headers = e->n_headers > 0 ? b->hp : NULL;
	e->call_id = rnd_num();
	e->method = rnd_str(b->str[2], 130);
	e->timeout_ms = (uint32_t)rnd_num();
	if (rnd() % 2) {
		execrpc__v1__status__init(&b->st);
		b->st.code = (Execrpc__V1__StatusCode)rnd_enum();
		b->st.message = rnd_str(b->stmsg, 260);
		e->status = &b->st;
	}
	rnd_bytes(&e->payload, b->bytes[4], 64);
}

static void
check_equal(const Execrpc__V1__Envelope *e)
{
	static uint8_t want[8192], got[8192];
	size_t n = execrpc__v1__envelope__get_packed_size(e);

	assert_true(n <= sizeof(want));
	assert_int_equal(execrpc__v1__envelope__pack(e, want), n);
	assert_int_equal(xr_codec_packed_size(e), n);
	memset(got, 0xA5, sizeof(got));
	assert_int_equal(xr_codec_pack(e, got), n);
	assert_memory_equal(got, want, n);
	assert_int_equal(got[n], 0xA5);	/* nothing past the end */
}

static void
test_random_envelopes(void **state)
{
	struct env_buf *b = calloc(1, sizeof(*b));
	size_t with_status = 0, with_headers = 0, negative = 0;

	(void)state;
	assert_non_null(b);
	for (int i = 0; i < 5000; i++) {
		rnd_env(b);
		check_equal(&b->e);
		with_status += b->e.status != NULL;
		with_headers += b->e.n_headers > 0;
		negative += (int)b->e.kind < 0;
	}
	/* the sample covers what it claims to */
	assert_true(with_status > 2000);
	assert_true(with_headers > 3500);
	assert_true(negative > 300);
	free(b);
}

/* Every field at its default: nothing at all. */
static void
test_empty_envelope(void **state)
{
	Execrpc__V1__Envelope e;
	uint8_t out[4] = { 0xA5, 0xA5, 0xA5, 0xA5 };

	(void)state;
	execrpc__v1__envelope__init(&e);
	assert_int_equal(xr_codec_packed_size(&e), 0);
	assert_int_equal(xr_codec_pack(&e, out), 0);
	assert_int_equal(out[0], 0xA5);
}

/* A status with unknown fields (as a decoded one may carry) is left to
 * protobuf-c, which writes them after the known ones. */
static void
test_unknown_fields(void **state)
{
	struct env_buf *b = calloc(1, sizeof(*b));
	uint8_t extra[3] = { 0x18, 0x07, 0x00 };	/* field 3, varint 7 */
	ProtobufCMessageUnknownField uf;

	(void)state;
	assert_non_null(b);
	rnd_env(b);
	execrpc__v1__status__init(&b->st);
	b->st.code = EXECRPC__V1__STATUS_CODE__STATUS_INTERNAL;
	b->e.status = &b->st;
	uf.tag = 3;
	uf.wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
	uf.len = 1;
	uf.data = extra + 1;
	b->st.base.n_unknown_fields = 1;
	b->st.base.unknown_fields = &uf;
	check_equal(&b->e);
	free(b);
}

/* xr_codec_seal() frames exactly the packed bytes. */
static void
test_seal_holds_packed(void **state)
{
	struct env_buf *b = calloc(1, sizeof(*b));
	uint8_t out[8192], want[8192], hdr[XR_FRAME_HEADER_MAX];
	xr_auth *a = tw_auth(XR_KDF_NONE);
	size_t len, n;

	(void)state;
	assert_non_null(b);
	assert_non_null(a);
	for (int i = 0; i < 200; i++) {
		rnd_env(b);
		n = execrpc__v1__envelope__pack(&b->e, want);
		assert_int_equal(xr_codec_seal(a, XR_DIR_EXEC_TO_WEB, &b->e, out,
		    sizeof(out), &len), XR_OK);
		assert_int_equal(len, xr_codec_sealed_len(&b->e));
		assert_int_equal(len, xr_frame_wire_len(n));
		assert_memory_equal(out + xr_frame_header(hdr, n), want, n);
	}
	xr_auth_free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_envelopes),
		cmocka_unit_test(test_empty_envelope),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_seal_holds_packed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
