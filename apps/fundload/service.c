/* apps/fundload/service.c — fundload.v1.FundLoad/Decide and DecideBatch,
 * and the day owner's ReservePrimeSlot and SettlePrimeSlot, on the code
 * protoc-gen-execrpc generated (gen/protobuf-c/fundload/v1/fundload.xr.h). */
#include "service.h"

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "err.h"
#include "fundload/v1/fundload.xr.h"
#include "appcfg.h"
#include "rules.h"
#include "rx.h"

/* One registration's state: its customers and the prime slots of the days
 * it owns, freed with its registry. */
struct fl_service {
	xr_fl_rules *rules;
	xr_fl_slots *slots;
	uint32_t index;		/* the worker's index in its group */
};

#define MSG_NO_PRIME_SLOT "prime-id load without prime_slot"
#define MSG_LIMITS "load outside the limits (id, customer_id 1..64 bytes; " \
    "amount, time in range)"

/* `req` as a load (pointing into `req`); NULL, or the INVALID_ARGUMENT
 * message when Decide refuses it. */
static const char *
load_of(const struct fl_service *svc, const Fundload__V1__LoadRequest *req,
    xr_fl_load *l)
{
	l->id = req->id;
	l->id_len = strnlen(req->id, XR_FL_ID_MAX + 1);
	l->customer = req->customer_id;
	l->customer_len = strnlen(req->customer_id, XR_FL_ID_MAX + 1);
	l->amount = req->amount_cents;
	l->time = req->time_unix;
	if (!xr_fl_load_valid(l))
		return MSG_LIMITS;
	if (xr_fl_rules_mode(svc->rules) == XR_RULES_EXPERIMENT &&
	    req->prime_slot == FUNDLOAD__V1__PRIME_SLOT__PRIME_SLOT_UNSPECIFIED &&
	    xr_fl_id_is_prime(l->id, l->id_len))
		return MSG_NO_PRIME_SLOT;
	return NULL;
}

/* Decide the checked load `l` of `req` into `resp` (initialized). XR_OK or
 * XR_ERR_NOMEM (nothing recorded). */
static int
decide_into(struct fl_service *svc, const xr_fl_load *l,
    const Fundload__V1__LoadRequest *req, Fundload__V1__Decision *resp)
{
	xr_fl_decision dec;
	int r;

	r = xr_fl_rules_decide(svc->rules, l,
	    req->prime_slot == FUNDLOAD__V1__PRIME_SLOT__PRIME_SLOT_FREE, &dec);
	if (r != XR_OK)
		return r;
	resp->accepted = dec.verdict == XR_FL_ACCEPTED;
	resp->ignored = dec.verdict == XR_FL_IGNORED;
	resp->prime_slot_consumed = dec.prime_slot_consumed;
	resp->reason = (Fundload__V1__Reason)dec.reason;
	resp->day = dec.day;
	return XR_OK;
}

