/*
 * runtime/transport.h — the runtime transport service (docs/design.md s. 5):
 * one object, chosen once from runtime.platform.execution_ipc.transport,
 * that produces the ingress channels. The application never builds a
 * channel by hand (IPC-INT-11) and uses the same call API in both profiles.
 *
 *  - memory:    channels dispatch in-process to the registry; no socket is
 *               ever opened (IPC-INT-01).
 *  - tcp_local: an execution endpoint (server/) bound per config on a
 *               loopback address, in this process (bootstrap.mode inline);
 *               channels are signed tcp_local connections to it (IPC-INT-02).
 *
 * Single-threaded on the caller's event_base.
 */
#ifndef XR_TRANSPORT_H
#define XR_TRANSPORT_H

#include <stdint.h>

#include "config.h"
#include "execrpc/client.h"
#include "registry.h"
#include "server.h"

struct event_base;

typedef struct xr_transport_svc xr_transport_svc;

/*
 * Build the service for `cfg` (borrowed during the call) with keys `ks`
 * (copied) over `reg` (borrowed; must outlive the service). tcp_local binds
 * its endpoint here (XR_ERR_CONFIG_INVALID for a non-loopback host,
 * XR_ERR_SYSTEM if the bind fails). Returns NULL with `d` filled on error.
 */
xr_transport_svc *xr_transport_new(struct event_base *base, const xr_config *cfg,
    const xr_keyset *ks, xr_registry *reg, xr_diag *d);

/* The active profile: XR_TRANSPORT_MEMORY or XR_TRANSPORT_TCP_LOCAL. */
int xr_transport_profile(const xr_transport_svc *t);

/* The endpoint's bound port (tcp_local), 0 for memory. */
uint16_t xr_transport_port(const xr_transport_svc *t);

/* The in-process endpoint (tcp_local), NULL for memory. Borrowed. */
xr_server *xr_transport_server(const xr_transport_svc *t);

/*
 * A new ingress channel of the active profile, ready to take calls (a
 * tcp_local channel queues calls until its handshake is done). The caller
 * frees it with xr_channel_free() before freeing the service. NULL with `d`
 * filled on failure.
 */
xr_channel *xr_transport_channel(xr_transport_svc *t, xr_diag *d);

/* Drain the in-process endpoint (tcp_local) — see xr_server_drain(); for
 * memory, `done` runs at once. */
void xr_transport_drain(xr_transport_svc *t, void (*done)(void *), void *arg);

/* Free the service (and its endpoint). NULL is a no-op. */
void xr_transport_free(xr_transport_svc *t);

#endif /* XR_TRANSPORT_H */
