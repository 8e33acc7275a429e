/*
 * tests/server/test_endpoint.c — the execution endpoint over real loopback
 * sockets: SEC-IPC-01..07 end to end, IPC-INT-05..07 (rejects at the
 * boundary, never reaching a handler), deadlines, cancellation, limits,
 * drain, slow peers, 1,000 calls in flight.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "cfgtab.h"
#include "echo/v1/echo.pb-c.h"
#include "frame.h"
#include "helper_srv.h"

static uint64_t
rejects_total(const xr_server_stats *st)
{
	uint64_t n = 0;

	for (int i = 0; i < XR_REJECT_COUNT; i++)
		n += st->rejects[i];
	return n;
}

/* Exactly one reject, of category `idx`, and no handler entered. */
static void
assert_one_reject(ts_server *t, int idx)
{
	assert_int_equal(t->final.rejects[idx], 1);
	assert_int_equal(rejects_total(&t->final), 1);
	assert_int_equal(t->echo_handler_calls, 0);
	assert_int_equal(t->final.calls_started, 0);
}

/* SEC-IPC-01: a validly signed call reaches its handler; payload and
 * metadata survive the round trip. */
static void
test_sec_ipc_01_valid_call_round_trip(void **state)
{
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	char text[256];
	int closed;
	uint64_t id;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	id = ts_send_say(&p, "héllo, world", 0, 5000);
	e = ts_recv(&p, 2000, &closed);
	assert_non_null(e);
	assert_int_equal(e->kind, XR_KIND_RESPONSE);
	assert_int_equal(e->call_id, id);
	assert_non_null(e->status);
	assert_int_equal(e->status->code, XR_STATUS_OK);
	ts_say_text(e, text, sizeof(text));
	assert_string_equal(text, "héllo, world");
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.echo_handler_calls, 1);
	assert_int_equal(t.final.calls_ok, 1);
	assert_int_equal(rejects_total(&t.final), 0);
}

/* SEC-IPC-02 / IPC-INT-05: a flipped tag bit is rejected in the running
 * server, the connection is closed, and no handler or queue sees it. */
static void
test_sec_ipc_02_bad_tag_closed_never_dispatched(void **state)
{
	ts_server t;
	ts_peer p;
	uint8_t *f;
	size_t len;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	f = ts_seal(&p, XR_KIND_REQUEST, "echo.v1.Echo/Say", NULL, 0, 1, 1000,
	    0, &len);
	f[len - 1] ^= 0x01;	/* last tag byte */
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_one_reject(&t, XR_REJECT_BAD_SIGNATURE);
}

/* SEC-IPC-02: a frame signed with another key is rejected. */
static void
test_sec_ipc_02_wrong_key(void **state)
{
	static const uint8_t other[32] = { 9, 9, 9 };
	ts_server t;
	ts_peer p;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, other);
	{
		size_t len;
		uint8_t *f = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0, 0,
		    &len);

		assert_int_equal(ts_send_raw(&p, f, len), 0);
		free(f);
	}
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_one_reject(&t, XR_REJECT_BAD_SIGNATURE);
}

/* SEC-IPC-03: ts outside the ttl, past and future. */
static void
test_sec_ipc_03_expired_both_directions(void **state)
{
	xr_server_opts o = { .ttl_seconds = 2 };
	ts_server t;
	int64_t skew[2] = { -3000, 3000 };

	(void)state;
	ts_server_start(&t, &o);
	for (int i = 0; i < 2; i++) {
		ts_peer p;
		size_t len;
		uint8_t *f;

		ts_peer_open(&p, t.port, ts_master);
		f = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0,
		    (uint64_t)((int64_t)xr_now_ms() + skew[i]), &len);
		assert_int_equal(ts_send_raw(&p, f, len), 0);
		free(f);
		assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
		ts_peer_close(&p);
	}
	ts_server_stop(&t);
	assert_int_equal(t.final.rejects[XR_REJECT_EXPIRED], 2);
	assert_int_equal(rejects_total(&t.final), 2);
}

/* A server with no limits set takes the config table's defaults: the
 * HELLO_ACK advertises max_payload_bytes' default, and a frame is stale
 * past ttl_seconds' default (one second short of it is still fresh). */
