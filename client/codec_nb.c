/* client/codec_nb.c — the Envelope coded over the buffer, zero-copy payload. */
#include "codec_nb.h"

#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "frame.h"

/*
 * The Envelope is coded field by field, straight over the buffer, not with
 * pb_encode()/pb_decode() on its descriptor: those walk all 16 field
 * descriptors for every envelope, present or not, and move every byte
 * through a stream callback (pb_write, pb_read), which with many calls in
 * flight was the largest part of the client thread after the kernel
 * (docs/performance.md). The rules stay nanopb's: a proto3 field at its
 * default is not sent; fields go out in field-number order; a known field
 * with another wire type, a bytes or string field over its max_size, a
 * ninth header, a uint32 over 32 bits, a zero tag or a truncated field
 * refuses the envelope; an unknown field is skipped; a repeated singular
 * field keeps its last value. What is not plain is left to nanopb itself:
 * the Header and Status submessages (pb_encode_submessage, pb_decode_ex)
 * and a tag or length varint longer than four bytes, whose overflow and
 * sign-extension rules are pb_decode_varint32()'s.
 * tests/client/test_codec_nb holds both sides to nanopb's own pb_encode()
 * and pb_decode() byte for byte and verdict for verdict (random envelopes,
 * every truncation and bit flip, random mutations), and checks that
 * Envelope still has 16 fields and Status 2, so a field added to
 * frame.proto cannot be missed here; fuzz/nanopb_env does the same with
 * libFuzzer's inputs.
 */

/* ---- encoding ---- */

/* Where the encoder writes: `p` with `left` bytes of room, or, with p NULL,
 * nowhere (sizing); `n` counts the bytes either way. */
typedef struct wr {
	uint8_t *p;
	size_t left;
	size_t n;
} wr;

static bool
w_bytes(wr *w, const void *src, size_t k)
{
	if (w->p != NULL) {
		if (k > w->left)
			return false;
		if (k > 0)
			memcpy(w->p, src, k);
		w->p += k;
		w->left -= k;
	}
	w->n += k;
	return true;
}

