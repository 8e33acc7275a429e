/*
 * apps/fundload/service.h — fundload.v1.FundLoad (proto/fundload/v1), the
 * execution side of the fund-load workload: Decide applies the rules
 * (rules.h) to one load with the shard's per-customer state, DecideBatch
 * to up to 64 loads in order.
 *
 * One state per registration: every registry the module is added to (the
 * inline runtime's, each worker's) owns its own customers. The ingress
 * routes each customer to one registry (xr_queue_pick by customer id)
 * and tells each load whether its day's prime slot is free
 * (docs/fundload.md, "Coordination"); web processes, which share nothing
 * but the workers, reserve the slot first from the day's owner worker.
 */
#ifndef XR_FL_SERVICE_H
#define XR_FL_SERVICE_H

#include "registry.h"
#include "module.h"

/* Full names. */
#define XR_FL_SERVICE "fundload.v1.FundLoad"
#define XR_FL_METHOD_DECIDE "fundload.v1.FundLoad/Decide"
#define XR_FL_METHOD_DECIDE_BATCH "fundload.v1.FundLoad/DecideBatch"
#define XR_FL_METHOD_RESERVE "fundload.v1.FundLoad/ReservePrimeSlot"
#define XR_FL_METHOD_SETTLE "fundload.v1.FundLoad/SettlePrimeSlot"

/* The most loads in one DecideBatch (LoadBatch.loads max_count in
 * proto/fundload/v1/fundload.options). */
#define XR_FL_BATCH_MAX 64

/*
 * The xr_service_module add(): register FundLoad on `reg` with a new empty
 * state for the rules of ctx->app (apps.fundload, checked by
 * xr_fl_app_check(); NULL: baseline). The state belongs to `reg` and is
 * freed with it (xr_registry_on_free()). Returns XR_OK, XR_ERR_NOMEM, or
 * fundload_v1_FundLoad_register()'s error, with the reason in `d`.
 *
 * Decide answers fundload.v1.Decision, or fails with INVALID_ARGUMENT (an
 * id or customer_id not 1..64 bytes, amount or time out of range, a prime
 * id under the experiment rules without prime_slot) or RESOURCE_EXHAUSTED
 * (out of memory; nothing was recorded).
 *
 * DecideBatch answers fundload.v1.DecisionBatch: decisions[i] is what
 * Decide would have answered for loads[i], the loads decided one after
 * the other in order. It fails with INVALID_ARGUMENT, nothing decided, when
 * the batch has 0 loads, or more than XR_FL_BATCH_MAX (the registry's
 * request bounds refuse it first, from the max_count in fundload.options),
 * or any load would get INVALID_ARGUMENT from Decide (the same message); RESOURCE_EXHAUSTED when
 * memory runs out at load i (loads before i stay recorded: the ingress
 * stops the run on any failed call).
 *
 * ReservePrimeSlot and SettlePrimeSlot (web processes, docs/fundload.md
 * "Web processes: the prime slot across ingresses") act on the
 * registration's slot table (rules.h xr_fl_slots, the clock
 * xr_mono_ms()). Both answer SlotReply{state}: Reserve FREE (granted),
 * TAKEN or BUSY; Settle TAKEN (consumed) or FREE (released). They fail
 * with INVALID_ARGUMENT "prime slot: day out of range", "prime slot:
 * holder not 1..64 bytes", "prime slot: lease_ms not 1..60000" (Reserve);
 * FAILED_PRECONDITION "prime slot: this worker does not own the day" when
 * the request's owner is not ctx->index (a caller whose pick failed over
 * to another worker), "prime slot: not held by this holder" (Settle by
 * anyone but the day's holder); RESOURCE_EXHAUSTED "prime slot: too many
 * reservations" (XR_FL_SLOTS_LIVE_MAX live). The table lives as long as
 * the registration: a restarted worker starts with an empty one.
 */
int xr_fl_service_add(xr_registry *reg, const xr_worker_ctx *ctx,
    xr_diag *d);

#endif /* XR_FL_SERVICE_H */
