/*
 * client/ingress_priv.h — the ingress's state (private to client/):
 * ingress_boot.c reads and validates the bootstrap bundle into it,
 * ingress.c keeps the channels, follows the control channel and picks.
 */
#ifndef XR_CLIENT_INGRESS_PRIV_H
#define XR_CLIENT_INGRESS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "auth.h"
#include "execrpc/ingress.h"
#include "execrpc/v1/lifecycle.pb.h"
#include "keys.h"
#include "replay.h"
#include "rx.h"

/* One execution worker slot and its channel. */
struct xr_ing_slot {
	xr_ingress_endpoint ep;
	size_t n_services;
	char services[16][128];
	xr_channel *ch;			/* owned; NULL: none */
	uint64_t revived_ms;		/* group_revive(): the last remake */
};

struct xr_ingress {
	struct event_base *base;
	xr_ingress_opts o;
	char group[64];
	uint32_t index;
	uint32_t max_payload, ttl;
	xr_keyset base_keys;		/* directional + control: never sent */
	uint8_t inst[XR_INSTANCE_ID_LEN];
	/* the table, in the bundle's order */
	struct xr_ing_slot *slots;
	size_t n, cap;
	uint32_t *rr;			/* per slot index of a group's first
					 * slot: the next round robin pick */
	/* the control channel (fd 4) */
	int ctl_fd;
	struct event *ctl_ev;
	xr_auth *ctl_auth;
	xr_rx rx;
	xr_session sess;
	uint8_t *dgram;			/* XR_INGRESS_CTL_MAX */
	bool stop_seen;
	bool draining;			/* STOP with drain */
	bool refusing;			/* STOP without drain, or done */
	bool done_asked;		/* xr_ingress_stop_done() */
	bool stopped_sent;
	uint64_t inflight;		/* xr_ingress_call_start() calls */
	xr_ingress_stats st;
};

/*
 * Read the bundle from `fd` (closed on every path) within `timeout_ms` and
 * fill `ing` (group, index, limits, keys, table, control session).
 * Returns XR_OK or XR_ERR_CHILD_BOOTSTRAP_FAILED / XR_ERR_NOMEM /
 * XR_ERR_SYSTEM with `d`. Key bytes read are wiped.
 */
int xr__ing_boot_read(xr_ingress *ing, int fd, uint32_t timeout_ms,
    xr_diag *d);

/*
 * Decode and validate bundle bytes `buf` (`len`) into `ing`, as
 * xr__ing_boot_read() does once its one datagram arrived (exposed for
 * tests/fuzz/fuzz_ingress.c). Returns XR_OK or
 * XR_ERR_CHILD_BOOTSTRAP_FAILED / XR_ERR_NOMEM with `d` (never a key
 * byte); on a refusal `ing` may hold part of the table (xr_ingress_free()
 * frees it). The caller wipes `buf`.
 */
int xr__ing_boot_decode(xr_ingress *ing, const uint8_t *buf, size_t len,
    xr_diag *d);

/*
 * One control datagram of `n` bytes (its size as recv(MSG_TRUNC) gave it;
 * over XR_INGRESS_CTL_MAX only `buf`'s first bytes exist and it is
 * refused unread): the receive pipeline (xr_rx_frame: size, tag, decode,
 * kind CONTROL, ttl, session and sequence), then the Command, acted on
 * (ENDPOINT, STOP) or refused. Exactly one of the ingress's counters moves
 * (a reject kind, `refused`, `updates`), or the first STOP is taken.
 * Returns XR_OK when the pipeline accepted it and the Command decoded,
 * else the reject (counted).
 */
int xr__ing_ctl_datagram(xr_ingress *ing, const uint8_t *buf, size_t n);

/* Validate endpoint record `e` (from the bundle or an update): returns
 * XR_OK or XR_ERR_MALFORMED with the reason in `why`. */
int xr__ing_endpoint_check(const execrpc_v1_ExecEndpoint *e, char *why,
    size_t cap);

#endif /* XR_CLIENT_INGRESS_PRIV_H */
