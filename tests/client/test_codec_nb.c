/*
 * tests/client/test_codec_nb.c — client/codec_nb.c: the nanopb envelope
 * codec agrees byte for byte with protobuf-c (core/codec.c) in both
 * directions, the payload is a zero-copy view into the input, fields over
 * their nanopb bounds are MALFORMED, and every truncation and bit flip of a
 * valid envelope gives a clean result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "codec.h"
#include "codec_nb.h"
#include "frame.h"
#include "keys.h"
#include "nb_ref.h"
#include "rx.h"
#include "../xr_xorshift.h"

#define BIG_PAYLOAD (64 * 1024)

static const uint8_t SESSION[XR_SESSION_ID_LEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t NONCE[XR_NONCE_LEN] = {
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
static const uint8_t TRACE[XR_NONCE_LEN] = {
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
	0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f };

struct fx {
	xr_auth *auth;
	uint8_t *payload;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t master[XR_MASTER_LEN];
	xr_keyset ks;

	assert_non_null(f);
	for (size_t i = 0; i < sizeof(master); i++)
		master[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(xr_keys_derive(master, sizeof(master),
	    XR_KDF_HKDF_SHA256, &ks), XR_OK);
	assert_non_null(f->auth = xr_auth_new(&ks));
	xr_keyset_wipe(&ks);
	assert_non_null(f->payload = malloc(BIG_PAYLOAD));
	for (size_t i = 0; i < BIG_PAYLOAD; i++)
		f->payload[i] = (uint8_t)(i * 31 + (i >> 8));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	xr_auth_free(f->auth);
	free(f->payload);
	free(f);
	return 0;
}

/* A nanopb envelope with every field set. */
static execrpc_v1_Envelope *
nb_full_env(void)
{
	execrpc_v1_Envelope *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->version = 1;
	e->kind = execrpc_v1_Kind_KIND_REQUEST;
	memcpy(e->nonce.bytes, NONCE, sizeof(NONCE));
	e->nonce.size = sizeof(NONCE);
	e->ts_ms = xr_now_ms();
	memcpy(e->session_id.bytes, SESSION, sizeof(SESSION));
	e->session_id.size = sizeof(SESSION);
	e->sequence = 5;
	memcpy(e->trace_id.bytes, TRACE, sizeof(TRACE));
	e->trace_id.size = sizeof(TRACE);
	strcpy(e->reply_to, "ingress-1");
	strcpy(e->target, "execution");
	e->headers_count = 2;
	strcpy(e->headers[0].key, "x-a");
	strcpy(e->headers[0].value, "alpha");
	strcpy(e->headers[1].key, "x-b");
	strcpy(e->headers[1].value, "beta");
	e->call_id = 0x123456789aULL;
	strcpy(e->method, "echo.v1.Echo/Say");
	e->timeout_ms = 2500;
	e->has_status = true;
	e->status.code = execrpc_v1_StatusCode_STATUS_NOT_FOUND;
	strcpy(e->status.message, "no such thing");
	return e;
}

/* Seal with nanopb; returns the frame (malloc'd) and its length. */
static uint8_t *
nb_seal(xr_auth *a, xr_dir d, execrpc_v1_Envelope *e, const uint8_t *pl,
    size_t plen, size_t *total)
{
	size_t env_len;
	uint8_t *buf;

	assert_int_equal(xr_nb_env_size(e, pl, plen, &env_len), XR_OK);
	*total = xr_frame_wire_len(env_len);
	assert_non_null(buf = malloc(*total));
	assert_int_equal(xr_nb_seal(a, d, e, pl, plen, env_len, buf), XR_OK);
	assert_int_equal(xr_frame_get_len(buf), *total - XR_FRAME_PREFIX_LEN);
	return buf;
}

static void
bin_eq(const ProtobufCBinaryData *b, const uint8_t *p, size_t n)
{
	assert_int_equal(b->len, n);
	if (n > 0)
		assert_memory_equal(b->data, p, n);
}

