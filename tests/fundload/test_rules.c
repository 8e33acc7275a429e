/*
 * tests/fundload/test_rules.c — apps/fundload/rules.c: calendar, primes,
 * the baseline and experiment rules called directly (no transport).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "input.h"
#include "rules.h"

/* unix time of an RFC 3339 text (through the input module) */
static int64_t
T(const char *s)
{
	int64_t t = 0;
	char why[256];

	assert_int_equal(xr_fl_parse_time(s, strlen(s), &t, why, sizeof(why)), 0);
	return t;
}

/* Decide one load; returns the verdict, `reason` gets the reason. */
static xr_fl_verdict
D(xr_fl_rules *r, const char *id, const char *cust, uint64_t cents,
    const char *when, bool slot_free, xr_fl_decision *out)
{
	xr_fl_decision dec;
	xr_fl_load l = { id, strlen(id), cust, strlen(cust), cents, T(when) };

	assert_int_equal(xr_fl_rules_decide(r, &l, slot_free, &dec), XR_OK);
	if (out != NULL)
		*out = dec;
	return dec.verdict;
}

#define ACC XR_FL_ACCEPTED
#define DEC XR_FL_DECLINED
#define IGN XR_FL_IGNORED

static void
test_calendar(void **state)
{
	(void)state;
	assert_int_equal(xr_fl_civil_to_unix(2000, 1, 1, 0, 0, 0), 946684800);
	assert_int_equal(xr_fl_civil_to_unix(1970, 1, 1, 0, 0, 0), 0);
	assert_int_equal(xr_fl_civil_to_unix(0, 1, 1, 0, 0, 0), XR_FL_TIME_MIN);
	assert_int_equal(xr_fl_civil_to_unix(9999, 12, 31, 23, 59, 59),
	    XR_FL_TIME_MAX);
	assert_int_equal(xr_fl_civil_to_unix(2024, 2, 29, 12, 0, 0) + 86400,
	    xr_fl_civil_to_unix(2024, 3, 1, 12, 0, 0));
	/* days floor toward -inf */
	assert_int_equal(xr_fl_day(0), 0);
	assert_int_equal(xr_fl_day(86399), 0);
	assert_int_equal(xr_fl_day(86400), 1);
	assert_int_equal(xr_fl_day(-1), -1);
	assert_int_equal(xr_fl_day(-86400), -1);
	assert_int_equal(xr_fl_day(-86401), -2);
	/* weekdays: 1970-01-01 Thursday, 2000-01-01 Saturday, 2024-01-01
	 * Monday, 1969-12-29 Monday */
	assert_int_equal(xr_fl_weekday(0), 3);
	assert_int_equal(xr_fl_weekday(xr_fl_day(946684800)), 5);
	assert_int_equal(xr_fl_weekday(xr_fl_day(T("2024-01-01T00:00:00Z"))), 0);
	assert_int_equal(xr_fl_weekday(-3), 0);
	assert_int_equal(xr_fl_weekday(xr_fl_day(XR_FL_TIME_MIN)), 5); /* 0000-01-01 Saturday */
	/* weeks: Sunday 23:59:59Z and Monday 00:00:00Z are in different weeks */
	assert_int_equal(xr_fl_week(xr_fl_day(T("2024-01-07T23:59:59Z"))) + 1,
	    xr_fl_week(xr_fl_day(T("2024-01-08T00:00:00Z"))));
	assert_int_equal(xr_fl_week(xr_fl_day(T("2024-01-01T00:00:00Z"))),
	    xr_fl_week(xr_fl_day(T("2024-01-07T23:59:59Z"))));
	assert_int_equal(xr_fl_week(-3), 0);
	assert_int_equal(xr_fl_week(-4), -1);
	/* every day of a range: weekday and week agree */
	for (int64_t d = -800000; d < 3000000; d += 997) {
		assert_int_equal(xr_fl_week(d) * 7 - 3 + xr_fl_weekday(d), d);
		assert_true(xr_fl_weekday(d) >= 0 && xr_fl_weekday(d) <= 6);
	}
}

