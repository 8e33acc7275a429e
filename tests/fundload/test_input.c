/*
 * tests/fundload/test_input.c — apps/fundload/input.c: the load_amount and
 * time grammars, line validation by category, bounded sanitized
 * diagnostics, the output line (byte-identical to jansson's compact
 * encoding), and bit-flip / truncation loops over a valid line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "input.h"
#include "rules.h"

static void
test_amount(void **state)
{
	static const struct {
		const char *s;
		int ok;
		uint64_t cents;
	} cases[] = {
		{ "$0", 1, 0 }, { "$0.00", 1, 0 }, { "$1", 1, 100 },
		{ "$1.5", 1, 150 }, { "$1.05", 1, 105 }, { "$3318.47", 1, 331847 },
		{ "$5000.00", 1, 500000 }, { "$007.10", 1, 710 },
		{ "$92233720368547758.07", 1, 9223372036854775807ULL },
		{ "$92233720368547758.08", 0, 0 },
		{ "$92233720368547759", 0, 0 },
		{ "$99999999999999999999999999", 0, 0 },
		{ "", 0, 0 }, { "$", 0, 0 }, { "1.00", 0, 0 }, { "$.50", 0, 0 },
		{ "$1.", 0, 0 }, { "$1.005", 0, 0 }, { "$-1", 0, 0 },
		{ "$+1", 0, 0 }, { "$ 1", 0, 0 }, { "$1 ", 0, 0 }, { " $1", 0, 0 },
		{ "$1,000.00", 0, 0 }, { "$1e3", 0, 0 }, { "USD1", 0, 0 },
		{ "$1.0.0", 0, 0 }, { "$\xd9\xa1", 0, 0 } /* Arabic-Indic one */,
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t c = 12345;
		int r = xr_fl_parse_amount(cases[i].s, strlen(cases[i].s), &c,
		    why, sizeof(why));

		if (cases[i].ok) {
			assert_int_equal(r, 0);
			assert_int_equal(c, cases[i].cents);
		} else {
			assert_int_equal(r, -1);
			assert_int_equal(c, 12345);
			assert_non_null(strstr(why, "load_amount"));
		}
	}
}

static void
test_time(void **state)
{
	static const struct {
		const char *s;
		int ok;
		int64_t t;
	} cases[] = {
		{ "2000-01-01T00:00:00Z", 1, 946684800 },
		{ "2000-01-01t00:00:00z", 1, 946684800 },
		{ "2000-01-01T00:00:00+00:00", 1, 946684800 },
		{ "2000-01-01T00:00:00-00:00", 1, 946684800 },
		{ "2000-01-01T01:00:00+01:00", 1, 946684800 },
		{ "1999-12-31T23:00:00-01:00", 1, 946684800 },
		{ "2000-01-01T00:00:00.999999999Z", 1, 946684800 },
		{ "2000-01-01T05:30:00.5+05:30", 1, 946684800 },
		{ "1998-12-31T23:59:60Z", 1, 915148799 },	/* leap second */
		{ "2024-02-29T12:00:00Z", 1, 1709208000 },
		{ "2000-02-29T00:00:00Z", 1, 951782400 },
		{ "1969-12-31T23:59:59Z", 1, -1 },
		{ "0000-01-01T00:00:00Z", 1, XR_FL_TIME_MIN },
		{ "9999-12-31T23:59:59Z", 1, XR_FL_TIME_MAX },
		{ "9999-12-31T23:59:59+23:59", 1, XR_FL_TIME_MAX - 86340 },
		{ "0000-01-01T00:00:00+00:01", 0, 0 },		/* before 0000 */
		{ "9999-12-31T23:59:59-00:01", 0, 0 },		/* after 9999 */
		{ "2023-02-29T00:00:00Z", 0, 0 },
		{ "1900-02-29T00:00:00Z", 0, 0 },
		{ "2000-13-01T00:00:00Z", 0, 0 },
		{ "2000-00-01T00:00:00Z", 0, 0 },
		{ "2000-04-31T00:00:00Z", 0, 0 },
		{ "2000-01-00T00:00:00Z", 0, 0 },
		{ "2000-01-01T24:00:00Z", 0, 0 },
		{ "2000-01-01T00:60:00Z", 0, 0 },
		{ "2000-01-01T00:00:61Z", 0, 0 },
		{ "2000-01-01T00:00:00", 0, 0 },
		{ "2000-01-01T00:00:00+0100", 0, 0 },
		{ "2000-01-01T00:00:00+01", 0, 0 },
		{ "2000-01-01T00:00:00+24:00", 0, 0 },
		{ "2000-01-01T00:00:00+01:60", 0, 0 },
		{ "2000-01-01 00:00:00Z", 0, 0 },
		{ "2000-01-01T00:00:00.Z", 0, 0 },
		{ "2000-01-01T00:00Z", 0, 0 },
		{ "2000-01-01", 0, 0 },
		{ "20000101T000000Z", 0, 0 },
		{ "2000-01-01T00:00:00ZZ", 0, 0 },
		{ "2000-01-01T00:00:00Z ", 0, 0 },
		{ "+2000-01-01T00:00:00Z", 0, 0 },
		{ "946684800", 0, 0 },
		{ "", 0, 0 },
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = 42;
		int r = xr_fl_parse_time(cases[i].s, strlen(cases[i].s), &t,
		    why, sizeof(why));

		if (r != (cases[i].ok ? 0 : -1))
			fail_msg("%s: %d (%s)", cases[i].s, r, why);
		if (cases[i].ok)
			assert_int_equal(t, cases[i].t);
		else
			assert_int_equal(t, 42);
	}
}

