/*
 * examples/kv/main.c — the kv program: the service kv.v1.Kv
 * (kv_service.c) and its typed client (kv_client.c), made a complete
 * execrpc program by xr_main_run():
 *
 *   kv --config kv.yaml [put KEY VALUE | get KEY | delete KEY]...
 *   kv config check kv.yaml
 *   kv --help
 *
 * The supervisor re-executes it as each worker (kv --worker ...).
 */
#include <execrpc/main.h>

/* the service (kv_service.c) and the program's typed client (kv_client.c) */
extern const struct xr_service_module kv_module;
int kv_client(struct xr_lifecycle *lc, int argc, char **argv);

static const xr_main_program program = {
	.about = "ARG: put KEY VALUE | get KEY | delete KEY (one call each)",
	.mods = &kv_module, .n_mods = 1, .ingress = kv_client,
};

int
main(int argc, char **argv)
{
	return xr_main_run(argc, argv, &program);
}
