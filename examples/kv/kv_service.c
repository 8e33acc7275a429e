/*
 * examples/kv/kv_service.c — the store behind kv.v1.Kv: a sorted array of
 * keys and values per registry, that is per worker process. The caller
 * routes every call for a key to the same worker (kv_client.c), so each
 * worker holds its share of the keys.
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

struct store {
	struct entry *tab;	/* sorted by key */
	size_t n, cap;
};

static void
store_free(void *arg)
{
	struct store *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		free(s->tab[i].key);
		free(s->tab[i].value);
	}
	free(s->tab);
	free(s);
}

/* The index of `key` in `s`, or where it would go; *found 1 if it is
 * there. */
static size_t
find(const struct store *s, const char *key, int *found)
{
	size_t lo = 0, hi = s->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(s->tab[mid].key, key)) == 0) {
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
	struct store *s = arg;
	struct entry *t;
	char *v, *k = NULL;
	int found;
	size_t i = find(s, req->key, &found);

	if (!found && s->n == KV_MAX_KEYS) {
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED, "store full");
		return;
	}
	if (!found && s->n == s->cap) {
		if ((t = realloc(s->tab, (s->cap * 2 + 16) * sizeof(*t))) ==
		    NULL) {
			xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
			return;
		}
		s->tab = t;
		s->cap = s->cap * 2 + 16;
	}
	if ((v = strdup(req->value)) == NULL ||
	    (!found && (k = strdup(req->key)) == NULL)) {
		free(v);
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	if (found) {
		free(s->tab[i].value);
	} else {
		memmove(&s->tab[i + 1], &s->tab[i],
		    (s->n - i) * sizeof(*s->tab));
		s->tab[i].key = k;
		s->n++;
	}
	s->tab[i].value = v;
	resp.created = !found;
	kv_v1_Kv_Put_reply(call, &resp);
}

static void
kv_get(xr_call *call, const Kv__V1__GetRequest *req, void *arg)
{
	Kv__V1__GetResponse resp = KV__V1__GET_RESPONSE__INIT;
	struct store *s = arg;
	int found;
	size_t i = find(s, req->key, &found);

	if (!found) {
		xr_call_fail(call, XR_STATUS_NOT_FOUND, "no such key");
		return;
	}
	resp.value = s->tab[i].value;
	kv_v1_Kv_Get_reply(call, &resp);
}

static void
kv_delete(xr_call *call, const Kv__V1__DeleteRequest *req, void *arg)
{
	Kv__V1__DeleteResponse resp = KV__V1__DELETE_RESPONSE__INIT;
	struct store *s = arg;
	int found;
	size_t i = find(s, req->key, &found);

	if (!found) {
		xr_call_fail(call, XR_STATUS_NOT_FOUND, "no such key");
		return;
	}
	free(s->tab[i].key);
	free(s->tab[i].value);
	memmove(&s->tab[i], &s->tab[i + 1], (s->n - i - 1) * sizeof(*s->tab));
	s->n--;
	kv_v1_Kv_Delete_reply(call, &resp);
}

/* the handlers, bound to kv.v1.Kv's methods by name, and the module that
 * hosts them (main.c): each registry gets a new store, and frees it */
static const kv_v1_Kv_handlers handlers = {
	.Put = kv_put, .Get = kv_get, .Delete = kv_delete,
};
kv_v1_Kv_MODULE_ADD_STATE(kv_add, &handlers,
    calloc(1, sizeof(struct store)), store_free)
const xr_service_module kv_module = kv_v1_Kv_MODULE(kv_add);