/* nanopb -> protobuf-c: same fields, same payload bytes. */
static void
test_nanopb_to_protobufc(void **state)
{
	struct fx *f = *state;
	execrpc_v1_Envelope *e = nb_full_env();
	const uint8_t *env, *tag;
	size_t total, env_len, tag_len;
	Execrpc__V1__Envelope *pe;
	uint8_t *buf;

	buf = nb_seal(f->auth, XR_DIR_WEB_TO_EXEC, e, f->payload, BIG_PAYLOAD,
	    &total);
	assert_int_equal(xr_frame_split(buf + 4, total - 4, &env, &env_len,
	    &tag, &tag_len), XR_OK);
	assert_int_equal(tag_len, XR_TAG_LEN);
	assert_int_equal(xr_auth_verify(f->auth, XR_DIR_WEB_TO_EXEC, env,
	    env_len, tag, tag_len), XR_OK);
	pe = execrpc__v1__envelope__unpack(NULL, env_len, env);
	assert_non_null(pe);
	assert_int_equal(pe->version, 1);
	assert_int_equal(pe->kind, EXECRPC__V1__KIND__KIND_REQUEST);
	bin_eq(&pe->nonce, NONCE, sizeof(NONCE));
	assert_int_equal(pe->ts_ms, e->ts_ms);
	bin_eq(&pe->session_id, SESSION, sizeof(SESSION));
	assert_int_equal(pe->sequence, 5);
	bin_eq(&pe->ack_nonce, NULL, 0);
	bin_eq(&pe->trace_id, TRACE, sizeof(TRACE));
	assert_string_equal(pe->reply_to, "ingress-1");
	assert_string_equal(pe->target, "execution");
	assert_int_equal(pe->n_headers, 2);
	assert_string_equal(pe->headers[0]->key, "x-a");
	assert_string_equal(pe->headers[0]->value, "alpha");
	assert_string_equal(pe->headers[1]->key, "x-b");
	assert_string_equal(pe->headers[1]->value, "beta");
	assert_int_equal(pe->call_id, 0x123456789aULL);
	assert_string_equal(pe->method, "echo.v1.Echo/Say");
	assert_int_equal(pe->timeout_ms, 2500);
	assert_non_null(pe->status);
	assert_int_equal(pe->status->code, 5);
	assert_string_equal(pe->status->message, "no such thing");
	bin_eq(&pe->payload, f->payload, BIG_PAYLOAD);
	execrpc__v1__envelope__free_unpacked(pe, NULL);

	/* and through the server's pipeline with the protobuf-c decoder */
	{
		xr_codec *c = xr_codec_new();
		xr_env_decoder dec = xr_codec_decoder(c);
		xr_rx rx;
		xr_session sess;
		xr_env_view view;

		memset(&rx, 0, sizeof(rx));
		rx.auth = f->auth;
		rx.dir = XR_DIR_WEB_TO_EXEC;
		rx.kind_mask = XR_KIND_BIT(XR_KIND_REQUEST);
		rx.ttl_ms = 30000;
		rx.max_body = xr_frame_max_body(1048576);
		memset(&sess, 0, sizeof(sess));
		sess.state = XR_SESSION_OPEN;
		memcpy(sess.id, SESSION, sizeof(SESSION));
		sess.peer_seq = 4;
		assert_int_equal(xr_rx_frame(&rx, &sess, buf + 4, total - 4,
		    xr_now_ms(), &dec, &view), XR_OK);
		assert_int_equal(xr_codec_envelope(c)->payload.len, BIG_PAYLOAD);
		assert_int_equal(sess.peer_seq, 5);
		xr_codec_free(c);
	}
	free(buf);
	free(e);
}

/* A protobuf-c envelope with every field set (strings borrowed). */
struct pc_env {
	Execrpc__V1__Envelope e;
	Execrpc__V1__Status st;
	Execrpc__V1__Header h[9];
	Execrpc__V1__Header *hp[9];
	uint8_t nonce[XR_NONCE_LEN];
};

static void
pc_full_env(struct pc_env *p, const uint8_t *pl, size_t plen)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(xr_codec_env_init(&p->e, XR_KIND_RESPONSE, p->nonce),
	    XR_OK);
	p->e.session_id.data = (uint8_t *)SESSION;
	p->e.session_id.len = sizeof(SESSION);
	p->e.sequence = 9;
	p->e.trace_id.data = (uint8_t *)TRACE;
	p->e.trace_id.len = sizeof(TRACE);
	p->e.reply_to = (char *)"r";
	p->e.target = (char *)"t";
	for (int i = 0; i < 9; i++) {
		execrpc__v1__header__init(&p->h[i]);
		p->h[i].key = (char *)"k";
		p->h[i].value = (char *)"v";
		p->hp[i] = &p->h[i];
	}
	p->e.headers = p->hp;
	p->e.n_headers = 1;
	p->e.call_id = 77;
	p->e.method = (char *)"echo.v1.Echo/Say";
	execrpc__v1__status__init(&p->st);
	p->st.code = EXECRPC__V1__STATUS_CODE__STATUS_OK;
	p->st.message = (char *)"fine";
	p->e.status = &p->st;
	p->e.payload.data = (uint8_t *)pl;
	p->e.payload.len = plen;
}

