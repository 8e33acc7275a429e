/* supervisor/worker.c — the worker process: hardening, the endpoint
 * through the hook, its end of the worker channel (with the CALLs it
 * dispatches into its registry), stop. The bundle is read and checked in
 * bundle.c. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth.h"
#include "bundle.h"
#include "dispatch.h"
#include "err.h"
#include "log.h"
#include "printable.h"
#include "proc.h"
#include "server.h"
#include "worker_chan.h"

/* CALLs a worker has in flight at most (the supervisor sends one per
 * control connection, 64 at most). */
#define WORKER_MAX_CALLS 256

struct worker_proc;

/* A CALL from the supervisor, in flight in the registry. */
struct wcall {
	struct worker_proc *w;
	uint64_t id;			/* the supervisor's request id */
	xr_call *call;			/* NULL until xr_dispatch_start returns */
	TAILQ_ENTRY(wcall) link;
};

struct worker_proc {
	struct event_base *base;
	xr_registry *reg;
	const xr_worker_endpoint *ep;
	bool ep_opened;			/* ep->close() is owed */
	xr_server *srv;			/* ep's; NULL once closed */
	bool stream;			/* ep->stream is the endpoint */
	bool stream_draining;
	xr_auth *ctl_auth;
	xr_wchan chan;
	struct event *ctl_ev;
	bool stopping, finished;
	bool finish_when_idle;		/* drained; the last CALL finishes */
	int status;
	TAILQ_HEAD(, wcall) calls;
	size_t ncalls;
};

static int
check_seqpacket(int fd, const char *what, xr_diag *d)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_SEQPACKET)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "%s fd %d is not a "
		    "SOCK_SEQPACKET socket", what, fd);
	return XR_OK;
}

/* ---------- serving and stopping ---------- */

static void
send_cmd(struct worker_proc *w, Execrpc__V1__CommandType type,
    uint32_t port)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	int r;

	c.type = type;
	c.port = port;
	if ((r = xr_wchan_send(&w->chan, &c)) != XR_OK)
		xr_debug("worker: control send failed: %s", xr_err_name(r));
}

static void call_reply(struct worker_proc *w, uint64_t id, int code,
    const char *msg, const uint8_t *resp, size_t len);

/* Abandon every CALL in flight (their handlers' on-cancel hooks run);
 * with `answer`, each is answered UNAVAILABLE first. */
static void
abandon_calls(struct worker_proc *w, bool answer)
{
	struct wcall *k;

	while ((k = TAILQ_FIRST(&w->calls)) != NULL) {
		TAILQ_REMOVE(&w->calls, k, link);
		w->ncalls--;
		if (answer)
			call_reply(w, k->id, XR_STATUS_UNAVAILABLE,
			    "worker stopping", NULL, 0);
		xr_dispatch_abandon(k->call);
		free(k);
	}
}

/* The stop sequence's end: flush, acknowledge, leave the loop. */
static void
finish(struct worker_proc *w)
{
	if (w->finished)
		return;
	w->finished = true;
	abandon_calls(w, true);
	fflush(stdout);
	fflush(stderr);
	send_cmd(w, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED, 0);
	w->status = 0;
	event_base_loopbreak(w->base);
}

/* The endpoint has drained; CALLs in flight finish too, then STOPPED. */
static void
drained(void *arg)
{
	struct worker_proc *w = arg;

	if (w->ncalls > 0) {
		w->finish_when_idle = true;
		return;
	}
	finish(w);
}

static void
close_endpoint(struct worker_proc *w)
{
	if (w->ep_opened)
		w->ep->close(w->ep->arg);
	w->ep_opened = false;
	w->srv = NULL;
}

