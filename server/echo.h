/*
 * server/echo.h — the example service echo.v1.Echo (proto/echo/v1/echo.proto)
 * used by the tests and the demo. Say answers {text, worker_pid}; with
 * delay_ms it answers that much later (a timer on the call's base, stopped
 * on cancel); with fail_code it fails with that gRPC status.
 */
#ifndef XR_ECHO_H
#define XR_ECHO_H

#include "registry.h"

/* The handler of echo.v1.Echo/Say (for services that wrap it, e.g. to
 * count calls); `arg` is unused. */
void xr_echo_say(xr_call *call, const ProtobufCMessage *req, void *arg);

/* Register echo.v1.Echo on `reg`. Returns XR_OK or an xr_err. */
int xr_echo_register(xr_registry *reg);

#endif /* XR_ECHO_H */
