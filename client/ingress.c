/*
 * client/ingress.c — the ingress of a web process (execrpc/ingress.h): a
 * channel per READY execution worker, the signed control channel on fd 4
 * (updates, STOP; READY and STOPPED back), the pick by service and the
 * drain.
 */
#include "ingress_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "codec_nb.h"
#include "frame.h"
#include "hmap.h"
#include "log.h"
#include "nonce.h"

/* ---------- the slots' channels ---------- */

static void
slot_close(struct xr_ing_slot *sl)
{
	xr_channel *ch = sl->ch;

	sl->ch = NULL;
	sl->ep.connected = 0;
	xr_channel_free(ch);	/* its calls fail UNAVAILABLE */
}

/* A channel to the slot's process, with its endpoint keys. */
static void
slot_open(xr_ingress *ing, struct xr_ing_slot *sl)
{
	xr_channel_opts co = { 0 };
	xr_keyset ek;
	xr_diag d = { 0 };

	if (xr_keys_endpoint(&ing->base_keys, ing->inst, sl->ep.group,
	    sl->ep.index, sl->ep.generation, &ek) != XR_OK) {
		xr_debug("ingress: no keys for %s[%u]", sl->ep.group,
		    sl->ep.index);
		return;
	}
	co.host = sl->ep.host;
	co.port = sl->ep.port;
	co.max_payload_bytes = ing->max_payload;
	co.ttl_seconds = ing->ttl;
	co.client_name = ing->o.client_name;
	sl->ch = xr_channel_new_tcp_diag(ing->base, &co, &ek, &d);
	xr_keyset_wipe(&ek);
	if (sl->ch == NULL) {
		xr_debug("ingress: channel to %s[%u]: %s", sl->ep.group,
		    sl->ep.index, d.reason);
		return;
	}
	sl->ep.connected = 1;
	ing->st.channels_opened++;
}

/* Apply a slot's new record: a new process (generation, port) gets a new
 * channel; one not serving loses it (dead) or is no longer picked. */
static void
slot_apply(xr_ingress *ing, struct xr_ing_slot *sl,
    const execrpc_v1_ExecEndpoint *e)
{
	bool moved = e->generation != sl->ep.generation ||
	    e->port != sl->ep.port;
	int st = (int)e->state;

	sl->ep.generation = e->generation;
	sl->ep.port = (uint16_t)e->port;
	sl->ep.state = st;
	snprintf(sl->ep.host, sizeof(sl->ep.host), "%s", e->host);
	if (sl->ch != NULL && (moved || st == XR_INGRESS_EP_STOPPED ||
	    st == XR_INGRESS_EP_FAILED || st == XR_INGRESS_EP_BACKOFF))
		slot_close(sl);
	if (sl->ch == NULL && st == XR_INGRESS_EP_READY && !ing->refusing)
		slot_open(ing, sl);
}

/* ---------- the control channel (fd 4) ---------- */

