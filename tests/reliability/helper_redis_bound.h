/*
 * tests/reliability/helper_redis_bound.h — bounded memory of the
 * redis_streams profile under a long run (issue 14): a real redis-server
 * (unix socket, temporary directory, no persistence), the inline runtime
 * with the echo service on it, and N unary calls kept `window` at a time
 * in flight, while Redis is sampled: the length of the request stream and
 * of the reply stream (XLEN), and the number of nonce and call records
 * (SCAN P:nonce:*, P:call:*). Shared by test_redis_bound.c (bounded,
 * ctest) and battery_redis_bound.c (1,000,000 calls, figures).
 *
 * What bounds what:
 *  - a stream is trimmed by every XADD to it (MAXLEN ~ max_stream_len):
 *    Redis drops whole radix-tree nodes only, so a stream holds at most
 *    max_stream_len + node - 1 entries, node = the server's
 *    stream-node-max-entries (100 by default; a node is also closed at
 *    stream-node-max-bytes, 4096, so it may hold fewer);
 *  - a nonce record lives 2 * ttl, a call record 2 * ttl + the call's
 *    timeout: at any time at most the calls started within that life (plus
 *    1 s of slack for Redis' expiry cycle and the sampling) are recorded,
 *    and none is left once the last call is that old.
 * `window` must stay below max_stream_len: an entry trimmed before a
 * worker read it is lost (its call ends DEADLINE_EXCEEDED).
 */
#ifndef RB_HELPER_REDIS_BOUND_H
#define RB_HELPER_REDIS_BOUND_H

#include <stdint.h>

typedef struct rb_opts {
	uint64_t calls;			/* N */
	uint32_t window;		/* calls in flight */
	uint32_t max_stream_len;	/* execution_ipc.redis.max_stream_len */
	uint32_t ttl_seconds;		/* execution_ipc.auth.ttl_seconds */
	uint32_t timeout_ms;		/* each call's deadline */
	uint32_t len_every;		/* XLEN sampled every this many calls */
	uint32_t keys_every;		/* the records counted every ... */
} rb_opts;

typedef struct rb_figures {
	uint64_t ok, other;		/* calls by final status */
	uint64_t by_code[17];		/* the same by status code (0..16) */
	long long node;			/* stream-node-max-entries */
	long long max_req, max_reply;	/* largest XLEN sampled */
	long long max_nonce, max_call;	/* most records sampled */
	long long key_excess;		/* most records over their bound at a
					 * sample (<= 0: never over) */
	long long nonce_left, call_left; /* records once every life ran out */
	long long max_used_memory;	/* INFO memory used_memory, bytes */
	unsigned samples;
	double seconds;			/* the calls, without the wait */
	char why[256];			/* what failed, for a -1 */
} rb_figures;

/* Run it: 0 with `f` filled, or -1 with f->why (set-up failed). */
int rb_run(const rb_opts *o, rb_figures *f);

#endif /* RB_HELPER_REDIS_BOUND_H */
