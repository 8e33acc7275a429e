/*
 * tests/xr_xorshift.h — xorshift64* (Marsaglia's xorshift with Vigna's
 * multiplier): the tests' one generator for random cases. A fixed seed
 * gives a fixed sequence, so a failure reproduces.
 */
#ifndef XR_TESTS_XORSHIFT_H
#define XR_TESTS_XORSHIFT_H

#include <stdint.h>

/* The next number of the sequence whose state is `*s` (never 0). */
static inline uint64_t
xr_xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

#endif /* XR_TESTS_XORSHIFT_H */
