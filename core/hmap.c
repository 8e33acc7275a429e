/* core/hmap.c — byte-keyed hash map (contract in hmap.h). */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

#define HMAP_FIRST_SLOTS	16

/* An empty slot has value NULL (values are never NULL). */
struct xr_hmap_slot {
	uint64_t hash;
	void *value;
	uint32_t klen;
	union {
		uint8_t in[XR_HMAP_KEY_INLINE];
		uint8_t *out;		/* klen > XR_HMAP_KEY_INLINE */
	} key;
};

uint64_t
xr_hash_fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static const uint8_t *
slot_key(const struct xr_hmap_slot *s)
{
	return s->klen <= XR_HMAP_KEY_INLINE ? s->key.in : s->key.out;
}

/*
 * A key's hash in the map. An 8-byte key (a call id) is one multiplication
 * by 2^64 / phi (Fibonacci hashing: the top bits, which pick the home slot,
 * spread consecutive ids over the table); any other key is FNV-1a.
 */
static uint64_t
key_hash(const void *key, size_t klen)
{
	uint64_t x;

	if (klen != sizeof(x))
		return xr_hash_fnv1a(key, klen);
	memcpy(&x, key, sizeof(x));
	return x * 0x9e3779b97f4a7c15ULL;
}

/* Whether slot `s` holds `key`; an 8-byte key is one comparison. */
static int
key_eq(const struct xr_hmap_slot *s, const void *key, size_t klen)
{
	uint64_t a, b;

	if (s->klen != klen)
		return 0;
	if (klen == sizeof(a)) {
		memcpy(&a, s->key.in, sizeof(a));
		memcpy(&b, key, sizeof(b));
		return a == b;
	}
	return klen == 0 || memcmp(slot_key(s), key, klen) == 0;
}

/* The slot a hash starts probing at: its top bits, which the final
 * multiplication of either hash mixes from every input bit (the low bits
 * are weaker). */
static size_t
home(const xr_hmap *m, uint64_t h)
{
	return (size_t)(h >> m->shift);
}

static size_t
find_index(const xr_hmap *m, uint64_t h, const void *key, size_t klen,
    int *found)
{
	size_t mask = m->nslots - 1, i;

	for (i = home(m, h); m->slots[i].value != NULL; i = (i + 1) & mask) {
		const struct xr_hmap_slot *s = &m->slots[i];

		if (s->hash == h && key_eq(s, key, klen)) {
			*found = 1;
			return i;
		}
	}
	*found = 0;
	return i;
}

