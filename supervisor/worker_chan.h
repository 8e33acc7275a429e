/*
 * supervisor/worker_chan.h — the signed supervisor <-> worker channel
 * (internal to supervisor/; see docs/supervisor.md "The worker channel").
 *
 * The channel is an inherited AF_UNIX SOCK_SEQPACKET socketpair (the worker's
 * end is fd 4) that stays open for the worker's life. One datagram is one
 * Frame body — the Frame wrapper of core/frame.h WITHOUT the 4-byte length
 * prefix: SOCK_SEQPACKET keeps record boundaries, so the datagram length is
 * the frame length. The envelope is signed with the `control` key
 * (direction XR_DIR_CONTROL), its kind is KIND_CONTROL and its payload a
 * serialized execrpc.v1.Command. Every datagram goes through the receive
 * pipeline (xr_rx_frame: size, tag, decode, kind, ttl, replay) before its
 * payload is looked at.
 *
 * Replay: the bootstrap bundle carries a fresh random 16-byte control session
 * id. Both ends start with that session OPEN; every frame carries the id and
 * a sequence strictly greater than the previous frame in its direction
 * (each side counts from 1).
 *
 * What a side does with a verified command is decided by its command table
 * (xr_wchan_dispatch, in the manner of OpenSSH's monitor.c mon_dispatch): a
 * row per command type the side acts on, with the states in which it is
 * accepted and whether it may come only once per channel. The supervisor's
 * table is in fsm.c, the worker's in worker.c.
 */
#ifndef XR_WORKER_CHAN_H
#define XR_WORKER_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "codec.h"
#include "execrpc/v1/lifecycle.pb-c.h"
#include "replay.h"
#include "rx.h"

/*
 * Datagram sizes. A channel without a call payload limit (as set up by
 * xr_wchan_init) takes datagrams of at most XR_WCHAN_OVERHEAD bytes: every
 * Command but CALL and CALL_REPLY is tiny. xr_wchan_set_payload_max() lets
 * it carry CALL / CALL_REPLY payloads up to a limit: its datagrams may then
 * be that limit plus XR_WCHAN_OVERHEAD (the Frame wrapper, the envelope's
 * fields, the tag, and the Command's other fields: a method name of at most
 * XR_WCHAN_METHOD_MAX bytes, a status message of at most 255).
 */
#define XR_WCHAN_OVERHEAD 4096
/* The largest call payload any channel carries, whatever max_payload_bytes
 * and the socket buffers allow (equal to XR_CTL_CALL_MAX_PAYLOAD). */
#define XR_WCHAN_PAYLOAD_CAP (1u << 20)
/* The longest method name a CALL carries, in bytes (the Envelope's bound). */
#define XR_WCHAN_METHOD_MAX 127

typedef struct xr_wchan {
	int fd;			/* borrowed; SOCK_SEQPACKET */
	xr_codec *codec;	/* owned */
	xr_rx rx;		/* verifies with rx.auth (borrowed); rx.max_body
				 * is the largest datagram */
	xr_session sess;	/* OPEN with the bundle's control session id */
	uint32_t once_done;	/* XR_WCHAN_ONCE rows that ran, by table
				 * index */
	uint32_t payload_max;	/* largest CALL / CALL_REPLY payload */
	uint8_t *pbuf;		/* owned: a packed Command, rx.max_body */
	uint8_t *buf;		/* owned: one datagram (with room for the
				 * frame prefix when sending) */
	size_t cap;		/* of buf: XR_FRAME_PREFIX_LEN + rx.max_body */
} xr_wchan;

/* Which end of the channel acts on a command. */
typedef enum xr_wchan_side {
	XR_WCHAN_TO_SUPERVISOR = 1,	/* the worker sends it */
	XR_WCHAN_TO_WORKER = 2,		/* the supervisor sends it */
} xr_wchan_side;

/* at most once per channel (per spawn) */
#define XR_WCHAN_ONCE 0x1u
/* a state's bit in xr_wchan_cmd.states */
#define XR_WCHAN_STATE(st) (1u << (st))
/* rows in one command table */
#define XR_WCHAN_MAX_CMDS 32

/* One row of a side's command table. */
typedef struct xr_wchan_cmd {
	int type;		/* an Execrpc__V1__CommandType */
	xr_wchan_side to;	/* the side that acts on it */
	uint32_t states;	/* XR_WCHAN_STATE() of every receiver state
				 * (0..31) in which it is accepted */
	unsigned flags;		/* XR_WCHAN_ONCE */
	void (*fn)(void *arg, const Execrpc__V1__Command *c);
} xr_wchan_cmd;

