/*
 * apps/protoc-gen-execrpc/emit_server.c — <name>.xr.h / <name>.xr.c: the
 * server side of a .proto's services on protobuf-c types.
 *
 * Per service PKG.Svc (prefix pkg_Svc) and method M:
 *   pkg_Svc_M_fn          the typed handler type
 *   pkg_Svc_handlers      a struct with one handler per method, named M
 *   pkg_Svc_M_reply()     xr_call_reply() with M's response type
 *   pkg_Svc_register()    binds each handler by its method's full name,
 *                         with the method's size limits; refuses a NULL
 *                         handler naming the method
 * The registration fills xr_method_def rows (server/registry.h): `fn` a
 * per-method trampoline that casts the request to its type and calls the
 * typed handler, which the registry carries as `typed`; `req_bounds` /
 * `resp_bounds` the per-field bounds of the messages (server/bounds.h),
 * static tables xrb_<nanopb name> written once per file, submessages
 * first.
 */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

static void
type_pbc(pg_buf *b, const pg_type *t)
{
	pg_pbc_type(b, t->full);
}

static void
server_h_service(pg_buf *b, const pg_service *s)
{
	int32_t path[4] = { PATH_SERVICE, s->index, PATH_METHOD, 0 };
	size_t i;

	pg_emit_service_head(b, s);
	for (i = 0; i < s->svc->n_method; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "\n/* A handler of %s/%s: `req` belongs to the "
		    "call (valid until the\n * handler finishes it with "
		    "%s_%s_reply() or xr_call_fail()); `arg`\n * is the one "
		    "given to %s_register(). */\n", s->full, md->name,
		    s->prefix, md->name, s->prefix);
		pg_buf_printf(b, "typedef void (*%s_%s_fn)(xr_call *call, "
		    "const ", s->prefix, md->name);
		type_pbc(b, s->in[i]);
		pg_buf_printf(b, " *req,\n    void *arg);\n");
	}
	pg_buf_printf(b, "\n/* The handlers of %s, one per method, named after "
	    "the methods: each is\n * bound to its method by name. Every one "
	    "must be set. */\ntypedef struct %s_handlers {\n", s->full,
	    s->prefix);
	for (i = 0; i < s->svc->n_method; i++) {
		const pg_method_desc *md = s->svc->method[i];

		path[3] = (int32_t)i;
		pg_buf_printf(b, "%s\t/* %s/%s */\n", i > 0 ? "\n" : "",
		    s->full, md->name);
		pg_buf_comment(b, pg_comment(s->file, path, 4), 1);
		pg_buf_printf(b, "\tvoid (*%s)(xr_call *call, const ",
		    md->name);
		type_pbc(b, s->in[i]);
		pg_buf_printf(b, " *req,\n\t    void *arg);\n");
	}
	pg_buf_printf(b, "} %s_handlers;\n", s->prefix);
	for (i = 0; i < s->svc->n_method; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "\n/* Finish a call of %s/%s with OK and `resp` "
		    "(serialized here;\n * the caller keeps `resp`): "
		    "xr_call_reply() with the method's response type. */\n"
		    "static inline int\n%s_%s_reply(xr_call *call, const ",
		    s->full, md->name, s->prefix, md->name);
		type_pbc(b, s->out[i]);
		pg_buf_printf(b, " *resp)\n{\n\treturn xr_call_reply(call, "
		    "resp != NULL ? &resp->base : NULL);\n}\n");
	}
	pg_buf_printf(b, "\n/*\n * Register %s on `reg`: each handler of `h` "
	    "serves the method it is\n * named after, with `arg` and the "
	    "method's limits above. `h` is read\n * during the call only. "
	    "Returns XR_OK; XR_ERR_INVALID_ARG when a handler is\n * NULL "
	    "(`d`, may be NULL, names the method) or a method is registered "
	    "already;\n * XR_ERR_NOMEM. Nothing is registered on error.\n */\n"
	    "int %s_register(xr_registry *reg, const %s_handlers *h,\n"
	    "    void *arg, xr_diag *d);\n", s->full, s->prefix, s->prefix);
	pg_buf_printf(b, "\n/*\n * %s as a service module (server/module.h), "
	    "hosted by name in a\n * worker or the inline endpoint:\n"
	    " *\tstatic const %s_handlers h = { ... };\n"
	    " *\t%s_MODULE_ADD(my_add, &h, my_arg(ctx))\n"
	    " *\tstatic const xr_service_module mods[] = {\n"
	    " *\t\t%s_MODULE(my_add),\n *\t};\n"
	    " * %s_MODULE_ADD(FN, H, ARG) defines the module's add(),\n"
	    " * `static int FN(xr_registry *, const xr_worker_ctx *ctx, "
	    "xr_diag *d)`: it\n * registers the handlers *(H) with the arg "
	    "ARG, both evaluated in FN, once\n * per registry, with `ctx` and "
	    "`d` in scope (so ARG may be made per\n * registration from "
	    "ctx->app, ctx->base ...); a refusal's reason is in `d`.\n"
	    " * %s_MODULE_ADD_STATE(FN, H, STATE, STATE_FREE) is the same "
	    "for an\n * ARG that the registration owns: STATE (a pointer, "
	    "evaluated once) is\n * handed to the registry, which calls "
	    "STATE_FREE(STATE) (a `void (*)(void *)`)\n * once when it is "
	    "freed, also if the registration fails; a NULL STATE\n * fails "
	    "the add() with XR_ERR_NOMEM, or with what STATE's expression "
	    "set in\n * `d`. %s_MODULE(FN) is the module's initializer; for "
	    "an apps section,\n * write the initializer with .app and "
	    ".check_app.\n */\n",
	    s->full, s->prefix, s->prefix, s->prefix, s->prefix, s->prefix,
	    s->prefix);
	pg_buf_printf(b, "#define %s_MODULE_ADD(fn, h, arg) \\\n"
	    "\tstatic int \\\n"
	    "\tfn(xr_registry *xr_reg_, const xr_worker_ctx *ctx, "
	    "xr_diag *d) \\\n"
	    "\t{ \\\n"
	    "\t\t(void)ctx; \\\n"
	    "\t\treturn %s_register(xr_reg_, (h), (arg), d); \\\n"
	    "\t}\n", s->prefix, s->prefix);
	pg_buf_printf(b, "#define %s_MODULE_ADD_STATE(fn, h, state, "
	    "state_free) \\\n"
	    "\tstatic int \\\n"
	    "\tfn(xr_registry *xr_reg_, const xr_worker_ctx *ctx, "
	    "xr_diag *d) \\\n"
	    "\t{ \\\n"
	    "\t\tvoid *xr_state_; \\\n"
	    "\t\tint xr_r_; \\\n"
	    "\t\t\\\n"
	    "\t\t(void)ctx; \\\n"
	    "\t\tif ((xr_state_ = (state)) == NULL) \\\n"
	    "\t\t\treturn d->code != XR_OK ? d->code : xr_diag_set(d, \\\n"
	    "\t\t\t    XR_ERR_NOMEM, \"%s: no state for the handlers\"); \\\n"
	    "\t\tif ((xr_r_ = xr_registry_on_free(xr_reg_, (state_free), "
	    "\\\n\t\t    xr_state_)) != XR_OK) \\\n"
	    "\t\t\treturn xr_diag_set(d, xr_r_, \"%s: out of memory\"); \\\n"
	    "\t\treturn %s_register(xr_reg_, (h), xr_state_, d); \\\n"
	    "\t}\n", s->prefix, s->full, s->full, s->prefix);
	pg_buf_printf(b, "#define %s_MODULE(fn) { .name = %s_SERVICE, "
	    ".add = (fn) }\n", s->prefix, s->prefix);
}

