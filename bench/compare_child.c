/*
 * bench/compare_child.c — bench_compare_child, the program bench_compare
 * execs for its process rows: a supervised worker hosting echo.v1.Echo
 * (--worker ...) and the bare process of the fork+exec baseline
 * (--bare-ready R S). A program of its own, without gRPC, so that both
 * start-time rows load the same small binary whatever bench_compare links.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return xrb_xr_worker_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--bare-ready") == 0)
		return xrb_bare_child(argc, argv);
	fprintf(stderr, "usage: bench_compare_child --worker ... | "
	    "--bare-ready R S\n");
	return 64;
}
