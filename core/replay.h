/*
 * core/replay.h — the replay model of docs/design.md section 2.
 *
 * Two mechanisms, each with bounded state:
 *  - a bounded nonce cache for session-opening frames (KIND_HELLO), which
 *    carry no session yet. It remembers each nonce until the frame's ts can
 *    no longer pass the ttl check, and FAILS CLOSED when full: a new nonce
 *    is rejected (XR_ERR_NONCE_CACHE_FULL), never silently accepted.
 *  - per-connection session state, O(1): the fresh random session id the
 *    server issued on HELLO, and the highest sequence number accepted. Every
 *    later frame must carry that id and a strictly greater sequence.
 *
 * Together: a captured frame replayed on the same connection has a sequence
 * that is not greater (REPLAY); on any other connection its session id does
 * not match or the connection has no session (REPLAY); a captured HELLO is in
 * the nonce cache for as long as its ts passes the ttl (REPLAY), and EXPIRED
 * after that.
 */
#ifndef XR_REPLAY_H
#define XR_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define XR_NONCE_LEN 16
#define XR_SESSION_ID_LEN 16

typedef struct xr_nonce_cache xr_nonce_cache;

/* Create a cache for `capacity` nonces (>= 1) kept until ts + ttl_ms.
 * Returns NULL on allocation failure or capacity 0. */
xr_nonce_cache *xr_nonce_cache_new(size_t capacity, uint64_t ttl_ms);

/* Free the cache (NULL is a no-op). */
void xr_nonce_cache_free(xr_nonce_cache *c);

/*
 * Check a nonce and remember it. First drops entries whose ts + ttl is past
 * `now_ms`. Returns XR_OK (fresh, now remembered), XR_ERR_REPLAY (already
 * present), or XR_ERR_NONCE_CACHE_FULL (capacity reached with no expired
 * entry: rejected, not remembered).
 */
int xr_nonce_cache_check(xr_nonce_cache *c, const uint8_t nonce[XR_NONCE_LEN],
    uint64_t ts_ms, uint64_t now_ms);

/* Number of nonces currently remembered. */
size_t xr_nonce_cache_count(const xr_nonce_cache *c);

typedef enum xr_session_state {
	XR_SESSION_NONE = 0,	/* server side: no HELLO seen yet */
	XR_SESSION_PENDING,	/* client side: HELLO sent, awaiting HELLO_ACK */
	XR_SESSION_OPEN,	/* both: session id known */
} xr_session_state;

/* Per-connection replay state; plain value, zero-initialized = NONE. */
typedef struct xr_session {
	xr_session_state state;
	uint8_t id[XR_SESSION_ID_LEN];
	uint8_t hello_nonce[XR_NONCE_LEN];	/* PENDING: our HELLO's nonce */
	uint64_t peer_seq;	/* highest sequence accepted from the peer */
	uint64_t send_seq;	/* last sequence we sent */
} xr_session;

/* The replay-relevant fields of a decoded envelope (see core/rx.h). */
struct xr_env_view;

/*
 * The replay step of the receive pipeline for a frame already verified,
 * decoded and within the ttl:
 *  - no session id: a session-opening frame. Allowed only when `s` is NONE;
 *    its nonce goes through `nonces` (NULL: always XR_ERR_REPLAY).
 *  - a session id, `s` OPEN: the id must equal s->id and the sequence must be
 *    greater than s->peer_seq, which is then advanced.
 *  - a session id, `s` PENDING: the frame must be a HELLO_ACK of our HELLO
 *    (ack_nonce == s->hello_nonce); `s` adopts the id and becomes OPEN.
 *  - a session id, `s` NONE: the frame belongs to another connection.
 * Returns XR_OK, XR_ERR_REPLAY or XR_ERR_NONCE_CACHE_FULL. `s` changes only
 * on XR_OK.
 */
int xr_replay_check(xr_session *s, xr_nonce_cache *nonces,
    const struct xr_env_view *v, uint64_t now_ms);

/* Server: open the session after an accepted HELLO with a fresh random id.
 * Returns XR_OK or XR_ERR_SYSTEM. */
int xr_session_open(xr_session *s);

/* Client: remember the nonce of the HELLO we send; state becomes PENDING. */
void xr_session_pending(xr_session *s, const uint8_t hello_nonce[XR_NONCE_LEN]);

/* The next sequence number to send (1, 2, ...). */
uint64_t xr_session_next_seq(xr_session *s);

#endif /* XR_REPLAY_H */
