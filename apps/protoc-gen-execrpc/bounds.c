/*
 * apps/protoc-gen-execrpc/bounds.c — the encoded-size bound of a message,
 * computed as nanopb_generator.py (0.4.x) computes <Msg>_size:
 *
 *   message  = sum of its fields; a oneof counts as its largest member
 *              (as a plain sum with no_unions; proto3 optional fields are
 *              plain fields); extension ranges count 0
 *   field    = element + varint size of (number << 3)
 *   repeated = count x field, + 1 when max_count is 1 (packed length)
 *   element  : bool 1, fixed32/sfixed32/float 4, fixed64/sfixed64/double 8,
 *              int32/int64 10, uint32/sint32 5 and uint64/sint64 10 unless
 *              int_size narrows them (IS_8 2, IS_16 3, IS_32 5), enum the
 *              largest varint of its values (a negative one: 10),
 *              string varint(max_size) + max_size - 1 (max_size counts the
 *              NUL; max_length + 1 when max_length is given),
 *              bytes varint(max_size) + max_size,
 *              message its bound + varint(its bound)
 *
 * Every string, bytes and repeated field reachable from a method must be
 * static with a bound (max_size / max_length / max_count); a callback or
 * pointer field, a recursive message, a group or a type_override has no
 * bound here, and the run fails naming the field and the line to add.
 */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

