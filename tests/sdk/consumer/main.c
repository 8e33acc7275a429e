/*
 * tests/sdk/consumer/main.c — a user's program on the installed SDK: the
 * service kv.v1.Kv (Put, Get) on the code execrpc_generate() made from
 * proto/kv/v1/kv.proto (typed handlers bound by name, a service module),
 * hosted by an inline lifecycle (transport from argv[1]: memory or
 * tcp_local) and called through the lifecycle's ingress with the typed
 * nanopb stubs. Prints each answer; tests/sdk/test_install.sh checks the
 * exact output.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include <execrpc/client.h>
#include <execrpc/runtime.h>

#include "kv/v1/kv.xr.h"
#include "kv/v1/kv.xrc.h"

int note_max_size(void);

/* ---- the service ---------------------------------------------------------- */

#define KV_MAX 8

static struct {
	char key[32];
	char value[64];
} store[KV_MAX];
static size_t n_store;

static int
find(const char *key)
{
	size_t i;

	for (i = 0; i < n_store; i++)
		if (strcmp(store[i].key, key) == 0)
			return (int)i;
	return -1;
}

static void
kv_put(xr_call *call, const Kv__V1__PutRequest *req, void *arg)
{
	Kv__V1__PutResponse resp = KV__V1__PUT_RESPONSE__INIT;
	int i = find(req->key);

	(void)arg;
	if (i < 0) {
		if (n_store == KV_MAX) {
			xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED, "full");
			return;
		}
		i = (int)n_store++;
		snprintf(store[i].key, sizeof(store[i].key), "%s", req->key);
		resp.created = 1;
	}
	snprintf(store[i].value, sizeof(store[i].value), "%s", req->value);
	kv_v1_Kv_Put_reply(call, &resp);
}

static void
kv_get(xr_call *call, const Kv__V1__GetRequest *req, void *arg)
{
	Kv__V1__GetResponse resp = KV__V1__GET_RESPONSE__INIT;
	char why[64];
	int i = find(req->key);

	(void)arg;
	if (i < 0) {
		snprintf(why, sizeof(why), "no key %s", req->key);
		xr_call_fail(call, XR_STATUS_NOT_FOUND, why);
		return;
	}
	resp.value = store[i].value;
	kv_v1_Kv_Get_reply(call, &resp);
}

/* bound by name: the order of the fields does not matter */
static const kv_v1_Kv_handlers kv = { .Get = kv_get, .Put = kv_put };
kv_v1_Kv_MODULE_ADD(kv_add, &kv, NULL)

static const xr_service_module mods[] = { kv_v1_Kv_MODULE(kv_add) };

/* ---- the caller ----------------------------------------------------------- */

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
	o.mods = mods;
	o.n_mods = sizeof(mods) / sizeof(mods[0]);
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