/*
 * Set up a channel on `fd` with `auth` (borrowed; must hold the control key
 * and outlive the channel), the session id `sid` and the frame ttl. It
 * carries no call payload (payload_max 0) until xr_wchan_set_payload_max().
 * Returns XR_OK or XR_ERR_NOMEM.
 */
int xr_wchan_init(xr_wchan *c, int fd, xr_auth *auth,
    const uint8_t sid[XR_SESSION_ID_LEN], uint32_t ttl_seconds);

/*
 * Let the channel carry CALL / CALL_REPLY payloads of up to `n` bytes (at
 * most XR_WCHAN_PAYLOAD_CAP): datagrams of up to n + XR_WCHAN_OVERHEAD
 * bytes are sent and accepted. Both ends must agree (each takes the value
 * xr_wchan_size_socket() gives for its end). Returns XR_OK,
 * XR_ERR_INVALID_ARG (n over the cap) or XR_ERR_NOMEM (unchanged).
 */
int xr_wchan_set_payload_max(xr_wchan *c, uint32_t n);

/*
 * Size the socket buffers of `fd` (one end of the channel's socketpair;
 * the supervisor does both ends at spawn) for call payloads of `want`
 * bytes: SO_SNDBUF and SO_RCVBUF are asked for want + 2 *
 * XR_WCHAN_OVERHEAD, then read back. The kernel caps them
 * (net.core.wmem_max); a datagram of the largest size still leaves room
 * for the small commands queued behind it. `*got` is the call payload limit
 * the socket carries: min(want, XR_WCHAN_PAYLOAD_CAP, SO_SNDBUF read back /
 * 2 - 2 * XR_WCHAN_OVERHEAD), the same on both ends for the same `want`.
 * Returns XR_OK, or XR_ERR_SYSTEM (getsockopt failed; `*got` is 0).
 */
int xr_wchan_size_socket(int fd, uint32_t want, uint32_t *got);

/*
 * 1 if `m` is a full method name a CALL may carry: "Service/Method" where
 * Service is one or more identifiers joined by '.' (a package, then the
 * service) and Method one identifier (an identifier: [A-Za-z_][A-Za-z0-9_]*),
 * XR_WCHAN_METHOD_MAX bytes at most. 0 otherwise (also for NULL).
 */
int xr_wchan_method_ok(const char *m);

/* Release what the channel owns and wipe its session. The fd is not closed.
 * Safe on a zeroed or already finished channel. */
void xr_wchan_fini(xr_wchan *c);

/*
 * Sign and send one Command as one datagram. Returns XR_OK, XR_ERR_AGAIN
 * (non-blocking socket full), XR_ERR_CLOSED (peer gone), XR_ERR_NO_SPACE
 * (the datagram would be over the channel's limit: check a payload against
 * payload_max first) or XR_ERR_SYSTEM.
 */
int xr_wchan_send(xr_wchan *c, const Execrpc__V1__Command *cmd);

/*
 * Receive and verify one datagram. On XR_OK `*out` is the decoded Command,
 * owned by the caller (execrpc__v1__command__free_unpacked(*out, NULL)).
 * Otherwise `*out` is NULL and the result is XR_ERR_AGAIN (nothing queued on
 * a non-blocking socket), XR_ERR_CLOSED (end of file), XR_ERR_SYSTEM, or the
 * reject code of the receive pipeline (counted in c->rx.counters;
 * XR_ERR_OVERSIZED for a datagram over rx.max_body, XR_ERR_MALFORMED
 * for a payload that is not a Command).
 */
int xr_wchan_recv(xr_wchan *c, Execrpc__V1__Command **out);

/*
 * Act on a received command `c` by the table `tab` (`n` rows, at most
 * XR_WCHAN_MAX_CMDS) of side `side`, the receiver being in state `state`:
 * the row of c->type must exist, be for `side`, accept `state`, and, if
 * XR_WCHAN_ONCE, not have run on this channel before; then its handler runs
 * with `arg`. Returns XR_OK, or XR_ERR_KIND_NOT_ALLOWED when the command is
 * refused (nothing runs; the caller counts and logs it).
 */
int xr_wchan_dispatch(xr_wchan *ch, const xr_wchan_cmd *tab, size_t n,
    xr_wchan_side side, int state, void *arg, const Execrpc__V1__Command *c);

#endif /* XR_WORKER_CHAN_H */
