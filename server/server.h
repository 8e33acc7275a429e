/*
 * server/server.h — the execution endpoint: a libevent server on a loopback
 * TCP address that runs every frame through the receive pipeline (core/rx.h)
 * before anything else and dispatches calls to a registry.
 *
 * Protocol: docs/protocol.md. Limits and timeouts: xr_server_opts.
 * Single-threaded on the caller's event_base.
 *
 * Logging: like all library code the endpoint logs at debug level, with one
 * exception, a warning: a refused handshake (a HELLO whose tag does not
 * verify, i.e. a client with another secret or kdf). Only the endpoint
 * sees it (the client is told nothing, docs/protocol.md), every program
 * that hosts an endpoint (execrpc-server, a worker, an inline runtime)
 * would otherwise have to poll a counter to say it, and without it a key
 * mismatch is silent on the side that could name it. The line is
 * rate-limited per endpoint (at most one per refused_warn_interval_ms,
 * with the count of those not logged since) so a peer cannot flood the
 * log, and it carries the endpoint's address and counts only: no peer
 * bytes, no key material.
 */
#ifndef XR_SERVER_H
#define XR_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"
#include "registry.h"

struct event_base;

typedef struct xr_server xr_server;

typedef struct xr_server_opts {
	const char *bind_host;		/* loopback only; NULL = "127.0.0.1" */
	uint16_t bind_port;		/* 0 = ephemeral */
	uint32_t max_payload_bytes;	/* 0 = 1048576 */
	uint32_t ttl_seconds;		/* 0 = 30 */
	uint32_t nonce_cache_size;	/* 0 = 65536 */
	uint32_t max_inflight;		/* per connection, 0 = 1024 */
	size_t max_outbuf;		/* per connection, 0 = 8 MiB: the bound
					 * on its held bytes (below) */
	size_t max_held_bytes;		/* per endpoint, 0 = 256 MiB: the bound
					 * on the held bytes of all its
					 * connections together */
	uint32_t handshake_timeout_ms;	/* HELLO after accept; 0 = 2000 */
	uint32_t frame_timeout_ms;	/* a started frame must finish; 0 = 10000 */
	uint32_t idle_timeout_ms;	/* 0 = 300000 */
	uint32_t max_connections;	/* 0 = 1024, every connection (in its
					 * handshake or not); past it new ones
					 * are reset */
	uint32_t max_preauth;		/* 0 = 64 (at most max_connections):
					 * connections still in their handshake;
					 * past it the oldest of them is reset,
					 * so max_connections - max_preauth
					 * always remain for sessions */
	uint32_t refused_warn_interval_ms; /* 0 = 10000: at most one refused-
					 * handshake warning per interval */
} xr_server_opts;

typedef struct xr_server_stats {
	uint64_t rejects[XR_REJECT_COUNT];	/* by xr_reject */
	uint64_t frames_accepted;
	uint64_t calls_started;		/* requests dispatched */
	uint64_t calls_ok;
	uint64_t calls_failed;		/* completed with a non-OK status */
	uint64_t calls_cancelled;	/* abandoned: CANCEL or connection lost */
	uint64_t connections_accepted;
	uint64_t connections_open;	/* in their handshake or not */
	uint64_t connections_preauth;	/* of those, still in their handshake */
	uint64_t preauth_evictions;	/* handshaking connections reset to
					 * make room under max_preauth */
	uint64_t handshake_timeouts;	/* reset: no HELLO in time */
	uint64_t accept_backoffs;	/* EMFILE/ENFILE pauses */
	uint64_t handshakes_refused;	/* HELLOs whose tag did not verify */
	uint64_t refused_warnings;	/* warnings logged about them */
	uint64_t protocol_errors;	/* authenticated connections closed for
					 * a protocol violation (call_id 0, a
					 * duplicate call_id in flight, a kind
					 * with no handler); one per close */
	uint64_t calls_over_budget;	/* requests refused RESOURCE_EXHAUSTED
					 * because a held-bytes budget was
					 * spent (also in calls_failed) */
	uint64_t held_bytes;		/* now: the held bytes of all
					 * connections (below) */
	uint64_t held_bytes_peak;	/* the largest held_bytes seen */
	uint64_t conn_held_peak;	/* the largest held bytes of any one
					 * connection seen */
} xr_server_stats;

/*
 * Create a server on `base` (borrowed) with keys `ks` (copied) serving
 * `reg` (borrowed; must outlive the server). Refuses a non-loopback
 * bind_host with XR_ERR_CONFIG_INVALID (SEC-IPC-07). Returns NULL with `d`
 * filled on failure. Nothing is bound yet.
 */
xr_server *xr_server_new(struct event_base *base, const xr_server_opts *opts,
    const xr_keyset *ks, xr_registry *reg, xr_diag *d);

/*
 * Bind and listen. Returns XR_OK, or with `d` filled:
 * XR_ERR_CONFIG_INVALID when the configured address cannot be bound — the
 * port is in use ("runtime.platform.execution_ipc.bind_port N: address
 * already in use ..."), needs privileges, or bind_host is not an address
 * of this machine; XR_ERR_SYSTEM for any other failure.
 */
int xr_server_listen(xr_server *s, xr_diag *d);

/* The bound port (after xr_server_listen), in host order. */
uint16_t xr_server_port(const xr_server *s);

/*
 * Drain: send GOAWAY on every open connection, answer new requests with
 * UNAVAILABLE, let in-flight calls finish, close each connection once it
 * has none. New connections are still accepted so that they learn at once
 * that the endpoint drains instead of waiting in the listen backlog until
 * their deadline: a valid HELLO gets HELLO_ACK then GOAWAY, and the
 * connection is closed; a connection in its handshake when the drain
 * starts gets the same. `done` (may be NULL) runs once when no connection
 * is left (possibly inside this call).
 */
void xr_server_drain(xr_server *s, void (*done)(void *arg), void *arg);

/* 1 once xr_server_drain() was called. */
int xr_server_draining(const xr_server *s);

/*
 * Held bytes (the memory a peer makes the endpoint hold, docs/design.md
 * "RPC semantics"): a connection holds the charge of each call in flight,
 * its request payload + XR_ENVELOPE_OVERHEAD (the decoded request lives
 * until the handler answers), plus every byte in its output buffer (the
 * responses its peer has not read yet). A REQUEST is admitted only if the
 * connection's held bytes plus its charge stay <= max_outbuf and the
 * endpoint's held bytes plus its charge stay <= max_held_bytes, or if the
 * connection (resp. the endpoint) holds nothing at all, so that a budget
 * smaller than one call still lets calls through one at a time. Otherwise
 * the call completes at once with RESOURCE_EXHAUSTED, before any handler
 * runs, and is counted in calls_over_budget. An admitted call's response
 * is always sent: when it is queued it replaces the call's charge. So a
 * connection's held bytes exceed max_outbuf only by what a response is
 * larger than its call's charge, or by the short refusals answered while
 * over budget; past max_outbuf of buffered output the connection is no
 * longer read until its peer drains half of it (backpressure).
 */

/* A snapshot of the counters. */
void xr_server_stats_get(const xr_server *s, xr_server_stats *out);

/* Close every connection (abandoning their calls) and free. NULL is a
 * no-op. */
void xr_server_free(xr_server *s);

#endif /* XR_SERVER_H */
