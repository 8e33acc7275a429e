/*
 * apps/execrpc/call.c — `execrpc call`, like grpcurl, through the
 * supervisor (docs/supervisor.md "execrpc call").
 *
 * The CLI holds no keys: its authority is the control socket (mode 0600 in
 * a 0700 directory, peer uid checked), as for status or stop. It sends one
 * CALL{method, payload, timeout_ms, affinity_key}; the supervisor picks a
 * ready worker of the group hosting the service and carries the call over
 * that worker's signed channel; the reply holds the gRPC status and the
 * response payload. JSON <-> protobuf uses a descriptor set from protoc
 * (pbjson.h); --binary passes raw bytes.
 */
#include "call.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_client.h"
#include "dispatch.h"
#include "err.h"
#include "pbjson.h"

#define EXIT_USAGE 64
#define PROTOSET_MAX (64u << 20)	/* a descriptor set file, at most */
#define CTL_MARGIN_MS 5000		/* the reply may come this late */

static const char help[] =
"usage: execrpc call --control PATH [--timeout MS] [--key KEY] [-v]\n"
"                    (--protoset FILE | --binary) METHOD [REQUEST]\n"
"\n"
"Call METHOD (package.Service/Method) once, on a ready worker picked by the\n"
"supervisor listening on PATH. No keys are needed: the control socket is\n"
"the authority (its file mode and owner).\n"
"\n"
"  --protoset FILE  JSON in and out, converted with a descriptor set made by\n"
"                   protoc --descriptor_set_out=FILE --include_imports X.proto;\n"
"                   REQUEST is the JSON request (none or \"-\": read stdin)\n"
"  --binary         raw protobuf request bytes on stdin, raw response bytes\n"
"                   on stdout\n"
"  --timeout MS     the call's deadline, 1..3600000 (default 10000)\n"
"  --key KEY        affinity: the same key picks the same worker while the\n"
"                   group's ready workers do not change (default: round robin)\n"
"  -v               say on stderr which worker answered\n"
"\n"
"exit status: 0 OK; 100 + the gRPC status code when the call fails (e.g.\n"
"103 INVALID_ARGUMENT, 104 DEADLINE_EXCEEDED, 108 RESOURCE_EXHAUSTED,\n"
"112 UNIMPLEMENTED, 113 INTERNAL, 114 UNAVAILABLE), with\n"
"\"execrpc: NAME (status N): MESSAGE\" on stderr; 1..11 the error category\n"
"when the supervisor cannot be asked (5: none listening on PATH); 64 usage.\n";

struct opts {
	const char *path, *key, *protoset, *method, *request;
	bool binary, verbose;
	uint32_t timeout_ms;
};

static int
usage(const char *why)
{
	fprintf(stderr, "execrpc call: %s\n%.*s(execrpc call --help for more)"
	    "\n", why, (int)(strchr(strchr(help, '\n') + 1, '\n') + 1 - help),
	    help);
	return EXIT_USAGE;
}

/* The call's outcome other than OK: one line, then 100 + code. The
 * message comes from a handler: control bytes are shown as \xHH. */
static int
status_exit(int code, const char *what, const char *msg)
{
	char pm[512];
	size_t o = 0;

	for (; *msg != '\0' && o + 5 < sizeof(pm); msg++) {
		unsigned char ch = (unsigned char)*msg;

		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(pm + o, sizeof(pm) - o, "\\x%02x",
			    ch);
		else
			pm[o++] = (char)ch;
	}
	pm[o] = '\0';
	fprintf(stderr, "execrpc: %s (status %d): %s%s\n", xr_status_name(code),
	    code, what, pm);
	return XR_CLI_CALL_EXIT_BASE + code;
}

