/* core/reader.c — the one length-prefixed frame reader, two byte sources. */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "keys.h"

void
xr_reader_init(xr_reader *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	r->max_body = max_body;
}

void
xr_reader_init_rx(xr_reader *r, xr_rx *rx)
{
	memset(r, 0, sizeof(*r));
	r->rx = rx;
}

/* Bytes of the current frame, prefix included, needed for the next step. */
static size_t
frame_want(const xr_reader *r)
{
	return r->sized ? XR_FRAME_PREFIX_LEN + r->need : XR_FRAME_PREFIX_LEN;
}

/* Forget the frame handed out last; the next bytes start a new prefix. */
static void
next_frame(xr_reader *r)
{
	r->sized = 0;
	r->need = 0;
	r->got = 0;
	r->done = 0;
}

/*
 * The step both sources share. `avail` bytes of the current frame are
 * available, prefix included; once avail >= 4 the prefix is in r->prefix.
 * The limit is checked once per frame, on the 4 prefix bytes alone.
 * Returns XR_OK (the whole frame is available), XR_ERR_AGAIN (frame_want()
 * bytes are needed), or the limit's error, which kills the reader.
 */
static int
step(xr_reader *r, size_t avail)
{
	uint32_t len;
	int rc;

	if (avail < XR_FRAME_PREFIX_LEN)
		return XR_ERR_AGAIN;
	if (!r->sized) {
		len = xr_frame_get_len(r->prefix);
		r->need = len;
		/* 1. the length, before a byte of the body is buffered */
		if (r->rx != NULL)
			rc = xr_rx_check_len(r->rx, len);
		else
			rc = len > r->max_body ? XR_ERR_OVERSIZED : XR_OK;
		if (rc != XR_OK)
			return r->dead = rc;
		r->sized = 1;
	}
	return avail >= frame_want(r) ? XR_OK : XR_ERR_AGAIN;
}

int
xr_reader_feed(xr_reader *r, const uint8_t *p, size_t n, size_t *used,
    const uint8_t **body, size_t *body_len)
{
	size_t off = 0, take;
	int rc;

	*used = 0;
	if (r->dead != 0)
		return r->dead;		/* the error that killed the stream */
	if (r->done)
		next_frame(r);
	if (r->got < XR_FRAME_PREFIX_LEN) {
		take = XR_FRAME_PREFIX_LEN - r->got;
		if (take > n)
			take = n;
		memcpy(r->prefix + r->got, p, take);
		r->got += take;
		off = take;
	}
	rc = step(r, r->got);
	if (rc != XR_OK && rc != XR_ERR_AGAIN)
		goto out;
	if (!r->sized)
		goto out;		/* the prefix is still incomplete */
	if (r->need > r->cap) {
		/* sized after the limit check, at the announced length */
		uint8_t *nb = malloc(r->need);

		if (nb == NULL) {
			/* the prefix is consumed: the stream is unusable */
			rc = r->dead = XR_ERR_NOMEM;
			goto out;
		}
		if (r->buf != NULL) {
			xr_wipe(r->buf, r->cap);
			free(r->buf);
		}
		r->buf = nb;
		r->cap = r->need;
	}
	take = frame_want(r) - r->got;
	if (take > n - off)
		take = n - off;
	if (take > 0)
		memcpy(r->buf + (r->got - XR_FRAME_PREFIX_LEN), p + off, take);
	r->got += take;
	off += take;
	if ((rc = step(r, r->got)) == XR_OK) {
		r->done = 1;
		*body = r->buf;
		*body_len = r->need;
	}
 out:
	*used = off;
	return rc;
}

int
xr_reader_evbuffer(xr_reader *r, struct evbuffer *in, const uint8_t **body,
    size_t *body_len, size_t *want)
{
	size_t avail;
	uint8_t *p;
	int rc;

	if (r->dead != 0)
		return r->dead;
	if (r->done) {
		evbuffer_drain(in, frame_want(r));
		next_frame(r);
	}
	avail = evbuffer_get_length(in);
	if (!r->sized && avail >= XR_FRAME_PREFIX_LEN)
		evbuffer_copyout(in, r->prefix, XR_FRAME_PREFIX_LEN);
	if ((rc = step(r, avail)) != XR_OK) {
		if (rc == XR_ERR_AGAIN && want != NULL)
			*want = frame_want(r);
		return rc;
	}
	/* the whole frame is in: contiguous in place, no copy when it is
	 * already in one chain */
	if ((p = evbuffer_pullup(in, (ev_ssize_t)frame_want(r))) == NULL)
		return r->dead = XR_ERR_NOMEM;
	r->done = 1;
	*body = p + XR_FRAME_PREFIX_LEN;
	*body_len = r->need;
	return XR_OK;
}

int
xr_reader_bufferevent(xr_reader *r, struct bufferevent *bev,
    const uint8_t **body, size_t *body_len)
{
	size_t want = 0, low;
	int rc;

	rc = xr_reader_evbuffer(r, bufferevent_get_input(bev), body, body_len,
	    &want);
	/* wake for the whole frame once its length is known, else for any byte */
	low = rc == XR_ERR_AGAIN && r->sized ? want : 0;
	if (low != r->lowmark) {
		bufferevent_setwatermark(bev, EV_READ, low, 0);
		r->lowmark = low;
	}
	return rc;
}

void
xr_reader_free(xr_reader *r)
{
	xr_rx *rx = r->rx;
	size_t max_body = r->max_body;

	if (r->buf != NULL) {
		xr_wipe(r->buf, r->cap);
		free(r->buf);
	}
	memset(r, 0, sizeof(*r));
	r->rx = rx;
	r->max_body = max_body;
}
