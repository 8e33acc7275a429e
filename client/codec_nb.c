/* client/codec_nb.c — the Envelope on nanopb's primitives, zero-copy payload. */
#include "codec_nb.h"

#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "frame.h"

/*
 * The Envelope is coded field by field with nanopb's public primitives
 * (pb_encode_tag, pb_encode_varint, pb_encode_string, pb_encode_submessage;
 * pb_decode_tag, pb_decode_varint, pb_read, pb_skip_field, pb_decode_ex for
 * the Header and Status submessages), not with pb_encode()/pb_decode() on
 * its descriptor. Those walk all 16 field descriptors for every envelope,
 * present or not: with many calls in flight that walk was 40 % of the
 * client thread (docs/performance.md). The rules stay nanopb's, one call
 * per rule: a proto3 field at its default is not sent; fields go out in
 * field-number order; a known field with another wire type, a bytes or
 * string field over its max_size, a ninth header, a uint32 over 32 bits, a
 * zero tag or a truncated field refuses the envelope; an unknown field is
 * skipped; a repeated singular field keeps its last value.
 * tests/client/test_codec_nb holds both sides to nanopb's own pb_encode()
 * and pb_decode() byte for byte and verdict for verdict (random envelopes,
 * every truncation and bit flip, random mutations), and checks that
 * Envelope still has 16 fields and Status 2, so a field added to
 * frame.proto cannot be missed here.
 */

/* ---- encoding ---- */

static bool
put_varint(pb_ostream_t *s, uint32_t tag, uint64_t v)
{
	return v == 0 || (pb_encode_tag(s, PB_WT_VARINT, tag) &&
	    pb_encode_varint(s, v));
}

static bool
put_bytes(pb_ostream_t *s, uint32_t tag, const uint8_t *b, size_t n)
{
	return n == 0 || (pb_encode_tag(s, PB_WT_STRING, tag) &&
	    pb_encode_string(s, b, n));
}

/* A bytes field of capacity `cap`: over it is refused, as nanopb does. */
#define PUT_BYTES(s, tag, f) \
	((f).size <= sizeof((f).bytes) && put_bytes(s, tag, (f).bytes, (f).size))

/* A string in char[cap]: unterminated within cap is refused. */
static bool
put_str(pb_ostream_t *s, uint32_t tag, const char *str, size_t cap)
{
	size_t n = strnlen(str, cap);

	return n < cap && put_bytes(s, tag, (const uint8_t *)str, n);
}

static bool
put_msg(pb_ostream_t *s, uint32_t tag, const pb_msgdesc_t *f, const void *m)
{
	return pb_encode_tag(s, PB_WT_STRING, tag) &&
	    pb_encode_submessage(s, f, m);
}

static bool
env_write(pb_ostream_t *s, const execrpc_v1_Envelope *e,
    const uint8_t *payload, size_t plen)
{
	if (e->headers_count > sizeof(e->headers) / sizeof(e->headers[0]))
		return false;
	if (!put_varint(s, execrpc_v1_Envelope_version_tag, e->version) ||
	    !put_varint(s, execrpc_v1_Envelope_kind_tag, (uint32_t)e->kind) ||
	    !PUT_BYTES(s, execrpc_v1_Envelope_nonce_tag, e->nonce) ||
	    !put_varint(s, execrpc_v1_Envelope_ts_ms_tag, e->ts_ms) ||
	    !PUT_BYTES(s, execrpc_v1_Envelope_session_id_tag, e->session_id) ||
	    !put_varint(s, execrpc_v1_Envelope_sequence_tag, e->sequence) ||
	    !PUT_BYTES(s, execrpc_v1_Envelope_ack_nonce_tag, e->ack_nonce) ||
	    !PUT_BYTES(s, execrpc_v1_Envelope_trace_id_tag, e->trace_id) ||
	    !put_str(s, execrpc_v1_Envelope_reply_to_tag, e->reply_to,
	    sizeof(e->reply_to)) ||
	    !put_str(s, execrpc_v1_Envelope_target_tag, e->target,
	    sizeof(e->target)))
		return false;
	for (pb_size_t i = 0; i < e->headers_count; i++)
		if (!put_msg(s, execrpc_v1_Envelope_headers_tag,
		    execrpc_v1_Header_fields, &e->headers[i]))
			return false;
	return put_varint(s, execrpc_v1_Envelope_call_id_tag, e->call_id) &&
	    put_str(s, execrpc_v1_Envelope_method_tag, e->method,
	    sizeof(e->method)) &&
	    put_varint(s, execrpc_v1_Envelope_timeout_ms_tag, e->timeout_ms) &&
	    (!e->has_status || put_msg(s, execrpc_v1_Envelope_status_tag,
	    execrpc_v1_Status_fields, &e->status)) &&
	    put_bytes(s, execrpc_v1_Envelope_payload_tag, payload, plen);
}

/* ---- decoding ---- */

static bool
get_u64(pb_istream_t *s, pb_wire_type_t wt, uint64_t *v)
{
	return wt == PB_WT_VARINT && pb_decode_varint(s, v);
}

