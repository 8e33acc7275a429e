/*
 * core/rx.h — the receive pipeline of docs/design.md section 2, in one function.
 *
 * Order, each step fail-fast with its own code and counter:
 *   1. length prefix over the body limit       -> XR_ERR_OVERSIZED
 *      (xr_rx_check_len, called before the body is buffered)
 *   2. wrapper parse + constant-time tag check -> XR_ERR_BAD_SIGNATURE
 *      (the envelope is not decoded before this passes)
 *   3. envelope decodes, version == 1, field
 *      lengths valid                           -> XR_ERR_MALFORMED
 *   4. kind in the endpoint's whitelist, and a
 *      session id present exactly when the
 *      kind does not open a session            -> XR_ERR_KIND_NOT_ALLOWED
 *   5. |now - ts| <= ttl                       -> XR_ERR_EXPIRED
 *   6. nonce cache / session + sequence        -> XR_ERR_REPLAY
 *
 * The envelope decoder is an interface so this module depends on no protobuf
 * generator: protobuf-c behind it on the server and supervisor, nanopb on
 * the client.
 */
#ifndef XR_RX_H
#define XR_RX_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "err.h"
#include "replay.h"

#define XR_PROTOCOL_VERSION 1

/* Envelope kinds (execrpc.v1.Kind). */
enum {
	XR_KIND_HELLO = 1,
	XR_KIND_HELLO_ACK = 2,
	XR_KIND_REQUEST = 3,
	XR_KIND_RESPONSE = 4,
	XR_KIND_CANCEL = 5,
	XR_KIND_GOAWAY = 6,
	XR_KIND_PING = 7,
	XR_KIND_PONG = 8,
	XR_KIND_CONTROL = 9,
	XR_KIND_CONTROL_REPLY = 10,
	XR_KIND_BATCH = 11,
	XR_KIND_MAX = 31
};
#define XR_KIND_BIT(k) (1u << (k))

/* What the pipeline checks, filled by the decoder. */
typedef struct xr_env_view {
	uint32_t version;
	uint32_t kind;
	uint64_t ts_ms;
	uint64_t sequence;
	size_t nonce_len;
	size_t session_id_len;
	size_t ack_nonce_len;
	uint8_t nonce[XR_NONCE_LEN];
	uint8_t session_id[XR_SESSION_ID_LEN];
	uint8_t ack_nonce[XR_NONCE_LEN];
} xr_env_view;

/*
 * Envelope decoder. `decode` parses exactly `len` bytes of a verified
 * envelope, keeps whatever its caller needs in `ctx` (e.g. the decoded
 * message) and fills `view`. Byte fields longer than the view's arrays must
 * be reported by length only (the pipeline rejects them). Returns XR_OK or
 * XR_ERR_MALFORMED; on failure decode keeps nothing (it cleans up itself).
 * `release` (may be NULL) frees what a successful decode kept; the
 * pipeline calls it when a later step rejects the frame.
 */
typedef struct xr_env_decoder {
	int (*decode)(void *ctx, const uint8_t *env, size_t len,
	    xr_env_view *view);
	void (*release)(void *ctx);
	void *ctx;
} xr_env_decoder;

typedef struct xr_rx_counters {
	uint64_t rejects[XR_REJECT_COUNT];	/* indexed by xr_reject */
	uint64_t accepted;
} xr_rx_counters;

/* One endpoint's receive side. Plain struct; the pointers are borrowed. */
typedef struct xr_rx {
	xr_auth *auth;			/* verifier keys */
	xr_dir dir;			/* direction of the frames received */
	uint32_t kind_mask;		/* XR_KIND_BIT(k) for each allowed kind */
	uint32_t open_kind_mask;	/* kinds that open a session (carry no
					 * session id) and only those; 0 = no
					 * such rule (e.g. the client side) */
	uint64_t ttl_ms;
	size_t max_body;		/* frame body limit (xr_frame_max_body) */
	xr_nonce_cache *nonces;		/* for session-opening frames; may be NULL */
	xr_rx_counters counters;
} xr_rx;

/* Step 1: check a length prefix against the limit before buffering the
 * body. Returns XR_OK or XR_ERR_OVERSIZED (counted). */
int xr_rx_check_len(xr_rx *rx, uint32_t body_len);

/*
 * Steps 2-6 over one frame body. On XR_OK the decoder's ctx holds the
 * decoded envelope, `view` its checked fields, and `sess` has advanced. On a
 * reject returns the step's code, bumps exactly that step's counter, and
 * leaves nothing decoded (release was called). `now_ms` is unix ms.
 */
int xr_rx_frame(xr_rx *rx, xr_session *sess, const uint8_t *body, size_t len,
    uint64_t now_ms, const xr_env_decoder *dec, xr_env_view *view);

/*
 * Steps 3-6 over one envelope carried in a KIND_BATCH frame that passed
 * xr_rx_frame() (its tag covers these bytes; core/batch.h walks the
 * payload). Same contract as xr_rx_frame(), with two more rules: the
 * session must be open, and the envelope may be of any allowed kind except
 * KIND_BATCH and the session-opening kinds (else XR_ERR_KIND_NOT_ALLOWED).
 * Its sequence must exceed the last one received (the BATCH's own, or the
 * envelope before it). A caller dispatches each envelope once it passes,
 * and closes the connection at the first that does not, as for a frame.
 */
int xr_rx_inner(xr_rx *rx, xr_session *sess, const uint8_t *env,
    size_t env_len, uint64_t now_ms, const xr_env_decoder *dec,
    xr_env_view *view);

/* Count a reject decided outside the pipeline (e.g. a reader's OVERSIZED). */
void xr_rx_count(xr_rx *rx, int err);

/* Current unix time in milliseconds (CLOCK_REALTIME). */
uint64_t xr_now_ms(void);
/* Monotonic milliseconds (CLOCK_MONOTONIC), for deadlines. */
uint64_t xr_mono_ms(void);
/* The same clock in microseconds. */
uint64_t xr_mono_us(void);

#endif /* XR_RX_H */
