/*
 * core/summary.c — the runtime summary as JSON (docs/design.md section 7).
 *
 * Built from the normalized config only, by walking the rows of the table
 * (core/cfgtab.h) flagged XR_CF_SUMMARY: a row's key is its path less
 * "runtime.platform." (a group's: less the group's prefix). The secret
 * appears as its mode and source, never as bytes or a path; the apps
 * sections as their flattened settings, whatever application they are for.
 */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Add `v` (a new reference, may be NULL) under `k`; false if anything
 * failed. json_object_set_new() releases `v` on failure. */
static bool
put(json_t *o, const char *k, json_t *v)
{
	return v != NULL && json_object_set_new(o, k, v) == 0;
}

static const char *
secret_source(const xr_config *cfg)
{
	if (cfg->secret_mode == XR_SECRET_GENERATED)
		return "generated";
	return cfg->secret_file[0] != '\0' ? "file" : "inline";
}

/* The key of row `r` in the summary: its path less the prefix (the
 * platform's, or a group's). */
static const char *
summary_key(const xr_cfg_row *r)
{
	static const char *const prefixes[] = {
		"runtime.platform.process_groups[].", "runtime.platform.",
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(r->path, prefixes[i], strlen(prefixes[i])) == 0)
			return r->path + strlen(prefixes[i]);
	return r->path;
}

/* Put `v` (a new reference, may be NULL) at the dotted `key` under `o`,
 * making the objects on the way; false if anything failed. */
static bool
put_path(json_t *o, const char *key, json_t *v)
{
	const char *dot;
	char part[64];
	json_t *sub;

	while ((dot = strchr(key, '.')) != NULL) {
		size_t len = (size_t)(dot - key);

		if (len >= sizeof(part)) {
			json_decref(v);
			return false;
		}
		memcpy(part, key, len);
		part[len] = '\0';
		if ((sub = json_object_get(o, part)) == NULL &&
		    !put(o, part, sub = json_object())) {
			json_decref(v);
			return false;
		}
		o = sub;
		key = dot + 1;
	}
	return put(o, key, v);
}

/* The value of a scalar row in `base` (an xr_config or xr_group_cfg), or
 * NULL for a row that is no scalar. */
static json_t *
row_value(const void *base, const xr_cfg_row *r)
{
	uint64_t u = xr_cfg_get_u(base, r);

	switch (r->type) {
	case XR_CT_UINT:
		return json_integer((json_int_t)u);
	case XR_CT_BOOL:
		return json_boolean(u != 0);
	case XR_CT_ENUM:
		return json_string(xr_cfg_enum_name(
		    (xr_cfg_key)(r - xr_cfg_rows), (unsigned)u));
	case XR_CT_HOST:
	case XR_CT_PATH:
	case XR_CT_NAME:
	case XR_CT_NETHOST:
		return json_string((const char *)base + r->off);
	default:
		return NULL;
	}
}

