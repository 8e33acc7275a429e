/*
 * core/arena.h — a bump allocator behind a ProtobufCAllocator, for
 * protobuf-c unpacking without a malloc per message.
 *
 * Blocks are allocated on demand (the first of `first` bytes, each next one
 * twice the last, or what one allocation needs); free() through the
 * allocator is a no-op, everything is released at once by
 * xr_arena_reset(). A reset wipes the bytes handed out and keeps the newest
 * (largest) block for the next use, so an arena reused for messages of a
 * steady size stops allocating; one grown past `keep` bytes in all (an
 * outlier) gives everything back instead.
 *
 * The xr_arena must not move between xr_arena_init() and xr_arena_fini():
 * its allocator points at it. Not thread-safe.
 */
#ifndef XR_ARENA_H
#define XR_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct xr_arena_block;

typedef struct xr_arena {
	ProtobufCAllocator alloc;	/* allocator_data: this arena */
	struct xr_arena_block *blocks;	/* newest first */
	size_t first, keep;
} xr_arena;

/* An empty arena (allocates nothing yet). `first` > 0. */
void xr_arena_init(xr_arena *a, size_t first, size_t keep);

/* The allocator to pass to protobuf-c (*__unpack). An allocation fails
 * (NULL) only when malloc does. */
ProtobufCAllocator *xr_arena_allocator(xr_arena *a);

/* Release everything allocated since the last reset (wiped), keeping the
 * newest block unless the arena holds over `keep` bytes. */
void xr_arena_reset(xr_arena *a);

/* Wipe and free every block; the arena is empty (and may be reused). */
void xr_arena_fini(xr_arena *a);

/* Bytes of block capacity held (headers excluded); 0 when empty. */
size_t xr_arena_bytes(const xr_arena *a);

#endif /* XR_ARENA_H */
