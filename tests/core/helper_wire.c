/* tests/core/helper_wire.c — see helper_wire.h. */
#include "helper_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

const uint8_t tw_master[XR_MASTER_LEN] = {
	0x5e, 0x1f, 0x33, 0xa4, 0x07, 0xc2, 0x91, 0x6d,
	0x28, 0xbb, 0x4e, 0x10, 0xf5, 0x83, 0x6a, 0x9c,
	0x3d, 0x72, 0xe8, 0x01, 0xb6, 0x4f, 0x29, 0xd7,
	0x60, 0x1a, 0xce, 0x95, 0x3b, 0x84, 0x0f, 0xe2,
};

void
tw_keyset(xr_keyset *ks, xr_kdf kdf)
{
	assert_int_equal(xr_keys_derive(tw_master, sizeof(tw_master), kdf, ks),
	    XR_OK);
}

xr_auth *
tw_auth(xr_kdf kdf)
{
	return tw_auth_other(kdf, 0);
}

xr_auth *
tw_auth_other(xr_kdf kdf, uint8_t x)
{
	uint8_t m[XR_MASTER_LEN];
	xr_keyset ks;
	xr_auth *a;

	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = tw_master[i] ^ x;
	assert_int_equal(xr_keys_derive(m, sizeof(m), kdf, &ks), XR_OK);
	a = xr_auth_new(&ks);
	xr_keyset_wipe(&ks);
	xr_wipe(m, sizeof(m));
	assert_non_null(a);
	return a;
}

void
tw_env_init(tw_env *e, uint32_t kind, uint64_t ts_ms, const uint8_t *session,
    uint64_t seq, const uint8_t *payload, size_t payload_len)
{
	memset(e, 0, sizeof(*e));
	assert_int_equal(xr_codec_env_init(&e->env, kind, e->nonce), XR_OK);
	e->env.ts_ms = ts_ms;
	if (session != NULL) {
		memcpy(e->session, session, XR_SESSION_ID_LEN);
		e->env.session_id.data = e->session;
		e->env.session_id.len = XR_SESSION_ID_LEN;
		e->env.sequence = seq;
	}
	if (payload != NULL) {
		e->env.payload.data = (uint8_t *)payload;
		e->env.payload.len = payload_len;
	}
}

uint8_t *
tw_seal(xr_auth *a, xr_dir d, const Execrpc__V1__Envelope *env,
    size_t *body_len)
{
	size_t cap = xr_codec_sealed_len(env), len = 0;
	uint8_t *wire = malloc(cap), *body;

	assert_non_null(wire);
	assert_int_equal(xr_codec_seal(a, d, env, wire, cap, &len), XR_OK);
	assert_int_equal(len, cap);
	assert_int_equal(xr_frame_get_len(wire), len - XR_FRAME_PREFIX_LEN);
	body = tw_dup(wire + XR_FRAME_PREFIX_LEN, len - XR_FRAME_PREFIX_LEN);
	free(wire);
	*body_len = len - XR_FRAME_PREFIX_LEN;
	return body;
}

uint8_t *
tw_frame(xr_auth *a, xr_dir d, uint32_t kind, uint64_t ts_ms,
    const uint8_t *session, uint64_t seq, const uint8_t *payload,
    size_t payload_len, size_t *body_len, uint8_t nonce_out[XR_NONCE_LEN])
{
	tw_env e;

	tw_env_init(&e, kind, ts_ms, session, seq, payload, payload_len);
	if (nonce_out != NULL)
		memcpy(nonce_out, e.nonce, XR_NONCE_LEN);
	return tw_seal(a, d, &e.env, body_len);
}

uint8_t *
tw_seal_raw(xr_auth *a, xr_dir d, const uint8_t *env, size_t env_len,
    size_t *body_len)
{
	uint8_t tag[XR_TAG_LEN];

	assert_int_equal(xr_auth_sign(a, d, env, env_len, tag), XR_OK);
	return tw_body(env, env_len, tag, sizeof(tag), body_len);
}

static size_t
tw_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

uint8_t *
tw_body(const uint8_t *env, size_t env_len, const uint8_t *tag,
    size_t tag_len, size_t *body_len)
{
	uint8_t *b = malloc(env_len + tag_len + 2 * 11);
	size_t n = 0;

	assert_non_null(b);
	b[n++] = 0x0a;
	n += tw_varint(b + n, env_len);
	if (env_len > 0)
		memcpy(b + n, env, env_len);
	n += env_len;
	if (tag != NULL) {
		b[n++] = 0x12;
		n += tw_varint(b + n, tag_len);
		if (tag_len > 0)
			memcpy(b + n, tag, tag_len);
		n += tag_len;
	}
	*body_len = n;
	return b;
}

uint8_t *
tw_dup(const uint8_t *p, size_t len)
{
	uint8_t *b = malloc(len > 0 ? len : 1);

	assert_non_null(b);
	if (len > 0)
		memcpy(b, p, len);
	return b;
}
