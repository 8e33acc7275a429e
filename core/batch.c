/* core/batch.c — the Batch payload: items of field 1, written and walked. */
#include "batch.h"

#include "err.h"

#define BATCH_KEY 0x0a		/* field 1, wire type 2 */

size_t
xr_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t
xr_batch_item_len(size_t env_len)
{
	return 1 + xr_varint_len(env_len) + env_len;
}

size_t
xr_batch_item_header(uint8_t out[6], size_t env_len)
{
	size_t n = 0;

	out[n++] = BATCH_KEY;
	while (env_len >= 0x80) {
		out[n++] = (uint8_t)(env_len | 0x80);
		env_len >>= 7;
	}
	out[n++] = (uint8_t)env_len;
	return n;
}

void
xr_batch_iter_init(xr_batch_iter *it, const uint8_t *payload, size_t len,
    uint32_t max_items)
{
	it->p = payload;
	it->end = payload + len;
	it->count = 0;
	it->max = max_items;
}

/* A length varint of at most 4 bytes (an envelope is under 2^28 bytes). */
static int
get_len(xr_batch_iter *it, size_t *len)
{
	size_t v = 0;
	unsigned shift;

	for (shift = 0; shift < 28 && it->p < it->end; shift += 7) {
		uint8_t b = *it->p++;

		v |= (size_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*len = v;
			return XR_OK;
		}
	}
	return XR_ERR_MALFORMED;
}

int
xr_batch_next(xr_batch_iter *it, const uint8_t **env, size_t *env_len)
{
	size_t len;

	if (it->p == it->end)
		return it->count == 0 ? XR_ERR_MALFORMED : 0;
	if (*it->p++ != BATCH_KEY || get_len(it, &len) != XR_OK ||
	    len == 0 || len > (size_t)(it->end - it->p) ||
	    it->count >= it->max)
		return XR_ERR_MALFORMED;
	*env = it->p;
	*env_len = len;
	it->p += len;
	it->count++;
	return 1;
}
