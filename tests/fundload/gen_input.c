/*
 * tests/fundload/gen_input.c — fundload_gen_input SEED LINES: a
 * deterministic fund-load input (the same SEED and LINES give the same
 * bytes on every machine) that exercises every rule boundary:
 *
 *  - amounts at the limits: $5,000.00 / $4,999.99 / $5,000.01, $2,500.00 /
 *    $2,500.01 (Monday doubling), $9,999.00 / $9,999.01 (prime cap),
 *    $0.00, $0.01, and $ + digits with 0, 1 or 2 decimals;
 *  - a few hot customers that reach the 3-loads-per-day and $20,000.00
 *    week limits, many cold ones;
 *  - times: Z / z / t, numeric offsets that cross midnight (and so Monday
 *    and week boundaries), fractions, Sunday 23:59:59Z and Monday
 *    00:00:00Z, some out of input order;
 *  - ids: random numbers (about 1 in 10 prime), bursts of prime ids from
 *    many customers on the same day, leading zeros, non-numeric ids,
 *    duplicate ids for the same customer and the same id for another;
 *  - any key order, whitespace, \u escapes;
 *  - about 2 % invalid lines of every category, including one line over
 *    64 KiB when LINES >= 5000.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;

static uint64_t
next(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, n) */
static uint64_t
below(uint64_t n)
{
	return next() % n;
}

static int
chance(unsigned pct)
{
	return below(100) < pct;
}

