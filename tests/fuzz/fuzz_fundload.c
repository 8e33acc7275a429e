/*
 * tests/fuzz/fuzz_fundload.c — structure-aware: the input bytes are decoded
 * into a short sequence (1..16) of fund-load lines, each built field by
 * field (id, customer_id, load_amount in its "$123.45" and edge forms, time
 * in RFC 3339 and edge forms, field order, a few deliberate corruptions:
 * missing field, wrong type, amount out of range, duplicate key, unknown key,
 * \u0000, trailing bytes, not an object), rendered as JSON text, and run
 * through apps/fundload/input.c (xr_fl_parse_line) and then rules.c under
 * both rule sets (docs/fundload.md is the oracle's source).
 *
 * Decoding: a cursor over the input; every choice takes one byte (0 once the
 * input is exhausted), so every input is a valid sequence and libFuzzer's
 * byte mutations move between structures. Nearly every decoded line is
 * valid JSON: the parser is exercised past json_loadb().
 *
 * Invariants (abort() on violation):
 *  - the parser's category is exactly the one the generator predicts (the
 *    first failing check in docs/fundload.md's order: JSON, unknown key,
 *    missing field, id, customer_id, load_amount, time), and a line that
 *    parses carries exactly the generated id, customer_id, cents and UTC
 *    seconds (computed here by an independent calendar);
 *  - under each rule set, every parsed line gets exactly one decision, equal
 *    to an independent reference model's (duplicates per customer, Monday
 *    doubling, prime ids, the day's prime slot, the check order); the
 *    accepted loads of a customer never exceed $5,000.00 / 3 loads a UTC
 *    day or $20,000.00 a week (Monday doubled under experiment);
 *  - the same sequence decided again (as a new run: see "the run" below)
 *    gives the same decisions.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "input.h"
#include "rules.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 16
#define TEXT_MAX 2400

/* ---------- the byte cursor ---------- */

struct src {
	const uint8_t *p;
	size_t n;
};

static unsigned
u8(struct src *s)
{
	if (s->n == 0)
		return 0;
	s->n--;
	return *s->p++;
}

static unsigned
u16(struct src *s)
{
	unsigned hi = u8(s);

	return hi << 8 | u8(s);
}

/* ---------- one generated line ---------- */

enum { F_ID, F_CUST, F_AMOUNT, F_TIME, NF };
static const char *const fname[NF] = { "id", "customer_id", "load_amount",
    "time" };

struct line {
	char val[NF][512];		/* each field's JSON value text */
	/* what the parser must find */
	char id[XR_FL_ID_MAX + 2];
	size_t id_len;
	char cust[XR_FL_ID_MAX + 2];
	size_t cust_len;
	uint64_t cents;
	int64_t time;
	bool prime;			/* id is a prime numeric id */
	xr_fl_bad fbad[NF];		/* each field's own verdict */
	xr_fl_bad expect;
	char text[TEXT_MAX];
	size_t len;
};

/* A decoded byte string as a JSON string: escapes for '"', '\\' and control
 * bytes, sometimes \u-escaped letters (the decoded value is the same). */
static void
json_str(char *o, size_t cap, const char *s, size_t len, unsigned style)
{
	size_t n = 0;

	o[n++] = '"';
	for (size_t i = 0; i < len && n + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			n += (size_t)snprintf(o + n, cap - n, "\\%c", c);
		else if (c < 0x20 || ((style & 1) != 0 && c >= 'a' && c <= 'z'))
			n += (size_t)snprintf(o + n, cap - n, "\\u%04x", c);
		else
			o[n++] = (char)c;
	}
	o[n++] = '"';
	o[n] = '\0';
}

static const char *const alphabet[] = { "a", "Z", "0", "7", "-", "_", " ",
    "\"", "\\", "\n", "\t", "\x01", "\xc3\xa9" /* é */,
    "\xe2\x82\xac" /* € */, "\xf0\x9f\x98\x80" /* U+1F600 */, "." };