static void
begin_stop(struct worker_proc *w, bool drain_inflight)
{
	if (w->stopping)
		return;
	w->stopping = true;
	if (drain_inflight && w->stream) {
		/* no new entries; the running ones reply and XACK */
		w->stream_draining = true;
		w->ep->stream->drain(w->ep->arg, drained, w);
		return;
	}
	if (drain_inflight) {
		/* stop accepting; GOAWAY; in-flight calls finish; then done */
		xr_server_drain(w->srv, drained, w);
		return;
	}
	/* no drain: close every connection, abandoning their calls */
	close_endpoint(w);
	finish(w);
}

/* ---------- the worker's end of the worker channel ---------- */

/* The worker's states, as its command table sees them. */
enum { WP_SERVING = 1, WP_DRAINING, WP_STOPPING };

static int
wp_state(const struct worker_proc *w)
{
	if (w->stopping)
		return WP_STOPPING;
	if (w->stream)
		return w->stream_draining ? WP_DRAINING : WP_SERVING;
	return xr_server_draining(w->srv) ? WP_DRAINING : WP_SERVING;
}

static void
ch_stop(void *arg, const Execrpc__V1__Command *c)
{
	begin_stop(arg, c->drain_inflight);
}

static void
ch_drain(void *arg, const Execrpc__V1__Command *c)
{
	struct worker_proc *w = arg;

	(void)c;
	if (w->stream) {
		w->stream_draining = true;
		w->ep->stream->drain(w->ep->arg, NULL, NULL);
		return;
	}
	xr_server_drain(w->srv, NULL, NULL);
}

/* STATS of a stream endpoint: its counters, no port. */
static void
stream_stats(struct worker_proc *w, Execrpc__V1__WorkerStatus *ws,
    uint64_t rejects[XR_REJECT_COUNT])
{
	xr_worker_stream_stats st;

	memset(&st, 0, sizeof(st));
	w->ep->stream->stats(w->ep->arg, &st);
	ws->state = w->stream_draining ?
	    EXECRPC__V1__WORKER_STATE__WORKER_STATE_DRAINING :
	    EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY;
	ws->calls = st.calls;
	ws->calls_failed = st.calls_failed;
	memcpy(rejects, st.rejects, sizeof(st.rejects));
}

/* STATS: the endpoint's counters, answered at once on the channel */
static void
ch_stats(void *arg, const Execrpc__V1__Command *c)
{
	struct worker_proc *w = arg;
	Execrpc__V1__Command r = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__WorkerStatus ws = EXECRPC__V1__WORKER_STATUS__INIT;
	xr_server_stats st;
	int e;

	memset(&st, 0, sizeof(st));
	ws.pid = (int32_t)getpid();
	if (w->stream) {
		stream_stats(w, &ws, st.rejects);
	} else {
		xr_server_stats_get(w->srv, &st);
		ws.port = xr_server_port(w->srv);
		ws.state = xr_server_draining(w->srv) ?
		    EXECRPC__V1__WORKER_STATE__WORKER_STATE_DRAINING :
		    EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY;
		ws.calls = st.calls_started;
		ws.calls_failed = st.calls_failed;
		ws.protocol_errors = st.protocol_errors;
	}
	ws.n_rejects_by_kind = XR_REJECT_COUNT;	/* indexed by xr_reject */
	ws.rejects_by_kind = st.rejects;
	ws.last_exit_status = -1;
	ws.stats = EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED;
	r.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS_REPLY;
	r.request_id = c->request_id;
	r.status = &ws;
	if ((e = xr_wchan_send(&w->chan, &r)) != XR_OK)
		xr_debug("worker: stats reply: %s", xr_err_name(e));
}

