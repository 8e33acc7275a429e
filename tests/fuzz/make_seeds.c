/*
 * tests/fuzz/make_seeds.c — write the generated seed inputs of the frame
 * targets into OUTDIR (a build step; nothing here is committed):
 *
 *   OUTDIR/rx/NAME.bin          control byte + sealed frame body (fuzz_rx)
 *   OUTDIR/nanopb_env/NAME.bin  serialized envelopes (fuzz_nanopb_env)
 *
 * Envelopes are built with protobuf-c and sealed with xr_codec_seal() under
 * the fixed test key of fuzz_common.h, ts = XF_NOW, fixed nonces, so the
 * output is byte-for-byte deterministic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "codec.h"
#include "frame.h"
#include "fuzz_common.h"
#include "rx.h"

static const char *outdir;
static xr_auth *auth;

static _Noreturn void
fail(const char *what)
{
	fprintf(stderr, "make_seeds: %s\n", what);
	exit(1);
}

static void
mkdir_p(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		fail(path);
}

static void
write_file(const char *sub, const char *name, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(a, 1, alen, f) != alen ||
	    (blen > 0 && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0)
		fail(path);
}

struct env {
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];
	uint8_t trace[16];
	uint8_t ack[XR_NONCE_LEN];
	Execrpc__V1__Header h[2];
	Execrpc__V1__Header *hp[2];
	Execrpc__V1__Status st;
};

static void
env_init(struct env *v, uint32_t kind, uint8_t nonce_fill)
{
	memset(v, 0, sizeof(*v));
	execrpc__v1__envelope__init(&v->e);
	memset(v->nonce, nonce_fill, sizeof(v->nonce));
	memset(v->trace, 0x77, sizeof(v->trace));
	v->e.version = XR_PROTOCOL_VERSION;
	v->e.kind = (Execrpc__V1__Kind)kind;
	v->e.nonce.data = v->nonce;
	v->e.nonce.len = sizeof(v->nonce);
	v->e.ts_ms = XF_NOW;
	v->e.trace_id.data = v->trace;
	v->e.trace_id.len = sizeof(v->trace);
}

static void
env_session(struct env *v, uint64_t seq)
{
	v->e.session_id.data = (uint8_t *)xf_session;
	v->e.session_id.len = sizeof(xf_session);
	v->e.sequence = seq;
}

static void
env_call(struct env *v, uint64_t call_id, const char *method,
    const char *payload)
{
	size_t i;

	v->e.call_id = call_id;
	v->e.method = (char *)method;
	v->e.timeout_ms = 5000;
	v->e.target = (char *)"execution";
	for (i = 0; i < 2; i++) {
		execrpc__v1__header__init(&v->h[i]);
		v->hp[i] = &v->h[i];
	}
	v->h[0].key = (char *)"x-request-id";
	v->h[0].value = (char *)"r-1";
	v->h[1].key = (char *)"grpc-timeout";
	v->h[1].value = (char *)"5S";
	v->e.n_headers = 2;
	v->e.headers = v->hp;
	v->e.payload.data = (uint8_t *)payload;
	v->e.payload.len = strlen(payload);
}

/* fuzz_rx seed: control byte + the frame body, signed web->exec. */
static void
rx_seed(const char *name, uint8_t ctl, const struct env *v)
{
	size_t cap = xr_codec_sealed_len(&v->e), len;
	uint8_t *out = malloc(cap);

	if (out == NULL ||
	    xr_codec_seal(auth, XR_DIR_WEB_TO_EXEC, &v->e, out, cap, &len) !=
	    XR_OK || len != cap)
		fail("seal");
	write_file("rx", name, &ctl, 1, out + XR_FRAME_PREFIX_LEN,
	    len - XR_FRAME_PREFIX_LEN);
	free(out);
}

/* fuzz_nanopb_env seed: the envelope bytes. */
static void
env_seed(const char *name, const struct env *v)
{
	size_t len = execrpc__v1__envelope__get_packed_size(&v->e);
	uint8_t *out = malloc(len ? len : 1);

	if (out == NULL || execrpc__v1__envelope__pack(&v->e, out) != len)
		fail("pack");
	write_file("nanopb_env", name, out, len, NULL, 0);
	free(out);
}

