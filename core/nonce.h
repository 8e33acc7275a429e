/*
 * core/nonce.h — the random bytes every frame carries (its nonce, a call's
 * trace id), without a system call per frame.
 *
 * Each thread draws from its own mbedTLS CTR_DRBG (AES-256), seeded from
 * getrandom(2) (xr_random_bytes()) on its first draw and reseeded by the
 * DRBG itself every 10,000 refills. Bytes are taken XR_NONCE_POOL at a time
 * into a per-thread pool and wiped there as they are handed out. A fork
 * makes every thread of the child reseed before its next draw
 * (pthread_atfork()), so a parent and its child never share a stream; no
 * getpid(2) on the way.
 *
 * Nonces must be unique and unpredictable, not secret: keys, session ids
 * and the master secret come from xr_random_bytes() directly.
 */
#ifndef XR_NONCE_H
#define XR_NONCE_H

#include <stddef.h>
#include <stdint.h>

#define XR_NONCE_POOL 1024	/* bytes drawn from the DRBG at a time (its
				 * largest request) */

/*
 * Fill `out` with `len` (<= XR_NONCE_POOL) random bytes from this thread's
 * generator. Returns XR_OK, XR_ERR_INVALID_ARG (len too large), or
 * XR_ERR_SYSTEM when seeding failed (getrandom(2) or the DRBG; `out` is
 * then zeroed).
 */
int xr_nonce_fill(void *out, size_t len);

/* How many times this thread's generator was seeded (by xr_nonce_fill():
 * its first draw, and the first after a fork). For tests. */
uint64_t xr_nonce_seedings(void);

#endif /* XR_NONCE_H */
