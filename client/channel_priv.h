/*
 * client/channel_priv.h — the channel and call objects shared by the client
 * library's modules (private; never installed):
 *
 *   channel.c  public API: call start/cancel, blocking calls, free, stats
 *   calls.c    xr_calls_*: the pending-call table (hash by call_id), the
 *              call freelist, deadline timers, completion
 *   tcp.c      xr_tcp_*: the tcp_local connection (connect, handshake,
 *              read pipeline, signed writes)
 *   memory.c   xr_mem_*: the memory transport over an xr_local_target
 *   msgcall.c  xr_call_start_msg: async calls on nanopb messages, over the
 *              public API only (the generated _start stubs call it)
 *
 * Re-entrancy: user callbacks may start, cancel or free from inside any
 * completion. Every entry point that can run a callback brackets its work
 * with xr_channel_enter()/xr_channel_leave(); xr_channel_free() inside such
 * a bracket only closes the channel and the last leave frees it.
 */
#ifndef XR_CLIENT_CHANNEL_PRIV_H
#define XR_CLIENT_CHANNEL_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "execrpc/client.h"

#include "auth.h"
#include "batch.h"
#include "cfgtab.h"
#include "codec_nb.h"
#include "hmap.h"
#include "reader.h"
#include "replay.h"
#include "rx.h"

/* "0 = default" options that are config keys: the config table's defaults. */
#define XR_CLIENT_DEF_MAX_PAYLOAD \
	xr_cfg_default_u32(XR_CK_MAX_PAYLOAD_BYTES)
#define XR_CLIENT_DEF_TTL_S		xr_cfg_default_u32(XR_CK_TTL_SECONDS)
#define XR_CLIENT_DEF_MAX_INFLIGHT	4096u
#define XR_CLIENT_DEF_CONNECT_MS	5000u
/* Bytes queued for the socket past which new calls get RESOURCE_EXHAUSTED. */
#define XR_CLIENT_MAX_OUTBUF		(8u * 1024 * 1024)
/* The status messages of the payload limit (both transports). */
#define XR_CLIENT_MSG_REQ_TOO_LARGE	"request larger than max_payload_bytes"
#define XR_CLIENT_MSG_RESP_TOO_LARGE	"response larger than max_payload_bytes"
/* Method names are bounded by Envelope.method (nanopb max_size 128). */
#define XR_CLIENT_METHOD_MAX		128
#define XR_CLIENT_NAME_MAX		64
/* "[ipv6-address]:port" and the reasons of a closed channel. */
#define XR_CLIENT_PEER_MAX		56
#define XR_CLIENT_WHY_MAX		256
/* The expected form of a method name, for the messages that refuse one. */
#define XR_CLIENT_METHOD_FORM		"\"package.Service/Method\""

enum xr_ch_kind {
	XR_CH_TCP = 1,
	XR_CH_MEMORY = 2,
};

enum xr_ch_state {
	XR_CH_CONNECTING = 0,	/* TCP connect in progress */
	XR_CH_HANDSHAKE,	/* HELLO sent, awaiting HELLO_ACK */
	XR_CH_READY,		/* session open (memory: always) */
	XR_CH_DRAINING,		/* GOAWAY received: no new calls */
	XR_CH_CLOSED,		/* connection gone; no calls */
};

enum xr_call_state {
	XR_CALL_FREE = 0,	/* on the freelist */
	XR_CALL_QUEUED,		/* tcp: waiting for the handshake */
	XR_CALL_SENT,		/* tcp: REQUEST written; memory: started */
};

/* One envelope queued in ch->pbuf this loop turn. A group is a record with
 * `starts` set and the records after it without: it leaves as one BATCH
 * numbered `batch_seq` (reserved before its envelopes were numbered), or,
 * with one envelope, as a frame of its own (`batch_seq` then unused). */
struct xr_pend {
	size_t off, len;
	uint64_t batch_seq;
	int starts;
};

