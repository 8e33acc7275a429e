/*
 * tests/plugin/test_module.c — the generated service module
 * (xrtest_v1_Kv_MODULE_ADD / xrtest_v1_Kv_MODULE): the runtime hosts
 * xrtest.v1.Kv by its name from a config, inline over memory and over
 * tcp_local, and the typed stubs call it through the lifecycle's pick;
 * xrtest_v1_Kv_MODULE_ADD_STATE's state is the registry's, and a failed
 * add() reports its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/event.h>

#include "config.h"
#include "runtime.h"
#include "helper_kv.h"
#include "xrtest/v1/kvt.xrc.h"

static struct store the_store;
static int args_made;

/* The module's arg, made once per registry from its context. */
static struct store *
store_for(const xr_worker_ctx *ctx)
{
	assert_non_null(ctx->base);
	args_made++;
	return &the_store;
}

xrtest_v1_Kv_MODULE_ADD(kv_add, &kv_handlers, store_for(ctx))

static const xr_service_module mods[] = {
	xrtest_v1_Kv_MODULE(kv_add),
};

/* xrtest_v1_Kv_MODULE_ADD_STATE: a store per registry, owned by it. The
 * store's maker fails as `fail_as` says: 0 never, 1 NULL alone, 2 NULL
 * with a reason in the add()'s diagnostic. */
static int stores_made, stores_freed, fail_as;

static struct store *
store_new(const xr_worker_ctx *ctx, xr_diag *d)
{
	assert_non_null(ctx->base);
	if (fail_as == 2)
		xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "kv: no room for a store");
	if (fail_as != 0)
		return NULL;
	stores_made++;
	return calloc(1, sizeof(struct store));
}

static void
store_free(void *arg)
{
	stores_freed++;
	kvt_store_free(arg);
	free(arg);
}

xrtest_v1_Kv_MODULE_ADD_STATE(kv_add_owned, &kv_handlers,
    store_new(ctx, d), store_free)

static const xr_service_module owned_mods[] = {
	xrtest_v1_Kv_MODULE(kv_add_owned),
};

static void
host_and_call(const char *yaml)
{
	struct event_base *base = event_base_new();
	xrtest_v1_PutRequest *put = calloc(1, sizeof(*put));
	xrtest_v1_PutResponse pr = xrtest_v1_PutResponse_init_zero;
	xrtest_v1_Text tq = xrtest_v1_Text_init_zero, tr;
	xr_lifecycle_opts o = { 0 };
	xr_lifecycle *lc;
	xr_channel *ch;
	xr_config cfg;
	xr_diag d = { 0 };
	xr_status st;
	int err = 0;

	assert_non_null(base);
	assert_non_null(put);
	memset(&the_store, 0, sizeof(the_store));
	args_made = 0;
	assert_int_equal(xr_config_load_string(yaml, strlen(yaml), &cfg, &d),
	    XR_OK);
	o.cfg = &cfg;
	o.mods = mods;
	o.n_mods = 1;
	assert_non_null(lc = xr_lifecycle_new(base, &o, &d));
	assert_int_equal(xr_lifecycle_start(lc, &d), XR_OK);
	assert_int_equal(xr_lifecycle_ready(lc, &d), XR_OK);
	assert_int_equal(args_made, 1);

	assert_non_null(ch = xr_lifecycle_pick(lc, xrtest_v1_Kv_SERVICE, NULL,
	    0, &err));
	snprintf(put->key, sizeof(put->key), "k");
	put->value.size = 2;
	assert_int_equal(xrtest_v1_Kv_Put(ch, put, &pr, 5000, &st),
	    XR_STATUS_OK);
	assert_int_equal(pr.stored, 2);
	snprintf(tq.text, sizeof(tq.text), "Hosted");
	assert_int_equal(xrtest_v1_Kv_Lower(ch, &tq, &tr, 5000, &st),
	    XR_STATUS_OK);
	assert_string_equal(tr.text, "hosted");
	assert_int_equal(the_store.calls[M_PUT], 1);
	assert_int_equal(the_store.calls[M_LOWER], 1);
	assert_int_equal(the_store.n, 1);
	assert_string_equal(the_store.key[0], "k");

	assert_int_equal(xr_lifecycle_stop(lc, &d), XR_OK);
	xr_lifecycle_free(lc);
	xr_config_free(&cfg);
	event_base_free(base);
	kvt_store_free(&the_store);
	free(put);
}