static void
test_option_defaults_from_config_table(void **state)
{
	const uint32_t ttl_ms = xr_cfg_default_u32(XR_CK_TTL_SECONDS) * 1000;
	Execrpc__V1__HelloAck *ack;
	const Execrpc__V1__Envelope *e;
	ts_server t;
	ts_peer p;
	uint8_t *f;
	size_t len;
	int closed;

	(void)state;
	assert_int_equal(xr_cfg_default_u32(XR_CK_MAX_PAYLOAD_BYTES), 1048576);
	assert_int_equal(ttl_ms, 30000);
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	f = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0,
	    xr_now_ms() - ttl_ms + 1000, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->kind, XR_KIND_HELLO_ACK);
	assert_non_null(ack = execrpc__v1__hello_ack__unpack(NULL,
	    e->payload.len, e->payload.data));
	assert_int_equal(ack->max_payload_bytes,
	    xr_cfg_default_u32(XR_CK_MAX_PAYLOAD_BYTES));
	execrpc__v1__hello_ack__free_unpacked(ack, NULL);
	ts_peer_close(&p);

	ts_peer_open(&p, t.port, ts_master);
	f = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0,
	    xr_now_ms() - ttl_ms - 1000, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.final.rejects[XR_REJECT_EXPIRED], 1);
}

/* SEC-IPC-04 / IPC-INT-07: a captured request replayed on the same
 * connection, and on a new connection after its own HELLO, is rejected;
 * a replayed HELLO too. The handler runs once, for the original. */
static void
test_sec_ipc_04_replay_same_and_new_connection(void **state)
{
	ts_server t;
	ts_peer p, q;
	const Execrpc__V1__Envelope *e;
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t pb[64], *req_frame, *hello;
	size_t plen, len, hlen;
	int closed;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	hello = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0, 0, &hlen);
	assert_int_equal(ts_send_raw(&p, hello, hlen), 0);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	req.text = "once";
	plen = echo__v1__say_request__pack(&req, pb);
	req_frame = ts_seal(&p, XR_KIND_REQUEST, "echo.v1.Echo/Say", pb, plen,
	    1, 5000, 0, &len);
	assert_int_equal(ts_send_raw(&p, req_frame, len), 0);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->status->code, XR_STATUS_OK);
	/* same connection */
	assert_int_equal(ts_send_raw(&p, req_frame, len), 0);
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);
	/* new connection, own session */
	ts_peer_open(&q, t.port, ts_master);
	ts_handshake(&q);
	assert_int_equal(ts_send_raw(&q, req_frame, len), 0);
	assert_int_equal(ts_wait_closed(&q, 2000, NULL), 1);
	ts_peer_close(&q);
	/* the captured HELLO on a new connection */
	ts_peer_open(&q, t.port, ts_master);
	assert_int_equal(ts_send_raw(&q, hello, hlen), 0);
	assert_int_equal(ts_wait_closed(&q, 2000, NULL), 1);
	ts_peer_close(&q);
	free(req_frame);
	free(hello);
	ts_server_stop(&t);
	assert_int_equal(t.final.rejects[XR_REJECT_REPLAY], 3);
	assert_int_equal(rejects_total(&t.final), 3);
	assert_int_equal(t.echo_handler_calls, 1);
}

/* SEC-IPC-05 / IPC-INT-06: a prefix over the limit closes the connection
 * before any body is sent or buffered. */