struct xr_client_call {
	xr_channel *ch;
	uint64_t id;			/* call_id, from 1 */
	int state;			/* enum xr_call_state */
	int has_timer;
	struct event timer;		/* the deadline (event_assign'ed) */
	uint64_t deadline_us;		/* xr_mono_us() deadline, 0 = none */
	xr_call_cb cb;
	void *arg;
	xr_client_call *qprev, *qnext;	/* send queue; qnext: freelist */
	void *mem_handle;		/* memory: the target's handle */
	int mem_in_start;		/* memory: inside target->start() */
	uint8_t *qreq;			/* tcp, queued: copy of the request */
	size_t qreq_len;
	char method[XR_CLIENT_METHOD_MAX];
};

/* Pending calls by call_id (an xr_hmap keyed by the 8 id bytes) + freelist. */
typedef struct xr_calls {
	xr_hmap map;			/* call_id -> xr_client_call */
	xr_client_call *free;		/* freelist (qnext) */
	size_t nfree;
	uint64_t next_id;
} xr_calls;

struct xr_channel {
	struct event_base *base;	/* borrowed */
	int kind;			/* enum xr_ch_kind */
	int state;			/* enum xr_ch_state */
	int busy;			/* nesting of enter/leave */
	int freeing;			/* xr_channel_free() was called */
	uint32_t max_payload;		/* effective payload limit (requests
					 * and responses) */
	uint32_t max_inflight;		/* effective local in-flight cap */
	xr_calls calls;
	xr_channel_stats stats;		/* rejects[] filled from rx on read */
	uint64_t stray_responses;	/* RESPONSEs for unknown call ids */
	uint8_t *scratch;		/* xr_call_sync request encoding */
	size_t scratch_cap;

	/* memory transport */
	xr_local_target target;

	/* tcp_local transport */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int fd;				/* the connection, -1 once closed */
	int ev_set;			/* the three events are assigned */
	struct event rd_ev;		/* EV_READ|EV_PERSIST, added once */
	struct event wr_ev;		/* one-shot EV_WRITE: the connect, then
					 * only a partial or EAGAIN write */
	struct event flush_ev;		/* no fd: made active when the first
					 * envelope of a loop turn is queued */
	int rd_on, wr_on, flush_on;	/* rd_ev/wr_ev added, flush_ev active */
	int conn_errno;			/* connect refused at once, reported
					 * from wr_ev like a late refusal */
	struct evbuffer *in;		/* read with readv into reserved space */
	size_t rd_want;			/* bytes `in` must hold for the next
					 * frame (the reader's answer) */
	uint8_t *obuf;			/* signed frames the socket has not
					 * taken yet: [ooff, olen) */
	size_t ocap, ooff, olen;
	uint8_t *pbuf;			/* this turn's envelopes, unsigned */
	size_t pcap, plen;
	struct xr_pend *prec;		/* one per envelope in pbuf */
	size_t nrec, caprec;
	uint32_t peer_batch;		/* HelloAck.max_batch (<= XR_BATCH_MAX);
					 * < 2: every envelope leaves alone */
	uint32_t grp_count;		/* envelopes in the open group, 0 = none */
	size_t grp_bytes;		/* its Batch payload bytes */
	uint8_t batch_buf[XR_BATCH_MAX_PAYLOAD];	/* a Batch payload */
	struct event conn_timer;
	int conn_timer_set;
	uint32_t connect_timeout_ms;
	/* why it closed, once CLOSED: the code wait_ready reports
	 * (XR_ERR_CLOSED, XR_ERR_BAD_SIGNATURE for a refused handshake,
	 * XR_ERR_READY_TIMEOUT), the status later calls fail with, and the
	 * reason (fixed text, the peer address, errno text: no key material) */
	int close_err;
	int close_status;
	char close_why[XR_CLIENT_WHY_MAX];
	char peer[XR_CLIENT_PEER_MAX];	/* "127.0.0.1:5000", "[::1]:5000" */
	xr_auth *auth;			/* keys: wiped on free */
	xr_rx rx;
	xr_reader rd;			/* the connection's frames (limit: rx) */
	xr_session sess;
	xr_client_call *q_head, *q_tail;	/* calls queued before READY */
	char client_name[XR_CLIENT_NAME_MAX];
	execrpc_v1_Envelope tx;		/* envelope being encoded */
	xr_nb_dec dec;			/* envelope being received */
};