static int
ctl_send(xr_ingress *ing, const execrpc_v1_Command *cmd)
{
	uint8_t pbuf[execrpc_v1_Command_size], *out;
	pb_ostream_t os = pb_ostream_from_buffer(pbuf, sizeof(pbuf));
	execrpc_v1_Envelope env;
	size_t env_len, total;
	ssize_t n;
	int r;

	if (ing->ctl_fd < 0)
		return XR_ERR_CLOSED;
	if (!pb_encode(&os, execrpc_v1_Command_fields, cmd))
		return XR_ERR_INTERNAL;
	memset(&env, 0, sizeof(env));
	env.version = XR_PROTOCOL_VERSION;
	env.kind = (execrpc_v1_Kind)XR_KIND_CONTROL;
	if (xr_nonce_fill(env.nonce.bytes, XR_NONCE_LEN) != XR_OK)
		return XR_ERR_SYSTEM;
	env.nonce.size = XR_NONCE_LEN;
	env.ts_ms = xr_now_ms();
	memcpy(env.session_id.bytes, ing->sess.id, XR_SESSION_ID_LEN);
	env.session_id.size = XR_SESSION_ID_LEN;
	env.sequence = xr_session_next_seq(&ing->sess);
	if ((r = xr_nb_env_size(&env, pbuf, os.bytes_written, &env_len)) !=
	    XR_OK)
		return r;
	total = xr_frame_wire_len(env_len);
	if ((out = malloc(total)) == NULL)
		return XR_ERR_NOMEM;
	if ((r = xr_nb_seal(ing->ctl_auth, XR_DIR_CONTROL, &env, pbuf,
	    os.bytes_written, env_len, out)) == XR_OK) {
		/* SOCK_SEQPACKET: the Frame without its length prefix */
		do
			n = send(ing->ctl_fd, out + XR_FRAME_PREFIX_LEN,
			    total - XR_FRAME_PREFIX_LEN, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		r = n == (ssize_t)(total - XR_FRAME_PREFIX_LEN) ? XR_OK :
		    n < 0 && (errno == EPIPE || errno == ECONNRESET) ?
		    XR_ERR_CLOSED : XR_ERR_SYSTEM;
	}
	free(out);
	return r;
}

static void
send_type(xr_ingress *ing, execrpc_v1_CommandType t, uint32_t port)
{
	execrpc_v1_Command c = execrpc_v1_Command_init_zero;

	c.type = t;
	c.port = port;
	(void)ctl_send(ing, &c);
}

/* STOPPED once: asked for, and every call of the ingress completed. */
static void
maybe_stopped(xr_ingress *ing)
{
	if (!ing->done_asked || ing->inflight > 0 || ing->stopped_sent)
		return;
	ing->stopped_sent = true;
	ing->refusing = true;
	send_type(ing, execrpc_v1_CommandType_COMMAND_STOPPED, 0);
	if (ing->o.on_stopped != NULL)
		ing->o.on_stopped(ing->o.arg, ing);
}

static void
on_endpoint(xr_ingress *ing, const execrpc_v1_Command *c)
{
	char why[120];

	if (!c->has_endpoint ||
	    xr__ing_endpoint_check(&c->endpoint, why, sizeof(why)) != XR_OK) {
		ing->st.refused++;
		return;
	}
	for (size_t i = 0; i < ing->n; i++) {
		struct xr_ing_slot *sl = &ing->slots[i];

		if (strcmp(sl->ep.group, c->endpoint.group) != 0 ||
		    sl->ep.index != c->endpoint.index)
			continue;
		slot_apply(ing, sl, &c->endpoint);
		ing->st.updates++;
		if (ing->o.on_update != NULL)
			ing->o.on_update(ing->o.arg, &sl->ep);
		return;
	}
	ing->st.refused++;	/* a slot the table does not have */
}

static void
on_stop_cmd(xr_ingress *ing, const execrpc_v1_Command *c)
{
	if (ing->stop_seen) {
		ing->st.refused++;
		return;
	}
	ing->stop_seen = true;
	ing->draining = c->drain_inflight;
	if (!c->drain_inflight) {
		/* no drain: what is in flight is cut, nothing new starts */
		ing->refusing = true;
		for (size_t i = 0; i < ing->n; i++)
			if (ing->slots[i].ch != NULL)
				slot_close(&ing->slots[i]);
	}
	if (ing->o.on_stop != NULL)
		ing->o.on_stop(ing->o.arg, ing, c->graceful_timeout_ms,
		    c->drain_inflight);
	maybe_stopped(ing);
}

static void
count_reject(xr_ingress *ing, int err)
{
	int k = xr_err_reject_index(err);

	ing->st.last_reject = err;
	if (k >= 0 && k < XR_CHANNEL_REJECT_KINDS)
		ing->st.rejects[k]++;
}

int
xr__ing_ctl_datagram(xr_ingress *ing, const uint8_t *buf, size_t n)
{
	xr_nb_dec nd;
	xr_env_decoder dec = xr_nb_decoder(&nd);
	execrpc_v1_Command c;
	pb_istream_t s;
	xr_env_view v;
	int r;

	if (n > XR_INGRESS_CTL_MAX) {
		count_reject(ing, XR_ERR_OVERSIZED);
		return XR_ERR_OVERSIZED;
	}
	memset(&nd, 0, sizeof(nd));
	r = xr_rx_frame(&ing->rx, &ing->sess, buf, n, xr_now_ms(), &dec, &v);
	if (r != XR_OK) {
		count_reject(ing, r);
		return r;
	}
	memset(&c, 0, sizeof(c));
	/* an empty payload is an empty Command (COMMAND_UNSPECIFIED) */
	s = pb_istream_from_buffer(nd.payload != NULL ? nd.payload :
	    (const uint8_t *)"", nd.payload_len);
	if (!pb_decode(&s, execrpc_v1_Command_fields, &c)) {
		count_reject(ing, XR_ERR_MALFORMED);
		return XR_ERR_MALFORMED;
	}
	switch (c.type) {
	case execrpc_v1_CommandType_COMMAND_ENDPOINT:
		on_endpoint(ing, &c);
		break;
	case execrpc_v1_CommandType_COMMAND_STOP:
		on_stop_cmd(ing, &c);
		break;
	default:
		ing->st.refused++;
		xr_debug("ingress: control command %d refused", (int)c.type);
		break;
	}
	return XR_OK;
}

/* One datagram from fd 4: XR_OK (taken, whatever its fate), XR_ERR_AGAIN
 * (none now) or XR_ERR_CLOSED (end of file, or the socket failed). */
static int
ctl_read_one(xr_ingress *ing)
{
	ssize_t n;

	do
		n = recv(ing->ctl_fd, ing->dgram, XR_INGRESS_CTL_MAX,
		    MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? XR_ERR_AGAIN :
		    XR_ERR_CLOSED;
	if (n == 0)
		return XR_ERR_CLOSED;
	/* MSG_TRUNC: n is the datagram's size, over the buffer if it was */
	(void)xr__ing_ctl_datagram(ing, ing->dgram, (size_t)n);
	return XR_OK;
}

static void
ctl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_ingress *ing = arg;
	int r;

	(void)fd;
	(void)what;
	while (ing->ctl_fd >= 0 && (r = ctl_read_one(ing)) == XR_OK)
		;
	if (ing->ctl_fd >= 0 && r == XR_ERR_CLOSED) {
		/* the supervisor is gone: so is every worker; stop now */
		event_del(ing->ctl_ev);
		close(ing->ctl_fd);
		ing->ctl_fd = -1;
		if (!ing->stop_seen) {
			ing->stop_seen = true;
			ing->refusing = true;
			if (ing->o.on_stop != NULL)
				ing->o.on_stop(ing->o.arg, ing, 0, 0);
		}
	}
}

static int
ctl_open(xr_ingress *ing, int fd, xr_diag *d)
{
	xr_keyset ks = ing->base_keys;

	/* the control key verifies and signs every control frame; the other
	 * two never serve here */
	ks.k[XR_DIR_WEB_TO_EXEC] = ks.k[XR_DIR_CONTROL];
	ks.k[XR_DIR_EXEC_TO_WEB] = ks.k[XR_DIR_CONTROL];
	ing->ctl_auth = xr_auth_new(&ks);
	xr_keyset_wipe(&ks);
	if (ing->ctl_auth == NULL ||
	    (ing->dgram = malloc(XR_INGRESS_CTL_MAX)) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "ingress: out of memory");
	ing->rx.auth = ing->ctl_auth;
	ing->rx.dir = XR_DIR_CONTROL;
	ing->rx.kind_mask = XR_KIND_BIT(XR_KIND_CONTROL);
	ing->rx.ttl_ms = (uint64_t)ing->ttl * 1000;
	ing->rx.max_body = XR_INGRESS_CTL_MAX;
	if (evutil_make_socket_nonblocking(fd) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "ingress: fd %d: %s", fd,
		    strerror(errno));
	ing->ctl_fd = fd;
	if ((ing->ctl_ev = event_new(ing->base, fd, EV_READ | EV_PERSIST,
	    ctl_read_cb, ing)) == NULL || event_add(ing->ctl_ev, NULL) != 0)
		return xr_diag_set(d, XR_ERR_NOMEM, "ingress: out of memory");
	return XR_OK;
}

/* ---------- the public API ---------- */

/* The process is about to hold keys: no core file, not dumpable (no
 * ptrace or /proc/PID/mem, environ or maps for other processes of the
 * uid), as every process holding keys (docs/design.md section 3). */
static int
harden(xr_diag *d)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "ingress: hardening the "
		    "process: %s", strerror(errno));
	return XR_OK;
}