/* Send CALL_REPLY{id, code, msg, resp}. */
static void
call_reply(struct worker_proc *w, uint64_t id, int code, const char *msg,
    const uint8_t *resp, size_t len)
{
	Execrpc__V1__Command r = EXECRPC__V1__COMMAND__INIT;
	char buf[256];
	int e;

	r.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL_REPLY;
	r.request_id = id;
	if (code == XR_STATUS_OK && len > w->chan.payload_max) {
		snprintf(buf, sizeof(buf), "response of %zu bytes is over the "
		    "call limit of %u bytes", len, w->chan.payload_max);
		code = XR_STATUS_RESOURCE_EXHAUSTED;
		msg = buf;
	}
	r.status_code = code;
	r.status_message = (char *)(uintptr_t)(msg != NULL ? msg : "");
	if (code == XR_STATUS_OK) {
		r.payload.data = (uint8_t *)(uintptr_t)resp;
		r.payload.len = len;
	}
	if ((e = xr_wchan_send(&w->chan, &r)) != XR_OK)
		xr_debug("worker: call reply %llu: %s",
		    (unsigned long long)id, xr_err_name(e));
}

/* The registry's completion of a CALL (owner: its struct wcall). */
static void
call_done(void *owner, uint64_t id, int code, const char *msg,
    const uint8_t *resp, size_t len)
{
	struct wcall *k = owner;
	struct worker_proc *w = k->w;

	TAILQ_REMOVE(&w->calls, k, link);
	w->ncalls--;
	free(k);
	call_reply(w, id, code, msg, resp, len);
	if (w->finish_when_idle && w->ncalls == 0)
		finish(w);
}

/*
 * CALL{request_id, method, payload, timeout_ms}: dispatched into this
 * worker's own registry, like the memory transport (the same handlers on
 * the same bytes); answered with CALL_REPLY when the handler finishes, the
 * call's deadline passes, or the worker stops.
 */
static void
ch_call(void *arg, const Execrpc__V1__Command *c)
{
	struct worker_proc *w = arg;
	char pm[XR_WCHAN_METHOD_MAX + 8];
	struct wcall *k;
	xr_call *h;

	xr_printable(c->method, strlen(c->method), pm, sizeof(pm));
	if (!xr_wchan_method_ok(c->method)) {
		call_reply(w, c->request_id, XR_STATUS_INVALID_ARGUMENT,
		    "method is not of the form package.Service/Method", NULL,
		    0);
		return;
	}
	if (!xr_registry_has(w->reg, c->method)) {
		char msg[XR_WCHAN_METHOD_MAX + 64];

		snprintf(msg, sizeof(msg), "unknown method \"%s\"", pm);
		call_reply(w, c->request_id, XR_STATUS_UNIMPLEMENTED, msg,
		    NULL, 0);
		return;
	}
	if (c->payload.len > w->chan.payload_max) {
		char msg[128];

		snprintf(msg, sizeof(msg), "request of %zu bytes is over the "
		    "call limit of %u bytes", c->payload.len,
		    w->chan.payload_max);
		call_reply(w, c->request_id, XR_STATUS_RESOURCE_EXHAUSTED, msg,
		    NULL, 0);
		return;
	}
	if (w->ncalls >= WORKER_MAX_CALLS || (k = calloc(1, sizeof(*k))) ==
	    NULL) {
		call_reply(w, c->request_id, XR_STATUS_RESOURCE_EXHAUSTED,
		    "too many calls in flight on the worker channel", NULL, 0);
		return;
	}
	k->w = w;
	k->id = c->request_id;
	TAILQ_INSERT_TAIL(&w->calls, k, link);
	w->ncalls++;
	/* NULL: call_done already ran and freed k */
	if ((h = xr_dispatch_start(w->reg, c->method, c->payload.data,
	    c->payload.len, c->timeout_ms, call_done, k, c->request_id)) !=
	    NULL)
		k->call = h;
}

#define S(st) XR_WCHAN_STATE(WP_##st)

/* What the worker acts on, in which of its states. */
static const xr_wchan_cmd worker_cmds[] = {
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP, XR_WCHAN_TO_WORKER,
	    S(SERVING) | S(DRAINING), XR_WCHAN_ONCE, ch_stop },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN, XR_WCHAN_TO_WORKER,
	    S(SERVING), 0, ch_drain },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS, XR_WCHAN_TO_WORKER,
	    S(SERVING) | S(DRAINING), 0, ch_stats },
	{ EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL, XR_WCHAN_TO_WORKER,
	    S(SERVING), 0, ch_call },
};

