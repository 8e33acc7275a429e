/*
 * tests/fundload/test_batch.c — fundload.v1.FundLoad/DecideBatch on the
 * service's registry (server/registry.h xr_dispatch_start, the handler runs
 * synchronously):
 *  - the same loads give the same decisions, field for field, through
 *    Decide one at a time and through DecideBatch in batches of 1, 3, 7
 *    and 64 (both rule sets; duplicates, every limit, Monday, prime ids
 *    with FREE and TAKEN), and a few of them are checked by value;
 *  - a refused batch (0 loads, 65 loads, a load outside the limits, a
 *    prime-id load without prime_slot under the experiment rules) fails
 *    with INVALID_ARGUMENT and the exact message, and decides nothing: its
 *    first load, sent again alone, is decided as new.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "config.h"
#include "err.h"
#include "fundload/v1/fundload.pb.h"
#include "appcfg.h"
#include "registry.h"
#include "service.h"

#define NLOADS 200

/* One registry with the service for a rule set. */
struct reg {
	struct event_base *base;
	xr_config cfg;
	xr_registry *r;
};

/* What a dispatched call completed with. */
struct done {
	int code;
	char msg[256];
	uint8_t resp[fundload_v1_DecisionBatch_size];
	size_t len;
};

static void
reg_new(struct reg *g, xr_rules rules)
{
	xr_worker_ctx ctx = { .group = "execution" };
	xr_diag d = { 0 };

	g->base = event_base_new();
	assert_non_null(g->base);
	xr_config_defaults(&g->cfg);
	assert_int_equal(xr_fl_app_set_rules(&g->cfg, rules, &d), XR_OK);
	ctx.app = xr_config_app(&g->cfg, XR_FL_APP);
	ctx.base = g->base;
	ctx.max_payload_bytes = g->cfg.max_payload_bytes;
	g->r = xr_registry_new(g->base);
	assert_non_null(g->r);
	assert_int_equal(xr_fl_service_add(g->r, &ctx, &d), XR_OK);
}

static void
reg_free(struct reg *g)
{
	xr_registry_free(g->r);
	xr_config_free(&g->cfg);
	event_base_free(g->base);
}

static void
complete(void *owner, uint64_t call_id, int code, const char *msg,
    const uint8_t *resp, size_t resp_len)
{
	struct done *dn = owner;

	(void)call_id;
	dn->code = code;
	snprintf(dn->msg, sizeof(dn->msg), "%s", msg);
	assert_true(resp_len <= sizeof(dn->resp));
	if (resp_len > 0)
		memcpy(dn->resp, resp, resp_len);
	dn->len = resp_len;
}

/* Call `method` with `req`/`len`; the handler is synchronous. */
static void
call(struct reg *g, const char *method, const uint8_t *req, size_t len,
    struct done *dn)
{
	dn->code = -1;
	assert_null(xr_dispatch_start(g->r, method, req, len, 0, complete, dn,
	    1));
	assert_int_not_equal(dn->code, -1);
}

/* The i-th load of the test sequence: few customers and days, so that
 * the limits, duplicates and the prime slot all come into play. */
static fundload_v1_LoadRequest
load_at(int i)
{
	static const uint64_t amounts[] = { 100, 250000, 250001, 499999,
	    500000, 999900, 0, 120000, 75 };
	fundload_v1_LoadRequest l = fundload_v1_LoadRequest_init_zero;

	/* ids repeat every 150 loads per customer: duplicates; primes and
	 * non-primes alternate (7, 11, 13, 17, ... and 8, 9, 10) */
	snprintf(l.id, sizeof(l.id), "%d", 7 + (i * 5) % 150);
	snprintf(l.customer_id, sizeof(l.customer_id), "c%d", i % 4);
	l.amount_cents = amounts[i % 9];
	/* 2024-01-01 is a Monday: days 0..9 from it, out of order */
	l.time_unix = 1704067200LL + (int64_t)((i * 7) % 10) * 86400 + i;
	l.prime_slot = (i % 3 == 0) ? fundload_v1_PrimeSlot_PRIME_SLOT_TAKEN :
	    fundload_v1_PrimeSlot_PRIME_SLOT_FREE;
	return l;
}

