/* core/arena.c — bump allocator for protobuf-c unpacking (see arena.h). */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "keys.h"

#define ALIGN 16

struct xr_arena_block {
	struct xr_arena_block *next;
	size_t cap, used;
	/* data follows, aligned */
};

static size_t
block_hdr(void)
{
	return (sizeof(struct xr_arena_block) + ALIGN - 1) &
	    ~(size_t)(ALIGN - 1);
}

static uint8_t *
block_data(struct xr_arena_block *b)
{
	return (uint8_t *)b + block_hdr();
}

static void *
arena_alloc(void *data, size_t size)
{
	xr_arena *a = data;
	struct xr_arena_block *b = a->blocks;
	size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);

	if (need < size)
		return NULL;
	if (b == NULL || b->cap - b->used < need) {
		size_t cap = b ? b->cap * 2 : a->first;

		while (cap < need)
			cap *= 2;
		if ((b = malloc(block_hdr() + cap)) == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = a->blocks;
		a->blocks = b;
	}
	b->used += need;
	return block_data(b) + b->used - need;
}

static void
arena_free(void *data, void *p)
{
	(void)data;
	(void)p;		/* released in bulk by xr_arena_reset() */
}

void
xr_arena_init(xr_arena *a, size_t first, size_t keep)
{
	a->alloc.alloc = arena_alloc;
	a->alloc.free = arena_free;
	a->alloc.allocator_data = a;
	a->blocks = NULL;
	a->first = first > 0 ? first : ALIGN;
	a->keep = keep;
}

ProtobufCAllocator *
xr_arena_allocator(xr_arena *a)
{
	return &a->alloc;
}

size_t
xr_arena_bytes(const xr_arena *a)
{
	const struct xr_arena_block *b;
	size_t n = 0;

	for (b = a->blocks; b != NULL; b = b->next)
		n += b->cap;
	return n;
}

/* Wipe and free `b` and every block after it. */
static void
free_chain(struct xr_arena_block *b)
{
	while (b != NULL) {
		struct xr_arena_block *next = b->next;

		xr_wipe(block_data(b), b->used);
		free(b);
		b = next;
	}
}

void
xr_arena_reset(xr_arena *a)
{
	struct xr_arena_block *b = a->blocks;

	if (b == NULL)
		return;
	if (xr_arena_bytes(a) > a->keep) {
		xr_arena_fini(a);
		return;
	}
	free_chain(b->next);
	xr_wipe(block_data(b), b->used);
	b->next = NULL;
	b->used = 0;
}

void
xr_arena_fini(xr_arena *a)
{
	free_chain(a->blocks);
	a->blocks = NULL;
}
