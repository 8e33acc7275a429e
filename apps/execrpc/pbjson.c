/*
 * apps/execrpc/pbjson.c — JSON -> wire bytes (xr_pbjson_encode). The
 * descriptor set index is in pbjson_set.c, wire bytes -> JSON in
 * pbjson_dec.c; they share pbjson_priv.h.
 */
#include "pbjson_priv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define FT(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

/* ---------- JSON -> wire bytes ---------- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

struct enc {
	const xr_pbjson *p;
	xr_diag *d;
	char path[4096];	/* the field path, for messages */
};

static int
put(struct buf *b, const void *src, size_t n)
{
	if (b->n + n > b->cap) {
		size_t nc = b->cap == 0 ? 64 : b->cap;
		uint8_t *np;

		while (nc < b->n + n)
			nc *= 2;
		if ((np = realloc(b->p, nc)) == NULL)
			return XR_ERR_NOMEM;
		b->p = np;
		b->cap = nc;
	}
	if (n > 0)
		memcpy(b->p + b->n, src, n);
	b->n += n;
	return XR_OK;
}

static int
put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	do {
		t[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			t[n] |= 0x80;
		n++;
	} while (v != 0);
	return put(b, t, n);
}

static int
put_fixed(struct buf *b, uint64_t v, size_t n)
{
	uint8_t t[8];

	for (size_t i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	return put(b, t, n);
}

static int
enc_err(struct enc *e, const char *owner, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
enc_err(struct enc *e, const char *owner, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	size_t pl = strlen(e->path);

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* a long path: its end, which names the field */
	return xr_diag_set(e->d, XR_ERR_INVALID_ARG, "field \"%s%s\" of %s: "
	    "%s", pl > 80 ? "..." : "", pl > 80 ? e->path + pl - 77 : e->path,
	    owner, what);
}

static const char *
jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction or exponent";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* A JSON number or decimal string as an integer in [lo, hi] (signed when
 * lo < 0). */
static int
json_int(struct enc *e, const char *owner, const json_t *v, int64_t lo,
    uint64_t hi, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < lo || (i >= 0 && (uint64_t)i > hi))
			return enc_err(e, owner, "%lld is out of range",
			    (long long)i);
		*out = (uint64_t)i;
		return XR_OK;
	}
	if (json_is_real(v)) {
		double x = json_real_value(v);

		if (x != floor(x) || x < (double)lo || x > (double)hi ||
		    fabs(x) > 9007199254740992.0)
			return enc_err(e, owner, "%g is not an integer in "
			    "range", x);
		*out = x < 0 ? (uint64_t)(int64_t)x : (uint64_t)x;
		return XR_OK;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		const char *q = s;
		bool neg = *q == '-';
		uint64_t acc = 0;

		if (neg)
			q++;
		if (*q == '\0' || strlen(s) != json_string_length(v))
			return enc_err(e, owner, "\"%.40s\" is not an integer",
			    s);
		for (; *q != '\0'; q++) {
			uint64_t dig = (uint64_t)(*q - '0');

			if (*q < '0' || *q > '9')
				return enc_err(e, owner, "\"%.40s\" is not an "
				    "integer", s);
			if (acc > UINT64_MAX / 10 || (acc == UINT64_MAX / 10 &&
			    dig > UINT64_MAX % 10))
				return enc_err(e, owner, "\"%.40s\" is out of "
				    "range", s);
			acc = acc * 10 + dig;
		}
		if (neg ? (lo >= 0 || acc > (uint64_t)-(lo + 1) + 1) :
		    acc > hi)
			return enc_err(e, owner, "\"%.40s\" is out of range", s);
		*out = neg ? (uint64_t)0 - acc : acc;
		return XR_OK;
	}
	return enc_err(e, owner, "expected an integer, got %s", jtype(v));
}

