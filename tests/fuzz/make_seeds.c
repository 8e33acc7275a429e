/*
 * tests/fuzz/make_seeds.c — write the generated seed inputs of the frame
 * targets into OUTDIR (a build step; nothing here is committed):
 *
 *   OUTDIR/rx/NAME.bin          control byte + sealed frame body (fuzz_rx)
 *   OUTDIR/nanopb_env/NAME.bin  serialized envelopes (fuzz_nanopb_env)
 *   OUTDIR/bundle/NAME.bin      bootstrap bundles packed by the supervisor's
 *                               own builder, xr_bundle_pack() (fuzz_bundle)
 *   OUTDIR/control/NAME.bin     control byte + framed execrpc.v1.Command
 *                               (fuzz_control)
 *
 * Envelopes are built with protobuf-c and sealed with xr_codec_seal() under
 * the fixed test key of fuzz_common.h, ts = XF_NOW, fixed nonces; bundles
 * carry the keys derived from that key and a fixed session id; so the
 * output is byte-for-byte deterministic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "bundle.h"
#include "config.h"
#include "ctl_client.h"
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

/* fuzz_bundle seeds: every worker slot of every group of the YAML config
 * `yaml`, under `kdf`, packed as spawn.c packs them. */
static void
bundle_seeds(const char *name, const char *yaml, xr_kdf kdf)
{
	static const uint8_t sid[XR_SESSION_ID_LEN] = { 0x5d, 0x5d, 0x5d };
	static const xr_service_module mods[] = {
		{ "fundload.v1.FundLoad", NULL, NULL, NULL },
		{ "echo.v1.Echo", NULL, NULL, NULL },
	};
	xr_bundle *b;
	char file[256];
	xr_config cfg;
	xr_keyset ks;
	xr_diag d;
	uint8_t *out;
	size_t len;

	if (xr_config_load_string(yaml, strlen(yaml), &cfg, &d) != XR_OK)
		fail(d.reason);
	if (xr_keys_derive(xf_master, sizeof(xf_master), kdf, &ks) != XR_OK)
		fail("keys");
	for (size_t g = 0; g < cfg.n_groups; g++)
		for (uint32_t i = 0; i < cfg.groups[g].workers && i < 2; i++) {
			if (xr_bundle_pack(&cfg, &cfg.groups[g], i, &ks, sid,
			    &out, &len) != XR_OK)
				fail("xr_bundle_pack");
			/* a seed the worker refuses would start nowhere */
			if (xr_bundle_decode(out, len, mods, 2, &b, &d) !=
			    XR_OK)
				fail(d.reason);
			xr_bundle_free(b);
			snprintf(file, sizeof(file), "%s_%s_%u.bin", name,
			    cfg.groups[g].name, i);
			write_file("bundle", file, out, len, NULL, 0);
			free(out);
		}
	xr_keyset_wipe(&ks);
	xr_config_free(&cfg);
}

/* A fuzz_control seed: control byte `ctl` + 4-byte length + `c` packed. */
static void
control_seed(const char *name, uint8_t ctl, const Execrpc__V1__Command *c)
{
	size_t len = execrpc__v1__command__get_packed_size(c);
	uint8_t *out = malloc(1 + XR_FRAME_PREFIX_LEN + len);

	if (out == NULL)
		fail("out of memory");
	out[0] = ctl;
	xr_frame_put_len(out + 1, (uint32_t)len);
	execrpc__v1__command__pack(c, out + 1 + XR_FRAME_PREFIX_LEN);
	write_file("control", name, out, 1 + XR_FRAME_PREFIX_LEN + len, NULL,
	    0);
	free(out);
}

static void
control_seeds(void)
{
	static char *ga[] = { (char *)"a" }, *gab[] = { (char *)"b",
	    (char *)"a", (char *)"b" }, *gx[] = { (char *)"nope" };
	static const uint8_t oversized[] = { 0, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t garbage[] = { 0, 0, 0, 0, 3, 0xff, 0xff, 0xff };
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;

	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS;
	control_seed("status.bin", 0, &c);
	control_seed("status_split.bin", 128, &c);
	c.n_groups = 1;
	c.groups = ga;
	control_seed("status_a.bin", 0, &c);
	c.n_groups = 3;
	c.groups = gab;
	control_seed("status_bab.bin", 255, &c);
	c.n_groups = 1;
	c.groups = gx;
	control_seed("status_unknown.bin", 0, &c);
	c.n_groups = 0;
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS;
	control_seed("stats.bin", 0, &c);
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN;
	c.n_groups = 1;
	c.groups = ga;
	control_seed("drain_a.bin", 0, &c);
	c.n_groups = 0;
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
	c.graceful_timeout_ms = 1500;
	c.drain = EXECRPC__V1__DRAIN_POLICY__DRAIN_POLICY_DRAIN;
	control_seed("stop.bin", 0, &c);
	c.n_groups = 1;
	control_seed("stop_groups.bin", 0, &c);
	c.n_groups = 0;
	c.graceful_timeout_ms = 0;
	c.drain = 0;
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL;
	c.method = (char *)"fundload.v1.FundLoad/Decide";
	c.payload.data = (uint8_t *)"\x0a\x02" "15";
	c.payload.len = 4;
	c.timeout_ms = 2000;
	c.affinity_key = (char *)"528";
	control_seed("call.bin", 0, &c);
	c.method = (char *)"echo.v1.Echo/Say";
	control_seed("call_echo.bin", 64, &c);
	c.method = (char *)"no slash";
	control_seed("call_bad_method.bin", 0, &c);
	c.method = (char *)"x.Y/Z";
	c.timeout_ms = XR_CTL_CALL_MAX_TIMEOUT_MS + 1;
	control_seed("call_long_timeout.bin", 0, &c);
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_READY;
	c.port = 4000;
	control_seed("ready.bin", 0, &c);
	write_file("control", "oversized.bin", oversized, sizeof(oversized),
	    NULL, 0);
	write_file("control", "garbage.bin", garbage, sizeof(garbage), NULL,
	    0);
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
	snprintf(sub, sizeof(sub), "%s/bundle", outdir);
	mkdir_p(sub);
	snprintf(sub, sizeof(sub), "%s/control", outdir);
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

	bundle_seeds("default", "runtime:\n  platform:\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    execution_ipc: {transport: tcp_local}\n", XR_KDF_HKDF_SHA256);
	bundle_seeds("groups", "runtime:\n  platform:\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    execution_ipc: {transport: tcp_local, bind_host: \"::1\"}\n"
	    "    process_groups:\n"
	    "      - {name: fl.main, workers: 3, services: "
	    "[fundload.v1.FundLoad, echo.v1.Echo]}\n"
	    "      - {name: echo-1, services: [echo.v1.Echo]}\n"
	    "apps:\n  fundload: {rules: experiment}\n"
	    "  other_app: {Key-1: \"multi\\nline\", empty: \"\"}\n",
	    XR_KDF_NONE);
	control_seeds();

	xr_auth_free(auth);
	return 0;
}