int
main(int argc, char **argv)
{
	char sub[1024];
	xr_keyset ks;
	struct env v;

	if (argc != 2)
		fail("usage: make_seeds OUTDIR");
	outdir = argv[1];
	mkdir_p(outdir);
	snprintf(sub, sizeof(sub), "%s/rx", outdir);
	mkdir_p(sub);
	snprintf(sub, sizeof(sub), "%s/nanopb_env", outdir);
	mkdir_p(sub);
	if (xr_keys_derive(xf_master, sizeof(xf_master), XR_KDF_HKDF_SHA256,
	    &ks) != XR_OK || (auth = xr_auth_new(&ks)) == NULL)
		fail("keys");
	xr_keyset_wipe(&ks);

	/* HELLO: opens a session, no session id; payload Hello{client_name} */
	env_init(&v, XR_KIND_HELLO, 0x11);
	v.e.payload.data = (uint8_t *)"\x0a\x04web1";
	v.e.payload.len = 6;
	rx_seed("hello.bin", 0, &v);
	rx_seed("hello_resign.bin", XF_RX_RESIGN, &v);
	env_seed("hello.bin", &v);

	/* REQUEST in the open session, sequence 1 */
	env_init(&v, XR_KIND_REQUEST, 0x22);
	env_session(&v, 1);
	env_call(&v, 7, "echo.v1.Echo/Say", "\x0a\x05hello");
	rx_seed("request.bin", XF_RX_OPEN, &v);
	rx_seed("request_resign.bin", XF_RX_OPEN | XF_RX_RESIGN, &v);
	rx_seed("request_replay.bin", XF_RX_OPEN | XF_RX_SEQ_SEEN |
	    XF_RX_RESIGN, &v);
	env_seed("request.bin", &v);

	/* CANCEL and PING, later sequences */
	env_init(&v, XR_KIND_CANCEL, 0x33);
	env_session(&v, 2);
	v.e.call_id = 7;
	rx_seed("cancel_resign.bin", XF_RX_OPEN | XF_RX_RESIGN, &v);
	env_init(&v, XR_KIND_PING, 0x44);
	env_session(&v, 3);
	rx_seed("ping_resign.bin", XF_RX_OPEN | XF_RX_RESIGN, &v);

	/* RESPONSE: not a server kind (rx), a client one (nanopb) */
	env_init(&v, XR_KIND_RESPONSE, 0x55);
	env_session(&v, 1);
	env_call(&v, 7, "echo.v1.Echo/Say", "\x0a\x05hello");
	execrpc__v1__status__init(&v.st);
	v.st.code = EXECRPC__V1__STATUS_CODE__STATUS_NOT_FOUND;
	v.st.message = (char *)"no such method";
	v.e.status = &v.st;
	rx_seed("response_resign.bin", XF_RX_OPEN | XF_RX_RESIGN, &v);
	env_seed("response.bin", &v);

	/* HELLO_ACK with ack_nonce, and GOAWAY (client side kinds) */
	env_init(&v, XR_KIND_HELLO_ACK, 0x66);
	env_session(&v, 1);
	memset(v.ack, 0x11, sizeof(v.ack));
	v.e.ack_nonce.data = v.ack;
	v.e.ack_nonce.len = sizeof(v.ack);
	v.e.payload.data = (uint8_t *)"\x08\x40\x10\x80\x80\x04";
	v.e.payload.len = 6;
	env_seed("hello_ack.bin", &v);
	env_init(&v, XR_KIND_GOAWAY, 0x77);
	env_session(&v, 2);
	execrpc__v1__status__init(&v.st);
	v.st.code = EXECRPC__V1__STATUS_CODE__STATUS_UNAVAILABLE;
	v.st.message = (char *)"draining";
	v.e.status = &v.st;
	env_seed("goaway.bin", &v);

	xr_auth_free(auth);
	return 0;
}
