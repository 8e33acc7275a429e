/*
 * tests/fuzz/fuzz_config.c — core/config.c xr_config_load_string() on
 * arbitrary bytes, then core/summary.c on what it accepts.
 *
 * Invariants (abort() on violation):
 *  - the result is XR_OK or a config-category code, and the diag carries
 *    the same code with a non-empty, terminated reason;
 *  - on a reject `cfg` is exactly the defaults (nothing owned);
 *  - on XR_OK every field is in its documented range, every string is
 *    terminated inside its array, the bind host is loopback, the apps
 *    sections are within their bounds and unique by name; the summary
 *    renders, is a JSON object, and never contains the inline secret.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem */
#endif
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "summary.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
check_ranges(const xr_config *c)
{
	size_t i, j;

	CHECK(c->transport == XR_TRANSPORT_MEMORY ||
	    c->transport == XR_TRANSPORT_TCP_LOCAL);
	CHECK(TERMINATED(c->bind_host) && xr_host_is_loopback(c->bind_host));
	CHECK(c->bind_port <= 65535);
	CHECK(c->max_payload_bytes >= 1 &&
	    c->max_payload_bytes <= 64u * 1024 * 1024);
	CHECK(c->auth_mode == XR_AUTH_HMAC);
	CHECK(c->secret_mode == XR_SECRET_GENERATED ||
	    c->secret_mode == XR_SECRET_STATIC);
	CHECK(TERMINATED(c->secret_file));
	if (c->secret_mode == XR_SECRET_GENERATED)
		CHECK(c->secret_inline == NULL && c->secret_file[0] == '\0');
	else
		CHECK((c->secret_inline != NULL) != (c->secret_file[0] != '\0'));
	if (c->secret_inline != NULL)
		CHECK(c->secret_inline_len >= XR_SECRET_MIN &&
		    c->secret_inline_len <= XR_SECRET_MAX);
	CHECK(c->kdf == XR_KDF_NONE || c->kdf == XR_KDF_HKDF_SHA256);
	CHECK(c->ttl_seconds >= 1 && c->ttl_seconds <= 3600);
	CHECK(c->nonce_cache_size >= 16 && c->nonce_cache_size <= 16777216);
	CHECK(c->boot_mode == XR_BOOT_INLINE ||
	    c->boot_mode == XR_BOOT_PROCESS_SUPERVISOR);
	if (c->boot_mode == XR_BOOT_PROCESS_SUPERVISOR)
		CHECK(c->transport == XR_TRANSPORT_TCP_LOCAL);
	CHECK(c->ready_timeout_seconds >= 1 &&
	    c->ready_timeout_seconds <= 3600);
	CHECK(c->graceful_timeout_seconds <= 3600);
	CHECK(TERMINATED(c->control_socket));
	CHECK(c->n_groups >= 1 && c->n_groups <= XR_CFG_MAX_GROUPS);
	for (i = 0; i < c->n_groups; i++) {
		const xr_group_cfg *g = &c->groups[i];

		CHECK(TERMINATED(g->name) && g->name[0] != '\0');
		CHECK(g->workers >= 1 && g->workers <= 64);
		CHECK(g->restart == XR_RESTART_NEVER ||
		    g->restart == XR_RESTART_ON_FAILURE);
		CHECK(g->n_services <= XR_CFG_MAX_SERVICES);
		for (j = 0; j < g->n_services; j++)
			CHECK(TERMINATED(g->services[j]) &&
			    g->services[j][0] != '\0');
		for (j = 0; j < i; j++)
			CHECK(strcmp(c->groups[j].name, g->name) != 0);
	}
	CHECK(c->n_apps <= XR_CFG_MAX_APPS);
	for (i = 0; i < c->n_apps; i++) {
		const xr_app_section *a = &c->apps[i];

		CHECK(TERMINATED(a->name) && a->name[0] != '\0');
		CHECK(a->n <= XR_CFG_MAX_APP_SETTINGS);
		CHECK(xr_config_app(c, a->name) == a);
		for (j = 0; j < a->n; j++) {
			CHECK(TERMINATED(a->s[j].key) && a->s[j].key[0] != '\0');
			CHECK(TERMINATED(a->s[j].value));
		}
		for (j = 0; j < i; j++)
			CHECK(strcmp(c->apps[j].name, a->name) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xr_config cfg, defaults;
	xr_diag d;
	char *json = NULL;
	json_t *root;
	int r;

	memset(&d, 0x5a, sizeof(d));
	r = xr_config_load_string((const char *)data, size, &cfg, &d);
	if (r != XR_OK) {
		CHECK(r == XR_ERR_CONFIG_INVALID || r == XR_ERR_CONFIG_SYNTAX ||
		    r == XR_ERR_SECRET_INVALID);
		CHECK(d.code == r);
		CHECK(TERMINATED(d.reason) && d.reason[0] != '\0');
		xr_config_defaults(&defaults);
		CHECK(memcmp(&cfg, &defaults, sizeof(cfg)) == 0);
		xr_config_free(&cfg);
		return 0;
	}
	check_ranges(&cfg);
	CHECK(xr_summary_json(&cfg, &json) == XR_OK && json != NULL);
	CHECK((root = json_loads(json, 0, NULL)) != NULL);
	CHECK(json_is_object(root));
	json_decref(root);
	if (cfg.secret_inline != NULL)
		CHECK(memmem(json, strlen(json), cfg.secret_inline,
		    cfg.secret_inline_len) == NULL);
	free(json);
	xr_config_free(&cfg);
	return 0;
}