xr_ingress *
xr_ingress_from_bootstrap(struct event_base *base, const xr_ingress_opts *o,
    xr_diag *d)
{
	xr_ingress *ing;
	int bfd, cfd;

	if (base == NULL) {
		xr_diag_set(d, XR_ERR_INVALID_ARG, "ingress: no event_base");
		return NULL;
	}
	if ((ing = calloc(1, sizeof(*ing))) == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "ingress: out of memory");
		return NULL;
	}
	if (o != NULL)
		ing->o = *o;
	ing->base = base;
	ing->ctl_fd = -1;
	bfd = ing->o.bootstrap_fd > 0 ? ing->o.bootstrap_fd : 3;
	cfd = ing->o.control_fd > 0 ? ing->o.control_fd : 4;
	if (harden(d) != XR_OK) {
		close(bfd);
		close(cfd);
		free(ing);
		return NULL;
	}
	if (xr__ing_boot_read(ing, bfd, ing->o.bootstrap_timeout_ms ?
	    ing->o.bootstrap_timeout_ms : 10000, d) != XR_OK ||
	    (ing->rr = calloc(ing->n + 1, sizeof(*ing->rr))) == NULL ||
	    ctl_open(ing, cfd, d) != XR_OK) {
		if (ing->rr == NULL && d != NULL && d->code == XR_OK)
			xr_diag_set(d, XR_ERR_NOMEM, "ingress: out of memory");
		if (ing->ctl_fd < 0)
			close(cfd);
		xr_ingress_free(ing);
		return NULL;
	}
	for (size_t i = 0; i < ing->n; i++)
		if (ing->slots[i].ep.state == XR_INGRESS_EP_READY)
			slot_open(ing, &ing->slots[i]);
	return ing;
}

