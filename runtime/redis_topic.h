/*
 * runtime/redis_topic.h — topic bindings of the redis_streams profile
 * (docs/design.md section 5, "Topics on redis_streams"), private to
 * runtime/. A topic is one delivery to every live worker of a group:
 *
 *   - every worker of a group is a *member*: next to its share of the
 *     group's request stream it reads a stream of its own,
 *     P:GROUP:topic:CONSUMER:req (consumer group GROUP:topic:CONSUMER),
 *     through a second xr_redis_worker — the same receive order, nonce and
 *     call records, reply and XACK as a queue call — and it keeps its name
 *     in the sorted set P:GROUP:members, scored with the wall-clock time
 *     of its last beat (every XR_REDIS_MEMBER_BEAT_MS; removed when it is
 *     freed);
 *   - the ingress keeps the live members of each group it publishes to
 *     (scored within XR_REDIS_MEMBER_LIVE_MS, read again every beat) and
 *     sends a publish as one separately signed call per member, XADDed to
 *     that member's stream through the ingress (its own nonce, call id
 *     and reply, so a replayed topic entry is refused like any other).
 *
 * A member that dies within the liveness window still gets its delivery:
 * it ends at the publish's deadline (DEADLINE_EXCEEDED), so give topic
 * publishes a deadline on this profile.
 *
 * Single-threaded on the caller's event_base.
 */
#ifndef XR_RUNTIME_REDIS_TOPIC_H
#define XR_RUNTIME_REDIS_TOPIC_H

#include <stddef.h>

#include "redis.h"

#define XR_REDIS_MEMBER_BEAT_MS	250
#define XR_REDIS_MEMBER_LIVE_MS	2000
#define XR_REDIS_MEMBERS_MAX	32	/* per group, as the ingress sees */

/* ---------- the worker side ---------- */

typedef struct xr_redis_member xr_redis_member;

/*
 * Worker `consumer` of `group` as a topic member: reads its own topic
 * stream on `reg` (borrowed; must outlive it) with `o` (copied) and the
 * keys xr_keys_group(ks, "GROUP:topic:CONSUMER") (the name the ingress
 * targets; `ks`: the secret's keyset, not kept) and beats in the group's member set, on `base`. NULL with `d` filled
 * (XR_ERR_NOMEM; XR_ERR_INVALID_ARG: "GROUP:topic:CONSUMER" does not fit
 * XR_CFG_NAME_MAX).
 */
xr_redis_member *xr_redis_member_new(struct event_base *base,
    const xr_redis_opts *o, const xr_keyset *ks, xr_registry *reg,
    const char *group, const char *consumer, xr_diag *d);

/* The counters of its topic stream's reader. */
void xr_redis_member_stats_get(const xr_redis_member *m,
    xr_redis_worker_stats *out);

/* Leave the member set (ZREM, if connected) and free. NULL is a no-op. */
void xr_redis_member_free(xr_redis_member *m);

/* ---------- the ingress side ---------- */

typedef struct xr_redis_members xr_redis_members;

/* The live members of the groups asked for, kept fresh on `base` with its
 * own connection. NULL with `d` filled (XR_ERR_NOMEM). */
xr_redis_members *xr_redis_members_new(struct event_base *base,
    const xr_redis_opts *o, xr_diag *d);

/*
 * The live members of `group` as last read (watched from this call on:
 * the first call for a group finds none until the next read), sorted by
 * name: up to `max` target names ("GROUP:topic:CONSUMER", each a group
 * name for xr_redis_ingress_target()) into names[i]. Returns how many.
 */
size_t xr_redis_members_get(xr_redis_members *ms, const char *group,
    char names[][XR_CFG_NAME_MAX], size_t max);

/* NULL is a no-op. */
void xr_redis_members_free(xr_redis_members *ms);

#endif /* XR_RUNTIME_REDIS_TOPIC_H */
