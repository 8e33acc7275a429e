/* core/frame.c — length prefix, Frame wrapper, incremental reader. */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"

#define FRAME_KEY_ENVELOPE 0x0a	/* field 1, wire type 2 */
#define FRAME_KEY_TAG 0x12	/* field 2, wire type 2 */

size_t
xr_frame_max_body(size_t max_payload_bytes)
{
	return max_payload_bytes + XR_ENVELOPE_OVERHEAD;
}

uint32_t
xr_frame_get_len(const uint8_t p[XR_FRAME_PREFIX_LEN])
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void
xr_frame_put_len(uint8_t p[XR_FRAME_PREFIX_LEN], uint32_t len)
{
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t
varint_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

/* Parse a varint of at most 5 bytes (values < 2^32) at p[*off..len). */
static int
varint_get32(const uint8_t *p, size_t len, size_t *off, uint32_t *v)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < 5; i++) {
		if (*off >= len)
			return -1;
		uint8_t b = p[(*off)++];
		acc |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			if (acc > UINT32_MAX)
				return -1;
			*v = (uint32_t)acc;
			return 0;
		}
	}
	return -1;
}

static size_t
body_len_for(size_t env_len)
{
	return 1 + varint_len(env_len) + env_len + XR_FRAME_TRAILER_LEN;
}

size_t
xr_frame_wire_len(size_t env_len)
{
	return XR_FRAME_PREFIX_LEN + body_len_for(env_len);
}

size_t
xr_frame_header(uint8_t out[XR_FRAME_HEADER_MAX], size_t env_len)
{
	size_t n = XR_FRAME_PREFIX_LEN;

	xr_frame_put_len(out, (uint32_t)body_len_for(env_len));
	out[n++] = FRAME_KEY_ENVELOPE;
	n += varint_put(out + n, env_len);
	return n;
}

void
xr_frame_trailer(uint8_t out[XR_FRAME_TRAILER_LEN],
    const uint8_t tag[XR_TAG_LEN])
{
	out[0] = FRAME_KEY_TAG;
	out[1] = XR_TAG_LEN;
	memcpy(out + 2, tag, XR_TAG_LEN);
}

int
xr_frame_split(const uint8_t *body, size_t len, const uint8_t **env,
    size_t *env_len, const uint8_t **tag, size_t *tag_len)
{
	size_t off = 0;
	int seen_env = 0, seen_tag = 0;

	*env = body;
	*env_len = 0;
	*tag = NULL;
	*tag_len = 0;
	while (off < len) {
		uint8_t key = body[off++];
		uint32_t flen;

		if (key != FRAME_KEY_ENVELOPE && key != FRAME_KEY_TAG)
			return XR_ERR_BAD_SIGNATURE;
		if (varint_get32(body, len, &off, &flen) != 0 ||
		    flen > len - off)
			return XR_ERR_BAD_SIGNATURE;
		if (key == FRAME_KEY_ENVELOPE) {
			if (seen_env++)
				return XR_ERR_BAD_SIGNATURE;
			*env = body + off;
			*env_len = flen;
		} else {
			if (seen_tag++)
				return XR_ERR_BAD_SIGNATURE;
			*tag = body + off;
			*tag_len = flen;
		}
		off += flen;
	}
	if (!seen_tag)
		return XR_ERR_BAD_SIGNATURE;
	return XR_OK;
}

void
xr_frame_reader_init(xr_frame_reader *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	r->max_body = max_body;
}

int
xr_frame_reader_feed(xr_frame_reader *r, const uint8_t *p, size_t n,
    size_t *used, const uint8_t **body, size_t *body_len)
{
	size_t off = 0, take;

	*used = 0;
	if (r->dead != 0)
		return r->dead;		/* the error that killed the stream */
	if (r->prefix_have == XR_FRAME_PREFIX_LEN && r->have == r->need) {
		/* the previous call completed a frame: start the next one */
		r->prefix_have = 0;
		r->need = r->have = 0;
	}
	if (r->prefix_have < XR_FRAME_PREFIX_LEN) {
		take = XR_FRAME_PREFIX_LEN - r->prefix_have;
		if (take > n)
			take = n;
		memcpy(r->prefix + r->prefix_have, p, take);
		r->prefix_have += take;
		off += take;
		if (r->prefix_have < XR_FRAME_PREFIX_LEN) {
			*used = off;
			return XR_ERR_AGAIN;
		}
		r->need = xr_frame_get_len(r->prefix);
		r->have = 0;
		if (r->need > r->max_body) {
			/* reject before buffering a single body byte */
			r->dead = XR_ERR_OVERSIZED;
			*used = off;
			return XR_ERR_OVERSIZED;
		}
		if (r->need > r->cap) {
			uint8_t *nb = malloc(r->need);

			if (nb == NULL) {
				/* the prefix is consumed: the stream is unusable */
				r->dead = XR_ERR_NOMEM;
				*used = off;
				return XR_ERR_NOMEM;
			}
			if (r->buf != NULL) {
				xr_wipe(r->buf, r->cap);
				free(r->buf);
			}
			r->buf = nb;
			r->cap = r->need;
		}
	}
	take = r->need - r->have;
	if (take > n - off)
		take = n - off;
	if (take > 0)
		memcpy(r->buf + r->have, p + off, take);
	r->have += take;
	off += take;
	*used = off;
	if (r->have < r->need)
		return XR_ERR_AGAIN;
	*body = r->buf;
	*body_len = r->need;
	return XR_OK;
}

void
xr_frame_reader_free(xr_frame_reader *r)
{
	if (r->buf != NULL) {
		xr_wipe(r->buf, r->cap);
		free(r->buf);
	}
	xr_frame_reader_init(r, r->max_body);
}
