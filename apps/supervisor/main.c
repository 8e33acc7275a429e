/*
 * apps/supervisor/main.c — execrpc-supervisor: echo.v1.Echo as an execrpc
 * program (execrpc/main.h). Its configs say bootstrap.mode
 * process_supervisor: it starts the process groups as workers (itself,
 * re-executed with --worker), serves the control socket and prints
 * "worker GROUP INDEX pid PID port PORT" per worker; SIGTERM, SIGINT or
 * `execrpc stop` stops it gracefully. `execrpc-supervisor --help` says the
 * rest.
 */
#include "echo.h"
#include "execrpc/main.h"

int
main(int argc, char **argv)
{
	return xr_main(argc, argv, &xr_echo_module, 1);
}
