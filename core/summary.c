/*
 * core/summary.c — the runtime summary as JSON (docs/design.md section 7).
 *
 * Built from the normalized config only: names of modes, limits and groups.
 * The secret appears as its mode and source, never as bytes or a path.
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

static json_t *
summary_auth(const xr_config *cfg)
{
	json_t *a;

	if ((a = json_object()) == NULL)
		return NULL;
	if (!put(a, "kdf", json_string(xr_kdf_name(cfg->kdf))) ||
	    !put(a, "mode", json_string("hmac")) ||
	    !put(a, "nonce_cache_size",
	    json_integer(cfg->nonce_cache_size)) ||
	    !put(a, "secret_file_configured",
	    json_boolean(cfg->secret_mode == XR_SECRET_STATIC &&
	    cfg->secret_file[0] != '\0')) ||
	    !put(a, "secret_mode",
	    json_string(xr_secret_mode_name(cfg->secret_mode))) ||
	    !put(a, "secret_source", json_string(secret_source(cfg))) ||
	    !put(a, "ttl_seconds", json_integer(cfg->ttl_seconds))) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *
summary_ipc(const xr_config *cfg)
{
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (!put(o, "auth", summary_auth(cfg)) ||
	    !put(o, "bind_host", json_string(cfg->bind_host)) ||
	    !put(o, "bind_port", json_integer(cfg->bind_port)) ||
	    !put(o, "max_payload_bytes",
	    json_integer(cfg->max_payload_bytes)) ||
	    !put(o, "transport",
	    json_string(xr_transport_name(cfg->transport)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
summary_group(const xr_group_cfg *g)
{
	json_t *o, *svc;

	if ((o = json_object()) == NULL)
		return NULL;
	if ((svc = json_array()) == NULL)
		goto fail;
	if (!put(o, "services", svc))
		goto fail;
	for (size_t i = 0; i < g->n_services; i++)
		if (json_array_append_new(svc,
		    json_string(g->services[i])) != 0)
			goto fail;
	if (!put(o, "name", json_string(g->name)) ||
	    !put(o, "restart", json_string(xr_restart_name(g->restart))) ||
	    !put(o, "workers", json_integer(g->workers)))
		goto fail;
	return o;
 fail:
	json_decref(o);
	return NULL;
}

static json_t *
summary_build(const xr_config *cfg)
{
	json_t *root, *o, *groups, *fl;

	if ((root = json_object()) == NULL)
		return NULL;
	if ((o = json_object()) == NULL || !put(root, "bootstrap", o) ||
	    !put(o, "mode", json_string(xr_boot_mode_name(cfg->boot_mode))))
		goto fail;
	if (!put(root, "execution_ipc", summary_ipc(cfg)))
		goto fail;
	if ((o = json_object()) == NULL || !put(root, "lifecycle", o) ||
	    !put(o, "drain_inflight", json_boolean(cfg->drain_inflight)) ||
	    !put(o, "graceful_timeout_seconds",
	    json_integer(cfg->graceful_timeout_seconds)) ||
	    !put(o, "ready_timeout_seconds",
	    json_integer(cfg->ready_timeout_seconds)))
		goto fail;
	if ((o = json_object()) == NULL || !put(root, "control", o) ||
	    !put(o, "socket", json_string(cfg->control_socket)))
		goto fail;
	if ((groups = json_array()) == NULL ||
	    !put(root, "process_groups", groups))
		goto fail;
	for (size_t i = 0; i < cfg->n_groups && i < XR_CFG_MAX_GROUPS; i++)
		if (json_array_append_new(groups,
		    summary_group(&cfg->groups[i])) != 0)
			goto fail;
	if ((o = json_object()) == NULL || !put(root, "apps", o) ||
	    (fl = json_object()) == NULL || !put(o, "fundload", fl) ||
	    !put(fl, "rules", json_string(xr_rules_name(cfg->fundload_rules))))
		goto fail;
	if (!put(root, "version", json_string(XR_SUMMARY_VERSION)))
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