static void
test_sec_ipc_05_oversized_prefix(void **state)
{
	xr_server_opts o = { .max_payload_bytes = 1024 };
	ts_server t;
	ts_peer p;
	uint8_t prefix[4];

	(void)state;
	ts_server_start(&t, &o);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	xr_frame_put_len(prefix, (uint32_t)xr_frame_max_body(1024) + 1);
	assert_int_equal(ts_send_raw(&p, prefix, sizeof(prefix)), 0);
	/* nothing else is sent: the server must decide on the prefix alone */
	assert_int_equal(ts_wait_closed(&p, 1000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_one_reject(&t, XR_REJECT_OVERSIZED);
}

/* A Say of `n` bytes of text; returns the response envelope (asserts). */
static const Execrpc__V1__Envelope *
say_n(ts_peer *p, size_t n, uint64_t *id)
{
	static char text[2048];
	const Execrpc__V1__Envelope *e;
	int closed;

	assert_true(n < sizeof(text));
	memset(text, 'x', n);
	text[n] = '\0';
	*id = ts_send_say(p, text, 0, 2000);
	assert_non_null(e = ts_recv(p, 2000, &closed));
	assert_int_equal(e->call_id, *id);
	return e;
}

/* The text length whose echo response (text + this pid: the server runs
 * in this process) is `want` bytes. */
static size_t
text_for_response(size_t want)
{
	static char text[2048];
	Echo__V1__SayResponse resp = ECHO__V1__SAY_RESPONSE__INIT;

	resp.worker_pid = (uint64_t)getpid();
	for (size_t n = 0; n + 1 < sizeof(text); n++) {
		memset(text, 'x', n);
		text[n] = '\0';
		resp.text = text;
		if (echo__v1__say_response__get_packed_size(&resp) == want)
			return n;
	}
	fail_msg("no text gives a %zu-byte response", want);
	return 0;
}

/*
 * max_payload_bytes binds request and response payloads, inside the body
 * limit (a client that did not check, a handler that answers too much):
 * a request payload of 1025 -> INVALID_ARGUMENT, no handler entered; a
 * response payload of 1024 is sent, one of 1025 -> RESOURCE_EXHAUSTED
 * without payload. Neither closes the connection nor counts a reject.
 */
static void
test_payload_limit_both_directions(void **state)
{
	xr_server_opts o = { .max_payload_bytes = 1024 };
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	size_t at = text_for_response(1024);
	uint64_t id;

	(void)state;
	ts_server_start(&t, &o);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	/* request payload 1 + 2 + 1022 = 1025 */
	e = say_n(&p, 1022, &id);
	assert_int_equal(e->status->code, XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(e->status->message,
	    "request larger than max_payload_bytes");
	assert_int_equal(e->payload.len, 0);
	e = say_n(&p, at, &id);
	assert_int_equal(e->status->code, XR_STATUS_OK);
	assert_int_equal(e->payload.len, 1024);
	e = say_n(&p, at + 1, &id);
	assert_int_equal(e->status->code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(e->status->message,
	    "response larger than max_payload_bytes");
	assert_int_equal(e->payload.len, 0);
	/* the connection goes on */
	e = say_n(&p, 3, &id);
	assert_int_equal(e->status->code, XR_STATUS_OK);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.echo_handler_calls, 3);
	assert_int_equal(t.final.calls_ok, 2);
	assert_int_equal(t.final.calls_failed, 2);
	assert_int_equal(rejects_total(&t.final), 0);
}

/* SEC-IPC-06: a kind outside the endpoint whitelist (a RESPONSE sent to the
 * server), and a REQUEST where a HELLO must come first. */
static void
test_sec_ipc_06_kind_not_allowed(void **state)
{
	ts_server t;
	ts_peer p;
	uint8_t *f;
	size_t len;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	f = ts_seal(&p, XR_KIND_RESPONSE, NULL, NULL, 0, 1, 0, 0, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);

	ts_peer_open(&p, t.port, ts_master);
	/* a session-less REQUEST: only HELLO may open a session */
	{
		Execrpc__V1__Envelope e;
		uint8_t nonce[16], buf[512];
		size_t n;

		xr_codec_env_init(&e, XR_KIND_REQUEST, nonce);
		e.call_id = 1;
		e.method = "echo.v1.Echo/Say";
		assert_int_equal(xr_codec_seal(p.auth, XR_DIR_WEB_TO_EXEC, &e,
		    buf, sizeof(buf), &n), XR_OK);
		assert_int_equal(ts_send_raw(&p, buf, n), 0);
	}
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.final.rejects[XR_REJECT_KIND_NOT_ALLOWED], 2);
	assert_int_equal(rejects_total(&t.final), 2);
	assert_int_equal(t.echo_handler_calls, 0);
}

/* SEC-IPC-07: a non-loopback bind is refused; a port in use is refused as
 * a config error that names the key. */
static void
test_sec_ipc_07_loopback_only(void **state)
{
	static const char *bad[] = { "0.0.0.0", "10.0.0.1", "192.168.1.1", "::" };
	struct event_base *base = event_base_new();
	xr_registry *reg = xr_registry_new(base);
	xr_keyset ks;
	xr_diag d = { 0 };
	xr_server *s, *s2;
	xr_server_opts o = { 0 };
	char want[256];

	(void)state;
	xr_keys_derive(ts_master, 32, XR_KDF_NONE, &ks);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.bind_host = bad[i];
		memset(&d, 0, sizeof(d));
		assert_null(xr_server_new(base, &o, &ks, reg, &d));
		assert_int_equal(d.code, XR_ERR_CONFIG_INVALID);
		assert_non_null(strstr(d.reason, "bind_host"));
	}
	o.bind_host = "127.0.0.1";
	assert_non_null(s = xr_server_new(base, &o, &ks, reg, &d));
	assert_int_equal(xr_server_listen(s, &d), XR_OK);
	o.bind_port = xr_server_port(s);
	assert_non_null(s2 = xr_server_new(base, &o, &ks, reg, &d));
	assert_int_equal(xr_server_listen(s2, &d), XR_ERR_CONFIG_INVALID);
	snprintf(want, sizeof(want), "runtime.platform.execution_ipc.bind_port "
	    "%u: address already in use on 127.0.0.1 (another process listens "
	    "there: stop it, or choose another port, or 0 for an ephemeral "
	    "one)", (unsigned)o.bind_port);
	assert_string_equal(d.reason, want);
	xr_server_free(s2);
	xr_server_free(s);
	xr_keyset_wipe(&ks);
	xr_registry_free(reg);
	event_base_free(base);
}

/* Deadline carried in the envelope is enforced by the server. */
static void
test_deadline_exceeded(void **state)
{
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	uint64_t t0, dt;
	int closed;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	t0 = xr_mono_ms();
	ts_send_say(&p, "slow", 2000, 100);
	assert_non_null(e = ts_recv(&p, 3000, &closed));
	dt = xr_mono_ms() - t0;
	assert_int_equal(e->status->code, XR_STATUS_DEADLINE_EXCEEDED);
	assert_true(dt >= 100 && dt < 1000);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.final.calls_failed, 1);
}

