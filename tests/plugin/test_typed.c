/*
 * tests/plugin/test_typed.c — the code protoc-gen-execrpc generated at build
 * time from tests/plugin/proto/xrtest/v1/kvt.proto: typed handlers
 * registered by method name (server, protobuf-c) called through the typed
 * stubs (client, nanopb) over a memory channel and a tcp_local endpoint;
 * handlers bound by name whatever the values' order; a missing handler; a
 * request and a response over the declared limits, in total and field by
 * field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

#include <event2/event.h>
#include <pb_encode.h>

#include "err.h"
#include "keys.h"
#include "loop.h"
#include "registry.h"
#include "rx.h"
#include "server.h"
#include "execrpc/client.h"
#include "xrtest/v1/kvt.xr.h"
#include "xrtest/v1/kvt.xrc.h"

#include "helper_kv.h"

/* ---- fixtures: a memory channel, or a server thread and a tcp channel --- */

static const uint8_t master[32] = {
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
};

struct fx {
	struct store st;
	struct event_base *base;	/* the client's (and memory server's) */
	xr_registry *reg;
	xr_channel *ch;
	xr_local_target tgt;
	/* tcp_local: the server runs on its own base in a thread */
	int tcp;
	pthread_t thr;
	struct event_base *sbase;
	xr_server *srv;
	int ctl[2];
	struct event *ctl_ev;
	xr_keyset ks;
};

static void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;
	char c;

	(void)what;
	if (read(fd, &c, 1) == 1)
		event_base_loopbreak(f->sbase);
}

static void *
server_main(void *arg)
{
	struct fx *f = arg;

	event_base_dispatch(f->sbase);
	return NULL;
}

static int
setup_memory(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	xr_diag d = { 0 };

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	assert_non_null(f->reg = xr_registry_new(f->base));
	assert_int_equal(xrtest_v1_Kv_register(f->reg, &kv_handlers, &f->st,
	    &d), XR_OK);
	f->tgt = xr_registry_local_target(f->reg);
	assert_non_null(f->ch = xr_channel_new_memory(f->base, &f->tgt));
	*state = f;
	return 0;
}

