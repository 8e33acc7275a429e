/* apps/protoc-gen-execrpc/emit.c — what both sides' files share. */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

void
pg_emit_limits(pg_buf *b, const pg_service *s)
{
	size_t i;

	pg_buf_printf(b, "#define %s_SERVICE \"%s\"\n", s->prefix, s->full);
	for (i = 0; i < s->svc->n_method; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "#define %s_%s_METHOD \"%s/%s\"\n", s->prefix,
		    md->name, s->full, md->name);
	}
	pg_buf_printf(b, "/* Encoded-size bounds (bytes) of each method's "
	    "request and response: nanopb's\n * <Msg>_size from the same "
	    ".options; the server refuses more (RESOURCE_EXHAUSTED). */\n");
	for (i = 0; i < s->svc->n_method; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "#define %s_%s_REQ_MAX %lluu\n", s->prefix,
		    md->name, (unsigned long long)s->req_max[i]);
		pg_buf_printf(b, "#define %s_%s_RESP_MAX %lluu\n", s->prefix,
		    md->name, (unsigned long long)s->resp_max[i]);
	}
}

void
pg_emit_type_includes(pg_buf *b, const pg_service *svcs, size_t n,
    const char *suffix)
{
	const pg_file_desc **seen = NULL;
	size_t n_seen = 0, i, j, k;

	for (i = 0; i < n; i++) {
		const pg_service *s = &svcs[i];

		for (j = 0; j < 2 * s->svc->n_method; j++) {
			const pg_type *t = j % 2 == 0 ? s->in[j / 2] :
			    s->out[j / 2];
			char *base;

			for (k = 0; k < n_seen; k++)
				if (seen[k] == t->file)
					break;
			if (k < n_seen)
				continue;
			seen = realloc(seen, (n_seen + 1) * sizeof(*seen));
			if (seen == NULL)
				abort();
			seen[n_seen++] = t->file;
			base = pg_strip_proto(t->file->name);
			pg_buf_printf(b, "#include \"%s%s\"\n", base, suffix);
			free(base);
		}
	}
	free(seen);
}