int
xr_ingress_ready(xr_ingress *ing, uint16_t port)
{
	execrpc_v1_Command c = execrpc_v1_Command_init_zero;

	if (ing == NULL)
		return XR_ERR_INVALID_ARG;
	c.type = execrpc_v1_CommandType_COMMAND_READY;
	c.port = port;
	return ctl_send(ing, &c);
}

static bool
slot_hosts(const struct xr_ing_slot *sl, const char *svc)
{
	for (size_t i = 0; i < sl->n_services; i++)
		if (strcmp(sl->services[i], svc) == 0)
			return true;
	return false;
}

/* The first slot of the group hosting `svc`, and the group's size. */
static bool
route(const xr_ingress *ing, const char *svc, size_t *first, size_t *size)
{
	size_t i, pick = ing->n;

	for (i = 0; i < ing->n && pick == ing->n; i++)
		if (slot_hosts(&ing->slots[i], svc))
			pick = i;
	for (i = 0; i < ing->n && pick == ing->n; i++)
		if (ing->slots[i].n_services == 0)
			pick = i;
	if (pick == ing->n)
		return false;
	/* the group's slots are together, in index order: back to its first */
	while (pick > 0 && strcmp(ing->slots[pick - 1].ep.group,
	    ing->slots[pick].ep.group) == 0)
		pick--;
	*first = pick;
	for (i = pick; i < ing->n && strcmp(ing->slots[i].ep.group,
	    ing->slots[pick].ep.group) == 0; i++)
		;
	*size = i - pick;
	return true;
}

/* A closed channel to a READY worker is made again at most this often. */
#define XR_ING_REVIVE_MS 100u

/*
 * The channel to a READY worker that closed (the endpoint closes one idle
 * for its idle timeout, 300 s by default; a reset) is made again when its
 * group is next picked from, as a gRPC channel goes from idle back to
 * connecting on its next call: a pick never skips a live worker, or moves a
 * key off it, for want of a connection. At most once per XR_ING_REVIVE_MS
 * a slot, so a worker that refuses connections is not redialled per call.
 */
