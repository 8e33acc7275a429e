/*
 * tests/fuzz/fuzz_rx.c — core/rx.c xr_rx_frame() with the protobuf-c
 * decoder (core/codec.c), server-side policy (receives web->exec, server
 * kinds, HELLO opens a session).
 *
 * Input: one control byte (fuzz_common.h XF_RX_*), then a frame body. With
 * XF_RX_RESIGN the target re-signs the envelope bytes (those the wrapper
 * yields, else the whole rest) with the test key, so the steps after the tag
 * (decode, version, kind, ttl, replay) see mutated envelopes too.
 *
 * Invariants (abort() on violation):
 *  - the result is XR_OK or one of the pipeline's reject codes, and exactly
 *    that step's counter (or `accepted`) moved by one;
 *  - a body whose tag does not independently verify is never accepted: it
 *    is BAD_SIGNATURE (or OVERSIZED); a body whose tag verifies is never
 *    BAD_SIGNATURE;
 *  - on a reject nothing stays decoded; on XR_OK the envelope is there, the
 *    view matches it and every checked field is in range (version 1, 16-byte
 *    nonce, kind in the whitelist, session id exactly when not HELLO, ts
 *    within the ttl, session OPEN with its id after HELLO-free frames).
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "codec.h"
#include "frame.h"
#include "fuzz_common.h"
#include "rx.h"
#include "fuzz_check.h"

#define SERVER_KINDS (XR_KIND_BIT(XR_KIND_HELLO) | \
    XR_KIND_BIT(XR_KIND_REQUEST) | XR_KIND_BIT(XR_KIND_CANCEL) | \
    XR_KIND_BIT(XR_KIND_PING))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xr_auth *auth;
static xr_codec *codec;
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
	codec = xr_codec_new();
	CHECK(auth != NULL && codec != NULL);
}

/* A new exact-size body: Frame{envelope = env, tag = sign(env)}. */
static uint8_t *
resign(const uint8_t *env, size_t env_len, size_t *body_len)
{
	size_t wire = xr_frame_wire_len(env_len), hl;
	uint8_t hdr[XR_FRAME_HEADER_MAX], tag[XR_TAG_LEN], *b;

	hl = xr_frame_header(hdr, env_len);
	*body_len = wire - XR_FRAME_PREFIX_LEN;
	CHECK(*body_len == hl - XR_FRAME_PREFIX_LEN + env_len +
	    XR_FRAME_TRAILER_LEN);
	CHECK((b = malloc(*body_len)) != NULL);
	memcpy(b, hdr + XR_FRAME_PREFIX_LEN, hl - XR_FRAME_PREFIX_LEN);
	if (env_len > 0)
		memcpy(b + hl - XR_FRAME_PREFIX_LEN, env, env_len);
	CHECK(xr_auth_sign(auth, XR_DIR_WEB_TO_EXEC, env, env_len, tag) ==
	    XR_OK);
	xr_frame_trailer(b + hl - XR_FRAME_PREFIX_LEN + env_len, tag);
	return b;
}

/* Touch every byte the decoded envelope points at (ASan checks). */
static unsigned
walk(const Execrpc__V1__Envelope *e)
{
	unsigned h = 0;
	size_t i;

	for (i = 0; i < e->payload.len; i++)
		h += e->payload.data[i];
	for (i = 0; i < e->trace_id.len; i++)
		h += e->trace_id.data[i];
	h += (unsigned)strlen(e->method) + (unsigned)strlen(e->target) +
	    (unsigned)strlen(e->reply_to);
	for (i = 0; i < e->n_headers; i++)
		h += (unsigned)strlen(e->headers[i]->key) +
		    (unsigned)strlen(e->headers[i]->value);
	if (e->status != NULL)
		h += (unsigned)strlen(e->status->message);
	return h;
}