static int
json_float(struct enc *e, const char *owner, const json_t *v, bool single,
    double *out)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (strcmp(s, "NaN") == 0)
			*out = NAN;
		else if (strcmp(s, "Infinity") == 0)
			*out = INFINITY;
		else if (strcmp(s, "-Infinity") == 0)
			*out = -INFINITY;
		else
			return enc_err(e, owner, "\"%.40s\" is not a number", s);
		return XR_OK;
	}
	if (!json_is_number(v))
		return enc_err(e, owner, "expected a number, got %s", jtype(v));
	*out = json_number_value(v);
	if (single && isfinite(*out) && fabs(*out) > 3.4028234663852886e38)
		return enc_err(e, owner, "%g is out of range for float", *out);
	return XR_OK;
}

static int enc_msg(struct enc *e, const xr_pbjson_type *t, const json_t *o,
    struct buf *out, int depth);

/* One value of field `f` (not its tag) into `b`. */
static int
enc_value(struct enc *e, const xr_pbjson_type *t,
    const struct xr__pbj_field *f, const json_t *v, struct buf *b, int depth)
{
	uint64_t u;
	double x;
	float fl;
	int r;

	switch (f->type) {
	case FT(INT32): case FT(SINT32): case FT(SFIXED32):
		if ((r = json_int(e, t->full, v, INT32_MIN, INT32_MAX, &u)) !=
		    XR_OK)
			return r;
		if (f->type == FT(SINT32))
			return put_varint(b, (uint32_t)(((uint32_t)u << 1) ^
			    (uint32_t)((int32_t)u >> 31)));
		if (f->type == FT(SFIXED32))
			return put_fixed(b, u, 4);
		return put_varint(b, (uint64_t)(int64_t)(int32_t)u);
	case FT(INT64): case FT(SINT64): case FT(SFIXED64):
		if ((r = json_int(e, t->full, v, INT64_MIN, INT64_MAX, &u)) !=
		    XR_OK)
			return r;
		if (f->type == FT(SINT64))
			return put_varint(b, (u << 1) ^
			    (uint64_t)((int64_t)u >> 63));
		return f->type == FT(SFIXED64) ? put_fixed(b, u, 8) :
		    put_varint(b, u);
	case FT(UINT32): case FT(FIXED32):
		if ((r = json_int(e, t->full, v, 0, UINT32_MAX, &u)) != XR_OK)
			return r;
		return f->type == FT(FIXED32) ? put_fixed(b, u, 4) :
		    put_varint(b, u);
	case FT(UINT64): case FT(FIXED64):
		if ((r = json_int(e, t->full, v, 0, UINT64_MAX, &u)) != XR_OK)
			return r;
		return f->type == FT(FIXED64) ? put_fixed(b, u, 8) :
		    put_varint(b, u);
	case FT(BOOL):
		if (!json_is_boolean(v))
			return enc_err(e, t->full, "expected true or false, "
			    "got %s", jtype(v));
		return put_varint(b, json_is_true(v) ? 1 : 0);
	case FT(FLOAT):
		if ((r = json_float(e, t->full, v, true, &x)) != XR_OK)
			return r;
		fl = (float)x;
		{
			uint32_t w;

			memcpy(&w, &fl, 4);
			return put_fixed(b, w, 4);
		}
	case FT(DOUBLE):
		if ((r = json_float(e, t->full, v, false, &x)) != XR_OK)
			return r;
		memcpy(&u, &x, 8);
		return put_fixed(b, u, 8);
	case FT(ENUM):
		if (json_is_string(v)) {
			const Google__Protobuf__EnumDescriptorProto *ep =
			    f->en->ep;

			for (size_t i = 0; i < ep->n_value; i++)
				if (ep->value[i]->name != NULL &&
				    strcmp(ep->value[i]->name,
				    json_string_value(v)) == 0)
					return put_varint(b, (uint64_t)(int64_t)
					    ep->value[i]->number);
			return enc_err(e, t->full, "\"%.40s\" is not a value of "
			    "enum %s", json_string_value(v), f->en->full);
		}
		if ((r = json_int(e, t->full, v, INT32_MIN, INT32_MAX, &u)) !=
		    XR_OK)
			return r;
		return put_varint(b, (uint64_t)(int64_t)(int32_t)u);
	case FT(STRING):
		if (!json_is_string(v))
			return enc_err(e, t->full, "expected a string, got %s",
			    jtype(v));
		if ((r = put_varint(b, json_string_length(v))) != XR_OK)
			return r;
		return put(b, json_string_value(v), json_string_length(v));
	case FT(BYTES): {
		uint8_t *raw;
		size_t n;

		if (!json_is_string(v))
			return enc_err(e, t->full, "expected a base64 string, "
			    "got %s", jtype(v));
		if ((r = xr__pbj_b64_decode(json_string_value(v),
		    json_string_length(v), &raw, &n)) != XR_OK)
			return r == XR_ERR_NOMEM ? r : enc_err(e, t->full,
			    "not valid base64");
		if ((r = put_varint(b, n)) == XR_OK)
			r = put(b, raw, n);
		free(raw);
		return r;
	}
	case FT(MESSAGE): {
		struct buf sub = { 0 };

		if (!json_is_object(v))
			return enc_err(e, t->full, "expected an object, got %s",
			    jtype(v));
		if ((r = enc_msg(e, f->msg, v, &sub, depth + 1)) == XR_OK &&
		    (r = put_varint(b, sub.n)) == XR_OK)
			r = put(b, sub.p, sub.n);
		free(sub.p);
		return r;
	}
	default:
		return enc_err(e, t->full, "field type %d is not supported",
		    f->type);
	}
}