static int
setup_tcp(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	xr_server_opts so = { 0 };
	xr_channel_opts co = { 0 };
	xr_diag d = { 0 };
	int err = -99;

	assert_non_null(f);
	f->tcp = 1;
	assert_int_equal(xr_keys_derive(master, sizeof(master),
	    XR_KDF_HKDF_SHA256, &f->ks), XR_OK);
	assert_non_null(f->sbase = event_base_new());
	assert_non_null(f->reg = xr_registry_new(f->sbase));
	assert_int_equal(xrtest_v1_Kv_register(f->reg, &kv_handlers, &f->st,
	    &d), XR_OK);
	assert_non_null(f->srv = xr_server_new(f->sbase, &so, &f->ks, f->reg,
	    &d));
	assert_int_equal(xr_server_listen(f->srv, &d), XR_OK);
	assert_int_equal(pipe(f->ctl), 0);
	f->ctl_ev = event_new(f->sbase, f->ctl[0], EV_READ, ctl_cb, f);
	event_add(f->ctl_ev, NULL);
	assert_int_equal(pthread_create(&f->thr, NULL, server_main, f), 0);

	assert_non_null(f->base = event_base_new());
	co.host = "127.0.0.1";
	co.port = xr_server_port(f->srv);
	co.client_name = "test-plugin";
	assert_non_null(f->ch = xr_channel_new_tcp(f->base, &co, &f->ks, &err));
	assert_int_equal(xr_channel_wait_ready(f->ch, 5000), XR_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	xr_channel_free(f->ch);
	if (f->tcp) {
		assert_int_equal(write(f->ctl[1], "q", 1), 1);
		pthread_join(f->thr, NULL);
		event_free(f->ctl_ev);
		close(f->ctl[0]);
		close(f->ctl[1]);
		xr_server_free(f->srv);
		event_base_free(f->sbase);
		xr_keyset_wipe(&f->ks);
	}
	xr_registry_free(f->reg);
	event_base_free(f->base);
	kvt_store_free(&f->st);
	free(f);
	return 0;
}

/* ---- blocking and async calls through the typed stubs ---- */

struct got_get {
	int done;
	xr_status st;
	int found;
	size_t len;
	uint8_t first;
};

static void
get_done(void *arg, const xr_status *st, const xrtest_v1_GetResponse *resp)
{
	struct got_get *g = arg;

	g->done++;
	g->st = *st;
	if (resp != NULL) {
		g->found = resp->found;
		g->len = resp->value.size;
		g->first = resp->value.size > 0 ? resp->value.bytes[0] : 0;
	}
}

static int
got_done(void *arg)
{
	return ((struct got_get *)arg)->done > 0;
}

/* Put a value, read it back blocking and async, run Upper and Echo: the
 * same answers over both transports. */
static void
test_typed_calls(void **state)
{
	struct fx *f = *state;
	xrtest_v1_PutRequest *put = calloc(1, sizeof(*put));
	xrtest_v1_PutResponse pr = xrtest_v1_PutResponse_init_zero;
	xrtest_v1_GetRequest gq = xrtest_v1_GetRequest_init_zero;
	xrtest_v1_GetResponse *gr = calloc(1, sizeof(*gr));
	xrtest_v1_Text tq = xrtest_v1_Text_init_zero, tr;
	xrtest_v1_Batch *bq = calloc(1, sizeof(*bq)), *br = calloc(1, sizeof(*br));
	struct got_get g = { 0 };
	xr_status st;

	assert_non_null(put);
	assert_non_null(gr);
	assert_non_null(bq);
	assert_non_null(br);
	snprintf(put->key, sizeof(put->key), "alpha");
	put->value.size = 3;
	memcpy(put->value.bytes, "\x01\x02\x03", 3);
	assert_int_equal(xrtest_v1_Kv_Put(f->ch, put, &pr, 5000, &st),
	    XR_STATUS_OK);
	assert_int_equal(pr.stored, 3);

	snprintf(gq.key, sizeof(gq.key), "alpha");
	assert_int_equal(xrtest_v1_Kv_Get(f->ch, &gq, gr, 5000, &st),
	    XR_STATUS_OK);
	assert_true(gr->found);
	assert_int_equal(gr->value.size, 3);
	assert_memory_equal(gr->value.bytes, "\x01\x02\x03", 3);

	/* async: the callback gets the decoded response */
	(void)xrtest_v1_Kv_Get_start(f->ch, &gq, 5000, get_done, &g);
	assert_int_equal(xr_loop_until(f->base, got_done, &g,
	    xr_mono_ms() + 5000), XR_OK);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.st.code, XR_STATUS_OK);
	assert_int_equal(g.found, 1);
	assert_int_equal(g.len, 3);
	assert_int_equal(g.first, 1);

	snprintf(tq.text, sizeof(tq.text), "MiXed Case");
	assert_int_equal(xrtest_v1_Kv_Upper(f->ch, &tq, &tr, 5000, &st),
	    XR_STATUS_OK);
	assert_string_equal(tr.text, "MIXED CASE");

	/* a message of every shape goes there and back unchanged */
	bq->items_count = 2;
	snprintf(bq->items[1].name, sizeof(bq->items[1].name), "second");
	bq->items[1].color = xrtest_v1_Color_COLOR_DEEP;
	bq->items[1].counts_count = 2;
	bq->items[1].counts[1] = 77;
	bq->which_pick = xrtest_v1_Batch_id_tag;
	bq->pick.id = 1234567890123ull;
	bq->small = -300;
	memset(bq->digest, 0xab, sizeof(bq->digest));
	bq->tags_count = 1;
	snprintf(bq->tags[0].key, sizeof(bq->tags[0].key), "k");
	bq->tags[0].value = 9;
	bq->has_nested = true;
	bq->nested.notes_count = 1;
	snprintf(bq->nested.notes[0], sizeof(bq->nested.notes[0]), "note");
	assert_int_equal(xrtest_v1_Kv_Echo(f->ch, bq, br, 5000, &st),
	    XR_STATUS_OK);
	assert_int_equal(br->items_count, 2);
	assert_string_equal(br->items[1].name, "second");
	assert_int_equal(br->items[1].color, xrtest_v1_Color_COLOR_DEEP);
	assert_int_equal(br->items[1].counts[1], 77);
	assert_int_equal(br->which_pick, xrtest_v1_Batch_id_tag);
	assert_true(br->pick.id == 1234567890123ull);
	assert_int_equal(br->small, -300);
	assert_memory_equal(br->digest, bq->digest, sizeof(bq->digest));
	assert_string_equal(br->tags[0].key, "k");
	assert_int_equal(br->tags[0].value, 9);
	assert_string_equal(br->nested.notes[0], "note");

	assert_int_equal(f->st.calls[M_PUT], 1);
	assert_int_equal(f->st.calls[M_GET], 2);
	assert_int_equal(f->st.calls[M_UPPER], 1);
	assert_int_equal(f->st.calls[M_LOWER], 0);
	assert_int_equal(f->st.calls[M_ECHO], 1);
	free(put);
	free(gr);
	free(bq);
	free(br);
}