static void
group_revive(xr_ingress *ing, size_t first, size_t n)
{
	uint64_t now = 0;

	for (size_t i = first; i < first + n; i++) {
		struct xr_ing_slot *sl = &ing->slots[i];

		if (sl->ep.state != XR_INGRESS_EP_READY || sl->ch == NULL ||
		    xr_channel_is_usable(sl->ch))
			continue;
		if (now == 0)
			now = xr_mono_ms();
		if (sl->revived_ms != 0 && now - sl->revived_ms <
		    XR_ING_REVIVE_MS)
			continue;
		sl->revived_ms = now;
		slot_close(sl);
		slot_open(ing, sl);
		if (sl->ch != NULL)
			ing->st.channels_revived++;
	}
}

/* xr_ingress_pick() and, `own` set, xr_ingress_pick_own(). */
static xr_channel *
pick(xr_ingress *ing, const char *service, const void *key, size_t key_len,
    int own, int *err)
{
	size_t first, n, start;
	int e = XR_ERR_WORKER_FAILED;
	xr_channel *ch = NULL;

	if (ing == NULL || service == NULL || (own && key == NULL))
		e = XR_ERR_INVALID_ARG;
	else if (ing->refusing)
		e = XR_ERR_LIFECYCLE_NOT_READY;
	else if (!route(ing, service, &first, &n))
		e = XR_ERR_INVALID_ARG;
	else {
		group_revive(ing, first, n);
		start = key != NULL ? (size_t)(xr_hash_fnv1a(key, key_len) %
		    n) : ing->rr[first]++ % n;
		for (size_t i = 0; i < (own ? 1 : n) && ch == NULL; i++) {
			struct xr_ing_slot *sl = &ing->slots[first +
			    (start + i) % n];

			if (sl->ep.state == XR_INGRESS_EP_READY &&
			    sl->ch != NULL && xr_channel_is_usable(sl->ch))
				ch = sl->ch;
		}
		if (ch != NULL)
			e = XR_OK;
	}
	if (err != NULL)
		*err = e;
	return ch;
}

xr_channel *
xr_ingress_pick(xr_ingress *ing, const char *service, const void *key,
    size_t key_len, int *err)
{
	return pick(ing, service, key, key_len, 0, err);
}

xr_channel *
xr_ingress_pick_own(xr_ingress *ing, const char *service, const void *key,
    size_t key_len, int *err)
{
	return pick(ing, service, key, key_len, 1, err);
}

struct ing_call {
	xr_ingress *ing;
	xr_call_cb cb;
	void *arg;
};

static void
call_done(void *arg, const xr_status *st, const uint8_t *resp,
    size_t resp_len)
{
	struct ing_call *k = arg;
	xr_ingress *ing = k->ing;

	k->cb(k->arg, st, resp, resp_len);
	free(k);
	ing->inflight--;
	maybe_stopped(ing);
}

static void
fail_now(xr_call_cb cb, void *arg, int code, const char *msg)
{
	xr_status st = { .code = code };

	snprintf(st.message, sizeof(st.message), "%s", msg);
	cb(arg, &st, NULL, 0);
}

xr_client_call *
xr_ingress_call_start(xr_ingress *ing, const char *method, const uint8_t *req,
    size_t req_len, const void *key, size_t key_len, uint32_t timeout_ms,
    xr_call_cb cb, void *arg)
{
	char svc[128], msg[200];
	const char *slash;
	struct ing_call *k;
	xr_channel *ch;
	int err;

	if (cb == NULL)
		return NULL;
	if (ing == NULL || method == NULL ||
	    (slash = strchr(method, '/')) == NULL ||
	    (size_t)(slash - method) >= sizeof(svc)) {
		fail_now(cb, arg, XR_STATUS_INVALID_ARGUMENT,
		    "ingress: bad method name");
		return NULL;
	}
	memcpy(svc, method, (size_t)(slash - method));
	svc[slash - method] = '\0';
	if ((ch = xr_ingress_pick(ing, svc, key, key_len, &err)) == NULL) {
		snprintf(msg, sizeof(msg), "ingress: no ready worker for "
		    "service \"%.100s\" (%s)", svc, xr_err_name(err));
		fail_now(cb, arg, err == XR_ERR_INVALID_ARG ?
		    XR_STATUS_UNIMPLEMENTED : XR_STATUS_UNAVAILABLE, msg);
		return NULL;
	}
	if ((k = malloc(sizeof(*k))) == NULL) {
		fail_now(cb, arg, XR_STATUS_RESOURCE_EXHAUSTED,
		    "ingress: out of memory");
		return NULL;
	}
	k->ing = ing;
	k->cb = cb;
	k->arg = arg;
	ing->inflight++;
	return xr_call_start(ch, method, req, req_len, timeout_ms, call_done,
	    k);
}

