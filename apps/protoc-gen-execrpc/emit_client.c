/*
 * apps/protoc-gen-execrpc/emit_client.c — <name>.xrc.h / <name>.xrc.c: the
 * client side of a .proto's services on nanopb types, over
 * execrpc/client.h.
 *
 * Per service PKG.Svc (prefix pkg_Svc) and method M:
 *   pkg_Svc_M()        blocking call (xr_call_sync)
 *   pkg_Svc_M_cb       the typed completion of an async call
 *   pkg_Svc_M_start()  async call (xr_call_start_msg), decoded response,
 *                      through a typed trampoline pkg_Svc_M_deliver
 * and in the .c a compile-time check that nanopb's <Msg>_size of each
 * request and response equals the limit the server enforces.
 */
#include "pg.h"

#include <stdlib.h>

static void
nb(pg_buf *b, const pg_type *t)
{
	pg_nb_name(b, t->full);
}

static void
client_h_service(pg_buf *b, const pg_service *s)
{
	int32_t path[4] = { PATH_SERVICE, s->index, PATH_METHOD, 0 };
	size_t i;

	pg_emit_service_head(b, s);
	for (i = 0; i < s->svc->n_method; i++) {
		const pg_method_desc *md = s->svc->method[i];

		path[3] = (int32_t)i;
		pg_buf_printf(b, "\n");
		pg_buf_comment(b, pg_comment(s->file, path, 4), 0);
		pg_buf_printf(b, "/* Call %s/%s and wait (xr_call_sync()): on OK "
		    "`resp` holds the\n * decoded response. Returns the status "
		    "code (XR_STATUS_OK == 0) and fills\n * `st` if non-NULL. */\n"
		    "int %s_%s(xr_channel *ch, const ", s->full, md->name,
		    s->prefix, md->name);
		nb(b, s->in[i]);
		pg_buf_printf(b, " *req,\n    ");
		nb(b, s->out[i]);
		pg_buf_printf(b, " *resp, uint32_t timeout_ms, xr_status *st);\n");
		pg_buf_printf(b, "\n/* Completion of an async %s/%s: `st` is the "
		    "final status, `resp` the\n * decoded response on OK (else "
		    "NULL), valid during the callback. */\n"
		    "typedef void (*%s_%s_cb)(void *arg, const xr_status *st,\n"
		    "    const ", s->full, md->name, s->prefix, md->name);
		nb(b, s->out[i]);
		pg_buf_printf(b, " *resp);\n");
		pg_buf_printf(b, "\n/* Start %s/%s: `req` is encoded and copied "
		    "now; `cb` (may be NULL)\n * runs exactly once on the "
		    "channel's base, possibly inside this call (then\n * NULL "
		    "is returned). Returns a handle for xr_call_cancel() until "
		    "`cb` runs. */\nxr_client_call *%s_%s_start(xr_channel *ch, "
		    "const ", s->full, md->name, s->prefix, md->name);
		nb(b, s->in[i]);
		pg_buf_printf(b, " *req,\n    uint32_t timeout_ms, %s_%s_cb cb, "
		    "void *arg);\n", s->prefix, md->name);
	}
}

void
pg_emit_client_h(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n)
{
	size_t i;

	(void)m;
	pg_emit_preamble(b, base, ".xrc.h", "Client side on nanopb types: blocking "
	    "and async typed stubs over\n * execrpc/client.h "
	    "(docs/protoc-gen-execrpc.md).");
	pg_buf_printf(b, "#ifndef XR_GEN_");
	pg_buf_guard(b, base);
	pg_buf_printf(b, "_XRC_H\n#define XR_GEN_");
	pg_buf_guard(b, base);
	pg_buf_printf(b, "_XRC_H\n\n#include <stdint.h>\n\n"
	    "#include \"execrpc/client.h\"\n");
	pg_emit_type_includes(b, svcs, n, ".pb.h");
	for (i = 0; i < n; i++)
		client_h_service(b, &svcs[i]);
	pg_buf_printf(b, "\n#endif\n");
}

static void
client_c_service(pg_buf *b, const pg_service *s)
{
	size_t i;

	for (i = 0; i < s->svc->n_method; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "\nint\n%s_%s(xr_channel *ch, const ",
		    s->prefix, md->name);
		nb(b, s->in[i]);
		pg_buf_printf(b, " *req,\n    ");
		nb(b, s->out[i]);
		pg_buf_printf(b, " *resp, uint32_t timeout_ms, xr_status *st)\n"
		    "{\n\treturn xr_call_sync(ch, %s_%s_METHOD, ", s->prefix,
		    md->name);
		nb(b, s->in[i]);
		pg_buf_printf(b, "_fields, req,\n\t    ");
		nb(b, s->out[i]);
		pg_buf_printf(b, "_fields, resp, timeout_ms, st);\n}\n");

		pg_buf_printf(b, "\nstatic void\n%s_%s_deliver(void (*fn)(void), "
		    "void *arg, const xr_status *st,\n    const void *resp)\n{\n"
		    "\t%s_%s_cb cb = (%s_%s_cb)fn;\n\n\tif (cb != NULL)\n"
		    "\t\tcb(arg, st, (const ", s->prefix, md->name, s->prefix,
		    md->name, s->prefix, md->name);
		nb(b, s->out[i]);
		pg_buf_printf(b, " *)resp);\n}\n");

		pg_buf_printf(b, "\nxr_client_call *\n%s_%s_start(xr_channel *ch, "
		    "const ", s->prefix, md->name);
		nb(b, s->in[i]);
		pg_buf_printf(b, " *req,\n    uint32_t timeout_ms, %s_%s_cb cb, "
		    "void *arg)\n{\n\treturn xr_call_start_msg(ch, %s_%s_METHOD,"
		    "\n\t    ", s->prefix, md->name, s->prefix, md->name);
		nb(b, s->in[i]);
		pg_buf_printf(b, "_fields, req,\n\t    ");
		nb(b, s->out[i]);
		pg_buf_printf(b, "_fields, sizeof(");
		nb(b, s->out[i]);
		pg_buf_printf(b, "),\n\t    timeout_ms, %s_%s_deliver, "
		    "(void (*)(void))cb, arg);\n}\n", s->prefix, md->name);
	}
}

static void
size_check(pg_buf *b, const pg_service *s, size_t i, int resp)
{
	const pg_method_desc *md = s->svc->method[i];
	const pg_type *t = resp ? s->out[i] : s->in[i];

	pg_buf_printf(b, "_Static_assert(");
	nb(b, t);
	pg_buf_printf(b, "_size == %s_%s_%s_MAX,\n    \"%s/%s: nanopb's ",
	    s->prefix, md->name, resp ? "RESP" : "REQ", s->full, md->name);
	nb(b, t);
	pg_buf_printf(b, "_size is not the server's limit: generate both with "
	    "the same .options\");\n");
}

void
pg_emit_client_c(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n)
{
	size_t i, j;

	(void)m;
	pg_emit_preamble(b, base, ".xrc.c", "Client side: the stubs, and the check that "
	    "nanopb's bounds are the\n * server's limits.");
	pg_buf_printf(b, "#include \"%s.xrc.h\"\n\n", base);
	for (i = 0; i < n; i++)
		for (j = 0; j < svcs[i].svc->n_method; j++) {
			size_check(b, &svcs[i], j, 0);
			size_check(b, &svcs[i], j, 1);
		}
	for (i = 0; i < n; i++)
		client_c_service(b, &svcs[i]);
}
