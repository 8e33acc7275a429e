/* client/codec_nb.c — nanopb envelope encode/decode, zero-copy payload. */
#include "codec_nb.h"

#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "frame.h"

/* The payload being encoded: lives on the encoder's stack for one call. */
struct nb_out_payload {
	const uint8_t *p;
	size_t len;
};

/* Identifies nanopb's buffer stream: its `state` is the read pointer. */
struct nb_in_ctx {
	xr_nb_dec *d;
	bool (*buf_read)(pb_istream_t *, pb_byte_t *, size_t);
};

static bool
nb_encode_payload(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	const struct nb_out_payload *pl = *arg;

	if (pl == NULL || pl->len == 0)
		return true;	/* proto3: an empty bytes field is not sent */
	return pb_encode_tag_for_field(s, f) &&
	    pb_encode_string(s, pl->p, pl->len);
}

/*
 * Record the payload as a view into the input instead of copying it. This
 * relies on the stream being nanopb's buffer stream (state = next byte),
 * which is checked, and the view is checked to lie inside the input.
 */
static bool
nb_decode_payload(pb_istream_t *s, const pb_field_t *f, void **arg)
{
	struct nb_in_ctx *c = *arg;
	xr_nb_dec *d = c->d;
	const uint8_t *p = s->state;
	size_t n = s->bytes_left;

	(void)f;
	if (s->callback != c->buf_read || p == NULL || p < d->in ||
	    (size_t)(p - d->in) > d->in_len || n > d->in_len - (size_t)(p - d->in))
		return false;
	d->payload = p;
	d->payload_len = n;
	return pb_read(s, NULL, n);
}

/*
 * Reset every field of `e` to its proto3 default the way pb_decode() would
 * (a string or bytes field by its length or first byte, a repeated field by
 * its count, the optional status by its flag and contents), so the decode
 * can skip nanopb's generic per-field initialisation (PB_DECODE_NOINIT): a
 * third of a decode's cost. tests/client/test_codec_nb checks that a
 * decode over any earlier envelope equals a fresh one, and that Envelope
 * still has the 16 fields (Status 2) listed here.
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
	struct nb_in_ctx c;
	pb_istream_t s;

	d->payload = NULL;
	d->payload_len = 0;
	d->in = env;
	d->in_len = len;
	s = pb_istream_from_buffer(env, len);
	c.d = d;
	c.buf_read = s.callback;
	d->env.payload.funcs.decode = nb_decode_payload;
	d->env.payload.arg = &c;
	nb_env_clear(&d->env);
	if (!pb_decode_ex(&s, execrpc_v1_Envelope_fields, &d->env,
	    PB_DECODE_NOINIT)) {
		d->env.payload.arg = NULL;
		d->payload = NULL;
		d->payload_len = 0;
		return XR_ERR_MALFORMED;
	}
	d->env.payload.arg = NULL;

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
	struct nb_out_payload pl = { payload, plen };
	bool ok;

	env->payload.funcs.encode = nb_encode_payload;
	env->payload.arg = &pl;
	ok = pb_get_encoded_size(env_len, execrpc_v1_Envelope_fields, env);
	env->payload.arg = NULL;
	return ok ? XR_OK : XR_ERR_INTERNAL;
}

int
xr_nb_encode(execrpc_v1_Envelope *env, const uint8_t *payload, size_t plen,
    uint8_t *out, size_t cap, size_t *env_len)
{
	struct nb_out_payload pl = { payload, plen };
	pb_ostream_t s = pb_ostream_from_buffer(out, cap);
	bool ok;

	env->payload.funcs.encode = nb_encode_payload;
	env->payload.arg = &pl;
	ok = pb_encode(&s, execrpc_v1_Envelope_fields, env);
	env->payload.arg = NULL;
	if (!ok)
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
	struct nb_out_payload pl = { payload, plen };
	uint8_t tag[XR_TAG_LEN];
	pb_ostream_t s;
	size_t hl;
	int r = XR_ERR_INTERNAL;
	bool ok;

	hl = xr_frame_header(out, env_len);
	s = pb_ostream_from_buffer(out + hl, env_len);
	env->payload.funcs.encode = nb_encode_payload;
	env->payload.arg = &pl;
	ok = pb_encode(&s, execrpc_v1_Envelope_fields, env);
	env->payload.arg = NULL;
	if (!ok || s.bytes_written != env_len)
		goto out;
	if ((r = xr_auth_sign(a, d, out + hl, env_len, tag)) != XR_OK)
		goto out;
	xr_frame_trailer(out + hl + env_len, tag);
 out:
	xr_wipe(tag, sizeof(tag));
	return r;
}
