/*
 * apps/protoc-gen-execrpc/model.c — the request's types by full name, the
 * C names the two generators give them, and source comments.
 */
#include "pg.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void
add_type(pg_model *m, const pg_file_desc *f, const char *full,
    const pg_msg_desc *msg, const pg_enum_desc *en)
{
	pg_type *t;

	if ((m->n_types & (m->n_types - 1)) == 0) {
		size_t cap = m->n_types == 0 ? 16 : m->n_types * 2;
		pg_type *nt = realloc(m->types, cap * sizeof(*nt));

		if (nt == NULL)
			abort();
		m->types = nt;
	}
	t = &m->types[m->n_types++];
	memset(t, 0, sizeof(*t));
	t->full = pg_xstrdup(full);
	t->file = f;
	t->msg = msg;
	t->en = en;
}

static char *
join(const char *scope, const char *name)
{
	pg_buf b = { 0 };

	if (scope[0] != '\0')
		pg_buf_printf(&b, "%s.%s", scope, name);
	else
		pg_buf_printf(&b, "%s", name);
	return pg_buf_take(&b);
}

static void
add_message(pg_model *m, const pg_file_desc *f, const char *scope,
    const pg_msg_desc *msg)
{
	char *full = join(scope, msg->name);
	size_t i;

	add_type(m, f, full, msg, NULL);
	for (i = 0; i < msg->n_nested_type; i++)
		add_message(m, f, full, msg->nested_type[i]);
	for (i = 0; i < msg->n_enum_type; i++) {
		char *en = join(full, msg->enum_type[i]->name);

		add_type(m, f, en, NULL, msg->enum_type[i]);
		free(en);
	}
	free(full);
}

void
pg_model_init(pg_model *m,
    const Google__Protobuf__Compiler__CodeGeneratorRequest *req)
{
	size_t i, j;

	memset(m, 0, sizeof(*m));
	m->req = req;
	for (i = 0; i < req->n_proto_file; i++) {
		const pg_file_desc *f = req->proto_file[i];
		const char *pkg = f->package != NULL ? f->package : "";

		for (j = 0; j < f->n_message_type; j++)
			add_message(m, f, pkg, f->message_type[j]);
		for (j = 0; j < f->n_enum_type; j++) {
			char *en = join(pkg, f->enum_type[j]->name);

			add_type(m, f, en, NULL, f->enum_type[j]);
			free(en);
		}
	}
}

void
pg_model_fini(pg_model *m)
{
	size_t i;

	for (i = 0; i < m->n_types; i++) {
		free(m->types[i].full);
		free(m->types[i].rows);
	}
	free(m->types);
	memset(m, 0, sizeof(*m));
}

pg_type *
pg_model_find(pg_model *m, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	if (name[0] == '.')
		name++;
	for (i = 0; i < m->n_types; i++)
		if (strcmp(m->types[i].full, name) == 0)
			return &m->types[i];
	return NULL;
}

const pg_file_desc *
pg_model_file(const pg_model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->req->n_proto_file; i++)
		if (strcmp(m->req->proto_file[i]->name, name) == 0)
			return m->req->proto_file[i];
	return NULL;
}

char *
pg_strip_proto(const char *name)
{
	size_t n = strlen(name);
	char *s = pg_xstrdup(name);

	if (n > 11 && strcmp(name + n - 11, ".protodevel") == 0)
		s[n - 11] = '\0';
	else if (n > 6 && strcmp(name + n - 6, ".proto") == 0)
		s[n - 6] = '\0';
	return s;
}

/* protobuf-c's ToCamel: drop '_', upper-case the first letter and each
 * letter after a '_'. */
static void
to_camel(pg_buf *b, const char *s, size_t n)
{
	int next_upper = 1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '_')
			next_upper = 1;
		else if (next_upper) {
			pg_buf_printf(b, "%c", toupper((unsigned char)s[i]));
			next_upper = 0;
		} else
			pg_buf_printf(b, "%c", s[i]);
	}
}

/* protobuf-c's CamelToLower: '_' before an upper-case letter that follows
 * a lower-case one, everything lower-cased. */
static void
camel_to_lower(pg_buf *b, const char *s, size_t n)
{
	int was_upper = 1;
	size_t i;

	for (i = 0; i < n; i++) {
		int is_upper = isupper((unsigned char)s[i]) != 0;

		if (is_upper && !was_upper)
			pg_buf_printf(b, "_");
		pg_buf_printf(b, "%c", is_upper ?
		    tolower((unsigned char)s[i]) : s[i]);
		was_upper = is_upper;
	}
}

/* The pieces of a dotted name joined by `sep`, each through `fn`. */
static void
pieces(pg_buf *b, const char *full, const char *sep,
    void (*fn)(pg_buf *, const char *, size_t))
{
	const char *p = full;
	int first = 1;

	while (*p != '\0') {
		size_t n = strcspn(p, ".");

		if (n > 0) {
			if (!first)
				pg_buf_printf(b, "%s", sep);
			fn(b, p, n);
			first = 0;
		}
		p += n;
		if (*p == '.')
			p++;
	}
}

static void
verbatim(pg_buf *b, const char *s, size_t n)
{
	pg_buf_printf(b, "%.*s", (int)n, s);
}

void
pg_pbc_type(pg_buf *b, const char *full)
{
	pieces(b, full, "__", to_camel);
}

void
pg_pbc_lower(pg_buf *b, const char *full)
{
	pieces(b, full, "__", camel_to_lower);
}

void
pg_nb_name(pg_buf *b, const char *full)
{
	pieces(b, full, "_", verbatim);
}

const char *
pg_comment(const pg_file_desc *f, const int32_t *path, size_t n)
{
	const Google__Protobuf__SourceCodeInfo *sci = f->source_code_info;
	size_t i;

	if (sci == NULL)
		return NULL;
	for (i = 0; i < sci->n_location; i++) {
		const Google__Protobuf__SourceCodeInfo__Location *l =
		    sci->location[i];

		if (l->n_path == n &&
		    memcmp(l->path, path, n * sizeof(*path)) == 0)
			return l->leading_comments;
	}
	return NULL;
}

void
pg_buf_comment(pg_buf *b, const char *text, int indent)
{
	const char *p = text, *end;

	if (text == NULL)
		return;
	/* trim blank lines at both ends */
	while (*p == '\n' || *p == ' ')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (end == p)
		return;
	pg_buf_printf(b, "%.*s/*\n", indent, "\t\t\t\t");
	while (p < end) {
		size_t n = strcspn(p, "\n");
		size_t i;

		if (p + n > end)
			n = (size_t)(end - p);
		pg_buf_printf(b, "%.*s *", indent, "\t\t\t\t");
		if (n > 0 && p[0] != ' ')
			pg_buf_printf(b, " ");
		for (i = 0; i < n; i++) {
			/* never close the comment early, nor open one */
			if (p[i] == '*' && i + 1 < n && p[i + 1] == '/')
				pg_buf_printf(b, "* ");
			else if (p[i] == '/' && i + 1 < n && p[i + 1] == '*')
				pg_buf_printf(b, "/ ");
			else
				pg_buf_printf(b, "%c", p[i]);
		}
		pg_buf_printf(b, "\n");
		p += n;
		if (p < end && *p == '\n')
			p++;
	}
	pg_buf_printf(b, "%.*s */\n", indent, "\t\t\t\t");
}