static void
test_primes(void **state)
{
	static const uint64_t primes[] = { 2, 3, 5, 7, 11, 13, 37, 41, 1009,
	    15887, 65537, 2147483647ULL, 4294967291ULL,
	    18446744073709551557ULL /* the largest 64-bit prime */ };
	/* Carmichael numbers and strong pseudoprimes to small bases */
	static const uint64_t composites[] = { 0, 1, 4, 9, 561, 1105, 2047,
	    41041, 1373653, 25326001, 3215031751ULL, 2152302898747ULL,
	    3474749660383ULL, 341550071728321ULL, 3825123056546413051ULL,
	    18446744073709551615ULL, 4294967297ULL /* 641 x 6700417 */ };
	int n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		assert_true(xr_fl_is_prime_u64(primes[i]));
	for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
		assert_false(xr_fl_is_prime_u64(composites[i]));
	/* against trial division */
	for (uint64_t v = 0; v < 20000; v++) {
		bool p = v >= 2;

		for (uint64_t d = 2; d * d <= v && p; d++)
			p = v % d != 0;
		assert_int_equal(xr_fl_is_prime_u64(v), p);
		n += p;
	}
	assert_int_equal(n, 2262);
	assert_true(xr_fl_id_is_prime("7", 1));
	assert_true(xr_fl_id_is_prime("0007", 4));
	assert_true(xr_fl_id_is_prime("18446744073709551557", 20));
	assert_false(xr_fl_id_is_prime("18446744073709551616", 20)); /* > 2^64-1 */
	assert_false(xr_fl_id_is_prime("000000000000000000007", 21)); /* 21 digits */
	assert_false(xr_fl_id_is_prime("7a", 2));
	assert_false(xr_fl_id_is_prime("+7", 2));
	assert_false(xr_fl_id_is_prime(" 7", 2));
	assert_false(xr_fl_id_is_prime("", 0));
	assert_false(xr_fl_id_is_prime("1", 1));
	assert_false(xr_fl_id_is_prime("15888", 5));
}

