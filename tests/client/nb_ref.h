/*
 * tests/client/nb_ref.h — nanopb's own Envelope codec (pb_encode() and
 * pb_decode() walking the message descriptor, the payload through its
 * callback field): the reference that client/codec_nb.c's field-by-field
 * codec is held to, byte for byte and verdict for verdict, by
 * tests/client/test_codec_nb.c and tests/fuzz/fuzz_nanopb_env.c.
 */
#ifndef XR_TESTS_NB_REF_H
#define XR_TESTS_NB_REF_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "execrpc/v1/frame.pb.h"

/* The payload: what to encode, or (decoding) the input and the view. */
typedef struct nb_ref_pl {
	const uint8_t *in;	/* decoding: the whole input */
	size_t in_len;
	const uint8_t *p;	/* the payload bytes (a view into `in`) */
	size_t len;
} nb_ref_pl;

static inline bool
nb_ref_put_payload(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	const nb_ref_pl *pl = *arg;

	return pl->len == 0 || (pb_encode_tag_for_field(s, f) &&
	    pb_encode_string(s, pl->p, pl->len));
}

/* The view as a buffer stream's callback sees it (state = next byte); a
 * non-string wire type reaches the callback from a copy on nanopb's
 * stack, not the input: refused, as codec_nb refuses it. */
static inline bool
nb_ref_get_payload(pb_istream_t *s, const pb_field_t *f, void **arg)
{
	nb_ref_pl *pl = *arg;
	const uint8_t *p = s->state;

	(void)f;
	if (p < pl->in || p + s->bytes_left > pl->in + pl->in_len)
		return false;
	pl->p = p;
	pl->len = s->bytes_left;
	return pb_read(s, NULL, s->bytes_left);
}

/* pb_encode() of `e` with the payload `p` (`len` bytes) into `s` (a
 * buffer or PB_OSTREAM_SIZING). */
static inline bool
nb_ref_encode(execrpc_v1_Envelope *e, const uint8_t *p, size_t len,
    pb_ostream_t *s)
{
	nb_ref_pl pl = { NULL, 0, p, len };
	bool ok;

	e->payload.funcs.encode = nb_ref_put_payload;
	e->payload.arg = &pl;
	ok = pb_encode(s, execrpc_v1_Envelope_fields, e);
	e->payload.funcs.encode = NULL;
	e->payload.arg = NULL;
	return ok;
}

/* pb_decode() of `len` bytes at `in` into `e` (first filled with stale
 * bytes), the payload view into `pl`. */
static inline bool
nb_ref_decode(execrpc_v1_Envelope *e, const uint8_t *in, size_t len,
    nb_ref_pl *pl)
{
	pb_istream_t s = pb_istream_from_buffer(in, len);
	bool ok;

	memset(e, 0x5a, sizeof(*e));
	memset(pl, 0, sizeof(*pl));
	pl->in = in;
	pl->in_len = len;
	e->payload.funcs.decode = nb_ref_get_payload;
	e->payload.arg = pl;
	ok = pb_decode(&s, execrpc_v1_Envelope_fields, e);
	e->payload.funcs.decode = NULL;
	e->payload.arg = NULL;
	return ok;
}

#endif /* XR_TESTS_NB_REF_H */
