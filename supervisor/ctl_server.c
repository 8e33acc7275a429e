/*
 * supervisor/ctl_server.c — the lifecycle control socket, server side:
 * AF_UNIX stream, mode 0600, peer uid checked; one length-prefixed
 * execrpc.v1.Command per connection, answered with one execrpc.v1.Reply
 * (supervisor/ctl_client.h). STOP is answered when its stop round completes;
 * STATS when every worker asked over its worker channel has answered, or at
 * a deadline; CALL (ctl_call.c) when its worker answers, or at its
 * deadline: the loop never blocks on a worker.
 */
#include "ctl_priv.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "ctl_client.h"
#include "frame.h"
#include "log.h"
#include "reader.h"

#define ACCEPT_BACKOFF_MS 250
#define MAX_CONNS 64		/* control connections open at once */


/* ---------- teardown ---------- */

static void
conn_destroy(struct ctl_conn *c)
{
	xr_supervisor *s = c->s;

	TAILQ_REMOVE(&s->ctl_conns, c, link);
	xr__call_conn_gone(s, c);
	if (c->waiting_stop)
		s->ctl_stop_waiters--;
	event_del(&c->free_ev);
	event_del(&c->stats_ev);
	bufferevent_free(c->bev);
	free(c->slots);
	free(c);
}

static void
free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_destroy(arg);
}

/* Never free inside the connection's own callback: defer. */
void
xr__ctl_conn_close(struct ctl_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(&c->free_ev, EV_TIMEOUT, 0);
}

/* ---------- replies ---------- */

static Execrpc__V1__StopMode
pb_stop_mode(xr_stop_mode m)
{
	return m == XR_STOP_GRACEFUL ? EXECRPC__V1__STOP_MODE__STOP_MODE_GRACEFUL :
	    EXECRPC__V1__STOP_MODE__STOP_MODE_FORCED;
}


/* Queue the reply, framed, and close the connection once it is written. */
static void
conn_reply(struct ctl_conn *c, const Execrpc__V1__Reply *r)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = execrpc__v1__reply__get_packed_size(r);
	uint8_t hdr[XR_FRAME_PREFIX_LEN], *buf;

	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
	if (len > XR_CTL_MAX_REPLY || (buf = malloc(len + 1)) == NULL) {
		xr__ctl_conn_close(c);
		return;
	}
	execrpc__v1__reply__pack(r, buf);
	xr_frame_put_len(hdr, (uint32_t)len);
	if (evbuffer_add(out, hdr, sizeof(hdr)) != 0 ||
	    evbuffer_add(out, buf, len) != 0)
		xr__ctl_conn_close(c);
	free(buf);
	if (!c->dead)
		bufferevent_enable(c->bev, EV_WRITE);
}

void
xr__ctl_call_answer(struct ctl_conn *c, const Execrpc__V1__CallResult *res)
{
	Execrpc__V1__Reply r = EXECRPC__V1__REPLY__INIT;
	struct timeval io = { XR_CTL_IO_TIMEOUT_MS / 1000, 0 };

	if (c->answered || c->dead)
		return;
	r.call = (Execrpc__V1__CallResult *)(uintptr_t)res;
	bufferevent_set_timeouts(c->bev, NULL, &io);
	conn_reply(c, &r);
}

static void
conn_error(struct ctl_conn *c, int code, const char *msg)
{
	Execrpc__V1__Reply r = EXECRPC__V1__REPLY__INIT;

	r.error_code = code;
	r.error_message = (char *)(uintptr_t)msg;
	conn_reply(c, &r);
}

/* redis_streams: worker `w`'s consumer and its pending entries, from the
 * lifecycle's probe, into `ws` (its strings in `name`); false: none. */
static bool
worker_stream(const xr_supervisor *s, const struct sup_worker *w,
    Execrpc__V1__WorkerStream *ws, char *name, size_t cap)
{
	uint64_t n = 0;

	if (s->stream_consumer == NULL || xr__sup_is_ingress(w->grp) ||
	    w->generation == 0)
		return false;
	snprintf(name, cap, "%s-%u-%u", w->grp->cfg->name, w->index,
	    w->generation);
	if (!s->stream_consumer(s->stream_arg, w->grp->cfg->name, name, &n))
		return false;
	execrpc__v1__worker_stream__init(ws);
	ws->consumer = name;
	ws->pending = n;
	return true;
}