static int
parse(int argc, char **argv, struct opts *o)
{
	int npos = 0;
	char *end;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = XR_CTL_CALL_DEFAULT_TIMEOUT_MS;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;

		if (strcmp(a, "--control") == 0 && more) {
			o->path = argv[++i];
		} else if (strcmp(a, "--timeout") == 0 && more) {
			unsigned long v;

			errno = 0;
			v = strtoul(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || argv[i][0] == '-' ||
			    v < 1 || v > XR_CTL_CALL_MAX_TIMEOUT_MS)
				return usage("--timeout takes 1..3600000 "
				    "milliseconds");
			o->timeout_ms = (uint32_t)v;
		} else if (strcmp(a, "--key") == 0 && more) {
			o->key = argv[++i];
			if (strlen(o->key) > 63)
				return usage("--key is at most 63 bytes");
		} else if (strcmp(a, "--protoset") == 0 && more) {
			o->protoset = argv[++i];
		} else if (strcmp(a, "--binary") == 0) {
			o->binary = true;
		} else if (strcmp(a, "-v") == 0) {
			o->verbose = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage("unknown option or missing value");
		} else if (npos == 0) {
			o->method = a;
			npos++;
		} else if (npos == 1) {
			o->request = a;
			npos++;
		} else {
			return usage("too many arguments");
		}
	}
	if (o->path == NULL || o->method == NULL)
		return usage("--control PATH and METHOD are required");
	if (o->binary && o->protoset != NULL)
		return usage("--binary and --protoset exclude each other");
	if (!o->binary && o->protoset == NULL)
		return usage("give --protoset FILE (a descriptor set from protoc "
		    "--descriptor_set_out=FILE --include_imports) to call with "
		    "JSON, or --binary to pass raw protobuf bytes on stdin and "
		    "stdout");
	if (o->binary && o->request != NULL && strcmp(o->request, "-") != 0)
		return usage("with --binary the request is read from stdin");
	if (o->request != NULL && strcmp(o->request, "-") == 0)
		o->request = NULL;
	return 0;
}

