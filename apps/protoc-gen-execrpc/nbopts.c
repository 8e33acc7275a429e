/*
 * apps/protoc-gen-execrpc/nbopts.c — nanopb's generator options, resolved
 * the way nanopb_generator.py (0.4.x) resolves them, so that the bounds
 * computed here are the ones nanopb's <Msg>_size macros hold:
 *
 *  - the options file of a .proto "dir/x.proto" is "dir/x.options", looked
 *    for in each search directory in turn (".", the -I / options_path
 *    directories, the directory of the first file to generate); it applies
 *    to the elements of that .proto only;
 *  - a line is "NAMEMASK OPTIONS": NAMEMASK an fnmatch pattern on the
 *    element's dotted full name ("kv.v1.PutRequest.value"; a file's is its
 *    .proto name), OPTIONS NanoPBOptions in protobuf text format
 *    ("max_size:64 max_count:8"); comments are C block comments within
 *    one line, and // or # to the end of the line;
 *  - an element's options: its parent's (file -> message -> field or
 *    oneof), then every matching line in file order, then the option
 *    written in the .proto ([(nanopb).max_size = 64], option
 *    (nanopb_msgopt), option (nanopb_fileopt): extension 1010 of
 *    FieldOptions, MessageOptions, FileOptions), later ones overriding.
 *
 * Only scalar options carry values here (strings are marked as set, their
 * text is not kept: no bound depends on it).
 */
#include "pg.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The protobuf extension number nanopb's options use on every options
 * message (nanopb.proto). */
#define NANOPB_EXT 1010

/* What a set string option points to (its text is not kept). */
static char str_set[] = "(set)";

struct optline {
	char *mask;
	NanoPBOptions *opts;
};

struct pg_optfile {
	char *proto;			/* the .proto's name */
	char *path;			/* the options file read, or NULL */
	struct optline *lines;
	size_t n_lines;
	pg_optfile *next;
};

void
pg_nbopts_add_path(pg_nbopts *o, const char *dir)
{
	char **np = realloc(o->paths, (o->n_paths + 1) * sizeof(*np));

	if (np == NULL)
		abort();
	o->paths = np;
	o->paths[o->n_paths++] = pg_xstrdup(dir);
}

void
pg_nbopts_free(NanoPBOptions *opt)
{
	free(opt);
}

void
pg_nbopts_fini(pg_nbopts *o)
{
	pg_optfile *f, *n;
	size_t i;

	for (f = o->files; f != NULL; f = n) {
		n = f->next;
		for (i = 0; i < f->n_lines; i++) {
			free(f->lines[i].mask);
			pg_nbopts_free(f->lines[i].opts);
		}
		free(f->lines);
		free(f->proto);
		free(f->path);
		free(f);
	}
	for (i = 0; i < o->n_paths; i++)
		free(o->paths[i]);
	free(o->paths);
	memset(o, 0, sizeof(*o));
}

static NanoPBOptions *
opts_new(void)
{
	NanoPBOptions *n = pg_xcalloc(1, sizeof(*n));

	nano_pboptions__init(n);
	return n;
}

/* ---- generic access to a NanoPBOptions field through its descriptor ---- */

static int
opt_is_set(const NanoPBOptions *m, const ProtobufCFieldDescriptor *f)
{
	const char *p = (const char *)m;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return 0;
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		const char *s = *(char *const *)(const void *)(p + f->offset);

		return s != NULL && s != f->default_value;
	}
	return *(const protobuf_c_boolean *)(const void *)(p +
	    f->quantifier_offset) != 0;
}

static size_t
scalar_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_UINT32:
		return sizeof(int32_t);
	default:
		return 0;	/* not in NanoPBOptions */
	}
}

/* `dst` gets every option set in `src`. */
static void
opts_merge(NanoPBOptions *dst, const NanoPBOptions *src)
{
	const ProtobufCMessageDescriptor *d = &nano_pboptions__descriptor;
	unsigned i;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *dp = (char *)dst;
		const char *sp = (const char *)src;

		if (!opt_is_set(src, f))
			continue;
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			*(char **)(void *)(dp + f->offset) = str_set;
			continue;
		}
		if (scalar_size(f) == 0)
			continue;
		memcpy(dp + f->offset, sp + f->offset, scalar_size(f));
		*(protobuf_c_boolean *)(void *)(dp + f->quantifier_offset) = 1;
	}
}