/* redis_streams: the figures of the selected groups' streams into
 * `gs`/`gp` (room for every group); returns how many. */
static size_t
group_streams(const xr_supervisor *s, const bool *sel,
    Execrpc__V1__GroupStream *gs, Execrpc__V1__GroupStream **gp,
    xr_stream_figures *fig)
{
	size_t n = 0;

	for (size_t g = 0; s->stream_group != NULL && g < s->ngroups; g++) {
		if (!sel[g] || xr__sup_is_ingress(&s->groups[g]) ||
		    !s->stream_group(s->stream_arg, s->groups[g].cfg->name,
		    &fig[n]))
			continue;
		execrpc__v1__group_stream__init(&gs[n]);
		gs[n].group = (char *)(uintptr_t)s->groups[g].cfg->name;
		gs[n].stream = fig[n].stream;
		gs[n].known = fig[n].known;
		gs[n].length = fig[n].length;
		gs[n].lag = fig[n].lag;
		gs[n].pending = fig[n].pending;
		gs[n].consumers = fig[n].consumers;
		gs[n].age_ms = fig[n].age_ms;
		gp[n] = &gs[n];
		n++;
	}
	return n;
}

/*
 * Build and send a reply: the workers of the selected groups (with what
 * their STATS slots hold when `stats`), the stop events of the last round
 * when `events`; under redis_streams each group's stream figures and each
 * worker's pending entries.
 */
void
xr__ctl_send_status(struct ctl_conn *c, const bool *sel, bool stats, bool events,
    int code, const char *msg)
{
	xr_supervisor *s = c->s;
	Execrpc__V1__Reply r = EXECRPC__V1__REPLY__INIT;
	Execrpc__V1__WorkerStatus *ws = NULL, **wp = NULL;
	Execrpc__V1__StopEvent ev[XR_CFG_MAX_GROUPS], *evp[XR_CFG_MAX_GROUPS];
	Execrpc__V1__GroupStream gs[XR_CFG_MAX_GROUPS], *gsp[XR_CFG_MAX_GROUPS];
	xr_stream_figures fig[XR_CFG_MAX_GROUPS];
	Execrpc__V1__WorkerStream *wst = NULL;
	char (*cname)[XR_CFG_NAME_MAX + 32] = NULL;
	size_t total = 0, k = 0, flat = 0;

	for (size_t g = 0; g < s->ngroups; g++)
		total += s->groups[g].n;
	if ((ws = calloc(total + 1, sizeof(*ws))) == NULL ||
	    (wp = calloc(total + 1, sizeof(*wp))) == NULL ||
	    (wst = calloc(total + 1, sizeof(*wst))) == NULL ||
	    (cname = calloc(total + 1, sizeof(*cname))) == NULL) {
		xr__ctl_conn_close(c);
		goto out;
	}
	for (size_t g = 0; g < s->ngroups; g++) {
		for (uint32_t i = 0; i < s->groups[g].n; i++, flat++) {
			const struct sup_worker *w = &s->groups[g].w[i];
			Execrpc__V1__WorkerStatus *o = &ws[k];
			struct stats_slot *sl;

			if (!sel[g])
				continue;
			execrpc__v1__worker_status__init(o);
			o->group = (char *)(uintptr_t)s->groups[g].cfg->name;
			o->index = w->index;
			o->pid = (int32_t)w->pid;
			o->state = (Execrpc__V1__WorkerState)w->state;
			o->port = w->port;
			o->restarts = w->restarts;
			o->generation = w->generation;
			o->role = xr__sup_is_ingress(&s->groups[g]) ?
			    EXECRPC__V1__GROUP_ROLE__GROUP_ROLE_INGRESS :
			    EXECRPC__V1__GROUP_ROLE__GROUP_ROLE_EXECUTION;
			o->last_exit_status = w->last_exit_status;
			o->last_signal = w->last_signal;
			if (worker_stream(s, w, &wst[k], cname[k],
			    sizeof(cname[k])))
				o->stream = &wst[k];
			wp[k++] = o;
			if (!stats || c->slots == NULL || flat >= c->nslots)
				continue;
			sl = &c->slots[flat];
			o->stats = sl->state;
			if (sl->state != ANSWERED)
				continue;
			o->calls = sl->calls;
			o->calls_failed = sl->calls_failed;
			o->protocol_errors = sl->protocol_errors;
			o->n_rejects_by_kind = XR_REJECT_COUNT;
			o->rejects_by_kind = sl->rejects;
		}
	}
	r.n_workers = k;
	r.workers = wp;
	r.n_streams = group_streams(s, sel, gs, gsp, fig);
	r.streams = gsp;
	if (events) {
		size_t ne = 0;

		/* in config order (deterministic), not completion order */
		for (size_t g = 0; g < s->ngroups; g++)
			for (size_t i = 0; i < s->nevents; i++) {
				if (strcmp(s->events[i].group,
				    s->groups[g].cfg->name) != 0)
					continue;
				execrpc__v1__stop_event__init(&ev[ne]);
				ev[ne].group = s->events[i].group;
				ev[ne].mode = pb_stop_mode(s->events[i].mode);
				evp[ne] = &ev[ne];
				ne++;
			}
		r.n_stop_events = ne;
		r.stop_events = evp;
	}
	r.error_code = code;
	r.error_message = (char *)(uintptr_t)(msg != NULL ? msg : "");
	conn_reply(c, &r);
 out:
	free(ws);
	free(wp);
	free(wst);
	free(cname);
}

