/*
 * tests/fundload/test_slots.c — the day owner's prime-slot reservations
 * (docs/fundload.md, "Web processes: the prime slot across ingresses"):
 *  - the table (rules.h xr_fl_slots, the clock passed in): FREE to the
 *    first holder, BUSY to another while the lease runs, FREE to the other
 *    once it expired; a settle by a non-holder refused and changing
 *    nothing; consumed -> TAKEN for everyone from then on (sticky, also
 *    for a later reservation of an expired lease), released -> FREE again;
 *    renewal by the holder; the argument ranges; XR_FL_SLOTS_LIVE_MAX live
 *    reservations, then expired ones make room;
 *  - the service's ReservePrimeSlot and SettlePrimeSlot on a registry
 *    (worker index 1): the states by value, each refusal with its status
 *    and exact message (not the owner, not the holder, ranges).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "config.h"
#include "dispatch.h"
#include "err.h"
#include "fundload/v1/fundload.pb.h"
#include "appcfg.h"
#include "registry.h"
#include "rules.h"
#include "service.h"

#define DAY 19723	/* 2024-01-01 */

static xr_fl_slot
reserve(xr_fl_slots *t, int64_t day, const char *h, uint32_t lease,
    uint64_t now)
{
	xr_fl_slot st = 0;

	assert_int_equal(xr_fl_slots_reserve(t, day, h, strlen(h), lease, now,
	    &st), XR_OK);
	return st;
}

static int
settle(xr_fl_slots *t, int64_t day, const char *h, bool consumed,
    xr_fl_slot *st)
{
	return xr_fl_slots_settle(t, day, h, strlen(h), consumed, st);
}

static void
test_busy_then_expiry(void **state)
{
	xr_fl_slots *t = xr_fl_slots_new();
	xr_fl_slot st;

	(void)state;
	assert_non_null(t);
	assert_int_equal(reserve(t, DAY, "a", 1000, 5000), XR_FL_SLOT_FREE);
	/* another holder while the lease runs (up to its last ms) */
	assert_int_equal(reserve(t, DAY, "b", 1000, 5000), XR_FL_SLOT_BUSY);
	assert_int_equal(reserve(t, DAY, "b", 1000, 5999), XR_FL_SLOT_BUSY);
	/* other days are independent */
	assert_int_equal(reserve(t, DAY + 1, "b", 1000, 5000), XR_FL_SLOT_FREE);
	/* the holder renews */
	assert_int_equal(reserve(t, DAY, "a", 1000, 5500), XR_FL_SLOT_FREE);
	assert_int_equal(reserve(t, DAY, "b", 1000, 6499), XR_FL_SLOT_BUSY);
	/* expired: the holder vanished, the next one gets it */
	assert_int_equal(reserve(t, DAY, "b", 1000, 6500), XR_FL_SLOT_FREE);
	/* the old holder can neither settle nor reserve over it */
	assert_int_equal(settle(t, DAY, "a", true, &st), XR_ERR_CLOSED);
	assert_int_equal(reserve(t, DAY, "a", 1000, 6600), XR_FL_SLOT_BUSY);
	assert_int_equal(settle(t, DAY, "b", true, &st), XR_OK);
	assert_int_equal(st, XR_FL_SLOT_TAKEN);
	/* an expired lease nobody took over is still its holder's */
	assert_int_equal(reserve(t, DAY + 2, "c", 10, 100), XR_FL_SLOT_FREE);
	assert_int_equal(settle(t, DAY + 2, "c", false, &st), XR_OK);
	assert_int_equal(st, XR_FL_SLOT_FREE);
	xr_fl_slots_free(t);
}

