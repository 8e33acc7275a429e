/*
 * tests/plugin/helper_kv.c — the test service xrtest.v1.Kv on the generated
 * typed handlers: a tiny store, two text transforms, an echo that can be
 * told to answer out of its bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ctype.h>

#include "helper_kv.h"

void
kvt_store_free(struct store *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->val[i]);
	memset(s, 0, sizeof(*s));
}

void
kv_put(xr_call *call, const Xrtest__V1__PutRequest *req, void *arg)
{
	Xrtest__V1__PutResponse resp = XRTEST__V1__PUT_RESPONSE__INIT;
	struct store *s = arg;
	int i;

	s->calls[M_PUT]++;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->key[i], req->key) == 0)
			break;
	if (i == STORE_MAX || strlen(req->key) > 64) {
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED, "store full");
		return;
	}
	if (i == s->n)
		s->n++;
	snprintf(s->key[i], sizeof(s->key[i]), "%s", req->key);
	free(s->val[i]);
	assert_non_null(s->val[i] = malloc(req->value.len + 1));
	memcpy(s->val[i], req->value.data, req->value.len);
	s->len[i] = req->value.len;
	resp.stored = (uint32_t)req->value.len;
	assert_int_equal(xrtest_v1_Kv_Put_reply(call, &resp), XR_OK);
}

void
kv_get(xr_call *call, const Xrtest__V1__GetRequest *req, void *arg)
{
	Xrtest__V1__GetResponse resp = XRTEST__V1__GET_RESPONSE__INIT;
	struct store *s = arg;
	uint8_t *huge = NULL;
	int i;

	s->calls[M_GET]++;
	if (strcmp(req->key, "huge") == 0) {
		/* more than a client could decode: the server refuses it */
		assert_non_null(huge = calloc(1, HUGE_LEN));
		resp.found = 1;
		resp.value.data = huge;
		resp.value.len = HUGE_LEN;
	}
	for (i = 0; huge == NULL && i < s->n; i++)
		if (strcmp(s->key[i], req->key) == 0) {
			resp.found = 1;
			resp.value.data = s->val[i];
			resp.value.len = s->len[i];
		}
	xrtest_v1_Kv_Get_reply(call, &resp);
	free(huge);
}

static void
text_reply(xr_call *call, const char *in, int (*fn)(int))
{
	Xrtest__V1__Text resp = XRTEST__V1__TEXT__INIT;
	size_t i, n = strlen(in);

	assert_non_null(resp.text = malloc(n + 1));
	for (i = 0; i <= n; i++)
		resp.text[i] = (char)fn((unsigned char)in[i]);
	assert_int_equal(xrtest_v1_Kv_Upper_reply(call, &resp), XR_OK);
	free(resp.text);
}

void
kv_upper(xr_call *call, const Xrtest__V1__Text *req, void *arg)
{
	((struct store *)arg)->calls[M_UPPER]++;
	text_reply(call, req->text, toupper);
}

void
kv_lower(xr_call *call, const Xrtest__V1__Text *req, void *arg)
{
	((struct store *)arg)->calls[M_LOWER]++;
	text_reply(call, req->text, tolower);
}

void
kv_echo(xr_call *call, const Xrtest__V1__Batch *req, void *arg)
{
	Xrtest__V1__Batch bad = XRTEST__V1__BATCH__INIT;
	Xrtest__V1__Item item = XRTEST__V1__ITEM__INIT, *items[1] = { &item };
	char name[31];

	((struct store *)arg)->calls[M_ECHO]++;
	if (req->pick_case != XRTEST__V1__BATCH__PICK_NAME ||
	    strcmp(req->name, "break") != 0) {
		xrtest_v1_Kv_Echo_reply(call, req);
		return;
	}
	/* a small response with a field over its bound: not sent */
	memset(name, 'n', 30);
	name[30] = '\0';
	item.name = name;
	bad.n_items = 1;
	bad.items = items;
	xrtest_v1_Kv_Echo_reply(call, &bad);
}

const xrtest_v1_Kv_handlers kv_handlers = {
	.Put = kv_put,
	.Get = kv_get,
	.Upper = kv_upper,
	.Lower = kv_lower,
	.Echo = kv_echo,
};

