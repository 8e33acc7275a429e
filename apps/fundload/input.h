/*
 * apps/fundload/input.h — one input line of the fund-load workload: strict
 * JSON validation (jansson) into an xr_fl_load, and the output line.
 * docs/fundload.md, "Input" and "Output", is the grammar.
 */
#ifndef XR_FL_INPUT_H
#define XR_FL_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/* Longest input line accepted, newline excluded. */
#define XR_FL_LINE_MAX 65536

/* Why a line is invalid: the <category> of the diagnostic. */
typedef enum xr_fl_bad {
	XR_FL_LINE_OK = 0,
	XR_FL_BAD_JSON,		/* not JSON, not one object, duplicate key */
	XR_FL_MISSING_FIELD,	/* id, customer_id, load_amount or time absent */
	XR_FL_BAD_FIELD,	/* unknown key, wrong type, bad id / customer_id */
	XR_FL_BAD_AMOUNT,	/* load_amount grammar or range */
	XR_FL_BAD_TIME,		/* time grammar, calendar or range */
	XR_FL_LINE_TOO_LONG,	/* more than XR_FL_LINE_MAX bytes */
} xr_fl_bad;

/* Stable name of a category ("bad_json", ...). */
const char *xr_fl_bad_name(xr_fl_bad b);

/* A parsed line: the strings are copied (NUL-terminated) into the struct. */
typedef struct xr_fl_parsed {
	char id[XR_FL_ID_MAX + 1];
	size_t id_len;
	char customer[XR_FL_ID_MAX + 1];
	size_t customer_len;
	uint64_t amount;		/* cents */
	int64_t time;			/* UTC unix seconds */
} xr_fl_parsed;

/*
 * Parse one line (`len` bytes, no newline) into `out`. Returns XR_FL_LINE_OK
 * or the category, with a one-line reason in `why` (at most `why_cap`
 * bytes, printable ASCII; an excerpt of the input in it is at most 80 bytes,
 * sanitized).
 */
xr_fl_bad xr_fl_parse_line(const char *line, size_t len, xr_fl_parsed *out,
    char *why, size_t why_cap);

/* `$` + digits + optional `.` and 1-2 digits -> cents <= XR_FL_AMOUNT_MAX.
 * Returns 0, or -1 with a reason in `why`. */
int xr_fl_parse_amount(const char *s, size_t len, uint64_t *cents, char *why,
    size_t why_cap);

/* RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); `T`/`Z`
 * in either case; second 60 counts as 59) -> UTC unix seconds. Returns 0,
 * or -1 with a reason in `why`. */
int xr_fl_parse_time(const char *s, size_t len, int64_t *t, char *why,
    size_t why_cap);

/* The view of a parsed line the rules take (points into `p`). */
void xr_fl_parsed_load(const xr_fl_parsed *p, xr_fl_load *l);

/*
 * Write the output line `{"id":…,"customer_id":…,"accepted":true|false}\n`
 * (strings JSON-escaped as jansson would) into `buf` (at least
 * XR_FL_OUT_MAX bytes). Returns its length.
 */
#define XR_FL_OUT_MAX (2 * 6 * XR_FL_ID_MAX + 64)
size_t xr_fl_format_decision(char *buf, const char *id, size_t id_len,
    const char *customer, size_t customer_len, int accepted);

#endif /* XR_FL_INPUT_H */
