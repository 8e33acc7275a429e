/* core/codec.c — protobuf-c envelope decode (arena) and seal. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "frame.h"
#include "keys.h"
#include "nonce.h"

#define ARENA_FIRST 16384

struct xr_codec {
	xr_arena arena;
	Execrpc__V1__Envelope *env;
};

size_t
xr_codec_arena_bytes(const xr_codec *c)
{
	return xr_arena_bytes(&c->arena);
}

xr_codec *
xr_codec_new(void)
{
	xr_codec *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	xr_arena_init(&c->arena, ARENA_FIRST, XR_CODEC_ARENA_KEEP);
	return c;
}

void
xr_codec_free(xr_codec *c)
{
	if (c == NULL)
		return;
	xr_arena_fini(&c->arena);
	free(c);
}

void
xr_codec_reset(xr_codec *c)
{
	c->env = NULL;
	xr_arena_reset(&c->arena);
}

const Execrpc__V1__Envelope *
xr_codec_envelope(const xr_codec *c)
{
	return c->env;
}

ProtobufCAllocator *
xr_codec_allocator(xr_codec *c)
{
	return xr_arena_allocator(&c->arena);
}

static size_t
copy_bytes(uint8_t *dst, size_t cap, const ProtobufCBinaryData *b)
{
	if (b->len > 0)
		memcpy(dst, b->data, b->len <= cap ? b->len : cap);
	return b->len;
}

void
xr_codec_view(const Execrpc__V1__Envelope *e, xr_env_view *v)
{
	memset(v, 0, sizeof(*v));
	v->version = e->version;
	v->kind = (uint32_t)e->kind;
	v->ts_ms = e->ts_ms;
	v->sequence = e->sequence;
	v->nonce_len = copy_bytes(v->nonce, sizeof(v->nonce), &e->nonce);
	v->session_id_len = copy_bytes(v->session_id, sizeof(v->session_id),
	    &e->session_id);
	v->ack_nonce_len = copy_bytes(v->ack_nonce, sizeof(v->ack_nonce),
	    &e->ack_nonce);
}

static int
get_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*off >= len)
			return -1;
		b = p[(*off)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return 0;
	}
	return -1;
}

/* Skip one field's value of wire type `wt`; for a length-delimited one,
 * `*body`/`*blen` get its bytes. 0, or -1 on bytes that are not a message. */
static int
skip_value(const uint8_t *p, size_t len, size_t *off, unsigned wt,
    const uint8_t **body, size_t *blen)
{
	uint64_t v;

	*body = NULL;
	*blen = 0;
	switch (wt) {
	case 0:
		return get_varint(p, len, off, &v);
	case 1:
		v = 8;
		break;
	case 5:
		v = 4;
		break;
	case 2:
		if (get_varint(p, len, off, &v) != 0)
			return -1;
		*body = p + *off;
		*blen = (size_t)v;
		break;
	default:
		return -1;
	}
	if (v > len - *off)
		return -1;
	*off += (size_t)v;
	return 0;
}

/* One Header's wire bytes: key (1) and value (2) within their bounds, no
 * NUL in either (the decoded strings are compared as C strings). */
static int
header_scan(const uint8_t *p, size_t len)
{
	const uint8_t *b;
	size_t off = 0, bl;
	uint64_t key;

	while (off < len) {
		if (get_varint(p, len, &off, &key) != 0 ||
		    skip_value(p, len, &off, (unsigned)(key & 7), &b, &bl) != 0)
			return -1;
		if ((key >> 3) == 1 && (key & 7) == 2 &&
		    (bl > XR_MAX_HEADER_KEY || memchr(b, 0, bl) != NULL))
			return -1;
		if ((key >> 3) == 2 && (key & 7) == 2 &&
		    (bl > XR_MAX_HEADER_VALUE || memchr(b, 0, bl) != NULL))
			return -1;
	}
	return 0;
}

/* Walk the envelope's top-level fields without unpacking: 0 if it holds at
 * most XR_MAX_HEADERS headers (field 11), each within its bounds; -1
 * otherwise, and on bytes that are not a message (unpack would refuse
 * those too). Stops at the first header over the count. */
