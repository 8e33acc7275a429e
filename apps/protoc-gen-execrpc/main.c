/*
 * apps/protoc-gen-execrpc/main.c — protoc-gen-execrpc, the protoc plugin
 * that generates execrpc's typed service code.
 *
 *   protoc --plugin=protoc-gen-execrpc=PATH -I. -IDIR_OF_NANOPB_PROTO \
 *       --execrpc_out=OUTDIR [--execrpc_opt=PARAM,...] x.proto ...
 *
 * Parameters (comma-separated, in --execrpc_opt or before the ':' of
 * --execrpc_out):
 *   side=server|client|both   which files to write (default both):
 *                             server <name>.xr.h/.xr.c on protobuf-c types,
 *                             client <name>.xrc.h/.xrc.c on nanopb types
 *   options_path=DIR, -IDIR   where nanopb .options files are looked for
 *                             (as nanopb's -I); "." is always searched
 *
 * A .proto without services gives no files. Every message a method reaches
 * must have nanopb bounds (max_size / max_length / max_count): otherwise
 * the run fails, naming the field and the option to add, and protoc exits
 * non-zero with that message. docs/protoc-gen-execrpc.md has the details.
 */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The largest request read: protoc's requests are the descriptors of the
 * files and their imports, far below this. */
#define REQUEST_MAX (64u * 1024 * 1024)

enum { SIDE_SERVER = 1, SIDE_CLIENT = 2 };

static const char *const c_keywords[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do",
	"double", "else", "enum", "extern", "float", "for", "goto", "if",
	"inline", "int", "long", "register", "restrict", "return", "short",
	"signed", "sizeof", "static", "struct", "switch", "typedef", "union",
	"unsigned", "void", "volatile", "while", "_Bool", "_Complex",
	"_Imaginary", "_Alignas", "_Alignof", "_Atomic", "_Generic",
	"_Noreturn", "_Static_assert", "_Thread_local", "bool", "true",
	"false",
};

static void
usage(FILE *f)
{
	fputs("usage: protoc --plugin=protoc-gen-execrpc=PATH "
	    "--execrpc_out=OUTDIR\n"
	    "           [--execrpc_opt=side=server|client|both] "
	    "[--execrpc_opt=options_path=DIR] x.proto\n"
	    "protoc-gen-execrpc is a protoc plugin: protoc runs it. It writes "
	    "NAME.xr.h/.xr.c\n(server: typed handlers on protobuf-c) and "
	    "NAME.xrc.h/.xrc.c (client: typed\nstubs on nanopb) for the "
	    "services of each .proto; nanopb .options give the\nsize bounds "
	    "(see docs/protoc-gen-execrpc.md).\n", f);
}

static int
read_all(FILE *f, uint8_t **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	uint8_t *b = malloc(cap);

	if (b == NULL)
		return -1;
	for (;;) {
		size_t r;

		if (n == cap) {
			uint8_t *nb;

			if (cap >= REQUEST_MAX || (nb = realloc(b, cap * 2)) ==
			    NULL) {
				free(b);
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				free(b);
				return -1;
			}
			break;
		}
	}
	*out = b;
	*len = n;
	return 0;
}

/* The comma-separated parameter string. */
static int
parse_params(const char *param, int *side, pg_nbopts *o, pg_err *e)
{
	char *copy, *p, *tok;
	int ret = 0;

	*side = SIDE_SERVER | SIDE_CLIENT;
	if (param == NULL || param[0] == '\0')
		return 0;
	copy = pg_xstrdup(param);
	for (p = copy; (tok = strsep(&p, ",")) != NULL;) {
		if (tok[0] == '\0')
			continue;
		if (strcmp(tok, "side=server") == 0)
			*side = SIDE_SERVER;
		else if (strcmp(tok, "side=client") == 0)
			*side = SIDE_CLIENT;
		else if (strcmp(tok, "side=both") == 0)
			*side = SIDE_SERVER | SIDE_CLIENT;
		else if (strncmp(tok, "options_path=", 13) == 0 && tok[13] != '\0')
			pg_nbopts_add_path(o, tok + 13);
		else if (strncmp(tok, "-I", 2) == 0 && tok[2] != '\0')
			pg_nbopts_add_path(o, tok + 2);
		else {
			ret = pg_fail(e, "unknown parameter \"%s\" (known: "
			    "side=server|client|both, options_path=DIR, -IDIR)",
			    tok);
			break;
		}
	}
	free(copy);
	return ret;
}