/* CANCEL abandons the call: no response, the handler's cancel hook ran. */
static void
test_cancel(void **state)
{
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	uint8_t *f;
	size_t len;
	int closed;
	uint64_t id;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	id = ts_send_say(&p, "cancel me", 1500, 0);
	f = ts_seal(&p, XR_KIND_CANCEL, NULL, NULL, 0, id, 0, 0, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	/* a later call still works, and no response for the cancelled one */
	id = ts_send_say(&p, "after", 0, 1000);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->call_id, id);
	assert_null(ts_recv(&p, 1800, &closed));
	assert_int_equal(closed, 0);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.final.calls_cancelled, 1);
	assert_int_equal(t.final.calls_ok, 1);
}

/* A connection the server closes with calls in flight abandons every one of
 * them (40: more than the call table's first 16 slots hold, so it grew):
 * each counted as cancelled, none answered, none left to complete later. */
static void
test_close_abandons_calls_in_flight(void **state)
{
	enum { N = 40 };
	ts_server t;
	ts_peer p;
	uint8_t *f;
	size_t len;
	int frames = -1;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	for (int i = 0; i < N; i++)
		ts_send_say(&p, "held", 5000, 10000);
	/* a bad tag after them: the server closes the connection itself */
	f = ts_seal(&p, XR_KIND_REQUEST, "echo.v1.Echo/Say", NULL, 0, N + 1,
	    1000, 0, &len);
	f[len - 1] ^= 0x01;
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_int_equal(ts_wait_closed(&p, 2000, &frames), 1);
	assert_int_equal(frames, 0);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.echo_handler_calls, N);
	assert_int_equal(t.final.calls_started, N);
	assert_int_equal(t.final.calls_cancelled, N);
	assert_int_equal(t.final.calls_ok, 0);
	assert_int_equal(t.final.calls_failed, 0);
	assert_int_equal(t.final.connections_open, 0);
	assert_int_equal(t.final.rejects[XR_REJECT_BAD_SIGNATURE], 1);
	assert_int_equal(rejects_total(&t.final), 1);
}

/* Past max_inflight a call gets RESOURCE_EXHAUSTED at once. */
static void
test_inflight_limit(void **state)
{
	xr_server_opts o = { .max_inflight = 4 };
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	uint64_t ids[5];
	int closed, ok = 0;

	(void)state;
	ts_server_start(&t, &o);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	for (int i = 0; i < 5; i++)
		ids[i] = ts_send_say(&p, "x", 300, 5000);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->call_id, ids[4]);
	assert_int_equal(e->status->code, XR_STATUS_RESOURCE_EXHAUSTED);
	for (int i = 0; i < 4; i++) {
		assert_non_null(e = ts_recv(&p, 2000, &closed));
		ok += (int)e->status->code == XR_STATUS_OK;
	}
	assert_int_equal(ok, 4);
	ts_peer_close(&p);
	ts_server_stop(&t);
}

