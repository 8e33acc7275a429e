/*
 * core/yamltree.h — one YAML document as a small tree (the first of the
 * config's two passes; core/config.c checks the tree against the table of
 * core/cfgtab.h).
 *
 * libyaml's event stream becomes a tree of xr_ynode, refusing what the tree
 * does not model: aliases, anchors, explicit tags, multiple documents,
 * nesting deeper than 32 or more than 65536 nodes. Scalars keep their bytes
 * and whether they were plain (unquoted); typing them is the schema's job.
 *
 * Secrets: every scalar byte that passed through libyaml (events, queued
 * tokens, the parser's input buffers) and through the tree is zeroized
 * before it is freed. The one copy libyaml may leave behind is a scalar
 * buffer that its scanner grew with realloc(3) while reading a long quoted
 * value; libyaml offers no allocator hook to prevent that.
 */
#ifndef XR_YAMLTREE_H
#define XR_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef enum { XR_YN_SCALAR, XR_YN_MAP, XR_YN_SEQ } xr_ynode_type;

/* One node of the parsed document. */
typedef struct xr_ynode {
	xr_ynode_type type;
	size_t line, col;	/* 1-based position of the node */
	char *s;		/* scalar bytes, NUL-terminated (may hold NULs) */
	size_t len;
	bool plain;		/* plain (unquoted) scalar */
	struct xr_ynode **kid;	/* map: key, value, key, value...; seq: items */
	size_t n, cap;
} xr_ynode;

/*
 * Parse the YAML text `yaml` of `len` bytes (one document at most) into
 * `*root`: NULL for an empty stream. Returns XR_OK; XR_ERR_CONFIG_SYNTAX
 * (with the line and column, or the byte offset) for YAML that does not
 * parse; XR_ERR_CONFIG_INVALID for what the tree refuses; XR_ERR_NOMEM.
 * The reason in `d` never holds scalar bytes. The caller frees the tree
 * with xr_yt_free().
 */
int xr_yt_load(const char *yaml, size_t len, xr_ynode **root, xr_diag *d);

/* Zeroize every scalar of the tree and free it. NULL is a no-op. */
void xr_yt_free(xr_ynode *n);

/* True for an absent node or a plain null scalar (~, null, empty). */
bool xr_yt_is_null(const xr_ynode *n);

/* True if `k` is the scalar `name` exactly (no embedded NUL). */
bool xr_yt_key_is(const xr_ynode *k, const char *name);

/* The value of `key` in mapping `n`, or NULL (absent, or `n` is not a
 * mapping). */
const xr_ynode *xr_yt_get(const xr_ynode *n, const char *key);

#endif /* XR_YAMLTREE_H */