/* Encode loads [from, from + n) as a LoadBatch (n may exceed the nanopb
 * struct's 64: the loads are written one by one). */
static size_t
encode_batch(uint8_t *buf, size_t cap, int from, int n)
{
	pb_ostream_t os = pb_ostream_from_buffer(buf, cap);

	for (int i = from; i < from + n; i++) {
		fundload_v1_LoadRequest l = load_at(i);

		assert_true(pb_encode_tag(&os, PB_WT_STRING,
		    fundload_v1_LoadBatch_loads_tag));
		assert_true(pb_encode_submessage(&os,
		    fundload_v1_LoadRequest_fields, &l));
	}
	return os.bytes_written;
}

/* Decide load i alone with Decide. */
static fundload_v1_Decision
decide_one(struct reg *g, const fundload_v1_LoadRequest *l)
{
	fundload_v1_Decision dec = fundload_v1_Decision_init_zero;
	uint8_t buf[fundload_v1_LoadRequest_size];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	struct done dn;
	pb_istream_t is;

	assert_true(pb_encode(&os, fundload_v1_LoadRequest_fields, l));
	call(g, XR_FL_METHOD_DECIDE, buf, os.bytes_written, &dn);
	assert_int_equal(dn.code, 0);
	is = pb_istream_from_buffer(dn.resp, dn.len);
	assert_true(pb_decode(&is, fundload_v1_Decision_fields, &dec));
	return dec;
}

static void
assert_same(const fundload_v1_Decision *a, const fundload_v1_Decision *b)
{
	assert_int_equal(a->accepted, b->accepted);
	assert_int_equal(a->ignored, b->ignored);
	assert_int_equal(a->prime_slot_consumed, b->prime_slot_consumed);
	assert_int_equal(a->reason, b->reason);
	assert_int_equal(a->day, b->day);
}

static void
batch_equals_decide(xr_rules rules)
{
	static const int sizes[] = { 1, 3, 7, 64 };
	fundload_v1_Decision ref[NLOADS];
	struct reg one;
	int consumed = 0, declined = 0, ignored = 0;

	reg_new(&one, rules);
	for (int i = 0; i < NLOADS; i++) {
		fundload_v1_LoadRequest l = load_at(i);

		ref[i] = decide_one(&one, &l);
		consumed += ref[i].prime_slot_consumed;
		declined += !ref[i].accepted && !ref[i].ignored;
		ignored += ref[i].ignored;
	}
	reg_free(&one);
	/* the sequence exercises what it is meant to */
	assert_true(declined > 10);
	assert_true(ignored > 10);
	assert_int_equal(consumed > 0, rules == XR_RULES_EXPERIMENT);
	/* by value: load 0 (c0, $1.00, id 7) is accepted, its day is
	 * 2024-01-01 (day 19723); under the experiment rules id 7 is prime
	 * and FREE... but load 0 is sent TAKEN (0 % 3 == 0): declined */
	assert_int_equal(ref[0].day, 19723);
	assert_int_equal(ref[0].accepted, rules == XR_RULES_BASELINE);
	assert_int_equal(ref[0].reason, rules == XR_RULES_BASELINE ?
	    fundload_v1_Reason_REASON_NONE : fundload_v1_Reason_REASON_PRIME_SLOT);

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct reg bat;

		reg_new(&bat, rules);
		for (int from = 0; from < NLOADS; from += sizes[k]) {
			int n = NLOADS - from < sizes[k] ? NLOADS - from :
			    sizes[k];
			uint8_t buf[fundload_v1_LoadBatch_size];
			size_t len = encode_batch(buf, sizeof(buf), from, n);
			fundload_v1_DecisionBatch db;
			struct done dn;
			pb_istream_t is;

			call(&bat, XR_FL_METHOD_DECIDE_BATCH, buf, len, &dn);
			assert_int_equal(dn.code, 0);
			is = pb_istream_from_buffer(dn.resp, dn.len);
			assert_true(pb_decode(&is,
			    fundload_v1_DecisionBatch_fields, &db));
			assert_int_equal(db.decisions_count, n);
			for (int i = 0; i < n; i++)
				assert_same(&db.decisions[i], &ref[from + i]);
		}
		reg_free(&bat);
	}
}

