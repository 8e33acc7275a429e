/*
 * apps/execrpc/pbjson_set.c — the descriptor set: decoded with protobuf-c,
 * its messages, enums and services indexed by full name, fields resolved.
 * JSON -> wire bytes is in pbjson.c, wire bytes -> JSON in pbjson_dec.c.
 */
#include "pbjson_priv.h"

#include <stdlib.h>
#include <string.h>

#define FT(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define REPEATED GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED

/* ---------- the index ---------- */

static char *
join(const char *prefix, const char *name)
{
	size_t a = prefix != NULL ? strlen(prefix) : 0, b = strlen(name);
	char *s = malloc(a + b + 2);

	if (s == NULL)
		return NULL;
	if (a > 0) {
		memcpy(s, prefix, a);
		s[a++] = '.';
	}
	memcpy(s + a, name, b + 1);
	return s;
}

static int
grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	void *p;
	size_t nc;

	if (n < *cap)
		return XR_OK;
	nc = *cap == 0 ? 16 : *cap * 2;
	if ((p = realloc(*arr, nc * elem)) == NULL)
		return XR_ERR_NOMEM;
	memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
	*arr = p;
	*cap = nc;
	return XR_OK;
}

static int
add_enum(xr_pbjson *p, const char *prefix,
    const Google__Protobuf__EnumDescriptorProto *e, xr_diag *d)
{
	if (e->name == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "descriptor set: an "
		    "enum without a name");
	if (grow((void **)&p->e, &p->cape, p->ne, sizeof(*p->e)) != XR_OK ||
	    (p->e[p->ne].full = join(prefix, e->name)) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	p->e[p->ne++].ep = e;
	return XR_OK;
}

static int
add_msg(xr_pbjson *p, const char *prefix,
    const Google__Protobuf__DescriptorProto *m, bool proto3, int depth,
    xr_diag *d)
{
	struct xr_pbjson_type *t;
	int r;

	if (m->name == NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "descriptor set: a "
		    "message without a name");
	if (depth > XR_PBJSON_MAX_DEPTH)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "descriptor set: "
		    "messages nested deeper than %d", XR_PBJSON_MAX_DEPTH);
	if (grow((void **)&p->t, &p->capt, p->nt, sizeof(*p->t)) != XR_OK)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	t = &p->t[p->nt];
	if ((t->full = join(prefix, m->name)) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	t->dp = m;
	t->proto3 = proto3;
	t->map_entry = m->options != NULL && m->options->has_map_entry &&
	    m->options->map_entry;
	p->nt++;
	/* t may move with the array: use the name through its index */
	{
		size_t self = p->nt - 1;

		for (size_t i = 0; i < m->n_nested_type; i++)
			if ((r = add_msg(p, p->t[self].full, m->nested_type[i],
			    proto3, depth + 1, d)) != XR_OK)
				return r;
		for (size_t i = 0; i < m->n_enum_type; i++)
			if ((r = add_enum(p, p->t[self].full, m->enum_type[i],
			    d)) != XR_OK)
				return r;
	}
	return XR_OK;
}

const xr_pbjson_type *
xr_pbjson_find(const xr_pbjson *p, const char *name)
{
	for (size_t i = 0; i < p->nt; i++)
		if (strcmp(p->t[i].full, name) == 0)
			return &p->t[i];
	return NULL;
}

static const struct xr__pbj_enum *
find_enum(const xr_pbjson *p, const char *name)
{
	for (size_t i = 0; i < p->ne; i++)
		if (strcmp(p->e[i].full, name) == 0)
			return &p->e[i];
	return NULL;
}

/* lowerCamelCase of a proto field name, as protoc's default json_name */
static char *
camel(const char *name)
{
	char *s = malloc(strlen(name) + 1), *o = s;
	bool up = false;

	if (s == NULL)
		return NULL;
	for (; *name != '\0'; name++) {
		if (*name == '_') {
			up = true;
			continue;
		}
		*o++ = up && *name >= 'a' && *name <= 'z' ?
		    (char)(*name - 'a' + 'A') : *name;
		up = false;
	}
	*o = '\0';
	return s;
}

static int
fld_cmp(const void *a, const void *b)
{
	const struct xr__pbj_field *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

static bool
packable(int type)
{
	return type != FT(STRING) && type != FT(BYTES) &&
	    type != FT(MESSAGE) && type != FT(GROUP);
}

/* Resolve the fields of type `t` against the index. */
static int
resolve(xr_pbjson *p, struct xr_pbjson_type *t, xr_diag *d)
{
	const Google__Protobuf__DescriptorProto *m = t->dp;

	if ((t->f = calloc(m->n_field + 1, sizeof(*t->f))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	t->nf = m->n_field;
	for (size_t i = 0; i < m->n_field; i++) {
		const Google__Protobuf__FieldDescriptorProto *fd = m->field[i];
		struct xr__pbj_field *f = &t->f[i];
		const char *tn = fd->type_name;

		if (fd->name == NULL || !fd->has_number || fd->number < 1 ||
		    fd->number > 536870911 || !fd->has_type)
			return xr_diag_set(d, XR_ERR_INVALID_ARG, "descriptor "
			    "set: a field of %s without a name, number or type",
			    t->full);
		f->name = fd->name;
		f->json = fd->json_name != NULL && fd->json_name[0] != '\0' ?
		    strdup(fd->json_name) : camel(fd->name);
		if (f->json == NULL)
			return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
		f->number = (uint32_t)fd->number;
		f->type = (int)fd->type;
		f->repeated = fd->has_label && fd->label == REPEATED;
		f->oneof = -1;
		if (fd->has_oneof_index) {
			if (fd->oneof_index < 0 ||
			    (size_t)fd->oneof_index >= m->n_oneof_decl)
				return xr_diag_set(d, XR_ERR_INVALID_ARG,
				    "descriptor set: field %s of %s: bad "
				    "oneof index", f->name, t->full);
			f->oneof = fd->oneof_index;
		}
		f->presence = !f->repeated && (f->type == FT(MESSAGE) ||
		    f->oneof >= 0 || !t->proto3);
		f->packed = f->repeated && packable(f->type) && (t->proto3 ?
		    !(fd->options != NULL && fd->options->has_packed &&
		    !fd->options->packed) : (fd->options != NULL &&
		    fd->options->has_packed && fd->options->packed));
		if (f->type != FT(MESSAGE) && f->type != FT(ENUM) &&
		    f->type != FT(GROUP))
			continue;
		if (tn == NULL || tn[0] != '.')
			return xr_diag_set(d, XR_ERR_INVALID_ARG, "descriptor "
			    "set: field %s of %s: type name not fully "
			    "qualified", f->name, t->full);
		if (f->type == FT(ENUM))
			f->en = find_enum(p, tn + 1);
		else
			f->msg = xr_pbjson_find(p, tn + 1);
		if (f->en == NULL && f->msg == NULL)
			return xr_diag_set(d, XR_ERR_INVALID_ARG, "descriptor "
			    "set: field %s of %s refers to %s, which is not in "
			    "the set (protoc --include_imports)", f->name,
			    t->full, tn + 1);
	}
	qsort(t->f, t->nf, sizeof(*t->f), fld_cmp);
	for (size_t i = 1; i < t->nf; i++)
		if (t->f[i].number == t->f[i - 1].number)
			return xr_diag_set(d, XR_ERR_INVALID_ARG, "descriptor "
			    "set: %s has two fields numbered %u", t->full,
			    t->f[i].number);
	return XR_OK;
}

xr_pbjson *
xr_pbjson_new(const uint8_t *buf, size_t len, xr_diag *d)
{
	xr_pbjson *p = calloc(1, sizeof(*p));
	int r = XR_OK;

	if (p == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
		return NULL;
	}
	p->set = google__protobuf__file_descriptor_set__unpack(NULL, len, buf);
	if (p->set == NULL) {
		xr_diag_set(d, XR_ERR_INVALID_ARG, "not a descriptor set (make "
		    "one with protoc --descriptor_set_out=FILE "
		    "--include_imports)");
		goto fail;
	}
	for (size_t i = 0; i < p->set->n_file && r == XR_OK; i++) {
		const Google__Protobuf__FileDescriptorProto *f =
		    p->set->file[i];
		bool proto3 = f->syntax != NULL &&
		    strcmp(f->syntax, "proto3") == 0;

		for (size_t j = 0; j < f->n_message_type && r == XR_OK; j++)
			r = add_msg(p, f->package, f->message_type[j], proto3,
			    1, d);
		for (size_t j = 0; j < f->n_enum_type && r == XR_OK; j++)
			r = add_enum(p, f->package, f->enum_type[j], d);
		for (size_t j = 0; j < f->n_service && r == XR_OK; j++) {
			if (f->service[j]->name == NULL) {
				r = xr_diag_set(d, XR_ERR_INVALID_ARG,
				    "descriptor set: a service without a name");
				break;
			}
			if (grow((void **)&p->s, &p->caps, p->ns,
			    sizeof(*p->s)) != XR_OK || (p->s[p->ns].full =
			    join(f->package, f->service[j]->name)) == NULL) {
				r = xr_diag_set(d, XR_ERR_NOMEM, "out of "
				    "memory");
				break;
			}
			p->s[p->ns++].sp = f->service[j];
		}
	}
	for (size_t i = 0; i < p->nt && r == XR_OK; i++)
		r = resolve(p, &p->t[i], d);
	if (r == XR_OK)
		return p;
 fail:
	xr_pbjson_free(p);
	return NULL;
}

void
xr_pbjson_free(xr_pbjson *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nt; i++) {
		for (size_t j = 0; p->t[i].f != NULL && j < p->t[i].nf; j++)
			free(p->t[i].f[j].json);
		free(p->t[i].f);
		free(p->t[i].full);
	}
	for (size_t i = 0; i < p->ne; i++)
		free(p->e[i].full);
	for (size_t i = 0; i < p->ns; i++)
		free(p->s[i].full);
	free(p->t);
	free(p->e);
	free(p->s);
	if (p->set != NULL)
		google__protobuf__file_descriptor_set__free_unpacked(p->set,
		    NULL);
	free(p);
}

const char *
xr_pbjson_type_name(const xr_pbjson_type *t)
{
	return t->full;
}

int
xr_pbjson_method(const xr_pbjson *p, const char *method,
    const xr_pbjson_type **in, const xr_pbjson_type **out, xr_diag *d)
{
	const char *slash = strrchr(method, '/');
	size_t sl;

	if (slash == NULL || slash == method || slash[1] == '\0')
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "method \"%s\" is not "
		    "of the form package.Service/Method", method);
	sl = (size_t)(slash - method);
	for (size_t i = 0; i < p->ns; i++) {
		const Google__Protobuf__ServiceDescriptorProto *sp = p->s[i].sp;

		if (strlen(p->s[i].full) != sl ||
		    memcmp(p->s[i].full, method, sl) != 0)
			continue;
		for (size_t j = 0; j < sp->n_method; j++) {
			const Google__Protobuf__MethodDescriptorProto *m =
			    sp->method[j];

			if (m->name == NULL || strcmp(m->name, slash + 1) != 0)
				continue;
			if ((m->has_client_streaming && m->client_streaming) ||
			    (m->has_server_streaming && m->server_streaming))
				return xr_diag_set(d, XR_ERR_INVALID_ARG,
				    "method \"%s\" is streaming; calls are "
				    "unary", method);
			if (m->input_type == NULL || m->output_type == NULL ||
			    m->input_type[0] != '.' ||
			    m->output_type[0] != '.' ||
			    (*in = xr_pbjson_find(p, m->input_type + 1)) ==
			    NULL ||
			    (*out = xr_pbjson_find(p, m->output_type + 1)) ==
			    NULL)
				return xr_diag_set(d, XR_ERR_INVALID_ARG,
				    "method \"%s\": its message types are not "
				    "in the descriptor set (protoc "
				    "--include_imports)", method);
			return XR_OK;
		}
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "service %s in the "
		    "descriptor set has no method \"%s\"", p->s[i].full,
		    slash + 1);
	}
	return xr_diag_set(d, XR_ERR_INVALID_ARG, "service \"%.*s\" is not in "
	    "the descriptor set", (int)sl, method);
}

/* ---------- shared helpers ---------- */

int
xr__pbj_unsupported(const struct xr__pbj_field *f, const char *owner,
    xr_diag *d)
{
	if (f->type == FT(GROUP))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "field %s of %s is a "
		    "group: not supported", f->name, owner);
	if (f->msg != NULL && f->msg->map_entry)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "field %s of %s is a "
		    "map: not supported", f->name, owner);
	if (f->msg != NULL && strncmp(f->msg->full, "google.protobuf.", 16) ==
	    0 && strcmp(f->msg->full, "google.protobuf.Empty") != 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "field %s of %s is a "
		    "%s, whose special JSON form is not supported", f->name,
		    owner, f->msg->full);
	return XR_OK;
}

const char *
xr__pbj_enum_name(const struct xr__pbj_enum *e, int32_t v)
{
	for (size_t i = 0; i < e->ep->n_value; i++)
		if (e->ep->value[i]->has_number &&
		    e->ep->value[i]->number == v && e->ep->value[i]->name != NULL)
			return e->ep->value[i]->name;
	return NULL;
}
