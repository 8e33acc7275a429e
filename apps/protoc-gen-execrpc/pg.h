/*
 * apps/protoc-gen-execrpc/pg.h — the plugin's internal interfaces.
 *
 * protoc-gen-execrpc is a protoc plugin: protoc writes a serialized
 * google.protobuf.compiler.CodeGeneratorRequest to its stdin (decoded here
 * with the protobuf-c code generated from plugin.proto and descriptor.proto),
 * and reads a CodeGeneratorResponse from its stdout: the generated files, or
 * an error message that protoc prints before it fails. The files:
 *
 *   pg.h         this: the model shared by the files below
 *   main.c       the protocol: read, parameters, per file, write
 *   buf.c        a growable text buffer (pg_buf)
 *   model.c      the request's types by full name, C names of both
 *                generators (protobuf-c, nanopb), source comments
 *   nbopts.c     nanopb's generator options: .options files and
 *                [(nanopb).…] options in the .proto, resolved per element
 *                exactly as nanopb_generator.py does
 *   bounds.c     encoded-size bounds of messages, as nanopb computes its
 *                <Msg>_size, and the refusal of unbounded messages
 *   emit.c       what both sides' files share (names, limits, includes)
 *   emit_server.c  <name>.xr.h / .xr.c: typed handlers on protobuf-c types
 *   emit_client.c  <name>.xrc.h / .xrc.c: typed stubs on nanopb types
 *
 * docs/protoc-gen-execrpc.md describes the generated code and the
 * parameters.
 */
#ifndef PG_H
#define PG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/compiler/plugin.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "nanopb.pb-c.h"

typedef Google__Protobuf__FileDescriptorProto pg_file_desc;
typedef Google__Protobuf__DescriptorProto pg_msg_desc;
typedef Google__Protobuf__FieldDescriptorProto pg_field_desc;
typedef Google__Protobuf__EnumDescriptorProto pg_enum_desc;
typedef Google__Protobuf__ServiceDescriptorProto pg_svc_desc;
typedef Google__Protobuf__MethodDescriptorProto pg_method_desc;

/* ---- buf.c: growable NUL-terminated text; allocation failure aborts
 * (a short-lived generator has no better answer) ---- */

typedef struct pg_buf {
	char *s;
	size_t len, cap;
} pg_buf;