static bool
get_u32(pb_istream_t *s, pb_wire_type_t wt, uint32_t *v)
{
	uint64_t x;

	if (!get_u64(s, wt, &x) || x > UINT32_MAX)
		return false;	/* nanopb: "integer too large" */
	*v = (uint32_t)x;
	return true;
}

static bool
get_bytes(pb_istream_t *s, pb_wire_type_t wt, pb_size_t *size, uint8_t *b,
    size_t cap)
{
	uint32_t n;

	if (wt != PB_WT_STRING || !pb_decode_varint32(s, &n) || n > cap)
		return false;
	*size = (pb_size_t)n;
	return pb_read(s, b, n);
}

#define GET_BYTES(s, wt, f) \
	get_bytes(s, wt, &(f).size, (f).bytes, sizeof((f).bytes))

static bool
get_str(pb_istream_t *s, pb_wire_type_t wt, char *str, size_t cap)
{
	uint32_t n;

	if (wt != PB_WT_STRING || !pb_decode_varint32(s, &n) || n >= cap)
		return false;
	str[n] = '\0';
	return pb_read(s, (pb_byte_t *)str, n);
}

/* A submessage; `flags` as nanopb passes them: 0 (initialise) for a
 * repeated entry, PB_DECODE_NOINIT for a singular one. */
static bool
get_msg(pb_istream_t *s, pb_wire_type_t wt, const pb_msgdesc_t *f, void *m,
    unsigned flags)
{
	pb_istream_t sub;
	bool ok;

	if (wt != PB_WT_STRING || !pb_make_string_substream(s, &sub))
		return false;
	ok = pb_decode_ex(&sub, f, m, flags);
	return pb_close_string_substream(s, &sub) && ok;
}

/* Field 16: recorded as a view into the input, not copied. */
static bool
get_payload(pb_istream_t *s, pb_wire_type_t wt, xr_nb_dec *d)
{
	uint32_t n;

	if (wt != PB_WT_STRING || !pb_decode_varint32(s, &n) ||
	    n > s->bytes_left)
		return false;
	d->payload = d->in + (d->in_len - s->bytes_left);
	d->payload_len = n;
	return pb_read(s, NULL, n);
}

static bool
env_field(pb_istream_t *s, uint32_t tag, pb_wire_type_t wt, xr_nb_dec *d)
{
	execrpc_v1_Envelope *e = &d->env;
	uint32_t u;

	switch (tag) {
	case execrpc_v1_Envelope_version_tag:
		return get_u32(s, wt, &e->version);
	case execrpc_v1_Envelope_kind_tag:
		/* nanopb codes an enum without negative values as a uint32
		 * (UENUM) */
		if (!get_u32(s, wt, &u))
			return false;
		e->kind = (execrpc_v1_Kind)u;
		return true;
	case execrpc_v1_Envelope_nonce_tag:
		return GET_BYTES(s, wt, e->nonce);
	case execrpc_v1_Envelope_ts_ms_tag:
		return get_u64(s, wt, &e->ts_ms);
	case execrpc_v1_Envelope_session_id_tag:
		return GET_BYTES(s, wt, e->session_id);
	case execrpc_v1_Envelope_sequence_tag:
		return get_u64(s, wt, &e->sequence);
	case execrpc_v1_Envelope_ack_nonce_tag:
		return GET_BYTES(s, wt, e->ack_nonce);
	case execrpc_v1_Envelope_trace_id_tag:
		return GET_BYTES(s, wt, e->trace_id);
	case execrpc_v1_Envelope_reply_to_tag:
		return get_str(s, wt, e->reply_to, sizeof(e->reply_to));
	case execrpc_v1_Envelope_target_tag:
		return get_str(s, wt, e->target, sizeof(e->target));
	case execrpc_v1_Envelope_headers_tag:
		if (e->headers_count >=
		    sizeof(e->headers) / sizeof(e->headers[0]))
			return false;	/* nanopb: "array overflow" */
		return get_msg(s, wt, execrpc_v1_Header_fields,
		    &e->headers[e->headers_count++], 0);
	case execrpc_v1_Envelope_call_id_tag:
		return get_u64(s, wt, &e->call_id);
	case execrpc_v1_Envelope_method_tag:
		return get_str(s, wt, e->method, sizeof(e->method));
	case execrpc_v1_Envelope_timeout_ms_tag:
		return get_u32(s, wt, &e->timeout_ms);
	case execrpc_v1_Envelope_status_tag:
		e->has_status = true;
		return get_msg(s, wt, execrpc_v1_Status_fields, &e->status,
		    PB_DECODE_NOINIT);
	case execrpc_v1_Envelope_payload_tag:
		return get_payload(s, wt, d);
	case 0:
		return false;	/* nanopb: "zero tag" */
	default:
		return pb_skip_field(s, wt);
	}
}

