/*
 * tests/server/helper_srv.h — a real server in a thread, and a raw blocking
 * peer that builds, signs, sends and receives frames by hand (so tests can
 * tamper with them, replay them, or send them slowly).
 */
#ifndef TS_HELPER_SRV_H
#define TS_HELPER_SRV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "keys.h"
#include "registry.h"
#include "rx.h"
#include "server.h"

extern const uint8_t ts_master[32];

typedef struct ts_server {
	pthread_t thr;
	struct event_base *base;
	xr_registry *reg;
	xr_server *srv;
	int ctl[2];		/* pipe: 'd' drain, 'q' quit */
	struct event *ctl_ev;
	uint16_t port;
	xr_server_stats final;	/* filled when the thread ends */
	volatile int drained;
	int echo_handler_calls;	/* counted by the test echo handler */
	/* when the echo handler runs for the peek_at-th time (0 = never), it
	 * stores the bytes waiting on the peer's socket peek_fd in peeked
	 * (FIONREAD, after waiting up to 500 ms for any): what the server has
	 * sent so far in this turn */
	volatile int peek_at, peek_fd, peeked;
} ts_server;

/* Start a server with `o` (NULL = defaults) and keys from ts_master
 * (kdf hkdf). Registers echo.v1.Echo with a handler that counts calls, then
 * behaves like server/echo.c. Asserts on failure. */
void ts_server_start(ts_server *t, const xr_server_opts *o);
/* Ask the server thread to drain (non-blocking). */
void ts_server_drain(ts_server *t);
/* Stop the thread, fill t->final, free everything. */
void ts_server_stop(ts_server *t);

/* A raw peer. */
typedef struct ts_peer {
	int fd;
	xr_auth *auth;
	xr_session sess;	/* client side: PENDING then OPEN */
	xr_rx rx;		/* exec->web verification */
	xr_codec *codec;
	uint64_t next_call;
} ts_peer;

/* Connect to 127.0.0.1:port with keys derived from `master` (kdf hkdf). */
void ts_peer_open(ts_peer *p, uint16_t port, const uint8_t *master);
/* Connect to 127.0.0.1:port signing with the keyset `ks` (copied). */
void ts_peer_open_keys(ts_peer *p, uint16_t port, const xr_keyset *ks);
void ts_peer_close(ts_peer *p);

/* Build and seal a frame (4-byte prefix included) into a malloc'd buffer.
 * kind REQUEST uses method/payload/call_id/timeout; session fields are
 * taken from p->sess (none for HELLO). `ts_ms` 0 = now. */
uint8_t *ts_seal(ts_peer *p, uint32_t kind, const char *method,
    const uint8_t *payload, size_t plen, uint64_t call_id, uint32_t timeout_ms,
    uint64_t ts_ms, size_t *len);

/* Write all bytes; returns 0 or -1. */
int ts_send_raw(ts_peer *p, const void *buf, size_t len);

/* Send HELLO and process the HELLO_ACK; asserts success. */
void ts_handshake(ts_peer *p);

/* Send a Say request; returns the call id used. */
uint64_t ts_send_say(ts_peer *p, const char *text, uint32_t delay_ms,
    uint32_t timeout_ms);

/*
 * Receive one frame within `timeout_ms`, verify it through the client-side
 * pipeline, and return the decoded envelope (owned by p->codec, valid until
 * the next receive). NULL on EOF/close (sets *closed = 1) or timeout
 * (*closed = 0).
 */
const Execrpc__V1__Envelope *ts_recv(ts_peer *p, int timeout_ms, int *closed);

/* Wait until the server closes the connection (EOF or reset) within
 * timeout_ms. Returns 1 if it closed, 0 on timeout; frames received
 * meanwhile are counted in *frames if non-NULL. */
int ts_wait_closed(ts_peer *p, int timeout_ms, int *frames);

/* Decode a Say response payload's text into buf. */
void ts_say_text(const Execrpc__V1__Envelope *e, char *buf, size_t cap);

#endif