/* Drain: GOAWAY, new calls UNAVAILABLE, in-flight ones complete, then the
 * connection closes. */
static void
test_drain(void **state)
{
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	uint64_t a, b, c;
	int closed, seen_goaway = 0, ok = 0, unavailable = 0;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	a = ts_send_say(&p, "a", 400, 5000);
	b = ts_send_say(&p, "b", 400, 5000);
	usleep(100 * 1000);
	ts_server_drain(&t);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	seen_goaway = (int)e->kind == XR_KIND_GOAWAY;
	assert_true(seen_goaway);
	c = ts_send_say(&p, "c", 0, 5000);
	for (int i = 0; i < 3; i++) {
		assert_non_null(e = ts_recv(&p, 2000, &closed));
		if (e->call_id == c)
			unavailable += (int)e->status->code == XR_STATUS_UNAVAILABLE;
		else if (e->call_id == a || e->call_id == b)
			ok += (int)e->status->code == XR_STATUS_OK;
	}
	assert_int_equal(unavailable, 1);
	assert_int_equal(ok, 2);
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);
	usleep(50 * 1000);
	assert_int_equal(t.drained, 1);
	ts_server_stop(&t);
}

/* A connection that sends nothing, or a frame one byte at a time, is closed
 * by the handshake / frame timeouts. */
static void
test_slow_peers_closed(void **state)
{
	xr_server_opts o = { .handshake_timeout_ms = 200, .frame_timeout_ms = 300 };
	ts_server t;
	ts_peer p;
	uint8_t *f;
	size_t len;
	uint64_t t0;
	int closed_at_byte = -1;

	(void)state;
	ts_server_start(&t, &o);
	ts_peer_open(&p, t.port, ts_master);
	t0 = xr_mono_ms();
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	assert_true(xr_mono_ms() - t0 < 1500);
	ts_peer_close(&p);

	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	f = ts_seal(&p, XR_KIND_PING, NULL, NULL, 0, 0, 0, 0, &len);
	for (size_t i = 0; i + 1 < len; i++) {
		if (ts_send_raw(&p, f + i, 1) != 0 ||
		    ts_wait_closed(&p, 60, NULL)) {
			closed_at_byte = (int)i;
			break;
		}
	}
	free(f);
	assert_true(closed_at_byte > 0);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(rejects_total(&t.final), 0);
}

/* 1,000 concurrent calls on one connection complete, matched by call id. */
static void
test_thousand_calls_in_flight(void **state)
{
	enum { N = 1000 };
	ts_server t;
	ts_peer p;
	static char seen[N + 1];
	int closed, good = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	for (int i = 0; i < N; i++) {
		char text[32];

		snprintf(text, sizeof(text), "call-%d", i + 1);
		/* half answer later, so responses come out of order */
		assert_int_equal(ts_send_say(&p, text, (i % 2) ? 50 : 0, 10000),
		    (uint64_t)i + 1);
	}
	for (int i = 0; i < N; i++) {
		const Execrpc__V1__Envelope *e = ts_recv(&p, 5000, &closed);
		char text[32], want[32];

		assert_non_null(e);
		assert_int_equal(e->status->code, XR_STATUS_OK);
		assert_true(e->call_id >= 1 && e->call_id <= N);
		assert_int_equal(seen[e->call_id], 0);
		seen[e->call_id] = 1;
		ts_say_text(e, text, sizeof(text));
		snprintf(want, sizeof(want), "call-%d", (int)e->call_id);
		good += strcmp(text, want) == 0;
	}
	assert_int_equal(good, N);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.final.calls_ok, N);
}