/*
 * Reset every field of `e` to its proto3 default, as pb_decode() does
 * before it reads (a string or bytes field by its first byte or length, a
 * repeated field by its count, the optional status by its flag and
 * contents). tests/client/test_codec_nb checks that a decode over any
 * earlier envelope equals a fresh one.
 */
static void
nb_env_clear(execrpc_v1_Envelope *e)
{
	e->version = 0;
	e->kind = _execrpc_v1_Kind_MIN;
	e->nonce.size = 0;
	e->ts_ms = 0;
	e->session_id.size = 0;
	e->sequence = 0;
	e->ack_nonce.size = 0;
	e->trace_id.size = 0;
	e->reply_to[0] = '\0';
	e->target[0] = '\0';
	e->headers_count = 0;
	e->call_id = 0;
	e->method[0] = '\0';
	e->timeout_ms = 0;
	e->has_status = false;
	e->status.code = _execrpc_v1_StatusCode_MIN;
	e->status.message[0] = '\0';
}

int
xr_nb_decode(xr_nb_dec *d, const uint8_t *env, size_t len, xr_env_view *view)
{
	pb_istream_t s = pb_istream_from_buffer(env, len);

	d->payload = NULL;
	d->payload_len = 0;
	d->in = env;
	d->in_len = len;
	nb_env_clear(&d->env);
	while (s.bytes_left > 0) {
		pb_wire_type_t wt;
		uint32_t tag;
		bool eof;

		if (!pb_decode_tag(&s, &wt, &tag, &eof) ||
		    !env_field(&s, tag, wt, d)) {
			d->payload = NULL;
			d->payload_len = 0;
			return XR_ERR_MALFORMED;
		}
	}

	memset(view, 0, sizeof(*view));
	view->version = d->env.version;
	view->kind = (uint32_t)d->env.kind;
	view->ts_ms = d->env.ts_ms;
	view->sequence = d->env.sequence;
	/* nanopb bounds each of these by max_size == the view's array size */
	view->nonce_len = d->env.nonce.size;
	memcpy(view->nonce, d->env.nonce.bytes, d->env.nonce.size);
	view->session_id_len = d->env.session_id.size;
	memcpy(view->session_id, d->env.session_id.bytes,
	    d->env.session_id.size);
	view->ack_nonce_len = d->env.ack_nonce.size;
	memcpy(view->ack_nonce, d->env.ack_nonce.bytes, d->env.ack_nonce.size);
	return XR_OK;
}

static int
nb_decoder_decode(void *ctx, const uint8_t *env, size_t len, xr_env_view *view)
{
	return xr_nb_decode(ctx, env, len, view);
}

static void
nb_decoder_release(void *ctx)
{
	xr_nb_dec *d = ctx;

	d->payload = NULL;
	d->payload_len = 0;
}

xr_env_decoder
xr_nb_decoder(xr_nb_dec *d)
{
	xr_env_decoder dec = { nb_decoder_decode, nb_decoder_release, d };

	return dec;
}

int
xr_nb_env_size(execrpc_v1_Envelope *env, const uint8_t *payload, size_t plen,
    size_t *env_len)
{
	pb_ostream_t s = PB_OSTREAM_SIZING;

	if (!env_write(&s, env, payload, plen))
		return XR_ERR_INTERNAL;
	*env_len = s.bytes_written;
	return XR_OK;
}

int
xr_nb_encode(execrpc_v1_Envelope *env, const uint8_t *payload, size_t plen,
    uint8_t *out, size_t cap, size_t *env_len)
{
	pb_ostream_t s = pb_ostream_from_buffer(out, cap);

	if (!env_write(&s, env, payload, plen))
		return XR_ERR_NO_SPACE;
	*env_len = s.bytes_written;
	return XR_OK;
}

int
xr_nb_frame(xr_auth *a, xr_dir d, const uint8_t *env, size_t env_len,
    uint8_t *out)
{
	uint8_t tag[XR_TAG_LEN];
	size_t hl;
	int r;

	hl = xr_frame_header(out, env_len);
	memcpy(out + hl, env, env_len);
	if ((r = xr_auth_sign(a, d, out + hl, env_len, tag)) == XR_OK)
		xr_frame_trailer(out + hl + env_len, tag);
	xr_wipe(tag, sizeof(tag));
	return r;
}

int
xr_nb_seal(xr_auth *a, xr_dir d, execrpc_v1_Envelope *env,
    const uint8_t *payload, size_t plen, size_t env_len, uint8_t *out)
{
	uint8_t tag[XR_TAG_LEN];
	pb_ostream_t s;
	size_t hl;
	int r = XR_ERR_INTERNAL;

	hl = xr_frame_header(out, env_len);
	s = pb_ostream_from_buffer(out + hl, env_len);
	if (!env_write(&s, env, payload, plen) || s.bytes_written != env_len)
		goto out;
	if ((r = xr_auth_sign(a, d, out + hl, env_len, tag)) != XR_OK)
		goto out;
	xr_frame_trailer(out + hl + env_len, tag);
 out:
	xr_wipe(tag, sizeof(tag));
	return r;
}