/* channel.c */
void xr_channel_enter(xr_channel *ch);
/* Returns 1 if the channel was freed (the caller must not touch it). */
int xr_channel_leave(xr_channel *ch);

/* calls.c */
void xr_calls_init(xr_calls *t);
/* Free every call (the table must be empty) and the table. */
void xr_calls_destroy(xr_calls *t);
/* A fresh call from the freelist (or malloc), with the next call id; not
 * yet in the table. NULL on allocation failure. */
xr_client_call *xr_calls_alloc(xr_channel *ch);
/* Put a call that never entered the table back on the freelist. */
void xr_calls_release(xr_channel *ch, xr_client_call *c);
/* Insert into the table; XR_OK or XR_ERR_NOMEM (table growth failed). */
int xr_calls_insert(xr_channel *ch, xr_client_call *c);
/* The pending call with `id`, or NULL. */
xr_client_call *xr_calls_find(xr_channel *ch, uint64_t id);
/* Append a call to the send queue (state QUEUED) / take it out. */
void xr_calls_enqueue(xr_channel *ch, xr_client_call *c);
void xr_calls_unqueue(xr_channel *ch, xr_client_call *c);
/* Any pending call (for failing them all), or NULL when none is left. */
xr_client_call *xr_calls_any(xr_channel *ch);
/* Arm the call's deadline timer (timeout_ms > 0). XR_OK or XR_ERR_SYSTEM. */
int xr_calls_arm_deadline(xr_channel *ch, xr_client_call *c,
    uint32_t timeout_ms);
/*
 * Complete a pending call exactly once: take it out of the table and the
 * send queue, stop its timer, recycle it, count it, then run its callback
 * with `code`, `msg` (may be NULL) and, for XR_STATUS_OK, the response.
 */
void xr_calls_complete(xr_client_call *c, int code, const char *msg,
    const uint8_t *resp, size_t resp_len);
/* Run `cb` for a call that never started (counted as started + failed). */
void xr_calls_fail_now(xr_channel *ch, xr_call_cb cb, void *arg, int code,
    const char *msg);

/* tcp.c */
/* Set up and start connecting. XR_OK or an XR_ERR_* with `d` (may be NULL)
 * filled (ch is then unusable). */
int xr_tcp_open(xr_channel *ch, const xr_channel_opts *opts,
    const xr_keyset *ks, xr_diag *d);
/* Send (or queue, before the handshake) a call's REQUEST; `timeout_ms` is
 * the deadline just armed (0: none), sent as is when the request leaves at
 * once. On failure the call has been completed and an XR_ERR_* is
 * returned. */
int xr_tcp_start_call(xr_channel *ch, xr_client_call *c, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms);
/* The call is being abandoned (deadline, cancel): tell the server. */
void xr_tcp_abandon(xr_channel *ch, xr_client_call *c);
/* Bytes waiting for the socket: signed, and queued for this turn. */
size_t xr_tcp_outbuf_len(const xr_channel *ch);
/*
 * Sign what this loop turn queued and write it now, instead of at the end
 * of the turn (a blocking call sends its request without a loop turn).
 * A write error closes the channel, so callbacks may run: call it only
 * where the channel may be freed by them (inside enter/leave, or as the
 * caller's last use of `ch`).
 */
void xr_tcp_flush(xr_channel *ch);
/*
 * Close the connection now: the first close records `err` (what wait_ready
 * reports), `status` and the printf-style reason; every pending call fails
 * with that status and reason.
 */
void xr_tcp_close(xr_channel *ch, int err, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Release what xr_tcp_open() set up (the connection is closed). */
void xr_tcp_destroy(xr_channel *ch);
/* After calls completed: a draining channel with none left closes. */
void xr_tcp_maybe_drained(xr_channel *ch);

/* memory.c */
/* Start the call on the target; the call may complete inside. */
void xr_mem_start_call(xr_channel *ch, xr_client_call *c, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms);
/* Abandon a started call at the target (deadline, cancel, free). */
void xr_mem_abandon(xr_channel *ch, xr_client_call *c);

#endif /* XR_CLIENT_CHANNEL_PRIV_H */
