/*
 * bench/bench_verify.c — cost of the receive-side security per frame.
 *
 *   bench_verify [N]        (N iterations, default 200000)
 *
 * Prints, on one line:
 *   verify_ns_per_frame      xr_auth_verify over a REQUEST envelope with a
 *                            64-byte payload
 *   rx_pipeline_ns_per_frame xr_rx_frame: verify + protobuf-c decode +
 *                            checks, OPEN session, increasing sequence,
 *                            every frame sealed beforehand
 *   seal_ns_per_frame        xr_codec_seal (pack + sign) of that envelope
 *   hmac_oneshot_ns_per_frame  baseline: mbedtls_md_hmac one-shot over the
 *                            same MAC input (label || envelope)
 *   verify_vs_hmac_ratio     verify / baseline
 *   envelope_bytes           the envelope's serialized size
 * Times come from CLOCK_MONOTONIC. Nothing is asserted about them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>

#include "auth.h"
#include "codec.h"
#include "frame.h"
#include "keys.h"
#include "rx.h"

#define NOW_MS 1700000000000ULL

static volatile unsigned sink;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what, int r)
{
	fprintf(stderr, "bench_verify: %s failed (%d %s)\n", what, r,
	    xr_err_name(r));
	exit(1);
}

int
main(int argc, char **argv)
{
	static const uint8_t trace[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	    12, 13, 14, 15, 16 };
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	Execrpc__V1__Envelope env;
	uint8_t master[XR_MASTER_LEN], nonce[XR_NONCE_LEN], payload[64];
	uint8_t tag[XR_TAG_LEN], *wire, *frames, *mac_in;
	const uint8_t *e, *t;
	size_t n = 200000, env_len, wire_len, frame_cap, len, el, tl, ll;
	uint64_t t0, t_verify, t_rx, t_seal, t_hmac;
	xr_env_decoder dec;
	xr_env_view view;
	xr_keyset ks;
	xr_session sess;
	xr_codec *codec;
	xr_auth *auth;
	xr_rx rx;
	int r;

	if (argc > 1) {
		char *end;
		unsigned long long v = strtoull(argv[1], &end, 10);

		if (*end != '\0' || v == 0) {
			fprintf(stderr, "usage: bench_verify [iterations]\n");
			return 2;
		}
		n = (size_t)v;
	}

	if ((r = xr_keys_generate_master(master)) != XR_OK)
		die("xr_keys_generate_master", r);
	if ((r = xr_keys_derive(master, sizeof(master), XR_KDF_HKDF_SHA256,
	    &ks)) != XR_OK)
		die("xr_keys_derive", r);
	xr_wipe(master, sizeof(master));
	if ((auth = xr_auth_new(&ks)) == NULL || (codec = xr_codec_new()) == NULL)
		die("setup", XR_ERR_NOMEM);

	memset(&sess, 0, sizeof(sess));
	if ((r = xr_session_open(&sess)) != XR_OK)
		die("xr_session_open", r);
	memset(payload, 0x5a, sizeof(payload));
	if ((r = xr_codec_env_init(&env, XR_KIND_REQUEST, nonce)) != XR_OK)
		die("xr_codec_env_init", r);
	env.ts_ms = NOW_MS;
	env.session_id.data = sess.id;
	env.session_id.len = XR_SESSION_ID_LEN;
	env.sequence = 1;
	env.trace_id.data = (uint8_t *)trace;
	env.trace_id.len = sizeof(trace);
	env.call_id = 1;
	env.method = "echo.v1.Echo/Say";
	env.payload.data = payload;
	env.payload.len = sizeof(payload);

	/* (c) seal */
	wire_len = xr_codec_sealed_len(&env);
	if ((wire = malloc(wire_len)) == NULL)
		die("malloc", XR_ERR_NOMEM);
	t0 = mono_ns();
	for (size_t i = 0; i < n; i++) {
		if ((r = xr_codec_seal(auth, XR_DIR_WEB_TO_EXEC, &env, wire,
		    wire_len, &len)) != XR_OK)
			die("xr_codec_seal", r);
		sink += wire[len - 1];
	}
	t_seal = mono_ns() - t0;
	if ((r = xr_frame_split(wire + XR_FRAME_PREFIX_LEN,
	    wire_len - XR_FRAME_PREFIX_LEN, &e, &el, &t, &tl)) != XR_OK)
		die("xr_frame_split", r);
	env_len = el;
	memcpy(tag, t, sizeof(tag));

	/* (a) verify alone */
	t0 = mono_ns();
	for (size_t i = 0; i < n; i++) {
		if ((r = xr_auth_verify(auth, XR_DIR_WEB_TO_EXEC, e, el, tag,
		    sizeof(tag))) != XR_OK)
			die("xr_auth_verify", r);
		sink += (unsigned)r;
	}
	t_verify = mono_ns() - t0;

	/* baseline: one-shot HMAC-SHA256 over the same MAC input */
	ll = strlen(xr_dir_label(XR_DIR_WEB_TO_EXEC));
	if ((mac_in = malloc(ll + el)) == NULL)
		die("malloc", XR_ERR_NOMEM);
	memcpy(mac_in, xr_dir_label(XR_DIR_WEB_TO_EXEC), ll);
	memcpy(mac_in + ll, e, el);
	t0 = mono_ns();
	for (size_t i = 0; i < n; i++) {
		uint8_t out[32];

		if (mbedtls_md_hmac(md, ks.k[XR_DIR_WEB_TO_EXEC].b,
		    ks.k[XR_DIR_WEB_TO_EXEC].len, mac_in, ll + el, out) != 0)
			die("mbedtls_md_hmac", XR_ERR_INTERNAL);
		sink += out[0];
	}
	t_hmac = mono_ns() - t0;

	/* (b) the pipeline: n distinct frames (sequence 1..n), sealed first */
	frame_cap = wire_len + 16;	/* sequence varints grow */
	if ((frames = malloc(frame_cap * n)) == NULL)
		die("malloc", XR_ERR_NOMEM);
	for (size_t i = 0; i < n; i++) {
		size_t fl;

		env.sequence = i + 1;
		if ((r = xr_codec_seal(auth, XR_DIR_WEB_TO_EXEC, &env,
		    frames + i * frame_cap, frame_cap, &fl)) != XR_OK)
			die("xr_codec_seal", r);
	}
	memset(&rx, 0, sizeof(rx));
	rx.auth = auth;
	rx.dir = XR_DIR_WEB_TO_EXEC;
	rx.kind_mask = XR_KIND_BIT(XR_KIND_HELLO) |
	    XR_KIND_BIT(XR_KIND_REQUEST) | XR_KIND_BIT(XR_KIND_CANCEL) |
	    XR_KIND_BIT(XR_KIND_PING);
	rx.ttl_ms = 30000;
	rx.max_body = xr_frame_max_body(1048576);
	dec = xr_codec_decoder(codec);
	t0 = mono_ns();
	for (size_t i = 0; i < n; i++) {
		const uint8_t *f = frames + i * frame_cap;

		if ((r = xr_rx_check_len(&rx, xr_frame_get_len(f))) != XR_OK ||
		    (r = xr_rx_frame(&rx, &sess, f + XR_FRAME_PREFIX_LEN,
		    xr_frame_get_len(f), NOW_MS, &dec, &view)) != XR_OK)
			die("xr_rx_frame", r);
		sink += (unsigned)view.sequence;
	}
	t_rx = mono_ns() - t0;
	if (rx.counters.accepted != n)
		die("accepted count", XR_ERR_INTERNAL);

	printf("verify_ns_per_frame=%.1f rx_pipeline_ns_per_frame=%.1f "
	    "seal_ns_per_frame=%.1f envelope_bytes=%zu "
	    "hmac_oneshot_ns_per_frame=%.1f verify_vs_hmac_ratio=%.3f "
	    "iterations=%zu\n",
	    (double)t_verify / (double)n, (double)t_rx / (double)n,
	    (double)t_seal / (double)n, env_len, (double)t_hmac / (double)n,
	    (double)t_verify / (double)t_hmac, n);

	xr_keyset_wipe(&ks);
	xr_wipe(mac_in, ll + el);
	free(mac_in);
	free(frames);
	free(wire);
	xr_codec_free(codec);
	xr_auth_free(auth);
	return 0;
}
