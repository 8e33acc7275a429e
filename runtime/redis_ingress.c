/* runtime/redis_ingress.c — the ingress side of redis_streams: calls as
 * XADDed REQUEST frames, replies read from this ingress's reply stream
 * (runtime/redis.h). */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "codec.h"
#include "frame.h"
#include "hmap.h"
#include "log.h"
#include "nonce.h"
#include "rx.h"		/* xr_mono_ms */

#define ING_READ_BLOCK_MS	5000
#define ING_READ_COUNT		256
#define ING_MAX_PENDING		(1u << 20)
#define ING_KEY_MAX		(XR_CFG_NAME_MAX * 2 + 16)
/* targets: a group stream and up to 64 slot streams per group */
#define ING_MAX_TARGETS		(XR_CFG_MAX_GROUPS * 65)
/* The reply stream lives this long after the ingress last read from it
 * (refreshed at most every ING_REPLY_REFRESH_MS while replies come): an
 * ingress that stops or dies leaves no stream behind for good. */
#define ING_REPLY_KEEP_MS	60000
#define ING_REPLY_REFRESH_MS	10000

struct rgroup {
	xr_redis_ingress *in;
	char name[XR_CFG_NAME_MAX];
	char req_key[ING_KEY_MAX];	/* P:GROUP:req */
	xr_auth *auth;			/* the group's keys (xr_keys_group) */
};

/* One call sent and not completed (in the map), or completed or cancelled
 * while its XADD is still out (then freed by the XADD's callback). */
struct rcall {
	xr_redis_ingress *in;
	uint64_t id;
	xr_local_done_fn done;
	void *done_arg;
	bool in_map;
	bool xadd_out;
};

struct xr_redis_ingress {
	struct event_base *base;
	xr_redis_cfg rc;
	xr_keyset ks;			/* the directional keys (wiped) */
	xr_codec *codec;
	xr_rx rx;
	xr_rconn *cmd, *rd;
	char reply_key[ING_KEY_MAX];	/* P:reply:ID */
	char last_id[64];		/* of the reply stream */
	uint64_t kept_ms;		/* its last PEXPIRE (keep_replies) */
	bool reading;
	struct event *reread;		/* after a failed XREAD */
	xr_hmap pending;		/* call id -> struct rcall */
	uint64_t next_id;
	size_t n_groups;
	struct rgroup *groups[ING_MAX_TARGETS];	/* each its own block: a
						 * target's arg stays put */
	uint8_t *buf;			/* a sealed frame */
	size_t cap;
	xr_redis_ingress_stats st;
};

/* ---------- completion ---------- */

static void
call_complete(struct rcall *c, int code, const char *msg, const uint8_t *resp,
    size_t len)
{
	xr_local_done_fn done = c->done;
	void *arg = c->done_arg;

	xr_hmap_remove(&c->in->pending, &c->id, sizeof(c->id));
	c->in_map = false;
	if (!c->xadd_out)
		free(c);
	done(arg, code, msg != NULL ? msg : "", code == XR_STATUS_OK ? resp :
	    NULL, code == XR_STATUS_OK ? len : 0);
}

/* Every pending call fails UNAVAILABLE (a completion may start calls: they
 * fail at once while the connection is down). */
static void
fail_all(xr_redis_ingress *in, const char *why)
{
	xr_hmap_iter it;
	const void *k;
	size_t kl;
	void *v;

	while (xr_hmap_count(&in->pending) > 0) {
		xr_hmap_iter_init(&it, &in->pending);
		if (!xr_hmap_iter_next(&it, &k, &kl, &v))
			break;
		in->st.unavailable++;
		call_complete(v, XR_STATUS_UNAVAILABLE, why, NULL, 0);
	}
}

/* ---------- replies ---------- */

static struct rgroup *
find_group(xr_redis_ingress *in, const char *name, size_t len)
{
	for (size_t i = 0; i < in->n_groups; i++)
		if (strlen(in->groups[i]->name) == len &&
		    memcmp(in->groups[i]->name, name, len) == 0)
			return in->groups[i];
	return NULL;
}