static int
headers_scan(const uint8_t *p, size_t len)
{
	const uint8_t *b;
	size_t off = 0, n = 0, bl;
	uint64_t key;

	while (off < len) {
		if (get_varint(p, len, &off, &key) != 0)
			return -1;
		if ((key >> 3) == 11 && ++n > XR_MAX_HEADERS)
			return -1;
		if (skip_value(p, len, &off, (unsigned)(key & 7), &b, &bl) != 0)
			return -1;
		if ((key >> 3) == 11 && (key & 7) == 2 &&
		    header_scan(b, bl) != 0)
			return -1;
	}
	return 0;
}

/* The decoded headers (bounds checked by headers_scan): keys unique. */
static int
headers_ok(const Execrpc__V1__Envelope *e)
{
	if (e->n_headers > XR_MAX_HEADERS)
		return 0;
	for (size_t i = 0; i < e->n_headers; i++) {
		const Execrpc__V1__Header *h = e->headers[i];

		if (h == NULL || h->key == NULL)
			return 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(e->headers[j]->key, h->key) == 0)
				return 0;
	}
	return 1;
}

static int
codec_decode(void *ctx, const uint8_t *env, size_t len, xr_env_view *view)
{
	xr_codec *c = ctx;

	xr_codec_reset(c);
	if (headers_scan(env, len) != 0)
		return XR_ERR_MALFORMED;
	c->env = execrpc__v1__envelope__unpack(xr_arena_allocator(&c->arena), len, env);
	if (c->env == NULL || !headers_ok(c->env)) {
		xr_codec_reset(c);
		return XR_ERR_MALFORMED;
	}
	xr_codec_view(c->env, view);
	return XR_OK;
}

static void
codec_release(void *ctx)
{
	xr_codec_reset(ctx);
}

xr_env_decoder
xr_codec_decoder(xr_codec *c)
{
	xr_env_decoder d = { codec_decode, codec_release, c };

	return d;
}

/* ---- packing ---- */

/*
 * The Envelope packed field by field, without protobuf-c's walk over its
 * descriptors (with many calls in flight, sizing and packing each answer
 * over the descriptors was a tenth of the server's thread). The output is
 * protobuf-c's byte for byte: fields in number order, a proto3 scalar at
 * zero, an empty string (or NULL) and empty bytes left out, an enum as an
 * int32 (a negative one in ten bytes), a submessage present when its
 * pointer is set. A message carrying unknown fields (never one this side
 * builds) is left to protobuf-c. tests/core/test_codec_pack holds it to
 * execrpc__v1__envelope__pack() on random envelopes.
 */

/* Where the packer writes: p + n, or with p NULL nowhere (sizing). */
typedef struct pk {
	uint8_t *p;
	size_t n;
} pk;

