/*
 * core/batch.h — the payload of a KIND_BATCH envelope, by hand.
 *
 * A BATCH carries the envelopes that left one side in one loop turn under one
 * tag: its payload is execrpc.v1.Batch { repeated bytes envelopes = 1; }, and
 * each item is a serialized Envelope that the receiver checks as a frame of
 * its own (xr_rx_inner() in core/rx.h; docs/design.md section 2, "Batches").
 * This module writes and walks that payload without a protobuf generator, so
 * the server (protobuf-c) and the client (nanopb) share it.
 *
 * Sequence numbers: a sender that may batch reserves a number for the BATCH
 * before it numbers the envelopes that go in it (xr_batch_begin), so the
 * BATCH's number is below theirs and every envelope is checked in order;
 * an envelope that leaves alone keeps its own number and the reserved one
 * is skipped (sequences must increase, gaps are allowed).
 */
#ifndef XR_BATCH_H
#define XR_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* Envelopes per BATCH a peer may advertise (what we take). */
#define XR_BATCH_MAX 64
/*
 * Envelopes we put in one BATCH at most, whatever the peer takes: with a
 * window of 32 calls, groups of 16 keep two in flight each way, so both
 * sides work at once (bench_inflight, 32 in flight: 16 gave 13 % more
 * calls/s than 64, 8 gave 15 % less; 64 in flight: 16 and 64 level).
 * Groups of a third of the calls in flight (at least 4), with the server
 * answering each BATCH as one group, were tried on 2026-12-03: 25-35 %
 * more calls/s at 8 and 16 in flight with the server in a thread
 * (bench_inflight), but with the server in a process of its own
 * (bench_compare --only xr.tcp,xr.sup2, two interleaved runs each) 32 in
 * flight fell from 0.257x to 0.238-0.247x raw and two supervised workers
 * from 0.21x to 0.17x, so the fixed 16 stays.
 */
#define XR_BATCH_SEND 16
/*
 * Largest Batch payload a sender builds: with the BATCH envelope's own
 * fields and the tag it stays under XR_ENVELOPE_OVERHEAD (4096) bytes of
 * body, which every peer accepts whatever its max_payload_bytes (its body
 * limit is max_payload_bytes + 4096). An envelope that does not fit leaves
 * alone.
 */
#define XR_BATCH_MAX_PAYLOAD 3584

/* Bytes of `v` as a protobuf varint (1..10). */
size_t xr_varint_len(uint64_t v);

/* Bytes one envelope of `env_len` bytes takes in a Batch payload. */
size_t xr_batch_item_len(size_t env_len);

/* Write the item's key and length for an envelope of `env_len` bytes into
 * `out` (room for 6 bytes); returns the bytes written. The envelope's bytes
 * follow. */
size_t xr_batch_item_header(uint8_t out[6], size_t env_len);

/* Walks a Batch payload. */
typedef struct xr_batch_iter {
	const uint8_t *p;
	const uint8_t *end;
	uint32_t count;		/* items returned so far */
	uint32_t max;		/* more items than this is malformed */
} xr_batch_iter;

void xr_batch_iter_init(xr_batch_iter *it, const uint8_t *payload,
    size_t len, uint32_t max_items);

/*
 * The next envelope: returns 1 with a view of its bytes, 0 at the end, or
 * XR_ERR_MALFORMED (negative) for anything but field 1 length-delimited
 * items that fit the payload, an empty batch (no item at all), an empty
 * item, or more than `max_items` items.
 */
int xr_batch_next(xr_batch_iter *it, const uint8_t **env, size_t *env_len);

#endif /* XR_BATCH_H */