/* A reply entry: verified with the key of the group it names ("g"). */
static void
on_reply_frame(xr_redis_ingress *in, const redisReply *fv)
{
	const redisReply *f = xr_redis_entry_frame(fv),
	    *gn = xr_redis_entry_field(fv, "g");
	const Execrpc__V1__Envelope *e;
	struct rgroup *g = NULL;
	struct rcall *c;
	uint64_t id;

	if (f == NULL || gn == NULL ||
	    (g = find_group(in, gn->str, gn->len)) == NULL) {
		/* no key of ours can verify it */
		xr_rx_count(&in->rx, XR_ERR_BAD_SIGNATURE);
		return;
	}
	in->rx.auth = g->auth;
	if (xr_redis_rx(&in->rx, in->codec, (const uint8_t *)f->str,
	    f->len) != XR_OK)
		return;		/* counted */
	e = xr_codec_envelope(in->codec);
	id = e->call_id;
	/* a response names the reply stream it was for: one recorded for
	 * another ingress never completes a call of this one */
	if (e->reply_to == NULL || strcmp(e->reply_to, in->reply_key) != 0 ||
	    (c = xr_hmap_find(&in->pending, &id, sizeof(id))) == NULL) {
		in->st.stray++;
		xr_codec_reset(in->codec);
		return;
	}
	in->st.replies++;
	call_complete(c, e->status != NULL ? (int)e->status->code :
	    XR_STATUS_UNKNOWN, e->status != NULL ? e->status->message : "",
	    e->payload.data, e->payload.len);
	xr_codec_reset(in->codec);
}

static void read_replies(xr_redis_ingress *in);

static void
reread_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	read_replies(arg);
}

/* Give the reply stream its expiry again, at most every
 * ING_REPLY_REFRESH_MS (a reply has just been read, so the key exists: a
 * worker's XADD made it, without an expiry). */
static void
keep_replies(xr_redis_ingress *in)
{
	redisAsyncContext *ac = xr_rconn_ctx(in->cmd);
	uint64_t now = xr_mono_ms();

	if (ac == NULL || (in->kept_ms != 0 &&
	    now - in->kept_ms < ING_REPLY_REFRESH_MS))
		return;
	if (redisAsyncCommand(ac, NULL, NULL, "PEXPIRE %s %u", in->reply_key,
	    (unsigned)ING_REPLY_KEEP_MS) == REDIS_OK)
		in->kept_ms = now;
}

static void
xread_cb(redisAsyncContext *ac, void *r, void *priv)
{
	xr_redis_ingress *in = priv;
	redisReply *rep = r, *entries;
	struct timeval tv = { 0, 100000 };

	(void)ac;
	if (rep == NULL)
		return;		/* lost or freed: `up` reads again */
	in->reading = false;
	if (rep->type == REDIS_REPLY_ERROR) {
		xr_debug("redis ingress: XREAD: %s", rep->str);
		event_add(in->reread, &tv);
		return;
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    rep->element[0]->type == REDIS_REPLY_ARRAY &&
	    rep->element[0]->elements == 2 &&
	    (entries = rep->element[0]->element[1])->type ==
	    REDIS_REPLY_ARRAY) {
		if (entries->elements > 0)
			keep_replies(in);
		for (size_t i = 0; i < entries->elements; i++) {
			const redisReply *en = entries->element[i];

			if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
			    en->element[0]->type != REDIS_REPLY_STRING)
				continue;
			snprintf(in->last_id, sizeof(in->last_id), "%s",
			    en->element[0]->str);
			on_reply_frame(in, en->element[1]);
		}
	}
	read_replies(in);
}

static void
read_replies(xr_redis_ingress *in)
{
	redisAsyncContext *ac = xr_rconn_ctx(in->rd);

	if (ac == NULL || in->reading)
		return;
	if (redisAsyncCommand(ac, xread_cb, in, "XREAD COUNT %u BLOCK %u "
	    "STREAMS %s %s", ING_READ_COUNT, ING_READ_BLOCK_MS, in->reply_key,
	    in->last_id) == REDIS_OK)
		in->reading = true;
}

static void
rd_up(void *arg)
{
	xr_redis_ingress *in = arg;

	in->reading = false;
	read_replies(in);
}

static void
conn_down(void *arg)
{
	xr_redis_ingress *in = arg;

	in->reading = false;
	fail_all(in, "redis_streams: the connection to Redis was lost");
}

/* ---------- calls ---------- */

static void
xadd_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct rcall *c = priv;
	redisReply *rep = r;

	(void)ac;
	c->xadd_out = false;
	if (!c->in_map) {
		free(c);
		return;
	}
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		c->in->st.unavailable++;
		call_complete(c, XR_STATUS_UNAVAILABLE, "redis_streams: the "
		    "request could not be appended to the stream", NULL, 0);
	}
}

