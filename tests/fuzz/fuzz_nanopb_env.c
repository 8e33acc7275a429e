/*
 * tests/fuzz/fuzz_nanopb_env.c — client/codec_nb.c xr_nb_decode(), the
 * client's nanopb envelope decoder, on arbitrary bytes (the envelope the
 * receive pipeline hands it after the tag check).
 *
 * Invariants (abort() on violation):
 *  - the result is XR_OK or XR_ERR_MALFORMED; on MALFORMED no payload view
 *    is left;
 *  - on XR_OK the view's lengths are within its arrays and equal the
 *    decoded fields, the payload view lies inside the input, every string
 *    is terminated within its array, headers_count <= 8;
 *  - an accepted envelope re-encodes (xr_nb_env_size + xr_nb_seal) into a
 *    frame that splits, verifies and decodes back to the same fields;
 *  - differential: codec_nb codes the Envelope field by field over the
 *    buffer, so nanopb's own pb_decode() must give the same verdict on
 *    every input, the same payload view and the same fields (both
 *    re-encoded by pb_encode() byte for byte), and xr_nb_encode() must
 *    write exactly pb_encode()'s bytes.
 */
#include <stdlib.h>
#include <string.h>


#include "auth.h"
#include "codec_nb.h"
#include "frame.h"
#include "fuzz_common.h"
#include "fuzz_check.h"
#include "nb_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NHEADERS (sizeof(((execrpc_v1_Envelope *)0)->headers) / \
    sizeof(((execrpc_v1_Envelope *)0)->headers[0]))

static xr_auth *auth;
static volatile unsigned sink;

static void
init_once(void)
{
	xr_keyset ks;

	if (auth != NULL)
		return;
	CHECK(xr_keys_derive(xf_master, sizeof(xf_master), XR_KDF_HKDF_SHA256,
	    &ks) == XR_OK);
	auth = xr_auth_new(&ks);
	xr_keyset_wipe(&ks);
	CHECK(auth != NULL);
}

static void
check_decoded(const xr_nb_dec *d, const uint8_t *in, size_t len,
    const xr_env_view *v)
{
	const execrpc_v1_Envelope *e = &d->env;
	size_t i;

	CHECK(v->nonce_len <= sizeof(v->nonce) &&
	    v->nonce_len == e->nonce.size);
	CHECK(v->session_id_len <= sizeof(v->session_id) &&
	    v->session_id_len == e->session_id.size);
	CHECK(v->ack_nonce_len <= sizeof(v->ack_nonce) &&
	    v->ack_nonce_len == e->ack_nonce.size);
	CHECK(memcmp(v->nonce, e->nonce.bytes, v->nonce_len) == 0);
	CHECK(memcmp(v->session_id, e->session_id.bytes,
	    v->session_id_len) == 0);
	CHECK(memcmp(v->ack_nonce, e->ack_nonce.bytes, v->ack_nonce_len) == 0);
	CHECK(v->version == e->version && v->kind == (uint32_t)e->kind &&
	    v->ts_ms == e->ts_ms && v->sequence == e->sequence);
	CHECK(e->trace_id.size <= sizeof(e->trace_id.bytes));
	CHECK(TERMINATED(e->reply_to) && TERMINATED(e->target) &&
	    TERMINATED(e->method));
	CHECK(e->headers_count <= NHEADERS);
	for (i = 0; i < e->headers_count; i++)
		CHECK(TERMINATED(e->headers[i].key) &&
		    TERMINATED(e->headers[i].value));
	if (e->has_status)
		CHECK(TERMINATED(e->status.message));
	if (d->payload == NULL) {
		CHECK(d->payload_len == 0);
	} else {
		CHECK(d->payload >= in && d->payload <= in + len &&
		    d->payload_len <= (size_t)(in + len - d->payload));
		for (i = 0; i < d->payload_len; i++)
			sink += d->payload[i];
	}
}