static void
decide(xr_call *call, const Fundload__V1__LoadRequest *req, void *arg)
{
	Fundload__V1__Decision resp = FUNDLOAD__V1__DECISION__INIT;
	struct fl_service *svc = arg;
	const char *why;
	xr_fl_load l;

	if ((why = load_of(svc, req, &l)) != NULL) {
		xr_call_fail(call, XR_STATUS_INVALID_ARGUMENT, why);
		return;
	}
	if (decide_into(svc, &l, req, &resp) != XR_OK) {
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	fundload_v1_FundLoad_Decide_reply(call, &resp);
}

/* DecideBatch: every load checked first (a refusal decides nothing), then
 * decided in order. */
static void
decide_batch(xr_call *call, const Fundload__V1__LoadBatch *req, void *arg)
{
	Fundload__V1__DecisionBatch resp = FUNDLOAD__V1__DECISION_BATCH__INIT;
	Fundload__V1__Decision dec[XR_FL_BATCH_MAX];
	Fundload__V1__Decision *decp[XR_FL_BATCH_MAX];
	xr_fl_load l[XR_FL_BATCH_MAX];
	struct fl_service *svc = arg;
	const char *why;
	size_t i;

	if (req->n_loads == 0 || req->n_loads > XR_FL_BATCH_MAX) {
		xr_call_fail(call, XR_STATUS_INVALID_ARGUMENT,
		    "a batch has 1..64 loads");
		return;
	}
	for (i = 0; i < req->n_loads; i++)
		if ((why = load_of(svc, req->loads[i], &l[i])) != NULL) {
			xr_call_fail(call, XR_STATUS_INVALID_ARGUMENT, why);
			return;
		}
	for (i = 0; i < req->n_loads; i++) {
		fundload__v1__decision__init(&dec[i]);
		decp[i] = &dec[i];
		if (decide_into(svc, &l[i], req->loads[i], &dec[i]) != XR_OK) {
			xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
			return;
		}
	}
	resp.n_decisions = req->n_loads;
	resp.decisions = decp;
	fundload_v1_FundLoad_DecideBatch_reply(call, &resp);
}

/* NULL, or why the day's owner refuses a slot request (the message's
 * status in *code). */
static const char *
slot_refusal(const struct fl_service *svc, int64_t day, const char *holder,
    uint32_t owner, int *code)
{
	size_t len = strnlen(holder, XR_FL_HOLDER_MAX + 1);

	*code = XR_STATUS_INVALID_ARGUMENT;
	if (day < XR_FL_TIME_MIN / 86400 || day > XR_FL_TIME_MAX / 86400)
		return "prime slot: day out of range";
	if (len < 1 || len > XR_FL_HOLDER_MAX)
		return "prime slot: holder not 1..64 bytes";
	*code = XR_STATUS_FAILED_PRECONDITION;
	if (owner != svc->index)
		return "prime slot: this worker does not own the day";
	return NULL;
}

static void
reserve_slot(xr_call *call, const Fundload__V1__ReserveRequest *req,
    void *arg)
{
	Fundload__V1__SlotReply resp = FUNDLOAD__V1__SLOT_REPLY__INIT;
	struct fl_service *svc = arg;
	const char *why;
	xr_fl_slot st;
	int code, r;

	if ((why = slot_refusal(svc, req->day, req->holder, req->owner,
	    &code)) != NULL) {
		xr_call_fail(call, code, why);
		return;
	}
	r = xr_fl_slots_reserve(svc->slots, req->day, req->holder,
	    strlen(req->holder), req->lease_ms, xr_mono_ms(), &st);
	if (r == XR_ERR_INVALID_ARG) {
		xr_call_fail(call, XR_STATUS_INVALID_ARGUMENT,
		    "prime slot: lease_ms not 1..60000");
		return;
	}
	if (r != XR_OK) {
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED,
		    "prime slot: too many reservations");
		return;
	}
	resp.state = (Fundload__V1__SlotState)st;
	fundload_v1_FundLoad_ReservePrimeSlot_reply(call, &resp);
}

static void
settle_slot(xr_call *call, const Fundload__V1__SettleRequest *req, void *arg)
{
	Fundload__V1__SlotReply resp = FUNDLOAD__V1__SLOT_REPLY__INIT;
	struct fl_service *svc = arg;
	const char *why;
	xr_fl_slot st;
	int code;

	if ((why = slot_refusal(svc, req->day, req->holder, req->owner,
	    &code)) != NULL) {
		xr_call_fail(call, code, why);
		return;
	}
	if (xr_fl_slots_settle(svc->slots, req->day, req->holder,
	    strlen(req->holder), req->consumed, &st) != XR_OK) {
		xr_call_fail(call, XR_STATUS_FAILED_PRECONDITION,
		    "prime slot: not held by this holder");
		return;
	}
	resp.state = (Fundload__V1__SlotState)st;
	fundload_v1_FundLoad_SettlePrimeSlot_reply(call, &resp);
}

static void
service_free(void *arg)
{
	struct fl_service *svc = arg;

	xr_fl_rules_free(svc->rules);
	xr_fl_slots_free(svc->slots);
	free(svc);
}

int
xr_fl_service_add(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	static const fundload_v1_FundLoad_handlers h = {
		.Decide = decide, .DecideBatch = decide_batch,
		.ReservePrimeSlot = reserve_slot,
		.SettlePrimeSlot = settle_slot };
	struct fl_service *svc;
	int r;

	if ((svc = calloc(1, sizeof(*svc))) == NULL ||
	    (svc->rules = xr_fl_rules_new(xr_fl_app_rules(ctx->app))) == NULL ||
	    (svc->slots = xr_fl_slots_new()) == NULL) {
		if (svc != NULL)
			xr_fl_rules_free(svc->rules);
		free(svc);
		return xr_diag_set(d, XR_ERR_NOMEM, "%s: out of memory",
		    XR_FL_SERVICE);
	}
	svc->index = ctx->index;
	/* the registry owns the state from here on, also if the
	 * registration is refused */
	if ((r = xr_registry_on_free(reg, service_free, svc)) != XR_OK)
		return xr_diag_set(d, r, "%s: out of memory", XR_FL_SERVICE);
	return fundload_v1_FundLoad_register(reg, &h, svc, d);
}