/* The REQUEST frame body of a call into in->buf. */
static int
seal_request(xr_redis_ingress *in, const struct rgroup *g, uint64_t id,
    const char *method,
    const uint8_t *req, size_t req_len, uint32_t timeout_ms,
    const uint8_t **body, size_t *len)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];
	size_t need;
	int r;

	if ((r = xr_codec_env_init(&e, XR_KIND_REQUEST, nonce)) != XR_OK)
		return r;
	e.call_id = id;
	e.method = (char *)(uintptr_t)method;
	e.timeout_ms = timeout_ms;
	e.reply_to = in->reply_key;
	e.payload.data = (uint8_t *)(uintptr_t)req;
	e.payload.len = req_len;
	need = xr_codec_sealed_len(&e);
	if (need > in->cap) {
		uint8_t *nb = realloc(in->buf, need);

		if (nb == NULL)
			return XR_ERR_NOMEM;
		in->buf = nb;
		in->cap = need;
	}
	if ((r = xr_codec_seal(g->auth, XR_DIR_WEB_TO_EXEC, &e, in->buf,
	    in->cap, len)) != XR_OK)
		return r;
	*body = in->buf + XR_FRAME_PREFIX_LEN;	/* the Frame, no prefix */
	*len -= XR_FRAME_PREFIX_LEN;
	return XR_OK;
}

static void *
ing_start(void *arg, const char *method, const uint8_t *req, size_t req_len,
    uint32_t timeout_ms, xr_local_done_fn done, void *done_arg)
{
	struct rgroup *g = arg;
	xr_redis_ingress *in = g->in;
	redisAsyncContext *ac = xr_rconn_ctx(in->cmd);
	const uint8_t *body;
	struct rcall *c;
	size_t len;

	if (ac == NULL || xr_rconn_ctx(in->rd) == NULL) {
		in->st.unavailable++;
		done(done_arg, XR_STATUS_UNAVAILABLE, "redis_streams: not "
		    "connected to Redis", NULL, 0);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->in = in;
	c->id = ++in->next_id;
	c->done = done;
	c->done_arg = done_arg;
	if (seal_request(in, g, c->id, method, req, req_len, timeout_ms, &body,
	    &len) != XR_OK ||
	    xr_hmap_insert(&in->pending, &c->id, sizeof(c->id), c) != XR_OK) {
		free(c);
		goto nomem;
	}
	c->in_map = true;
	if (redisAsyncCommand(ac, xadd_cb, c, "XADD %s MAXLEN ~ %u * f %b",
	    g->req_key, (unsigned)in->rc.max_stream_len, body, len) !=
	    REDIS_OK) {
		in->st.unavailable++;
		call_complete(c, XR_STATUS_UNAVAILABLE, "redis_streams: "
		    "cannot send to Redis", NULL, 0);
		return NULL;
	}
	c->xadd_out = true;
	in->st.sent++;
	return c;
 nomem:
	done(done_arg, XR_STATUS_RESOURCE_EXHAUSTED, "redis_streams: out of "
	    "memory", NULL, 0);
	return NULL;
}

static void
ing_cancel(void *arg, void *handle)
{
	struct rcall *c = handle;

	(void)arg;
	if (c == NULL || !c->in_map)
		return;
	xr_hmap_remove(&c->in->pending, &c->id, sizeof(c->id));
	c->in_map = false;
	if (!c->xadd_out)
		free(c);
}

/* ---------- the object ---------- */

xr_redis_ingress *
xr_redis_ingress_new(struct event_base *base, const xr_redis_opts *cfg,
    const xr_keyset *ks, xr_diag *d)
{
	xr_redis_ingress *in = calloc(1, sizeof(*in));
	xr_rconn_cbs cmd_cbs = { NULL, conn_down, in };
	xr_rconn_cbs rd_cbs = { rd_up, conn_down, in };
	uint8_t id[16];
	char hex[33];

	if (in == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "redis ingress: out of memory");
		return NULL;
	}
	in->base = base;
	in->rc = cfg->rc;
	in->ks = *ks;
	xr_hmap_init(&in->pending, ING_MAX_PENDING);
	if (xr_nonce_fill(id, sizeof(id)) != XR_OK) {
		xr_diag_set(d, XR_ERR_SYSTEM, "redis ingress: no random id");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	snprintf(in->reply_key, sizeof(in->reply_key), "%s:reply:%s",
	    in->rc.stream_prefix, hex);
	snprintf(in->last_id, sizeof(in->last_id), "0-0");
	in->rx.dir = XR_DIR_EXEC_TO_WEB;
	in->rx.kind_mask = XR_KIND_BIT(XR_KIND_RESPONSE);
	in->rx.ttl_ms = (uint64_t)cfg->ttl_seconds * 1000;
	in->rx.max_body = xr_frame_max_body(cfg->max_payload_bytes);
	if ((in->codec = xr_codec_new()) == NULL ||
	    (in->reread = evtimer_new(base, reread_cb, in)) == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "redis ingress: out of memory");
		goto fail;
	}
	if ((in->cmd = xr_rconn_new(base, &in->rc, &cmd_cbs, d)) == NULL ||
	    (in->rd = xr_rconn_new(base, &in->rc, &rd_cbs, d)) == NULL)
		goto fail;
	return in;
 fail:
	xr_redis_ingress_free(in);
	return NULL;
}