struct sync_res {
	bool done;
	xr_status st;
	uint8_t *resp;
	size_t len;
};

static void
sync_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct sync_res *r = arg;

	r->st = *st;
	if (st->code == XR_STATUS_OK && (r->resp = malloc(len ? len : 1)) !=
	    NULL) {
		memcpy(r->resp, resp, len);
		r->len = len;
	} else if (st->code == XR_STATUS_OK) {
		r->st.code = XR_STATUS_RESOURCE_EXHAUSTED;
		snprintf(r->st.message, sizeof(r->st.message), "out of memory");
	}
	r->done = true;
}

int
xr_ingress_call_sync_bytes(xr_ingress *ing, const char *method,
    const uint8_t *req, size_t req_len, const void *key, size_t key_len,
    uint8_t **resp, size_t *resp_len, uint32_t timeout_ms, xr_status *st)
{
	struct sync_res r = { 0 };

	(void)xr_ingress_call_start(ing, method, req, req_len, key, key_len,
	    timeout_ms, sync_done, &r);
	while (!r.done && ing != NULL &&
	    event_base_loop(ing->base, EVLOOP_ONCE) == 0)
		;
	if (!r.done) {
		r.st.code = XR_STATUS_INTERNAL;
		snprintf(r.st.message, sizeof(r.st.message), "ingress: the "
		    "event loop failed (called from a callback?)");
	}
	if (st != NULL)
		*st = r.st;
	if (r.st.code == XR_STATUS_OK) {
		*resp = r.resp;
		*resp_len = r.len;
	} else
		free(r.resp);
	return r.st.code;
}

void
xr_ingress_stop_done(xr_ingress *ing)
{
	if (ing == NULL)
		return;
	ing->done_asked = true;
	maybe_stopped(ing);
}

size_t
xr_ingress_endpoints(const xr_ingress *ing, xr_ingress_endpoint *out,
    size_t cap)
{
	if (ing == NULL)
		return 0;
	for (size_t i = 0; i < ing->n && i < cap; i++)
		out[i] = ing->slots[i].ep;
	return ing->n;
}

const char *
xr_ingress_group(const xr_ingress *ing)
{
	return ing != NULL ? ing->group : "";
}

uint32_t
xr_ingress_index(const xr_ingress *ing)
{
	return ing != NULL ? ing->index : 0;
}

void
xr_ingress_stats_get(const xr_ingress *ing, xr_ingress_stats *out)
{
	if (ing == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = ing->st;
}

void
xr_ingress_free(xr_ingress *ing)
{
	if (ing == NULL)
		return;
	ing->refusing = true;
	for (size_t i = 0; i < ing->n; i++)
		if (ing->slots[i].ch != NULL)
			slot_close(&ing->slots[i]);
	if (ing->ctl_ev != NULL)
		event_free(ing->ctl_ev);
	if (ing->ctl_fd >= 0)
		close(ing->ctl_fd);
	xr_auth_free(ing->ctl_auth);
	free(ing->dgram);
	free(ing->slots);
	free(ing->rr);
	xr_keyset_wipe(&ing->base_keys);
	xr_wipe(&ing->sess, sizeof(ing->sess));
	xr_wipe(ing->inst, sizeof(ing->inst));
	free(ing);
}