/* Numeric ids with a known primality (the decimal text is the id). */
static const struct {
	const char *s;
	bool prime;
} numeric[] = {
	{ "0", false }, { "1", false }, { "2", true }, { "3", true },
	{ "4", false }, { "7", true }, { "0007", true }, { "9", false },
	{ "97", true }, { "15887", true }, { "15888", false }, { "1000000007", true },
	{ "4294967291", true }, { "4294967297", false },
	{ "18446744073709551557", true },	/* the largest 64-bit prime */
	{ "18446744073709551615", false },	/* UINT64_MAX */
	{ "18446744073709551616", false },	/* over 64 bits: not numeric */
	{ "00000000000000000002", true },	/* 20 digits */
	{ "000000000000000000002", false },	/* 21: not numeric */
	{ "+7", false }, { "7 ", false }, { "-3", false },
};
#define NNUMERIC (sizeof(numeric) / sizeof(numeric[0]))

static bool
small_prime(uint64_t v)
{
	if (v < 2)
		return false;
	for (uint64_t d = 2; d * d <= v; d++)
		if (v % d == 0)
			return false;
	return true;
}

/* An alphabet id that happens to be all digits ("7", "0707"): numeric if
 * 1..20 digits within 64 bits; trial division up to 10^10, the library's
 * Miller-Rabin above (rules.c's own tests cover it). */
static bool
digits_prime(const char *s, size_t len)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned dg = (unsigned char)s[i] - '0';

		if (dg > 9 || v > (UINT64_MAX - dg) / 10)
			return false;
		v = v * 10 + dg;
	}
	return v < 10000000000ULL ? small_prime(v) : xr_fl_is_prime_u64(v);
}

/* An id or customer_id: a pooled small number (collisions, duplicates), a
 * numeric edge, or a string from the alphabet of 0..66 bytes. */
static void
gen_id(struct src *s, char *raw, size_t *rlen, bool *prime, char *val,
    size_t vcap, xr_fl_bad *b, unsigned pool)
{
	unsigned k = u8(s), n;

	*prime = false;
	*rlen = 0;
	if (k < 160) {
		unsigned v = k % pool;

		*rlen = (size_t)snprintf(raw, XR_FL_ID_MAX + 2, "%u", v);
		*prime = small_prime(v);
	} else if (k < 200) {
		const size_t i = (k - 160) % NNUMERIC;

		*rlen = strlen(numeric[i].s);
		memcpy(raw, numeric[i].s, *rlen);
		*prime = numeric[i].prime;
	} else {
		n = u8(s) % 67;
		for (unsigned i = 0; i < n; i++) {
			const char *a = alphabet[u8(s) % (sizeof(alphabet) /
			    sizeof(alphabet[0]))];
			size_t al = strlen(a);

			if (*rlen + al > XR_FL_ID_MAX + 1)
				break;
			memcpy(raw + *rlen, a, al);
			*rlen += al;
		}
	}
	raw[*rlen] = '\0';
	if (k >= 200)
		*prime = digits_prime(raw, *rlen);
	json_str(val, vcap, raw, *rlen, k & 1);
	*b = *rlen >= 1 && *rlen <= XR_FL_ID_MAX ? XR_FL_LINE_OK :
	    XR_FL_BAD_FIELD;
}

/* load_amount: cents near the limits or from two bytes, in one of its
 * renderings; or an edge form with a known verdict. */
static const uint64_t cents_pool[] = { 0, 1, 99, 100, 100000, 249999,
    250000, 250001, 499999, 500000, 500001, 999900, 999901, 2000000,
    2000001, 9223372036854775807ULL };
static const struct {
	const char *s;
	bool ok;
	uint64_t cents;
} amount_edges[] = {
	{ "$0", true, 0 }, { "$0.0", true, 0 }, { "$00.01", true, 1 },
	{ "$5000.00", true, 500000 }, { "$5000.01", true, 500001 },
	{ "$92233720368547758.07", true, 9223372036854775807ULL },
	{ "$92233720368547758.08", false, 0 },
	{ "$100000000000000000000", false, 0 },
	{ "$18446744073709551616", false, 0 },
	{ "$", false, 0 }, { "$.50", false, 0 }, { "$1.", false, 0 },
	{ "$1.234", false, 0 }, { "$1,000.00", false, 0 }, { "$ 1", false, 0 },
	{ "5.00", false, 0 }, { "$-5", false, 0 }, { "-$5", false, 0 },
	{ "$1e3", false, 0 }, { "", false, 0 }, { "$1.00 ", false, 0 },
	{ "\xc2\xa3" "5", false, 0 },
};
#define NAMOUNT_EDGES (sizeof(amount_edges) / sizeof(amount_edges[0]))