static int
wire_type(int type)
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

/* A value at its proto3 default: not written for a field without
 * presence. */
static bool
json_default(const struct xr__pbj_field *f, const json_t *v)
{
	switch (f->type) {
	case FT(STRING): case FT(BYTES):
		return json_is_string(v) && json_string_length(v) == 0;
	case FT(BOOL):
		return json_is_false(v);
	case FT(ENUM):
		if (json_is_string(v)) {
			const char *n = xr__pbj_enum_name(f->en, 0);

			return n != NULL && strcmp(n, json_string_value(v)) == 0;
		}
		/* FALLTHROUGH */
	default:
		if (json_is_number(v))
			return json_number_value(v) == 0 &&
			    !signbit(json_number_value(v));
		return json_is_string(v) && strcmp(json_string_value(v), "0") ==
		    0;
	}
}

/* Field `f` of `t` with JSON value `v` (not null) into `out`. */
static int
enc_field(struct enc *e, const xr_pbjson_type *t,
    const struct xr__pbj_field *f, const json_t *v, struct buf *out,
    int depth)
{
	uint64_t tag = (uint64_t)f->number << 3;
	size_t plen = strlen(e->path);
	int r = XR_OK;

	if ((r = xr__pbj_unsupported(f, t->full, e->d)) != XR_OK)
		return r;
	if (!f->repeated) {
		if (!f->presence && json_default(f, v) &&
		    f->type != FT(MESSAGE))
			return XR_OK;
		if ((r = put_varint(out, tag | (uint64_t)wire_type(f->type))) !=
		    XR_OK)
			return r;
		return enc_value(e, t, f, v, out, depth);
	}
	if (!json_is_array(v))
		return enc_err(e, t->full, "expected an array, got %s",
		    jtype(v));
	if (f->packed && json_array_size(v) > 0) {
		struct buf pk = { 0 };

		for (size_t i = 0; i < json_array_size(v) && r == XR_OK; i++) {
			snprintf(e->path + plen, sizeof(e->path) - plen,
			    "[%zu]", i);
			r = enc_value(e, t, f, json_array_get(v, i), &pk,
			    depth);
		}
		e->path[plen] = '\0';
		if (r == XR_OK && (r = put_varint(out, tag | 2)) == XR_OK &&
		    (r = put_varint(out, pk.n)) == XR_OK)
			r = put(out, pk.p, pk.n);
		free(pk.p);
		return r;
	}
	for (size_t i = 0; i < json_array_size(v) && r == XR_OK; i++) {
		const json_t *x = json_array_get(v, i);

		snprintf(e->path + plen, sizeof(e->path) - plen, "[%zu]", i);
		if (json_is_null(x))
			r = enc_err(e, t->full, "null in an array");
		else if ((r = put_varint(out, tag |
		    (uint64_t)wire_type(f->type))) == XR_OK)
			r = enc_value(e, t, f, x, out, depth);
	}
	if (r == XR_OK)
		e->path[plen] = '\0';
	return r;
}

