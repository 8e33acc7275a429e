/*
 * server/echo.h — the example service echo.v1.Echo (proto/echo/v1/echo.proto)
 * used by the tests and the demo. Say answers {text, worker_pid}; with
 * delay_ms it answers that much later (a timer on the call's base, stopped
 * on cancel); with fail_code it fails with that gRPC status.
 */
#ifndef XR_ECHO_H
#define XR_ECHO_H

#include "echo/v1/echo.pb-c.h"
#include "module.h"
#include "registry.h"

/* The handler of echo.v1.Echo/Say, for services that wrap it (e.g. to
 * count calls) in their own echo_v1_Echo_handlers (echo/v1/echo.xr.h);
 * `arg` is unused. */
void xr_echo_say(xr_call *call, const Echo__V1__SayRequest *req, void *arg);

/* Register echo.v1.Echo on `reg` (echo_v1_Echo_register(): the limits of
 * proto/echo/v1/echo.options: text up to 4095 bytes). Returns XR_OK or an
 * xr_err. */
int xr_echo_register(xr_registry *reg);

/* echo.v1.Echo as a service module (module.h): add() registers it with
 * xr_echo_register(); it reads no apps section. A program that hosts echo
 * alone passes &xr_echo_module, 1 as its module table. */
extern const xr_service_module xr_echo_module;

/*
 * xr_echo_module as an initializer, for a module table that lists echo
 * among other modules (C cannot initialize a table entry from another
 * object, so the entry is spelled here, once):
 *	static const xr_service_module mods[] = {
 *		XR_ECHO_MODULE_INIT,
 *		my_v1_Service_MODULE(my_add),
 *	};
 */
#define XR_ECHO_MODULE_INIT \
	{ .name = "echo.v1.Echo", .add = xr_echo_module_add }

/* xr_echo_module's add(): xr_echo_register(reg), its refusal's reason in
 * `d`; `ctx` is not used. */
int xr_echo_module_add(xr_registry *reg, const xr_worker_ctx *ctx,
    xr_diag *d);

#endif /* XR_ECHO_H */
