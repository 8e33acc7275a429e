/*
 * tests/plugin/helper_kv.h — the test service xrtest.v1.Kv
 * (proto/xrtest/v1/kvt.proto) on the generated typed handlers; each
 * handler counts its calls in the store it gets as its arg.
 *   Put    stores value under key (at most KVT_STORE_MAX keys)
 *   Get    the value; key "huge": a value over Get's response bound
 *   Upper, Lower  the text, upper- / lower-cased
 *   Echo   the request back; with the oneof's name "break": a small
 *          response whose item name is over its bound
 */
#ifndef TS_HELPER_KV_H
#define TS_HELPER_KV_H

#include <stddef.h>
#include <stdint.h>

#include "xrtest/v1/kvt.xr.h"

enum { M_PUT, M_GET, M_UPPER, M_LOWER, M_ECHO, M_COUNT };

#define STORE_MAX 4
#define HUGE_LEN 5000		/* over Get's 4101-byte response bound */

struct store {
	char key[STORE_MAX][65];
	uint8_t *val[STORE_MAX];
	size_t len[STORE_MAX];
	int n;
	int calls[M_COUNT];
};

/* Free the values; the store is empty after. */
void kvt_store_free(struct store *s);

void kv_put(xr_call *call, const Xrtest__V1__PutRequest *req, void *arg);
void kv_get(xr_call *call, const Xrtest__V1__GetRequest *req, void *arg);
void kv_upper(xr_call *call, const Xrtest__V1__Text *req, void *arg);
void kv_lower(xr_call *call, const Xrtest__V1__Text *req, void *arg);
void kv_echo(xr_call *call, const Xrtest__V1__Batch *req, void *arg);

/* Every handler in its own field. */
extern const xrtest_v1_Kv_handlers kv_handlers;

#endif
