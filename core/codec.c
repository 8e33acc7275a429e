/* core/codec.c — protobuf-c envelope decode (arena) and seal. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "keys.h"

#define ARENA_FIRST 16384
#define ARENA_ALIGN 16

struct arena_block {
	struct arena_block *next;
	size_t cap, used;
	/* data follows, aligned */
};

struct xr_codec {
	ProtobufCAllocator alloc;
	struct arena_block *blocks;	/* newest first; the last is kept */
	Execrpc__V1__Envelope *env;
};

static size_t
block_hdr(void)
{
	return (sizeof(struct arena_block) + ARENA_ALIGN - 1) &
	    ~(size_t)(ARENA_ALIGN - 1);
}

static void *
arena_alloc(void *data, size_t size)
{
	xr_codec *c = data;
	struct arena_block *b = c->blocks;
	size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

	if (need < size)
		return NULL;
	if (b == NULL || b->cap - b->used < need) {
		size_t cap = b ? b->cap * 2 : ARENA_FIRST;

		while (cap < need)
			cap *= 2;
		if ((b = malloc(block_hdr() + cap)) == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = c->blocks;
		c->blocks = b;
	}
	b->used += need;
	return (uint8_t *)b + block_hdr() + b->used - need;
}

static void
arena_free(void *data, void *p)
{
	(void)data;
	(void)p;		/* released in bulk by xr_codec_reset() */
}

/* Drop every block but the newest (the largest); wipe what was used. */
static void
arena_reset(xr_codec *c)
{
	struct arena_block *b = c->blocks, *n;

	if (b == NULL)
		return;
	for (n = b->next; n != NULL; ) {
		struct arena_block *next = n->next;

		xr_wipe((uint8_t *)n + block_hdr(), n->used);
		free(n);
		n = next;
	}
	xr_wipe((uint8_t *)b + block_hdr(), b->used);
	b->next = NULL;
	b->used = 0;
}

xr_codec *
xr_codec_new(void)
{
	xr_codec *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->alloc.alloc = arena_alloc;
	c->alloc.free = arena_free;
	c->alloc.allocator_data = c;
	return c;
}

void
xr_codec_free(xr_codec *c)
{
	if (c == NULL)
		return;
	arena_reset(c);
	free(c->blocks);
	free(c);
}

void
xr_codec_reset(xr_codec *c)
{
	c->env = NULL;
	arena_reset(c);
}

const Execrpc__V1__Envelope *
xr_codec_envelope(const xr_codec *c)
{
	return c->env;
}

ProtobufCAllocator *
xr_codec_allocator(xr_codec *c)
{
	return &c->alloc;
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
codec_decode(void *ctx, const uint8_t *env, size_t len, xr_env_view *view)
{
	xr_codec *c = ctx;

	xr_codec_reset(c);
	c->env = execrpc__v1__envelope__unpack(&c->alloc, len, env);
	if (c->env == NULL) {
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

size_t
xr_codec_sealed_len(const Execrpc__V1__Envelope *env)
{
	return xr_frame_wire_len(execrpc__v1__envelope__get_packed_size(env));
}

int
xr_codec_seal(xr_auth *a, xr_dir d, const Execrpc__V1__Envelope *env,
    uint8_t *out, size_t cap, size_t *len)
{
	size_t env_len = execrpc__v1__envelope__get_packed_size(env);
	size_t hl, total = xr_frame_wire_len(env_len);
	uint8_t tag[XR_TAG_LEN];
	int r;

	*len = 0;
	if (cap < total)
		return XR_ERR_NO_SPACE;
	hl = xr_frame_header(out, env_len);
	if (execrpc__v1__envelope__pack(env, out + hl) != env_len)
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
	if (xr_random_bytes(nonce_buf, XR_NONCE_LEN) != XR_OK)
		return XR_ERR_SYSTEM;
	env->nonce.data = nonce_buf;
	env->nonce.len = XR_NONCE_LEN;
	env->ts_ms = xr_now_ms();
	return XR_OK;
}
