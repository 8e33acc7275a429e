/*
 * tests/fundload/test_appcfg.c — apps/fundload/appcfg.c: the fund-load
 * module's own check of apps.fundload (the core keeps the section opaque),
 * its rules, and the --rules override.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "appcfg.h"

static void
load(const char *yaml, xr_config *cfg)
{
	xr_diag d;

	if (xr_config_load_string(yaml, strlen(yaml), cfg, &d) != XR_OK)
		fail_msg("config: %s", d.reason);
}

/* The section passes the core; only the module judges its keys. */
static void
test_check(void **state)
{
	static const struct {
		const char *yaml, *reason;	/* reason NULL: accepted */
		xr_rules rules;
	} t[] = {
		{ "", NULL, XR_RULES_BASELINE },
		{ "apps: {fundload: {}}", NULL, XR_RULES_BASELINE },
		{ "apps: {fundload: {rules: baseline}}", NULL,
		    XR_RULES_BASELINE },
		{ "apps: {fundload: {rules: experiment}}", NULL,
		    XR_RULES_EXPERIMENT },
		{ "apps: {other: {rules: strict}}", NULL, XR_RULES_BASELINE },
		{ "apps: {fundload: {bogus: 1}}",
		    "apps.fundload.bogus: unknown key (allowed: rules)", 0 },
		{ "apps: {fundload: {rules: experiment, x: {y: 1}}}",
		    "apps.fundload.x.y: unknown key (allowed: rules)", 0 },
		{ "apps: {fundload: {rules: [baseline]}}",
		    "apps.fundload.rules[0]: unknown key (allowed: rules)", 0 },
		{ "apps: {fundload: {rules: strict}}",
		    "apps.fundload.rules: unsupported value \"strict\" "
		    "(allowed: baseline, experiment)", 0 },
		{ "apps: {fundload: {rules: Baseline}}",
		    "apps.fundload.rules: unsupported value \"Baseline\" "
		    "(allowed: baseline, experiment)", 0 },
		{ "apps: {fundload: {rules: \"\"}}",
		    "apps.fundload.rules: unsupported value \"\" "
		    "(allowed: baseline, experiment)", 0 },
		{ "apps: {fundload: {rules: \"a\\\"b\\u0001\"}}",
		    "apps.fundload.rules: unsupported value \"a\\\"b\\x01\" "
		    "(allowed: baseline, experiment)", 0 },
		/* cut to what fits the 40-byte buffer, marked */
		{ "apps: {fundload: {rules: "
		    "0123456789012345678901234567890123456789}}",
		    "apps.fundload.rules: unsupported value "
		    "\"012345678901234567890123456789012345...\" "
		    "(allowed: baseline, experiment)", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const xr_app_section *sec;
		xr_config cfg;
		xr_diag d = { 0 };
		int r;

		load(t[i].yaml, &cfg);
		sec = xr_config_app(&cfg, XR_FL_APP);
		r = xr_fl_app_check(sec, &d);
		if (t[i].reason == NULL) {
			if (r != XR_OK)
				fail_msg("%s: refused: %s", t[i].yaml,
				    d.reason);
			assert_int_equal(xr_fl_app_rules(sec), t[i].rules);
		} else {
			assert_int_equal(r, XR_ERR_CONFIG_INVALID);
			assert_int_equal(d.code, XR_ERR_CONFIG_INVALID);
			assert_string_equal(d.reason, t[i].reason);
		}
		xr_config_free(&cfg);
	}
	assert_int_equal(xr_fl_app_check(NULL, NULL), XR_OK);
	assert_int_equal(xr_fl_app_rules(NULL), XR_RULES_BASELINE);
}

/* --rules: replaces the key, adds it, or adds the section; fails only
 * when the config has no room. */
static void
test_set_rules(void **state)
{
	char y[2048];
	size_t o;
	xr_config cfg;
	xr_diag d = { 0 };

	(void)state;
	load("apps: {fundload: {rules: baseline}}", &cfg);
	assert_int_equal(xr_fl_app_set_rules(&cfg, XR_RULES_EXPERIMENT, &d),
	    XR_OK);
	assert_int_equal(cfg.n_apps, 1);
	assert_int_equal(cfg.apps[0].n, 1);
	assert_string_equal(xr_app_get(xr_config_app(&cfg, XR_FL_APP),
	    "rules"), "experiment");
	xr_config_free(&cfg);

	load("apps: {a: {k: v}, fundload: {}}", &cfg);
	assert_int_equal(xr_fl_app_set_rules(&cfg, XR_RULES_EXPERIMENT, &d),
	    XR_OK);
	assert_int_equal(xr_fl_app_rules(xr_config_app(&cfg, XR_FL_APP)),
	    XR_RULES_EXPERIMENT);
	xr_config_free(&cfg);

	load("", &cfg);
	assert_int_equal(xr_fl_app_set_rules(&cfg, XR_RULES_BASELINE, &d),
	    XR_OK);
	assert_int_equal(cfg.n_apps, 1);
	assert_string_equal(cfg.apps[0].name, "fundload");
	assert_string_equal(cfg.apps[0].s[0].key, "rules");
	assert_string_equal(cfg.apps[0].s[0].value, "baseline");
	xr_config_free(&cfg);

	/* eight other sections: no room for a ninth */
	o = (size_t)snprintf(y, sizeof(y), "apps:\n");
	for (int i = 0; i < XR_CFG_MAX_APPS; i++)
		o += (size_t)snprintf(y + o, sizeof(y) - o, "  a%d: {}\n", i);
	load(y, &cfg);
	assert_int_equal(xr_fl_app_set_rules(&cfg, XR_RULES_BASELINE, &d),
	    XR_ERR_CONFIG_INVALID);
	assert_string_equal(d.reason, "apps: no room for apps.fundload "
	    "(allowed: 0..8 sections)");
	xr_config_free(&cfg);
}

static void
test_names(void **state)
{
	xr_rules r = XR_RULES_EXPERIMENT;

	(void)state;
	assert_string_equal(xr_rules_name(XR_RULES_BASELINE), "baseline");
	assert_string_equal(xr_rules_name(XR_RULES_EXPERIMENT), "experiment");
	assert_string_equal(xr_rules_name((xr_rules)2), "unknown");
	assert_int_equal(xr_rules_parse("baseline", &r), XR_OK);
	assert_int_equal(r, XR_RULES_BASELINE);
	assert_int_equal(xr_rules_parse("experiment", &r), XR_OK);
	assert_int_equal(r, XR_RULES_EXPERIMENT);
	assert_int_equal(xr_rules_parse("lenient", &r), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_rules_parse(NULL, &r), XR_ERR_INVALID_ARG);
	assert_int_equal(r, XR_RULES_EXPERIMENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_set_rules),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
