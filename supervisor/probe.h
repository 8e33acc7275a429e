/*
 * supervisor/probe.h — a small blocking tcp_local client the supervisor uses
 * to query a worker's built-in execrpc.v1.Endpoint/Stats (the STATS control
 * command). It speaks docs/protocol.md with codec-built, signed frames: HELLO
 * -> HELLO_ACK, then REQUEST -> RESPONSE. One connection per probe; every
 * wait is bounded by a poll timeout. Not a general client (client/ is).
 */
#ifndef XR_PROBE_H
#define XR_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "err.h"
#include "execrpc/v1/lifecycle.pb-c.h"

typedef struct xr_probe xr_probe;

/*
 * Connect to host:port (a loopback literal or "localhost") and open a
 * session: HELLO signed web->exec with `auth` (borrowed; must outlive the
 * probe), HELLO_ACK verified exec->web. Waits at most `timeout_ms` in total.
 * Returns XR_OK with `*out`, or XR_ERR_SYSTEM (connect), XR_ERR_CLOSED (the
 * server closed: e.g. it rejected the HELLO), XR_ERR_AGAIN (timeout), a
 * transport reject code for a bad answer; `d` says which.
 */
int xr_probe_open(const char *host, uint16_t port, xr_auth *auth,
    uint32_t timeout_ms, xr_probe **out, xr_diag *d);

/* Send one REQUEST for `method` with payload bytes; `*call_id` gets its id.
 * `call_timeout_ms` goes into the envelope (0 = none). */
int xr_probe_send(xr_probe *p, const char *method, const uint8_t *req,
    size_t req_len, uint32_t call_timeout_ms, uint64_t *call_id);

/*
 * Wait at most `timeout_ms` for the next RESPONSE (GOAWAY and PONG are
 * skipped). On XR_OK: `*call_id`, `*status` (gRPC code) and the response
 * payload `*resp` (malloc'd, caller frees; NULL when empty) / `*resp_len`.
 * Errors as xr_probe_open().
 */
int xr_probe_recv(xr_probe *p, uint32_t timeout_ms, uint64_t *call_id,
    int *status, uint8_t **resp, size_t *resp_len);

/* Close the connection and free. NULL is a no-op. */
void xr_probe_close(xr_probe *p);

/*
 * Ask the worker at host:port for its counters (execrpc.v1.Endpoint/Stats)
 * within `timeout_ms`. On XR_OK `*out` is the worker's WorkerStatus
 * (execrpc__v1__worker_status__free_unpacked(*out, NULL)).
 */
int xr_probe_stats(const char *host, uint16_t port, xr_auth *auth,
    uint32_t timeout_ms, Execrpc__V1__WorkerStatus **out, xr_diag *d);

#endif /* XR_PROBE_H */