static uint8_t *
pc_seal(xr_auth *a, xr_dir d, const Execrpc__V1__Envelope *e, size_t *total)
{
	size_t cap = xr_codec_sealed_len(e);
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	assert_int_equal(xr_codec_seal(a, d, e, buf, cap, total), XR_OK);
	return buf;
}

static void
client_rx(xr_rx *rx, xr_session *sess, xr_auth *a, uint64_t peer_seq)
{
	memset(rx, 0, sizeof(*rx));
	rx->auth = a;
	rx->dir = XR_DIR_EXEC_TO_WEB;
	rx->kind_mask = XR_KIND_BIT(XR_KIND_RESPONSE) |
	    XR_KIND_BIT(XR_KIND_HELLO_ACK) | XR_KIND_BIT(XR_KIND_GOAWAY) |
	    XR_KIND_BIT(XR_KIND_PONG);
	rx->ttl_ms = 30000;
	rx->max_body = xr_frame_max_body(1048576);
	memset(sess, 0, sizeof(*sess));
	sess->state = XR_SESSION_OPEN;
	memcpy(sess->id, SESSION, sizeof(SESSION));
	sess->peer_seq = peer_seq;
}

/* protobuf-c -> nanopb through xr_rx_frame: zero-copy payload view. */
static void
test_protobufc_to_nanopb(void **state)
{
	struct fx *f = *state;
	struct pc_env *p = calloc(1, sizeof(*p));
	xr_nb_dec *d = calloc(1, sizeof(*d));
	xr_env_decoder dec = xr_nb_decoder(d);
	xr_env_view view;
	xr_session sess;
	xr_rx rx;
	size_t total;
	uint8_t *buf;

	assert_non_null(p);
	assert_non_null(d);
	pc_full_env(p, f->payload, BIG_PAYLOAD);
	buf = pc_seal(f->auth, XR_DIR_EXEC_TO_WEB, &p->e, &total);
	client_rx(&rx, &sess, f->auth, 0);
	assert_int_equal(xr_rx_frame(&rx, &sess, buf + 4, total - 4,
	    xr_now_ms(), &dec, &view), XR_OK);
	assert_int_equal(view.kind, XR_KIND_RESPONSE);
	assert_int_equal(view.sequence, 9);
	assert_int_equal(view.nonce_len, XR_NONCE_LEN);
	assert_memory_equal(view.nonce, p->nonce, XR_NONCE_LEN);
	assert_int_equal(view.session_id_len, XR_SESSION_ID_LEN);
	assert_int_equal(d->env.call_id, 77);
	assert_string_equal(d->env.method, "echo.v1.Echo/Say");
	assert_true(d->env.has_status);
	assert_int_equal(d->env.status.code, 0);
	assert_string_equal(d->env.status.message, "fine");
	assert_int_equal(d->env.headers_count, 1);
	assert_string_equal(d->env.headers[0].key, "k");
	assert_int_equal(d->env.trace_id.size, XR_NONCE_LEN);
	/* the payload is a view into the frame, not a copy */
	assert_int_equal(d->payload_len, BIG_PAYLOAD);
	assert_true(d->payload > buf && d->payload + d->payload_len <= buf + total);
	assert_memory_equal(d->payload, f->payload, BIG_PAYLOAD);
	assert_int_equal(sess.peer_seq, 9);
	assert_int_equal(rx.counters.accepted, 1);
	free(buf);
	free(d);
	free(p);
}

/* An envelope without payload decodes with a NULL view. */
static void
test_empty_payload(void **state)
{
	struct fx *f = *state;
	execrpc_v1_Envelope *e = nb_full_env();
	xr_nb_dec *d = calloc(1, sizeof(*d));
	const uint8_t *env, *tag;
	size_t total, env_len, tag_len;
	xr_env_view view;
	uint8_t *buf;

	buf = nb_seal(f->auth, XR_DIR_WEB_TO_EXEC, e, NULL, 0, &total);
	assert_int_equal(xr_frame_split(buf + 4, total - 4, &env, &env_len,
	    &tag, &tag_len), XR_OK);
	assert_int_equal(xr_nb_decode(d, env, env_len, &view), XR_OK);
	assert_null(d->payload);
	assert_int_equal(d->payload_len, 0);
	assert_string_equal(d->env.method, "echo.v1.Echo/Say");
	free(buf);
	free(d);
	free(e);
}