#undef S

static void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_proc *w = arg;
	Execrpc__V1__Command *c;
	int r;

	(void)fd;
	(void)what;
	while (!w->finished) {
		r = xr_wchan_recv(&w->chan, &c);
		if (r == XR_ERR_AGAIN)
			return;
		if (r == XR_ERR_CLOSED || r == XR_ERR_SYSTEM) {
			/* the supervisor is gone: leave promptly */
			xr_debug("worker: control channel closed");
			w->status = 1;
			event_base_loopbreak(w->base);
			return;
		}
		if (r != XR_OK) {
			xr_debug("worker: control frame rejected: %s",
			    xr_err_name(r));
			continue;
		}
		if (xr_wchan_dispatch(&w->chan, worker_cmds,
		    sizeof(worker_cmds) / sizeof(worker_cmds[0]),
		    XR_WCHAN_TO_WORKER, wp_state(w), w, c) != XR_OK) {
			xr_debug("worker: control command %d refused",
			    (int)c->type);
			/* a CALL while draining or stopping: said so at once */
			if (c->type == EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL)
				call_reply(w, c->request_id,
				    XR_STATUS_UNAVAILABLE, wp_state(w) ==
				    WP_DRAINING ? "worker draining" :
				    "worker stopping", NULL, 0);
		}
		execrpc__v1__command__free_unpacked(c, NULL);
	}
}

/* The stream reader is up: the worker is ready. */
static void
stream_up(void *arg)
{
	struct worker_proc *w = arg;

	if (!w->stopping)
		send_cmd(w, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY, 0);
}

/* Open the endpoint of the bundle's profile through the hook. */
static int
open_endpoint(struct worker_proc *w, const xr_bundle *b, xr_diag *d)
{
	char consumer[XR_CFG_NAME_MAX + 32];
	xr_config slice;
	xr_diag sd = { 0 };
	int r = XR_OK;

	if (w->ep == NULL || (b->redis && w->ep->stream == NULL))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "no endpoint hook%s",
		    b->redis ? " for redis_streams" : "");
	xr_bundle_slice(b, &slice);
	w->ep_opened = true;
	if (b->redis) {
		w->stream = true;
		snprintf(consumer, sizeof(consumer), "%s-%u-%u", b->group,
		    b->index, b->generation);
		r = w->ep->stream->open(w->ep->arg, w->base, &slice, &b->keys,
		    w->reg, b->group, b->index, consumer, stream_up, w, &sd);
	} else if ((w->srv = w->ep->open(w->ep->arg, w->base, &slice,
	    &b->keys, w->reg, &sd)) == NULL) {
		r = XR_ERR_CHILD_BOOTSTRAP_FAILED;
	}
	xr_config_free(&slice);
	if (r != XR_OK)
		return xr_diag_set(d, XR_ERR_CHILD_BOOTSTRAP_FAILED,
		    "endpoint: %s", sd.reason);
	return XR_OK;
}

