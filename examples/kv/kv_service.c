/*
 * examples/kv/kv_service.c — the store behind kv.v1.Kv: a sorted array of
 * keys and values in each worker process. The caller routes every call for
 * a key to the same worker (kv_client.c), so each worker holds its share
 * of the keys.
 *
 * The server has already refused a request whose key is over 64 bytes or
 * whose value is over 4096 (kv.options), before a handler runs.
 */
#include <stdlib.h>
#include <string.h>

#include "kv/v1/kv.xr.h"

#define KV_MAX_KEYS 100000	/* per worker */

struct entry {
	char *key;
	char *value;
};

static struct entry *tab;	/* sorted by key */
static size_t n, cap;

/* The index of `key`, or where it would go; *found 1 if it is there. */
static size_t
find(const char *key, int *found)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(tab[mid].key, key)) == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static void
kv_put(xr_call *call, const Kv__V1__PutRequest *req, void *arg)
{
	Kv__V1__PutResponse resp = KV__V1__PUT_RESPONSE__INIT;
	struct entry *t;
	char *v, *k = NULL;
	int found;
	size_t i = find(req->key, &found);

	(void)arg;
	if (!found && n == KV_MAX_KEYS) {
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED, "store full");
		return;
	}
	if (!found && n == cap) {
		if ((t = realloc(tab, (cap * 2 + 16) * sizeof(*t))) == NULL) {
			xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
			return;
		}
		tab = t;
		cap = cap * 2 + 16;
	}
	if ((v = strdup(req->value)) == NULL ||
	    (!found && (k = strdup(req->key)) == NULL)) {
		free(v);
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if (found) {
		free(tab[i].value);
	} else {
		memmove(&tab[i + 1], &tab[i], (n - i) * sizeof(*tab));
		tab[i].key = k;
		n++;
	}
	tab[i].value = v;
	resp.created = !found;
	kv_v1_Kv_Put_reply(call, &resp);
}

static void
kv_get(xr_call *call, const Kv__V1__GetRequest *req, void *arg)
{
	Kv__V1__GetResponse resp = KV__V1__GET_RESPONSE__INIT;
	int found;
	size_t i = find(req->key, &found);

	(void)arg;
	if (!found) {
		xr_call_fail(call, XR_STATUS_NOT_FOUND, "no such key");
		return;
	}
	resp.value = tab[i].value;
	kv_v1_Kv_Get_reply(call, &resp);
}

static void
kv_delete(xr_call *call, const Kv__V1__DeleteRequest *req, void *arg)
{
	Kv__V1__DeleteResponse resp = KV__V1__DELETE_RESPONSE__INIT;
	int found;
	size_t i = find(req->key, &found);

	(void)arg;
	if (!found) {
		xr_call_fail(call, XR_STATUS_NOT_FOUND, "no such key");
		return;
	}
	free(tab[i].key);
	free(tab[i].value);
	memmove(&tab[i], &tab[i + 1], (n - i - 1) * sizeof(*tab));
	n--;
	kv_v1_Kv_Delete_reply(call, &resp);
}

/* the handlers, bound to kv.v1.Kv's methods by name, and the module that
 * hosts them (main.c) */
static const kv_v1_Kv_handlers handlers = {
	.Put = kv_put, .Get = kv_get, .Delete = kv_delete,
};
kv_v1_Kv_MODULE_ADD(kv_add, &handlers, NULL)
const xr_service_module kv_module = kv_v1_Kv_MODULE(kv_add);
