/*
 * tests/sdk/consumer/main.c — kvdemo, a user's program on the installed
 * SDK: the service kv.v1.Kv (kv_service.c) hosted by an inline lifecycle
 * (transport from argv[1]: memory or tcp_local) and called through the
 * lifecycle's ingress with the typed nanopb stubs execrpc_generate() made.
 * Prints each answer; tests/sdk/test_install.sh checks the exact output.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include <execrpc/client.h>
#include <execrpc/runtime.h>

#include "kv/v1/kv.xrc.h"
#include "kv_service.h"

int note_max_size(void);

static void
put(xr_channel *ch, const char *key, const char *value)
{
	kv_v1_PutRequest req = kv_v1_PutRequest_init_zero;
	kv_v1_PutResponse resp = kv_v1_PutResponse_init_zero;
	xr_status st;

	snprintf(req.key, sizeof(req.key), "%s", key);
	snprintf(req.value, sizeof(req.value), "%s", value);
	if (kv_v1_Kv_Put(ch, &req, &resp, 5000, &st) != XR_STATUS_OK)
		printf("put %s: status %d %s\n", key, st.code, st.message);
	else
		printf("put %s: %s\n", key, resp.created ? "created" :
		    "replaced");
}

static void
get(xr_channel *ch, const char *key)
{
	kv_v1_GetRequest req = kv_v1_GetRequest_init_zero;
	kv_v1_GetResponse resp = kv_v1_GetResponse_init_zero;
	xr_status st;

	snprintf(req.key, sizeof(req.key), "%s", key);
	if (kv_v1_Kv_Get(ch, &req, &resp, 5000, &st) != XR_STATUS_OK)
		printf("get %s: status %d %s\n", key, st.code, st.message);
	else
		printf("get %s: %s\n", key, resp.value);
}

int
main(int argc, char **argv)
{
	static const char *const ingress[] = { kv_v1_Kv_SERVICE };
	struct event_base *base = NULL;
	xr_lifecycle_opts o;
	xr_lifecycle *lc = NULL;
	xr_config cfg;
	xr_channel *ch;
	xr_diag d = { 0 };
	char yaml[512];
	int err, ret = 1;

	if (argc != 2 || (strcmp(argv[1], "memory") != 0 &&
	    strcmp(argv[1], "tcp_local") != 0)) {
		fprintf(stderr, "usage: kvdemo memory|tcp_local\n");
		return 64;
	}
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: %s\n"
	    "    process_groups:\n"
	    "      - name: kv\n"
	    "        services: [kv.v1.Kv]\n", argv[1]);
	xr_config_defaults(&cfg);
	if ((base = event_base_new()) == NULL ||
	    xr_config_load_string(yaml, strlen(yaml), &cfg, &d) != XR_OK)
		goto out;
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	o.mods = kv_modules;
	o.n_mods = kv_n_modules;
	o.ingress_services = ingress;
	o.n_ingress_services = 1;
	if ((lc = xr_lifecycle_new(base, &o, &d)) == NULL ||
	    xr_lifecycle_start(lc, &d) != XR_OK ||
	    xr_lifecycle_ready(lc, &d) != XR_OK)
		goto out;
	printf("%s: %s\n", argv[1], xr_lc_state_name(xr_lifecycle_status(lc)));
	if ((ch = xr_lifecycle_pick(lc, kv_v1_Kv_SERVICE, NULL, 0, &err)) == NULL) {
		xr_diag_set(&d, err, "pick kv.v1.Kv");
		goto out;
	}
	put(ch, "a", "b");
	put(ch, "a", "b2");
	get(ch, "a");
	get(ch, "zz");
	printf("note max %d\n", note_max_size());
	if (xr_lifecycle_stop(lc, &d) != XR_OK)
		goto out;
	printf("%s\n", xr_lc_state_name(xr_lifecycle_status(lc)));
	ret = 0;
 out:
	if (ret != 0)
		xr_diag_print(stderr, "kvdemo", d.code, &d);
	xr_lifecycle_free(lc);
	xr_config_free(&cfg);
	if (base != NULL)
		event_base_free(base);
	return ret;
}
