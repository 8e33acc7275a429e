/*
 * core/yamltree.c — libyaml's event stream into a tree of xr_ynode
 * (core/yamltree.h).
 */
#include "yamltree.h"

#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "keys.h"	/* xr_wipe */

#define YT_DEPTH_MAX	32		/* nesting of mappings/sequences */
#define YT_NODES_MAX	65536		/* nodes in one document */

struct yt_build {
	yaml_parser_t p;
	size_t nodes;
	xr_diag *d;
};

void
xr_yt_free(xr_ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		xr_yt_free(n->kid[i]);
	free(n->kid);
	if (n->s != NULL) {
		xr_wipe(n->s, n->len);
		free(n->s);
	}
	free(n);
}

static int
yt_push(xr_ynode *n, xr_ynode *k)
{
	xr_ynode **nk;

	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 8;

		if ((nk = reallocarray(n->kid, cap, sizeof(*nk))) == NULL)
			return XR_ERR_NOMEM;
		n->kid = nk;
		n->cap = cap;
	}
	n->kid[n->n++] = k;
	return XR_OK;
}

/* Wipe scalar bytes and release an event. */
static void
ev_clear(yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value != NULL)
		xr_wipe(ev->data.scalar.value, ev->data.scalar.length);
	yaml_event_delete(ev);
}

/* Zeroize what the parser still holds: its input buffers and any scalar
 * token it scanned ahead. Called right before yaml_parser_delete(). */
static void
parser_wipe(yaml_parser_t *p)
{
	yaml_token_t *t;

	if (p->buffer.start != NULL)
		xr_wipe(p->buffer.start,
		    (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start != NULL)
		xr_wipe(p->raw_buffer.start,
		    (size_t)(p->raw_buffer.end - p->raw_buffer.start));
	for (t = p->tokens.head; t != NULL && t != p->tokens.tail; t++)
		if (t->type == YAML_SCALAR_TOKEN &&
		    t->data.scalar.value != NULL)
			xr_wipe(t->data.scalar.value, t->data.scalar.length);
}

static int
syntax_error(struct yt_build *b)
{
	yaml_parser_t *p = &b->p;
	const char *problem = p->problem != NULL ? p->problem : "invalid YAML";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return xr_diag_set(b->d, XR_ERR_NOMEM,
		    "config: out of memory while parsing YAML");
	case YAML_READER_ERROR:
		return xr_diag_set(b->d, XR_ERR_CONFIG_SYNTAX,
		    "config: YAML syntax error at byte offset %zu: %s",
		    p->problem_offset, problem);
	default:
		if (p->context != NULL)
			return xr_diag_set(b->d, XR_ERR_CONFIG_SYNTAX,
			    "config: YAML syntax error at line %zu, column %zu: "
			    "%s (%s at line %zu, column %zu)",
			    p->problem_mark.line + 1, p->problem_mark.column + 1,
			    problem, p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1);
		return xr_diag_set(b->d, XR_ERR_CONFIG_SYNTAX,
		    "config: YAML syntax error at line %zu, column %zu: %s",
		    p->problem_mark.line + 1, p->problem_mark.column + 1,
		    problem);
	}
}

static int
ev_next(struct yt_build *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->p, ev)) {
		memset(ev, 0, sizeof(*ev));
		return syntax_error(b);
	}
	return XR_OK;
}

/* Refuse what the tree does not model; returns XR_OK for a plain node. */
static int
ev_check(struct yt_build *b, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;
	size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return xr_diag_set(b->d, XR_ERR_CONFIG_INVALID,
		    "config: line %zu, column %zu: YAML aliases are not "
		    "supported", line, col);
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		return xr_diag_set(b->d, XR_ERR_INTERNAL,
		    "config: line %zu, column %zu: unexpected YAML event",
		    line, col);
	}
	if (anchor != NULL)
		return xr_diag_set(b->d, XR_ERR_CONFIG_INVALID,
		    "config: line %zu, column %zu: YAML anchors are not "
		    "supported", line, col);
	if (tag != NULL)
		return xr_diag_set(b->d, XR_ERR_CONFIG_INVALID,
		    "config: line %zu, column %zu: explicit YAML tags are not "
		    "supported", line, col);
	return XR_OK;
}