static int
is_keyword(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(c_keywords) / sizeof(c_keywords[0]); i++)
		if (strcmp(s, c_keywords[i]) == 0)
			return 1;
	return 0;
}

static void
service_fini(pg_service *s)
{
	free(s->full);
	free(s->prefix);
	free(s->in);
	free(s->out);
	free(s->req_max);
	free(s->resp_max);
}

/* One method's types and bounds. */
static int
method_init(pg_model *m, pg_nbopts *o, pg_service *s, size_t i, pg_err *e)
{
	const pg_method_desc *md = s->svc->method[i];
	pg_buf ctx = { 0 };
	int ret = -1;

	if (is_keyword(md->name)) {
		pg_fail(e, "%s: method %s/%s: the name is a C keyword, which "
		    "cannot name a handler", s->file->name, s->full, md->name);
		goto out;
	}
	if ((md->has_client_streaming && md->client_streaming) ||
	    (md->has_server_streaming && md->server_streaming)) {
		pg_fail(e, "%s: method %s/%s streams: execrpc has unary calls "
		    "only", s->file->name, s->full, md->name);
		goto out;
	}
	s->in[i] = pg_model_find(m, md->input_type);
	s->out[i] = pg_model_find(m, md->output_type);
	if (s->in[i] == NULL || s->in[i]->msg == NULL ||
	    s->out[i] == NULL || s->out[i]->msg == NULL) {
		pg_fail(e, "%s: method %s/%s: a message type is not in the "
		    "request", s->file->name, s->full, md->name);
		goto out;
	}
	pg_buf_printf(&ctx, "%s: method %s/%s (request %s)", s->file->name,
	    s->full, md->name, s->in[i]->full);
	if (pg_bound(m, o, s->in[i], ctx.s, &s->req_max[i], e) != 0)
		goto out;
	pg_buf_free(&ctx);
	pg_buf_printf(&ctx, "%s: method %s/%s (response %s)", s->file->name,
	    s->full, md->name, s->out[i]->full);
	if (pg_bound(m, o, s->out[i], ctx.s, &s->resp_max[i], e) != 0)
		goto out;
	if (s->req_max[i] > UINT32_MAX || s->resp_max[i] > UINT32_MAX) {
		pg_fail(e, "%s: method %s/%s: a message bound is over 4 GiB",
		    s->file->name, s->full, md->name);
		goto out;
	}
	ret = 0;
 out:
	pg_buf_free(&ctx);
	return ret;
}

static int
service_init(pg_model *m, pg_nbopts *o, const pg_file_desc *f, int index,
    pg_service *s, pg_err *e)
{
	const char *pkg = f->package != NULL ? f->package : "";
	pg_buf b = { 0 };
	size_t i, n;

	memset(s, 0, sizeof(*s));
	s->file = f;
	s->svc = f->service[index];
	s->index = index;
	n = s->svc->n_method;
	pg_buf_printf(&b, "%s%s%s", pkg, pkg[0] != '\0' ? "." : "",
	    s->svc->name);
	s->full = pg_buf_take(&b);
	pg_nb_name(&b, s->full);
	s->prefix = pg_buf_take(&b);
	s->in = pg_xcalloc(n, sizeof(*s->in));
	s->out = pg_xcalloc(n, sizeof(*s->out));
	s->req_max = pg_xcalloc(n, sizeof(*s->req_max));
	s->resp_max = pg_xcalloc(n, sizeof(*s->resp_max));
	for (i = 0; i < n; i++)
		if (method_init(m, o, s, i, e) != 0)
			return -1;
	return 0;
}

static void
add_file(Google__Protobuf__Compiler__CodeGeneratorResponse *resp,
    const char *base, const char *ext, pg_buf *text)
{
	Google__Protobuf__Compiler__CodeGeneratorResponse__File *f;
	void *nf = realloc(resp->file, (resp->n_file + 1) * sizeof(*resp->file));
	pg_buf name = { 0 };

	if (nf == NULL)
		abort();
	resp->file = nf;
	f = pg_xcalloc(1, sizeof(*f));
	google__protobuf__compiler__code_generator_response__file__init(f);
	pg_buf_printf(&name, "%s%s", base, ext);
	f->name = pg_buf_take(&name);
	f->content = pg_buf_take(text);
	resp->file[resp->n_file++] = f;
}

