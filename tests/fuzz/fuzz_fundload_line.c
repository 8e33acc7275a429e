/*
 * tests/fuzz/fuzz_fundload_line.c — apps/fundload/input.c: one input line
 * (xr_fl_parse_line), and the same bytes through the amount and time
 * grammars directly.
 *
 * Invariants (abort() on violation):
 *  - the category is one of xr_fl_bad and has a name; the reason is
 *    of a reject is non-empty, terminated within its buffer, printable ASCII;
 *  - an accepted line has id and customer_id of 1..XR_FL_ID_MAX bytes
 *    (lengths match, no NUL inside), amount <= XR_FL_AMOUNT_MAX, time in
 *    [XR_FL_TIME_MIN, XR_FL_TIME_MAX]; its output line is one JSON object
 *    ending in "\n" that carries the same id and customer_id;
 *  - xr_fl_parse_amount / xr_fl_parse_time results are in range on success.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "input.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WHY_CAP 256

/* A reject's reason: non-empty, terminated in the buffer, printable. */
static void
check_why(const char *why)
{
	const char *end = memchr(why, '\0', WHY_CAP);
	const char *p;

	CHECK(end != NULL && end > why);
	for (p = why; p < end; p++)
		CHECK(*p >= 0x20 && *p <= 0x7e);
}

static void
check_str(const json_t *o, const char *key, const char *s, size_t len)
{
	const json_t *v = json_object_get(o, key);

	CHECK(json_is_string(v) && json_string_length(v) == len &&
	    memcmp(json_string_value(v), s, len) == 0);
}

static void
check_output(const xr_fl_parsed *p)
{
	char out[XR_FL_OUT_MAX];
	json_t *o;
	size_t n;

	n = xr_fl_format_decision(out, p->id, p->id_len, p->customer,
	    p->customer_len, 1);
	CHECK(n > 1 && n < sizeof(out) && out[n - 1] == '\n');
	CHECK((o = json_loadb(out, n - 1, JSON_REJECT_DUPLICATES, NULL)) !=
	    NULL);
	CHECK(json_is_object(o) && json_object_size(o) == 3);
	check_str(o, "id", p->id, p->id_len);
	check_str(o, "customer_id", p->customer, p->customer_len);
	CHECK(json_is_true(json_object_get(o, "accepted")));
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	char why[WHY_CAP];
	xr_fl_parsed p;
	xr_fl_load l;
	xr_fl_bad b;
	uint64_t cents;
	int64_t t;

	memset(why, 0x5a, sizeof(why));
	b = xr_fl_parse_line(line, size, &p, why, sizeof(why));
	CHECK(b >= XR_FL_LINE_OK && b <= XR_FL_LINE_TOO_LONG);
	CHECK(xr_fl_bad_name(b) != NULL);
	if (b != XR_FL_LINE_OK) {
		check_why(why);
	} else {
		CHECK(p.id_len >= 1 && p.id_len <= XR_FL_ID_MAX &&
		    strlen(p.id) == p.id_len);
		CHECK(p.customer_len >= 1 && p.customer_len <= XR_FL_ID_MAX &&
		    strlen(p.customer) == p.customer_len);
		CHECK(p.amount <= XR_FL_AMOUNT_MAX);
		CHECK(p.time >= XR_FL_TIME_MIN && p.time <= XR_FL_TIME_MAX);
		xr_fl_parsed_load(&p, &l);
		check_output(&p);
	}

	memset(why, 0x5a, sizeof(why));
	if (xr_fl_parse_amount(line, size, &cents, why, sizeof(why)) == 0)
		CHECK(cents <= XR_FL_AMOUNT_MAX);
	else
		check_why(why);
	memset(why, 0x5a, sizeof(why));
	if (xr_fl_parse_time(line, size, &t, why, sizeof(why)) == 0)
		CHECK(t >= XR_FL_TIME_MIN && t <= XR_FL_TIME_MAX);
	else
		check_why(why);
	return 0;
}