static void
pk_varint(pk *w, uint64_t v)
{
	uint8_t tmp[10], *o = w->p != NULL ? w->p + w->n : tmp;
	size_t k = 0;

	while (v >= 0x80) {
		o[k++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o[k++] = (uint8_t)v;
	w->n += k;
}

static void
pk_key(pk *w, unsigned num, unsigned wt)
{
	pk_varint(w, ((uint64_t)num << 3) | wt);
}

static void
pk_u64(pk *w, unsigned num, uint64_t v)
{
	if (v != 0) {
		pk_key(w, num, 0);
		pk_varint(w, v);
	}
}

static void
pk_enum(pk *w, unsigned num, int v)
{
	if (v != 0) {
		pk_key(w, num, 0);
		pk_varint(w, (uint64_t)(int64_t)v);
	}
}

static void
pk_bytes(pk *w, unsigned num, const void *b, size_t len)
{
	if (len == 0)
		return;
	pk_key(w, num, 2);
	pk_varint(w, len);
	if (w->p != NULL)
		memcpy(w->p + w->n, b, len);
	w->n += len;
}

static void
pk_str(pk *w, unsigned num, const char *str)
{
	if (str != NULL)
		pk_bytes(w, num, str, strlen(str));
}

static void
pk_header(pk *w, const Execrpc__V1__Header *h)
{
	pk_str(w, 1, h->key);
	pk_str(w, 2, h->value);
}

static void
pk_status(pk *w, const Execrpc__V1__Status *st)
{
	pk_enum(w, 1, (int)st->code);
	pk_str(w, 2, st->message);
}

static void
pk_env(pk *w, const Execrpc__V1__Envelope *e)
{
	pk z;

	pk_u64(w, 1, e->version);
	pk_enum(w, 2, (int)e->kind);
	pk_bytes(w, 3, e->nonce.data, e->nonce.len);
	pk_u64(w, 4, e->ts_ms);
	pk_bytes(w, 5, e->session_id.data, e->session_id.len);
	pk_u64(w, 6, e->sequence);
	pk_bytes(w, 7, e->ack_nonce.data, e->ack_nonce.len);
	pk_bytes(w, 8, e->trace_id.data, e->trace_id.len);
	pk_str(w, 9, e->reply_to);
	pk_str(w, 10, e->target);
	for (size_t i = 0; i < e->n_headers; i++) {
		z = (pk){ NULL, 0 };
		pk_header(&z, e->headers[i]);
		pk_key(w, 11, 2);
		pk_varint(w, z.n);
		pk_header(w, e->headers[i]);
	}
	pk_u64(w, 12, e->call_id);
	pk_str(w, 13, e->method);
	pk_u64(w, 14, e->timeout_ms);
	if (e->status != NULL) {
		z = (pk){ NULL, 0 };
		pk_status(&z, e->status);
		pk_key(w, 15, 2);
		pk_varint(w, z.n);
		pk_status(w, e->status);
	}
	pk_bytes(w, 16, e->payload.data, e->payload.len);
}

/* Whether the envelope or a submessage carries unknown fields. */
static int
has_unknown(const Execrpc__V1__Envelope *e)
{
	if (e->base.n_unknown_fields != 0 ||
	    (e->status != NULL && e->status->base.n_unknown_fields != 0))
		return 1;
	for (size_t i = 0; i < e->n_headers; i++)
		if (e->headers[i]->base.n_unknown_fields != 0)
			return 1;
	return 0;
}

size_t
xr_codec_packed_size(const Execrpc__V1__Envelope *env)
{
	pk w = { NULL, 0 };

	if (has_unknown(env))
		return execrpc__v1__envelope__get_packed_size(env);
	pk_env(&w, env);
	return w.n;
}

size_t
xr_codec_pack(const Execrpc__V1__Envelope *env, uint8_t *out)
{
	pk w = { out, 0 };

	if (has_unknown(env))
		return execrpc__v1__envelope__pack(env, out);
	pk_env(&w, env);
	return w.n;
}

size_t
xr_codec_sealed_len(const Execrpc__V1__Envelope *env)
{
	return xr_frame_wire_len(xr_codec_packed_size(env));
}

int
xr_codec_seal(xr_auth *a, xr_dir d, const Execrpc__V1__Envelope *env,
    uint8_t *out, size_t cap, size_t *len)
{
	size_t env_len = xr_codec_packed_size(env);
	size_t hl, total = xr_frame_wire_len(env_len);
	uint8_t tag[XR_TAG_LEN];
	int r;

	*len = 0;
	if (cap < total)
		return XR_ERR_NO_SPACE;
	hl = xr_frame_header(out, env_len);
	if (xr_codec_pack(env, out + hl) != env_len)
		return XR_ERR_INTERNAL;
	if ((r = xr_auth_sign(a, d, out + hl, env_len, tag)) != XR_OK)
		return r;
	xr_frame_trailer(out + hl + env_len, tag);
	*len = total;
	return XR_OK;
}

int
xr_codec_env_init(Execrpc__V1__Envelope *env, uint32_t kind,
    uint8_t nonce_buf[XR_NONCE_LEN])
{
	execrpc__v1__envelope__init(env);
	env->version = XR_PROTOCOL_VERSION;
	env->kind = (Execrpc__V1__Kind)kind;
	if (xr_nonce_fill(nonce_buf, XR_NONCE_LEN) != XR_OK)
		return XR_ERR_SYSTEM;
	env->nonce.data = nonce_buf;
	env->nonce.len = XR_NONCE_LEN;
	env->ts_ms = xr_now_ms();
	return XR_OK;
}
