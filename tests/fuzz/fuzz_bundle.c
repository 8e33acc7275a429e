/*
 * tests/fuzz/fuzz_bundle.c — the bootstrap bundle as a worker receives it:
 * the datagram's bytes through supervisor/bundle.c xr_bundle_decode() (what
 * xr_bundle_read() does once the one datagram arrived: protobuf-c decode,
 * validation against the module table and the config table's ranges), then
 * what the worker takes from the bundle (xr_bundle_slice, xr_bundle_app).
 * Module table: fundload.v1.FundLoad (apps.fundload, checked by
 * xr_fl_app_check) and echo.v1.Echo (no section).
 *
 * Invariants (abort() on violation):
 *  - the result is XR_OK or XR_ERR_CHILD_BOOTSTRAP_FAILED; on a refusal
 *    `out` is NULL and the diag carries the code with a non-empty,
 *    terminated, printable reason;
 *  - a bundle that does not decode as execrpc.v1.BootstrapBundle (checked
 *    here independently) is refused;
 *  - on XR_OK the bundle agrees with the decoded message (group, index,
 *    control session id, key lengths and kdf), its group name is 1..63
 *    bytes of [A-Za-z0-9_.-], its services are 1..XR_CFG_MAX_SERVICES
 *    distinct rows of the table (all of them when none is listed), its host
 *    is loopback and its limits pass the config table's ranges, its apps
 *    sections are distinct, within the config's bounds, and every module's
 *    check_app accepts its own; the slice is that runtime slice on tcp_local.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appcfg.h"
#include "bundle.h"
#include "cfgtab.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const xr_service_module mods[] = {
	{ "fundload.v1.FundLoad", NULL, XR_FL_APP, xr_fl_app_check },
	{ "echo.v1.Echo", NULL, NULL, NULL },
};
#define NMODS (sizeof(mods) / sizeof(mods[0]))

static void
check_printable(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);

	CHECK(end != NULL && end > s);
	for (; s < end; s++)
		CHECK(*s >= 0x20 && *s <= 0x7e);
}

static void
check_name(const char *s)
{
	size_t n = strlen(s);

	CHECK(n >= 1 && n < XR_CFG_NAME_MAX);
	CHECK(strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.-") == n);
}

static void
check_limit(int key, uint32_t v)
{
	xr_diag d;

	CHECK(xr_config_check_uint(xr_cfg_rows[key].path, v, &d) == XR_OK);
}

static void
check_bundle(const xr_bundle *b, const Execrpc__V1__BootstrapBundle *m)
{
	const Execrpc__V1__KeyBundle *k = m->keys;
	xr_config slice;
	xr_diag d;

	CHECK(TERMINATED(b->group) && strcmp(b->group, m->group) == 0);
	check_name(b->group);
	CHECK(b->index == m->index);
	CHECK(m->control_session_id.len == XR_SESSION_ID_LEN &&
	    memcmp(b->sid, m->control_session_id.data, XR_SESSION_ID_LEN) == 0);
	/* services */
	CHECK(b->n_services >= 1 && b->n_services <= XR_CFG_MAX_SERVICES);
	CHECK(m->n_services == 0 ? b->n_services == NMODS :
	    b->n_services == m->n_services);
	for (size_t i = 0; i < b->n_services; i++) {
		CHECK(b->mods[i] >= mods && b->mods[i] < mods + NMODS);
		if (m->n_services != 0)
			CHECK(strcmp(b->mods[i]->name, m->services[i]) == 0);
		for (size_t j = 0; j < i; j++)
			CHECK(b->mods[j] != b->mods[i]);
		if (b->mods[i]->check_app != NULL)
			CHECK(b->mods[i]->check_app(xr_bundle_app(b,
			    b->mods[i]->app), &d) == XR_OK);
	}
	/* runtime slice */
	CHECK(m->runtime != NULL);
	CHECK(TERMINATED(b->host) && strcmp(b->host, m->runtime->bind_host) ==
	    0 && xr_host_is_loopback(b->host));
	check_limit(XR_CK_BIND_PORT, b->bind_port);
	check_limit(XR_CK_MAX_PAYLOAD_BYTES, b->max_payload);
	check_limit(XR_CK_TTL_SECONDS, b->ttl);
	check_limit(XR_CK_NONCE_CACHE_SIZE, b->nonce_cache);
	/* apps */
	CHECK(b->n_apps <= XR_CFG_MAX_APPS);
	for (size_t i = 0; i < b->n_apps; i++) {
		const xr_app_section *a = &b->apps[i];

		CHECK(TERMINATED(a->name));
		check_name(a->name);
		CHECK(xr_bundle_app(b, a->name) == a);
		CHECK(a->n >= 1 && a->n <= XR_CFG_MAX_APP_SETTINGS);
		for (size_t j = 0; j < a->n; j++)
			CHECK(TERMINATED(a->s[j].key) && a->s[j].key[0] != '\0'
			    && TERMINATED(a->s[j].value));
	}
	CHECK(xr_bundle_app(b, NULL) == NULL);
	/* keys */
	CHECK(k != NULL);
	CHECK(b->keys.kdf == (k->kdf == EXECRPC__V1__KDF__KDF_NONE ?
	    XR_KDF_NONE : XR_KDF_HKDF_SHA256));
	CHECK(b->keys.k[XR_DIR_WEB_TO_EXEC].len == k->web_to_exec.len &&
	    b->keys.k[XR_DIR_EXEC_TO_WEB].len == k->exec_to_web.len &&
	    b->keys.k[XR_DIR_CONTROL].len == k->control.len);
	for (int i = 0; i < XR_DIR_COUNT; i++)
		CHECK(b->keys.k[i].len >= 32 && b->keys.k[i].len <= XR_KEY_MAX);
	/* what the worker serves with */
	xr_bundle_slice(b, &slice);
	CHECK(slice.transport == XR_TRANSPORT_TCP_LOCAL &&
	    strcmp(slice.bind_host, b->host) == 0 &&
	    slice.bind_port == b->bind_port &&
	    slice.max_payload_bytes == b->max_payload &&
	    slice.ttl_seconds == b->ttl &&
	    slice.nonce_cache_size == b->nonce_cache);
	xr_config_free(&slice);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Execrpc__V1__BootstrapBundle *m;
	xr_bundle *b = (xr_bundle *)(uintptr_t)1;
	xr_diag d;
	int r;

	if (size > XR_BUNDLE_MAX)	/* the channel never delivers more */
		return 0;
	memset(&d, 0x5a, sizeof(d));
	r = xr_bundle_decode(data, size, mods, NMODS, &b, &d);
	m = execrpc__v1__bootstrap_bundle__unpack(NULL, size, data);
	if (r != XR_OK) {
		CHECK(r == XR_ERR_CHILD_BOOTSTRAP_FAILED && d.code == r);
		CHECK(b == NULL);
		check_printable(d.reason, sizeof(d.reason));
	} else {
		CHECK(m != NULL && b != NULL);
		check_bundle(b, m);
		xr_bundle_free(b);
	}
	if (m != NULL)
		execrpc__v1__bootstrap_bundle__free_unpacked(m, NULL);
	return 0;
}
