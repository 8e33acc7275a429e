/*
 * tests/python/c_client.c — the C client library (libexecrpc-client) as a
 * command, for the tests that run it against the Python test endpoint
 * (tests/python/test_c_client.py).
 *
 *   c_client SECRET_FILE PORT echo HEXTEXT
 *       one echo.v1.Echo/Say of the text (hex on the command line, so any
 *       bytes pass), timeout 5 s
 *   c_client SECRET_FILE PORT deadline DELAY_MS TIMEOUT_MS
 *       Say with delay_ms DELAY_MS and a deadline of TIMEOUT_MS
 *   c_client SECRET_FILE PORT many N
 *       N Say calls in flight at once ("0".."N-1"), each answer checked
 *
 * The secret file is read as the endpoint reads one (xr_keys_load_file),
 * kdf hkdf_sha256. Prints one line, `code=C ms=MS text=HEX msg=MESSAGE`
 * (many: `code=0 ok=K of=N`, code the first failure's), exits 0 when it
 * could run the call (whatever its status), 2 on usage or setup errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "execrpc/client.h"
#include "execrpc/echo/v1/echo.pb.h"

#define SAY "echo.v1.Echo/Say"

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
unhex(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 >= cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (char)v;
	}
	out[n / 2] = '\0';
	return 0;
}

static void
print_hex(const char *s)
{
	for (; *s != '\0'; s++)
		printf("%02x", (unsigned char)*s);
}

static int
call_say(xr_channel *ch, const echo_v1_SayRequest *req, uint32_t timeout_ms)
{
	static echo_v1_SayResponse resp;
	xr_status st;
	uint64_t t0 = mono_ms();
	int code;

	memset(&resp, 0, sizeof(resp));
	code = xr_call_sync(ch, SAY, echo_v1_SayRequest_fields, req,
	    echo_v1_SayResponse_fields, &resp, timeout_ms, &st);
	printf("code=%d ms=%llu text=", code,
	    (unsigned long long)(mono_ms() - t0));
	if (code == 0)
		print_hex(resp.text);
	printf(" msg=%s\n", st.message);
	return 0;
}

typedef struct many_state {
	int done, ok, first_fail;
	char want[16];
} many_state;

static many_state *many_all;

static void
many_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	many_state *m = arg;
	echo_v1_SayResponse r = echo_v1_SayResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(resp, len);

	many_all->done++;
	if (st->code == 0 && pb_decode(&is, echo_v1_SayResponse_fields, &r) &&
	    strcmp(r.text, m->want) == 0)
		many_all->ok++;
	else if (many_all->first_fail == 0)
		many_all->first_fail = st->code != 0 ? st->code : 13;
}

static int
many(xr_channel *ch, struct event_base *base, int n)
{
	many_state total = { 0 };
	many_state *calls = calloc((size_t)n, sizeof(*calls));

	if (calls == NULL)
		return 2;
	many_all = &total;
	for (int i = 0; i < n; i++) {
		echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
		uint8_t buf[64];
		pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));

		snprintf(calls[i].want, sizeof(calls[i].want), "%d", i);
		snprintf(req.text, sizeof(req.text), "%d", i);
		req.delay_ms = (uint32_t)(i % 7) * 10;	/* answers out of order */
		if (!pb_encode(&os, echo_v1_SayRequest_fields, &req))
			return 2;
		(void)xr_call_start(ch, SAY, buf, os.bytes_written, 10000,
		    many_cb, &calls[i]);
	}
	while (total.done < n)
		event_base_loop(base, EVLOOP_ONCE);
	printf("code=%d ok=%d of=%d\n", total.first_fail, total.ok, n);
	free(calls);
	return 0;
}

static int
run(xr_channel *ch, struct event_base *base, int argc, char **argv)
{
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;

	if (strcmp(argv[3], "echo") == 0 && argc == 5) {
		if (unhex(argv[4], req.text, sizeof(req.text)) != 0)
			return 2;
		return call_say(ch, &req, 5000);
	}
	if (strcmp(argv[3], "deadline") == 0 && argc == 6) {
		snprintf(req.text, sizeof(req.text), "slow");
		req.delay_ms = (uint32_t)strtoul(argv[4], NULL, 10);
		return call_say(ch, &req, (uint32_t)strtoul(argv[5], NULL, 10));
	}
	if (strcmp(argv[3], "many") == 0 && argc == 5)
		return many(ch, base, atoi(argv[4]));
	return 2;
}

int
main(int argc, char **argv)
{
	uint8_t master[XR_SECRET_MAX];
	size_t mlen = 0;
	xr_keyset ks;
	xr_diag d;
	struct event_base *base;
	xr_channel *ch;
	xr_channel_opts o = { .host = "127.0.0.1", .client_name = "c_client" };
	int rc;

	if (argc < 5) {
		fprintf(stderr, "usage: c_client SECRET_FILE PORT echo|deadline|many ARGS\n");
		return 2;
	}
	if (xr_keys_load_file(argv[1], master, sizeof(master), &mlen, &d) != XR_OK ||
	    xr_keys_derive(master, mlen, XR_KDF_HKDF_SHA256, &ks) != XR_OK) {
		fprintf(stderr, "c_client: cannot load the secret\n");
		return 2;
	}
	xr_wipe(master, sizeof(master));
	o.port = (uint16_t)atoi(argv[2]);
	o.max_payload_bytes = 65536;
	base = event_base_new();
	ch = base != NULL ? xr_channel_new_tcp_diag(base, &o, &ks, &d) : NULL;
	xr_keyset_wipe(&ks);
	if (ch == NULL) {
		fprintf(stderr, "c_client: no channel\n");
		return 2;
	}
	rc = run(ch, base, argc, argv);
	fflush(stdout);
	xr_channel_free(ch);
	event_base_free(base);
	return rc;
}