void
xr__ctl_round_done(xr_supervisor *s)
{
	struct ctl_conn *c;
	bool all[XR_CFG_MAX_GROUPS];
	char msg[200] = "";
	int code = XR_OK;
	size_t off = 0;

	for (size_t g = 0; g < XR_CFG_MAX_GROUPS; g++)
		all[g] = true;
	for (size_t i = 0; i < s->nevents; i++) {
		if (s->events[i].mode != XR_STOP_FORCED)
			continue;
		code = XR_ERR_STOP_TIMEOUT;
		if (off < sizeof(msg))
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
			    "%s%s", off == 0 ? "forced stop (SIGKILL) of group(s): "
			    : ", ", s->events[i].group);
	}
	TAILQ_FOREACH(c, &s->ctl_conns, link)
		if (c->waiting_stop && !c->answered && !c->dead)
			xr__ctl_send_status(c, all, false, true, code, msg);
}

/* ---------- commands ---------- */

static void
handle(struct ctl_conn *c, const Execrpc__V1__Command *cmd)
{
	xr_supervisor *s = c->s;
	bool sel[XR_CFG_MAX_GROUPS];
	uint32_t timeout;

	memset(sel, 0, sizeof(sel));
	if (cmd->n_groups == 0) {
		for (size_t g = 0; g < s->ngroups; g++)
			sel[g] = true;
	}
	for (size_t i = 0; i < cmd->n_groups; i++) {
		struct group *g = xr__sup_group(s, cmd->groups[i]);

		if (g == NULL) {
			conn_error(c, XR_ERR_INVALID_ARG, "unknown process group");
			return;
		}
		sel[g - s->groups] = true;
	}
	switch (cmd->type) {
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS:
		xr__ctl_send_status(c, sel, false, false, XR_OK, NULL);
		return;
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS:
		xr__ctl_stats_begin(c, sel);
		return;
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN:
		for (size_t g = 0; g < s->ngroups; g++)
			if (sel[g])
				xr__sup_drain_group(s, &s->groups[g]);
		xr__ctl_send_status(c, sel, false, false, XR_OK, NULL);
		return;
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL:
		if (cmd->n_groups != 0) {
			conn_error(c, XR_ERR_INVALID_ARG, "CALL is routed by "
			    "its method; groups must be empty");
			return;
		}
		/* answered by ctl_call.c, maybe at once; no read timeout
		 * while the worker works */
		bufferevent_disable(c->bev, EV_READ);
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		xr__call_begin(s, c, cmd);
		return;
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP:
		if (cmd->n_groups != 0) {
			conn_error(c, XR_ERR_INVALID_ARG, "STOP stops every "
			    "group; groups must be empty");
			return;
		}
		timeout = cmd->graceful_timeout_ms != 0 ?
		    cmd->graceful_timeout_ms :
		    s->cfg->graceful_timeout_seconds * 1000;
		/* answered by xr__ctl_round_done(), maybe inside stop_begin */
		c->waiting_stop = true;
		s->ctl_stop_waiters++;
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		bufferevent_disable(c->bev, EV_READ);
		xr__sup_stop_begin(s, timeout, cmd->drain ==
		    EXECRPC__V1__DRAIN_POLICY__DRAIN_POLICY_CONFIG ?
		    s->cfg->drain_inflight : cmd->drain ==
		    EXECRPC__V1__DRAIN_POLICY__DRAIN_POLICY_DRAIN, true);
		return;
	default:
		conn_error(c, XR_ERR_INVALID_ARG, "unsupported command type");
		return;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	Execrpc__V1__Command *cmd;
	const uint8_t *body;
	size_t len;
	int r;

	if (c->answered || c->waiting_stop || c->dead)
		return;
	/* the limit is checked on the prefix, before the body is buffered */
	if ((r = xr_reader_bufferevent(&c->rd, bev, &body, &len)) ==
	    XR_ERR_AGAIN)
		return;
	if (r == XR_ERR_OVERSIZED) {
		char msg[96];

		snprintf(msg, sizeof(msg), "command of %zu bytes is over the "
		    "limit of %u bytes", c->rd.need, XR_CTL_MAX_COMMAND);
		conn_error(c, XR_ERR_OVERSIZED, msg);
		return;
	}
	if (r != XR_OK) {
		xr__ctl_conn_close(c);
		return;
	}
	cmd = execrpc__v1__command__unpack(NULL, len, body);
	if (cmd == NULL) {
		conn_error(c, XR_ERR_MALFORMED, "command does not decode as "
		    "execrpc.v1.Command");
		return;
	}
	handle(c, cmd);
	execrpc__v1__command__free_unpacked(cmd, NULL);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->answered &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		xr__ctl_conn_close(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		xr__ctl_conn_close(arg);
}

/* ---------- accepting ---------- */

int
xr__ctl_conn_open(xr_supervisor *s, evutil_socket_t fd)
{
	struct timeval io = { XR_CTL_IO_TIMEOUT_MS / 1000, 0 };
	struct ctl_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->bev = bufferevent_socket_new(s->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		evutil_closesocket(fd);
		return XR_ERR_NOMEM;
	}
	c->s = s;
	xr_reader_init(&c->rd, XR_CTL_MAX_COMMAND);
	event_assign(&c->free_ev, s->base, -1, 0, free_cb, c);
	evtimer_assign(&c->stats_ev, s->base, xr__ctl_stats_deadline_cb, c);
	TAILQ_INSERT_TAIL(&s->ctl_conns, c, link);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_set_timeouts(c->bev, &io, &io);
	bufferevent_enable(c->bev, EV_READ);
	return XR_OK;
}

static bool
peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return false;
	return cr.uid == geteuid() || cr.uid == 0;
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	xr_supervisor *s = arg;
	struct ctl_conn *c;

	(void)lev;
	(void)sa;
	(void)salen;
	size_t n = 0;

	TAILQ_FOREACH(c, &s->ctl_conns, link)
		n++;
	if (n >= MAX_CONNS) {
		xr_debug("supervisor: too many control connections");
		evutil_closesocket(fd);
		return;
	}
	if (!peer_allowed(fd)) {
		xr_debug("supervisor: control peer refused (uid)");
		evutil_closesocket(fd);
		return;
	}
	(void)xr__ctl_conn_open(s, fd);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_supervisor *s = arg;

	(void)fd;
	(void)what;
	if (s->ctl_lev != NULL)
		evconnlistener_enable(s->ctl_lev);
}

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	xr_supervisor *s = arg;
	struct timeval tv = { 0, ACCEPT_BACKOFF_MS * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		/* the listener stays readable: pause instead of spinning */
		evconnlistener_disable(lev);
		event_add(s->ctl_backoff, &tv);
	}
}

