/*
 * supervisor/ctl_call.c — the CALL command of the control socket: a unary
 * call of one method, routed to a ready worker and carried over its signed
 * worker channel (docs/supervisor.md "Calls through the supervisor").
 *
 * Routing: the service is the method name before '/'; the group is the
 * first in config order whose services list names it, else the first group
 * with an empty list (it hosts every module of the program, so the worker
 * decides); else no group hosts it (UNIMPLEMENTED). Within the group, a
 * READY worker (never a draining, stopping or starting one): round robin,
 * or by affinity key (the same key picks the same worker while the group's
 * set of ready workers is unchanged).
 *
 * Each call waits in s->calls under its request id, with a deadline timer;
 * its answer comes from the worker's CALL_REPLY, the deadline
 * (DEADLINE_EXCEEDED), the worker's exit (UNAVAILABLE), whichever is first.
 * A reply that comes later is dropped. The loop never blocks on a worker.
 */
#include "supervisor_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_client.h"
#include "dispatch.h"
#include "hmap.h"		/* xr_hash_fnv1a */
#include "log.h"
#include "printable.h"

_Static_assert(XR_WCHAN_PAYLOAD_CAP == XR_CTL_CALL_MAX_PAYLOAD,
    "the worker channel and the control socket carry the same calls");

struct sup_call {
	xr_supervisor *s;
	struct ctl_conn *conn;		/* to answer; NULL once it is gone */
	struct sup_worker *w;		/* the worker asked */
	uint64_t id;			/* the request id on its channel */
	uint32_t timeout_ms;
	struct event deadline;
	TAILQ_ENTRY(sup_call) link;
};

static void
call_free(struct sup_call *k)
{
	TAILQ_REMOVE(&k->s->calls, k, link);
	event_del(&k->deadline);
	free(k);
}

/* Answer connection `c` with a status and no worker (refused before any
 * worker was asked). */
static void
refuse(struct ctl_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct ctl_conn *c, int code, const char *fmt, ...)
{
	Execrpc__V1__CallResult res = EXECRPC__V1__CALL_RESULT__INIT;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	res.status_code = code;
	res.status_message = msg;
	xr__ctl_call_answer(c, &res);
}

/* Answer call `k` with a status from the supervisor (not the worker), and
 * forget it. */
static void
settle(struct sup_call *k, int code, const char *msg)
{
	Execrpc__V1__CallResult res = EXECRPC__V1__CALL_RESULT__INIT;
	struct sup_worker *w = k->w;

	res.status_code = code;
	res.status_message = (char *)(uintptr_t)msg;
	res.group = (char *)(uintptr_t)w->grp->cfg->name;
	res.index = w->index;
	res.pid = (int32_t)w->pid;
	if (k->conn != NULL)
		xr__ctl_call_answer(k->conn, &res);
	call_free(k);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup_call *k = arg;
	char msg[160];

	(void)fd;
	(void)what;
	snprintf(msg, sizeof(msg), "no answer from worker %s[%u] within %u ms",
	    k->w->grp->cfg->name, k->w->index, k->timeout_ms);
	settle(k, XR_STATUS_DEADLINE_EXCEEDED, msg);
}

/* The group that hosts `svc` (len bytes), or NULL. */
static struct group *
route(xr_supervisor *s, const char *svc, size_t len)
{
	for (size_t g = 0; g < s->ngroups; g++) {
		const xr_group_cfg *gc = s->groups[g].cfg;

		for (size_t i = 0; i < gc->n_services &&
		    !xr__sup_is_ingress(&s->groups[g]); i++)
			if (strlen(gc->services[i]) == len &&
			    memcmp(gc->services[i], svc, len) == 0)
				return &s->groups[g];
	}
	/* an empty list: every module of the program; the worker decides */
	for (size_t g = 0; g < s->ngroups; g++)
		if (s->groups[g].cfg->n_services == 0 &&
		    !xr__sup_is_ingress(&s->groups[g]))	/* hosts nothing */
			return &s->groups[g];
	return NULL;
}

/*
 * A READY worker of `g`, or NULL if none is ready: round robin over the
 * ready ones, or, for a non-empty `key`, the ingress's affinity rule
 * (runtime/transport.c, xr_queue_pick()): the worker at FNV-1a-64(key)
 * modulo the group's size, or the next ready one after it. So a key goes
 * to the same worker through `execrpc call --key` as through the ingress.
 */
static struct sup_worker *
pick(struct group *g, const char *key)
{
	uint32_t nready = 0, want, start;

	for (uint32_t i = 0; i < g->n; i++)
		if (g->w[i].state == XR_WORKER_READY && g->w[i].ctl_fd >= 0)
			nready++;
	if (nready == 0)
		return NULL;
	if (key != NULL && key[0] != '\0') {
		start = (uint32_t)(xr_hash_fnv1a(key, strlen(key)) % g->n);
		for (uint32_t i = 0; i < g->n; i++) {
			struct sup_worker *w = &g->w[(start + i) % g->n];

			if (w->state == XR_WORKER_READY && w->ctl_fd >= 0)
				return w;
		}
		return NULL;
	}
	want = g->rr++ % nready;
	for (uint32_t i = 0; i < g->n; i++) {
		if (g->w[i].state != XR_WORKER_READY || g->w[i].ctl_fd < 0)
			continue;
		if (want-- == 0)
			return &g->w[i];
	}
	return NULL;
}

