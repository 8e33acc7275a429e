/* apps/fundload/input.c — strict parsing of an input line; the output line. */
#include "input.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "printable.h"

#define EXCERPT 80		/* input bytes quoted in a diagnostic, at most */
#define EXCERPT_CAP (EXCERPT * 4 + 4)	/* each as \xHH, "...", NUL */

static const char *const bad_names[] = {
	[XR_FL_LINE_OK] = "ok",
	[XR_FL_BAD_JSON] = "bad_json",
	[XR_FL_MISSING_FIELD] = "missing_field",
	[XR_FL_BAD_FIELD] = "bad_field",
	[XR_FL_BAD_AMOUNT] = "bad_amount",
	[XR_FL_BAD_TIME] = "bad_time",
	[XR_FL_LINE_TOO_LONG] = "line_too_long",
};

const char *
xr_fl_bad_name(xr_fl_bad b)
{
	if ((unsigned)b >= sizeof(bad_names) / sizeof(bad_names[0]))
		return "unknown";
	return bad_names[b];
}

/* At most EXCERPT bytes of `s` (`len` bytes) for a diagnostic, rendered by
 * xr_printable() (\" \\ \xHH), then "..." when `s` is longer: the cut is by
 * input bytes, so it never depends on how the bytes render. Returns `ex`. */
static const char *
excerpt(char ex[EXCERPT_CAP], const char *s, size_t len)
{
	xr_printable(s, len < EXCERPT ? len : EXCERPT, ex, EXCERPT_CAP);
	if (len > EXCERPT)
		memcpy(ex + strlen(ex), "...", sizeof("..."));
	return ex;
}

static int
why_set(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
why_set(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---------- load_amount ---------- */

int
xr_fl_parse_amount(const char *s, size_t len, uint64_t *cents, char *why,
    size_t why_cap)
{
	char ex[EXCERPT_CAP];
	uint64_t dollars = 0, frac = 0;
	size_t i = 1, nd = 0, nf = 0;

	excerpt(ex, s, len);
	if (len == 0 || s[0] != '$')
		return why_set(why, why_cap, "load_amount \"%s\" does not "
		    "start with $", ex);
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
		if (dollars > XR_FL_AMOUNT_MAX / 100)
			return why_set(why, why_cap, "load_amount \"%s\" is "
			    "too large", ex);
		dollars = dollars * 10 + (uint64_t)(s[i] - '0');
	}
	if (nd == 0)
		return why_set(why, why_cap, "load_amount \"%s\": no digits "
		    "after $", ex);
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nf++)
			if (nf < 2)
				frac = frac * 10 + (uint64_t)(s[i] - '0');
		if (nf == 0 || nf > 2)
			return why_set(why, why_cap, "load_amount \"%s\": "
			    "need 1 or 2 digits after the point", ex);
		if (nf == 1)
			frac *= 10;
	}
	if (i != len)
		return why_set(why, why_cap, "load_amount \"%s\" is not $ + "
		    "digits [+ . + 1-2 digits]", ex);
	if (dollars > XR_FL_AMOUNT_MAX / 100 ||
	    dollars * 100 > XR_FL_AMOUNT_MAX - frac)
		return why_set(why, why_cap, "load_amount \"%s\" is too "
		    "large", ex);
	*cents = dollars * 100 + frac;
	return 0;
}

/* ---------- time ---------- */

/* `n` digits at s[*i] as a number; -1 if any is not a digit. */
static int
digits(const char *s, size_t len, size_t *i, int n)
{
	int v = 0;

	if (*i + (size_t)n > len)
		return -1;
	for (int k = 0; k < n; k++) {
		char c = s[*i + (size_t)k];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)n;
	return v;
}

