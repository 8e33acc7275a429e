/*
 * apps/fundload/appcfg.h — the fund-load application's config section,
 * apps.fundload (core/config.h keeps it opaque; this module gives it
 * meaning):
 *
 *   apps:
 *     fundload:
 *       rules: baseline          # baseline | experiment
 */
#ifndef XR_FL_APPCFG_H
#define XR_FL_APPCFG_H

#include "config.h"
#include "rules.h"

/* The NAME of the apps.NAME section the fund-load module reads. */
#define XR_FL_APP "fundload"

/*
 * The module's check of its config section apps.fundload (`sec` NULL when
 * the config has none): the one key is `rules` (baseline | experiment,
 * default baseline). Returns XR_OK, or XR_ERR_CONFIG_INVALID with the
 * key path and the allowed keys or values in `d`.
 */
int xr_fl_app_check(const xr_app_section *sec, xr_diag *d);

/* The rule set of a section that passed xr_fl_app_check() (NULL:
 * baseline). */
xr_rules xr_fl_app_rules(const xr_app_section *sec);

/*
 * Set apps.fundload.rules in `cfg` to `r` (the --rules option), adding the
 * key or the section if the config has none. Returns XR_OK, or
 * XR_ERR_CONFIG_INVALID (with the reason in `d`) when the config has no
 * room for another section or setting.
 */
int xr_fl_app_set_rules(xr_config *cfg, xr_rules r, xr_diag *d);

#endif /* XR_FL_APPCFG_H */