static void
gen_amount(struct src *s, struct line *l)
{
	unsigned k = u8(s);
	char txt[64];
	uint64_t c;

	if (k >= 224) {
		size_t i = (k - 224) % NAMOUNT_EDGES;

		json_str(l->val[F_AMOUNT], sizeof(l->val[0]),
		    amount_edges[i].s, strlen(amount_edges[i].s), 0);
		l->cents = amount_edges[i].cents;
		l->fbad[F_AMOUNT] = amount_edges[i].ok ? XR_FL_LINE_OK :
		    XR_FL_BAD_AMOUNT;
		return;
	}
	c = k < 64 ? cents_pool[k % (sizeof(cents_pool) /
	    sizeof(cents_pool[0]))] : (uint64_t)u16(s) * (k & 0x10 ? 10 : 1);
	/* renderings: $D, $D.C, $D.CC, leading zeros */
	if (c % 100 == 0 && k & 2)
		snprintf(txt, sizeof(txt), "$%s%llu", k & 4 ? "00" : "",
		    (unsigned long long)(c / 100));
	else if (c % 10 == 0 && k & 8)
		snprintf(txt, sizeof(txt), "$%s%llu.%llu", k & 4 ? "0" : "",
		    (unsigned long long)(c / 100),
		    (unsigned long long)(c % 100 / 10));
	else
		snprintf(txt, sizeof(txt), "$%llu.%02llu",
		    (unsigned long long)(c / 100),
		    (unsigned long long)(c % 100));
	json_str(l->val[F_AMOUNT], sizeof(l->val[0]), txt, strlen(txt), 0);
	l->cents = c;
	l->fbad[F_AMOUNT] = XR_FL_LINE_OK;
}

/* ---------- an independent calendar ---------- */

static bool
leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int
month_days(int64_t y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };

	return m == 2 && leap(y) ? 29 : dm[m - 1];
}

/* Days from 0000-01-01 to y-m-d (y >= 0): whole years, then months. */
static int64_t
days_since_0(int64_t y, int m, int d)
{
	int64_t days = 365 * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;

	for (int i = 1; i < m; i++)
		days += month_days(y, i);
	return days + d - 1;
}

#define DAYS_0_TO_1970 719528

/* y-m-d of `days` since 0000-01-01 (0 <= days): walk years, then months. */
static void
civil_of(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t yy = days / 366;

	while (days_since_0(yy + 1, 1, 1) <= days)
		yy++;
	days -= days_since_0(yy, 1, 1);
	*m = 1;
	while (days >= month_days(yy, *m))
		days -= month_days(yy, (*m)++);
	*y = yy;
	*d = (int)days + 1;
}

/*
 * time: a local date near an anchor (a Monday in 2000, the epoch, a leap
 * February, the ends of the range), a time of day, a fraction, an offset;
 * sometimes one field out of its range or a grammar fault.
 */
