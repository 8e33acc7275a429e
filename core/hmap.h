/*
 * core/hmap.h — a small hash map keyed by bytes, and the tree's one
 * general hash function (FNV-1a, 64 bit). Inside the map an 8-byte key (a
 * call id) is hashed by one multiplication instead (Fibonacci hashing) and
 * compared as one word: the client and the server look a call up three
 * times per call.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones). A slot holds the key's full hash, the value pointer and the
 * key: keys up to XR_HMAP_KEY_INLINE bytes are copied into the slot, longer
 * keys into one allocation made on insert and freed on removal. A lookup or
 * a removal never allocates; an insert allocates only when the table grows
 * or the key is longer than XR_HMAP_KEY_INLINE.
 *
 * Growth policy (explicit and bounded): the slot array is allocated on the
 * first insert (or xr_hmap_reserve()) with 16 slots and doubles whenever an
 * insert would fill more than half of it; it never shrinks before
 * xr_hmap_fini(). A map holds at most `max_entries` entries (fixed at init),
 * so it never has more than max(16, 2 * 2^ceil(log2(max_entries))) slots.
 *
 * Neither hash is keyed: use the map for keys that a peer cannot
 * choose freely (names registered by code, ids this side assigns, values
 * that passed the signature check). Keys taken from unauthenticated input
 * need a keyed hash instead.
 *
 * Not thread-safe; the caller serialises access.
 */
#ifndef XR_HMAP_H
#define XR_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Keys of at most this many bytes live inside the slot (no allocation). */
#define XR_HMAP_KEY_INLINE	16
/* The largest `max_entries` a map accepts. */
#define XR_HMAP_MAX_ENTRIES	((size_t)1 << 28)

/* FNV-1a 64 of the `n` bytes at `p` (p may be NULL when n is 0): offset
 * basis 0xcbf29ce484222325, prime 0x100000001b3. Never fails. */
uint64_t xr_hash_fnv1a(const void *p, size_t n);

struct xr_hmap_slot;

/* A map in caller storage (see the init/fini convention in core/err.h).
 * The fields are private: read them only through the functions below. */
typedef struct xr_hmap {
	struct xr_hmap_slot *slots;	/* NULL until the first insert */
	size_t nslots;			/* 0, or a power of two >= 16 */
	size_t count;
	size_t max_entries;
	unsigned shift;			/* 64 - log2(nslots): home = hash >> shift */
} xr_hmap;

/*
 * Make `m` an empty map that will hold at most `max_entries` entries
 * (1..XR_HMAP_MAX_ENTRIES). Allocates nothing. Returns XR_OK or
 * XR_ERR_INVALID_ARG (then `m` is an empty map that refuses every insert;
 * xr_hmap_fini() on it is still fine).
 */
int xr_hmap_init(xr_hmap *m, size_t max_entries);

/* Free the slot array and the copies of long keys; the values are the
 * caller's and are not touched. Leaves `m` an empty map with the same
 * max_entries. NULL is a no-op. */
void xr_hmap_fini(xr_hmap *m);

/*
 * Grow now so that `n` entries fit without a further allocation of the slot
 * array (long keys still allocate their copy). Returns XR_OK,
 * XR_ERR_INVALID_ARG (n > max_entries) or XR_ERR_NOMEM (map unchanged).
 */
int xr_hmap_reserve(xr_hmap *m, size_t n);

/*
 * Add `key`/`klen` (copied; key may be NULL only when klen is 0) with
 * `value` (borrowed, never NULL). Returns XR_OK; XR_ERR_INVALID_ARG (the key
 * is already present, value NULL, key NULL with klen > 0, or klen over
 * UINT32_MAX - 1); XR_ERR_NO_SPACE (max_entries reached); XR_ERR_NOMEM
 * (growth or the key copy failed). On any error the map is unchanged.
 */
int xr_hmap_insert(xr_hmap *m, const void *key, size_t klen, void *value);

/* The value stored under `key`/`klen`, or NULL when it is absent. Never
 * allocates. */
void *xr_hmap_find(const xr_hmap *m, const void *key, size_t klen);

/* Remove `key`/`klen`; returns its value, or NULL when it was absent. */
void *xr_hmap_remove(xr_hmap *m, const void *key, size_t klen);

/* Number of entries. */
size_t xr_hmap_count(const xr_hmap *m);

/* Number of slots allocated (0 before the first insert); for tests and
 * memory accounting. */
size_t xr_hmap_slots(const xr_hmap *m);

/*
 * Iteration, in no particular order, visiting every entry exactly once even
 * when the loop removes entries with xr_hmap_iter_remove(). Any other change
 * to the map (insert, xr_hmap_remove, reserve, fini) ends the iteration:
 * the iterator must not be used after it.
 *
 *	xr_hmap_iter it;
 *	const void *k; size_t kl; void *v;
 *	xr_hmap_iter_init(&it, m);
 *	while (xr_hmap_iter_next(&it, &k, &kl, &v))
 *		if (done_with(v))
 *			xr_hmap_iter_remove(&it);
 */
typedef struct xr_hmap_iter {
	xr_hmap *m;
	size_t pos;		/* slot of the entry last returned */
	size_t left;		/* slots not yet visited */
	int again;		/* the entry at pos was removed: look again */
	int have;		/* pos holds the entry last returned */
} xr_hmap_iter;

/* Start iterating `m`. Never fails. */
void xr_hmap_iter_init(xr_hmap_iter *it, xr_hmap *m);

/* The next entry: 1 with `*key`/`*klen` and `*value` set (any of the three
 * pointers may be NULL), or 0 at the end. `*key` points into the map: valid
 * until the map next changes (a removal may move an inline key). */
int xr_hmap_iter_next(xr_hmap_iter *it, const void **key, size_t *klen,
    void **value);

/* Remove the entry the last xr_hmap_iter_next() returned; returns its value,
 * or NULL if there is none (already removed, or at the end). */
void *xr_hmap_iter_remove(xr_hmap_iter *it);

#endif /* XR_HMAP_H */