/* The largest request the nanopb types allow is exactly the declared
 * limit, and the server takes it. */
static void
test_request_at_limit(void **state)
{
	struct fx *f = *state;
	xrtest_v1_PutRequest *put = calloc(1, sizeof(*put));
	xrtest_v1_PutResponse pr = xrtest_v1_PutResponse_init_zero;
	xr_status st;
	size_t len;

	assert_non_null(put);
	memset(put->key, 'k', sizeof(put->key) - 1);
	put->value.size = sizeof(put->value.bytes);
	memset(put->value.bytes, 'v', put->value.size);
	assert_true(pb_get_encoded_size(&len, xrtest_v1_PutRequest_fields, put));
	assert_int_equal(len, xrtest_v1_Kv_Put_REQ_MAX);
	assert_int_equal(len, 4165);
	assert_int_equal(xrtest_v1_Kv_Put(f->ch, put, &pr, 5000, &st),
	    XR_STATUS_OK);
	assert_int_equal(pr.stored, 4096);
	free(put);
}

/* A request over the declared limit (sent as bytes: the nanopb types cannot
 * hold it) is refused before any handler runs, naming both sizes. */
static void
test_request_over_limit(void **state)
{
	struct fx *f = *state;
	Xrtest__V1__PutRequest big = XRTEST__V1__PUT_REQUEST__INIT;
	uint8_t *val = calloc(1, 4097), *buf, *resp = NULL;
	char key[65];
	size_t len, resp_len = 0;
	xr_status st;

	assert_non_null(val);
	memset(key, 'k', 64);
	key[64] = '\0';
	big.key = key;
	big.value.data = val;
	big.value.len = 4097;
	len = xrtest__v1__put_request__get_packed_size(&big);
	assert_int_equal(len, 4166);
	assert_non_null(buf = malloc(len));
	xrtest__v1__put_request__pack(&big, buf);
	assert_int_equal(xr_call_sync_bytes(f->ch, xrtest_v1_Kv_Put_METHOD,
	    buf, len, &resp, &resp_len, 5000, &st),
	    XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(st.message, "request is 4166 bytes, over the "
	    "4165-byte limit of xrtest.v1.Kv/Put");
	assert_null(resp);
	assert_int_equal(f->st.calls[M_PUT], 0);
	free(buf);
	free(val);
}

/* A response over the declared limit is not sent: the caller gets
 * RESOURCE_EXHAUSTED naming both sizes, not an undecodable response. */
static void
test_response_over_limit(void **state)
{
	struct fx *f = *state;
	xrtest_v1_GetRequest gq = xrtest_v1_GetRequest_init_zero;
	xrtest_v1_GetResponse *gr = calloc(1, sizeof(*gr));
	struct got_get g = { 0 };
	xr_status st;

	assert_non_null(gr);
	snprintf(gq.key, sizeof(gq.key), "huge");
	assert_int_equal(xrtest_v1_Kv_Get(f->ch, &gq, gr, 5000, &st),
	    XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(st.message, "response is 5005 bytes, over the "
	    "4101-byte limit of xrtest.v1.Kv/Get");
	/* async: the callback gets the status and no response */
	(void)xrtest_v1_Kv_Get_start(f->ch, &gq, 5000, get_done, &g);
	assert_int_equal(xr_loop_until(f->base, got_done, &g,
	    xr_mono_ms() + 5000), XR_OK);
	assert_int_equal(g.st.code, XR_STATUS_RESOURCE_EXHAUSTED);
	assert_string_equal(g.st.message, st.message);
	assert_int_equal(g.found, 0);
	assert_int_equal(f->st.calls[M_GET], 2);
	free(gr);
}

/* Send a protobuf-c Batch as bytes to Echo; returns the status. */
static int
echo_raw(struct fx *f, const Xrtest__V1__Batch *b, xr_status *st)
{
	size_t len = xrtest__v1__batch__get_packed_size(b), resp_len = 0;
	uint8_t *buf = malloc(len + 1), *resp = NULL;
	int code;

	assert_non_null(buf);
	xrtest__v1__batch__pack(b, buf);
	code = xr_call_sync_bytes(f->ch, xrtest_v1_Kv_Echo_METHOD, buf, len,
	    &resp, &resp_len, 5000, st);
	free(resp);
	free(buf);
	return code;
}

/* Messages within the total size whose fields break their nanopb bounds:
 * a request is INVALID_ARGUMENT (the handler does not run), a response
 * INTERNAL (not sent); each message names the field and both sizes. */
static void
test_field_bounds(void **state)
{
	struct fx *f = *state;
	Xrtest__V1__Batch b = XRTEST__V1__BATCH__INIT;
	Xrtest__V1__Item it[4], *items[4];
	xr_status st;
	uint8_t digest[5] = { 0 };
	char longname[18] = "seventeen-chars-x";
	int i;

	for (i = 0; i < 4; i++) {
		xrtest__v1__item__init(&it[i]);
		items[i] = &it[i];
	}
	/* within bounds: 3 items, the oneof's id set (its name not read) */
	b.n_items = 3;
	b.items = items;
	b.pick_case = XRTEST__V1__BATCH__PICK_ID;
	b.id = 5;
	assert_int_equal(echo_raw(f, &b, &st), XR_STATUS_OK);
	assert_int_equal(f->st.calls[M_ECHO], 1);

	b.n_items = 4;
	assert_int_equal(echo_raw(f, &b, &st), XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "xrtest.v1.Kv/Echo request: field "
	    "xrtest.v1.Batch.items has 4 elements, over its declared 3");
	b.n_items = 0;

	b.pick_case = XRTEST__V1__BATCH__PICK_NAME;
	b.name = longname;
	assert_int_equal(echo_raw(f, &b, &st), XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "xrtest.v1.Kv/Echo request: field "
	    "xrtest.v1.Batch.name is 17 bytes, over its declared 16");
	b.pick_case = XRTEST__V1__BATCH__PICK__NOT_SET;

	b.small = 40000;
	assert_int_equal(echo_raw(f, &b, &st), XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "xrtest.v1.Kv/Echo request: field "
	    "xrtest.v1.Batch.small is 40000, outside its declared "
	    "-32768..32767");
	b.small = 0;

	b.digest.data = digest;
	b.digest.len = sizeof(digest);
	assert_int_equal(echo_raw(f, &b, &st), XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "xrtest.v1.Kv/Echo request: field "
	    "xrtest.v1.Batch.digest is 5 bytes, not its declared 0 or 32");
	b.digest.len = 0;
	assert_int_equal(f->st.calls[M_ECHO], 1);

	/* a response the client could not decode is not sent */
	b.pick_case = XRTEST__V1__BATCH__PICK_NAME;
	b.name = "break";
	assert_int_equal(echo_raw(f, &b, &st), XR_STATUS_INTERNAL);
	assert_string_equal(st.message, "xrtest.v1.Kv/Echo response: field "
	    "xrtest.v1.Item.name is 30 bytes, over its declared 20");
	assert_int_equal(f->st.calls[M_ECHO], 2);
}

/* ---- binding by name (no channel needed: the memory target's base) ---- */

static const char *
call_text(struct fx *f, const char *method_is_upper, const char *text)
{
	static xrtest_v1_Text out;
	xrtest_v1_Text in = xrtest_v1_Text_init_zero;
	xr_status st;

	snprintf(in.text, sizeof(in.text), "%s", text);
	memset(&out, 0, sizeof(out));
	if (strcmp(method_is_upper, "Upper") == 0)
		assert_int_equal(xrtest_v1_Kv_Upper(f->ch, &in, &out, 5000,
		    &st), XR_STATUS_OK);
	else
		assert_int_equal(xrtest_v1_Kv_Lower(f->ch, &in, &out, 5000,
		    &st), XR_STATUS_OK);
	return out.text;
}

static struct fx *
fx_with(const xrtest_v1_Kv_handlers *h)
{
	struct fx *f = calloc(1, sizeof(*f));
	xr_diag d = { 0 };

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	assert_non_null(f->reg = xr_registry_new(f->base));
	assert_int_equal(xrtest_v1_Kv_register(f->reg, h, &f->st, &d), XR_OK);
	f->tgt = xr_registry_local_target(f->reg);
	assert_non_null(f->ch = xr_channel_new_memory(f->base, &f->tgt));
	return f;
}

/* Each method runs the handler in its own field, whatever the order the
 * struct is written in; swapping two fields' values swaps exactly what
 * those two methods do. */
static void
test_bound_by_name(void **state)
{
	xrtest_v1_Kv_handlers h = kv_handlers;
	/* the fields written in another order than the proto's */
	const xrtest_v1_Kv_handlers reordered = {
		.Echo = kv_echo, .Lower = kv_lower, .Upper = kv_upper,
		.Get = kv_get, .Put = kv_put,
	};
	struct fx *f;
	void *saved;

	(void)state;
	f = fx_with(&reordered);
	assert_string_equal(call_text(f, "Upper", "MiXed"), "MIXED");
	assert_string_equal(call_text(f, "Lower", "MiXed"), "mixed");
	assert_int_equal(f->st.calls[M_UPPER], 1);
	assert_int_equal(f->st.calls[M_LOWER], 1);
	saved = f;
	teardown(&saved);

	/* swap the two values: each method now runs the other's handler */
	h.Upper = kv_lower;
	h.Lower = kv_upper;
	f = fx_with(&h);
	assert_string_equal(call_text(f, "Upper", "MiXed"), "mixed");
	assert_string_equal(call_text(f, "Lower", "MiXed"), "MIXED");
	assert_string_equal(call_text(f, "Upper", "AbC"), "abc");
	assert_int_equal(f->st.calls[M_UPPER], 1);	/* kv_upper ran once */
	assert_int_equal(f->st.calls[M_LOWER], 2);	/* kv_lower twice */
	assert_int_equal(f->st.calls[M_PUT] + f->st.calls[M_GET] +
	    f->st.calls[M_ECHO], 0);
	saved = f;
	teardown(&saved);
}

/* A missing handler is refused at registration, naming the method, and
 * nothing is registered. */
static void
test_missing_handler(void **state)
{
	struct event_base *base = event_base_new();
	xr_registry *reg = xr_registry_new(base);
	xrtest_v1_Kv_handlers h = kv_handlers;
	xr_diag d = { 0 };

	(void)state;
	assert_non_null(reg);
	h.Get = NULL;
	assert_int_equal(xrtest_v1_Kv_register(reg, &h, NULL, &d),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(d.code, XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "xrtest.v1.Kv/Get: no handler "
	    "(xrtest_v1_Kv_handlers.Get is NULL)");
	assert_int_equal(xr_registry_count(reg), 0);
	assert_int_equal(xrtest_v1_Kv_register(reg, NULL, NULL, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "xrtest.v1.Kv: no handlers");
	assert_int_equal(xr_registry_count(reg), 0);

	/* complete: all five, by name; a second time: refused, still five */
	assert_int_equal(xrtest_v1_Kv_register(reg, &kv_handlers, NULL, &d),
	    XR_OK);
	assert_int_equal(xr_registry_count(reg), 5);
	assert_int_equal(xr_registry_has(reg, "xrtest.v1.Kv/Echo"), 1);
	assert_int_equal(xrtest_v1_Kv_register(reg, &kv_handlers, NULL, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "xrtest.v1.Kv/Put: registered before");
	assert_int_equal(xr_registry_count(reg), 5);
	xr_registry_free(reg);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_typed_calls,
		    setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_typed_calls,
		    setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_request_at_limit,
		    setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_request_at_limit,
		    setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_request_over_limit,
		    setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_request_over_limit,
		    setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_response_over_limit,
		    setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_response_over_limit,
		    setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_field_bounds,
		    setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_field_bounds,
		    setup_tcp, teardown),
		cmocka_unit_test(test_bound_by_name),
		cmocka_unit_test(test_missing_handler),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