/* Move every entry into a new array of `nslots` slots. */
static int
resize(xr_hmap *m, size_t nslots)
{
	struct xr_hmap_slot *ns;
	unsigned bits = 0;

	if ((ns = calloc(nslots, sizeof(*ns))) == NULL)
		return XR_ERR_NOMEM;
	while (((size_t)1 << bits) < nslots)
		bits++;
	for (size_t i = 0; i < m->nslots; i++) {
		const struct xr_hmap_slot *s = &m->slots[i];
		size_t j;

		if (s->value == NULL)
			continue;
		for (j = (size_t)(s->hash >> (64 - bits)); ns[j].value != NULL;
		    j = (j + 1) & (nslots - 1))
			;
		ns[j] = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->nslots = nslots;
	m->shift = 64 - bits;
	return XR_OK;
}

/* Grow so that `n` entries fill at most half the slots. */
static int
grow_for(xr_hmap *m, size_t n)
{
	size_t want = m->nslots ? m->nslots : HMAP_FIRST_SLOTS;

	if (n == 0 || (m->nslots != 0 && n <= m->nslots / 2))
		return XR_OK;
	while (want / 2 < n)
		want *= 2;
	return resize(m, want);
}

/* Empty slot `i` and close the gap (backward shift). */
static void
delete_at(xr_hmap *m, size_t i)
{
	struct xr_hmap_slot *s = m->slots;
	size_t mask = m->nslots - 1, j = i;

	if (s[i].klen > XR_HMAP_KEY_INLINE)
		free(s[i].key.out);
	m->count--;
	for (;;) {
		size_t h;

		j = (j + 1) & mask;
		if (s[j].value == NULL)
			break;
		h = home(m, s[j].hash);
		/* the entry at j stays unless its home lies outside (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		s[i] = s[j];
		i = j;
	}
	memset(&s[i], 0, sizeof(s[i]));
}

int
xr_hmap_init(xr_hmap *m, size_t max_entries)
{
	memset(m, 0, sizeof(*m));
	if (max_entries == 0 || max_entries > XR_HMAP_MAX_ENTRIES)
		return XR_ERR_INVALID_ARG;
	m->max_entries = max_entries;
	return XR_OK;
}

void
xr_hmap_fini(xr_hmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].value != NULL &&
		    m->slots[i].klen > XR_HMAP_KEY_INLINE)
			free(m->slots[i].key.out);
	free(m->slots);
	m->slots = NULL;
	m->nslots = 0;
	m->count = 0;
	m->shift = 0;
}

int
xr_hmap_reserve(xr_hmap *m, size_t n)
{
	if (n > m->max_entries)
		return XR_ERR_INVALID_ARG;
	return grow_for(m, n);
}

int
xr_hmap_insert(xr_hmap *m, const void *key, size_t klen, void *value)
{
	struct xr_hmap_slot *s;
	uint8_t *copy = NULL;
	uint64_t h;
	size_t i;
	int found, r;

	if (value == NULL || (key == NULL && klen > 0) ||
	    klen > UINT32_MAX - 1)
		return XR_ERR_INVALID_ARG;
	h = key_hash(key, klen);
	if (m->nslots != 0) {
		(void)find_index(m, h, key, klen, &found);
		if (found)
			return XR_ERR_INVALID_ARG;
	}
	if (m->count >= m->max_entries)
		return XR_ERR_NO_SPACE;
	if (klen > XR_HMAP_KEY_INLINE) {
		if ((copy = malloc(klen)) == NULL)
			return XR_ERR_NOMEM;
		memcpy(copy, key, klen);
	}
	if ((r = grow_for(m, m->count + 1)) != XR_OK) {
		free(copy);
		return r;
	}
	i = find_index(m, h, key, klen, &found);
	s = &m->slots[i];
	s->hash = h;
	s->value = value;
	s->klen = (uint32_t)klen;
	if (copy != NULL)
		s->key.out = copy;
	else if (klen > 0)
		memcpy(s->key.in, key, klen);
	m->count++;
	return XR_OK;
}

void *
xr_hmap_find(const xr_hmap *m, const void *key, size_t klen)
{
	size_t i;
	int found;

	if (m->count == 0 || (key == NULL && klen > 0))
		return NULL;
	i = find_index(m, key_hash(key, klen), key, klen, &found);
	return found ? m->slots[i].value : NULL;
}

void *
xr_hmap_remove(xr_hmap *m, const void *key, size_t klen)
{
	void *v;
	size_t i;
	int found;

	if (m->count == 0 || (key == NULL && klen > 0))
		return NULL;
	i = find_index(m, key_hash(key, klen), key, klen, &found);
	if (!found)
		return NULL;
	v = m->slots[i].value;
	delete_at(m, i);
	return v;
}

size_t
xr_hmap_count(const xr_hmap *m)
{
	return m->count;
}

size_t
xr_hmap_slots(const xr_hmap *m)
{
	return m->nslots;
}

/*
 * Iteration starts just after an empty slot and goes once round the table.
 * A backward shift never moves an entry across an empty slot, so removing
 * the entry at `pos` only pulls entries not yet visited back to `pos` or
 * beyond: looking at `pos` again after a removal visits each entry once.
 * The load is at most 1/2, so an empty slot exists.
 */
void
xr_hmap_iter_init(xr_hmap_iter *it, xr_hmap *m)
{
	size_t i = 0;

	memset(it, 0, sizeof(*it));
	it->m = m;
	if (m == NULL || m->count == 0)
		return;
	while (m->slots[i].value != NULL)
		i++;
	it->pos = i;
	it->left = m->nslots - 1;
}

int
xr_hmap_iter_next(xr_hmap_iter *it, const void **key, size_t *klen,
    void **value)
{
	const struct xr_hmap_slot *s;

	it->have = 0;
	for (;;) {
		if (it->again)
			it->again = 0;
		else {
			if (it->left == 0)
				return 0;
			it->pos = (it->pos + 1) & (it->m->nslots - 1);
			it->left--;
		}
		s = &it->m->slots[it->pos];
		if (s->value == NULL)
			continue;
		it->have = 1;
		if (key != NULL)
			*key = slot_key(s);
		if (klen != NULL)
			*klen = s->klen;
		if (value != NULL)
			*value = s->value;
		return 1;
	}
}

void *
xr_hmap_iter_remove(xr_hmap_iter *it)
{
	void *v;

	if (!it->have)
		return NULL;
	v = it->m->slots[it->pos].value;
	delete_at(it->m, it->pos);
	it->have = 0;
	it->again = 1;
	return v;
}
