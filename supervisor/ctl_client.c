/* supervisor/ctl_client.c — control socket client and reply JSON. */
#include "ctl_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "frame.h"
#include "reader.h"
#include "rx.h"

/* Wait until `fd` is ready for `events` (POLLIN / POLLOUT), at most until
 * the xr_mono_ms() time `deadline`. Returns XR_OK, XR_ERR_AGAIN at the
 * deadline, or XR_ERR_SYSTEM. Retries on EINTR. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = xr_mono_ms();
		struct pollfd p = { fd, events, 0 };
		int r;

		if (now >= deadline)
			return XR_ERR_AGAIN;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return XR_ERR_SYSTEM;
		if (r == 0)
			return XR_ERR_AGAIN;
		return XR_OK;
	}
}

/*
 * Read one length-prefixed reply through the frame reader `rd`, each wait
 * bounded by `deadline`. Returns XR_OK with `*body`/`*len` viewing the body
 * in rd's buffer, or the reader's error (XR_ERR_OVERSIZED on the prefix
 * alone), XR_ERR_AGAIN at the deadline, XR_ERR_CLOSED, XR_ERR_SYSTEM.
 */
static int
read_reply(int fd, xr_reader *rd, uint64_t deadline, const uint8_t **body,
    size_t *len)
{
	uint8_t chunk[4096];
	size_t used;
	ssize_t n;
	int r;

	for (;;) {
		if ((r = wait_fd(fd, POLLIN, deadline)) != XR_OK)
			return r;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return XR_ERR_CLOSED;
		if (n < 0)
			return XR_ERR_SYSTEM;
		/* one reply per connection: bytes after it are not read */
		r = xr_reader_feed(rd, chunk, (size_t)n, &used, body, len);
		if (r != XR_ERR_AGAIN)
			return r;
	}
}