enum mutation {
	M_NONCE = 0, M_SESSION, M_ACK, M_TRACE, M_REPLY_TO, M_TARGET,
	M_METHOD, M_HEADERS, M_HKEY, M_HVALUE, M_STATUS_MSG, M_COUNT
};

static char *
str_of(size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

/*
 * Apply mutation `m` at its nanopb bound (`over` 0: must decode) or one past
 * it (`over` 1: MALFORMED), then decode with nanopb directly and through the
 * client pipeline.
 */
static void
check_mutation(struct fx *f, int m, int over)
{
	struct pc_env *p = calloc(1, sizeof(*p));
	xr_nb_dec *d = calloc(1, sizeof(*d));
	xr_env_decoder dec = xr_nb_decoder(d);
	uint8_t big[32];
	char *s = NULL;
	xr_env_view view;
	xr_session sess;
	xr_rx rx;
	size_t total, env_len, tag_len, nbytes = 16 + (size_t)over;
	const uint8_t *env, *tag;
	uint8_t *buf;
	int want = over ? XR_ERR_MALFORMED : XR_OK;

	memset(big, 0x5a, sizeof(big));
	pc_full_env(p, (const uint8_t *)"pl", 2);
	switch (m) {
	case M_NONCE:
		p->e.nonce.data = big;
		p->e.nonce.len = nbytes;
		break;
	case M_SESSION:
		p->e.session_id.data = big;
		p->e.session_id.len = nbytes;
		break;
	case M_ACK:
		p->e.ack_nonce.data = big;
		p->e.ack_nonce.len = nbytes;
		break;
	case M_TRACE:
		p->e.trace_id.data = big;
		p->e.trace_id.len = nbytes;
		break;
	case M_REPLY_TO:
		p->e.reply_to = s = str_of(63 + (size_t)over);
		break;
	case M_TARGET:
		p->e.target = s = str_of(63 + (size_t)over);
		break;
	case M_METHOD:
		p->e.method = s = str_of(127 + (size_t)over);
		break;
	case M_HEADERS:
		p->e.n_headers = 8 + (size_t)over;
		break;
	case M_HKEY:
		p->h[0].key = s = str_of(63 + (size_t)over);
		break;
	case M_HVALUE:
		p->h[0].value = s = str_of(255 + (size_t)over);
		break;
	case M_STATUS_MSG:
		p->st.message = s = str_of(255 + (size_t)over);
		break;
	}
	buf = pc_seal(f->auth, XR_DIR_EXEC_TO_WEB, &p->e, &total);
	assert_int_equal(xr_frame_split(buf + 4, total - 4, &env, &env_len,
	    &tag, &tag_len), XR_OK);
	if (xr_nb_decode(d, env, env_len, &view) != want)
		fail_msg("mutation %d over %d: nanopb decode", m, over);
	client_rx(&rx, &sess, f->auth, 0);
	/* session-shaped fields at their bound are fine for nanopb but a
	 * 16-byte ack_nonce etc. is still a valid frame for the pipeline */
	if (over) {
		assert_int_equal(xr_rx_frame(&rx, &sess, buf + 4, total - 4,
		    xr_now_ms(), &dec, &view), XR_ERR_MALFORMED);
		assert_int_equal(rx.counters.rejects[XR_REJECT_MALFORMED], 1);
		assert_null(d->payload);
	} else if (m != M_SESSION) {
		assert_int_equal(xr_rx_frame(&rx, &sess, buf + 4, total - 4,
		    xr_now_ms(), &dec, &view), XR_OK);
	}
	free(s);
	free(buf);
	free(d);
	free(p);
}

static void
test_oversized_fields(void **state)
{
	for (int m = 0; m < M_COUNT; m++) {
		check_mutation(*state, m, 0);
		check_mutation(*state, m, 1);
	}
}

/* Field 16 with the wrong wire type cannot give a view: MALFORMED. */
static void
test_payload_wrong_wiretype(void **state)
{
	static const uint8_t env[] = { 0x08, 0x01, 0x80, 0x01, 0x05 };
	static const uint8_t env32[] = { 0x08, 0x01, 0x85, 0x01, 1, 2, 3, 4 };
	xr_nb_dec *d = calloc(1, sizeof(*d));
	xr_env_view view;
	uint8_t *copy;

	(void)state;
	copy = malloc(sizeof(env));
	memcpy(copy, env, sizeof(env));
	assert_int_equal(xr_nb_decode(d, copy, sizeof(env), &view),
	    XR_ERR_MALFORMED);
	free(copy);
	copy = malloc(sizeof(env32));
	memcpy(copy, env32, sizeof(env32));
	assert_int_equal(xr_nb_decode(d, copy, sizeof(env32), &view),
	    XR_ERR_MALFORMED);
	free(copy);
	free(d);
}

/* Decode `len` bytes from an exact-size heap copy (ASan sees overreads). */
static int
decode_exact(xr_nb_dec *d, const uint8_t *src, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	xr_env_view view;
	int r;

	assert_non_null(copy);
	memcpy(copy, src, len);
	r = xr_nb_decode(d, copy, len, &view);
	if (r == XR_OK) {
		assert_true(view.nonce_len <= XR_NONCE_LEN);
		assert_true(view.session_id_len <= XR_SESSION_ID_LEN);
		assert_true(view.ack_nonce_len <= XR_NONCE_LEN);
		if (d->payload != NULL)
			assert_true(d->payload >= copy &&
			    d->payload + d->payload_len <= copy + len);
	} else {
		assert_int_equal(r, XR_ERR_MALFORMED);
		assert_null(d->payload);
	}
	free(copy);
	return r;
}

/* Every truncation and every bit flip: a clean result, never a crash. */
static void
test_truncate_and_flip(void **state)
{
	struct fx *f = *state;
	execrpc_v1_Envelope *e = nb_full_env();
	xr_nb_dec *d = calloc(1, sizeof(*d));
	xr_env_decoder dec = xr_nb_decoder(d);
	const uint8_t *env, *tag;
	size_t total, env_len, tag_len, ok = 0, bad = 0;
	xr_env_view view;
	xr_session sess;
	xr_rx rx;
	uint8_t *buf, *body;

	e->kind = execrpc_v1_Kind_KIND_RESPONSE;
	buf = nb_seal(f->auth, XR_DIR_EXEC_TO_WEB, e, f->payload, 300, &total);
	assert_int_equal(xr_frame_split(buf + 4, total - 4, &env, &env_len,
	    &tag, &tag_len), XR_OK);
	assert_int_equal(decode_exact(d, env, env_len), XR_OK);
	assert_int_equal(d->payload_len, 300);

	for (size_t cut = 0; cut < env_len; cut++) {
		if (decode_exact(d, env, cut) == XR_OK)
			ok++;
		else
			bad++;
	}
	assert_true(bad > 0);
	for (size_t bit = 0; bit < env_len * 8; bit++) {
		uint8_t *m = malloc(env_len);

		memcpy(m, env, env_len);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		(void)decode_exact(d, m, env_len);
		free(m);
	}
	/* the pipeline never gets past the tag for a cut or flipped frame */
	client_rx(&rx, &sess, f->auth, 0);
	for (size_t cut = 0; cut < total - 4; cut++) {
		body = malloc(cut ? cut : 1);
		memcpy(body, buf + 4, cut);
		assert_int_equal(xr_rx_frame(&rx, &sess, body, cut,
		    xr_now_ms(), &dec, &view), XR_ERR_BAD_SIGNATURE);
		free(body);
	}
	for (size_t bit = 0; bit < (total - 4) * 8; bit += 7) {
		body = malloc(total - 4);
		memcpy(body, buf + 4, total - 4);
		body[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(xr_rx_frame(&rx, &sess, body, total - 4,
		    xr_now_ms(), &dec, &view), XR_ERR_BAD_SIGNATURE);
		free(body);
	}
	assert_int_equal(rx.counters.accepted, 0);
	/* the intact frame still passes */
	assert_int_equal(xr_rx_frame(&rx, &sess, buf + 4, total - 4,
	    xr_now_ms(), &dec, &view), XR_OK);
	(void)ok;
	free(buf);
	free(d);
	free(e);
}

/* Serialized forms of a few envelopes, from every field set to none. */
#define N_SHAPES 5

static size_t
shape(int k, uint8_t *out, size_t cap, const uint8_t *pl)
{
	execrpc_v1_Envelope *e = k == 0 ? nb_full_env() :
	    calloc(1, sizeof(*e));
	size_t len = 0;

	assert_non_null(e);
	switch (k) {
	case 1:		/* nothing at all: the empty message */
		break;
	case 2:		/* a bare RESPONSE with a status */
		e->kind = execrpc_v1_Kind_KIND_RESPONSE;
		e->has_status = true;
		e->status.code = execrpc_v1_StatusCode_STATUS_UNAVAILABLE;
		break;
	case 3:		/* one header, a method, a zero-code status */
		e->headers_count = 1;
		strcpy(e->headers[0].key, "k");
		e->call_id = 9;
		strcpy(e->method, "m.S/M");
		e->has_status = true;
		break;
	case 4:		/* the handshake fields only */
		e->version = 1;
		e->kind = execrpc_v1_Kind_KIND_HELLO_ACK;
		memcpy(e->ack_nonce.bytes, NONCE, sizeof(NONCE));
		e->ack_nonce.size = sizeof(NONCE);
		break;
	}
	assert_int_equal(xr_nb_encode(e, k == 0 ? pl : NULL, k == 0 ? 40 : 0,
	    out, cap, &len), XR_OK);
	free(e);
	return len;
}

/* Re-encode what a decode left in `d`, with its payload view. */
static size_t
reencode(xr_nb_dec *d, uint8_t *out, size_t cap)
{
	size_t len = 0;

	assert_int_equal(xr_nb_encode(&d->env, d->payload, d->payload_len,
	    out, cap, &len), XR_OK);
	return len;
}

/* xr_nb_decode resets the fields itself and skips nanopb's initialisation:
 * decoding any envelope over any earlier one leaves exactly what a fresh
 * pb_decode() gives (same view, same payload, same re-encoded bytes). The
 * reset lists every field: Envelope must still have 16 and Status 2. */
static void
test_decode_over_earlier(void **state)
{
	struct fx *f = *state;
	static uint8_t in[N_SHAPES][1024];
	size_t n[N_SHAPES];
	xr_nb_dec *d = calloc(1, sizeof(*d)), *fresh = calloc(1, sizeof(*fresh));

	assert_non_null(d);
	assert_non_null(fresh);
	assert_int_equal(execrpc_v1_Envelope_msg.field_count, 16);
	assert_int_equal(execrpc_v1_Status_msg.field_count, 2);
	for (int k = 0; k < N_SHAPES; k++)
		n[k] = shape(k, in[k], sizeof(in[k]), f->payload);
	assert_int_equal(n[1], 0);
	for (int a = 0; a < N_SHAPES; a++) {
		for (int b = 0; b < N_SHAPES; b++) {
			uint8_t want[1024], got[1024];
			xr_env_view va, vb;
			size_t wl, gl;
			pb_istream_t s = pb_istream_from_buffer(in[b], n[b]);

			assert_int_equal(xr_nb_decode(d, in[a], n[a], &va),
			    XR_OK);
			assert_int_equal(xr_nb_decode(d, in[b], n[b], &vb),
			    XR_OK);
			/* the reference: nanopb's own initialising decode
			 * into a struct of nothing but 0xa5 bytes */
			memset(fresh, 0xa5, sizeof(*fresh));
			fresh->payload = NULL;
			fresh->payload_len = 0;
			fresh->env.payload.funcs.decode = NULL;
			fresh->env.payload.arg = NULL;
			assert_true(pb_decode(&s, execrpc_v1_Envelope_fields,
			    &fresh->env));
			if (b == 0) {	/* the payload field was skipped */
				fresh->payload = in[b] + n[b] - 40;
				fresh->payload_len = 40;
			}
			assert_int_equal(d->payload_len, fresh->payload_len);
			assert_ptr_equal(d->payload, fresh->payload);
			wl = reencode(fresh, want, sizeof(want));
			gl = reencode(d, got, sizeof(got));
			assert_int_equal(gl, wl);
			assert_int_equal(wl, n[b]);
			assert_memory_equal(got, want, wl);
			assert_memory_equal(got, in[b], wl);
			assert_int_equal(vb.kind, fresh->env.kind);
			assert_int_equal(vb.version, fresh->env.version);
			assert_int_equal(vb.nonce_len, fresh->env.nonce.size);
			assert_int_equal(vb.ack_nonce_len,
			    fresh->env.ack_nonce.size);
		}
	}
	free(d);
	free(fresh);
}

/* ---- the field-by-field codec against nanopb's own pb_encode/pb_decode ---- */

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t
rnd(void)
{
	return xr_xorshift(&rng);
}

/* A value for a varint field: 0, small, or up to 64 bits. */
static uint64_t
rnd_varint(void)
{
	switch (rnd() % 4) {
	case 0:
		return 0;
	case 1:
		return rnd() % 200;
	case 2:
		return rnd() >> (rnd() % 64);
	default:
		return rnd();
	}
}

static void
rnd_str(char *s, size_t cap)
{
	size_t n = rnd() % 3 == 0 ? 0 : (size_t)(rnd() % cap);	/* < cap */

	for (size_t i = 0; i < n; i++)
		s[i] = (char)(1 + rnd() % 255);
	s[n] = '\0';
}

#define RND_BYTES(f) do {						\
	(f).size = (pb_size_t)(rnd() % 2 ? 0 : rnd() % (sizeof((f).bytes) + 1)); \
	for (size_t i_ = 0; i_ < sizeof((f).bytes); i_++)		\
		(f).bytes[i_] = (uint8_t)rnd();				\
} while (0)

/* An envelope with a random subset of its fields set to random values. */
static void
rnd_env(execrpc_v1_Envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->version = (uint32_t)rnd_varint();
	e->kind = (execrpc_v1_Kind)(int32_t)rnd_varint();
	RND_BYTES(e->nonce);
	e->ts_ms = rnd_varint();
	RND_BYTES(e->session_id);
	e->sequence = rnd_varint();
	RND_BYTES(e->ack_nonce);
	RND_BYTES(e->trace_id);
	rnd_str(e->reply_to, sizeof(e->reply_to));
	rnd_str(e->target, sizeof(e->target));
	e->headers_count = (pb_size_t)(rnd() % 2 ? 0 : rnd() % 9);
	for (pb_size_t i = 0; i < e->headers_count; i++) {
		rnd_str(e->headers[i].key, sizeof(e->headers[i].key));
		rnd_str(e->headers[i].value, sizeof(e->headers[i].value));
	}
	e->call_id = rnd_varint();
	rnd_str(e->method, sizeof(e->method));
	e->timeout_ms = (uint32_t)rnd_varint();
	e->has_status = rnd() % 2;
	if (e->has_status) {
		e->status.code = (execrpc_v1_StatusCode)(int32_t)rnd_varint();
		rnd_str(e->status.message, sizeof(e->status.message));
	}
}

/* nanopb's own encoder into `out`: the bytes written, 0 when it refuses
 * (`*ok` says which). */
static size_t
ref_encode(execrpc_v1_Envelope *e, const uint8_t *pl, size_t plen,
    uint8_t *out, size_t cap, int *ok)
{
	pb_ostream_t s = pb_ostream_from_buffer(out, cap);

	*ok = nb_ref_encode(e, pl, plen, &s);
	return s.bytes_written;
}

/* Both decoders on `len` bytes of `in` (an exact-size heap copy): the same
 * verdict, and when both accept, the same fields (re-encoded by nanopb)
 * and the same payload view. Returns the verdict. */
static int
same_decode(xr_nb_dec *d, execrpc_v1_Envelope *ref, const uint8_t *src,
    size_t len)
{
	uint8_t *in = malloc(len ? len : 1);
	static uint8_t a[8192], b[8192];
	nb_ref_pl pl;
	xr_env_view v;
	int want, got, oka, okb;
	size_t na, nb;

	assert_non_null(in);
	memcpy(in, src, len);
	want = nb_ref_decode(ref, in, len, &pl);
	got = xr_nb_decode(d, in, len, &v) == XR_OK;
	assert_int_equal(got, want);
	if (got) {
		assert_ptr_equal(d->payload, pl.p);
		assert_int_equal(d->payload_len, pl.len);
		na = ref_encode(ref, pl.p, pl.len, a, sizeof(a), &oka);
		nb = ref_encode(&d->env, d->payload, d->payload_len, b,
		    sizeof(b), &okb);
		assert_true(oka);
		assert_true(okb);
		assert_int_equal(nb, na);
		assert_memory_equal(b, a, na);
		assert_int_equal(v.kind, (uint32_t)ref->kind);
		assert_int_equal(v.sequence, ref->sequence);
	} else
		assert_null(d->payload);
	free(in);
	return got;
}

/* xr_nb_encode / xr_nb_env_size write exactly pb_encode()'s bytes for
 * random envelopes, and refuse exactly what it refuses (nine headers, an
 * unterminated string, a bytes field over its size, no room). */
static void
test_encode_matches_nanopb(void **state)
{
	struct fx *f = *state;
	execrpc_v1_Envelope *e = calloc(1, sizeof(*e));
	static uint8_t want[8192], got[8192];

	assert_non_null(e);
	assert_int_equal(execrpc_v1_Envelope_msg.field_count, 16);
	assert_int_equal(execrpc_v1_Status_msg.field_count, 2);
	assert_int_equal(execrpc_v1_Header_msg.field_count, 2);
	for (int i = 0; i < 3000; i++) {
		size_t plen = rnd() % 3 ? (size_t)(rnd() % 300) : 0, n, sz;
		int ok, bad = (int)(rnd() % 8);

		rnd_env(e);
		if (bad == 1)
			e->headers_count = 9;
		else if (bad == 2)
			memset(e->method, 'm', sizeof(e->method));
		else if (bad == 3)
			e->trace_id.size = 17;
		else if (bad == 4)
			memset(e->status.message, 's', sizeof(e->status.message));
		n = ref_encode(e, f->payload, plen, want, sizeof(want), &ok);
		if (!ok) {
			assert_int_equal(xr_nb_encode(e, f->payload, plen, got,
			    sizeof(got), &sz), XR_ERR_NO_SPACE);
			assert_int_equal(xr_nb_env_size(e, f->payload, plen,
			    &sz), XR_ERR_INTERNAL);
			continue;
		}
		assert_int_equal(xr_nb_env_size(e, f->payload, plen, &sz),
		    XR_OK);
		assert_int_equal(sz, n);
		assert_int_equal(xr_nb_encode(e, f->payload, plen, got,
		    sizeof(got), &sz), XR_OK);
		assert_int_equal(sz, n);
		assert_memory_equal(got, want, n);
		if (n > 0)	/* one byte short: no room */
			assert_int_equal(xr_nb_encode(e, f->payload, plen, got,
			    n - 1, &sz), XR_ERR_NO_SPACE);
	}
	free(e);
}

/* xr_nb_decode accepts and refuses what pb_decode() does, with the same
 * result, on random envelopes, every truncation and bit flip of them, and
 * random edits (bytes set, inserted, deleted; varints made huge; wire
 * types changed; tags of unknown fields). */
static void
test_decode_matches_nanopb(void **state)
{
	struct fx *f = *state;
	execrpc_v1_Envelope *e = calloc(1, sizeof(*e));
	execrpc_v1_Envelope *ref = calloc(1, sizeof(*ref));
	xr_nb_dec *d = calloc(1, sizeof(*d));
	static uint8_t in[8192], m[8300];
	size_t accepted = 0, refused = 0;

	assert_non_null(e);
	assert_non_null(ref);
	assert_non_null(d);
	for (int i = 0; i < 300; i++) {
		size_t plen = rnd() % 3 ? (size_t)(rnd() % 200) : 0, n;
		int ok;

		rnd_env(e);
		n = ref_encode(e, f->payload, plen, in, sizeof(in), &ok);
		assert_true(ok);
		assert_true(same_decode(d, ref, in, n));
		for (size_t cut = 0; cut < n; cut += 1 + (i % 3))
			(void)same_decode(d, ref, in, cut);
		for (size_t bit = i % 5; bit < n * 8; bit += 5) {
			memcpy(m, in, n);
			m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (same_decode(d, ref, m, n))
				accepted++;
			else
				refused++;
		}
		for (int k = 0; k < 40 && n > 0; k++) {
			size_t at = (size_t)(rnd() % n), ml = n, run;

			memcpy(m, in, n);
			switch (rnd() % 5) {
			case 0:		/* a byte set */
				m[at] = (uint8_t)rnd();
				break;
			case 1:		/* bytes inserted */
				run = 1 + (size_t)(rnd() % 12);
				memmove(m + at + run, m + at, n - at);
				for (size_t j = 0; j < run; j++)
					m[at + j] = (uint8_t)rnd();
				ml = n + run;
				break;
			case 2:		/* bytes deleted */
				run = 1 + (size_t)(rnd() % (n - at));
				memmove(m + at, m + at + run, n - at - run);
				ml = n - run;
				break;
			case 3:		/* a continuation bit: varints grow */
				m[at] |= 0x80;
				break;
			default:	/* a tag: another wire type or field */
				m[at] = (uint8_t)((rnd() % 20) << 3 | rnd() % 8);
				break;
			}
			if (same_decode(d, ref, m, ml))
				accepted++;
			else
				refused++;
		}
	}
	/* both verdicts were exercised, many times */
	assert_true(accepted > 1000);
	assert_true(refused > 1000);
	free(e);
	free(ref);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nanopb_to_protobufc,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_protobufc_to_nanopb,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_payload,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_fields,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_wrong_wiretype,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_and_flip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_over_earlier,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_encode_matches_nanopb,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_matches_nanopb,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
