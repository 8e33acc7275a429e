/*
 * server/server_priv.h — the endpoint and connection objects shared by the
 * execution endpoint's modules (private; never installed):
 *
 *   server.c  public API (server.h): new/free with the option defaults,
 *             the listener, accept with the EMFILE backoff, the accept
 *             batch and the pre-auth budget, the heap trim after a burst,
 *             drain, stats, the built-in execrpc.v1.Endpoint/Stats method
 *   conn.c    xr_conn_*: one connection: reading through core/reader and
 *             the receive pipeline, dispatch of the envelope kinds, sealing
 *             and writing responses, timeouts, the per-connection call
 *             table, close and the deferred free
 *
 * The frame path (docs/design.md section 11, "The frame path"): no
 * bufferevent. A connection has one persistent EV_READ event, never
 * toggled per frame (only for backpressure), and reads once per readiness
 * with one read(2) into the server's read buffer, which feeds the
 * connection's reader. The frames it produces while handling input, and
 * those its handlers complete in the same loop turn, are sealed into its
 * flat output buffer and written at the end of the turn with one send(2):
 * the first of them puts the connection on the server's flush list and the
 * list's event is made active (event_active), so it runs after the turn's
 * callbacks. EV_WRITE is added only when a write was partial or EAGAIN,
 * and removed once the output drains.
 *
 * Before authentication a connection gets less than after (tighter limits
 * before authentication, as Redis does): its frame may be no longer than a
 * HELLO (XR_HELLO_MAX_BODY), it holds no call table, at most max_preauth
 * of them exist (the oldest is reset for a new one), and the handshake has
 * its own short deadline.
 *
 * Single-threaded on the server's event_base. A connection is never freed
 * inside its own callback: xr_conn_close() moves it to the dying list and a
 * deferred event frees it, then runs xr_server_drain_check().
 */
#ifndef XR_SERVER_PRIV_H
#define XR_SERVER_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "auth.h"
#include "batch.h"
#include "codec.h"
#include "config.h"
#include "hmap.h"
#include "reader.h"
#include "replay.h"
#include "rx.h"
#include "server.h"

struct evconnlistener;

/*
 * The body limit before HELLO is verified: a HELLO is the only frame a
 * connection may send then, and ours is about 160 bytes (an envelope with
 * a nonce, a timestamp, a trace id, Hello{client_name} of at most 63
 * bytes, and the 32-byte tag). A longer prefix is OVERSIZED at once,
 * before a byte of its body is buffered.
 */
#define XR_HELLO_MAX_BODY 512

enum conn_state {
	CONN_HANDSHAKE,		/* waiting for HELLO */
	CONN_OPEN,
	CONN_CLOSING,		/* flushing output, then free */
	CONN_DEAD,		/* free scheduled */
};

/* One accepted connection; on exactly one of its server's two lists. */
struct conn {
	xr_server *srv;
	evutil_socket_t fd;
	enum conn_state state;
	xr_session sess;
	/* Calls in flight: call_id (its 8 bytes, inline in the slot) ->
	 * struct inflight (conn.c: the xr_call and its charge). The ids come
	 * from frames that passed the signature check. Bounded by
	 * max_inflight; the slot array is allocated on the first call and
	 * grows with the calls in flight, so an idle connection holds none;
	 * the table is made when HELLO verifies. */
	xr_hmap calls;
	struct inflight *spare;		/* released call slots, kept for reuse
					 * (as many as were ever in flight) */
	size_t held_calls;		/* the charges of the calls in flight;
					 * held bytes: server.h */
	/* output: out[out_off, out_len) is sealed and not yet written; kept
	 * across writes (no allocation per frame), given back when it grew
	 * past XR_CONN_OUT_KEEP and drained. Its bytes are in srv->held_out */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	struct event rev;		/* EV_READ | EV_PERSIST, added once */
	struct event wev;		/* EV_WRITE | EV_PERSIST, only while a
					 * write was partial */
	int wev_on;
	int flushing;			/* on srv->flushq */
	/* batching (docs/design.md section 2, "Batches"): 0, or the
	 * client's Hello.max_batch (capped at XR_BATCH_SEND). Then the turn's
	 * envelopes are packed unsigned into pend, a Batch payload of
	 * pend_n items (at most XR_BATCH_MAX_PAYLOAD bytes, counted in
	 * srv->held_out), numbered after pend_seq, the number reserved for
	 * the BATCH; pend_hl is the first item's header length */
	uint32_t peer_batch;
	uint8_t *pend;
	size_t pend_len, pend_hl;
	uint32_t pend_n;
	uint64_t pend_seq;
	uint64_t accepted_ms, last_rx_ms, frame_started_ms;
	int goaway_sent;
	int read_paused;		/* backpressure */
	xr_reader rd;			/* this stream's frames: limit
					 * XR_HELLO_MAX_BODY, then the
					 * session's (s->rx) */
	struct event timer;		/* handshake / frame / idle deadline */
	struct event free_ev;		/* deferred free */
	TAILQ_ENTRY(conn) link;
	TAILQ_ENTRY(conn) plink;	/* on srv->preauth while handshaking */
	TAILQ_ENTRY(conn) flink;	/* on srv->flushq */
};
TAILQ_HEAD(conn_list, conn);