static xr_fl_bad
P(const char *line, xr_fl_parsed *p, char *why, size_t cap)
{
	return xr_fl_parse_line(line, strlen(line), p, why, cap);
}

static void
test_line_categories(void **state)
{
	static const struct {
		const char *line;
		xr_fl_bad want;
	} cases[] = {
		{ "{\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_LINE_OK },
		{ " \t{ \"time\" : \"2000-01-01T00:00:00Z\" , \"load_amount\":\"$1\",\"customer_id\":\"\\u0032\",\"id\":\"1\"}\r", XR_FL_LINE_OK },
		{ "", XR_FL_BAD_JSON },
		{ "   ", XR_FL_BAD_JSON },
		{ "null", XR_FL_BAD_JSON },
		{ "[1]", XR_FL_BAD_JSON },
		{ "{", XR_FL_BAD_JSON },
		{ "{}{}", XR_FL_BAD_JSON },
		{ "{\"id\":\"1\",\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_JSON },
		{ "{\"id\":\"\\u0000\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_JSON },
		{ "{\"id\":\"\xff\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_JSON },
		{ "{\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":\"$1\"}", XR_FL_MISSING_FIELD },
		{ "{}", XR_FL_MISSING_FIELD },
		{ "{\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\",\"x\":0}", XR_FL_BAD_FIELD },
		{ "{\"id\":1,\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_FIELD },
		{ "{\"id\":\"1\",\"customer_id\":null,\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_FIELD },
		{ "{\"id\":\"\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_FIELD },
		{ "{\"id\":\"12345678901234567890123456789012345678901234567890123456789012345\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_FIELD },
		{ "{\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":1.00,\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_AMOUNT },
		{ "{\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":\"$1.001\",\"time\":\"2000-01-01T00:00:00Z\"}", XR_FL_BAD_AMOUNT },
		{ "{\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":946684800}", XR_FL_BAD_TIME },
		{ "{\"id\":\"1\",\"customer_id\":\"2\",\"load_amount\":\"$1\",\"time\":\"2000-01-01\"}", XR_FL_BAD_TIME },
	};
	xr_fl_parsed p;
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xr_fl_bad b = P(cases[i].line, &p, why, sizeof(why));

		if (b != cases[i].want)
			fail_msg("case %zu: %s, want %s (%s)", i,
			    xr_fl_bad_name(b), xr_fl_bad_name(cases[i].want),
			    why);
	}
	/* a 64-byte UTF-8 id is fine; the parsed values */
	assert_int_equal(P("{\"id\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"customer_id\":\"528\",\"load_amount\":\"$3318.47\",\"time\":\"2000-01-01T00:00:00Z\"}",
	    &p, why, sizeof(why)), XR_FL_LINE_OK);
	assert_int_equal(p.id_len, 64);
	assert_string_equal(p.customer, "528");
	assert_int_equal(p.customer_len, 3);
	assert_int_equal(p.amount, 331847);
	assert_int_equal(p.time, 946684800);
	assert_int_equal(xr_fl_parse_line(NULL, XR_FL_LINE_MAX + 1, &p, why,
	    sizeof(why)), XR_FL_LINE_TOO_LONG);
	assert_string_equal(xr_fl_bad_name(XR_FL_LINE_TOO_LONG), "line_too_long");
	assert_string_equal(xr_fl_bad_name((xr_fl_bad)99), "unknown");
}

/* A diagnostic quotes at most 80 input bytes, printable ASCII only. */
static void
check_why(const char *why)
{
	assert_true(strlen(why) < 400);
	for (const char *c = why; *c != '\0'; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
}

static void
test_diagnostics_bounded(void **state)
{
	char *line = malloc(20000), why[512];
	xr_fl_parsed p;
	int n;

	(void)state;
	assert_non_null(line);
	n = snprintf(line, 20000, "{\"id\":\"1\",\"customer_id\":\"2\","
	    "\"load_amount\":\"$1.");
	memset(line + n, '9', 10000);
	snprintf(line + n + 10000, 20000 - (size_t)n - 10000,
	    "\",\"time\":\"2000-01-01T00:00:00Z\"}");
	assert_int_equal(P(line, &p, why, sizeof(why)), XR_FL_BAD_AMOUNT);
	check_why(why);
	assert_non_null(strstr(why, "..."));
	/* control bytes and quotes in a key are escaped */
	assert_int_equal(P("{\"a\\u0001\\\"\\u001b[31m\":1}", &p, why,
	    sizeof(why)), XR_FL_BAD_FIELD);
	check_why(why);
	assert_non_null(strstr(why, "a\\x01\\\"\\x1b[31m"));
	/* jansson's own message may quote the input: sanitized too */
	memset(line, 'x', 5000);
	line[0] = '{';
	line[5000] = '\0';
	assert_int_equal(P(line, &p, why, sizeof(why)), XR_FL_BAD_JSON);
	check_why(why);
	free(line);
}

/* An excerpt is cut by input bytes (80), not by its rendered size: 80
 * bytes that render as \xHH each are quoted in full, the 81st adds "...";
 * quotes, backslashes and other bytes are escaped by xr_printable. */
static void
test_excerpt(void **state)
{
	char s[81], why[512], want[400];
	uint64_t cents;
	int64_t t;
	size_t o;

	(void)state;
	assert_int_equal(xr_fl_parse_time("ab\n\"\\\xff", 6, &t, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "time \"ab\\x0a\\\"\\\\\\xff\" is not RFC "
	    "3339 (YYYY-MM-DDTHH:MM:SS[.frac] and Z or +HH:MM)");
	memset(s, 1, sizeof(s));
	o = (size_t)snprintf(want, sizeof(want), "time \"");
	for (int i = 0; i < 80; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "\\x01");
	snprintf(want + o, sizeof(want) - o, "\" is not RFC 3339 "
	    "(YYYY-MM-DDTHH:MM:SS[.frac] and Z or +HH:MM)");
	assert_int_equal(xr_fl_parse_time(s, 80, &t, why, sizeof(why)), -1);
	assert_string_equal(why, want);
	snprintf(want + o, sizeof(want) - o, "...\" is not RFC 3339 "
	    "(YYYY-MM-DDTHH:MM:SS[.frac] and Z or +HH:MM)");
	assert_int_equal(xr_fl_parse_time(s, 81, &t, why, sizeof(why)), -1);
	assert_string_equal(why, want);
	assert_int_equal(xr_fl_parse_amount("", 0, &cents, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "load_amount \"\" does not start with $");
}

/* The output line is exactly jansson's compact encoding. */
static void
test_output_matches_jansson(void **state)
{
	static const char *const ids[] = { "15887", "a\"b\\c", "tab\there",
	    "nl\nx", "\x01\x1f\x7f", "caf\xc3\xa9", "/slash/", "\xf0\x9f\x92\xb8" };
	char buf[XR_FL_OUT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (int acc = 0; acc < 2; acc++) {
			json_t *o = json_object();
			char *s;
			size_t n;

			json_object_set_new(o, "id", json_string(ids[i]));
			json_object_set_new(o, "customer_id",
			    json_string(ids[(i + 1) % 8]));
			json_object_set_new(o, "accepted", json_boolean(acc));
			s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
			n = xr_fl_format_decision(buf, ids[i], strlen(ids[i]),
			    ids[(i + 1) % 8], strlen(ids[(i + 1) % 8]), acc);
			assert_int_equal(n, strlen(s) + 1);
			assert_memory_equal(buf, s, strlen(s));
			assert_int_equal(buf[n - 1], '\n');
			free(s);
			json_decref(o);
		}
	/* the longest possible line fits */
	{
		char worst[XR_FL_ID_MAX];

		memset(worst, 1, sizeof(worst));
		assert_true(xr_fl_format_decision(buf, worst, sizeof(worst),
		    worst, sizeof(worst), 0) <= sizeof(buf));
	}
}

/* Every single-bit flip and every truncation of a valid line gives a
 * clean answer: OK or one of the categories, with a bounded reason. */
static void
test_bitflip_truncate(void **state)
{
	static const char valid[] = "{\"id\":\"15887\",\"customer_id\":\"528\","
	    "\"load_amount\":\"$3318.47\",\"time\":\"2000-01-01T05:00:00+05:00\"}";
	size_t len = sizeof(valid) - 1;
	char buf[sizeof(valid)], why[512];
	xr_fl_parsed p;
	int ok = 0;

	(void)state;
	for (size_t i = 0; i < len * 8; i++) {
		xr_fl_bad b;

		memcpy(buf, valid, len);
		buf[i / 8] ^= (char)(1 << (i % 8));
		why[0] = '\0';
		b = xr_fl_parse_line(buf, len, &p, why, sizeof(why));
		assert_true(b >= XR_FL_LINE_OK && b <= XR_FL_LINE_TOO_LONG);
		if (b == XR_FL_LINE_OK)
			ok++;
		else
			check_why(why);
	}
	assert_true(ok > 0 && ok < (int)len * 8);
	for (size_t n = 0; n < len; n++) {
		why[0] = '\0';
		assert_int_not_equal(xr_fl_parse_line(valid, n, &p, why,
		    sizeof(why)), XR_FL_LINE_OK);
		check_why(why);
	}
	assert_int_equal(xr_fl_parse_line(valid, len, &p, why, sizeof(why)),
	    XR_FL_LINE_OK);
	assert_int_equal(p.time, 946684800);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_amount),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_line_categories),
		cmocka_unit_test(test_diagnostics_bounded),
		cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_output_matches_jansson),
		cmocka_unit_test(test_bitflip_truncate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