/* The length of the varint at `p` (its value in *v), or 0. */
static size_t
varint_prefix(const uint8_t *p, size_t len, uint64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < len && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0)
			return i + 1;
	}
	return 0;
}

/* Every extension-1010 record of an options message, in order. */
static int
merge_ext(NanoPBOptions *dst, const ProtobufCMessage *options,
    const char *what, pg_err *e)
{
	unsigned i;

	if (options == NULL)
		return 0;
	for (i = 0; i < options->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u =
		    &options->unknown_fields[i];
		NanoPBOptions *ext;

		size_t pre;
		uint64_t n;

		if (u->tag != NANOPB_EXT)
			continue;
		/* protobuf-c keeps an unknown field's bytes as they came:
		 * the length prefix first */
		if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
		    (pre = varint_prefix(u->data, u->len, &n)) == 0 ||
		    n != u->len - pre ||
		    (ext = (NanoPBOptions *)protobuf_c_message_unpack(
		    &nano_pboptions__descriptor, NULL, (size_t)n,
		    u->data + pre)) == NULL)
			return pg_fail(e, "%s: the (nanopb) option does not "
			    "decode as NanoPBOptions", what);
		opts_merge(dst, ext);
		protobuf_c_message_free_unpacked(&ext->base, NULL);
	}
	return 0;
}

/* ---- text format: the subset nanopb's options lines use ---- */

struct lex {
	const char *p;
	const char *where;		/* "file:line" for errors */
	pg_err *e;
};

static void
skip_sep(struct lex *l)
{
	while (*l->p == ' ' || *l->p == '\t' || *l->p == ',' || *l->p == ';' ||
	    *l->p == '\r')
		l->p++;
}

/* One token: a quoted string (quotes kept) or a run of non-separators. */
static char *
token(struct lex *l)
{
	const char *s = l->p;

	if (*s == '"' || *s == '\'') {
		char q = *s++;

		while (*s != '\0' && *s != q) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			s++;
		}
		if (*s != q)
			return NULL;
		s++;
	} else
		while (*s != '\0' && strchr(" \t\r,;:[]", *s) == NULL)
			s++;
	if (s == l->p)
		return NULL;
	{
		char *t = pg_xcalloc(1, (size_t)(s - l->p) + 1);

		memcpy(t, l->p, (size_t)(s - l->p));
		l->p = s;
		return t;
	}
}

static int
parse_int(const char *t, long long lo, long long hi, int32_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(t, &end, 0);
	if (errno != 0 || *end != '\0' || end == t || v < lo || v > hi)
		return -1;
	*out = (int32_t)v;
	return 0;
}

/* Set field `f` of `m` from token `t`. */
static int
set_value(NanoPBOptions *m, const ProtobufCFieldDescriptor *f, const char *t)
{
	char *p = (char *)m;
	int32_t v = 0;

	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		if (strcmp(t, "true") == 0 || strcmp(t, "True") == 0 ||
		    strcmp(t, "t") == 0 || strcmp(t, "1") == 0)
			v = 1;
		else if (strcmp(t, "false") == 0 || strcmp(t, "False") == 0 ||
		    strcmp(t, "f") == 0 || strcmp(t, "0") == 0)
			v = 0;
		else
			return -1;
		*(protobuf_c_boolean *)(void *)(p + f->offset) = v != 0;
		break;
	case PROTOBUF_C_TYPE_INT32:
		if (parse_int(t, INT32_MIN, INT32_MAX, &v) != 0)
			return -1;
		memcpy(p + f->offset, &v, sizeof(v));
		break;
	case PROTOBUF_C_TYPE_UINT32:
		if (parse_int(t, 0, UINT32_MAX, &v) != 0)
			return -1;
		memcpy(p + f->offset, &v, sizeof(v));
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value_by_name(f->descriptor,
		    t);

		if (ev != NULL)
			v = ev->value;
		else if (parse_int(t, INT32_MIN, INT32_MAX, &v) != 0 ||
		    protobuf_c_enum_descriptor_get_value(f->descriptor,
		    v) == NULL)
			return -1;
		memcpy(p + f->offset, &v, sizeof(v));
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		if (t[0] != '"' && t[0] != '\'')
			return -1;
		if (f->label != PROTOBUF_C_LABEL_REPEATED)
			*(char **)(void *)(p + f->offset) = str_set;
		return 0;
	default:
		return -1;
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
		*(protobuf_c_boolean *)(void *)(p + f->quantifier_offset) = 1;
	return 0;
}

