/*
 * core/err.h — the single execrpc error space (docs/design.md section 8).
 *
 * Every fallible execrpc function returns XR_OK (0) or one negative xr_err
 * code. Codes are stable: they appear in CLI exit statuses, lifecycle replies
 * and logs, so they are never renumbered. Each code belongs to one category
 * (xr_err_category()); the category number is what a CLI exits with.
 *
 * Constructor convention, for every module of the tree:
 *  - a heap object: `xr_x *xr_x_new(..., xr_diag *d)` returns the object, or
 *    NULL with `d` (may be NULL) filled with the code and the reason;
 *    `void xr_x_free(xr_x *x)` releases it, zeroizes any key material it
 *    held, and is a no-op on NULL.
 *  - a struct in caller storage (embedded, on the stack):
 *    `int xr_x_init(xr_x *x, ...)` returns XR_OK or an xr_err and leaves `x`
 *    safe to pass to `void xr_x_fini(xr_x *x)`, which releases what init and
 *    later calls acquired and is a no-op on a zeroed or already finished
 *    struct (and on NULL).
 * Older constructors that return NULL without a diagnostic (no `d`) keep
 * their signatures until their callers are reworked.
 */
#ifndef XR_ERR_H
#define XR_ERR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum xr_err {
	XR_OK = 0,

	/* generic (category INTERNAL) */
	XR_ERR_INTERNAL = -1,		/* a bug or an impossible state */
	XR_ERR_NOMEM = -2,		/* allocation failed */
	XR_ERR_INVALID_ARG = -3,	/* caller passed a bad argument */
	XR_ERR_SYSTEM = -4,		/* a system call failed; see errno */
	XR_ERR_AGAIN = -5,		/* incomplete input: feed more bytes;
					 * or a deadline passed first
					 * (deadline-bounded reads,
					 * xr_loop_until) */
	XR_ERR_NO_SPACE = -6,		/* output buffer too small / limit hit */
	XR_ERR_CLOSED = -7,		/* peer closed / object shut down */

	/* transport rejects (category TRANSPORT_REJECT), docs/design.md section 2 */
	XR_ERR_OVERSIZED = -10,		/* length prefix over the limit */
	XR_ERR_BAD_SIGNATURE = -11,	/* tag missing, wrong length or wrong */
	XR_ERR_MALFORMED = -12,		/* envelope does not decode / bad version */
	XR_ERR_KIND_NOT_ALLOWED = -13,	/* kind outside the endpoint whitelist */
	XR_ERR_EXPIRED = -14,		/* |now - ts| > ttl */
	XR_ERR_REPLAY = -15,		/* nonce or session/sequence seen before */
	XR_ERR_NONCE_CACHE_FULL = -16,	/* replay cache full: fail closed */

	/* configuration (category CONFIG_INVALID) */
	XR_ERR_CONFIG_INVALID = -20,	/* a key or value is invalid */
	XR_ERR_CONFIG_SYNTAX = -21,	/* the YAML does not parse */
	XR_ERR_SECRET_INVALID = -22,	/* secret missing, too short, bad file mode */

	/* lifecycle and bootstrap */
	XR_ERR_LIFECYCLE_RESOLUTION = -30,
	XR_ERR_LIFECYCLE_NOT_READY = -31,
	XR_ERR_WORKER_FAILED = -32,
	XR_ERR_BOOTSTRAP_START_FAILED = -33,
	XR_ERR_CHILD_BOOTSTRAP_FAILED = -34,
	XR_ERR_STOP_TIMEOUT = -35,
	XR_ERR_STOP_FAILED = -36,
	XR_ERR_READY_TIMEOUT = -37,

	/* calls (category RPC): a call's status is a gRPC status, see rpc codes */
	XR_ERR_RPC = -40,
} xr_err;

/* Categories of docs/design.md section 8. The number is stable and is the exit
 * status of the CLIs for an error of that category. */
typedef enum xr_category {
	XR_CAT_OK = 0,
	XR_CAT_INTERNAL = 1,
	XR_CAT_CONFIG_INVALID = 2,
	XR_CAT_TRANSPORT_REJECT = 3,
	XR_CAT_LIFECYCLE_RESOLUTION = 4,
	XR_CAT_LIFECYCLE_NOT_READY = 5,
	XR_CAT_WORKER_FAILED = 6,
	XR_CAT_BOOTSTRAP_START_FAILED = 7,
	XR_CAT_CHILD_BOOTSTRAP_FAILED = 8,
	XR_CAT_STOP_TIMEOUT = 9,
	XR_CAT_STOP_FAILED = 10,
	XR_CAT_RPC = 11,
} xr_category;

/* Transport reject sub-categories, in receive-pipeline order; used to index
 * reject counters. */
typedef enum xr_reject {
	XR_REJECT_OVERSIZED = 0,
	XR_REJECT_BAD_SIGNATURE,
	XR_REJECT_MALFORMED,
	XR_REJECT_KIND_NOT_ALLOWED,
	XR_REJECT_EXPIRED,
	XR_REJECT_REPLAY,
	XR_REJECT_COUNT
} xr_reject;

/* Short human-readable text for an error code; never NULL, static storage. */
const char *xr_strerror(int err);
/* Stable snake_case name of an error code ("bad_signature"); never NULL. */
const char *xr_err_name(int err);
/* The category an error code belongs to (XR_CAT_OK for XR_OK). */
xr_category xr_err_category(int err);
/* Stable snake_case name of a category ("transport_reject"); never NULL. */
const char *xr_category_name(xr_category cat);
/* The reject counter index for a transport-reject code, or -1 if `err` is not
 * a transport reject. XR_ERR_NONCE_CACHE_FULL counts as REPLAY. */
int xr_err_reject_index(int err);
/* Stable name of a reject counter ("bad_signature"); NULL if out of range. */
const char *xr_reject_name(int idx);

/*
 * A diagnostic: category, stable code, reason and trace id. The reason is
 * composed by execrpc code from fixed text plus key paths / names; it never
 * holds key material, raw frames or payloads.
 */
typedef struct xr_diag {
	int code;		/* xr_err */
	char reason[256];
	char trace_id[33];	/* hex, or empty */
} xr_diag;

/* Fill `d` (may be NULL: then a no-op) with `code` and a printf-style reason.
 * Returns `code`, so callers can write `return xr_diag_set(d, XR_ERR_X, ...)`. */
int xr_diag_set(xr_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The programs' one diagnostic line: write "PROG: NAME (code N): REASON\n"
 * to `f` and flush it, where NAME is xr_err_name(code) and REASON is
 * d->reason, or xr_strerror(code) when `d` is NULL or its reason is empty.
 * Returns the exit status for `code`: (int)xr_err_category(code). For
 * programs only (library code never prints above debug level); a failed
 * write is not reported.
 */
int xr_diag_print(FILE *f, const char *prog, int code, const xr_diag *d);

#endif /* XR_ERR_H */
