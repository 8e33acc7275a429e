/*
 * tests/plugin/swap.c — compiled by test_swap.sh, never linked: handlers
 * put in each other's fields. Put and Get take different request types, so
 * the swapped struct (-DSWAPPED) must not compile; the right one must.
 */
#include "xrtest/v1/kvt.xr.h"

static void
put(xr_call *call, const Xrtest__V1__PutRequest *req, void *arg)
{
	(void)call;
	(void)req;
	(void)arg;
}

static void
get(xr_call *call, const Xrtest__V1__GetRequest *req, void *arg)
{
	(void)call;
	(void)req;
	(void)arg;
}

#ifdef SWAPPED
const xrtest_v1_Kv_handlers swap_handlers = { .Put = get, .Get = put };
#else
const xrtest_v1_Kv_handlers swap_handlers = { .Put = put, .Get = get };
#endif
