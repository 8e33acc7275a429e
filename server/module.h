/*
 * server/module.h — a registrable service module: what an application (or
 * a test) offers for an endpoint to host, by full service name, and the
 * context its registration gets. The module tables of the runtime
 * (xr_lifecycle_opts.mods) and of a worker (xr_worker_main) are arrays of
 * these; a module is hosted in-process by the inline endpoint or in a
 * worker process, and registers the same way in both.
 */
#ifndef XR_MODULE_H
#define XR_MODULE_H

#include <stdint.h>

#include "config.h"
#include "err.h"
#include "registry.h"

struct event_base;

/* What a service module gets to register its methods. The pointers are
 * valid during the add() call only: a service copies what it keeps. */
typedef struct xr_worker_ctx {
	const char *group;		/* process group name */
	uint32_t index;			/* worker index within the group */
	const xr_app_section *app;	/* apps.<module's app>, or NULL */
	uint32_t max_payload_bytes;	/* runtime slice */
	struct event_base *base;	/* the endpoint's event loop */
} xr_worker_ctx;

/*
 * One registrable service: `name` is the full service name a bundle lists
 * ("echo.v1.Echo"). `add` registers its methods on `reg` and returns XR_OK
 * or an xr_err; on error it says why in `d` (never NULL; a reason left
 * empty is reported as the code's xr_strerror()): the inline lifecycle
 * fails with lifecycle_resolution, a worker with child_bootstrap_failed,
 * both naming the service and that reason. State that add() makes for its
 * handlers (their `arg`) is handed to the registry with
 * xr_registry_on_free() (registry.h), which releases it with `reg`; add()
 * runs once per registry (the inline endpoint's, each worker's).
 * `app` names the apps.NAME section the module reads (NULL: none); it gets
 * it as ctx->app. `check_app` (may be NULL) validates that section (`sec`
 * NULL when the config has none): XR_OK, or XR_ERR_CONFIG_INVALID with a
 * reason naming "apps.NAME.KEY" and the allowed values. It runs where the
 * modules are known: in xr_lifecycle_new (config_invalid) and on the
 * worker's bundle (child_bootstrap_failed).
 */
typedef struct xr_service_module {
	const char *name;
	int (*add)(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d);
	const char *app;
	int (*check_app)(const xr_app_section *sec, xr_diag *d);
} xr_service_module;

#endif /* XR_MODULE_H */