/* Read all of `f` (at most `max` bytes; one more is over). */
static int
slurp(FILE *f, size_t max, uint8_t **out, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	uint8_t *b = malloc(cap), *nb;

	*out = NULL;
	*len = 0;
	if (b == NULL)
		return XR_ERR_NOMEM;
	while ((got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n > max) {
			free(b);
			return XR_ERR_OVERSIZED;
		}
		if (n == cap) {
			if ((nb = realloc(b, cap * 2)) == NULL) {
				free(b);
				return XR_ERR_NOMEM;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		free(b);
		return XR_ERR_SYSTEM;
	}
	*out = b;
	*len = n;
	return XR_OK;
}

static xr_pbjson *
load_protoset(const char *file, xr_diag *d)
{
	FILE *f = fopen(file, "rb");
	uint8_t *buf = NULL;
	size_t len = 0;
	xr_pbjson *p;
	int r;

	if (f == NULL) {
		xr_diag_set(d, XR_ERR_INVALID_ARG, "--protoset %s: %s", file,
		    strerror(errno));
		return NULL;
	}
	r = slurp(f, PROTOSET_MAX, &buf, &len);
	fclose(f);
	if (r != XR_OK) {
		xr_diag_set(d, r, "--protoset %s: %s", file,
		    r == XR_ERR_OVERSIZED ? "larger than 64 MiB" :
		    xr_strerror(r));
		return NULL;
	}
	p = xr_pbjson_new(buf, len, d);
	free(buf);
	if (p == NULL) {
		char why[sizeof(d->reason)];

		snprintf(why, sizeof(why), "%s", d->reason);
		xr_diag_set(d, d->code, "--protoset %s: %s", file, why);
	}
	return p;
}

int
xr_cli_call(int argc, char **argv)
{
	Execrpc__V1__Command cmd = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__Reply *reply = NULL;
	const Execrpc__V1__CallResult *res;
	const xr_pbjson_type *tin = NULL, *tout = NULL;
	xr_pbjson *pj = NULL;
	struct opts o;
	xr_diag d = { 0 };
	uint8_t *req = NULL, *in = NULL;
	size_t req_len = 0, in_len = 0;
	char *json = NULL;
	int r, rc;

	if (argc == 1 && strcmp(argv[0], "--help") == 0) {
		fputs(help, stdout);
		return 0;
	}
	if ((rc = parse(argc, argv, &o)) != 0)
		return rc;
	if (o.protoset != NULL) {
		if ((pj = load_protoset(o.protoset, &d)) == NULL ||
		    xr_pbjson_method(pj, o.method, &tin, &tout, &d) != XR_OK) {
			fprintf(stderr, "execrpc call: %s\n", d.reason);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	/* the request: argv (JSON) or stdin */
	if (o.request == NULL) {
		r = slurp(stdin, o.binary ? XR_CTL_CALL_MAX_PAYLOAD : 4 *
		    XR_CTL_CALL_MAX_PAYLOAD, &in, &in_len);
		if (r == XR_ERR_OVERSIZED) {
			rc = status_exit(XR_STATUS_RESOURCE_EXHAUSTED, "", "the "
			    "request on stdin is over the call limit of 1048576 "
			    "bytes");
			goto out;
		}
		if (r != XR_OK) {
			rc = xr_diag_print(stderr, "execrpc", r, NULL);
			goto out;
		}
	}
	if (o.binary) {
		req = in;
		req_len = in_len;
		in = NULL;
	} else if ((r = xr_pbjson_encode(pj, tin, o.request != NULL ?
	    o.request : (const char *)in, o.request != NULL ?
	    strlen(o.request) : in_len, &req, &req_len, &d)) != XR_OK) {
		rc = status_exit(XR_STATUS_INVALID_ARGUMENT, "request: ",
		    d.reason);
		goto out;
	}
	if (req_len > XR_CTL_CALL_MAX_PAYLOAD) {
		char msg[128];

		snprintf(msg, sizeof(msg), "request of %zu bytes is over the "
		    "call limit of %u bytes", req_len, XR_CTL_CALL_MAX_PAYLOAD);
		rc = status_exit(XR_STATUS_RESOURCE_EXHAUSTED, "", msg);
		goto out;
	}
	cmd.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL;
	cmd.method = (char *)(uintptr_t)o.method;
	cmd.payload.data = req;
	cmd.payload.len = req_len;
	cmd.timeout_ms = o.timeout_ms;
	cmd.affinity_key = (char *)(uintptr_t)(o.key != NULL ? o.key : "");
	if ((r = xr_ctl_client_call(o.path, &cmd, o.timeout_ms + CTL_MARGIN_MS,
	    &reply, &d)) != XR_OK) {
		rc = xr_diag_print(stderr, "execrpc", r, &d);
		goto out;
	}
	if (reply->error_code != XR_OK || (res = reply->call) == NULL) {
		r = reply->error_code != XR_OK ? reply->error_code :
		    XR_ERR_INTERNAL;
		xr_diag_set(&d, r, "%s", reply->error_code != XR_OK ?
		    reply->error_message : "the reply holds no call result");
		rc = xr_diag_print(stderr, "execrpc", r, &d);
		goto out;
	}
	if (o.verbose && res->group != NULL && res->group[0] != '\0')
		fprintf(stderr, "execrpc: answered by %s[%u] pid %d\n",
		    res->group, res->index, (int)res->pid);
	if (res->status_code != XR_STATUS_OK) {
		rc = status_exit(res->status_code, "", res->status_message !=
		    NULL ? res->status_message : "");
		goto out;
	}
	if (o.binary) {
		rc = fwrite(res->payload.data, 1, res->payload.len, stdout) ==
		    res->payload.len && fflush(stdout) == 0 ? 0 :
		    (int)xr_err_category(XR_ERR_SYSTEM);
		goto out;
	}
	if ((r = xr_pbjson_decode(pj, tout, res->payload.data,
	    res->payload.len, &json, &d)) != XR_OK) {
		rc = status_exit(XR_STATUS_INTERNAL, "response: ", d.reason);
		goto out;
	}
	printf("%s\n", json);
	rc = fflush(stdout) == 0 ? 0 : (int)xr_err_category(XR_ERR_SYSTEM);
 out:
	if (reply != NULL)
		execrpc__v1__reply__free_unpacked(reply, NULL);
	xr_pbjson_free(pj);
	free(json);
	free(req);
	free(in);
	return rc;
}
