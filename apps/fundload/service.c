/* apps/fundload/service.c — fundload.v1.FundLoad/Decide and DecideBatch, on the code
 * protoc-gen-execrpc generated (gen/protobuf-c/fundload/v1/fundload.xr.h). */
#include "service.h"

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "err.h"
#include "fundload/v1/fundload.xr.h"
#include "appcfg.h"
#include "rules.h"

/* One registration's state: its customers, freed with its registry. */
struct fl_service {
	xr_fl_rules *rules;
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

static void
service_free(void *arg)
{
	struct fl_service *svc = arg;

	xr_fl_rules_free(svc->rules);
	free(svc);
}

int
xr_fl_service_add(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	static const fundload_v1_FundLoad_handlers h = {
		.Decide = decide, .DecideBatch = decide_batch };
	struct fl_service *svc;
	int r;

	if ((svc = calloc(1, sizeof(*svc))) == NULL ||
	    (svc->rules = xr_fl_rules_new(xr_fl_app_rules(ctx->app))) == NULL) {
		free(svc);
		return xr_diag_set(d, XR_ERR_NOMEM, "%s: out of memory",
		    XR_FL_SERVICE);
	}
	/* the registry owns the state from here on, also if the
	 * registration is refused */
	if ((r = xr_registry_on_free(reg, service_free, svc)) != XR_OK)
		return xr_diag_set(d, r, "%s: out of memory", XR_FL_SERVICE);
	return fundload_v1_FundLoad_register(reg, &h, svc, d);
}
