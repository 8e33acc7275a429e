/*
 * core/reader.h — the one length-prefixed frame reader (docs/design.md s. 2).
 *
 * Every stream in the tree reads its frames through this module: a 4-byte
 * big-endian length L (core/frame.h), then L body bytes. The length is
 * checked against the limit as soon as the 4 prefix bytes are in, before a
 * single body byte is buffered or waited for; only then is the body awaited
 * and handed on as one contiguous view (for xr_rx_frame(), or a decoder).
 *
 * One state machine, two sources of bytes:
 *   - xr_reader_feed(): bytes pushed in arbitrary chunks (a blocking socket
 *     read, a test). The reader copies the body into its own buffer,
 *     allocated at the announced size after the limit check.
 *   - xr_reader_evbuffer() / xr_reader_bufferevent(): a libevent input
 *     buffer. The frame stays in the evbuffer and is made contiguous there
 *     (evbuffer_pullup), so the body is not copied by the reader.
 * Both run the same prefix / limit / completeness step. One reader serves one
 * stream and one kind of source; it is a plain struct, embedded by its owner.
 */
#ifndef XR_READER_H
#define XR_READER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "frame.h"
#include "rx.h"

struct evbuffer;
struct bufferevent;

typedef struct xr_reader {
	xr_rx *rx;		/* limit and OVERSIZED counter (borrowed), or NULL */
	size_t max_body;	/* the limit when rx is NULL */
	uint8_t prefix[XR_FRAME_PREFIX_LEN];
	int sized;		/* the prefix is in and passed the limit */
	size_t need;		/* body length the prefix announced (also when
				 * it was over the limit) */
	size_t got;		/* feed: bytes of this frame consumed, prefix
				 * included */
	uint8_t *buf;		/* feed: body buffer, capacity `cap` */
	size_t cap;
	int done;		/* a frame was handed out; the next call moves
				 * past it */
	size_t lowmark;		/* bufferevent: the read low-watermark set */
	int dead;		/* 0, or the error that made the stream unusable */
} xr_reader;

/* Initialize with a plain body limit and no counter. No allocation. */
void xr_reader_init(xr_reader *r, size_t max_body);

/*
 * Initialize for a stream that feeds the receive pipeline `rx` (borrowed; it
 * must outlive the reader): the limit is rx->max_body, checked with
 * xr_rx_check_len(), so an oversized prefix is counted in rx's OVERSIZED
 * counter exactly once. No allocation.
 */
void xr_reader_init_rx(xr_reader *r, xr_rx *rx);

/*
 * Consume bytes from `p` (n bytes) up to the end of at most one frame;
 * `*used` says how many were consumed. Returns XR_OK when a frame completed:
 * `*body`/`*body_len` view it (in the reader's buffer) until the next call.
 * XR_ERR_AGAIN when all n bytes were consumed without completing a frame.
 * XR_ERR_OVERSIZED when the prefix announces more than the limit: only the
 * prefix was consumed, nothing buffered, `need` holds the announced length.
 * XR_ERR_NOMEM if the body buffer cannot be allocated. After either error
 * the reader is dead: it returns the same error again and consumes nothing.
 */
int xr_reader_feed(xr_reader *r, const uint8_t *p, size_t n, size_t *used,
    const uint8_t **body, size_t *body_len);

/*
 * Next frame at the front of the libevent buffer `in` (the same buffer on
 * every call). The frame handed out by the previous call is drained from `in`
 * first. Returns XR_OK when the whole frame is in: `*body`/`*body_len` view
 * its body inside `in` (made contiguous there) until the next call or until
 * the caller changes `in`. XR_ERR_AGAIN when it is not: `*want` (may be
 * NULL) is how many bytes `in` must hold for the next step (4 while the
 * prefix is incomplete, 4 + L after). XR_ERR_OVERSIZED when the prefix
 * announces more than the limit: decided on the 4 prefix bytes alone,
 * nothing drained or made contiguous. XR_ERR_NOMEM if the frame cannot be
 * made contiguous. After either error the reader is dead (same error again).
 */
int xr_reader_evbuffer(xr_reader *r, struct evbuffer *in, const uint8_t **body,
    size_t *body_len, size_t *want);

/*
 * xr_reader_evbuffer() on the input buffer of `bev`, which also keeps its
 * read low-watermark: once a prefix has passed the limit, at 4 + L, so the
 * read callback runs again only when the whole frame is in; otherwise at 0,
 * so the owner sees the first bytes of every frame (e.g. to start a frame
 * timer). The reader assumes nobody else sets the read watermark of `bev`.
 * Same returns.
 */
int xr_reader_bufferevent(xr_reader *r, struct bufferevent *bev,
    const uint8_t **body, size_t *body_len);

/* Release the feed buffer (zeroized first) and re-init with the same limit
 * and counter. Safe on a zeroed or already freed reader. */
void xr_reader_free(xr_reader *r);

#endif /* XR_READER_H */