static uint64_t
varint_max(int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint64_t n = 1;

	if (v < 0)
		return 10;
	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

/* nanopb's datatypes table: the element size of a scalar, or 0. */
static uint64_t
scalar_size(int type, int int_size)
{
	int narrow = int_size == INT_SIZE__IS_8 ? 2 :
	    int_size == INT_SIZE__IS_16 ? 3 :
	    int_size == INT_SIZE__IS_32 ? 5 :
	    int_size == INT_SIZE__IS_64 ? 10 : 0;

	switch (type) {
	case T(BOOL):
		return 1;
	case T(FIXED32):
	case T(SFIXED32):
	case T(FLOAT):
		return 4;
	case T(FIXED64):
	case T(SFIXED64):
	case T(DOUBLE):
		return 8;
	case T(INT32):
	case T(INT64):
		return 10;
	case T(UINT32):
	case T(SINT32):
		return narrow != 0 ? (uint64_t)narrow : 5;
	case T(UINT64):
	case T(SINT64):
		return narrow != 0 ? (uint64_t)narrow : 10;
	default:
		return 0;
	}
}

static const char *
type_word(int type)
{
	switch (type) {
	case T(STRING):
		return "string";
	case T(BYTES):
		return "bytes";
	case T(MESSAGE):
		return "message";
	default:
		return "scalar";
	}
}

/* Where the user adds a bound for an element of `file`. */
static void
where_to_add(pg_buf *b, pg_nbopts *o, const pg_file_desc *file)
{
	const char *p = pg_nbopts_file_path(o, file);

	if (p != NULL)
		pg_buf_printf(b, "%s", p);
	else {
		char *noext = pg_strip_proto(file->name);

		pg_buf_printf(b, "%s.options (next to %s, or in a directory "
		    "given with options_path=DIR)", noext, file->name);
		free(noext);
	}
}

static int
no_bound(pg_nbopts *o, const pg_type *t, const pg_field_desc *fd,
    const char *dotname, const char *ctx, const char *why, const char *opt,
    pg_err *e)
{
	pg_buf w = { 0 };
	int ret;

	where_to_add(&w, o, t->file);
	ret = pg_fail(e, "%s: field %s (%s%s) has no bound%s: nanopb must "
	    "give it a static size; add the line \"%s %s:N\" to %s, or "
	    "[(nanopb).%s = N] to the field in %s", ctx, dotname,
	    fd->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED ?
	    "repeated " : "", type_word(fd->type), why, dotname, opt, w.s, opt,
	    t->file->name);
	pg_buf_free(&w);
	return ret;
}

static uint64_t
enum_size(pg_model *m, const char *type_name)
{
	const pg_type *et = pg_model_find(m, type_name);
	uint64_t max = 0;
	size_t i;

	if (et == NULL || et->en == NULL)
		return 10;	/* nanopb's conservative guess */
	for (i = 0; i < et->en->n_value; i++) {
		uint64_t s = varint_max(et->en->value[i]->number);

		if (s > max)
			max = s;
	}
	return max;
}

/* A bytes field nanopb stores as a fixed-length array (0 or max_size
 * bytes on decode). */
static int
fixed_length(const NanoPBOptions *fo)
{
	return (fo->has_fixed_length && fo->fixed_length) ||
	    (fo->has_type && fo->type == FIELD_TYPE__FT_INLINE);
}

/* The value range nanopb's int_size leaves a varint field, as a row kind
 * (PG_FB_COUNT: the type's own range, nothing to check). */
static int
int_range(int type, int int_size, int64_t *lo, int64_t *hi)
{
	int sign = type == T(INT32) || type == T(SINT32) ||
	    type == T(INT64) || type == T(SINT64);
	int wide = type == T(INT64) || type == T(SINT64) || type == T(UINT64);
	int bits = int_size == INT_SIZE__IS_8 ? 8 :
	    int_size == INT_SIZE__IS_16 ? 16 :
	    int_size == INT_SIZE__IS_32 && wide ? 32 : 0;

	if (bits == 0 || !(sign || type == T(UINT32) || type == T(UINT64)))
		return PG_FB_COUNT;
	if (sign) {
		*hi = (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
		*lo = -*hi - 1;
		return PG_FB_INT;
	}
	*lo = 0;
	*hi = (int64_t)((UINT64_C(1) << bits) - 1);
	return PG_FB_UINT;
}

/* One field's bound (tag included) in *out; what a server checks of it in
 * *row (row->kind PG_FB_COUNT and max_count 0: nothing). */
static int
field_size(pg_model *m, pg_nbopts *o, const pg_type *t,
    const pg_field_desc *fd, const NanoPBOptions *fo, const char *dotname,
    const char *ctx, uint64_t *out, pg_row *row, pg_err *e)
{
	int repeated = fd->label ==
	    GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
	int is_str = fd->type == T(STRING), is_bytes = fd->type == T(BYTES);
	int ftype = fo->has_type ? (int)fo->type : FIELD_TYPE__FT_DEFAULT;
	int64_t max_size = fo->has_max_size ? fo->max_size : -1;
	int64_t max_count = fo->has_max_count ? fo->max_count : -1;
	int can_static = 1;
	uint64_t elem;

	/* the legacy FT_INLINE is a static fixed_length bytes field: the
	 * same bound as a plain one */
	if (ftype == FIELD_TYPE__FT_INLINE)
		ftype = FIELD_TYPE__FT_STATIC;
	if (is_str && fo->has_max_length)
		max_size = (int64_t)fo->max_length + 1;
	if (repeated && max_count < 0)
		can_static = 0;
	if ((is_str || is_bytes) && max_size < 0)
		can_static = 0;
	if (ftype == FIELD_TYPE__FT_DEFAULT)
		ftype = can_static ? FIELD_TYPE__FT_STATIC :
		    fo->has_fallback_type ? (int)fo->fallback_type :
		    FIELD_TYPE__FT_CALLBACK;
	if (fo->has_type_override)
		return pg_fail(e, "%s: field %s has a nanopb type_override, "
		    "which protoc-gen-execrpc does not support", ctx, dotname);
	if (ftype == FIELD_TYPE__FT_CALLBACK && can_static)
		return pg_fail(e, "%s: field %s is a nanopb callback field "
		    "(type:FT_CALLBACK): execrpc needs static fields with "
		    "bounds; remove the type option", ctx, dotname);
	if (ftype == FIELD_TYPE__FT_POINTER)
		return pg_fail(e, "%s: field %s is a nanopb pointer field "
		    "(type:FT_POINTER): execrpc needs static fields with "
		    "bounds (no PB_ENABLE_MALLOC)", ctx, dotname);
	if (repeated && max_count < 0)
		return no_bound(o, t, fd, dotname, ctx, " (no max_count)",
		    "max_count", e);
	if ((is_str || is_bytes) && max_size < 0)
		return no_bound(o, t, fd, dotname, ctx, is_str ?
		    " (no max_length or max_size)" : " (no max_size)",
		    is_str ? "max_length" : "max_size", e);
	if (ftype != FIELD_TYPE__FT_STATIC)
		return pg_fail(e, "%s: field %s is not static in nanopb",
		    ctx, dotname);
	if (fo->has_fixed_count && fo->fixed_count && max_count < 0)
		return no_bound(o, t, fd, dotname, ctx, " (fixed_count)",
		    "max_count", e);

	memset(row, 0, sizeof(*row));
	row->field = fd->name;
	row->number = (uint32_t)fd->number;
	if (repeated) {
		row->max_count = (uint64_t)max_count;
		row->count_exact = fo->has_fixed_count && fo->fixed_count;
	}
	switch (fd->type) {
	case T(STRING):
		elem = varint_max(max_size) + (uint64_t)max_size - 1;
		row->kind = PG_FB_STRING;
		row->max = (uint64_t)max_size - 1;
		break;
	case T(BYTES):
		elem = varint_max(max_size) + (uint64_t)max_size;
		row->kind = fixed_length(fo) ? PG_FB_BYTES_FIXED : PG_FB_BYTES;
		row->max = (uint64_t)max_size;
		break;
	case T(ENUM):
		elem = enum_size(m, fd->type_name);
		break;
	case T(MESSAGE): {
		pg_type *sub = pg_model_find(m, fd->type_name);
		uint64_t s = 0;	/* set by pg_bound(); for -O2 -Werror */

		if (sub == NULL || sub->msg == NULL)
			return pg_fail(e, "%s: field %s: message type %s is "
			    "not in the request", ctx, dotname, fd->type_name);
		if (pg_bound(m, o, sub, ctx, &s, e) != 0)
			return -1;
		elem = s + varint_max((int64_t)s);
		if (sub->n_rows > 0) {
			row->kind = PG_FB_MESSAGE;
			row->sub = sub;
		}
		break;
	}
	case T(GROUP):
		return pg_fail(e, "%s: field %s is a group, which nanopb "
		    "does not support", ctx, dotname);
	default:
		elem = scalar_size(fd->type,
		    fo->has_int_size ? (int)fo->int_size : 0);
		if (elem == 0)
			return pg_fail(e, "%s: field %s has an unknown type %d",
			    ctx, dotname, (int)fd->type);
		row->kind = int_range(fd->type, fo->has_int_size ?
		    (int)fo->int_size : 0, &row->lo, &row->hi);
	}
	elem += varint_max((int64_t)fd->number << 3);
	if (repeated) {
		elem *= (uint64_t)max_count;
		if (max_count == 1)
			elem += 1;
	}
	*out = elem;
	return 0;
}

struct oneof_acc {
	int ignore, no_unions;
	uint64_t max;
};

static char *
dotted(const char *a, const char *b)
{
	pg_buf n = { 0 };

	pg_buf_printf(&n, "%s.%s", a, b);
	return pg_buf_take(&n);
}

static int
message_size(pg_model *m, pg_nbopts *o, pg_type *t, const char *ctx,
    uint64_t *out, pg_err *e)
{
	const pg_msg_desc *md = t->msg;
	NanoPBOptions *mo = NULL, *fo = NULL;
	struct oneof_acc *oa = NULL;
	pg_row *rows = NULL;
	uint64_t total = 0;
	size_t i, n_rows = 0;
	int ret = -1;

	if (pg_nbopts_message(o, t->file, md, t->full, &mo, e) != 0)
		goto out;
	if (mo->has_skip_message && mo->skip_message) {
		pg_fail(e, "%s: message %s is skipped in nanopb "
		    "(skip_message)", ctx, t->full);
		goto out;
	}
	if ((mo->has_mangle_names &&
	    mo->mangle_names != TYPENAME_MANGLING__M_NONE) ||
	    mo->package != NULL) {
		pg_fail(e, "%s: message %s: the nanopb options mangle_names "
		    "and package rename nanopb's types, which "
		    "protoc-gen-execrpc does not support", ctx, t->full);
		goto out;
	}
	oa = pg_xcalloc(md->n_oneof_decl, sizeof(*oa));
	for (i = 0; i < md->n_oneof_decl; i++) {
		char *dn = dotted(t->full, md->oneof_decl[i]->name);
		NanoPBOptions *oo;
		int r = pg_nbopts_oneof(o, t->file, mo, md, dn, &oo, e);

		free(dn);
		if (r != 0)
			goto out;
		oa[i].ignore = oo->has_type && oo->type == FIELD_TYPE__FT_IGNORE;
		oa[i].no_unions = oo->has_no_unions && oo->no_unions;
		pg_nbopts_free(oo);
	}
	rows = pg_xcalloc(md->n_field, sizeof(*rows));
	for (i = 0; i < md->n_field; i++) {
		const pg_field_desc *fd = md->field[i];
		char *dn = dotted(t->full, fd->name);
		uint64_t fs = 0;
		int r = pg_nbopts_field(o, t->file, mo, fd, dn, &fo, e);
		int ignored = r == 0 && fo->has_type &&
		    fo->type == FIELD_TYPE__FT_IGNORE;
		pg_row row = { 0 };

		if (r == 0 && !ignored)
			r = field_size(m, o, t, fd, fo, dn, ctx, &fs, &row, e);
		free(dn);
		pg_nbopts_free(fo);
		fo = NULL;
		if (r != 0)
			goto out;
		if (fd->has_oneof_index && fd->oneof_index >= 0 &&
		    (size_t)fd->oneof_index < md->n_oneof_decl) {
			struct oneof_acc *a = &oa[fd->oneof_index];

			if (fd->has_proto3_optional && fd->proto3_optional)
				a->no_unions = 1;
			if (a->no_unions)
				total += fs;
			else if (!a->ignore && fs > a->max)
				a->max = fs;
			if (!a->no_unions && a->ignore)
				ignored = 1;	/* nanopb drops the member */
		} else
			total += fs;
		/* nanopb skips an ignored field on decode: nothing to check */
		if (!ignored && (row.kind != PG_FB_COUNT || row.max_count > 0))
			rows[n_rows++] = row;
	}
	for (i = 0; i < md->n_oneof_decl; i++)
		if (!oa[i].no_unions && !oa[i].ignore)
			total += oa[i].max;
	*out = total;
	t->rows = rows;
	t->n_rows = n_rows;
	rows = NULL;
	ret = 0;
 out:
	free(rows);
	free(oa);
	pg_nbopts_free(mo);
	return ret;
}

int
pg_bound(pg_model *m, pg_nbopts *o, pg_type *t, const char *ctx,
    uint64_t *size, pg_err *e)
{
	if (t->state == 2) {
		*size = t->size;
		return 0;
	}
	if (t->state == 1)
		return pg_fail(e, "%s: message %s contains itself: nanopb "
		    "cannot bound a recursive message, and execrpc allows none",
		    ctx, t->full);
	if (t->state == -1)
		return -1;
	t->state = 1;
	if (message_size(m, o, t, ctx, &t->size, e) != 0) {
		t->state = -1;
		return -1;
	}
	t->state = 2;
	*size = t->size;
	return 0;
}