/* The signing and verifying context of `group`: its group keys. */
static int
group_auth(xr_redis_ingress *in, const char *group, struct rgroup *g,
    xr_diag *d)
{
	xr_keyset gk;
	int r;

	if ((r = xr_keys_group(&in->ks, group, &gk)) != XR_OK)
		return xr_diag_set(d, r, "redis ingress: cannot derive the "
		    "keys of group %s", group);
	g->auth = xr_auth_new(&gk);
	xr_keyset_wipe(&gk);
	if (g->auth == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "redis ingress: out of "
		    "memory");
	return XR_OK;
}

int
xr_redis_ingress_target(xr_redis_ingress *in, const char *group, int slot,
    xr_local_target *out, xr_diag *d)
{
	struct rgroup *g = NULL;
	char key[ING_KEY_MAX];
	int r;

	if (strlen(group) >= XR_CFG_NAME_MAX)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "redis ingress: "
		    "group name too long");
	if (slot < 0)
		snprintf(key, sizeof(key), "%s:%s:req", in->rc.stream_prefix,
		    group);
	else
		snprintf(key, sizeof(key), "%s:%s:req:%d",
		    in->rc.stream_prefix, group, slot);
	for (size_t i = 0; i < in->n_groups && g == NULL; i++)
		if (strcmp(in->groups[i]->req_key, key) == 0)
			g = in->groups[i];
	if (g == NULL) {
		if (in->n_groups == ING_MAX_TARGETS)
			return xr_diag_set(d, XR_ERR_INVALID_ARG, "redis "
			    "ingress: too many streams");
		if ((g = calloc(1, sizeof(*g))) == NULL)
			return xr_diag_set(d, XR_ERR_NOMEM, "redis ingress: "
			    "out of memory");
		if ((r = group_auth(in, group, g, d)) != XR_OK) {
			free(g);
			return r;
		}
		in->groups[in->n_groups++] = g;
		g->in = in;
		snprintf(g->name, sizeof(g->name), "%s", group);
		snprintf(g->req_key, sizeof(g->req_key), "%s", key);
	}
	out->start = ing_start;
	out->cancel = ing_cancel;
	out->arg = g;
	return XR_OK;
}

bool
xr_redis_ingress_up(const xr_redis_ingress *in)
{
	return xr_rconn_ctx(in->cmd) != NULL && xr_rconn_ctx(in->rd) != NULL;
}

void
xr_redis_ingress_stats_get(const xr_redis_ingress *in,
    xr_redis_ingress_stats *out)
{
	*out = in->st;
	out->rx = in->rx.counters;
}

void
xr_redis_ingress_free(xr_redis_ingress *in)
{
	if (in == NULL)
		return;
	fail_all(in, "redis_streams: the ingress is closing");
	xr_rconn_free(in->rd);
	xr_rconn_free(in->cmd);	/* XADD callbacks free their calls */
	if (in->reread != NULL)
		event_free(in->reread);
	xr_hmap_fini(&in->pending);
	xr_codec_free(in->codec);
	for (size_t i = 0; i < in->n_groups; i++) {
		xr_auth_free(in->groups[i]->auth);
		free(in->groups[i]);
	}
	xr_keyset_wipe(&in->ks);
	free(in->buf);
	free(in);
}
