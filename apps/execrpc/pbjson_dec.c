/*
 * apps/execrpc/pbjson_dec.c — wire bytes -> JSON (xr_pbjson_decode), base64,
 * and the JSON writer (one line; numbers in their shortest form). Shares
 * pbjson_priv.h with pbjson_set.c and pbjson.c.
 *
 * The bytes come from a worker: every read is bounds-checked, every length
 * is checked against what is left, nesting is bounded, strings must be
 * UTF-8. A singular message field that occurs more than once is decoded
 * from the concatenation of its occurrences (protobuf's merge rule).
 */
#include "pbjson_priv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define FT(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

/* ---------- base64 ---------- */

static int
b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int
xr__pbj_b64_decode(const char *s, size_t n, uint8_t **out, size_t *len)
{
	uint8_t *o;
	uint32_t acc = 0;
	size_t bits = 0, k = 0;

	*out = NULL;
	*len = 0;
	/* padding: only at the end, making a multiple of 4 */
	if (n > 0 && s[n - 1] == '=') {
		if (n % 4 != 0)
			return XR_ERR_MALFORMED;
		n--;
		if (n > 0 && s[n - 1] == '=')
			n--;
	}
	if (n % 4 == 1)
		return XR_ERR_MALFORMED;
	if ((o = malloc(n * 3 / 4 + 1)) == NULL)
		return XR_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val((unsigned char)s[i]);

		if (v < 0) {
			free(o);
			return XR_ERR_MALFORMED;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*out = o;
	*len = k;
	return XR_OK;
}

static char *
b64_encode(const uint8_t *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = malloc((n + 2) / 3 * 4 + 1), *w = o;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*w++ = tab[(v >> 18) & 63];
		*w++ = tab[(v >> 12) & 63];
		*w++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*w++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*w = '\0';
	return o;
}

/* ---------- wire -> tree ---------- */

struct dec {
	const xr_pbjson *p;
	xr_diag *d;
};

static int
dec_err(struct dec *c, const xr_pbjson_type *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
dec_err(struct dec *c, const xr_pbjson_type *t, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return xr_diag_set(c->d, XR_ERR_MALFORMED, "does not decode as %s: %s",
	    t->full, what);
}

static int
get_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
	uint64_t acc = 0;

	for (unsigned i = 0; i < 10; i++) {
		uint8_t b;

		if (*pos >= n)
			return XR_ERR_MALFORMED;
		b = p[(*pos)++];
		if (i == 9 && b > 1)
			return XR_ERR_MALFORMED;
		acc |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = acc;
			return XR_OK;
		}
	}
	return XR_ERR_MALFORMED;
}