static json_t *
summary_group(const xr_group_cfg *g)
{
	json_t *o, *svc;

	if ((o = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < XR_CK__COUNT; i++) {
		const xr_cfg_row *r = &xr_cfg_rows[i];

		if ((r->flags & (XR_CF_GROUP | XR_CF_SUMMARY)) !=
		    (XR_CF_GROUP | XR_CF_SUMMARY))
			continue;
		if (r->type != XR_CT_SERVICES) {
			if (!put_path(o, summary_key(r), row_value(g, r)))
				goto fail;
			continue;
		}
		if ((svc = json_array()) == NULL ||
		    !put_path(o, summary_key(r), svc))
			goto fail;
		for (size_t j = 0; j < g->n_services; j++)
			if (json_array_append_new(svc,
			    json_string(g->services[j])) != 0)
				goto fail;
	}
	return o;
 fail:
	json_decref(o);
	return NULL;
}

/* "apps": {"NAME": {"key": "value", ...}, ...}: every section, generically. */
static json_t *
summary_apps(const xr_config *cfg)
{
	json_t *o, *sec;

	if ((o = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_apps && i < XR_CFG_MAX_APPS; i++) {
		const xr_app_section *a = &cfg->apps[i];

		if ((sec = json_object()) == NULL || !put(o, a->name, sec))
			goto fail;
		for (size_t j = 0; j < a->n && j < XR_CFG_MAX_APP_SETTINGS; j++)
			if (!put(sec, a->s[j].key,
			    json_string(a->s[j].value)))
				goto fail;
	}
	return o;
 fail:
	json_decref(o);
	return NULL;
}

/* execution_ipc.redis (used by transport: redis_streams): where the
 * server is (the url resolved, never the url itself; unix_socket when
 * set) and the stream settings; the password as "is a password_file
 * configured", never its path or content. */
static bool
summary_redis(const xr_config *cfg, json_t *root)
{
	static const xr_cfg_key shown[] = { XR_CK_REDIS_HOST,
	    XR_CK_REDIS_PORT, XR_CK_REDIS_DB, XR_CK_REDIS_STREAM_PREFIX,
	    XR_CK_REDIS_CLAIM_IDLE_MS, XR_CK_REDIS_MAX_STREAM_LEN };

	if (cfg->redis.unix_socket[0] != '\0' && !put_path(root,
	    summary_key(&xr_cfg_rows[XR_CK_REDIS_UNIX_SOCKET]),
	    row_value(cfg, &xr_cfg_rows[XR_CK_REDIS_UNIX_SOCKET])))
		return false;
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		if (!put_path(root, summary_key(&xr_cfg_rows[shown[i]]),
		    row_value(cfg, &xr_cfg_rows[shown[i]])))
			return false;
	return put_path(root, "execution_ipc.redis.password_file_configured",
	    json_boolean(cfg->redis.password_file[0] != '\0'));
}

static json_t *
summary_build(const xr_config *cfg)
{
	json_t *root, *groups;

	if ((root = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < XR_CK__COUNT; i++) {
		const xr_cfg_row *r = &xr_cfg_rows[i];

		if ((r->flags & XR_CF_SUMMARY) == 0 ||
		    (r->flags & (XR_CF_GROUP | XR_CF_SECRET)) != 0)
			continue;
		if (r->type == XR_CT_GROUPS) {
			if ((groups = json_array()) == NULL ||
			    !put_path(root, summary_key(r), groups))
				goto fail;
			for (size_t g = 0; g < cfg->n_groups &&
			    g < XR_CFG_MAX_GROUPS; g++)
				if (json_array_append_new(groups,
				    summary_group(&cfg->groups[g])) != 0)
					goto fail;
		} else if (r->type == XR_CT_APPS) {
			if (!put_path(root, summary_key(r), summary_apps(cfg)))
				goto fail;
		} else if (!put_path(root, summary_key(r), row_value(cfg, r)))
			goto fail;
	}
	if (!summary_redis(cfg, root))
		goto fail;
	/* the secret as its source, never its bytes or path */
	if (!put_path(root, "execution_ipc.auth.secret_file_configured",
	    json_boolean(cfg->secret_mode == XR_SECRET_STATIC &&
	    cfg->secret_file[0] != '\0')) ||
	    !put_path(root, "execution_ipc.auth.secret_source",
	    json_string(secret_source(cfg))) ||
	    !put(root, "version", json_string(XR_SUMMARY_VERSION)))
		goto fail;
	return root;
 fail:
	json_decref(root);
	return NULL;
}

int
xr_summary_json(const xr_config *cfg, char **out)
{
	json_t *root = NULL;
	char *s = NULL;
	size_t len;
	int r = XR_ERR_NOMEM;

	*out = NULL;
	if (cfg == NULL)
		return XR_ERR_INVALID_ARG;
	if ((root = summary_build(cfg)) == NULL ||
	    (s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2))) == NULL)
		goto out;
	len = strlen(s);
	if ((*out = malloc(len + 2)) == NULL)
		goto out;
	memcpy(*out, s, len);
	(*out)[len] = '\n';
	(*out)[len + 1] = '\0';
	r = XR_OK;
 out:
	free(s);
	json_decref(root);
	return r;
}