static int
enc_msg(struct enc *e, const xr_pbjson_type *t, const json_t *o,
    struct buf *out, int depth)
{
	const char *key;
	json_t *v;
	size_t plen = strlen(e->path);
	int r = XR_OK, *oneof_set = NULL;
	const json_t **val = NULL;

	if (depth > XR_PBJSON_MAX_DEPTH)
		return enc_err(e, t->full, "nested deeper than %d",
		    XR_PBJSON_MAX_DEPTH);
	if (!json_is_object(o))
		return plen == 0 ? xr_diag_set(e->d, XR_ERR_INVALID_ARG,
		    "expected a JSON object for %s, got %s", t->full,
		    jtype(o)) : enc_err(e, t->full, "expected an object, got "
		    "%s", jtype(o));
	if ((val = calloc(t->nf + 1, sizeof(*val))) == NULL ||
	    (oneof_set = calloc(t->dp->n_oneof_decl + 1,
	    sizeof(*oneof_set))) == NULL) {
		r = xr_diag_set(e->d, XR_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* every key names a field, once; one member per oneof */
	json_object_foreach((json_t *)(uintptr_t)o, key, v) {
		size_t i;

		for (i = 0; i < t->nf; i++)
			if (strcmp(t->f[i].json, key) == 0 ||
			    strcmp(t->f[i].name, key) == 0)
				break;
		if (i == t->nf) {
			r = xr_diag_set(e->d, XR_ERR_INVALID_ARG, "unknown "
			    "field \"%s%s%.60s\" in %s", e->path,
			    plen > 0 ? "." : "", key, t->full);
			goto out;
		}
		if (val[i] != NULL) {
			r = xr_diag_set(e->d, XR_ERR_INVALID_ARG, "field "
			    "\"%s%s%s\" of %s given twice", e->path,
			    plen > 0 ? "." : "", t->f[i].json, t->full);
			goto out;
		}
		if (json_is_null(v))
			continue;
		val[i] = v;
		if (t->f[i].oneof < 0)
			continue;
		if (oneof_set[t->f[i].oneof] != 0) {
			const struct xr__pbj_field *o1 =
			    &t->f[oneof_set[t->f[i].oneof] - 1];

			r = xr_diag_set(e->d, XR_ERR_INVALID_ARG, "fields "
			    "\"%s\" and \"%s\" of %s are members of one oneof",
			    o1->json, t->f[i].json, t->full);
			goto out;
		}
		oneof_set[t->f[i].oneof] = (int)i + 1;
	}
	/* in field-number order */
	for (size_t i = 0; i < t->nf && r == XR_OK; i++) {
		if (val[i] == NULL)
			continue;
		snprintf(e->path + plen, sizeof(e->path) - plen, "%s%s",
		    plen > 0 ? "." : "", t->f[i].json);
		r = enc_field(e, t, &t->f[i], val[i], out, depth);
		if (r == XR_OK)
			e->path[plen] = '\0';
	}
 out:
	free(val);
	free(oneof_set);
	return r;
}

int
xr_pbjson_encode(const xr_pbjson *p, const xr_pbjson_type *t,
    const char *json, size_t len, uint8_t **out, size_t *out_len, xr_diag *d)
{
	struct enc e = { p, d, "" };
	struct buf b = { 0 };
	json_error_t je;
	json_t *root;
	int r;

	*out = NULL;
	*out_len = 0;
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &je)) == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "not valid JSON: %s "
		    "(line %d, column %d)", je.text, je.line, je.column);
	r = enc_msg(&e, t, root, &b, 1);
	json_decref(root);
	if (r == XR_OK && b.p == NULL && (b.p = malloc(1)) == NULL)
		r = xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	if (r != XR_OK) {
		if (r == XR_ERR_NOMEM)
			xr_diag_set(d, r, "out of memory");
		free(b.p);
		return r;
	}
	*out = b.p;
	*out_len = b.n;
	return XR_OK;
}
