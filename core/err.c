/* core/err.c — error codes, names and categories. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_row {
	int code;
	const char *name;
	const char *text;
	xr_category cat;
};

static const struct err_row err_rows[] = {
	{ XR_OK, "ok", "success", XR_CAT_OK },
	{ XR_ERR_INTERNAL, "internal", "internal error", XR_CAT_INTERNAL },
	{ XR_ERR_NOMEM, "nomem", "out of memory", XR_CAT_INTERNAL },
	{ XR_ERR_INVALID_ARG, "invalid_argument", "invalid argument", XR_CAT_INTERNAL },
	{ XR_ERR_SYSTEM, "system", "system call failed", XR_CAT_INTERNAL },
	{ XR_ERR_AGAIN, "again", "incomplete input, or a deadline passed", XR_CAT_INTERNAL },
	{ XR_ERR_NO_SPACE, "no_space", "buffer or limit exhausted", XR_CAT_INTERNAL },
	{ XR_ERR_CLOSED, "closed", "connection or object closed", XR_CAT_INTERNAL },
	{ XR_ERR_OVERSIZED, "oversized", "frame length over the limit", XR_CAT_TRANSPORT_REJECT },
	{ XR_ERR_BAD_SIGNATURE, "bad_signature", "frame tag missing or invalid", XR_CAT_TRANSPORT_REJECT },
	{ XR_ERR_MALFORMED, "malformed", "envelope malformed or unsupported version", XR_CAT_TRANSPORT_REJECT },
	{ XR_ERR_KIND_NOT_ALLOWED, "kind_not_allowed", "frame kind not allowed on this endpoint", XR_CAT_TRANSPORT_REJECT },
	{ XR_ERR_EXPIRED, "expired", "frame timestamp outside the ttl", XR_CAT_TRANSPORT_REJECT },
	{ XR_ERR_REPLAY, "replay", "frame replayed", XR_CAT_TRANSPORT_REJECT },
	{ XR_ERR_NONCE_CACHE_FULL, "nonce_cache_full", "replay cache full (fail closed)", XR_CAT_TRANSPORT_REJECT },
	{ XR_ERR_CONFIG_INVALID, "config_invalid", "configuration invalid", XR_CAT_CONFIG_INVALID },
	{ XR_ERR_CONFIG_SYNTAX, "config_syntax", "configuration does not parse", XR_CAT_CONFIG_INVALID },
	{ XR_ERR_SECRET_INVALID, "secret_invalid", "secret configuration invalid", XR_CAT_CONFIG_INVALID },
	{ XR_ERR_LIFECYCLE_RESOLUTION, "lifecycle_resolution", "lifecycle resolution failed", XR_CAT_LIFECYCLE_RESOLUTION },
	{ XR_ERR_LIFECYCLE_NOT_READY, "lifecycle_not_ready", "lifecycle not ready", XR_CAT_LIFECYCLE_NOT_READY },
	{ XR_ERR_WORKER_FAILED, "worker_failed", "worker failed", XR_CAT_WORKER_FAILED },
	{ XR_ERR_BOOTSTRAP_START_FAILED, "bootstrap_start_failed", "worker start failed", XR_CAT_BOOTSTRAP_START_FAILED },
	{ XR_ERR_CHILD_BOOTSTRAP_FAILED, "child_bootstrap_failed", "child bootstrap failed", XR_CAT_CHILD_BOOTSTRAP_FAILED },
	{ XR_ERR_STOP_TIMEOUT, "stop_timeout", "stop timed out", XR_CAT_STOP_TIMEOUT },
	{ XR_ERR_STOP_FAILED, "stop_failed", "stop failed", XR_CAT_STOP_FAILED },
	{ XR_ERR_READY_TIMEOUT, "ready_timeout", "workers not ready before the timeout", XR_CAT_LIFECYCLE_NOT_READY },
	{ XR_ERR_RPC, "rpc", "call failed with a non-OK status", XR_CAT_RPC },
};

static const char *const cat_names[] = {
	[XR_CAT_OK] = "ok",
	[XR_CAT_INTERNAL] = "internal",
	[XR_CAT_CONFIG_INVALID] = "config_invalid",
	[XR_CAT_TRANSPORT_REJECT] = "transport_reject",
	[XR_CAT_LIFECYCLE_RESOLUTION] = "lifecycle_resolution",
	[XR_CAT_LIFECYCLE_NOT_READY] = "lifecycle_not_ready",
	[XR_CAT_WORKER_FAILED] = "worker_failed",
	[XR_CAT_BOOTSTRAP_START_FAILED] = "bootstrap_start_failed",
	[XR_CAT_CHILD_BOOTSTRAP_FAILED] = "child_bootstrap_failed",
	[XR_CAT_STOP_TIMEOUT] = "stop_timeout",
	[XR_CAT_STOP_FAILED] = "stop_failed",
	[XR_CAT_RPC] = "rpc",
};

static const char *const reject_names[XR_REJECT_COUNT] = {
	[XR_REJECT_OVERSIZED] = "oversized",
	[XR_REJECT_BAD_SIGNATURE] = "bad_signature",
	[XR_REJECT_MALFORMED] = "malformed",
	[XR_REJECT_KIND_NOT_ALLOWED] = "kind_not_allowed",
	[XR_REJECT_EXPIRED] = "expired",
	[XR_REJECT_REPLAY] = "replay",
};

static const struct err_row *
err_find(int code)
{
	for (size_t i = 0; i < sizeof(err_rows) / sizeof(err_rows[0]); i++)
		if (err_rows[i].code == code)
			return &err_rows[i];
	return NULL;
}

const char *
xr_strerror(int err)
{
	const struct err_row *r = err_find(err);
	return r ? r->text : "unknown error";
}

const char *
xr_err_name(int err)
{
	const struct err_row *r = err_find(err);
	return r ? r->name : "unknown";
}

xr_category
xr_err_category(int err)
{
	const struct err_row *r = err_find(err);
	return r ? r->cat : XR_CAT_INTERNAL;
}

const char *
xr_category_name(xr_category cat)
{
	if ((unsigned)cat >= sizeof(cat_names) / sizeof(cat_names[0]))
		return "unknown";
	return cat_names[cat];
}

int
xr_err_reject_index(int err)
{
	switch (err) {
	case XR_ERR_OVERSIZED: return XR_REJECT_OVERSIZED;
	case XR_ERR_BAD_SIGNATURE: return XR_REJECT_BAD_SIGNATURE;
	case XR_ERR_MALFORMED: return XR_REJECT_MALFORMED;
	case XR_ERR_KIND_NOT_ALLOWED: return XR_REJECT_KIND_NOT_ALLOWED;
	case XR_ERR_EXPIRED: return XR_REJECT_EXPIRED;
	case XR_ERR_REPLAY:
	case XR_ERR_NONCE_CACHE_FULL: return XR_REJECT_REPLAY;
	default: return -1;
	}
}

const char *
xr_reject_name(int idx)
{
	if (idx < 0 || idx >= XR_REJECT_COUNT)
		return NULL;
	return reject_names[idx];
}

int
xr_diag_set(xr_diag *d, int code, const char *fmt, ...)
{
	va_list ap;

	if (d == NULL)
		return code;
	d->code = code;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return code;
}

int
xr_diag_print(FILE *f, const char *prog, int code, const xr_diag *d)
{
	const char *why = d != NULL && d->reason[0] != '\0' ? d->reason :
	    xr_strerror(code);

	fprintf(f, "%s: %s (code %d): %s\n", prog, xr_err_name(code), code,
	    why);
	fflush(f);
	return (int)xr_err_category(code);
}

#include "dispatch.h"

static const char *const status_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *
xr_status_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(status_names) / sizeof(status_names[0]))
		return "UNKNOWN";
	return status_names[code];
}