void
pg_emit_server_h(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n)
{
	size_t i;

	(void)m;
	pg_emit_preamble(b, base, ".xr.h", "Server side on protobuf-c types: typed "
	    "handlers bound by method name, and\n * the size limits the "
	    "clients' nanopb types imply (docs/protoc-gen-execrpc.md).");
	pg_buf_printf(b, "#ifndef XR_GEN_");
	pg_buf_guard(b, base);
	pg_buf_printf(b, "_XR_H\n#define XR_GEN_");
	pg_buf_guard(b, base);
	/* the SDK's public headers as installed (include/execrpc/) */
	pg_buf_printf(b, "_XR_H\n\n#include <stddef.h>\n\n"
	    "#include \"execrpc/err.h\"\n#include \"execrpc/module.h\"\n"
	    "#include \"execrpc/registry.h\"\n");
	pg_emit_type_includes(b, svcs, n, ".pb-c.h");
	for (i = 0; i < n; i++)
		server_h_service(b, &svcs[i]);
	pg_buf_printf(b, "\n#endif\n");
}

static const char *const fb_kind[] = {
	[PG_FB_COUNT] = "XR_FB_COUNT",
	[PG_FB_STRING] = "XR_FB_STRING",
	[PG_FB_BYTES] = "XR_FB_BYTES",
	[PG_FB_BYTES_FIXED] = "XR_FB_BYTES_FIXED",
	[PG_FB_INT] = "XR_FB_INT",
	[PG_FB_UINT] = "XR_FB_UINT",
	[PG_FB_MESSAGE] = "XR_FB_MESSAGE",
};