/* Build the node that starts with `ev` (the caller clears `ev`). */
static int
yt_build_node(struct yt_build *b, const yaml_event_t *ev, int depth,
    xr_ynode **out)
{
	xr_ynode *n = NULL, *k = NULL;
	yaml_event_t kev;
	yaml_event_type_t end;
	int r;

	*out = NULL;
	if ((r = ev_check(b, ev)) != XR_OK)
		goto out;
	if (depth > YT_DEPTH_MAX || ++b->nodes > YT_NODES_MAX) {
		r = xr_diag_set(b->d, XR_ERR_CONFIG_INVALID,
		    "config: line %zu, column %zu: document too deep or too "
		    "large (limits: depth %d, %d nodes)",
		    ev->start_mark.line + 1, ev->start_mark.column + 1,
		    YT_DEPTH_MAX, YT_NODES_MAX);
		goto out;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		r = xr_diag_set(b->d, XR_ERR_NOMEM, "config: out of memory");
		goto out;
	}
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	if (ev->type == YAML_SCALAR_EVENT) {
		n->type = XR_YN_SCALAR;
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if ((n->s = malloc(n->len + 1)) == NULL) {
			r = xr_diag_set(b->d, XR_ERR_NOMEM,
			    "config: out of memory");
			goto out;
		}
		memcpy(n->s, ev->data.scalar.value, n->len);
		n->s[n->len] = '\0';
		r = XR_OK;
		goto out;
	}
	n->type = ev->type == YAML_MAPPING_START_EVENT ? XR_YN_MAP : XR_YN_SEQ;
	end = n->type == XR_YN_MAP ? YAML_MAPPING_END_EVENT :
	    YAML_SEQUENCE_END_EVENT;
	for (;;) {
		if ((r = ev_next(b, &kev)) != XR_OK)
			goto out;
		if (kev.type == end) {
			ev_clear(&kev);
			break;
		}
		r = yt_build_node(b, &kev, depth + 1, &k);
		ev_clear(&kev);
		if (r != XR_OK)
			goto out;
		if ((r = yt_push(n, k)) != XR_OK) {
			xr_yt_free(k);
			r = xr_diag_set(b->d, r, "config: out of memory");
			goto out;
		}
		k = NULL;
	}
	r = XR_OK;
 out:
	if (r != XR_OK) {
		xr_yt_free(n);
		n = NULL;
	}
	*out = n;
	return r;
}

int
xr_yt_load(const char *yaml, size_t len, xr_ynode **root, xr_diag *d)
{
	struct yt_build b;
	yaml_event_t ev;
	int r, step;

	*root = NULL;
	memset(&b, 0, sizeof(b));
	b.d = d;
	if (!yaml_parser_initialize(&b.p))
		return xr_diag_set(d, XR_ERR_NOMEM, "config: out of memory");
	yaml_parser_set_input_string(&b.p, (const unsigned char *)yaml, len);
	/* stream start, [document start, root node, document end], end */
	for (step = 0;; step++) {
		if ((r = ev_next(&b, &ev)) != XR_OK)
			goto out;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (step > 1) {
				r = xr_diag_set(d, XR_ERR_CONFIG_INVALID,
				    "config: line %zu: multiple YAML documents "
				    "are not supported",
				    ev.start_mark.line + 1);
				goto out;
			}
			break;
		case YAML_STREAM_END_EVENT:
			ev_clear(&ev);
			r = XR_OK;
			goto out;
		default:
			if ((r = yt_build_node(&b, &ev, 0, root)) != XR_OK)
				goto out;
			break;
		}
		ev_clear(&ev);
	}
 out:
	if (r != XR_OK) {
		ev_clear(&ev);
		xr_yt_free(*root);
		*root = NULL;
	}
	parser_wipe(&b.p);
	yaml_parser_delete(&b.p);
	return r;
}

bool
xr_yt_is_null(const xr_ynode *n)
{
	return n == NULL || (n->type == XR_YN_SCALAR && n->plain &&
	    (n->len == 0 || strcmp(n->s, "~") == 0 ||
	    strcmp(n->s, "null") == 0 || strcmp(n->s, "Null") == 0 ||
	    strcmp(n->s, "NULL") == 0));
}

bool
xr_yt_key_is(const xr_ynode *k, const char *name)
{
	return k->type == XR_YN_SCALAR && strlen(k->s) == k->len &&
	    strcmp(k->s, name) == 0;
}

const xr_ynode *
xr_yt_get(const xr_ynode *n, const char *key)
{
	if (n == NULL || n->type != XR_YN_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < n->n; i += 2)
		if (xr_yt_key_is(n->kid[i], key))
			return n->kid[i + 1];
	return NULL;
}