static uint64_t
get_fixed(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static json_t *
num_text(char *buf, size_t cap, int64_t sv, uint64_t uv, bool is_signed)
{
	if (is_signed)
		snprintf(buf, cap, "%lld", (long long)sv);
	else
		snprintf(buf, cap, "%llu", (unsigned long long)uv);
	return json_string(buf);
}

static json_t *
real_json(double x)
{
	if (isnan(x))
		return json_string("NaN");
	if (isinf(x))
		return json_string(x > 0 ? "Infinity" : "-Infinity");
	return json_real(x);
}

/* The float `f` as the double of its shortest decimal text, so that the
 * writer prints "0.1", not 0.100000001490116. */
static double
float_as_double(float f)
{
	char buf[32];

	for (int prec = 1; prec <= 9; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
		if ((float)strtod(buf, NULL) == f)
			return strtod(buf, NULL);
	}
	return (double)f;
}

static int dec_msg(struct dec *c, const xr_pbjson_type *t, const uint8_t *p,
    size_t n, int depth, json_t **out);

/*
 * One value of field `f` from the wire: `raw` for varint / fixed types, the
 * bytes `b`/`bn` for length-delimited ones. `*isdef` says whether it is the
 * type's default value.
 */
static int
dec_value(struct dec *c, const xr_pbjson_type *t,
    const struct xr__pbj_field *f, uint64_t raw, const uint8_t *b, size_t bn,
    int depth, json_t **out, bool *isdef)
{
	char buf[32];
	const char *name;
	float fl;
	double x;
	uint32_t w;
	int r;

	*isdef = raw == 0 && bn == 0;
	switch (f->type) {
	case FT(INT32):
		*out = json_integer((int32_t)(uint32_t)raw);
		*isdef = (uint32_t)raw == 0;
		break;
	case FT(SFIXED32):
		*out = json_integer((int32_t)(uint32_t)raw);
		break;
	case FT(SINT32):
		w = (uint32_t)raw;
		*out = json_integer((int32_t)((w >> 1) ^ (0u - (w & 1))));
		*isdef = w == 0;
		break;
	case FT(UINT32):
		*out = json_integer((uint32_t)raw);
		*isdef = (uint32_t)raw == 0;
		break;
	case FT(FIXED32):
		*out = json_integer((uint32_t)raw);
		break;
	case FT(INT64): case FT(SFIXED64):
		*out = num_text(buf, sizeof(buf), (int64_t)raw, 0, true);
		break;
	case FT(SINT64):
		*out = num_text(buf, sizeof(buf),
		    (int64_t)((raw >> 1) ^ (0 - (raw & 1))), 0, true);
		break;
	case FT(UINT64): case FT(FIXED64):
		*out = num_text(buf, sizeof(buf), 0, raw, false);
		break;
	case FT(BOOL):
		*out = json_boolean(raw != 0);
		break;
	case FT(FLOAT):
		w = (uint32_t)raw;
		memcpy(&fl, &w, 4);
		*out = real_json(isfinite(fl) ? float_as_double(fl) : fl);
		break;
	case FT(DOUBLE):
		memcpy(&x, &raw, 8);
		*out = real_json(x);
		break;
	case FT(ENUM):
		*isdef = (int32_t)(uint32_t)raw == 0;
		name = xr__pbj_enum_name(f->en, (int32_t)(uint32_t)raw);
		*out = name != NULL ? json_string(name) :
		    json_integer((int32_t)(uint32_t)raw);
		break;
	case FT(STRING):
		if ((*out = json_stringn((const char *)b, bn)) == NULL)
			return dec_err(c, t, "field %s: not valid UTF-8",
			    f->name);
		break;
	case FT(BYTES): {
		char *s = b64_encode(b, bn);

		*out = s != NULL ? json_string(s) : NULL;
		free(s);
		break;
	}
	case FT(MESSAGE):
		*isdef = false;
		if ((r = dec_msg(c, f->msg, b, bn, depth + 1, out)) != XR_OK)
			return r;
		break;
	default:
		return xr__pbj_unsupported(f, t->full, c->d);
	}
	if (*out == NULL)
		return xr_diag_set(c->d, XR_ERR_NOMEM, "out of memory");
	return XR_OK;
}

static int
expect_wt(int type)
{
	switch (type) {
	case FT(FIXED64): case FT(SFIXED64): case FT(DOUBLE):
		return 1;
	case FT(STRING): case FT(BYTES): case FT(MESSAGE):
		return 2;
	case FT(FIXED32): case FT(SFIXED32): case FT(FLOAT):
		return 5;
	default:
		return 0;
	}
}

/* Read the payload of one wire-type `wt` value at p[*pos]: a number into
 * `*raw`, or a byte range into `*b`/`*bn`. */
static int
read_wt(const uint8_t *p, size_t n, size_t *pos, int wt, uint64_t *raw,
    const uint8_t **b, size_t *bn)
{
	uint64_t len;

	*raw = 0;
	*b = NULL;
	*bn = 0;
	switch (wt) {
	case 0:
		return get_varint(p, n, pos, raw);
	case 1: case 5:
		if (n - *pos < (wt == 1 ? 8u : 4u))
			return XR_ERR_MALFORMED;
		*raw = get_fixed(p + *pos, wt == 1 ? 8 : 4);
		*pos += wt == 1 ? 8 : 4;
		return XR_OK;
	case 2:
		if (get_varint(p, n, pos, &len) != XR_OK || len > n - *pos)
			return XR_ERR_MALFORMED;
		*b = p + *pos;
		*bn = (size_t)len;
		*pos += (size_t)len;
		return XR_OK;
	default:
		return XR_ERR_MALFORMED;	/* groups (3, 4), 6, 7 */
	}
}

/* The per-field state of one message being decoded. */
struct slot {
	json_t *v;		/* the value, or the array of a repeated field */
	bool isdef;		/* singular: the last value was the default */
	uint8_t *mb;		/* singular message: occurrences concatenated */
	size_t mn;
	bool seen;
};

static int
append(struct slot *s, const uint8_t *b, size_t n)
{
	uint8_t *nb = realloc(s->mb, s->mn + n + 1);

	if (nb == NULL)
		return XR_ERR_NOMEM;
	if (n > 0)
		memcpy(nb + s->mn, b, n);
	s->mb = nb;
	s->mn += n;
	return XR_OK;
}

static int
dec_field(struct dec *c, const xr_pbjson_type *t,
    const struct xr__pbj_field *f, struct slot *s, int wt, uint64_t raw,
    const uint8_t *b, size_t bn, int depth)
{
	json_t *v = NULL;
	bool isdef;
	int r;

	if ((r = xr__pbj_unsupported(f, t->full, c->d)) != XR_OK)
		return r;
	if (f->repeated && s->v == NULL && (s->v = json_array()) == NULL)
		return xr_diag_set(c->d, XR_ERR_NOMEM, "out of memory");
	/* packed scalars: a length-delimited run of values */
	if (f->repeated && wt == 2 && expect_wt(f->type) != 2) {
		const uint8_t *eb;
		size_t pos = 0, en;

		while (pos < bn) {
			if (read_wt(b, bn, &pos, expect_wt(f->type), &raw, &eb,
			    &en) != XR_OK)
				return dec_err(c, t, "field %s: truncated "
				    "packed value", f->name);
			if ((r = dec_value(c, t, f, raw, NULL, 0, depth, &v,
			    &isdef)) != XR_OK)
				return r;
			if (json_array_append_new(s->v, v) != 0)
				return xr_diag_set(c->d, XR_ERR_NOMEM, "out "
				    "of memory");
		}
		return XR_OK;
	}
	if (wt != expect_wt(f->type))
		return dec_err(c, t, "field %s: wire type %d, expected %d",
		    f->name, wt, expect_wt(f->type));
	s->seen = true;
	if (!f->repeated && f->type == FT(MESSAGE))
		return append(s, b, bn) == XR_OK ? XR_OK :
		    xr_diag_set(c->d, XR_ERR_NOMEM, "out of memory");
	if ((r = dec_value(c, t, f, raw, b, bn, depth, &v, &isdef)) != XR_OK)
		return r;
	if (f->repeated) {
		if (json_array_append_new(s->v, v) != 0)
			return xr_diag_set(c->d, XR_ERR_NOMEM, "out of memory");
		return XR_OK;
	}
	json_decref(s->v);	/* the last one wins */
	s->v = v;
	s->isdef = isdef;
	return XR_OK;
}

static int
dec_msg(struct dec *c, const xr_pbjson_type *t, const uint8_t *p, size_t n,
    int depth, json_t **out)
{
	struct slot *s;
	json_t *o = NULL;
	size_t pos = 0;
	int r = XR_OK;

	*out = NULL;
	if (depth > XR_PBJSON_MAX_DEPTH)
		return dec_err(c, t, "nested deeper than %d",
		    XR_PBJSON_MAX_DEPTH);
	if ((s = calloc(t->nf + 1, sizeof(*s))) == NULL)
		return xr_diag_set(c->d, XR_ERR_NOMEM, "out of memory");
	while (pos < n && r == XR_OK) {
		uint64_t tag, raw;
		const uint8_t *b;
		size_t bn, i;
		int wt;

		if (get_varint(p, n, &pos, &tag) != XR_OK) {
			r = dec_err(c, t, "truncated tag at byte %zu", pos);
			break;
		}
		wt = (int)(tag & 7);
		if ((tag >> 3) == 0 || (tag >> 3) > 536870911) {
			r = dec_err(c, t, "field number %llu",
			    (unsigned long long)(tag >> 3));
			break;
		}
		if (read_wt(p, n, &pos, wt, &raw, &b, &bn) != XR_OK) {
			r = dec_err(c, t, "field %llu: truncated or bad wire "
			    "type %d", (unsigned long long)(tag >> 3), wt);
			break;
		}
		for (i = 0; i < t->nf && t->f[i].number != (tag >> 3); i++)
			;
		if (i == t->nf)
			continue;	/* unknown: skipped */
		r = dec_field(c, t, &t->f[i], &s[i], wt, raw, b, bn, depth);
	}
	/* in field-number order; defaults of fields without presence left
	 * out */
	if (r == XR_OK && (o = json_object()) == NULL)
		r = xr_diag_set(c->d, XR_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < t->nf && r == XR_OK; i++) {
		const struct xr__pbj_field *f = &t->f[i];

		if (!f->repeated && f->type == FT(MESSAGE) && s[i].seen) {
			if ((r = dec_msg(c, f->msg, s[i].mb != NULL ? s[i].mb :
			    (const uint8_t *)"", s[i].mn, depth + 1,
			    &s[i].v)) != XR_OK)
				break;
		}
		if (s[i].v == NULL || (f->repeated &&
		    json_array_size(s[i].v) == 0) ||
		    (!f->repeated && !f->presence && s[i].isdef))
			continue;
		if (json_object_set(o, f->json, s[i].v) != 0)
			r = xr_diag_set(c->d, XR_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < t->nf; i++) {
		json_decref(s[i].v);
		free(s[i].mb);
	}
	free(s);
	if (r != XR_OK) {
		json_decref(o);
		return r;
	}
	*out = o;
	return XR_OK;
}

/* ---------- tree -> text ---------- */

struct text {
	char *p;
	size_t n, cap;
	bool oom;
};

static void
emit(struct text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (t->n + n + 1 > t->cap) {
		size_t nc = t->cap == 0 ? 256 : t->cap;
		char *np;

		while (nc < t->n + n + 1)
			nc *= 2;
		if ((np = realloc(t->p, nc)) == NULL) {
			t->oom = true;
			return;
		}
		t->p = np;
		t->cap = nc;
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
	t->p[t->n] = '\0';
}

static void
emit_str(struct text *t, const char *s, size_t n)
{
	char esc[8];

	emit(t, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			emit(t, esc, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			emit(t, esc, 6);
		} else {
			emit(t, s + i, 1);
		}
	}
	emit(t, "\"", 1);
}

static void
emit_json(struct text *t, const json_t *v)
{
	char buf[40];
	const char *k;
	json_t *x;
	bool first = true;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		emit(t, "{", 1);
		json_object_foreach((json_t *)(uintptr_t)v, k, x) {
			if (!first)
				emit(t, ",", 1);
			first = false;
			emit_str(t, k, strlen(k));
			emit(t, ":", 1);
			emit_json(t, x);
		}
		emit(t, "}", 1);
		return;
	case JSON_ARRAY:
		emit(t, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				emit(t, ",", 1);
			emit_json(t, json_array_get(v, i));
		}
		emit(t, "]", 1);
		return;
	case JSON_STRING:
		emit_str(t, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		break;
	case JSON_REAL: {
		double rv = json_real_value(v);

		/* the shortest text that reads back as the same double */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, rv);
			if (strtod(buf, NULL) == rv)
				break;
		}
		break;
	}
	case JSON_TRUE:
		snprintf(buf, sizeof(buf), "true");
		break;
	case JSON_FALSE:
		snprintf(buf, sizeof(buf), "false");
		break;
	default:
		snprintf(buf, sizeof(buf), "null");
		break;
	}
	emit(t, buf, strlen(buf));
}

int
xr_pbjson_decode(const xr_pbjson *p, const xr_pbjson_type *t,
    const uint8_t *buf, size_t len, char **out, xr_diag *d)
{
	struct dec c = { p, d };
	struct text txt = { 0 };
	json_t *o = NULL;
	int r;

	*out = NULL;
	if ((r = dec_msg(&c, t, buf != NULL ? buf : (const uint8_t *)"", len,
	    1, &o)) != XR_OK)
		return r;
	emit_json(&txt, o);
	json_decref(o);
	if (txt.oom || txt.p == NULL) {
		free(txt.p);
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	}
	*out = txt.p;
	return XR_OK;
}