static void
gen_time(struct src *s, struct line *l)
{
	static const int64_t anchors[] = {
		730487,		/* 2000-01-03, a Monday */
		DAYS_0_TO_1970,	/* 1970-01-01 */
		739307,		/* 2024-02-26 */
		0,		/* 0000-01-01 */
		3652424 - 20,	/* 20 days before 9999-12-31 */
		738943,		/* 2023-02-27 */
	};
	unsigned k = u8(s), fault = u8(s), tz = u8(s), h = u8(s) % 24,
	    mi = u8(s) % 60, sec = u8(s) % 61, oh = u8(s) % 24, om = u8(s) % 4 *
	    15, nfrac = (k >> 3) % 4;
	int64_t y, utc;
	int mo, d, sign = 0;
	char t[96], zone[16] = "Z", frac[16] = "";
	bool valid;

	civil_of(anchors[k % 6] + (int64_t)(u8(s) % 21), &y, &mo, &d);
	if (tz & 1) {
		sign = tz & 2 ? -1 : 1;
		snprintf(zone, sizeof(zone), "%c%02u:%02u", sign < 0 ? '-' :
		    '+', oh, om);
	} else if (tz & 2) {
		zone[0] = 'z';
	}
	if (nfrac > 0)
		snprintf(frac, sizeof(frac), ".%.*s", (int)nfrac * 3,
		    "999000123456");
	/* calendar faults: one field out of range */
	switch (fault < 200 ? 0 : fault % 10) {
	case 1: mo = fault & 16 ? 13 : 0; break;
	case 2: d = month_days(y, mo) + 1; break;
	case 3: d = 0; break;
	case 4: h = 24; break;
	case 5: mi = 60; break;
	case 6: sec = 61; break;
	case 7:
		if (sign != 0)
			oh = 24;
		break;
	case 8:
		if (sign != 0)
			om = 60;
		break;
	default: break;
	}
	if (sign != 0)
		snprintf(zone, sizeof(zone), "%c%02u:%02u", sign < 0 ? '-' :
		    '+', oh, om);
	snprintf(t, sizeof(t), "%04lld-%02d-%02d%c%02u:%02u:%02u%s%s",
	    (long long)y, mo, d, k & 4 ? 't' : 'T', h, mi, sec, frac, zone);
	valid = mo >= 1 && mo <= 12 && d >= 1 && d <= month_days(y, mo) &&
	    h <= 23 && mi <= 59 && sec <= 60 && oh <= 23 && om <= 59;
	utc = 0;
	if (valid) {
		utc = (days_since_0(y, mo, d) - DAYS_0_TO_1970) * 86400 +
		    h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) -
		    sign * (int64_t)(oh * 3600 + om * 60);
		valid = utc >= XR_FL_TIME_MIN && utc <= XR_FL_TIME_MAX;
	}
	/* grammar faults */
	if (fault >= 180 && fault < 200) {
		size_t n = strlen(t);

		switch (fault % 5) {
		case 0: t[10] = ' '; break;			/* no T */
		case 1: t[n - strlen(zone)] = '\0'; break;	/* no zone */
		case 2: memcpy(t + n, "x", 2); break;		/* trailing */
		case 3: memmove(t, t + 2, n - 1); break;	/* 2-digit year */
		default: memcpy(t + n, "+01:00", 7); break;	/* two zones */
		}
		valid = false;
	}
	json_str(l->val[F_TIME], sizeof(l->val[0]), t, strlen(t), 0);
	l->time = utc;
	l->fbad[F_TIME] = valid ? XR_FL_LINE_OK : XR_FL_BAD_TIME;
}

/* ---------- the line's text ---------- */

enum corrupt { C_NONE, C_MISSING, C_TYPE, C_RANGE, C_DUP, C_UNKNOWN,
    C_NUL, C_TRAILING, C_ARRAY, C_COUNT };

static const char *const wrong_types[] = { "5", "-1.5", "null", "true",
    "{}", "[\"$1.00\"]" };

static size_t
put(char *o, size_t n, const char *s)
{
	size_t l = strlen(s);

	if (n + l >= TEXT_MAX)
		return n;
	memcpy(o + n, s, l + 1);
	return n + l;
}

