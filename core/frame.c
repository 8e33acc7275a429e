/* core/frame.c — length prefix and the Frame wrapper. */
#include "frame.h"

#include <string.h>

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
