/*
 * core/cfgapps.c — the apps.NAME sections of the config (core/config.h):
 * shape and bounds only, flattened to (key, scalar) pairs. The core knows
 * no application; the application's module checks its section.
 *
 * Flattening: nested mapping keys are joined with '.', sequence items are
 * key[i] (from 0), leaves are the scalars as written (a plain `~` stays
 * "~"). An empty mapping or list below the section has no scalar to keep
 * and is refused. Values are never echoed in a diagnostic.
 */
#include <stdio.h>
#include <string.h>

#include "cfgpriv.h"

#define KEY_CAP		sizeof(((xr_app_setting *)0)->key)
#define VALUE_CAP	sizeof(((xr_app_setting *)0)->value)

/*
 * Flatten node `n` of section `sec` whose flattened key is `key` (NUL-
 * terminated, "" for the section itself) and display path `path`.
 */
static int
flatten(xr_cfg_vctx *c, xr_app_section *sec, const xr_ynode *n,
    const char *key, const char *path)
{
	char k[KEY_CAP + 1], p[XR_CFG_DIAG_PATH + 24];
	size_t klen = strlen(key);
	xr_app_setting *s;
	int r;

	if (n->type == XR_YN_SCALAR) {
		if (n->len >= VALUE_CAP || strlen(n->s) != n->len)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: value too long (allowed: 0..%zu bytes without "
			    "NUL)", path, VALUE_CAP - 1);
		if (sec->n == XR_CFG_MAX_APP_SETTINGS)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "apps.%s: too many settings at %s (allowed: 0..%d "
			    "scalar values)", sec->name, path,
			    XR_CFG_MAX_APP_SETTINGS);
		s = &sec->s[sec->n++];
		memcpy(s->key, key, klen + 1);
		memcpy(s->value, n->s, n->len + 1);
		return XR_OK;
	}
	if (n->n == 0)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: an empty %s has no value (allowed: scalars as "
		    "leaves)", path, n->type == XR_YN_MAP ? "mapping" : "list");
	if (n->type == XR_YN_MAP &&
	    (r = xr_cfg_check_map(c, n, path, NULL)) != XR_OK)
		return r;
	for (size_t i = 0; i < n->n; i += n->type == XR_YN_MAP ? 2 : 1) {
		const xr_ynode *kn = n->kid[i], *v;
		int w;

		if (n->type == XR_YN_MAP) {
			v = n->kid[i + 1];
			xr_cfg_path_join(p, sizeof(p), path, kn->s, kn->len);
			if (!xr_cfg_chars_ok(kn->s, kn->len, "-"))
				return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
				    "%s: invalid key (allowed: [A-Za-z0-9_-], "
				    "nested keys joined with '.')", p);
			w = snprintf(k, sizeof(k), "%s%s%s", key,
			    klen > 0 ? "." : "", kn->s);
		} else {
			v = kn;
			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			w = snprintf(k, sizeof(k), "%s[%zu]", key, i);
		}
		if (w < 0 || (size_t)w >= KEY_CAP)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: key too long (allowed: 1..%zu bytes below "
			    "apps.%s)", p, KEY_CAP - 1, sec->name);
		if ((r = flatten(c, sec, v, k, p)) != XR_OK)
			return r;
	}
	return XR_OK;
}

int
xr_cfg_apps(xr_cfg_vctx *c, const xr_ynode *n, const xr_cfg_row *row)
{
	xr_config *cfg = c->cfg;
	int r;

	if ((r = xr_cfg_check_map(c, n, row->path, NULL)) != XR_OK ||
	    xr_yt_is_null(n))
		return r;
	if (n->n / 2 > row->max)
		return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
		    "%s: too many sections (allowed: %llu..%llu)", row->path,
		    (unsigned long long)row->min,
		    (unsigned long long)row->max);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const xr_ynode *k = n->kid[i], *v = n->kid[i + 1];
		xr_app_section *sec = &cfg->apps[cfg->n_apps];
		char p[XR_CFG_DIAG_PATH];

		xr_cfg_path_join(p, sizeof(p), row->path, k->s, k->len);
		if (k->len >= sizeof(sec->name) ||
		    !xr_cfg_chars_ok(k->s, k->len, "-."))
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: invalid section name (allowed: [A-Za-z0-9_.-], "
			    "1..%zu bytes)", p, sizeof(sec->name) - 1);
		memset(sec, 0, sizeof(*sec));
		memcpy(sec->name, k->s, k->len + 1);
		if (!xr_yt_is_null(v) && v->type != XR_YN_MAP)
			return xr_diag_set(c->d, XR_ERR_CONFIG_INVALID,
			    "%s: expected a mapping (line %zu)", p, v->line);
		if (!xr_yt_is_null(v) && v->n > 0 &&
		    (r = flatten(c, sec, v, "", p)) != XR_OK)
			return r;
		cfg->n_apps++;
	}
	return XR_OK;
}

const xr_app_section *
xr_config_app(const xr_config *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_apps && i < XR_CFG_MAX_APPS; i++)
		if (strcmp(cfg->apps[i].name, name) == 0)
			return &cfg->apps[i];
	return NULL;
}

const char *
xr_app_get(const xr_app_section *sec, const char *key)
{
	if (sec == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < sec->n && i < XR_CFG_MAX_APP_SETTINGS; i++)
		if (strcmp(sec->s[i].key, key) == 0)
			return sec->s[i].value;
	return NULL;
}
