/*
 * tests/supervisor/ts_probe.h — a small blocking tcp_local client the
 * supervisor tests use to call a worker's endpoint (echo, the built-in
 * execrpc.v1.Endpoint/Stats) with keys of their choosing, and to hold a call
 * in flight across a stop. It speaks docs/protocol.md with codec-built,
 * signed frames: HELLO -> HELLO_ACK, then REQUEST -> RESPONSE. One
 * connection per probe; every wait is bounded by a poll timeout. Test code
 * only (the supervisor itself asks workers over their worker channel).
 */
#ifndef TS_PROBE_H
#define TS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "err.h"
#include "execrpc/v1/lifecycle.pb-c.h"

typedef struct ts_probe ts_probe;

/*
 * Connect to host:port (a loopback literal or "localhost") and open a
 * session: HELLO signed web->exec with `auth` (borrowed; must outlive the
 * probe), HELLO_ACK verified exec->web. Waits at most `timeout_ms` in total.
 * Returns XR_OK with `*out`, or XR_ERR_SYSTEM (connect), XR_ERR_CLOSED (the
 * server closed: e.g. it rejected the HELLO), XR_ERR_AGAIN (timeout), a
 * transport reject code for a bad answer; `d` says which.
 */
int ts_probe_open(const char *host, uint16_t port, xr_auth *auth,
    uint32_t timeout_ms, ts_probe **out, xr_diag *d);

/* Send one REQUEST for `method` with payload bytes; `*call_id` gets its id.
 * `call_timeout_ms` goes into the envelope (0 = none). */
int ts_probe_send(ts_probe *p, const char *method, const uint8_t *req,
    size_t req_len, uint32_t call_timeout_ms, uint64_t *call_id);

/*
 * Wait at most `timeout_ms` for the next RESPONSE (GOAWAY and PONG are
 * skipped). On XR_OK: `*call_id`, `*status` (gRPC code) and the response
 * payload `*resp` (malloc'd, caller frees; NULL when empty) / `*resp_len`.
 * Errors as ts_probe_open().
 */
int ts_probe_recv(ts_probe *p, uint32_t timeout_ms, uint64_t *call_id,
    int *status, uint8_t **resp, size_t *resp_len);

/* Close the connection and free. NULL is a no-op. */
void ts_probe_close(ts_probe *p);

/*
 * Ask the worker at host:port for its counters (execrpc.v1.Endpoint/Stats)
 * within `timeout_ms`. On XR_OK `*out` is the worker's WorkerStatus
 * (execrpc__v1__worker_status__free_unpacked(*out, NULL)).
 */
int ts_probe_stats(const char *host, uint16_t port, xr_auth *auth,
    uint32_t timeout_ms, Execrpc__V1__WorkerStatus **out, xr_diag *d);

#endif /* TS_PROBE_H */