static bool
w_varint(wr *w, uint64_t v)
{
	uint8_t b[10];
	size_t k = 0;

	while (v >= 0x80) {
		b[k++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[k++] = (uint8_t)v;
	return w_bytes(w, b, k);
}

static inline bool
w_byte(wr *w, uint8_t b)
{
	if (w->p != NULL) {
		if (w->left == 0)
			return false;
		*w->p++ = b;
		w->left--;
	}
	w->n++;
	return true;
}

/* A varint that is most often one byte (a key, a length). */
static inline bool
w_small(wr *w, uint64_t v)
{
	return v < 0x80 ? w_byte(w, (uint8_t)v) : w_varint(w, v);
}

/* A field key: (number << 3) | wire type, as a varint. */
static inline bool
w_tag(wr *w, uint32_t tag, pb_wire_type_t wt)
{
	return w_small(w, ((uint64_t)tag << 3) | (uint64_t)wt);
}

static bool
put_varint(wr *w, uint32_t tag, uint64_t v)
{
	return v == 0 || (w_tag(w, tag, PB_WT_VARINT) && w_varint(w, v));
}

static bool
put_bytes(wr *w, uint32_t tag, const uint8_t *b, size_t n)
{
	return n == 0 || (w_tag(w, tag, PB_WT_STRING) && w_small(w, n) &&
	    w_bytes(w, b, n));
}

/* A bytes field of capacity `cap`: over it is refused, as nanopb does. */
#define PUT_BYTES(w, tag, f) \
	((f).size <= sizeof((f).bytes) && put_bytes(w, tag, (f).bytes, (f).size))

/* A string in char[cap]: unterminated within cap is refused. */
static bool
put_str(wr *w, uint32_t tag, const char *str, size_t cap)
{
	size_t n = strnlen(str, cap);

	return n < cap && put_bytes(w, tag, (const uint8_t *)str, n);
}

/* A submessage, by nanopb: sized with pb_get_encoded_size(), written with
 * pb_encode_tag() and pb_encode_submessage() into the room left. */
static bool
put_msg(wr *w, uint32_t tag, const pb_msgdesc_t *f, const void *m)
{
	pb_ostream_t s;
	size_t sz;

	if (w->p == NULL) {
		if (!pb_get_encoded_size(&sz, f, m) ||
		    !w_tag(w, tag, PB_WT_STRING) || !w_varint(w, sz))
			return false;
		w->n += sz;
		return true;
	}
	s = pb_ostream_from_buffer(w->p, w->left);
	if (!pb_encode_tag(&s, PB_WT_STRING, tag) ||
	    !pb_encode_submessage(&s, f, m))
		return false;
	w->p += s.bytes_written;
	w->left -= s.bytes_written;
	w->n += s.bytes_written;
	return true;
}

static bool
env_write(wr *w, const execrpc_v1_Envelope *e, const uint8_t *payload,
    size_t plen)
{
	if (e->headers_count > sizeof(e->headers) / sizeof(e->headers[0]))
		return false;
	if (!put_varint(w, execrpc_v1_Envelope_version_tag, e->version) ||
	    !put_varint(w, execrpc_v1_Envelope_kind_tag, (uint32_t)e->kind) ||
	    !PUT_BYTES(w, execrpc_v1_Envelope_nonce_tag, e->nonce) ||
	    !put_varint(w, execrpc_v1_Envelope_ts_ms_tag, e->ts_ms) ||
	    !PUT_BYTES(w, execrpc_v1_Envelope_session_id_tag, e->session_id) ||
	    !put_varint(w, execrpc_v1_Envelope_sequence_tag, e->sequence) ||
	    !PUT_BYTES(w, execrpc_v1_Envelope_ack_nonce_tag, e->ack_nonce) ||
	    !PUT_BYTES(w, execrpc_v1_Envelope_trace_id_tag, e->trace_id) ||
	    !put_str(w, execrpc_v1_Envelope_reply_to_tag, e->reply_to,
	    sizeof(e->reply_to)) ||
	    !put_str(w, execrpc_v1_Envelope_target_tag, e->target,
	    sizeof(e->target)))
		return false;
	for (pb_size_t i = 0; i < e->headers_count; i++)
		if (!put_msg(w, execrpc_v1_Envelope_headers_tag,
		    execrpc_v1_Header_fields, &e->headers[i]))
			return false;
	return put_varint(w, execrpc_v1_Envelope_call_id_tag, e->call_id) &&
	    put_str(w, execrpc_v1_Envelope_method_tag, e->method,
	    sizeof(e->method)) &&
	    put_varint(w, execrpc_v1_Envelope_timeout_ms_tag, e->timeout_ms) &&
	    (!e->has_status || put_msg(w, execrpc_v1_Envelope_status_tag,
	    execrpc_v1_Status_fields, &e->status)) &&
	    put_bytes(w, execrpc_v1_Envelope_payload_tag, payload, plen);
}

/* ---- decoding ---- */

/* What is left to read: [p, end). */
typedef struct rd {
	const uint8_t *p;
	const uint8_t *end;
} rd;

static size_t
r_left(const rd *r)
{
	return (size_t)(r->end - r->p);
}

static bool r_varint32_long(rd *r, uint32_t *v);

/* A varint of at most 32 bits (a key or a length); one byte inline. */
static inline bool
r_varint32(rd *r, uint32_t *v)
{
	if (r->p < r->end && *r->p < 0x80) {
		*v = *r->p++;
		return true;
	}
	return r_varint32_long(r, v);
}

/*
 * The same, from its first byte on: up to four bytes it is plain; a longer
 * one is nanopb's pb_decode_varint32(), which allows padding and sign
 * extension up to ten bytes and refuses the rest.
 */
static bool
r_varint32_long(rd *r, uint32_t *v)
{
	uint32_t x = 0;
	pb_istream_t s;
	bool ok;

	for (unsigned i = 0; i < 4 && r->p + i < r->end; i++) {
		x |= (uint32_t)(r->p[i] & 0x7F) << (7 * i);
		if ((r->p[i] & 0x80) == 0) {
			r->p += i + 1;
			*v = x;
			return true;
		}
	}
	s = pb_istream_from_buffer(r->p, r_left(r));
	ok = pb_decode_varint32(&s, v);
	r->p = r->end - s.bytes_left;
	return ok;
}

/* A 64-bit varint, as pb_decode_varint() reads it: at most ten bytes, the
 * tenth holding nothing but bit 63. */
static bool
r_varint64(rd *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned i = 0; i < 10 && r->p < r->end; i++) {
		uint8_t b = *r->p++;

		if (i == 9 && (b & 0xFE) != 0)
			return false;	/* nanopb: "varint overflow" */
		x |= (uint64_t)(b & 0x7F) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;	/* truncated, or an eleventh byte */
}

static bool
r_skip(rd *r, size_t n)
{
	if (n > r_left(r))
		return false;
	r->p += n;
	return true;
}

/* An unknown field, as pb_skip_field() passes over it. */
static bool
r_skip_field(rd *r, pb_wire_type_t wt)
{
	uint32_t n;

	switch (wt) {
	case PB_WT_VARINT:
		/* any number of continuation bytes, as pb_skip_varint() */
		while (r->p < r->end)
			if ((*r->p++ & 0x80) == 0)
				return true;
		return false;
	case PB_WT_64BIT:
		return r_skip(r, 8);
	case PB_WT_STRING:
		return r_varint32(r, &n) && r_skip(r, n);
	case PB_WT_32BIT:
		return r_skip(r, 4);
	default:
		return false;	/* nanopb: "invalid wire_type" */
	}
}

static bool
get_u64(rd *r, pb_wire_type_t wt, uint64_t *v)
{
	return wt == PB_WT_VARINT && r_varint64(r, v);
}

static bool
get_u32(rd *r, pb_wire_type_t wt, uint32_t *v)
{
	uint64_t x;

	if (!get_u64(r, wt, &x) || x > UINT32_MAX)
		return false;	/* nanopb: "integer too large" */
	*v = (uint32_t)x;
	return true;
}

/* The length of a length-delimited field, within what is left. */
static bool
get_len(rd *r, pb_wire_type_t wt, uint32_t *n)
{
	return wt == PB_WT_STRING && r_varint32(r, n) && *n <= r_left(r);
}

static bool
get_bytes(rd *r, pb_wire_type_t wt, pb_size_t *size, uint8_t *b,
    size_t cap)
{
	uint32_t n;

	if (!get_len(r, wt, &n) || n > cap)
		return false;
	memcpy(b, r->p, n);
	r->p += n;
	*size = (pb_size_t)n;
	return true;
}

#define GET_BYTES(r, wt, f) \
	get_bytes(r, wt, &(f).size, (f).bytes, sizeof((f).bytes))

static bool
get_str(rd *r, pb_wire_type_t wt, char *str, size_t cap)
{
	uint32_t n;

	if (!get_len(r, wt, &n) || n >= cap)
		return false;
	memcpy(str, r->p, n);
	str[n] = '\0';
	r->p += n;
	return true;
}

/* A submessage, by nanopb's pb_decode_ex() on its bytes; `flags` as
 * nanopb passes them: 0 (initialise) for a repeated entry,
 * PB_DECODE_NOINIT for a singular one. */
static bool
get_msg(rd *r, pb_wire_type_t wt, const pb_msgdesc_t *f, void *m,
    unsigned flags)
{
	pb_istream_t sub;
	uint32_t n;

	if (!get_len(r, wt, &n))
		return false;
	sub = pb_istream_from_buffer(r->p, n);
	r->p += n;
	return pb_decode_ex(&sub, f, m, flags);
}

/* Field 16: recorded as a view into the input, not copied. */
static bool
get_payload(rd *r, pb_wire_type_t wt, xr_nb_dec *d)
{
	uint32_t n;

	if (!get_len(r, wt, &n))
		return false;
	d->payload = r->p;
	d->payload_len = n;
	r->p += n;
	return true;
}

static bool
env_field(rd *r, uint32_t tag, pb_wire_type_t wt, xr_nb_dec *d)
{
	execrpc_v1_Envelope *e = &d->env;
	uint32_t u;

	switch (tag) {
	case execrpc_v1_Envelope_version_tag:
		return get_u32(r, wt, &e->version);
	case execrpc_v1_Envelope_kind_tag:
		/* nanopb codes an enum without negative values as a uint32
		 * (UENUM) */
		if (!get_u32(r, wt, &u))
			return false;
		e->kind = (execrpc_v1_Kind)u;
		return true;
	case execrpc_v1_Envelope_nonce_tag:
		return GET_BYTES(r, wt, e->nonce);
	case execrpc_v1_Envelope_ts_ms_tag:
		return get_u64(r, wt, &e->ts_ms);
	case execrpc_v1_Envelope_session_id_tag:
		return GET_BYTES(r, wt, e->session_id);
	case execrpc_v1_Envelope_sequence_tag:
		return get_u64(r, wt, &e->sequence);
	case execrpc_v1_Envelope_ack_nonce_tag:
		return GET_BYTES(r, wt, e->ack_nonce);
	case execrpc_v1_Envelope_trace_id_tag:
		return GET_BYTES(r, wt, e->trace_id);
	case execrpc_v1_Envelope_reply_to_tag:
		return get_str(r, wt, e->reply_to, sizeof(e->reply_to));
	case execrpc_v1_Envelope_target_tag:
		return get_str(r, wt, e->target, sizeof(e->target));
	case execrpc_v1_Envelope_headers_tag:
		if (e->headers_count >=
		    sizeof(e->headers) / sizeof(e->headers[0]))
			return false;	/* nanopb: "array overflow" */
		return get_msg(r, wt, execrpc_v1_Header_fields,
		    &e->headers[e->headers_count++], 0);
	case execrpc_v1_Envelope_call_id_tag:
		return get_u64(r, wt, &e->call_id);
	case execrpc_v1_Envelope_method_tag:
		return get_str(r, wt, e->method, sizeof(e->method));
	case execrpc_v1_Envelope_timeout_ms_tag:
		return get_u32(r, wt, &e->timeout_ms);
	case execrpc_v1_Envelope_status_tag:
		e->has_status = true;
		return get_msg(r, wt, execrpc_v1_Status_fields, &e->status,
		    PB_DECODE_NOINIT);
	case execrpc_v1_Envelope_payload_tag:
		return get_payload(r, wt, d);
	case 0:
		return false;	/* nanopb: "zero tag" */
	default:
		return r_skip_field(r, wt);
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
	rd r = { env, env + len };

	d->payload = NULL;
	d->payload_len = 0;
	d->in = env;
	d->in_len = len;
	nb_env_clear(&d->env);
	while (r.p < r.end) {
		uint32_t key;

		if (!r_varint32(&r, &key) ||
		    !env_field(&r, key >> 3, (pb_wire_type_t)(key & 7), d)) {
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
	wr w = { NULL, 0, 0 };

	if (!env_write(&w, env, payload, plen))
		return XR_ERR_INTERNAL;
	*env_len = w.n;
	return XR_OK;
}

int
xr_nb_encode(execrpc_v1_Envelope *env, const uint8_t *payload, size_t plen,
    uint8_t *out, size_t cap, size_t *env_len)
{
	wr w = { out, cap, 0 };

	if (!env_write(&w, env, payload, plen))
		return XR_ERR_NO_SPACE;
	*env_len = w.n;
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
	wr w;
	size_t hl;
	int r = XR_ERR_INTERNAL;

	hl = xr_frame_header(out, env_len);
	w = (wr){ out + hl, env_len, 0 };
	if (!env_write(&w, env, payload, plen) || w.n != env_len)
		goto out;
	if ((r = xr_auth_sign(a, d, out + hl, env_len, tag)) != XR_OK)
		goto out;
	xr_frame_trailer(out + hl + env_len, tag);
 out:
	xr_wipe(tag, sizeof(tag));
	return r;
}