/* Unknown method -> UNIMPLEMENTED; undecodable request -> INVALID_ARGUMENT. */
static void
test_unknown_method_and_bad_request(void **state)
{
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	uint8_t *f, junk[3] = { 0xff, 0xff, 0xff };
	size_t len;
	int closed;

	(void)state;
	ts_server_start(&t, NULL);
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	f = ts_seal(&p, XR_KIND_REQUEST, "nope.v1.Nope/Nope", NULL, 0, 7, 0, 0, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->call_id, 7);
	assert_int_equal(e->status->code, XR_STATUS_UNIMPLEMENTED);
	f = ts_seal(&p, XR_KIND_REQUEST, "echo.v1.Echo/Say", junk, sizeof(junk),
	    8, 0, 0, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->call_id, 8);
	assert_int_equal(e->status->code, XR_STATUS_INVALID_ARGUMENT);
	ts_peer_close(&p);
	ts_server_stop(&t);
	assert_int_equal(t.echo_handler_calls, 0);
}

/* Hostile bytes on fresh connections: random garbage frames are rejected,
 * the server survives, no handler runs. */
static void
test_hostile_garbage(void **state)
{
	ts_server t;
	uint8_t buf[600];

	(void)state;
	srand(12345);
	ts_server_start(&t, NULL);
	for (int i = 0; i < 200; i++) {
		ts_peer p;
		size_t n = (size_t)(rand() % 500) + 1;

		ts_peer_open(&p, t.port, ts_master);
		for (size_t k = 0; k < n + 4; k++)
			buf[k] = (uint8_t)rand();
		xr_frame_put_len(buf, (uint32_t)n);
		assert_int_equal(ts_send_raw(&p, buf, n + 4), 0);
		assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
		ts_peer_close(&p);
	}
	/* the server still serves */
	{
		ts_peer p;
		const Execrpc__V1__Envelope *e;
		int closed;

		ts_peer_open(&p, t.port, ts_master);
		ts_handshake(&p);
		ts_send_say(&p, "alive", 0, 1000);
		assert_non_null(e = ts_recv(&p, 2000, &closed));
		assert_int_equal(e->status->code, XR_STATUS_OK);
		ts_peer_close(&p);
	}
	ts_server_stop(&t);
	assert_int_equal(rejects_total(&t.final), 200);
	assert_int_equal(t.echo_handler_calls, 1);
}

/* Send a Say REQUEST with `call_id` and no payload on an open peer. */
static void
send_req(ts_peer *p, uint64_t call_id)
{
	size_t len;
	uint8_t *f = ts_seal(p, XR_KIND_REQUEST, "echo.v1.Echo/Say", NULL, 0,
	    call_id, 0, 0, &len);

	assert_int_equal(ts_send_raw(p, f, len), 0);
	free(f);
}

/*
 * Issue 11 defect 11: a protocol violation on an authenticated connection
 * (a REQUEST with call_id 0; a REQUEST reusing the call_id of a call still
 * in flight) closes it and counts exactly one protocol_error, no reject;
 * reusing the id of a call already answered is not a violation.
 */
static void
test_protocol_errors_counted(void **state)
{
	ts_server t;
	ts_peer p;
	const Execrpc__V1__Envelope *e;
	uint64_t id;
	int closed;

	(void)state;
	ts_server_start(&t, NULL);

	/* call_id 0 */
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	send_req(&p, 0);
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);

	/* a duplicate of a call in flight (the Say sleeps 1 s) */
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	id = ts_send_say(&p, "slow", 1000, 5000);
	send_req(&p, id);
	assert_int_equal(ts_wait_closed(&p, 2000, NULL), 1);
	ts_peer_close(&p);

	/* the id of an answered call may be used again */
	ts_peer_open(&p, t.port, ts_master);
	ts_handshake(&p);
	id = ts_send_say(&p, "a", 0, 2000);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->status->code, XR_STATUS_OK);
	p.next_call = id;
	assert_int_equal(ts_send_say(&p, "b", 0, 2000), id);
	assert_non_null(e = ts_recv(&p, 2000, &closed));
	assert_int_equal(e->call_id, id);
	assert_int_equal(e->status->code, XR_STATUS_OK);
	ts_peer_close(&p);

	ts_server_stop(&t);
	assert_int_equal(t.final.protocol_errors, 2);
	assert_int_equal(rejects_total(&t.final), 0);
	/* the slow call and the two Says; neither violating frame ran */
	assert_int_equal(t.final.calls_started, 3);
}