int
xr_ctl_client_call(const char *path, const Execrpc__V1__Command *cmd,
    uint32_t timeout_ms, Execrpc__V1__Reply **out, xr_diag *d)
{
	struct sockaddr_un sun;
	uint64_t deadline = xr_mono_ms() + timeout_ms;
	uint8_t *buf = NULL;
	const uint8_t *body = NULL;
	size_t len = execrpc__v1__command__get_packed_size(cmd), off = 0, rlen;
	xr_reader rd;
	int fd = -1, r;

	*out = NULL;
	xr_reader_init(&rd, XR_CTL_MAX_REPLY);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "control socket path "
		    "too long");
	if (len > XR_CTL_MAX_COMMAND)
		return xr_diag_set(d, XR_ERR_OVERSIZED, "command of %zu bytes "
		    "is over the limit of %u bytes", len, XR_CTL_MAX_COMMAND);
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "socket: %s",
		    strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		r = errno;
		close(fd);
		if (r == ENOENT || r == ECONNREFUSED)
			return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY,
			    "no supervisor listening on %s: %s", path,
			    strerror(r));
		return xr_diag_set(d, XR_ERR_SYSTEM, "connect %s: %s", path,
		    strerror(r));
	}
	if ((buf = malloc(XR_FRAME_PREFIX_LEN + len)) == NULL) {
		r = xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
		goto out;
	}
	xr_frame_put_len(buf, (uint32_t)len);
	execrpc__v1__command__pack(cmd, buf + XR_FRAME_PREFIX_LEN);
	len += XR_FRAME_PREFIX_LEN;
	while (off < len) {
		ssize_t n;

		if ((r = wait_fd(fd, POLLOUT, deadline)) != XR_OK) {
			xr_diag_set(d, r, "sending the command: %s",
			    xr_err_name(r));
			goto out;
		}
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = xr_diag_set(d, XR_ERR_CLOSED, "sending the command: "
			    "%s", strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	free(buf);
	buf = NULL;
	if ((r = read_reply(fd, &rd, deadline, &body, &rlen)) != XR_OK) {
		if (r == XR_ERR_OVERSIZED)
			xr_diag_set(d, r, "reply of %zu bytes over the limit",
			    rd.need);
		else if (r == XR_ERR_NOMEM)
			xr_diag_set(d, r, "out of memory");
		else if (rd.got < XR_FRAME_PREFIX_LEN)
			xr_diag_set(d, r, "no reply: %s", r == XR_ERR_AGAIN ?
			    "timed out" : xr_err_name(r));
		else
			xr_diag_set(d, r, "truncated reply: %s",
			    r == XR_ERR_AGAIN ? "timed out" : xr_err_name(r));
		goto out;
	}
	if ((*out = execrpc__v1__reply__unpack(NULL, rlen, body)) == NULL)
		r = xr_diag_set(d, XR_ERR_MALFORMED, "reply does not decode");
 out:
	xr_reader_free(&rd);
	free(buf);
	close(fd);
	return r;
}

/* ---------- JSON ---------- */

static const char *
state_name(Execrpc__V1__WorkerState s)
{
	static const char *const names[] = {
		"unspecified", "starting", "ready", "draining", "stopping",
		"stopped", "failed", "backoff",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ?
	    names[s] : "unknown";
}

static json_t *
worker_json(const Execrpc__V1__WorkerStatus *w)
{
	json_t *o = json_object(), *rj;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "group", json_string(w->group));
	json_object_set_new(o, "index", json_integer(w->index));
	json_object_set_new(o, "pid", json_integer(w->pid));
	json_object_set_new(o, "state", json_string(state_name(w->state)));
	json_object_set_new(o, "port", json_integer(w->port));
	json_object_set_new(o, "restarts", json_integer(w->restarts));
	json_object_set_new(o, "generation", json_integer(w->generation));
	json_object_set_new(o, "last_exit_status",
	    json_integer(w->last_exit_status));
	json_object_set_new(o, "last_signal", json_integer(w->last_signal));
	/* a web process (role: ingress); a worker's JSON is unchanged */
	if (w->role == EXECRPC__V1__GROUP_ROLE__GROUP_ROLE_INGRESS)
		json_object_set_new(o, "role", json_string("ingress"));
	/* redis_streams: the worker's consumer and its pending entries */
	if (w->stream != NULL) {
		json_object_set_new(o, "consumer",
		    json_string(w->stream->consumer));
		json_object_set_new(o, "stream_pending",
		    json_integer((json_int_t)w->stream->pending));
	}
	if (w->stats != EXECRPC__V1__STATS_STATE__STATS_STATE_UNSPECIFIED)
		json_object_set_new(o, "stats", json_string(w->stats ==
		    EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED ? "answered" :
		    w->stats == EXECRPC__V1__STATS_STATE__STATS_STATE_NO_ANSWER ?
		    "no_answer" : "unknown"));
	if (w->n_rejects_by_kind > 0) {
		json_object_set_new(o, "calls", json_integer((json_int_t)w->calls));
		json_object_set_new(o, "calls_failed",
		    json_integer((json_int_t)w->calls_failed));
		json_object_set_new(o, "protocol_errors",
		    json_integer((json_int_t)w->protocol_errors));
		rj = json_object();
		/* the names of xr_reject; kinds this build does not know (a
		 * newer worker) are left out */
		for (size_t i = 0; i < w->n_rejects_by_kind; i++) {
			const char *name = xr_reject_name((int)i);

			if (name != NULL)
				json_object_set_new(rj, name, json_integer(
				    (json_int_t)w->rejects_by_kind[i]));
		}
		json_object_set_new(o, "rejects", rj);
	}
	return o;
}

int
xr_ctl_client_reply_json(const Execrpc__V1__Reply *r, char **out)
{
	json_t *root = json_object(), *ws = json_array(), *ev = json_array();
	int ret = XR_ERR_NOMEM;

	*out = NULL;
	if (root == NULL || ws == NULL || ev == NULL)
		goto out;
	if (r->error_code != 0) {
		json_t *e = json_object();

		json_object_set_new(e, "code", json_integer(r->error_code));
		json_object_set_new(e, "name",
		    json_string(xr_err_name(r->error_code)));
		json_object_set_new(e, "message", json_string(r->error_message));
		json_object_set_new(root, "error", e);
	}
	for (size_t i = 0; i < r->n_workers; i++)
		json_array_append_new(ws, worker_json(r->workers[i]));
	for (size_t i = 0; i < r->n_stop_events; i++) {
		json_t *e = json_object();
		Execrpc__V1__StopMode m = r->stop_events[i]->mode;

		json_object_set_new(e, "group",
		    json_string(r->stop_events[i]->group));
		json_object_set_new(e, "mode", json_string(
		    m == EXECRPC__V1__STOP_MODE__STOP_MODE_GRACEFUL ? "graceful" :
		    m == EXECRPC__V1__STOP_MODE__STOP_MODE_FORCED ? "forced" :
		    "unspecified"));
		json_array_append_new(ev, e);
	}
	/* redis_streams: each group's request streams (no key otherwise) */
	if (r->n_streams > 0) {
		json_t *sa = json_array();

		for (size_t i = 0; sa != NULL && i < r->n_streams; i++) {
			const Execrpc__V1__GroupStream *g = r->streams[i];
			json_t *e = json_object();

			json_object_set_new(e, "group", json_string(g->group));
			json_object_set_new(e, "stream", json_string(g->stream));
			json_object_set_new(e, "known", json_boolean(g->known));
			json_object_set_new(e, "length",
			    json_integer((json_int_t)g->length));
			json_object_set_new(e, "lag",
			    json_integer((json_int_t)g->lag));
			json_object_set_new(e, "pending",
			    json_integer((json_int_t)g->pending));
			json_object_set_new(e, "consumers",
			    json_integer((json_int_t)g->consumers));
			json_object_set_new(e, "age_ms",
			    json_integer((json_int_t)g->age_ms));
			json_array_append_new(sa, e);
		}
		json_object_set_new(root, "streams", sa);
	}
	json_object_set(root, "workers", ws);
	json_object_set(root, "stop_events", ev);
	if ((*out = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT)) != NULL)
		ret = XR_OK;
 out:
	json_decref(ws);
	json_decref(ev);
	json_decref(root);
	return ret;
}