/* The files of one .proto to generate. */
static int
generate(pg_model *m, pg_nbopts *o, const pg_file_desc *f, int side,
    Google__Protobuf__Compiler__CodeGeneratorResponse *resp, pg_err *e)
{
	pg_service *svcs = pg_xcalloc(f->n_service, sizeof(*svcs));
	char *base = pg_strip_proto(f->name);
	size_t i, n = 0;
	pg_buf b = { 0 };
	int ret = -1;

	for (i = 0; i < f->n_service; i++) {
		if (f->service[i]->n_method == 0)
			continue;	/* nothing to call */
		if (service_init(m, o, f, (int)i, &svcs[n++], e) != 0)
			goto out;
	}
	if (n > 0 && (side & SIDE_SERVER)) {
		pg_emit_server_h(&b, m, base, svcs, n);
		add_file(resp, base, ".xr.h", &b);
		pg_emit_server_c(&b, m, base, svcs, n);
		add_file(resp, base, ".xr.c", &b);
	}
	if (n > 0 && (side & SIDE_CLIENT)) {
		pg_emit_client_h(&b, m, base, svcs, n);
		add_file(resp, base, ".xrc.h", &b);
		pg_emit_client_c(&b, m, base, svcs, n);
		add_file(resp, base, ".xrc.c", &b);
	}
	ret = 0;
 out:
	for (i = 0; i < n; i++)
		service_fini(&svcs[i]);
	free(svcs);
	free(base);
	return ret;
}

static int
run(const Google__Protobuf__Compiler__CodeGeneratorRequest *req,
    Google__Protobuf__Compiler__CodeGeneratorResponse *resp, pg_err *e)
{
	pg_nbopts o = { 0 };
	pg_model m;
	size_t i;
	int side, ret = -1;

	/* nanopb's search order: ".", the -I directories, then the directory
	 * of the first file to generate */
	pg_nbopts_add_path(&o, ".");
	pg_model_init(&m, req);
	if (parse_params(req->parameter, &side, &o, e) != 0)
		goto out;
	if (req->n_file_to_generate > 0) {
		char *dir = pg_xstrdup(req->file_to_generate[0]);
		char *slash = strrchr(dir, '/');

		if (slash != NULL) {
			*slash = '\0';
			pg_nbopts_add_path(&o, dir);
		}
		free(dir);
	}
	for (i = 0; i < req->n_file_to_generate; i++) {
		const pg_file_desc *f = pg_model_file(&m,
		    req->file_to_generate[i]);

		if (f == NULL) {
			pg_fail(e, "%s: not in the request",
			    req->file_to_generate[i]);
			goto out;
		}
		if (generate(&m, &o, f, side, resp, e) != 0)
			goto out;
	}
	ret = 0;
 out:
	pg_model_fini(&m);
	pg_nbopts_fini(&o);
	return ret;
}

int
main(int argc, char **argv)
{
	Google__Protobuf__Compiler__CodeGeneratorRequest *req;
	Google__Protobuf__Compiler__CodeGeneratorResponse resp =
	    GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
	pg_err e = { { 0 } };
	uint8_t *in, *out;
	size_t len, i;
	int status = 0;

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0;

		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	if (isatty(STDIN_FILENO)) {
		usage(stderr);
		return 2;
	}
	if (read_all(stdin, &in, &len) != 0) {
		fputs("protoc-gen-execrpc: cannot read the request from "
		    "stdin\n", stderr);
		return 1;
	}
	req = google__protobuf__compiler__code_generator_request__unpack(NULL,
	    len, in);
	free(in);
	if (req == NULL) {
		fputs("protoc-gen-execrpc: stdin is not a CodeGeneratorRequest: "
		    "run me through protoc (--help)\n", stderr);
		return 1;
	}
	resp.has_supported_features = 1;
	resp.supported_features =
	    GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;
	if (run(req, &resp, &e) != 0) {
		/* protoc prints it and fails; no files with an error */
		resp.error = e.msg.s;
		for (i = 0; i < resp.n_file; i++) {
			free(resp.file[i]->name);
			free(resp.file[i]->content);
			free(resp.file[i]);
		}
		resp.n_file = 0;
	}
	len = google__protobuf__compiler__code_generator_response__get_packed_size(
	    &resp);
	out = pg_xcalloc(1, len);
	google__protobuf__compiler__code_generator_response__pack(&resp, out);
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
		fputs("protoc-gen-execrpc: cannot write the response\n", stderr);
		status = 1;
	}
	free(out);
	for (i = 0; i < resp.n_file; i++) {
		free(resp.file[i]->name);
		free(resp.file[i]->content);
		free(resp.file[i]);
	}
	free(resp.file);
	pg_buf_free(&e.msg);
	google__protobuf__compiler__code_generator_request__free_unpacked(req,
	    NULL);
	return status;
}
