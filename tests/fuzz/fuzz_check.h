/*
 * tests/fuzz/fuzz_check.h — the invariant checks every fuzz target uses.
 *
 * CHECK(c): a broken invariant says which, then abort()s, so the driver
 * (ctest) or libFuzzer keeps the input that broke it.
 * TERMINATED(a): the fixed char array `a` holds a NUL.
 */
#ifndef XF_FUZZ_CHECK_H
#define XF_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
		    __LINE__, #c); \
		abort(); \
	} \
} while (0)
#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

#endif /* XF_FUZZ_CHECK_H */