static int
expect(const char *s, size_t len, size_t *i, const char *one_of)
{
	if (*i >= len || s[*i] == '\0' || strchr(one_of, s[*i]) == NULL)
		return -1;
	(*i)++;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

int
xr_fl_parse_time(const char *s, size_t len, int64_t *t, char *why,
    size_t why_cap)
{
	char ex[EXCERPT_CAP];
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i = 0;
	int64_t v;

	excerpt(ex, s, len);
	if ((y = digits(s, len, &i, 4)) < 0 || expect(s, len, &i, "-") < 0 ||
	    (mo = digits(s, len, &i, 2)) < 0 || expect(s, len, &i, "-") < 0 ||
	    (d = digits(s, len, &i, 2)) < 0 || expect(s, len, &i, "Tt") < 0 ||
	    (h = digits(s, len, &i, 2)) < 0 || expect(s, len, &i, ":") < 0 ||
	    (mi = digits(s, len, &i, 2)) < 0 || expect(s, len, &i, ":") < 0 ||
	    (sec = digits(s, len, &i, 2)) < 0)
		goto grammar;
	if (i < len && s[i] == '.') {
		size_t nf = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			nf++;
		if (nf == 0)
			goto grammar;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i++] == '-' ? -1 : 1;
		if ((oh = digits(s, len, &i, 2)) < 0 ||
		    expect(s, len, &i, ":") < 0 ||
		    (om = digits(s, len, &i, 2)) < 0)
			goto grammar;
	} else {
		if (i == len)
			return why_set(why, why_cap, "time \"%s\" has no UTC "
			    "offset (Z or +HH:MM)", ex);
		goto grammar;
	}
	if (i != len)
		goto grammar;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return why_set(why, why_cap, "time \"%s\" is not a valid "
		    "date and time", ex);
	if (sec == 60)
		sec = 59;	/* a leap second stays in its minute */
	v = xr_fl_civil_to_unix(y, mo, d, h, mi, sec) -
	    (int64_t)sign * (oh * 3600 + om * 60);
	if (v < XR_FL_TIME_MIN || v > XR_FL_TIME_MAX)
		return why_set(why, why_cap, "time \"%s\" is outside "
		    "0000-01-01T00:00:00Z..9999-12-31T23:59:59Z", ex);
	*t = v;
	return 0;
 grammar:
	return why_set(why, why_cap, "time \"%s\" is not RFC 3339 "
	    "(YYYY-MM-DDTHH:MM:SS[.frac] and Z or +HH:MM)", ex);
}

/* ---------- the line ---------- */

