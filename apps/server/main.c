/*
 * apps/server/main.c — execrpc-server: echo.v1.Echo as an execrpc program
 * (execrpc/main.h). Its configs usually say bootstrap.mode inline with
 * transport tcp_local and a static secret: one loopback endpoint in this
 * process, "listening HOST PORT" on stdout, SIGTERM or SIGINT drains and
 * exits 0. `execrpc-server --help` says the rest.
 */
#include "echo.h"
#include "execrpc/main.h"

int
main(int argc, char **argv)
{
	return xr_main(argc, argv, &xr_echo_module, 1);
}
