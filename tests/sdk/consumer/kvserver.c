/*
 * tests/sdk/consumer/kvserver.c — kvserver: kv.v1.Kv as a complete execrpc
 * program (execrpc/main.h): --config FILE, config check FILE, --help, and
 * the worker mode the supervisor re-executes it in.
 */
#include <execrpc/main.h>

#include "kv_service.h"

int
main(int argc, char **argv)
{
	return xr_main(argc, argv, kv_modules, kv_n_modules);
}