/* A signed REQUEST for echo.v1.Echo/Say("hi") carrying `n` headers. */
static uint8_t *
seal_headers(ts_peer *p, uint64_t call_id, const char **keys,
    const char **vals, size_t n, size_t *len)
{
	Execrpc__V1__Envelope e;
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	Execrpc__V1__Header *hs, **hp;
	uint8_t nonce[XR_NONCE_LEN], pb[16], *buf;
	size_t cap;

	req.text = "hi";
	assert_non_null(hs = calloc(n + 1, sizeof(*hs)));
	assert_non_null(hp = calloc(n + 1, sizeof(*hp)));
	for (size_t i = 0; i < n; i++) {
		execrpc__v1__header__init(&hs[i]);
		hs[i].key = (char *)(uintptr_t)keys[i];
		hs[i].value = (char *)(uintptr_t)vals[i];
		hp[i] = &hs[i];
	}
	assert_int_equal(xr_codec_env_init(&e, XR_KIND_REQUEST, nonce), XR_OK);
	e.session_id.data = p->sess.id;
	e.session_id.len = XR_SESSION_ID_LEN;
	e.sequence = xr_session_next_seq(&p->sess);
	e.method = "echo.v1.Echo/Say";
	e.call_id = call_id;
	e.payload.len = echo__v1__say_request__pack(&req, pb);
	e.payload.data = pb;
	e.n_headers = n;
	e.headers = hp;
	cap = xr_codec_sealed_len(&e);
	assert_non_null(buf = malloc(cap));
	assert_int_equal(xr_codec_seal(p->auth, XR_DIR_WEB_TO_EXEC, &e, buf,
	    cap, len), XR_OK);
	free(hp);
	free(hs);
	return buf;
}

/* Send `n` headers on a fresh authenticated connection; 1 if the call was
 * answered OK, 0 if the connection was closed without an answer. */