static int
counters_moved_once(const xr_rx_counters *before, const xr_rx_counters *after,
    int r)
{
	int idx = r == XR_OK ? -1 : xr_err_reject_index(r), i;

	if (r != XR_OK && idx < 0)
		return 0;
	if (after->accepted != before->accepted + (r == XR_OK))
		return 0;
	for (i = 0; i < XR_REJECT_COUNT; i++)
		if (after->rejects[i] != before->rejects[i] + (i == idx))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *body, *env, *tag;
	size_t len, env_len, tag_len;
	uint8_t *owned = NULL, ctl;
	xr_env_decoder dec;
	xr_env_view view;
	xr_session sess, sess_before;
	xr_rx_counters before;
	xr_rx rx;
	int r, tag_ok;

	if (size < 1)
		return 0;
	init_once();
	ctl = data[0];
	body = data + 1;
	len = size - 1;
	if (ctl & XF_RX_RESIGN) {
		if (xr_frame_split(body, len, &env, &env_len, &tag, &tag_len) !=
		    XR_OK) {
			env = body;
			env_len = len;
		}
		body = owned = resign(env, env_len, &len);
	}

	memset(&sess, 0, sizeof(sess));
	if (ctl & XF_RX_OPEN) {
		sess.state = XR_SESSION_OPEN;
		memcpy(sess.id, xf_session, sizeof(sess.id));
		sess.peer_seq = (ctl & XF_RX_SEQ_SEEN) ? 1 : 0;
	}
	memcpy(&sess_before, &sess, sizeof(sess));

	memset(&rx, 0, sizeof(rx));
	rx.auth = auth;
	rx.dir = XR_DIR_WEB_TO_EXEC;
	rx.kind_mask = SERVER_KINDS;
	rx.open_kind_mask = XR_KIND_BIT(XR_KIND_HELLO);
	rx.ttl_ms = XF_TTL;
	rx.max_body = xr_frame_max_body(XF_MAX_PAYLOAD);
	CHECK((rx.nonces = xr_nonce_cache_new(16, XF_TTL)) != NULL);
	before = rx.counters;
	dec = xr_codec_decoder(codec);

	/* the tag, judged independently of the pipeline */
	tag_ok = xr_frame_split(body, len, &env, &env_len, &tag, &tag_len) ==
	    XR_OK && xr_auth_verify(auth, XR_DIR_WEB_TO_EXEC, env, env_len,
	    tag, tag_len) == XR_OK;

	memset(&view, 0xa5, sizeof(view));
	r = xr_rx_frame(&rx, &sess, body, len, XF_NOW, &dec, &view);

	CHECK(counters_moved_once(&before, &rx.counters, r));
	if (len > rx.max_body)
		CHECK(r == XR_ERR_OVERSIZED);
	else if (!tag_ok)
		CHECK(r == XR_ERR_BAD_SIGNATURE);
	else
		CHECK(r != XR_ERR_BAD_SIGNATURE && r != XR_ERR_OVERSIZED);
	if (ctl & XF_RX_RESIGN)
		CHECK(tag_ok || len > rx.max_body);

	if (r != XR_OK) {
		CHECK(xr_codec_envelope(codec) == NULL);
		CHECK(memcmp(&sess, &sess_before, sizeof(sess)) == 0);
	} else {
		const Execrpc__V1__Envelope *e = xr_codec_envelope(codec);
		xr_env_view again;
		uint64_t skew;

		CHECK(e != NULL);
		xr_codec_view(e, &again);
		CHECK(memcmp(&again, &view, sizeof(view)) == 0);
		CHECK(view.version == XR_PROTOCOL_VERSION);
		CHECK(view.nonce_len == XR_NONCE_LEN);
		CHECK(view.kind <= XR_KIND_MAX &&
		    (SERVER_KINDS & XR_KIND_BIT(view.kind)) != 0);
		CHECK((view.kind == XR_KIND_HELLO) ==
		    (view.session_id_len == 0));
		CHECK(view.session_id_len == 0 ||
		    view.session_id_len == XR_SESSION_ID_LEN);
		CHECK(view.ack_nonce_len == 0 ||
		    view.ack_nonce_len == XR_NONCE_LEN);
		skew = view.ts_ms > XF_NOW ? view.ts_ms - XF_NOW :
		    XF_NOW - view.ts_ms;
		CHECK(skew <= XF_TTL);
		if (view.kind == XR_KIND_HELLO) {
			CHECK(sess_before.state == XR_SESSION_NONE);
			CHECK(xr_nonce_cache_count(rx.nonces) == 1);
		} else {
			CHECK(sess_before.state == XR_SESSION_OPEN);
			CHECK(memcmp(view.session_id, xf_session,
			    XR_SESSION_ID_LEN) == 0);
			CHECK(view.sequence > sess_before.peer_seq);
			CHECK(sess.peer_seq == view.sequence);
		}
		sink += walk(e);
		xr_codec_reset(codec);
	}

	xr_nonce_cache_free(rx.nonces);
	free(owned);
	return 0;
}