static void
test_module_inline_memory(void **state)
{
	(void)state;
	host_and_call("runtime:\n  platform:\n    process_groups:\n"
	    "      - name: execution\n        services: [xrtest.v1.Kv]\n");
}

static void
test_module_inline_tcp(void **state)
{
	(void)state;
	host_and_call("runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n    process_groups:\n"
	    "      - name: execution\n        services: [xrtest.v1.Kv]\n");
}

/* The owned store: made once per registry, freed exactly once with it
 * (after the stop, in xr_lifecycle_free), the values it holds with it (a
 * leak would fail the sanitizer build); a maker that returns NULL fails
 * the add() with out of memory, or with the reason it gave. */
static void
test_module_state_owned(void **state)
{
	static const char yaml[] = "runtime:\n  platform:\n"
	    "    process_groups:\n"
	    "      - name: execution\n        services: [xrtest.v1.Kv]\n";
	static const char *const why[3] = { NULL,
	    "service \"xrtest.v1.Kv\": registration failed: xrtest.v1.Kv: "
	    "no state for the handlers",
	    "service \"xrtest.v1.Kv\": registration failed: kv: no room for "
	    "a store" };
	struct event_base *base = event_base_new();
	xrtest_v1_PutRequest *put = calloc(1, sizeof(*put));
	xrtest_v1_PutResponse pr = xrtest_v1_PutResponse_init_zero;
	xr_lifecycle_opts o = { 0 };
	xr_lifecycle *lc;
	xr_channel *ch;
	xr_config cfg;
	xr_diag d = { 0 };
	xr_status st;
	int err = 0;

	(void)state;
	assert_non_null(base);
	assert_non_null(put);
	assert_int_equal(xr_config_load_string(yaml, strlen(yaml), &cfg, &d),
	    XR_OK);
	o.cfg = &cfg;
	o.mods = owned_mods;
	o.n_mods = 1;
	for (fail_as = 1; fail_as <= 2; fail_as++) {
		stores_made = stores_freed = 0;
		memset(&d, 0, sizeof(d));
		assert_non_null(lc = xr_lifecycle_new(base, &o, &d));
		assert_int_equal(xr_lifecycle_start(lc, &d),
		    XR_ERR_LIFECYCLE_RESOLUTION);
		assert_string_equal(d.reason, why[fail_as]);
		xr_lifecycle_free(lc);
		assert_int_equal(stores_made, 0);
		assert_int_equal(stores_freed, 0);
	}
	fail_as = 0;
	stores_made = stores_freed = 0;
	assert_non_null(lc = xr_lifecycle_new(base, &o, &d));
	assert_int_equal(xr_lifecycle_start(lc, &d), XR_OK);
	assert_int_equal(xr_lifecycle_ready(lc, &d), XR_OK);
	assert_int_equal(stores_made, 1);
	assert_non_null(ch = xr_lifecycle_pick(lc, xrtest_v1_Kv_SERVICE, NULL,
	    0, &err));
	snprintf(put->key, sizeof(put->key), "k");
	put->value.size = 3;
	assert_int_equal(xrtest_v1_Kv_Put(ch, put, &pr, 5000, &st),
	    XR_STATUS_OK);
	assert_int_equal(pr.stored, 3);
	assert_int_equal(xr_lifecycle_stop(lc, &d), XR_OK);
	assert_int_equal(stores_freed, 0);
	xr_lifecycle_free(lc);
	assert_int_equal(stores_made, 1);
	assert_int_equal(stores_freed, 1);
	xr_config_free(&cfg);
	event_base_free(base);
	free(put);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_module_inline_memory),
		cmocka_unit_test(test_module_inline_tcp),
		cmocka_unit_test(test_module_state_owned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
