/*
 * apps/execrpc/pbjson_priv.h — what pbjson_set.c (the descriptor set
 * index), pbjson.c (JSON -> wire) and pbjson_dec.c (wire -> JSON) share.
 * Not for other modules.
 */
#ifndef XR_PBJSON_PRIV_H
#define XR_PBJSON_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "pbjson.h"

struct xr__pbj_enum {
	char *full;				/* "pkg.Enum" (owned) */
	const Google__Protobuf__EnumDescriptorProto *ep;
};

struct xr__pbj_field {
	const char *name;			/* the proto name */
	char *json;				/* the JSON name (owned) */
	uint32_t number;
	int type;				/* a FieldDescriptorProto type */
	bool repeated, packed;
	bool presence;				/* printed even at its default */
	int oneof;				/* oneof index, or -1 */
	const xr_pbjson_type *msg;		/* message fields */
	const struct xr__pbj_enum *en;		/* enum fields */
};

struct xr_pbjson_type {
	char *full;				/* "pkg.Msg" (owned) */
	const Google__Protobuf__DescriptorProto *dp;
	bool proto3, map_entry;
	struct xr__pbj_field *f;		/* by field number (owned) */
	size_t nf;
};

struct xr__pbj_svc {
	char *full;				/* "pkg.Service" (owned) */
	const Google__Protobuf__ServiceDescriptorProto *sp;
};

struct xr_pbjson {
	Google__Protobuf__FileDescriptorSet *set;	/* owned */
	struct xr_pbjson_type *t;
	size_t nt, capt;
	struct xr__pbj_enum *e;
	size_t ne, cape;
	struct xr__pbj_svc *s;
	size_t ns, caps;
};

/* XR_OK, or XR_ERR_INVALID_ARG naming why field `f` of `owner` cannot be
 * converted (a group, a map, a well-known type with a special JSON form). */
int xr__pbj_unsupported(const struct xr__pbj_field *f, const char *owner,
    xr_diag *d);

/* The name of value `v` of enum `e`, or NULL. */
const char *xr__pbj_enum_name(const struct xr__pbj_enum *e, int32_t v);

/* Base64 (standard or URL-safe alphabet, padding optional) of `n` chars at
 * `s` into `*out` (malloc'd, caller frees) / `*len`. XR_OK,
 * XR_ERR_MALFORMED or XR_ERR_NOMEM. */
int xr__pbj_b64_decode(const char *s, size_t n, uint8_t **out, size_t *len);

#endif /* XR_PBJSON_PRIV_H */