/* The fields beyond the view: what a second decode must reproduce. */
static void
check_same(const xr_nb_dec *a, const xr_nb_dec *b)
{
	const execrpc_v1_Envelope *x = &a->env, *y = &b->env;
	size_t i;

	CHECK(x->trace_id.size == y->trace_id.size &&
	    memcmp(x->trace_id.bytes, y->trace_id.bytes, x->trace_id.size) == 0);
	CHECK(strcmp(x->reply_to, y->reply_to) == 0 &&
	    strcmp(x->target, y->target) == 0 &&
	    strcmp(x->method, y->method) == 0);
	CHECK(x->call_id == y->call_id && x->timeout_ms == y->timeout_ms);
	CHECK(x->headers_count == y->headers_count);
	for (i = 0; i < x->headers_count; i++)
		CHECK(strcmp(x->headers[i].key, y->headers[i].key) == 0 &&
		    strcmp(x->headers[i].value, y->headers[i].value) == 0);
	CHECK(x->has_status == y->has_status);
	if (x->has_status)
		CHECK(x->status.code == y->status.code &&
		    strcmp(x->status.message, y->status.message) == 0);
	CHECK(a->payload_len == b->payload_len &&
	    (a->payload_len == 0 ||
	     memcmp(a->payload, b->payload, a->payload_len) == 0));
}

static void
roundtrip(xr_nb_dec *d, const xr_env_view *v)
{
	static xr_nb_dec d2;
	const uint8_t *env, *tag;
	size_t env_len, tag_len, wire;
	xr_env_view v2;
	uint8_t *out;

	CHECK(xr_nb_env_size(&d->env, d->payload, d->payload_len, &env_len) ==
	    XR_OK);
	wire = xr_frame_wire_len(env_len);
	CHECK((out = malloc(wire)) != NULL);
	CHECK(xr_nb_seal(auth, XR_DIR_EXEC_TO_WEB, &d->env, d->payload,
	    d->payload_len, env_len, out) == XR_OK);
	CHECK(xr_frame_get_len(out) == wire - XR_FRAME_PREFIX_LEN);
	CHECK(xr_frame_split(out + XR_FRAME_PREFIX_LEN,
	    wire - XR_FRAME_PREFIX_LEN, &env, &env_len, &tag, &tag_len) ==
	    XR_OK);
	CHECK(xr_auth_verify(auth, XR_DIR_EXEC_TO_WEB, env, env_len, tag,
	    tag_len) == XR_OK);
	memset(&v2, 0x5a, sizeof(v2));
	CHECK(xr_nb_decode(&d2, env, env_len, &v2) == XR_OK);
	check_decoded(&d2, env, env_len, &v2);
	CHECK(memcmp(v, &v2, sizeof(v2)) == 0);
	check_same(d, &d2);
	free(out);
}

/* pb_encode() of `e` with the payload `p` into a malloc'd buffer. */
static uint8_t *
ref_encode(execrpc_v1_Envelope *e, const uint8_t *p, size_t plen,
    size_t *len)
{
	pb_ostream_t s = PB_OSTREAM_SIZING;
	uint8_t *out;

	CHECK(nb_ref_encode(e, p, plen, &s));
	*len = s.bytes_written;
	CHECK((out = malloc(*len ? *len : 1)) != NULL);
	s = pb_ostream_from_buffer(out, *len);
	CHECK(nb_ref_encode(e, p, plen, &s) && s.bytes_written == *len);
	return out;
}

static void
differential(const xr_nb_dec *d, int ok, const uint8_t *data, size_t size)
{
	static execrpc_v1_Envelope ref, mine;
	nb_ref_pl rp;
	uint8_t *a, *b, *c;
	size_t al, bl, cl;

	CHECK(nb_ref_decode(&ref, data, size, &rp) == (ok != 0));
	if (!ok)
		return;
	CHECK(d->payload == rp.p && d->payload_len == rp.len);
	mine = d->env;
	a = ref_encode(&ref, rp.p, rp.len, &al);
	b = ref_encode(&mine, d->payload, d->payload_len, &bl);
	CHECK(al == bl && memcmp(a, b, al) == 0);
	/* xr_nb_encode writes exactly pb_encode()'s bytes */
	CHECK((c = malloc(al + 1)) != NULL);
	CHECK(xr_nb_encode(&mine, d->payload, d->payload_len, c, al + 1,
	    &cl) == XR_OK);
	CHECK(cl == al && memcmp(a, c, al) == 0);
	free(a);
	free(b);
	free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static xr_nb_dec d;
	xr_env_view v;
	int r;

	init_once();
	memset(&v, 0x5a, sizeof(v));
	r = xr_nb_decode(&d, data, size, &v);
	differential(&d, r == XR_OK, data, size);
	if (r != XR_OK) {
		CHECK(r == XR_ERR_MALFORMED);
		CHECK(d.payload == NULL && d.payload_len == 0);
		return 0;
	}
	check_decoded(&d, data, size, &v);
	roundtrip(&d, &v);
	return 0;
}