/* The xr_bounds table of `t` (and of the submessages it names), once per
 * file (`serial`). */
static void
bounds_table(pg_buf *b, pg_type *t, unsigned serial)
{
	size_t i;

	if (t->n_rows == 0 || t->emitted == serial)
		return;
	t->emitted = serial;
	for (i = 0; i < t->n_rows; i++)
		if (t->rows[i].sub != NULL)
			bounds_table(b, t->rows[i].sub, serial);
	pg_buf_printf(b, "\n/* %s */\nstatic const xr_field_bound xrb_",
	    t->full);
	pg_nb_name(b, t->full);
	pg_buf_printf(b, "_f[] = {\n");
	for (i = 0; i < t->n_rows; i++) {
		const pg_row *r = &t->rows[i];

		pg_buf_printf(b, "\t{ .number = %u, .kind = %s", r->number,
		    fb_kind[r->kind]);
		if (r->count_exact)
			pg_buf_printf(b, ", .count_exact = 1");
		if (r->max > 0)
			pg_buf_printf(b, ", .max = %llu",
			    (unsigned long long)r->max);
		if (r->max_count > 0)
			pg_buf_printf(b, ", .max_count = %llu",
			    (unsigned long long)r->max_count);
		if (r->kind == PG_FB_INT || r->kind == PG_FB_UINT)
			pg_buf_printf(b, ",\n\t    .lo = %lld, .hi = %lld",
			    (long long)r->lo, (long long)r->hi);
		if (r->sub != NULL) {
			pg_buf_printf(b, ",\n\t    .sub = &xrb_");
			pg_nb_name(b, r->sub->full);
		}
		pg_buf_printf(b, " },\t/* %s */\n", r->field);
	}
	pg_buf_printf(b, "};\nstatic const xr_bounds xrb_");
	pg_nb_name(b, t->full);
	pg_buf_printf(b, " = {\n\t\"%s\", xrb_", t->full);
	pg_nb_name(b, t->full);
	pg_buf_printf(b, "_f, %zu\n};\n", t->n_rows);
}

/* `&xrb_<name>` or NULL. */
static void
bounds_ref(pg_buf *b, const pg_type *t)
{
	if (t->n_rows == 0) {
		pg_buf_printf(b, "NULL");
		return;
	}
	pg_buf_printf(b, "&xrb_");
	pg_nb_name(b, t->full);
}