void pg_buf_printf(pg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pg_buf_vprintf(pg_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append `s` with every character outside [A-Za-z0-9] replaced by '_'
 * and letters upper-cased (header guards). */
void pg_buf_guard(pg_buf *b, const char *s);
/* Release the text; the buffer is empty and reusable after. */
void pg_buf_free(pg_buf *b);
/* Take the text (caller frees); the buffer is empty after. */
char *pg_buf_take(pg_buf *b);
/* malloc that aborts on failure; strdup likewise. */
void *pg_xcalloc(size_t n, size_t size);
char *pg_xstrdup(const char *s);

/* ---- the first error of a run: reported as the response's error ---- */

typedef struct pg_err {
	pg_buf msg;		/* empty: no error */
} pg_err;

/* Record an error (only the first one is kept). Returns -1. */
int pg_fail(pg_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- model.c ---- */

/* What the server checks of one field so that a nanopb peer can decode
 * it (server/bounds.h's xr_field_bound; kinds named as XR_FB_*). */
enum { PG_FB_COUNT, PG_FB_STRING, PG_FB_BYTES, PG_FB_BYTES_FIXED,
    PG_FB_INT, PG_FB_UINT, PG_FB_MESSAGE };

struct pg_type;

typedef struct pg_row {
	const char *field;		/* the field's name (the descriptor's) */
	uint32_t number;
	int kind;			/* PG_FB_* */
	int count_exact;		/* fixed_count */
	uint64_t max;			/* string / bytes: bytes */
	uint64_t max_count;		/* repeated: elements; 0 singular */
	int64_t lo, hi;			/* INT: [lo, hi]; UINT: hi */
	struct pg_type *sub;		/* MESSAGE */
} pg_row;

/* A message or enum type of the request, by its full name. */
typedef struct pg_type {
	char *full;			/* "kv.v1.PutRequest" (no leading dot) */
	const pg_file_desc *file;	/* the file that declares it */
	const pg_msg_desc *msg;		/* one of msg / en */
	const pg_enum_desc *en;
	/* filled by bounds.c */
	int state;			/* 0 new, 1 computing, 2 done, -1 failed */
	uint64_t size;			/* encoded bound, when state 2 */
	pg_row *rows;			/* the fields a server checks */
	size_t n_rows;
	unsigned emitted;		/* emit_server.c: written in file N */
} pg_type;

typedef struct pg_model {
	const Google__Protobuf__Compiler__CodeGeneratorRequest *req;
	pg_type *types;
	size_t n_types;
} pg_model;

/* Index every message and enum of every file of the request. */
void pg_model_init(pg_model *m,
    const Google__Protobuf__Compiler__CodeGeneratorRequest *req);
void pg_model_fini(pg_model *m);
/* The type with full name `name` (a leading '.' is skipped), or NULL. */
pg_type *pg_model_find(pg_model *m, const char *name);
/* The file of the request named `name`, or NULL. */
const pg_file_desc *pg_model_file(const pg_model *m, const char *name);

/* `name` of a .proto without its ".proto" (or ".protodevel") suffix. */
char *pg_strip_proto(const char *name);
/* protobuf-c's C type name of full name "kv.v1.PutRequest":
 * "Kv__V1__PutRequest". */
void pg_pbc_type(pg_buf *b, const char *full);
/* protobuf-c's lower-case name: "kv__v1__put_request" (append
 * "__descriptor" for the message descriptor). */
void pg_pbc_lower(pg_buf *b, const char *full);
/* nanopb's C name (mangle_names M_NONE): "kv_v1_PutRequest". */
void pg_nb_name(pg_buf *b, const char *full);
/* The leading comment of the element at `path` (SourceCodeInfo) in `f`,
 * or NULL. */
const char *pg_comment(const pg_file_desc *f, const int32_t *path,
    size_t n);
/* Append `text` as a C comment indented by `indent` tabs ("*\/" broken). */
void pg_buf_comment(pg_buf *b, const char *text, int indent);

/* ---- nbopts.c ---- */

/* The options files read (one per .proto, found like nanopb finds it). */
typedef struct pg_optfile pg_optfile;

typedef struct pg_nbopts {
	char **paths;			/* search dirs: ".", -I dirs, … */
	size_t n_paths;
	pg_optfile *files;		/* read lazily, per .proto */
} pg_nbopts;

/* Add a search directory for .options files (copied). */
void pg_nbopts_add_path(pg_nbopts *o, const char *dir);
void pg_nbopts_fini(pg_nbopts *o);

/* The resolved nanopb options of a field, a oneof or a message of `file`:
 * inherited from the file and message levels, then the .options lines
 * matching the element's dotted name, then the option in the .proto.
 * `out` is a NanoPBOptions with defaults where nothing set a value; free it
 * with pg_nbopts_free(). Returns 0, or -1 with `e` set (an options file
 * that does not parse). */
int pg_nbopts_message(pg_nbopts *o, const pg_file_desc *file,
    const pg_msg_desc *msg, const char *dotname, NanoPBOptions **out,
    pg_err *e);
int pg_nbopts_field(pg_nbopts *o, const pg_file_desc *file,
    const NanoPBOptions *msgopts, const pg_field_desc *fd,
    const char *dotname, NanoPBOptions **out, pg_err *e);
int pg_nbopts_oneof(pg_nbopts *o, const pg_file_desc *file,
    const NanoPBOptions *msgopts, const pg_msg_desc *msg,
    const char *dotname, NanoPBOptions **out, pg_err *e);
void pg_nbopts_free(NanoPBOptions *opt);
/* The options file found for `file`, or NULL (for messages). */
const char *pg_nbopts_file_path(pg_nbopts *o, const pg_file_desc *file);

/* ---- bounds.c ---- */

/* The encoded-size bound of message type `t` (nanopb's <Msg>_size), in
 * `*size`; t->rows get the per-field bounds a server checks. Returns 0, or -1 with `e` naming the first field without a
 * bound (and what to add where), a recursive message, or an unsupported
 * nanopb option. `ctx` names who needs the bound ("method kv.v1.Kv/Put"). */
int pg_bound(pg_model *m, pg_nbopts *o, pg_type *t, const char *ctx,
    uint64_t *size, pg_err *e);

/* ---- emit_*.c: one service file pair each; `base` is the .proto name
 * without its suffix ("kv/v1/kv"). Methods' bounds come in req_max[i] /
 * resp_max[i]. ---- */

typedef struct pg_service {
	const pg_file_desc *file;
	const pg_svc_desc *svc;
	int index;			/* in file->service */
	char *full;			/* "kv.v1.Kv" */
	char *prefix;			/* "kv_v1_Kv" */
	pg_type **in, **out;		/* per method */
	uint64_t *req_max, *resp_max;	/* per method */
} pg_service;

/* Append the server (.xr.h, .xr.c) or client (.xrc.h, .xrc.c) text of the
 * services of one file. */
void pg_emit_server_h(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n);
void pg_emit_server_c(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n);
void pg_emit_client_h(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n);
void pg_emit_client_c(pg_buf *b, pg_model *m, const char *base,
    const pg_service *svcs, size_t n);
/* The names and bounds both sides define (identically). */
void pg_emit_limits(pg_buf *b, const pg_service *s);

/* SourceCodeInfo paths: FileDescriptorProto.service = 6,
 * ServiceDescriptorProto.method = 2. */
#define PATH_SERVICE 6
#define PATH_METHOD 2

/* The file's opening comment: "BASE EXT — generated ... DO NOT EDIT." and
 * `what`. */
void pg_emit_preamble(pg_buf *b, const char *base, const char *ext,
    const char *what);

/* A service's section heading, its proto comment and its limits
 * (pg_emit_limits); both sides open each service with it. */
void pg_emit_service_head(pg_buf *b, const pg_service *s);
/* The #include lines of the headers declaring the message types the
 * services use, each once: "<file base><suffix>". */
void pg_emit_type_includes(pg_buf *b, const pg_service *svcs, size_t n,
    const char *suffix);

#endif /* PG_H */