static void
gen_line(struct src *s, struct line *l)
{
	unsigned c = u8(s), order = u8(s), f = u8(s) % NF, sp = u8(s);
	enum corrupt cor = c < 192 ? C_NONE : (enum corrupt)(1 + c % (C_COUNT -
	    1));
	bool pr;
	size_t n = 0;
	unsigned perm[NF] = { 0, 1, 2, 3 };

	memset(l, 0, sizeof(*l));
	gen_id(s, l->id, &l->id_len, &l->prime, l->val[F_ID],
	    sizeof(l->val[0]), &l->fbad[F_ID], 40);
	gen_id(s, l->cust, &l->cust_len, &pr, l->val[F_CUST],
	    sizeof(l->val[0]), &l->fbad[F_CUST], 4);
	gen_amount(s, l);
	gen_time(s, l);
	for (unsigned i = NF - 1; i > 0; i--) {	/* field order */
		unsigned j = order % (i + 1), t = perm[i];

		order /= i + 1;
		perm[i] = perm[j];
		perm[j] = t;
	}
	if (cor == C_TYPE) {
		snprintf(l->val[f], sizeof(l->val[0]), "%s",
		    wrong_types[sp % (sizeof(wrong_types) /
		    sizeof(wrong_types[0]))]);
		l->fbad[f] = f <= F_CUST ? XR_FL_BAD_FIELD : f == F_AMOUNT ?
		    XR_FL_BAD_AMOUNT : XR_FL_BAD_TIME;
	} else if (cor == C_RANGE) {
		snprintf(l->val[F_AMOUNT], sizeof(l->val[0]), "\"$%s\"",
		    sp & 1 ? "92233720368547758.08" : "9223372036854775808");
		l->fbad[F_AMOUNT] = XR_FL_BAD_AMOUNT;
	} else if (cor == C_NUL) {
		snprintf(l->val[F_ID], sizeof(l->val[0]), "\"a\\u0000b\"");
	}
	n = put(l->text, n, cor == C_ARRAY ? "[{" : sp & 2 ? " { " : "{");
	for (unsigned i = 0, first = 1; i < NF; i++) {
		unsigned k = perm[i];

		if (cor == C_MISSING && k == f)
			continue;
		n = put(l->text, n, first ? "\"" : sp & 4 ? " , \"" : ",\"");
		n = put(l->text, n, fname[k]);
		n = put(l->text, n, sp & 8 ? "\" : " : "\":");
		n = put(l->text, n, l->val[k]);
		first = 0;
		if (cor == C_DUP && k == f) {
			n = put(l->text, n, ",\"");
			n = put(l->text, n, fname[k]);
			n = put(l->text, n, "\":");
			n = put(l->text, n, l->val[k]);
		}
	}
	if (cor == C_UNKNOWN)
		n = put(l->text, n, sp & 16 ? ",\"ID\":\"1\"" : ",\"x\":1");
	n = put(l->text, n, cor == C_ARRAY ? "}]" : "}");
	if (cor == C_TRAILING)
		n = put(l->text, n, sp & 32 ? "}" : " x");
	else if (sp & 64)
		n = put(l->text, n, " \t");	/* trailing space is fine */
	l->len = n;

	/* the first failing check, in the parser's order */
	if (cor == C_DUP || cor == C_NUL || cor == C_TRAILING ||
	    cor == C_ARRAY)
		l->expect = XR_FL_BAD_JSON;
	else if (cor == C_UNKNOWN)
		l->expect = XR_FL_BAD_FIELD;
	else if (cor == C_MISSING)
		l->expect = XR_FL_MISSING_FIELD;
	else
		for (unsigned k = 0; k < NF && l->expect == XR_FL_LINE_OK; k++)
			l->expect = l->fbad[k];
}

/* ---------- the reference rules ---------- */

struct ref_load {
	const struct line *l;
	int64_t day, week;
	uint64_t eff;
	bool accepted;
};

struct ref {
	struct ref_load seen[MAX_LINES];
	size_t n;
	int64_t prime_days[MAX_LINES];
	size_t nprime;
	bool experiment;
};

