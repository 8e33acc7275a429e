/* apps/fundload/appcfg.c — apps.fundload: check, read, override. */
#include "appcfg.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "printable.h"

/* A config key or value, safe to print between double quotes (at most
 * sizeof(buf) - 1 bytes of it, "..." marking a cut). */
static const char *
show(const char *s, char *buf, size_t cap)
{
	return xr_printable(s, strlen(s), buf, cap);
}

int
xr_fl_app_check(const xr_app_section *sec, xr_diag *d)
{
	xr_rules r;
	char e[40];

	for (size_t i = 0; sec != NULL && i < sec->n; i++) {
		const char *k = sec->s[i].key, *v = sec->s[i].value;

		if (strcmp(k, "rules") != 0)
			return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
			    "apps." XR_FL_APP ".%s: unknown key (allowed: rules)",
			    show(k, e, sizeof(e)));
		if (xr_rules_parse(v, &r) != XR_OK)
			return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
			    "apps." XR_FL_APP ".rules: unsupported value \"%s\" "
			    "(allowed: baseline, experiment)",
			    show(v, e, sizeof(e)));
	}
	return XR_OK;
}

xr_rules
xr_fl_app_rules(const xr_app_section *sec)
{
	xr_rules r = XR_RULES_BASELINE;

	(void)xr_rules_parse(xr_app_get(sec, "rules"), &r);
	return r;
}

int
xr_fl_app_set_rules(xr_config *cfg, xr_rules r, xr_diag *d)
{
	xr_app_section *sec = NULL;
	xr_app_setting *s = NULL;

	for (size_t i = 0; i < cfg->n_apps && sec == NULL; i++)
		if (strcmp(cfg->apps[i].name, XR_FL_APP) == 0)
			sec = &cfg->apps[i];
	if (sec == NULL) {
		if (cfg->n_apps == XR_CFG_MAX_APPS)
			return xr_diag_set(d, XR_ERR_CONFIG_INVALID, "apps: "
			    "no room for apps." XR_FL_APP " (allowed: 0..%d "
			    "sections)", XR_CFG_MAX_APPS);
		sec = &cfg->apps[cfg->n_apps++];
		memset(sec, 0, sizeof(*sec));
		snprintf(sec->name, sizeof(sec->name), "%s", XR_FL_APP);
	}
	for (size_t i = 0; i < sec->n && s == NULL; i++)
		if (strcmp(sec->s[i].key, "rules") == 0)
			s = &sec->s[i];
	if (s == NULL) {
		if (sec->n == XR_CFG_MAX_APP_SETTINGS)
			return xr_diag_set(d, XR_ERR_CONFIG_INVALID, "apps."
			    XR_FL_APP ": no room for rules (allowed: 0..%d "
			    "settings)", XR_CFG_MAX_APP_SETTINGS);
		s = &sec->s[sec->n++];
		snprintf(s->key, sizeof(s->key), "rules");
	}
	snprintf(s->value, sizeof(s->value), "%s", xr_rules_name(r));
	return XR_OK;
}
