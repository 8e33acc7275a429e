/* tests/core/test_printable.c — core/printable.c: every byte value's
 * rendering, embedded NULs, and the exact truncation rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "printable.h"

/* The expected rendering of one byte, written from the contract. */
static const char *
expect(unsigned c, char out[5])
{
	if (c == '"')
		return "\\\"";
	if (c == '\\')
		return "\\\\";
	if (c >= 0x20 && c <= 0x7e) {
		out[0] = (char)c;
		out[1] = '\0';
		return out;
	}
	snprintf(out, 5, "\\x%02x", c);
	return out;
}

static void
test_every_byte(void **state)
{
	char buf[16], e[5];

	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		char in = (char)c;

		assert_string_equal(xr_printable(&in, 1, buf, sizeof(buf)),
		    expect(c, e));
	}
	/* spot checks written out by hand */
	assert_string_equal(xr_printable("\0", 1, buf, sizeof(buf)), "\\x00");
	assert_string_equal(xr_printable("\x1f", 1, buf, sizeof(buf)), "\\x1f");
	assert_string_equal(xr_printable(" ", 1, buf, sizeof(buf)), " ");
	assert_string_equal(xr_printable("~", 1, buf, sizeof(buf)), "~");
	assert_string_equal(xr_printable("\x7f", 1, buf, sizeof(buf)), "\\x7f");
	assert_string_equal(xr_printable("\x80", 1, buf, sizeof(buf)), "\\x80");
	assert_string_equal(xr_printable("\xff", 1, buf, sizeof(buf)), "\\xff");
	assert_string_equal(xr_printable("\xc3\xa9", 2, buf, sizeof(buf)),
	    "\\xc3\\xa9");
}

/* All 256 values in one string: 93 plain + 2 two-byte + 161 four-byte
 * renderings = 741 bytes, the same as the bytes one by one. */
static void
test_all_bytes_at_once(void **state)
{
	char in[256], buf[1024], want[1024], e[5];
	size_t o = 0;

	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		const char *x = expect(c, e);

		in[c] = (char)c;
		memcpy(want + o, x, strlen(x));
		o += strlen(x);
	}
	want[o] = '\0';
	assert_int_equal(o, 741);
	assert_string_equal(xr_printable(in, sizeof(in), buf, sizeof(buf)),
	    want);
	/* NUL is data: the rendering goes on past it */
	assert_string_equal(xr_printable("a\0b", 3, buf, sizeof(buf)),
	    "a\\x00b");
	assert_string_equal(xr_printable(NULL, 0, buf, sizeof(buf)), "");
}

static void
test_truncation(void **state)
{
	char buf[32];

	(void)state;
	memset(buf, 'Z', sizeof(buf));
	/* "abcdef" needs 7 bytes with the NUL: fits exactly */
	assert_string_equal(xr_printable("abcdef", 6, buf, 7), "abcdef");
	/* one byte short: a prefix that leaves room for "..." + NUL */
	assert_string_equal(xr_printable("abcdef", 6, buf, 6), "ab...");
	assert_string_equal(xr_printable("abcdefgh", 8, buf, 8), "abcd...");
	/* an escape is never split: "a\x01" needs 6; cap 6 fits */
	assert_string_equal(xr_printable("a\x01", 2, buf, 6), "a\\x01");
	/* "a\x01b" needs 7: cap 8 of "a\x01\x02" (10 needed) -> "a..." since
	 * "a\x01" + "..." + NUL would take 9 */
	assert_string_equal(xr_printable("a\x01\x02", 3, buf, 8), "a...");
	assert_string_equal(xr_printable("a\x01\x02", 3, buf, 9), "a\\x01...");
	assert_string_equal(xr_printable("\"\"\"", 3, buf, 7), "\\\"\\\"\\\"");
	assert_string_equal(xr_printable("\"\"\"", 3, buf, 6), "\\\"...");
	/* tiny buffers */
	assert_string_equal(xr_printable("abc", 3, buf, 4), "abc");
	assert_string_equal(xr_printable("abcd", 4, buf, 4), "...");
	assert_string_equal(xr_printable("abcd", 4, buf, 3), "");
	assert_string_equal(xr_printable("a", 1, buf, 2), "a");
	assert_string_equal(xr_printable("ab", 2, buf, 2), "");
	assert_string_equal(xr_printable("ab", 2, buf, 1), "");
	/* cap 0: static "", buf untouched (may be NULL) */
	buf[0] = 'Z';
	assert_string_equal(xr_printable("ab", 2, buf, 0), "");
	assert_int_equal(buf[0], 'Z');
	assert_string_equal(xr_printable("ab", 2, NULL, 0), "");
	/* the result is buf itself */
	assert_ptr_equal(xr_printable("ab", 2, buf, sizeof(buf)), buf);
}

/* Never writes past cap, for every cap and a mixed input. */
static void
test_never_overruns(void **state)
{
	static const char in[] = "x\"y\\z\x01\xfe end";
	char buf[64];

	(void)state;
	for (size_t cap = 1; cap < 48; cap++) {
		memset(buf, 0x55, sizeof(buf));
		xr_printable(in, sizeof(in) - 1, buf, cap);
		assert_true(strlen(buf) < cap);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal((unsigned char)buf[i], 0x55);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_all_bytes_at_once),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_never_overruns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