static bool
same(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

static int64_t
fdiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static bool
ref_prime_free(const struct ref *r, int64_t day)
{
	for (size_t i = 0; i < r->nprime; i++)
		if (r->prime_days[i] == day)
			return false;
	return true;
}

static void
ref_decide(struct ref *r, const struct line *l, xr_fl_decision *out)
{
	int64_t day = fdiv(l->time, 86400), week = fdiv(day + 3, 7);
	bool prime = r->experiment && l->prime, monday = day + 3 - week * 7 == 0;
	uint64_t eff = r->experiment && monday ? l->cents * 2 : l->cents;
	uint64_t dsum = 0, wsum = 0;
	unsigned dcount = 0;
	struct ref_load *x;

	memset(out, 0, sizeof(*out));
	out->day = day;
	out->prime = prime;
	for (size_t i = 0; i < r->n; i++) {
		const struct ref_load *o = &r->seen[i];

		if (!same(o->l->cust, o->l->cust_len, l->cust, l->cust_len))
			continue;
		if (same(o->l->id, o->l->id_len, l->id, l->id_len)) {
			out->verdict = XR_FL_IGNORED;
			return;
		}
		if (!o->accepted)
			continue;
		if (o->day == day) {
			dsum += o->eff;
			dcount++;
		}
		if (o->week == week)
			wsum += o->eff;
	}
	if (prime && l->cents > XR_FL_PRIME_LIMIT)
		out->reason = XR_FL_REASON_PRIME_AMOUNT;
	else if (dcount >= XR_FL_DAY_COUNT)
		out->reason = XR_FL_REASON_DAY_COUNT;
	else if (dsum + eff > XR_FL_DAY_LIMIT || eff > XR_FL_DAY_LIMIT)
		out->reason = XR_FL_REASON_DAY_AMOUNT;
	else if (wsum + eff > XR_FL_WEEK_LIMIT)
		out->reason = XR_FL_REASON_WEEK_AMOUNT;
	else if (prime && !ref_prime_free(r, day))
		out->reason = XR_FL_REASON_PRIME_SLOT;
	out->verdict = out->reason == XR_FL_REASON_NONE ? XR_FL_ACCEPTED :
	    XR_FL_DECLINED;
	x = &r->seen[r->n++];
	x->l = l;
	x->day = day;
	x->week = week;
	x->eff = eff;
	x->accepted = out->verdict == XR_FL_ACCEPTED;
	if (x->accepted) {
		out->prime_slot_consumed = prime;
		/* the limits hold for what was accepted */
		CHECK(dsum + eff <= XR_FL_DAY_LIMIT && dcount + 1 <=
		    XR_FL_DAY_COUNT && wsum + eff <= XR_FL_WEEK_LIMIT);
		if (prime)
			r->prime_days[r->nprime++] = day;
	}
}

/* ---------- the run ---------- */

/*
 * A fresh xr_fl_rules per run costs its first 1 MiB arena chunk, which
 * ASan maps, poisons and unmaps (~5 ms: 20 runs a second). So most inputs
 * are decided on a long-lived state per rule set, with their customers
 * renamed to "<run>.<k>" (k: the first line of the input with that
 * customer): no customer is shared with another run, so the decisions are
 * those of a fresh state, and the state's tables grow and rehash as a
 * real run's do. One input in 16 (first byte & 0x0f == 0) is decided on a
 * fresh state with its customers as parsed.
 */
#define SHARED_RUNS 4096	/* then the long-lived state is replaced */

/* XF_DEBUG=1: print each decided line; XF_STATS=1: at exit, how many lines
 * ended in each parser category and each verdict (for tuning the decoder). */
static int debug = -1;
static unsigned long n_bad[XR_FL_LINE_TOO_LONG + 1], n_verdict[4];

static void
print_stats(void)
{
	for (int b = 0; b <= XR_FL_LINE_TOO_LONG; b++)
		fprintf(stderr, "fuzz_fundload: %-14s %lu lines\n",
		    xr_fl_bad_name((xr_fl_bad)b), n_bad[b]);
	fprintf(stderr, "fuzz_fundload: accepted %lu, declined %lu, "
	    "ignored %lu decisions\n", n_verdict[XR_FL_ACCEPTED],
	    n_verdict[XR_FL_DECLINED], n_verdict[XR_FL_IGNORED]);
}

static xr_fl_rules *shared[2];
static unsigned long shared_runs[2], run_seq;

static xr_fl_rules *
state_for(xr_rules mode, bool fresh)
{
	if (fresh)
		return xr_fl_rules_new(mode);
	if (shared[mode] == NULL || shared_runs[mode] == SHARED_RUNS) {
		xr_fl_rules_free(shared[mode]);
		shared[mode] = xr_fl_rules_new(mode);
		shared_runs[mode] = 0;
	}
	shared_runs[mode]++;
	return shared[mode];
}

static void
decide_all(xr_rules mode, bool fresh, const struct line *lines,
    const xr_fl_parsed *parsed, size_t n, xr_fl_decision *out)
{
	xr_fl_rules *r = state_for(mode, fresh);
	unsigned long run = ++run_seq;
	char alias[MAX_LINES][32];
	struct ref ref;

	CHECK(r != NULL);
	memset(&ref, 0, sizeof(ref));
	ref.experiment = mode == XR_RULES_EXPERIMENT;
	for (size_t i = 0; i < n; i++) {
		xr_fl_decision want;
		xr_fl_load ld;
		size_t k = 0;

		xr_fl_parsed_load(&parsed[i], &ld);
		if (!fresh) {
			while (!same(lines[k].cust, lines[k].cust_len,
			    lines[i].cust, lines[i].cust_len))
				k++;
			ld.customer = alias[i];
			ld.customer_len = (size_t)snprintf(alias[i],
			    sizeof(alias[i]), "%lu.%zu", run, k);
		}
		memset(&out[i], 0x5a, sizeof(out[i]));
		/* the day's prime slot as the reference model has it (the
		 * caller's part: an xr_fl_dayset in a sequential run) */
		CHECK(xr_fl_rules_decide(r, &ld, ref_prime_free(&ref,
		    xr_fl_day(ld.time)), &out[i]) == XR_OK);
		ref_decide(&ref, &lines[i], &want);
		if (debug)
			fprintf(stderr, "%s -> %d/%d prime %d (want %d/%d %d)\n",
			    lines[i].text, out[i].verdict, out[i].reason,
			    out[i].prime, want.verdict, want.reason, want.prime);
		CHECK(out[i].verdict == want.verdict);
		CHECK(out[i].reason == want.reason);
		CHECK(out[i].day == want.day);
		CHECK(out[i].prime == want.prime);
		CHECK(out[i].prime_slot_consumed == want.prime_slot_consumed);
		n_verdict[out[i].verdict]++;
	}
	if (fresh)
		xr_fl_rules_free(r);
}

static bool
same_decisions(const xr_fl_decision *a, const xr_fl_decision *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].verdict != b[i].verdict || a[i].reason != b[i].reason ||
		    a[i].prime != b[i].prime || a[i].day != b[i].day ||
		    a[i].prime_slot_consumed != b[i].prime_slot_consumed)
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct line lines[MAX_LINES], ok[MAX_LINES];
	static xr_fl_parsed parsed[MAX_LINES];
	static xr_fl_decision d1[MAX_LINES], d2[MAX_LINES];
	struct src s = { data, size };
	size_t nlines, nok = 0;
	char why[256];

	if (debug < 0) {
		debug = getenv("XF_DEBUG") != NULL;
		if (getenv("XF_STATS") != NULL)
			atexit(print_stats);
	}
	if (size == 0)
		return 0;
	nlines = 1 + u8(&s) % MAX_LINES;
	for (size_t i = 0; i < nlines; i++) {
		xr_fl_parsed p;
		xr_fl_bad b;

		gen_line(&s, &lines[i]);
		memset(&p, 0x5a, sizeof(p));
		b = xr_fl_parse_line(lines[i].text, lines[i].len, &p, why,
		    sizeof(why));
		if (b != lines[i].expect) {
			fprintf(stderr, "fuzz_fundload: %s: want %s, got %s "
			    "(%s)\n", lines[i].text,
			    xr_fl_bad_name(lines[i].expect),
			    xr_fl_bad_name(b), b ? why : "");
			abort();
		}
		n_bad[b]++;
		if (b != XR_FL_LINE_OK)
			continue;
		CHECK(same(p.id, p.id_len, lines[i].id, lines[i].id_len));
		CHECK(same(p.customer, p.customer_len, lines[i].cust,
		    lines[i].cust_len));
		CHECK(p.amount == lines[i].cents && p.time == lines[i].time);
		ok[nok] = lines[i];
		parsed[nok++] = p;
	}
	for (xr_rules m = XR_RULES_BASELINE; m <= XR_RULES_EXPERIMENT; m++) {
		decide_all(m, (data[0] & 0x0f) == 0, ok, parsed, nok, d1);
		decide_all(m, false, ok, parsed, nok, d2);
		CHECK(same_decisions(d1, d2, nok));
	}
	return 0;
}