static void
test_baseline_day_amount(void **state)
{
	xr_fl_rules *r = xr_fl_rules_new(XR_RULES_BASELINE);
	xr_fl_decision d;

	(void)state;
	assert_non_null(r);
	assert_int_equal(xr_fl_rules_mode(r), XR_RULES_BASELINE);
	assert_int_equal(D(r, "1", "c", 499999, "2024-01-09T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "2", "c", 2, "2024-01-09T01:00:00Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_DAY_AMOUNT);
	assert_int_equal(D(r, "3", "c", 1, "2024-01-09T23:59:59Z", true, NULL), ACC);
	/* the day is full; the next UTC day is not */
	assert_int_equal(D(r, "4", "c", 1, "2024-01-09T23:59:59Z", true, NULL), DEC);
	assert_int_equal(D(r, "5", "c", 500000, "2024-01-10T00:00:00Z", true, NULL), ACC);
	/* one load above the limit; another customer is independent */
	assert_int_equal(D(r, "6", "d", 500001, "2024-01-09T00:00:00Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_DAY_AMOUNT);
	assert_int_equal(D(r, "7", "d", 500000, "2024-01-09T00:00:00Z", true, NULL), ACC);
	/* the largest amount: declined, no overflow */
	assert_int_equal(D(r, "8", "e", XR_FL_AMOUNT_MAX, "2024-01-09T00:00:00Z", true, NULL), DEC);
	xr_fl_rules_free(r);
}

static void
test_baseline_day_count(void **state)
{
	xr_fl_rules *r = xr_fl_rules_new(XR_RULES_BASELINE);
	xr_fl_decision d;

	(void)state;
	assert_int_equal(D(r, "1", "c", 100, "2024-01-10T01:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "2", "c", 600000, "2024-01-10T01:30:00Z", true, NULL), DEC);
	assert_int_equal(D(r, "3", "c", 100, "2024-01-10T02:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "4", "c", 0, "2024-01-10T03:00:00Z", true, NULL), ACC);
	/* 3 accepted (the declined one does not count): the 4th is declined */
	assert_int_equal(D(r, "5", "c", 0, "2024-01-10T04:00:00Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_DAY_COUNT);
	assert_int_equal(D(r, "6", "c", 100, "2024-01-11T00:00:00Z", true, NULL), ACC);
	xr_fl_rules_free(r);
}

static void
test_baseline_week(void **state)
{
	xr_fl_rules *r = xr_fl_rules_new(XR_RULES_BASELINE);
	xr_fl_decision d;

	(void)state;
	/* week Monday 2024-01-15 .. Sunday 2024-01-21 */
	assert_int_equal(D(r, "1", "c", 500000, "2024-01-15T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "2", "c", 500000, "2024-01-16T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "3", "c", 500000, "2024-01-17T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "4", "c", 499999, "2024-01-18T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "5", "c", 2, "2024-01-21T23:59:59Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_WEEK_AMOUNT);
	assert_int_equal(D(r, "6", "c", 1, "2024-01-21T23:59:59Z", true, NULL), ACC);
	assert_int_equal(D(r, "7", "c", 1, "2024-01-21T23:59:59Z", true, NULL), DEC);
	/* Monday 00:00:00Z starts a new week */
	assert_int_equal(D(r, "8", "c", 500000, "2024-01-22T00:00:00Z", true, NULL), ACC);
	/* out of input order: the old week is still exact */
	assert_int_equal(D(r, "9", "c", 1, "2024-01-19T12:00:00Z", true, NULL), DEC);
	assert_int_equal(D(r, "10", "c", 1, "2024-01-14T12:00:00Z", true, NULL), ACC);
	xr_fl_rules_free(r);
}

static void
test_duplicates(void **state)
{
	xr_fl_rules *r = xr_fl_rules_new(XR_RULES_BASELINE);
	xr_fl_rules_stats st;

	(void)state;
	assert_int_equal(D(r, "15887", "528", 100, "2024-01-09T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "15887", "528", 100, "2024-01-09T00:00:00Z", true, NULL), IGN);
	/* other customer: not a duplicate; a prefix is another id */
	assert_int_equal(D(r, "15887", "529", 100, "2024-01-09T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "1588", "528", 100, "2024-01-09T00:00:00Z", true, NULL), ACC);
	/* a declined id was seen too */
	assert_int_equal(D(r, "99", "528", 900000, "2024-01-09T00:00:00Z", true, NULL), DEC);
	assert_int_equal(D(r, "99", "528", 1, "2024-01-10T00:00:00Z", true, NULL), IGN);
	/* the ignored loads changed nothing: 2 accepted today, room for 1 */
	assert_int_equal(D(r, "100", "528", 1, "2024-01-09T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(r, "101", "528", 1, "2024-01-09T00:00:00Z", true, NULL), DEC);
	xr_fl_rules_stats_get(r, &st);
	assert_int_equal(st.customers, 2);
	assert_int_equal(st.ids, 6);
	assert_true(st.bytes > 0);
	xr_fl_rules_free(r);
}

static void
test_invalid_load(void **state)
{
	xr_fl_rules *r = xr_fl_rules_new(XR_RULES_BASELINE);
	char big[XR_FL_ID_MAX + 2];
	xr_fl_decision d;
	xr_fl_rules_stats st;
	xr_fl_load l = { "1", 1, "c", 1, 100, 0 };

	(void)state;
	memset(big, '7', sizeof(big));
	l.id_len = 0;
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_ERR_INVALID_ARG);
	l.id_len = XR_FL_ID_MAX + 1;
	l.id = big;
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_ERR_INVALID_ARG);
	l.id_len = XR_FL_ID_MAX;	/* 64 bytes is fine */
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_OK);
	l.id_len = 1;
	l.customer = big;
	l.customer_len = XR_FL_ID_MAX + 1;
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_ERR_INVALID_ARG);
	l.customer_len = 1;
	l.amount = XR_FL_AMOUNT_MAX + 1;
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_ERR_INVALID_ARG);
	l.amount = 1;
	l.time = XR_FL_TIME_MAX + 1;
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_ERR_INVALID_ARG);
	l.time = XR_FL_TIME_MIN - 1;
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_ERR_INVALID_ARG);
	l.time = XR_FL_TIME_MIN;
	assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_OK);
	xr_fl_rules_stats_get(r, &st);
	assert_int_equal(st.ids, 2);
	xr_fl_rules_free(r);
}

static void
test_experiment_monday(void **state)
{
	xr_fl_rules *b = xr_fl_rules_new(XR_RULES_BASELINE);
	xr_fl_rules *e = xr_fl_rules_new(XR_RULES_EXPERIMENT);
	xr_fl_decision d;

	(void)state;
	/* Monday 2024-01-29: counts double toward the day */
	assert_int_equal(D(e, "10", "c", 250000, "2024-01-29T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "12", "c", 1, "2024-01-29T23:59:59Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_DAY_AMOUNT);
	assert_int_equal(D(b, "10", "c", 250000, "2024-01-29T00:00:00Z", true, NULL), ACC);
	assert_int_equal(D(b, "12", "c", 1, "2024-01-29T23:59:59Z", true, NULL), ACC);
	assert_int_equal(D(e, "14", "d", 250001, "2024-01-29T12:00:00Z", true, NULL), DEC);
	/* Sunday 23:59:59Z is not a Monday; an offset decides by UTC */
	assert_int_equal(D(e, "16", "f", 500000, "2024-01-28T23:59:59Z", true, NULL), ACC);
	assert_int_equal(D(e, "18", "g", 250001, "2024-01-29T00:30:00+01:00", true, NULL), ACC);
	assert_int_equal(D(e, "20", "h", 250001, "2024-01-28T23:30:00-01:00", true, NULL), DEC);
	/* and double toward the week: Mon 2,500 (5,000) + 3 x 5,000 = 20,000 */
	assert_int_equal(D(e, "22", "w", 250000, "2024-01-29T10:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "24", "w", 500000, "2024-01-30T10:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "26", "w", 500000, "2024-01-31T10:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "28", "w", 500000, "2024-02-01T10:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "30", "w", 1, "2024-02-02T10:00:00Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_WEEK_AMOUNT);
	xr_fl_rules_free(b);
	xr_fl_rules_free(e);
}

static void
test_experiment_prime(void **state)
{
	xr_fl_rules *e = xr_fl_rules_new(XR_RULES_EXPERIMENT);
	xr_fl_rules *b = xr_fl_rules_new(XR_RULES_BASELINE);
	xr_fl_decision d;

	(void)state;
	/* the prime cap is checked first: 9,999.01 -> PRIME_AMOUNT, 9,999.00
	 * passes it and meets the daily limit */
	assert_int_equal(D(e, "1009", "a", 999901, "2024-02-03T08:00:00Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_PRIME_AMOUNT);
	assert_true(d.prime);
	assert_false(d.prime_slot_consumed);
	assert_int_equal(D(e, "1013", "a", 999900, "2024-02-03T08:00:00Z", true, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_DAY_AMOUNT);
	/* slot free: accepted and consumed */
	assert_int_equal(D(e, "1019", "a", 100, "2024-02-03T08:00:00Z", true, &d), ACC);
	assert_true(d.prime_slot_consumed);
	assert_int_equal(d.day, xr_fl_day(T("2024-02-03T00:00:00Z")));
	/* slot taken: declined with PRIME_SLOT, and nothing counted */
	assert_int_equal(D(e, "1021", "b", 100, "2024-02-03T09:00:00Z", false, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_PRIME_SLOT);
	assert_false(d.prime_slot_consumed);
	/* the other rules come first: a 4th load reports DAY_COUNT */
	assert_int_equal(D(e, "2", "b", 1, "2024-02-03T09:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "4", "b", 1, "2024-02-03T09:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "6", "b", 1, "2024-02-03T09:00:00Z", true, NULL), ACC);
	assert_int_equal(D(e, "1031", "b", 1, "2024-02-03T09:00:00Z", false, &d), DEC);
	assert_int_equal(d.reason, XR_FL_REASON_DAY_COUNT);
	/* the flag is ignored for non-prime ids and under baseline */
	assert_int_equal(D(e, "8", "c", 1, "2024-02-03T09:00:00Z", false, &d), ACC);
	assert_false(d.prime);
	assert_int_equal(D(b, "1033", "c", 1, "2024-02-03T09:00:00Z", false, &d), ACC);
	assert_false(d.prime);
	assert_false(d.prime_slot_consumed);
	/* a duplicate prime id is ignored before any rule */
	assert_int_equal(D(e, "1019", "a", 100, "2024-02-04T08:00:00Z", true, &d), IGN);
	assert_false(d.prime_slot_consumed);
	xr_fl_rules_free(e);
	xr_fl_rules_free(b);
}

/* Many customers and ids: the tables and the arena grow; every answer
 * stays exact. */
static void
test_growth(void **state)
{
	xr_fl_rules *r = xr_fl_rules_new(XR_RULES_BASELINE);
	xr_fl_rules_stats st;
	char id[64], cust[32];
	xr_fl_decision d;
	int64_t t0 = T("2024-03-05T00:00:00Z");

	(void)state;
	for (int i = 0; i < 120000; i++) {
		xr_fl_load l;

		snprintf(id, sizeof(id), "id-%d-%0*d", i, 30, i);
		snprintf(cust, sizeof(cust), "customer-%d", i % 30000);
		l = (xr_fl_load){ id, strlen(id), cust, strlen(cust), 100,
		    t0 + (i / 30000) * 3600 };
		assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_OK);
		/* 4 loads per customer on one day: the 4th is declined */
		assert_int_equal(d.verdict, i < 90000 ? ACC : DEC);
	}
	for (int i = 0; i < 120000; i += 7) {
		xr_fl_load l;

		snprintf(id, sizeof(id), "id-%d-%0*d", i, 30, i);
		snprintf(cust, sizeof(cust), "customer-%d", i % 30000);
		l = (xr_fl_load){ id, strlen(id), cust, strlen(cust), 1, t0 };
		assert_int_equal(xr_fl_rules_decide(r, &l, true, &d), XR_OK);
		assert_int_equal(d.verdict, IGN);
	}
	xr_fl_rules_stats_get(r, &st);
	assert_int_equal(st.customers, 30000);
	assert_int_equal(st.ids, 120000);
	assert_int_equal(st.buckets, 60000);
	xr_fl_rules_free(r);
	xr_fl_rules_free(NULL);
}

static void
test_dayset(void **state)
{
	xr_fl_dayset *s = xr_fl_dayset_new();
	int64_t lo = xr_fl_day(XR_FL_TIME_MIN), hi = xr_fl_day(XR_FL_TIME_MAX);

	(void)state;
	assert_non_null(s);
	assert_false(xr_fl_dayset_has(s, 0));
	xr_fl_dayset_add(s, 0);
	xr_fl_dayset_add(s, lo);
	xr_fl_dayset_add(s, hi);
	xr_fl_dayset_add(s, hi + 1);	/* out of range: ignored */
	assert_true(xr_fl_dayset_has(s, 0));
	assert_true(xr_fl_dayset_has(s, lo));
	assert_true(xr_fl_dayset_has(s, hi));
	assert_false(xr_fl_dayset_has(s, 1));
	assert_false(xr_fl_dayset_has(s, -1));
	assert_false(xr_fl_dayset_has(s, hi + 1));
	assert_false(xr_fl_dayset_has(s, lo - 1));
	xr_fl_dayset_free(s);
	xr_fl_dayset_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_primes),
		cmocka_unit_test(test_baseline_day_amount),
		cmocka_unit_test(test_baseline_day_count),
		cmocka_unit_test(test_baseline_week),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_invalid_load),
		cmocka_unit_test(test_experiment_monday),
		cmocka_unit_test(test_experiment_prime),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_dayset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