static void
server_c_service(pg_buf *b, const pg_service *s)
{
	size_t i, n = s->svc->n_method;

	for (i = 0; i < n; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "\nstatic void\n%s_%s_call(xr_call *call, "
		    "const ProtobufCMessage *req, void *arg)\n{\n"
		    "\t%s_%s_fn fn = (%s_%s_fn)xr_call_typed_handler(call);\n\n"
		    "\tfn(call, (const ", s->prefix, md->name, s->prefix,
		    md->name, s->prefix, md->name);
		type_pbc(b, s->in[i]);
		pg_buf_printf(b, " *)req, arg);\n}\n");
	}
	pg_buf_printf(b, "\nint\n%s_register(xr_registry *reg, const "
	    "%s_handlers *h, void *arg,\n    xr_diag *d)\n{\n"
	    "\txr_method_def defs[%zu];\n\n\tmemset(defs, 0, sizeof(defs));\n"
	    "\tif (h == NULL)\n"
	    "\t\treturn xr_diag_set(d, XR_ERR_INVALID_ARG, \"%s: no "
	    "handlers\");\n", s->prefix, s->prefix, n, s->full);
	for (i = 0; i < n; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "\tif (h->%s == NULL)\n\t\treturn "
		    "xr_diag_set(d, XR_ERR_INVALID_ARG,\n\t\t    \"%s/%s: no "
		    "handler (%s_handlers.%s is NULL)\");\n", md->name,
		    s->full, md->name, s->prefix, md->name);
	}
	for (i = 0; i < n; i++) {
		const pg_method_desc *md = s->svc->method[i];

		pg_buf_printf(b, "\tdefs[%zu].name = %s_%s_METHOD;\n", i,
		    s->prefix, md->name);
		pg_buf_printf(b, "\tdefs[%zu].input = &", i);
		pg_pbc_lower(b, s->in[i]->full);
		pg_buf_printf(b, "__descriptor;\n\tdefs[%zu].output = &", i);
		pg_pbc_lower(b, s->out[i]->full);
		pg_buf_printf(b, "__descriptor;\n");
		pg_buf_printf(b, "\tdefs[%zu].fn = %s_%s_call;\n", i, s->prefix,
		    md->name);
		pg_buf_printf(b, "\tdefs[%zu].typed = (xr_any_fn)h->%s;\n", i,
		    md->name);
		pg_buf_printf(b, "\tdefs[%zu].max_req = %s_%s_REQ_MAX;\n", i,
		    s->prefix, md->name);
		pg_buf_printf(b, "\tdefs[%zu].max_resp = %s_%s_RESP_MAX;\n", i,
		    s->prefix, md->name);
		pg_buf_printf(b, "\tdefs[%zu].req_bounds = ", i);
		bounds_ref(b, s->in[i]);
		pg_buf_printf(b, ";\n\tdefs[%zu].resp_bounds = ", i);
		bounds_ref(b, s->out[i]);
		pg_buf_printf(b, ";\n");
	}
	pg_buf_printf(b, "\treturn xr_registry_add_methods(reg, defs, %zu, "
	    "arg, d);\n}\n", n);
}

void
pg_emit_server_c(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n)
{
	size_t i;

	(void)m;
	static unsigned serial;
	size_t j;

	pg_emit_preamble(b, base, ".xr.c", "Server side: the per-field bounds of the "
	    "messages (what a nanopb peer\n * can decode), the trampolines and "
	    "the registration of each service.");
	pg_buf_printf(b, "#include \"%s.xr.h\"\n\n#include <string.h>\n",
	    base);
	serial++;
	for (i = 0; i < n; i++)
		for (j = 0; j < svcs[i].svc->n_method; j++) {
			bounds_table(b, svcs[i].in[j], serial);
			bounds_table(b, svcs[i].out[j], serial);
		}
	for (i = 0; i < n; i++)
		server_c_service(b, &svcs[i]);
}
