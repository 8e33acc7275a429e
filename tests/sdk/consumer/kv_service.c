/*
 * tests/sdk/consumer/kv_service.c — the service kv.v1.Kv (Put, Get) on the
 * code execrpc_generate() made from proto/kv/v1/kv.proto: typed handlers
 * bound by name, one service module. A process-wide store (one per worker
 * process).
 */
#include "kv_service.h"

#include <stdio.h>
#include <string.h>

#include "kv/v1/kv.xr.h"

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

const xr_service_module kv_modules[] = { kv_v1_Kv_MODULE(kv_add) };
const size_t kv_n_modules = sizeof(kv_modules) / sizeof(kv_modules[0]);