static int
is_prime(uint64_t n)
{
	if (n < 2)
		return 0;
	for (uint64_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

/* H. Hinnant's civil_from_days */
static void
civil(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468, era, doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* RFC 3339 text of unix time `t`, in one of several spellings. */
static void
fmt_time(char *out, size_t cap, int64_t t)
{
	int64_t y, days;
	int mo, d, off = 0, sec;
	unsigned style = (unsigned)below(100);
	char tz[16] = "Z", frac[8] = "";
	char tsep = 'T';

	if (style < 15) {
		/* an offset, in quarter hours, -12:00 .. +14:00 */
		off = ((int)below(105) - 48) * 15 * 60;
		snprintf(tz, sizeof(tz), "%c%02d:%02d", off < 0 ? '-' : '+',
		    abs(off) / 3600, abs(off) / 60 % 60);
	} else if (style < 20) {
		snprintf(frac, sizeof(frac), ".%03d", (int)below(1000));
	} else if (style < 24) {
		tsep = 't';
		tz[0] = 'z';
	} else if (style < 26) {
		snprintf(tz, sizeof(tz), "+00:00");
	}
	t += off;
	days = floor_div(t, 86400);
	sec = (int)(t - days * 86400);
	civil(days, &y, &mo, &d);
	snprintf(out, cap, "%04" PRId64 "-%02d-%02d%c%02d:%02d:%02d%s%s", y, mo,
	    d, tsep, sec / 3600, sec / 60 % 60, sec % 60, frac, tz);
}

static void
fmt_amount(char *out, size_t cap)
{
	static const char *const edge[] = { "$5000.00", "$4999.99",
	    "$5000.01", "$5000", "$9999.00", "$9999.01", "$2500.00",
	    "$2500.01", "$2500", "$0.00", "$0.01", "$0", "$20000.00",
	    "$1666.67", "$1666.66", "$4999.9", "$1250.00", "$0.1" };
	uint64_t c;

	if (chance(35)) {
		snprintf(out, cap, "%s", edge[below(sizeof(edge) /
		    sizeof(edge[0]))]);
		return;
	}
	c = 1 + below(chance(20) ? 1000000 : 300000);
	if (c % 100 == 0 && chance(50))
		snprintf(out, cap, "$%" PRIu64, c / 100);
	else if (c % 10 == 0 && chance(50))
		snprintf(out, cap, "$%" PRIu64 ".%" PRIu64, c / 100, c % 100 / 10);
	else
		snprintf(out, cap, "$%" PRIu64 ".%02" PRIu64, c / 100, c % 100);
}

/* A JSON string literal of `s`, with some digits as \u escapes. */
static void
fmt_str(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	int esc = chance(3);

	out[o++] = '"';
	for (; *s != '\0' && o + 8 < cap; s++) {
		if (esc && *s >= '0' && *s <= '9' && chance(50))
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *s);
		else
			out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
}

#define RECENT 64
#define NPRIMES 512

struct pair {
	char id[32];
	char cust[16];
};

int
main(int argc, char **argv)
{
	static const char *const keys[] = { "id", "customer_id", "load_amount",
	    "time" };
	static uint64_t primes[NPRIMES];
	struct pair recent[RECENT];
	size_t nrecent = 0;
	uint64_t lines, seq = 100000, huge_at;
	int64_t t = 1672617600;		/* 2023-01-02T00:00:00Z, a Monday */
	unsigned ncust, burst = 0;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: fundload_gen_input SEED LINES\n");
		return 64;
	}
	rng = strtoull(argv[1], &end, 10);
	lines = strtoull(argv[2], &end, 10);
	ncust = lines / 150 < 20 ? 20 : (unsigned)(lines / 150);
	huge_at = lines >= 5000 ? lines / 3 : UINT64_MAX;
	for (uint64_t n = 1000, k = 0; k < NPRIMES; n++)
		if (is_prime(n))
			primes[k++] = n;

	for (uint64_t ln = 0; ln < lines; ln++) {
		char id[32], cust[16], amount[32], tm[64];
		char v[4][160], line[1024];
		unsigned order[4] = { 0, 1, 2, 3 };
		int64_t lt;
		const char *sp = chance(10) ? " " : "";

		/* time moves on about 12 minutes a line: ~120 loads a day */
		t += (int64_t)below(1440);
		lt = t;
		if (chance(4)) {
			/* this week's Sunday 23:59:59Z or next Monday 00:00:00Z */
			int64_t week = floor_div(floor_div(t, 86400) + 3, 7);

			lt = (week * 7 + 4) * 86400;	/* next Monday */
			if (chance(50))
				lt -= 1;
		} else if (chance(3)) {
			lt -= (int64_t)below(3 * 86400);	/* out of order */
		}

		/* the customer: a few hot ones take a third of the loads */
		if (chance(33))
			snprintf(cust, sizeof(cust), "%u", 1 + (unsigned)below(5));
		else
			snprintf(cust, sizeof(cust), "%u",
			    6 + (unsigned)below(ncust));

		/* the id */
		if (burst > 0 || chance(1)) {
			/* a burst: prime ids from many customers, one day */
			if (burst == 0)
				burst = 10 + (unsigned)below(30);
			burst--;
			snprintf(id, sizeof(id), "%" PRIu64,
			    primes[below(NPRIMES)]);
			snprintf(cust, sizeof(cust), "%u",
			    6 + (unsigned)below(ncust));
		} else if (nrecent > 0 && chance(4)) {
			const struct pair *p = &recent[below(nrecent)];

			snprintf(id, sizeof(id), "%s", p->id);
			if (chance(60))	/* same customer: a duplicate */
				snprintf(cust, sizeof(cust), "%s", p->cust);
		} else if (chance(40)) {
			snprintf(id, sizeof(id), "%" PRIu64, 1 + below(99999));
		} else if (chance(5)) {
			snprintf(id, sizeof(id), "0%" PRIu64, primes[below(NPRIMES)]);
		} else if (chance(5)) {
			snprintf(id, sizeof(id), "L%" PRIu64, seq++);
		} else {
			snprintf(id, sizeof(id), "%" PRIu64, seq++);
		}
		fmt_amount(amount, sizeof(amount));
		fmt_time(tm, sizeof(tm), lt);
		{
			/* remember the pair: fill the ring, then replace at random */
			struct pair *p = &recent[nrecent < RECENT ? nrecent++ :
			    below(RECENT)];

			snprintf(p->id, sizeof(p->id), "%s", id);
			snprintf(p->cust, sizeof(p->cust), "%s", cust);
		}

		fmt_str(v[0], sizeof(v[0]), id);
		fmt_str(v[1], sizeof(v[1]), cust);
		fmt_str(v[2], sizeof(v[2]), amount);
		fmt_str(v[3], sizeof(v[3]), tm);

		if (ln == huge_at) {
			/* one line over 64 KiB: diagnosed, skipped, never echoed */
			printf("{\"id\":\"%s\",\"customer_id\":\"", id);
			for (int k = 0; k < 70000; k++)
				putchar('9');
			printf("\",\"load_amount\":\"$1.00\",\"time\":\"%s\"}\n", tm);
			continue;
		}
		if (chance(2)) {
			/* an invalid line, of every category */
			switch (below(14)) {
			case 0: snprintf(v[2], sizeof(v[2]), "\"%s\"", amount + 1); break;
			case 1: snprintf(v[2], sizeof(v[2]), "\"%s5\"", strchr(amount, '.') ? amount : "$1.23"); break;
			case 2: snprintf(v[3], sizeof(v[3]), "\"2023-02-29T10:00:00Z\""); break;
			case 3: snprintf(v[3], sizeof(v[3]), "\"2023-03-01T10:00:00\""); break;
			case 4: snprintf(v[3], sizeof(v[3]), "\"2023-03-01 10:00:00Z\""); break;
			case 5: snprintf(v[0], sizeof(v[0]), "%s", id[0] >= '1' && id[0] <= '9' ? id : "12"); break;
			case 6: snprintf(v[1], sizeof(v[1]), "\"\""); break;
			case 7: snprintf(v[0], sizeof(v[0]), "\"%s\"",
			    "12345678901234567890123456789012345678901234567890123456789012345"); break;
			case 8: printf("\n"); continue;
			case 9: printf("[%s]\n", v[0]); continue;
			case 10: printf("{\"id\":%s,\"customer_id\":%s,\"load_amount\":%s\n", v[0], v[1], v[2]); continue;
			case 11: printf("{\"id\":%s,\"customer_id\":%s,\"load_amount\":%s}\n", v[0], v[1], v[2]); continue;
			case 12: printf("{\"id\":%s,\"id\":%s,\"customer_id\":%s,\"load_amount\":%s,\"time\":%s}\n", v[0], v[0], v[1], v[2], v[3]); continue;
			default: printf("{\"id\":\"\xff\",\"customer_id\":%s,\"load_amount\":%s,\"time\":%s}\n", v[1], v[2], v[3]); continue;
			}
		}
		for (int k = 3; k > 0; k--) {
			unsigned j = (unsigned)below((uint64_t)k + 1), x = order[k];

			if (chance(30)) {
				order[k] = order[j];
				order[j] = x;
			}
		}
		snprintf(line, sizeof(line), "{\"%s\":%s%s,%s\"%s\":%s%s,%s\"%s\":%s%s,%s\"%s\":%s%s}",
		    keys[order[0]], sp, v[order[0]], sp, keys[order[1]], sp, v[order[1]], sp,
		    keys[order[2]], sp, v[order[2]], sp, keys[order[3]], sp, v[order[3]]);
		puts(line);
	}
	return 0;
}
