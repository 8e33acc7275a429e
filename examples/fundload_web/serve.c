/*
 * examples/fundload_web/serve.c — fundload-serve: fundload.v1.FundLoad as
 * an execrpc program (execrpc/main.h) that only serves: under its config's
 * process_supervisor it starts the fund-load workers (itself, re-executed
 * with --worker) and the web process group (the uvicorn processes of
 * app.py), serves the control socket, and runs until SIGTERM, SIGINT or
 * `execrpc stop`. The rules are the config's apps.fundload.rules
 * (docs/fundload.md). examples/fundload_web/run starts it.
 */
#include "execrpc/main.h"
#include "service.h"

#include "appcfg.h"

static const xr_service_module mods[] = {
	{ XR_FL_SERVICE, xr_fl_service_add, XR_FL_APP, xr_fl_app_check },
};

int
main(int argc, char **argv)
{
	return xr_main(argc, argv, mods, sizeof(mods) / sizeof(mods[0]));
}