void
xr__call_begin(xr_supervisor *s, struct ctl_conn *c,
    const Execrpc__V1__Command *cmd)
{
	Execrpc__V1__Command q = EXECRPC__V1__COMMAND__INIT;
	const char *m = cmd->method != NULL ? cmd->method : "";
	const char *slash = strchr(m, '/');
	uint32_t timeout = cmd->timeout_ms != 0 ? cmd->timeout_ms :
	    XR_CTL_CALL_DEFAULT_TIMEOUT_MS;
	uint32_t limit = s->cfg->max_payload_bytes;
	struct timeval tv;
	struct sup_worker *w;
	struct sup_call *k;
	struct group *g;
	char pm[XR_WCHAN_METHOD_MAX + 8];
	int r;

	xr_printable(m, strlen(m), pm, sizeof(pm));
	if (!xr_wchan_method_ok(m) || slash == NULL) {
		refuse(c, XR_STATUS_INVALID_ARGUMENT, "method \"%s\" is not of "
		    "the form package.Service/Method (at most %d bytes)", pm,
		    XR_WCHAN_METHOD_MAX);
		return;
	}
	if (timeout > XR_CTL_CALL_MAX_TIMEOUT_MS) {
		refuse(c, XR_STATUS_INVALID_ARGUMENT, "timeout of %u ms is over "
		    "the maximum of %u ms", timeout, XR_CTL_CALL_MAX_TIMEOUT_MS);
		return;
	}
	if ((g = route(s, m, (size_t)(slash - m))) == NULL) {
		refuse(c, XR_STATUS_UNIMPLEMENTED, "no process group hosts "
		    "service \"%.*s\" (method \"%s\")", (int)(slash - m), m, pm);
		return;
	}
	if ((w = pick(g, cmd->affinity_key)) == NULL) {
		refuse(c, XR_STATUS_UNAVAILABLE, "no ready worker in process "
		    "group \"%s\" (method \"%s\")", g->cfg->name, pm);
		return;
	}
	if (w->call_max < limit)
		limit = w->call_max;
	if (cmd->payload.len > limit) {
		refuse(c, XR_STATUS_RESOURCE_EXHAUSTED, "request of %zu bytes "
		    "is over the call limit of %u bytes (max_payload_bytes %u, "
		    "worker channel %u)", cmd->payload.len, limit,
		    s->cfg->max_payload_bytes, w->call_max);
		return;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		refuse(c, XR_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	k->s = s;
	k->conn = c;
	k->w = w;
	k->id = ++s->call_seq;
	k->timeout_ms = timeout;
	evtimer_assign(&k->deadline, s->base, deadline_cb, k);
	TAILQ_INSERT_TAIL(&s->calls, k, link);
	q.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL;
	q.request_id = k->id;
	q.method = (char *)(uintptr_t)m;
	q.payload = cmd->payload;
	q.timeout_ms = timeout;
	if ((r = xr__sup_send(w, &q)) != XR_OK) {
		char msg[160];

		snprintf(msg, sizeof(msg), "worker %s[%u]: %s", g->cfg->name,
		    w->index, r == XR_ERR_AGAIN ? "its channel is full, try "
		    "again" : xr_err_name(r));
		settle(k, XR_STATUS_UNAVAILABLE, msg);
		return;
	}
	tv.tv_sec = timeout / 1000;
	tv.tv_usec = (suseconds_t)(timeout % 1000) * 1000;
	evtimer_add(&k->deadline, &tv);
}

void
xr__call_reply(xr_supervisor *s, struct sup_worker *w,
    const Execrpc__V1__Command *c)
{
	Execrpc__V1__CallResult res = EXECRPC__V1__CALL_RESULT__INIT;
	struct sup_call *k;
	int code = c->status_code;

	TAILQ_FOREACH(k, &s->calls, link)
		if (k->id == c->request_id && k->w == w)
			break;
	if (k == NULL) {
		/* id 0 or one never given out: not an answer to anything */
		if (c->request_id == 0 || c->request_id > s->call_seq)
			w->refused++;
		xr_debug("supervisor: %s[%u]: call reply %llu dropped (late "
		    "or not asked)", w->grp->cfg->name, w->index,
		    (unsigned long long)c->request_id);
		return;
	}
	if (code < XR_STATUS_OK || code > XR_STATUS_UNAUTHENTICATED)
		code = XR_STATUS_UNKNOWN;
	res.status_code = code;
	res.status_message = c->status_message != NULL ? c->status_message :
	    (char *)(uintptr_t)"";
	if (code == XR_STATUS_OK)
		res.payload = c->payload;
	res.group = (char *)(uintptr_t)w->grp->cfg->name;
	res.index = w->index;
	res.pid = (int32_t)w->pid;
	if (k->conn != NULL)
		xr__ctl_call_answer(k->conn, &res);
	call_free(k);
}

void
xr__call_worker_gone(xr_supervisor *s, const struct sup_worker *w)
{
	struct sup_call *k, *next;
	char msg[160];

	for (k = TAILQ_FIRST(&s->calls); k != NULL; k = next) {
		next = TAILQ_NEXT(k, link);
		if (k->w != w)
			continue;
		snprintf(msg, sizeof(msg), "worker %s[%u] exited before "
		    "answering", w->grp->cfg->name, w->index);
		settle(k, XR_STATUS_UNAVAILABLE, msg);
	}
}

void
xr__call_conn_gone(xr_supervisor *s, const struct ctl_conn *c)
{
	struct sup_call *k, *next;

	for (k = TAILQ_FIRST(&s->calls); k != NULL; k = next) {
		next = TAILQ_NEXT(k, link);
		if (k->conn == c)
			call_free(k);
	}
}