struct xr_server {
	struct event_base *base;
	xr_server_opts o;
	char host[XR_CFG_HOST_MAX];
	xr_registry *reg;
	xr_auth *auth;
	xr_nonce_cache *nonces;
	xr_codec *codec;		/* one decode at a time: single thread */
	xr_codec *icodec;		/* the envelope inside a BATCH, while
					 * codec holds the BATCH */
	xr_rx rx;
	struct evconnlistener *lev;
	struct event backoff_ev;
	struct event resume_ev;		/* re-enables accepting after a batch */
	uint32_t accept_batch;		/* accepted since the loop last ran */
	struct event trim_ev;		/* malloc_trim after a burst of frees */
	uint32_t freed_since_trim;
	uint16_t port;
	int draining;
	int refused_warned;		/* a refused-handshake warning was
					 * logged, at refused_warn_ms */
	uint64_t refused_warn_ms;
	uint64_t refused_suppressed;	/* refusals not logged since */
	void (*drain_done)(void *);
	void *drain_arg;
	struct conn_list conns;		/* handshake / open */
	struct conn_list preauth;	/* handshake only, oldest first */
	struct conn_list dying;		/* closing / dead, not yet freed */
	uint64_t held_calls;		/* the connections' held_calls, summed */
	uint64_t held_out;		/* their output buffers' bytes, summed */
	struct conn_list flushq;	/* output to write at the turn's end */
	struct event flush_ev;		/* made active by the first of them */
	uint8_t *rbuf;			/* every read lands here first */
	xr_server_stats st;
};

/* The endpoint's whitelist: HELLO first, then REQUEST, CANCEL, PING, and
 * BATCH once the connection is open (it advertises XR_BATCH_MAX in
 * HELLO_ACK). REQUEST, CANCEL and PING before HELLO fail at the replay
 * step (no session), a BATCH then at the kind step. */
#define XR_SERVER_KINDS (XR_KIND_BIT(XR_KIND_HELLO) | \
	XR_KIND_BIT(XR_KIND_REQUEST) | XR_KIND_BIT(XR_KIND_CANCEL) | \
	XR_KIND_BIT(XR_KIND_PING))
#define XR_SERVER_OPEN_KINDS (XR_SERVER_KINDS | XR_KIND_BIT(XR_KIND_BATCH))

/* Bytes one read(2) takes at most (the server's read buffer). */
#define XR_CONN_READ_MAX 65536
/* Output and reader buffers larger than this are given back once empty. */
#define XR_CONN_OUT_KEEP 65536

/* ---- conn.c ---- */

/* Write the output of every connection on the flush list (flush_ev). */
void xr_conn_flush_all(xr_server *s);

/*
 * Take the accepted socket `fd` (owned from here on) as a new connection of
 * `s`, waiting for HELLO under the handshake timeout. What the socket
 * holds already is read at once: a client sends HELLO as soon as it is
 * connected, so a real client usually leaves the pre-auth list in this
 * call (the connection may even be closed by then). Returns XR_OK, or
 * XR_ERR_NOMEM with `fd` closed and nothing counted.
 */
int xr_conn_accept(xr_server *s, evutil_socket_t fd);

/*
 * Make room under max_preauth: one fewer connection in its handshake. The
 * oldest of them (there must be one) is read once more; if it is still in
 * its handshake then (no HELLO came in, or only part of a frame), it is
 * reset and counted in preauth_evictions.
 */
void xr_conn_evict_oldest(xr_server *s);

/*
 * Drain one connection: one still in its handshake is closed; an open one
 * gets GOAWAY and is closed (after flushing) once it has no call in flight.
 */
void xr_conn_drain(struct conn *c);

/*
 * Close `c`: abandon its calls now and move it to the dying list; with
 * `flush`, send what is buffered first (bounded by the frame timeout). The
 * memory is freed from a deferred event. A dead connection is left alone.
 */
void xr_conn_close(struct conn *c, int flush);

/*
 * Close `c` with a reset (RST), not a FIN. Before HELLO_ACK a FIN tells
 * the client that its HELLO was refused (docs/protocol.md), so every
 * other close of a connection in its handshake (handshake timeout, server
 * freed, accept failure) resets it.
 */
void xr_conn_reset(struct conn *c);

/* Free a connection on the dying list now (xr_server_free only: never from
 * a callback of the connection). */
void xr_conn_destroy(struct conn *c);

/* ---- server.c ---- */

/* Run the drain callback once the server is draining and has no connection
 * left on either list but those still in their handshake. */
void xr_server_drain_check(xr_server *s);

/* A connection was freed: after a burst of them, give the heap's free
 * memory back to the system (malloc_trim, once the burst is over). */
void xr_server_conn_freed(xr_server *s);

/* A HELLO failed its tag check: count it and log the rate-limited warning
 * (server.h says why this one is a warning). */
void xr_server_handshake_refused(xr_server *s);

#endif /* XR_SERVER_PRIV_H */