static void
test_settle_by_non_holder(void **state)
{
	xr_fl_slots *t = xr_fl_slots_new();
	xr_fl_slot st = 0;

	(void)state;
	/* nothing reserved */
	assert_int_equal(settle(t, DAY, "a", true, &st), XR_ERR_CLOSED);
	assert_int_equal(reserve(t, DAY, "a", 1000, 0), XR_FL_SLOT_FREE);
	/* another holder, also a prefix or an extension of the holder */
	assert_int_equal(settle(t, DAY, "b", true, &st), XR_ERR_CLOSED);
	assert_int_equal(settle(t, DAY, "aa", false, &st), XR_ERR_CLOSED);
	assert_int_equal(xr_fl_slots_settle(t, DAY, "a", 0, true, &st),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(st, 0);
	/* nothing changed: still a's */
	assert_int_equal(reserve(t, DAY, "b", 1000, 10), XR_FL_SLOT_BUSY);
	assert_int_equal(xr_fl_slots_held(t), 1);
	/* released: free for the next, the reservation gone */
	assert_int_equal(settle(t, DAY, "a", false, &st), XR_OK);
	assert_int_equal(st, XR_FL_SLOT_FREE);
	assert_int_equal(xr_fl_slots_held(t), 0);
	assert_int_equal(settle(t, DAY, "a", false, &st), XR_ERR_CLOSED);
	assert_int_equal(reserve(t, DAY, "b", 1000, 10), XR_FL_SLOT_FREE);
	xr_fl_slots_free(t);
}

static void
test_taken_sticky(void **state)
{
	xr_fl_slots *t = xr_fl_slots_new();
	xr_fl_slot st;

	(void)state;
	assert_int_equal(reserve(t, DAY, "a", 1000, 0), XR_FL_SLOT_FREE);
	assert_int_equal(settle(t, DAY, "a", true, &st), XR_OK);
	assert_int_equal(st, XR_FL_SLOT_TAKEN);
	assert_int_equal(xr_fl_slots_held(t), 0);
	/* for everyone, the holder too, at any later time */
	assert_int_equal(reserve(t, DAY, "a", 1000, 1), XR_FL_SLOT_TAKEN);
	assert_int_equal(reserve(t, DAY, "b", 1000, 1), XR_FL_SLOT_TAKEN);
	assert_int_equal(reserve(t, DAY, "b", 60000, UINT64_C(1) << 40),
	    XR_FL_SLOT_TAKEN);
	/* nobody can settle it back */
	assert_int_equal(settle(t, DAY, "a", false, &st), XR_ERR_CLOSED);
	assert_int_equal(settle(t, DAY, "b", false, &st), XR_ERR_CLOSED);
	assert_int_equal(reserve(t, DAY, "c", 1000, 2), XR_FL_SLOT_TAKEN);
	assert_int_equal(xr_fl_slots_held(t), 0);
	xr_fl_slots_free(t);
}

static void
test_ranges_and_capacity(void **state)
{
	char h[XR_FL_HOLDER_MAX + 2];
	xr_fl_slots *t = xr_fl_slots_new();
	xr_fl_slot st = 0;
	int64_t dmin = XR_FL_TIME_MIN / 86400, dmax = XR_FL_TIME_MAX / 86400;

	(void)state;
	memset(h, 'h', sizeof(h));
	assert_int_equal(xr_fl_slots_reserve(t, DAY, h, 0, 1, 0, &st),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_fl_slots_reserve(t, DAY, h, XR_FL_HOLDER_MAX + 1,
	    1, 0, &st), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_fl_slots_reserve(t, DAY, "a", 1, 0, 0, &st),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_fl_slots_reserve(t, DAY, "a", 1,
	    XR_FL_LEASE_MAX_MS + 1, 0, &st), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_fl_slots_reserve(t, dmin - 1, "a", 1, 1, 0, &st),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_fl_slots_reserve(t, dmax + 1, "a", 1, 1, 0, &st),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(st, 0);
	assert_int_equal(xr_fl_slots_reserve(t, dmin, h, XR_FL_HOLDER_MAX,
	    XR_FL_LEASE_MAX_MS, 0, &st), XR_OK);
	assert_int_equal(st, XR_FL_SLOT_FREE);
	assert_int_equal(settle(t, dmin, "a", true, &st), XR_ERR_CLOSED);
	assert_int_equal(xr_fl_slots_settle(t, dmin, h, XR_FL_HOLDER_MAX, true,
	    &st), XR_OK);
	assert_int_equal(reserve(t, dmax, "a", 1, 0), XR_FL_SLOT_FREE);
	assert_int_equal(settle(t, dmax, "a", false, &st), XR_OK);
	xr_fl_slots_free(t);

	/* XR_FL_SLOTS_LIVE_MAX live reservations: the next is refused; once
	 * some expired, they make room */
	t = xr_fl_slots_new();
	for (int i = 0; i < XR_FL_SLOTS_LIVE_MAX; i++)
		assert_int_equal(reserve(t, i, "a", i < 10 ? 100 : 1000, 0),
		    XR_FL_SLOT_FREE);
	assert_int_equal(xr_fl_slots_reserve(t, -1, "a", 1, 1000, 99, &st),
	    XR_ERR_NO_SPACE);
	assert_int_equal(xr_fl_slots_held(t), XR_FL_SLOTS_LIVE_MAX);
	assert_int_equal(reserve(t, -1, "a", 1000, 100), XR_FL_SLOT_FREE);
	assert_int_equal(xr_fl_slots_held(t), XR_FL_SLOTS_LIVE_MAX - 9);
	/* a dropped expired reservation is simply free again */
	assert_int_equal(reserve(t, 3, "b", 1000, 100), XR_FL_SLOT_FREE);
	assert_int_equal(reserve(t, 500, "b", 1000, 100), XR_FL_SLOT_BUSY);
	xr_fl_slots_free(t);
}

/* ---------- the service on a registry ---------- */

struct reg {
	struct event_base *base;
	xr_config cfg;
	xr_registry *r;
};

struct done {
	int code;
	char msg[256];
	uint8_t resp[64];
	size_t len;
};

static void
reg_new(struct reg *g, uint32_t index)
{
	xr_worker_ctx ctx = { .group = "execution", .index = index };
	xr_diag d = { 0 };

	g->base = event_base_new();
	assert_non_null(g->base);
	xr_config_defaults(&g->cfg);
	assert_int_equal(xr_fl_app_set_rules(&g->cfg, XR_RULES_EXPERIMENT, &d),
	    XR_OK);
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

/* Call `method` with the nanopb message `msg`; the handler is synchronous.
 * The reply's state, or -1 (the status in dn). */
static int
slot_call(struct reg *g, const char *method, const pb_msgdesc_t *fields,
    const void *msg, struct done *dn)
{
	fundload_v1_SlotReply rep = fundload_v1_SlotReply_init_zero;
	uint8_t buf[256];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	pb_istream_t is;

	assert_true(pb_encode(&os, fields, msg));
	dn->code = -1;
	assert_null(xr_dispatch_start(g->r, method, buf, os.bytes_written, 0,
	    complete, dn, 1));
	assert_int_not_equal(dn->code, -1);
	if (dn->code != 0)
		return -1;
	is = pb_istream_from_buffer(dn->resp, dn->len);
	assert_true(pb_decode(&is, fundload_v1_SlotReply_fields, &rep));
	return rep.state;
}

static int
svc_reserve(struct reg *g, int64_t day, const char *h, uint32_t lease,
    uint32_t owner, struct done *dn)
{
	fundload_v1_ReserveRequest q = fundload_v1_ReserveRequest_init_zero;

	q.day = day;
	snprintf(q.holder, sizeof(q.holder), "%s", h);
	q.lease_ms = lease;
	q.owner = owner;
	return slot_call(g, XR_FL_METHOD_RESERVE,
	    fundload_v1_ReserveRequest_fields, &q, dn);
}

static int
svc_settle(struct reg *g, int64_t day, const char *h, bool consumed,
    uint32_t owner, struct done *dn)
{
	fundload_v1_SettleRequest q = fundload_v1_SettleRequest_init_zero;

	q.day = day;
	snprintf(q.holder, sizeof(q.holder), "%s", h);
	q.consumed = consumed;
	q.owner = owner;
	return slot_call(g, XR_FL_METHOD_SETTLE,
	    fundload_v1_SettleRequest_fields, &q, dn);
}

static void
expect_fail(int got, const struct done *dn, int code, const char *msg)
{
	assert_int_equal(got, -1);
	assert_int_equal(dn->code, code);
	assert_string_equal(dn->msg, msg);
}

static void
test_service(void **state)
{
	struct reg g;
	struct done dn;

	(void)state;
	reg_new(&g, 1);
	assert_int_equal(svc_reserve(&g, DAY, "w1-1", 5000, 1, &dn),
	    fundload_v1_SlotState_SLOT_STATE_FREE);
	assert_int_equal(svc_reserve(&g, DAY, "w2-1", 5000, 1, &dn),
	    fundload_v1_SlotState_SLOT_STATE_BUSY);
	/* a caller whose pick failed over to a worker not owning the day */
	expect_fail(svc_reserve(&g, DAY, "w2-1", 5000, 0, &dn), &dn,
	    XR_STATUS_FAILED_PRECONDITION,
	    "prime slot: this worker does not own the day");
	expect_fail(svc_settle(&g, DAY, "w1-1", true, 0, &dn), &dn,
	    XR_STATUS_FAILED_PRECONDITION,
	    "prime slot: this worker does not own the day");
	expect_fail(svc_settle(&g, DAY, "w2-1", true, 1, &dn), &dn,
	    XR_STATUS_FAILED_PRECONDITION,
	    "prime slot: not held by this holder");
	expect_fail(svc_reserve(&g, DAY, "", 5000, 1, &dn), &dn,
	    XR_STATUS_INVALID_ARGUMENT, "prime slot: holder not 1..64 bytes");
	expect_fail(svc_reserve(&g, DAY, "w2-1", 0, 1, &dn), &dn,
	    XR_STATUS_INVALID_ARGUMENT, "prime slot: lease_ms not 1..60000");
	expect_fail(svc_reserve(&g, DAY, "w2-1", 60001, 1, &dn), &dn,
	    XR_STATUS_INVALID_ARGUMENT, "prime slot: lease_ms not 1..60000");
	expect_fail(svc_reserve(&g, XR_FL_TIME_MAX / 86400 + 1, "w2-1", 10, 1,
	    &dn), &dn, XR_STATUS_INVALID_ARGUMENT,
	    "prime slot: day out of range");
	expect_fail(svc_settle(&g, XR_FL_TIME_MIN / 86400 - 1, "w1-1", true,
	    1, &dn), &dn, XR_STATUS_INVALID_ARGUMENT,
	    "prime slot: day out of range");
	/* the holder settles: taken for everyone */
	assert_int_equal(svc_settle(&g, DAY, "w1-1", true, 1, &dn),
	    fundload_v1_SlotState_SLOT_STATE_TAKEN);
	assert_int_equal(svc_reserve(&g, DAY, "w2-1", 5000, 1, &dn),
	    fundload_v1_SlotState_SLOT_STATE_TAKEN);
	/* released: free for the next holder */
	assert_int_equal(svc_reserve(&g, DAY + 1, "w2-2", 5000, 1, &dn),
	    fundload_v1_SlotState_SLOT_STATE_FREE);
	assert_int_equal(svc_settle(&g, DAY + 1, "w2-2", false, 1, &dn),
	    fundload_v1_SlotState_SLOT_STATE_FREE);
	assert_int_equal(svc_reserve(&g, DAY + 1, "w1-2", 5000, 1, &dn),
	    fundload_v1_SlotState_SLOT_STATE_FREE);
	reg_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_then_expiry),
		cmocka_unit_test(test_settle_by_non_holder),
		cmocka_unit_test(test_taken_sticky),
		cmocka_unit_test(test_ranges_and_capacity),
		cmocka_unit_test(test_service),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