/* "name: value name: value …" into `m`. */
static int
parse_opts(struct lex *l, NanoPBOptions *m)
{
	char *name = NULL, *val = NULL;
	int ret = 0;

	for (skip_sep(l); *l->p != '\0'; skip_sep(l)) {
		const ProtobufCFieldDescriptor *f;

		if ((name = token(l)) == NULL) {
			ret = pg_fail(l->e, "%s: unparsable option text at "
			    "\"%s\"", l->where, l->p);
			goto out;
		}
		f = protobuf_c_message_descriptor_get_field_by_name(
		    &nano_pboptions__descriptor, name);
		if (f == NULL) {
			ret = pg_fail(l->e, "%s: unknown nanopb option \"%s\"",
			    l->where, name);
			goto out;
		}
		while (*l->p == ' ' || *l->p == '\t')
			l->p++;
		if (*l->p != ':') {
			ret = pg_fail(l->e, "%s: expected ':' after \"%s\"",
			    l->where, name);
			goto out;
		}
		l->p++;
		while (*l->p == ' ' || *l->p == '\t')
			l->p++;
		if (*l->p == '[' && f->label == PROTOBUF_C_LABEL_REPEATED) {
			/* a list of values: checked, not kept */
			l->p++;
			for (skip_sep(l); *l->p != ']'; skip_sep(l)) {
				if ((val = token(l)) == NULL ||
				    set_value(m, f, val) != 0) {
					ret = pg_fail(l->e, "%s: bad value "
					    "for \"%s\"", l->where, name);
					goto out;
				}
				free(val);
				val = NULL;
			}
			l->p++;
		} else if ((val = token(l)) == NULL || set_value(m, f, val) != 0) {
			ret = pg_fail(l->e, "%s: bad value \"%s\" for \"%s\"",
			    l->where, val != NULL ? val : "", name);
			goto out;
		}
		free(name);
		free(val);
		name = val = NULL;
	}
 out:
	free(name);
	free(val);
	return ret;
}

/* nanopb strips, on each line, C block comments that end on the line,
 * then // and # to the end. */
static void
strip_comments(char *line)
{
	char *a, *b;

	while ((a = strstr(line, "/*")) != NULL &&
	    (b = strstr(a + 2, "*/")) != NULL)
		memmove(a, b + 2, strlen(b + 2) + 1);
	if ((a = strstr(line, "//")) != NULL)
		*a = '\0';
	if ((a = strchr(line, '#')) != NULL)
		*a = '\0';
}

static int
read_optfile(pg_optfile *of, FILE *fp, pg_err *e)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int ret = 0;

	while ((n = getline(&line, &cap, fp)) >= 0) {
		char where[512], *p = line, *end, *rest;
		struct lex l;
		struct optline *nl;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", of->path, lineno);
		strip_comments(line);
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		end = p + strlen(p);
		while (end > p && strchr(" \t\r\n", end[-1]) != NULL)
			*--end = '\0';
		if (*p == '\0')
			continue;
		rest = p + strcspn(p, " \t");
		if (*rest == '\0') {
			ret = pg_fail(e, "%s: option lines should have space "
			    "between field name and options", where);
			break;
		}
		*rest++ = '\0';
		nl = realloc(of->lines, (of->n_lines + 1) * sizeof(*nl));
		if (nl == NULL)
			abort();
		of->lines = nl;
		nl = &of->lines[of->n_lines++];
		nl->mask = pg_xstrdup(p);
		nl->opts = opts_new();
		l.p = rest;
		l.where = where;
		l.e = e;
		if ((ret = parse_opts(&l, nl->opts)) != 0)
			break;
	}
	free(line);
	return ret;
}

