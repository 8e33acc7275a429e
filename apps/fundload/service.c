/* apps/fundload/service.c — fundload.v1.FundLoad/Decide, on the code
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

static void
decide(xr_call *call, const Fundload__V1__LoadRequest *req, void *arg)
{
	Fundload__V1__Decision resp = FUNDLOAD__V1__DECISION__INIT;
	struct fl_service *svc = arg;
	xr_fl_decision dec;
	xr_fl_load l;
	int r;

	l.id = req->id;
	l.id_len = strnlen(req->id, XR_FL_ID_MAX + 1);
	l.customer = req->customer_id;
	l.customer_len = strnlen(req->customer_id, XR_FL_ID_MAX + 1);
	l.amount = req->amount_cents;
	l.time = req->time_unix;
	if (xr_fl_rules_mode(svc->rules) == XR_RULES_EXPERIMENT &&
	    req->prime_slot == FUNDLOAD__V1__PRIME_SLOT__PRIME_SLOT_UNSPECIFIED &&
	    xr_fl_id_is_prime(l.id, l.id_len)) {
		xr_call_fail(call, XR_STATUS_INVALID_ARGUMENT,
		    "prime-id load without prime_slot");
		return;
	}
	r = xr_fl_rules_decide(svc->rules, &l,
	    req->prime_slot == FUNDLOAD__V1__PRIME_SLOT__PRIME_SLOT_FREE, &dec);
	if (r == XR_ERR_INVALID_ARG) {
		xr_call_fail(call, XR_STATUS_INVALID_ARGUMENT,
		    "load outside the limits (id, customer_id 1..64 bytes; "
		    "amount, time in range)");
		return;
	}
	if (r != XR_OK) {
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	resp.accepted = dec.verdict == XR_FL_ACCEPTED;
	resp.ignored = dec.verdict == XR_FL_IGNORED;
	resp.prime_slot_consumed = dec.prime_slot_consumed;
	resp.reason = (Fundload__V1__Reason)dec.reason;
	resp.day = dec.day;
	fundload_v1_FundLoad_Decide_reply(call, &resp);
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
	static const fundload_v1_FundLoad_handlers h = { .Decide = decide };
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
