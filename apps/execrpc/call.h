/*
 * apps/execrpc/call.h — `execrpc call`: one unary call through a running
 * supervisor's control socket (docs/supervisor.md "execrpc call").
 */
#ifndef XR_CLI_CALL_H
#define XR_CLI_CALL_H

/* The exit status of a call that ended with gRPC status `code` (1..16):
 * XR_CLI_CALL_EXIT_BASE + code. */
#define XR_CLI_CALL_EXIT_BASE 100

/* The usage of `execrpc call`'s arguments, for the command table. */
#define XR_CLI_CALL_ARGS "--control PATH (--protoset F | --binary) METHOD [REQ]"

/*
 * `execrpc call` with the arguments after the command word: parses them,
 * sends one CALL command to the supervisor, prints the response (JSON, or
 * raw bytes with --binary) on stdout. Returns the exit status: 0 OK,
 * XR_CLI_CALL_EXIT_BASE + the gRPC status code for a call that failed, the
 * error's category (1..11) when the supervisor could not be asked, 64 for
 * usage errors (the full help with --help, on stdout, status 0).
 */
int xr_cli_call(int argc, char **argv);

#endif /* XR_CLI_CALL_H */