/* Remove a stale socket at `path`; refuse a live one or a non-socket. */
static int
clear_stale(const char *path, const struct sockaddr_un *sun, xr_diag *d)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? XR_OK : xr_diag_set(d, XR_ERR_SYSTEM,
		    "control socket %s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket %s "
		    "exists and is not a socket", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "socket: %s",
		    strerror(errno));
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (r == 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket %s "
		    "is in use by a running supervisor", path);
	if (unlink(path) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "removing stale %s: %s",
		    path, strerror(errno));
	return XR_OK;
}

/*
 * The socket's directory must be a directory owned by our euid or root and
 * writable by its owner only: in a directory others may write, another uid
 * could rename the live socket away and bind its own, answering the CLI
 * itself. As OpenSSH does for its files, group or other write permission
 * refuses, sticky bit or not.
 */
static int
check_dir(const char *dir, const struct stat *st, xr_diag *d)
{
	uid_t me = geteuid();

	if (!S_ISDIR(st->st_mode))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket "
		    "directory %s is not a directory", dir);
	if (st->st_uid != me && st->st_uid != 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket "
		    "directory %s is owned by uid %u, not by uid %u or root",
		    dir, (unsigned)st->st_uid, (unsigned)me);
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket "
		    "directory %s is group/other-writable (mode %04o)", dir,
		    (unsigned)(st->st_mode & 07777));
	return XR_OK;
}