/* The options file of `file` (read on first use). */
static int
optfile(pg_nbopts *o, const pg_file_desc *file, pg_optfile **out, pg_err *e)
{
	pg_optfile *of;
	char *noext;
	size_t i;
	int ret = 0;

	for (of = o->files; of != NULL; of = of->next)
		if (strcmp(of->proto, file->name) == 0) {
			*out = of;
			return 0;
		}
	of = pg_xcalloc(1, sizeof(*of));
	of->proto = pg_xstrdup(file->name);
	of->next = o->files;
	o->files = of;
	*out = of;
	/* nanopb: os.path.splitext(name)[0] + ".options" */
	noext = pg_xstrdup(file->name);
	{
		char *dot = strrchr(noext, '.'), *slash = strrchr(noext, '/');

		if (dot != NULL && (slash == NULL || dot > slash) &&
		    dot != noext && (slash == NULL || dot != slash + 1))
			*dot = '\0';
	}
	for (i = 0; i < o->n_paths; i++) {
		pg_buf p = { 0 };
		FILE *fp;

		if (noext[0] == '/')
			pg_buf_printf(&p, "%s.options", noext);
		else
			pg_buf_printf(&p, "%s/%s.options", o->paths[i], noext);
		if ((fp = fopen(p.s, "r")) == NULL) {
			pg_buf_free(&p);
			continue;
		}
		of->path = pg_buf_take(&p);
		ret = read_optfile(of, fp, e);
		fclose(fp);
		break;
	}
	free(noext);
	return ret;
}

const char *
pg_nbopts_file_path(pg_nbopts *o, const pg_file_desc *file)
{
	pg_optfile *of;
	pg_err e = { { 0 } };
	const char *p;

	(void)optfile(o, file, &of, &e);
	p = of->path;
	pg_buf_free(&e.msg);
	return p;
}

/* `dst` gets the lines of `file`'s options file that match `dotname`. */
static int
merge_lines(pg_nbopts *o, const pg_file_desc *file, const char *dotname,
    NanoPBOptions *dst, pg_err *e)
{
	pg_optfile *of;
	size_t i;

	if (optfile(o, file, &of, e) != 0)
		return -1;
	for (i = 0; i < of->n_lines; i++)
		if (fnmatch(of->lines[i].mask, dotname, FNM_NOESCAPE) == 0)
			opts_merge(dst, of->lines[i].opts);
	return 0;
}

static int
file_level(pg_nbopts *o, const pg_file_desc *file, NanoPBOptions *out,
    pg_err *e)
{
	if (merge_lines(o, file, file->name, out, e) != 0)
		return -1;
	return merge_ext(out, file->options != NULL ?
	    &file->options->base : NULL, file->name, e);
}

int
pg_nbopts_message(pg_nbopts *o, const pg_file_desc *file,
    const pg_msg_desc *msg, const char *dotname, NanoPBOptions **out,
    pg_err *e)
{
	NanoPBOptions *m = opts_new();

	if (file_level(o, file, m, e) != 0 ||
	    merge_lines(o, file, dotname, m, e) != 0 ||
	    merge_ext(m, msg->options != NULL ? &msg->options->base : NULL,
	    dotname, e) != 0) {
		pg_nbopts_free(m);
		*out = NULL;
		return -1;
	}
	*out = m;
	return 0;
}

int
pg_nbopts_field(pg_nbopts *o, const pg_file_desc *file,
    const NanoPBOptions *msgopts, const pg_field_desc *fd,
    const char *dotname, NanoPBOptions **out, pg_err *e)
{
	NanoPBOptions *m = opts_new();

	opts_merge(m, msgopts);
	if (merge_lines(o, file, dotname, m, e) != 0 ||
	    merge_ext(m, fd->options != NULL ? &fd->options->base : NULL,
	    dotname, e) != 0) {
		pg_nbopts_free(m);
		*out = NULL;
		return -1;
	}
	*out = m;
	return 0;
}

int
pg_nbopts_oneof(pg_nbopts *o, const pg_file_desc *file,
    const NanoPBOptions *msgopts, const pg_msg_desc *msg,
    const char *dotname, NanoPBOptions **out, pg_err *e)
{
	NanoPBOptions *m = opts_new();

	/* nanopb passes the message's descriptor for a oneof: its
	 * (nanopb_msgopt) applies once more */
	opts_merge(m, msgopts);
	if (merge_lines(o, file, dotname, m, e) != 0 ||
	    merge_ext(m, msg->options != NULL ? &msg->options->base : NULL,
	    dotname, e) != 0) {
		pg_nbopts_free(m);
		*out = NULL;
		return -1;
	}
	*out = m;
	return 0;
}
