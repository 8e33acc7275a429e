/*
 * bench/bench_codec.c — the envelope codecs against the libraries' own,
 * in one run, on the REQUEST and RESPONSE envelopes of a 64-byte echo.
 *
 *   bench_codec [N]        (N iterations per figure, default 2000000)
 *
 * Prints, one figure per line, in nanoseconds per envelope:
 *   client_encode / nanopb_encode   xr_nb_encode() of the REQUEST against
 *                                   pb_encode() on its descriptor
 *   client_decode / nanopb_decode   xr_nb_decode() of the RESPONSE against
 *                                   pb_decode() (tests/client/nb_ref.h)
 *   server_pack / protobufc_pack    xr_codec_packed_size() + xr_codec_pack()
 *                                   of the RESPONSE against protobuf-c's
 *                                   get_packed_size() + pack()
 * and each pair's ratio. Each pair runs interleaved, three rounds, the
 * median kept. The outputs are checked equal once before timing.
 * A benchmark prints figures; it asserts nothing about time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "codec_nb.h"
#include "nb_ref.h"

#define ROUNDS 3

static uint8_t payload[66];
static volatile size_t sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The client's REQUEST, as tcp.c fills it. */
static void
nb_request(execrpc_v1_Envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->version = 1;
	e->kind = execrpc_v1_Kind_KIND_REQUEST;
	e->nonce.size = 16;
	memset(e->nonce.bytes, 0x11, 16);
	e->ts_ms = 1764760000123ULL;
	e->session_id.size = 16;
	memset(e->session_id.bytes, 0x22, 16);
	e->sequence = 123456;
	e->trace_id.size = 16;
	memset(e->trace_id.bytes, 0x33, 16);
	e->call_id = 77777;
	strcpy(e->method, "echo.v1.Echo/Say");
	e->timeout_ms = 5000;
}

/* The server's RESPONSE, as conn.c fills it. */
static void
pc_response(Execrpc__V1__Envelope *e, Execrpc__V1__Status *st,
    uint8_t *bytes)
{
	execrpc__v1__envelope__init(e);
	execrpc__v1__status__init(st);
	memset(bytes, 0x44, 32);
	e->version = 1;
	e->kind = EXECRPC__V1__KIND__KIND_RESPONSE;
	e->nonce.data = bytes;
	e->nonce.len = 16;
	e->ts_ms = 1764760000456ULL;
	e->session_id.data = bytes + 16;
	e->session_id.len = 16;
	e->sequence = 123457;
	e->call_id = 77777;
	e->status = st;
	e->payload.data = payload;
	e->payload.len = sizeof(payload);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

enum op { CL_ENC, NB_ENC, CL_DEC, NB_DEC, SV_PACK, PC_PACK, N_OPS };

static const char *const names[N_OPS] = {
	"client_encode", "nanopb_encode", "client_decode", "nanopb_decode",
	"server_pack", "protobufc_pack",
};

struct fix {
	execrpc_v1_Envelope req;
	Execrpc__V1__Envelope resp;
	Execrpc__V1__Status st;
	uint8_t resp_bytes[32];
	uint8_t resp_wire[512];
	size_t req_len, resp_len;
	uint8_t out[512];
	xr_nb_dec dec;
	execrpc_v1_Envelope ref;
};

/* One op `n` times; ns per op. */
static double
run(struct fix *f, enum op op, long n)
{
	double t0 = now_ns();
	xr_env_view v;
	nb_ref_pl pl;
	size_t len;

	for (long i = 0; i < n; i++) {
		switch (op) {
		case CL_ENC:
			f->req.sequence = 123456 + (uint64_t)(i & 1023);
			(void)xr_nb_encode(&f->req, payload, sizeof(payload),
			    f->out, sizeof(f->out), &len);
			break;
		case NB_ENC: {
			pb_ostream_t s = pb_ostream_from_buffer(f->out,
			    sizeof(f->out));

			f->req.sequence = 123456 + (uint64_t)(i & 1023);
			(void)nb_ref_encode(&f->req, payload, sizeof(payload),
			    &s);
			len = s.bytes_written;
			break;
		}
		case CL_DEC:
			(void)xr_nb_decode(&f->dec, f->resp_wire, f->resp_len,
			    &v);
			len = f->dec.payload_len;
			break;
		case NB_DEC:
			(void)nb_ref_decode(&f->ref, f->resp_wire, f->resp_len,
			    &pl);
			len = pl.len;
			break;
		case SV_PACK:
			f->resp.sequence = 123457 + (uint64_t)(i & 1023);
			len = xr_codec_packed_size(&f->resp);
			len += xr_codec_pack(&f->resp, f->out);
			break;
		default:
			f->resp.sequence = 123457 + (uint64_t)(i & 1023);
			len = execrpc__v1__envelope__get_packed_size(&f->resp);
			len += execrpc__v1__envelope__pack(&f->resp, f->out);
			break;
		}
		sink += len;
	}
	return (now_ns() - t0) / (double)n;
}

/* The codecs agree before anything is timed. */
static int
check(struct fix *f)
{
	uint8_t a[512];
	size_t la, lb;
	pb_ostream_t s = pb_ostream_from_buffer(a, sizeof(a));
	xr_env_view v;
	nb_ref_pl pl;

	if (xr_nb_encode(&f->req, payload, sizeof(payload), f->out,
	    sizeof(f->out), &la) != XR_OK || !nb_ref_encode(&f->req, payload,
	    sizeof(payload), &s) || s.bytes_written != la ||
	    memcmp(a, f->out, la) != 0)
		return -1;
	f->req_len = la;
	lb = xr_codec_pack(&f->resp, f->out);
	if (lb != f->resp_len || memcmp(f->out, f->resp_wire, lb) != 0)
		return -1;
	if (xr_nb_decode(&f->dec, f->resp_wire, f->resp_len, &v) != XR_OK ||
	    !nb_ref_decode(&f->ref, f->resp_wire, f->resp_len, &pl) ||
	    pl.len != f->dec.payload_len || pl.p != f->dec.payload)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	static struct fix f;
	double t[N_OPS][ROUNDS], med[N_OPS];

	if (n <= 0) {
		fprintf(stderr, "usage: bench_codec [iterations]\n");
		return 64;
	}
	memset(payload, 'x', sizeof(payload));
	nb_request(&f.req);
	pc_response(&f.resp, &f.st, f.resp_bytes);
	f.resp_len = execrpc__v1__envelope__pack(&f.resp, f.resp_wire);
	if (check(&f) != 0) {
		fprintf(stderr, "bench_codec: the codecs disagree\n");
		return 1;
	}
	for (int r = 0; r < ROUNDS; r++)
		for (int op = 0; op < N_OPS; op++)
			t[op][r] = run(&f, (enum op)op, n);
	for (int op = 0; op < N_OPS; op++) {
		qsort(t[op], ROUNDS, sizeof(double), cmp_d);
		med[op] = t[op][ROUNDS / 2];
		printf("%s_ns=%.1f\n", names[op], med[op]);
	}
	printf("client_encode_vs_nanopb=%.2f client_decode_vs_nanopb=%.2f "
	    "server_pack_vs_protobufc=%.2f\n", med[CL_ENC] / med[NB_ENC],
	    med[CL_DEC] / med[NB_DEC], med[SV_PACK] / med[PC_PACK]);
	printf("request_bytes=%zu response_bytes=%zu iterations=%ld\n",
	    f.req_len, f.resp_len, n);
	return 0;
}