int
xr_supervisor_control_listen(xr_supervisor *s, const char *path, xr_diag *d)
{
	struct sockaddr_un sun;
	struct stat st;
	char *dir = NULL, *tmp = NULL;
	mode_t old;
	bool bound = false;
	int fd = -1, r;

	if (s->ctl_lev != NULL)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket "
		    "already listening");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket path "
		    "empty or longer than %zu bytes", sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, strlen(path));
	/* the parent directory: created 0700 if missing, then checked */
	if ((tmp = strdup(path)) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	dir = dirname(tmp);
	if (stat(dir, &st) != 0 && (errno != ENOENT ||
	    (mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    stat(dir, &st) != 0)) {
		r = xr_diag_set(d, XR_ERR_SYSTEM, "control socket directory "
		    "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((r = check_dir(dir, &st, d)) != XR_OK)
		goto fail;
	if ((r = clear_stale(path, &sun, d)) != XR_OK)
		goto fail;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0) {
		r = xr_diag_set(d, XR_ERR_SYSTEM, "socket: %s", strerror(errno));
		goto fail;
	}
	old = umask(0177);	/* the socket file is created 0600 */
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == 0)
		bound = true;
	if (r != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0 ||
	    stat(path, &st) != 0) {
		r = xr_diag_set(d, XR_ERR_SYSTEM, "control socket %s: %s",
		    path, strerror(errno));
		goto fail;
	}
	s->ctl_dev = st.st_dev;
	s->ctl_ino = st.st_ino;
	if ((s->ctl_path = strdup(path)) == NULL ||
	    (s->ctl_backoff = evtimer_new(s->base, backoff_cb, s)) == NULL ||
	    (s->ctl_lev = evconnlistener_new(s->base, accept_cb, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL) {
		r = xr_diag_set(d, XR_ERR_NOMEM, "control socket: out of "
		    "memory");
		goto fail;
	}
	evconnlistener_set_error_cb(s->ctl_lev, accept_error_cb);
	free(tmp);
	return XR_OK;
 fail:
	if (bound)	/* the file we bound: nobody will serve it */
		unlink(path);
	if (fd >= 0)
		close(fd);
	free(s->ctl_path);
	s->ctl_path = NULL;
	if (s->ctl_backoff != NULL)
		event_free(s->ctl_backoff);
	s->ctl_backoff = NULL;
	free(tmp);
	return r;
}

void
xr__ctl_shutdown(xr_supervisor *s)
{
	struct ctl_conn *c;
	struct stat st;

	while ((c = TAILQ_FIRST(&s->ctl_conns)) != NULL)
		conn_destroy(c);
	if (s->ctl_lev != NULL)
		evconnlistener_free(s->ctl_lev);
	s->ctl_lev = NULL;
	if (s->ctl_backoff != NULL)
		event_free(s->ctl_backoff);
	s->ctl_backoff = NULL;
	/* unlink only the socket we created, not a successor's */
	if (s->ctl_path != NULL && stat(s->ctl_path, &st) == 0 &&
	    st.st_dev == s->ctl_dev && st.st_ino == s->ctl_ino)
		unlink(s->ctl_path);
	free(s->ctl_path);
	s->ctl_path = NULL;
}