static const char *const fields[] = { "id", "customer_id", "load_amount",
    "time" };
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static xr_fl_bad
bad(xr_fl_bad b, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static xr_fl_bad
bad(xr_fl_bad b, char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return b;
}

/* id / customer_id: a string of 1..64 bytes. */
static xr_fl_bad
get_id(json_t *v, const char *name, char *dst, size_t *dst_len, char *why,
    size_t cap)
{
	char ex[EXCERPT_CAP];
	size_t n;

	if (!json_is_string(v))
		return bad(XR_FL_BAD_FIELD, why, cap, "%s is not a string",
		    name);
	n = json_string_length(v);
	if (n == 0 || n > XR_FL_ID_MAX) {
		excerpt(ex, json_string_value(v), n);
		return bad(XR_FL_BAD_FIELD, why, cap, "%s \"%s\" is %zu bytes "
		    "(1..%d)", name, ex, n, XR_FL_ID_MAX);
	}
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	*dst_len = n;
	return XR_FL_LINE_OK;
}

xr_fl_bad
xr_fl_parse_line(const char *line, size_t len, xr_fl_parsed *out, char *why,
    size_t cap)
{
	char ex[EXCERPT_CAP], sub[160];
	json_t *root, *v[NFIELDS], *val;
	json_error_t jerr;
	const char *key;
	xr_fl_bad b = XR_FL_LINE_OK;

	if (len > XR_FL_LINE_MAX)
		return bad(XR_FL_LINE_TOO_LONG, why, cap, "longer than %d "
		    "bytes", XR_FL_LINE_MAX);
	if ((root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		/* jansson's text may quote input: sanitize and bound it */
		excerpt(ex, jerr.text, strlen(jerr.text));
		return bad(XR_FL_BAD_JSON, why, cap, "%s (at byte %d)", ex,
		    jerr.position);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return bad(XR_FL_BAD_JSON, why, cap, "not a JSON object");
	}
	json_object_foreach(root, key, val) {
		size_t k;

		for (k = 0; k < NFIELDS && strcmp(key, fields[k]) != 0; k++)
			;
		if (k == NFIELDS) {
			excerpt(ex, key, strlen(key));
			b = bad(XR_FL_BAD_FIELD, why, cap, "unknown key \"%s\"",
			    ex);
			goto out;
		}
	}
	for (size_t k = 0; k < NFIELDS; k++)
		if ((v[k] = json_object_get(root, fields[k])) == NULL) {
			b = bad(XR_FL_MISSING_FIELD, why, cap, "no \"%s\"",
			    fields[k]);
			goto out;
		}
	memset(out, 0, sizeof(*out));
	if ((b = get_id(v[0], "id", out->id, &out->id_len, why, cap)) != 0 ||
	    (b = get_id(v[1], "customer_id", out->customer,
	    &out->customer_len, why, cap)) != 0)
		goto out;
	if (!json_is_string(v[2])) {
		b = bad(XR_FL_BAD_AMOUNT, why, cap, "load_amount is not a "
		    "string");
		goto out;
	}
	if (xr_fl_parse_amount(json_string_value(v[2]),
	    json_string_length(v[2]), &out->amount, sub, sizeof(sub)) != 0) {
		b = bad(XR_FL_BAD_AMOUNT, why, cap, "%s", sub);
		goto out;
	}
	if (!json_is_string(v[3])) {
		b = bad(XR_FL_BAD_TIME, why, cap, "time is not a string");
		goto out;
	}
	if (xr_fl_parse_time(json_string_value(v[3]),
	    json_string_length(v[3]), &out->time, sub, sizeof(sub)) != 0) {
		b = bad(XR_FL_BAD_TIME, why, cap, "%s", sub);
		goto out;
	}
 out:
	json_decref(root);
	return b;
}

void
xr_fl_parsed_load(const xr_fl_parsed *p, xr_fl_load *l)
{
	l->id = p->id;
	l->id_len = p->id_len;
	l->customer = p->customer;
	l->customer_len = p->customer_len;
	l->amount = p->amount;
	l->time = p->time;
}

/* ---------- output ---------- */

/* A JSON string, escaped as jansson's encoder does (UTF-8 kept). */
static size_t
put_json_string(char *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	o[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': o[n++] = '\\'; o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; o[n++] = '\\'; break;
		case '\b': o[n++] = '\\'; o[n++] = 'b'; break;
		case '\f': o[n++] = '\\'; o[n++] = 'f'; break;
		case '\n': o[n++] = '\\'; o[n++] = 'n'; break;
		case '\r': o[n++] = '\\'; o[n++] = 'r'; break;
		case '\t': o[n++] = '\\'; o[n++] = 't'; break;
		default:
			if (c < 0x20) {
				memcpy(o + n, "\\u00", 4);
				n += 4;
				o[n++] = hex[c >> 4];
				o[n++] = hex[c & 15];
			} else {
				o[n++] = (char)c;
			}
		}
	}
	o[n++] = '"';
	return n;
}

size_t
xr_fl_format_decision(char *buf, const char *id, size_t id_len,
    const char *customer, size_t customer_len, int accepted)
{
	size_t n = 0;

	memcpy(buf + n, "{\"id\":", 6);
	n += 6;
	n += put_json_string(buf + n, id, id_len);
	memcpy(buf + n, ",\"customer_id\":", 15);
	n += 15;
	n += put_json_string(buf + n, customer, customer_len);
	if (accepted) {
		memcpy(buf + n, ",\"accepted\":true}\n", 18);
		n += 18;
	} else {
		memcpy(buf + n, ",\"accepted\":false}\n", 19);
		n += 19;
	}
	return n;
}