static int
headers_call(ts_server *t, const char **keys, const char **vals, size_t n)
{
	const Execrpc__V1__Envelope *e;
	ts_peer p;
	size_t len;
	uint8_t *f;
	int closed, ok;

	ts_peer_open(&p, t->port, ts_master);
	ts_handshake(&p);
	f = seal_headers(&p, 1, keys, vals, n, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	e = ts_recv(&p, 2000, &closed);
	if (e != NULL) {
		assert_int_equal(e->call_id, 1);
		assert_int_equal(e->status->code, XR_STATUS_OK);
		ok = 1;
	} else {
		assert_int_equal(closed, 1);
		ok = 0;
	}
	ts_peer_close(&p);
	return ok;
}

/*
 * Issue 11 defect 12: envelope headers are bounded as nanopb bounds them
 * (XR_MAX_HEADERS 8, key <= 63 bytes, value <= 255 bytes) and keys are
 * unique; a violating envelope is MALFORMED in the decode step (counted,
 * connection closed) and never reaches a handler. 8 maximal headers pass;
 * 100,000 empty ones (the 526,198 of the report, scaled to the body
 * limit) are refused.
 */
static void
test_headers_bounded(void **state)
{
	static char kk[XR_MAX_HEADERS + 1][XR_MAX_HEADER_KEY + 1];
	static char vmax[XR_MAX_HEADER_VALUE + 2];
	const char *keys[XR_MAX_HEADERS + 1], *vals[XR_MAX_HEADERS + 1];
	const char **many_k, **many_v;
	char big_k[XR_MAX_HEADER_KEY + 2], big_v[XR_MAX_HEADER_VALUE + 2];
	xr_server_opts o = { .max_payload_bytes = 1u << 20 };
	ts_server t;
	size_t many = 100000;

	(void)state;
	memset(vmax, 'v', XR_MAX_HEADER_VALUE);
	vmax[XR_MAX_HEADER_VALUE] = '\0';
	/* 9 distinct keys of 63 bytes: "<a..i>xxxx..." */
	for (size_t i = 0; i <= XR_MAX_HEADERS; i++) {
		memset(kk[i], 'x', XR_MAX_HEADER_KEY);
		kk[i][XR_MAX_HEADER_KEY] = '\0';
		kk[i][0] = (char)('a' + i);
		keys[i] = kk[i];
		vals[i] = vmax;
	}
	memset(big_k, 'k', XR_MAX_HEADER_KEY + 1);
	big_k[XR_MAX_HEADER_KEY + 1] = '\0';
	memset(big_v, 'v', XR_MAX_HEADER_VALUE + 1);
	big_v[XR_MAX_HEADER_VALUE + 1] = '\0';

	ts_server_start(&t, &o);
	/* 8 headers, maximal key and value: accepted, handled */
	assert_int_equal(headers_call(&t, keys, vals, XR_MAX_HEADERS), 1);
	/* 9 headers */
	assert_int_equal(headers_call(&t, keys, vals, XR_MAX_HEADERS + 1), 0);
	/* a duplicate key */
	{
		const char *dk[2] = { "trace", "trace" }, *dv[2] = { "1", "2" };

		assert_int_equal(headers_call(&t, dk, dv, 2), 0);
	}
	/* a 64-byte key */
	{
		const char *bk[1] = { big_k }, *bv[1] = { "v" };

		assert_int_equal(headers_call(&t, bk, bv, 1), 0);
	}
	/* a 256-byte value */
	{
		const char *bk[1] = { "k" }, *bv[1] = { big_v };

		assert_int_equal(headers_call(&t, bk, bv, 1), 0);
	}
	/* 100,000 empty headers */
	assert_non_null(many_k = calloc(many, sizeof(*many_k)));
	assert_non_null(many_v = calloc(many, sizeof(*many_v)));
	for (size_t i = 0; i < many; i++)
		many_k[i] = many_v[i] = "";
	assert_int_equal(headers_call(&t, many_k, many_v, many), 0);
	free(many_k);
	free(many_v);
	ts_server_stop(&t);

	assert_int_equal(t.final.rejects[XR_REJECT_MALFORMED], 5);
	assert_int_equal(rejects_total(&t.final), 5);
	assert_int_equal(t.final.protocol_errors, 0);
	assert_int_equal(t.final.calls_started, 1);
	assert_int_equal(t.echo_handler_calls, 1);
}

/* accept() under EMFILE pauses the listener (counted) instead of spinning,
 * and the server accepts again once descriptors are free. */
static void
test_accept_emfile_backs_off(void **state)
{
	enum { MAXC = 64 };
	ts_server t;
	struct rlimit old, low;
	int fds[MAXC], n = 0, base_fds = 0;
	struct sockaddr_in sin = { 0 };

	(void)state;
	ts_server_start(&t, NULL);
	for (int fd = 0; fd < 1024; fd++)
		base_fds += fcntl(fd, F_GETFD) != -1;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)base_fds + 9;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(t.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* connect until this process runs out of descriptors: the server's
	 * accept() then fails with EMFILE on the connections left queued */
	while (n < MAXC) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	usleep(300 * 1000);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	usleep(400 * 1000);	/* past the backoff: the listener is back */
	{
		ts_peer p;
		const Execrpc__V1__Envelope *e;
		int closed;

		ts_peer_open(&p, t.port, ts_master);
		ts_handshake(&p);
		ts_send_say(&p, "after EMFILE", 0, 1000);
		assert_non_null(e = ts_recv(&p, 2000, &closed));
		assert_int_equal(e->status->code, XR_STATUS_OK);
		ts_peer_close(&p);
	}
	ts_server_stop(&t);
	assert_true(n > 0);
	assert_true(t.final.accept_backoffs >= 1);
	/* a pause per failure burst, not a spin: bounded by elapsed/250 ms */
	assert_true(t.final.accept_backoffs <= 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sec_ipc_01_valid_call_round_trip),
		cmocka_unit_test(test_option_defaults_from_config_table),
		cmocka_unit_test(test_sec_ipc_02_bad_tag_closed_never_dispatched),
		cmocka_unit_test(test_sec_ipc_02_wrong_key),
		cmocka_unit_test(test_sec_ipc_03_expired_both_directions),
		cmocka_unit_test(test_sec_ipc_04_replay_same_and_new_connection),
		cmocka_unit_test(test_sec_ipc_05_oversized_prefix),
		cmocka_unit_test(test_payload_limit_both_directions),
		cmocka_unit_test(test_sec_ipc_06_kind_not_allowed),
		cmocka_unit_test(test_sec_ipc_07_loopback_only),
		cmocka_unit_test(test_deadline_exceeded),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_close_abandons_calls_in_flight),
		cmocka_unit_test(test_inflight_limit),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_slow_peers_closed),
		cmocka_unit_test(test_thousand_calls_in_flight),
		cmocka_unit_test(test_unknown_method_and_bad_request),
		cmocka_unit_test(test_protocol_errors_counted),
		cmocka_unit_test(test_headers_bounded),
		cmocka_unit_test(test_hostile_garbage),
		cmocka_unit_test(test_accept_emfile_backs_off),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
