/*
 * supervisor/ctl_priv.h — the control socket server's connection, shared by
 * ctl_server.c (accepting, reading a command, replying, STATUS / DRAIN /
 * STOP) and ctl_stats.c (STATS). Not installed; not for other layers.
 */
#ifndef XR_CTL_PRIV_H
#define XR_CTL_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "reader.h"
#include "supervisor_priv.h"

#define ANSWERED EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED
#define NO_ANSWER EXECRPC__V1__STATS_STATE__STATS_STATE_NO_ANSWER

/* One worker's part of a STATS command. */
struct stats_slot {
	Execrpc__V1__StatsState state;	/* UNSPECIFIED: not asked */
	bool waiting;			/* asked, no answer yet */
	uint64_t calls, calls_failed;
	uint64_t protocol_errors;	/* connections closed for a violation */
	uint64_t rejects[XR_REJECT_COUNT];	/* indexed by xr_reject */
};

struct ctl_conn {
	xr_supervisor *s;
	struct bufferevent *bev;
	struct event free_ev;
	bool answered;		/* a reply was queued: close once written */
	bool waiting_stop;	/* counted in s->ctl_stop_waiters */
	bool dead;
	xr_reader rd;		/* the command frame */
	/* STATS */
	uint64_t stats_id;	/* the request id asked; 0: none waiting */
	struct stats_slot *slots;	/* one per worker, config order */
	size_t nslots;
	size_t nwaiting;	/* slots still waiting */
	bool sel[XR_CFG_MAX_GROUPS];
	struct event stats_ev;	/* the deadline */
	TAILQ_ENTRY(ctl_conn) link;
};

/* ctl_server.c */
/*
 * Serve the accepted control connection `fd` (non-blocking, as the listener
 * makes it; peer and connection count already checked; owned from here):
 * read one command frame, answer it, close. Returns XR_OK, or XR_ERR_NOMEM
 * with `fd` closed. The accept callback's body, callable on its own
 * (tests/fuzz/fuzz_control.c feeds it one end of a socketpair).
 */
int xr__ctl_conn_open(xr_supervisor *s, evutil_socket_t fd);
/* Close `c` (its bufferevent now, its memory from a deferred callback). */
void xr__ctl_conn_close(struct ctl_conn *c);
/*
 * Reply with the workers of the selected groups (`sel`, indexed like the
 * config's groups; their STATS slots when `stats`), the stop events of the
 * last round when `events`, and error `code` / `msg` when non-zero.
 */
void xr__ctl_send_status(struct ctl_conn *c, const bool *sel, bool stats,
    bool events, int code, const char *msg);

/* ctl_stats.c */
/* Begin a STATS for `c`: ask the serving workers of `sel`; the reply goes
 * out when the last answered (xr__ctl_stats_reply) or at the deadline. */
void xr__ctl_stats_begin(struct ctl_conn *c, const bool *sel);
/* c->stats_ev's callback (assigned when the connection is accepted): the
 * deadline passed; workers that have not answered are reported without
 * counters. */
void xr__ctl_stats_deadline_cb(evutil_socket_t fd, short what, void *arg);

#endif /* XR_CTL_PRIV_H */