static int
serve_setup(struct worker_proc *w, xr_bundle *b, int control_fd, xr_diag *d)
{
	xr_worker_ctx ctx;
	uint32_t call_max = 0;
	int r, fl;

	if ((w->base = event_base_new()) == NULL ||
	    (w->reg = xr_registry_new(w->base)) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "cannot set up the event "
		    "loop");
	ctx.group = b->group;
	ctx.index = b->index;
	ctx.max_payload_bytes = b->max_payload;
	ctx.base = w->base;
	for (size_t i = 0; i < b->n_services; i++) {
		xr_diag md = { 0 };

		ctx.app = xr_bundle_app(b, b->mods[i]->app);
		if ((r = b->mods[i]->add(w->reg, &ctx, &md)) != XR_OK)
			return xr_diag_set(d, r, "registering service \"%s\" "
			    "failed: %s", b->mods[i]->name,
			    md.reason[0] != '\0' ? md.reason : xr_strerror(r));
	}
	if ((r = open_endpoint(w, b, d)) != XR_OK)
		return r;
	if ((w->ctl_auth = xr_auth_new(&b->keys)) == NULL ||
	    xr_wchan_init(&w->chan, control_fd, w->ctl_auth, b->sid,
	    b->ttl) != XR_OK)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	/* CALL payloads: what this end of the channel carries (the
	 * supervisor sized both ends alike at spawn) */
	if ((r = xr_wchan_size_socket(control_fd, b->max_payload,
	    &call_max)) != XR_OK ||
	    (r = xr_wchan_set_payload_max(&w->chan, call_max)) != XR_OK)
		return xr_diag_set(d, r, "control channel buffers: %s",
		    xr_strerror(r));
	if ((fl = fcntl(control_fd, F_GETFL)) < 0 ||
	    fcntl(control_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(control_fd, F_SETFD, FD_CLOEXEC) < 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "control fd: %s",
		    strerror(errno));
	if ((w->ctl_ev = event_new(w->base, control_fd, EV_READ | EV_PERSIST,
	    ctl_cb, w)) == NULL || event_add(w->ctl_ev, NULL) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "cannot watch the control "
		    "channel");
	return XR_OK;
}

int
xr_worker_main(int bootstrap_fd, int control_fd,
    const xr_service_module *mods, size_t n_mods,
    const xr_worker_endpoint *ep)
{
	xr_bundle *b = NULL;
	struct worker_proc w;
	xr_diag d = { 0 };
	int r;

	memset(&w, 0, sizeof(w));
	TAILQ_INIT(&w.calls);
	w.ep = ep;
	w.status = 1;
	/* this process holds keys; it dies with the supervisor */
	if ((r = xr_proc_harden(XR_PROC_DIE_WITH_PARENT, &d)) != XR_OK ||
	    (r = check_seqpacket(bootstrap_fd, "bootstrap", &d)) != XR_OK) {
		close(bootstrap_fd);
		goto out;
	}
	if ((r = xr_bundle_read(bootstrap_fd, mods, n_mods, &b, &d)) ==
	    XR_OK &&	/* the fd is closed */
	    (r = check_seqpacket(control_fd, "control", &d)) == XR_OK)
		r = serve_setup(&w, b, control_fd, &d);
	xr_bundle_free(b);	/* the keys now live in the endpoint + auth */
	if (r != XR_OK)
		goto out;
	if (!w.stream)	/* a stream endpoint: once it is up */
		send_cmd(&w, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY,
		    xr_server_port(w.srv));
	event_base_dispatch(w.base);
 out:
	/* the reason never holds key bytes */
	if (r != XR_OK)
		w.status = xr_diag_print(stderr, "execrpc-worker",
		    XR_ERR_CHILD_BOOTSTRAP_FAILED, &d);
	if (w.ctl_ev != NULL)
		event_free(w.ctl_ev);
	abandon_calls(&w, false);	/* before the registry goes */
	close_endpoint(&w);
	xr_registry_free(w.reg);
	xr_wchan_fini(&w.chan);
	xr_auth_free(w.ctl_auth);
	if (w.base != NULL)
		event_base_free(w.base);
	close(control_fd);
	return w.status;
}

static int
parse_fd(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 3 || v > 65535)
		return -1;
	return (int)v;
}

int
xr_worker_args(int argc, char **argv, int *bootstrap_fd, int *control_fd)
{
	int bfd = -1, cfd = -1;

	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--bootstrap-fd") == 0)
			bfd = parse_fd(argv[i + 1]);
		else if (strcmp(argv[i], "--control-fd") == 0)
			cfd = parse_fd(argv[i + 1]);
	}
	if (bfd < 0 || cfd < 0 || bfd == cfd)
		return XR_ERR_INVALID_ARG;
	*bootstrap_fd = bfd;
	*control_fd = cfd;
	return XR_OK;
}
