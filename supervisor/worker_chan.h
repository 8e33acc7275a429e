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

/* Largest datagram accepted on the channel (a Command is tiny). */
#define XR_WCHAN_MAX_DGRAM 4096

typedef struct xr_wchan {
	int fd;			/* borrowed; SOCK_SEQPACKET */
	xr_codec *codec;	/* owned */
	xr_rx rx;		/* verifies with rx.auth (borrowed) */
	xr_session sess;	/* OPEN with the bundle's control session id */
	uint32_t once_done;	/* XR_WCHAN_ONCE rows that ran, by table
				 * index */
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
 * and outlive the channel), the session id `sid` and the frame ttl.
 * Returns XR_OK or XR_ERR_NOMEM.
 */
int xr_wchan_init(xr_wchan *c, int fd, xr_auth *auth,
    const uint8_t sid[XR_SESSION_ID_LEN], uint32_t ttl_seconds);

/* Release what the channel owns and wipe its session. The fd is not closed.
 * Safe on a zeroed or already finished channel. */
void xr_wchan_fini(xr_wchan *c);

/*
 * Sign and send one Command as one datagram. Returns XR_OK, XR_ERR_AGAIN
 * (non-blocking socket full), XR_ERR_CLOSED (peer gone), XR_ERR_NO_SPACE
 * (command too large) or XR_ERR_SYSTEM.
 */
int xr_wchan_send(xr_wchan *c, const Execrpc__V1__Command *cmd);

/*
 * Receive and verify one datagram. On XR_OK `*out` is the decoded Command,
 * owned by the caller (execrpc__v1__command__free_unpacked(*out, NULL)).
 * Otherwise `*out` is NULL and the result is XR_ERR_AGAIN (nothing queued on
 * a non-blocking socket), XR_ERR_CLOSED (end of file), XR_ERR_SYSTEM, or the
 * reject code of the receive pipeline (counted in c->rx.counters;
 * XR_ERR_OVERSIZED for a datagram over XR_WCHAN_MAX_DGRAM, XR_ERR_MALFORMED
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
