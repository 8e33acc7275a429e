/* core/replay.c — bounded nonce cache and per-session sequence state. */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "rx.h"

/*
 * The cache is an open-addressing hash set (linear probing, backward-shift
 * deletion, load <= 1/2) plus a FIFO ring in insertion order. Entries leave
 * from the ring head once their ts + ttl has passed. The ring order is
 * arrival order, not expiry order, so a long-lived head can delay the
 * eviction of later entries: that only keeps nonces longer (safe side).
 */
struct nc_slot {
	uint8_t nonce[XR_NONCE_LEN];
	uint8_t used;
};

struct nc_entry {
	uint8_t nonce[XR_NONCE_LEN];
	uint64_t expires_ms;
};

struct xr_nonce_cache {
	size_t capacity;	/* ring size = max entries */
	size_t count;
	size_t head;		/* oldest ring entry */
	uint64_t ttl_ms;
	uint64_t seed;		/* random hash seed */
	size_t mask;		/* table size - 1 (power of two >= 2*capacity) */
	struct nc_slot *table;
	struct nc_entry *ring;
};

xr_nonce_cache *
xr_nonce_cache_new(size_t capacity, uint64_t ttl_ms)
{
	xr_nonce_cache *c;
	size_t tsize = 2;

	if (capacity == 0 || capacity > ((size_t)1 << 28))
		return NULL;
	while (tsize < capacity * 2)
		tsize <<= 1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->capacity = capacity;
	c->ttl_ms = ttl_ms;
	c->mask = tsize - 1;
	c->table = calloc(tsize, sizeof(*c->table));
	c->ring = calloc(capacity, sizeof(*c->ring));
	if (c->table == NULL || c->ring == NULL ||
	    xr_random_bytes(&c->seed, sizeof(c->seed)) != XR_OK) {
		xr_nonce_cache_free(c);
		return NULL;
	}
	return c;
}

void
xr_nonce_cache_free(xr_nonce_cache *c)
{
	if (c == NULL)
		return;
	free(c->table);
	free(c->ring);
	free(c);
}

size_t
xr_nonce_cache_count(const xr_nonce_cache *c)
{
	return c->count;
}

static size_t
nc_hash(const xr_nonce_cache *c, const uint8_t n[XR_NONCE_LEN])
{
	uint64_t a, b, h;

	memcpy(&a, n, 8);
	memcpy(&b, n + 8, 8);
	/* splitmix64 finalizer over seed-mixed halves */
	h = a ^ c->seed ^ (b * 0x9e3779b97f4a7c15ULL);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (size_t)h & c->mask;
}

/* Index of the slot holding `n`, or of the empty slot where it would go. */
static size_t
nc_find(const xr_nonce_cache *c, const uint8_t n[XR_NONCE_LEN], int *found)
{
	size_t i = nc_hash(c, n);

	while (c->table[i].used) {
		if (memcmp(c->table[i].nonce, n, XR_NONCE_LEN) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & c->mask;
	}
	*found = 0;
	return i;
}

static void
nc_delete(xr_nonce_cache *c, const uint8_t n[XR_NONCE_LEN])
{
	int found;
	size_t i = nc_find(c, n, &found), j;

	if (!found)
		return;
	/* backward-shift deletion keeps probe chains intact */
	j = i;
	for (;;) {
		c->table[i].used = 0;
		for (;;) {
			size_t home;

			j = (j + 1) & c->mask;
			if (!c->table[j].used)
				return;
			home = nc_hash(c, c->table[j].nonce);
			/* move j back to i unless its home lies in (i, j] */
			if (i <= j ? (i < home && home <= j)
			    : (i < home || home <= j))
				continue;
			c->table[i] = c->table[j];
			i = j;
			break;
		}
	}
}

static void
nc_expire(xr_nonce_cache *c, uint64_t now_ms)
{
	while (c->count > 0 && c->ring[c->head].expires_ms < now_ms) {
		nc_delete(c, c->ring[c->head].nonce);
		c->head = (c->head + 1) % c->capacity;
		c->count--;
	}
}

int
xr_nonce_cache_check(xr_nonce_cache *c, const uint8_t nonce[XR_NONCE_LEN],
    uint64_t ts_ms, uint64_t now_ms)
{
	int found;
	size_t i, tail;

	nc_expire(c, now_ms);
	i = nc_find(c, nonce, &found);
	if (found)
		return XR_ERR_REPLAY;
	if (c->count == c->capacity)
		return XR_ERR_NONCE_CACHE_FULL;
	memcpy(c->table[i].nonce, nonce, XR_NONCE_LEN);
	c->table[i].used = 1;
	tail = (c->head + c->count) % c->capacity;
	memcpy(c->ring[tail].nonce, nonce, XR_NONCE_LEN);
	c->ring[tail].expires_ms = ts_ms + c->ttl_ms;
	c->count++;
	return XR_OK;
}

int
xr_replay_check(xr_session *s, xr_nonce_cache *nonces, const xr_env_view *v,
    uint64_t now_ms)
{
	if (v->session_id_len == 0) {
		if (s->state != XR_SESSION_NONE || nonces == NULL ||
		    v->nonce_len != XR_NONCE_LEN)
			return XR_ERR_REPLAY;
		return xr_nonce_cache_check(nonces, v->nonce, v->ts_ms, now_ms);
	}
	if (v->session_id_len != XR_SESSION_ID_LEN)
		return XR_ERR_REPLAY;
	switch (s->state) {
	case XR_SESSION_OPEN:
		if (memcmp(v->session_id, s->id, XR_SESSION_ID_LEN) != 0 ||
		    v->sequence <= s->peer_seq)
			return XR_ERR_REPLAY;
		s->peer_seq = v->sequence;
		return XR_OK;
	case XR_SESSION_PENDING:
		if (v->kind != XR_KIND_HELLO_ACK ||
		    v->ack_nonce_len != XR_NONCE_LEN ||
		    memcmp(v->ack_nonce, s->hello_nonce, XR_NONCE_LEN) != 0 ||
		    v->sequence == 0)
			return XR_ERR_REPLAY;
		memcpy(s->id, v->session_id, XR_SESSION_ID_LEN);
		s->peer_seq = v->sequence;
		s->state = XR_SESSION_OPEN;
		return XR_OK;
	case XR_SESSION_NONE:
	default:
		return XR_ERR_REPLAY;
	}
}

int
xr_session_open(xr_session *s)
{
	if (xr_random_bytes(s->id, sizeof(s->id)) != XR_OK)
		return XR_ERR_SYSTEM;
	s->state = XR_SESSION_OPEN;
	s->peer_seq = 0;
	s->send_seq = 0;
	return XR_OK;
}

void
xr_session_pending(xr_session *s, const uint8_t hello_nonce[XR_NONCE_LEN])
{
	memset(s, 0, sizeof(*s));
	memcpy(s->hello_nonce, hello_nonce, XR_NONCE_LEN);
	s->state = XR_SESSION_PENDING;
}

uint64_t
xr_session_next_seq(xr_session *s)
{
	return ++s->send_seq;
}