static void
test_batch_equals_decide_baseline(void **state)
{
	(void)state;
	batch_equals_decide(XR_RULES_BASELINE);
}

static void
test_batch_equals_decide_experiment(void **state)
{
	(void)state;
	batch_equals_decide(XR_RULES_EXPERIMENT);
}

/* `req`/`len` is refused with `msg`; then load 0 alone is decided as new
 * (not ignored): the refused batch recorded nothing. */
static void
refused(struct reg *g, const uint8_t *req, size_t len, const char *msg)
{
	fundload_v1_LoadRequest l0 = load_at(0);
	fundload_v1_Decision dec;
	struct done dn;

	call(g, XR_FL_METHOD_DECIDE_BATCH, req, len, &dn);
	assert_int_equal(dn.code, XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(dn.msg, msg);
	dec = decide_one(g, &l0);
	assert_false(dec.ignored);
}

static void
test_batch_refused(void **state)
{
	uint8_t buf[fundload_v1_LoadBatch_size];
	pb_ostream_t os;
	size_t len;
	struct reg g;

	(void)state;
	/* empty */
	reg_new(&g, XR_RULES_BASELINE);
	refused(&g, buf, 0, "a batch has 1..64 loads");
	reg_free(&g);

	/* 65 loads (64 pass): the registry's request bounds refuse it (the
	 * max_count of fundload.options), before the handler's own check */
	reg_new(&g, XR_RULES_BASELINE);
	len = encode_batch(buf, sizeof(buf), 0, 65);
	refused(&g, buf, len, "fundload.v1.FundLoad/DecideBatch request: "
	    "field fundload.v1.LoadBatch.loads has 65 elements, over its "
	    "declared 64");
	reg_free(&g);
	reg_new(&g, XR_RULES_BASELINE);
	len = encode_batch(buf, sizeof(buf), 0, 64);
	{
		struct done dn;

		call(&g, XR_FL_METHOD_DECIDE_BATCH, buf, len, &dn);
		assert_int_equal(dn.code, 0);
	}
	reg_free(&g);

	/* a load over the limits at position 2: nothing decided */
	reg_new(&g, XR_RULES_BASELINE);
	len = encode_batch(buf, sizeof(buf), 0, 2);
	os = pb_ostream_from_buffer(buf + len, sizeof(buf) - len);
	{
		fundload_v1_LoadRequest bad = load_at(2);

		bad.time_unix = 253402300800LL;	/* 10000-01-01 */
		assert_true(pb_encode_tag(&os, PB_WT_STRING,
		    fundload_v1_LoadBatch_loads_tag));
		assert_true(pb_encode_submessage(&os,
		    fundload_v1_LoadRequest_fields, &bad));
	}
	refused(&g, buf, len + os.bytes_written, "load outside the limits "
	    "(id, customer_id 1..64 bytes; amount, time in range)");
	reg_free(&g);

	/* experiment: a prime-id load without prime_slot at position 1 */
	reg_new(&g, XR_RULES_EXPERIMENT);
	len = encode_batch(buf, sizeof(buf), 0, 1);
	os = pb_ostream_from_buffer(buf + len, sizeof(buf) - len);
	{
		fundload_v1_LoadRequest p = load_at(1);

		snprintf(p.id, sizeof(p.id), "%s", "1063");	/* prime */
		p.prime_slot = fundload_v1_PrimeSlot_PRIME_SLOT_UNSPECIFIED;
		assert_true(pb_encode_tag(&os, PB_WT_STRING,
		    fundload_v1_LoadBatch_loads_tag));
		assert_true(pb_encode_submessage(&os,
		    fundload_v1_LoadRequest_fields, &p));
	}
	refused(&g, buf, len + os.bytes_written,
	    "prime-id load without prime_slot");
	reg_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_equals_decide_baseline),
		cmocka_unit_test(test_batch_equals_decide_experiment),
		cmocka_unit_test(test_batch_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
