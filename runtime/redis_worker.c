/* runtime/redis_worker.c — the execution side of redis_streams for one
 * process group: read, check, record, run, reply, acknowledge
 * (runtime/redis.h). */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "codec.h"
#include "frame.h"
#include "log.h"

#define WRK_READ_BLOCK_MS	2000
#define WRK_READ_COUNT		64
#define WRK_CLAIM_COUNT		64
#define WRK_MAX_INFLIGHT	1024u
#define WRK_KEY_MAX		(XR_CFG_NAME_MAX * 2 + 16)
#define WRK_REPLY_TO_MAX	(XR_CFG_NAME_MAX + 48)
#define WRK_METHOD_MAX		128

/*
 * The replay step and the call record, one atomic round trip:
 * KEYS[1] P:nonce:HEX, KEYS[2] P:call:INGRESS:ID; ARGV[1] the nonce's PX,
 * ARGV[2] this stream entry's id, ARGV[3] the call record's PX.
 * 1: fresh, recorded: run it. 2: this very entry was recorded before (a
 * worker took it and died, or lost its connection, before the XACK): not
 * run again. 0: a replay (the nonce is known, under another entry).
 */
static const char record_lua[] =
    "if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then "
    "if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then "
    "return 1 end return 0 end "
    "if redis.call('GET', KEYS[2]) == ARGV[2] then return 2 end "
    "return 0";

/* A stream this worker reads: the group's, and its slot's (process
 * supervisor). */
struct wstream {
	xr_redis_worker *w;
	char key[WRK_KEY_MAX];
	char claim_cursor[48];
	bool claiming;
	bool group_ok;			/* XGROUP CREATE answered: it exists */
};

/* One entry from its read to its XACK. */
struct wcall {
	xr_redis_worker *w;
	struct wcall *prev, *next;	/* the in-flight list */
	int si;				/* its stream: w->streams[si] */
	char entry[48];			/* the stream entry id */
	uint64_t call_id;
	uint64_t ts_ms;
	uint32_t timeout_ms;
	char reply_to[WRK_REPLY_TO_MAX];
	char method[WRK_METHOD_MAX];
	uint8_t nonce[XR_NONCE_LEN];
	uint8_t *req;
	size_t req_len;
	void *handle;			/* the running handler's */
	bool in_start, done, free_later;
};

struct xr_redis_worker {
	struct event_base *base;
	xr_redis_cfg rc;
	uint64_t ttl_ms;
	xr_auth *auth;
	xr_codec *codec;
	xr_rx rx;
	xr_local_target tgt;
	xr_rconn *cmd, *rd;
	char group[XR_CFG_NAME_MAX];
	char consumer[XR_CFG_NAME_MAX + 32];
	struct wstream streams[2];	/* [0] P:GROUP:req, [1] P:GROUP:req:N */
	int n_streams;
	char reply_pfx[WRK_KEY_MAX];	/* P:reply: */
	bool reading;
	bool closing;			/* in xr_redis_worker_free() */
	void (*up)(void *);		/* once: connected, group exists */
	void *up_arg;
	bool draining;			/* no new entries (rd closed) */
	bool drain_pinged;		/* the PING after the last XACK is out */
	void (*drained)(void *);
	void *drained_arg;
	struct event *claim_timer, *reread;
	struct wcall *head;
	uint64_t inflight;
	uint8_t *buf;
	size_t cap;
	xr_redis_worker_stats st;
};

static void read_entries(xr_redis_worker *w);
static void drain_check(xr_redis_worker *w);

/* The read connection's context while it is up and not drained. */
static redisAsyncContext *
rd_ctx(const xr_redis_worker *w)
{
	return w->rd != NULL ? xr_rconn_ctx(w->rd) : NULL;
}

/* ---------- the in-flight list ---------- */

static void
wcall_free(struct wcall *c)
{
	xr_redis_worker *w = c->w;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	w->inflight--;
	free(c->req);
	free(c);
	if (!w->closing) {
		read_entries(w);	/* below the cap again */
		drain_check(w);
	}
}

static bool
entry_in_flight(const xr_redis_worker *w, int si, const char *id)
{
	for (const struct wcall *c = w->head; c != NULL; c = c->next)
		if (c->si == si && strcmp(c->entry, id) == 0)
			return true;
	return false;
}

/* ---------- XACK and the reply ---------- */

static void
count_reply(redisAsyncContext *ac, void *r, void *priv, uint64_t *ok)
{
	xr_redis_worker *w = priv;
	redisReply *rep = r;

	(void)ac;
	if (rep == NULL)
		return;
	if (rep->type == REDIS_REPLY_ERROR)
		w->st.redis_errors++;
	else
		(*ok)++;
}

static void
xack_cb(redisAsyncContext *ac, void *r, void *priv)
{
	xr_redis_worker *w = priv;

	if (r != NULL)
		count_reply(ac, r, priv, &w->st.acked);
}

static void
ack(xr_redis_worker *w, int si, const char *entry)
{
	redisAsyncContext *ac = xr_rconn_ctx(w->cmd);

	if (ac != NULL)
		redisAsyncCommand(ac, xack_cb, w, "XACK %s %s %s",
		    w->streams[si].key, w->group, entry);
}

/* The reply is in the caller's stream: acknowledge the entry. */
static void
reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct wcall *c = priv;
	xr_redis_worker *w = c->w;
	redisReply *rep = r;

	(void)ac;
	if (rep != NULL && rep->type != REDIS_REPLY_ERROR) {
		w->st.replies++;
		ack(w, c->si, c->entry);
	} else if (rep != NULL)
		w->st.redis_errors++;
	/* no reply written: the entry stays pending, and whoever claims it
	 * finds the call record (ABORTED) */
	wcall_free(c);
}

static int
seal_response(xr_redis_worker *w, struct wcall *c, int code, const char *msg,
    const uint8_t *resp, size_t len, const uint8_t **body, size_t *blen)
{
	Execrpc__V1__Envelope e;
	Execrpc__V1__Status st = EXECRPC__V1__STATUS__INIT;
	uint8_t nonce[XR_NONCE_LEN];
	size_t need;
	int r;

	if ((r = xr_codec_env_init(&e, XR_KIND_RESPONSE, nonce)) != XR_OK)
		return r;
	e.call_id = c->call_id;
	e.reply_to = c->reply_to;
	st.code = (Execrpc__V1__StatusCode)code;
	st.message = (char *)(uintptr_t)(msg != NULL ? msg : "");
	e.status = &st;
	if (code == XR_STATUS_OK) {
		e.payload.data = (uint8_t *)(uintptr_t)resp;
		e.payload.len = len;
	}
	need = xr_codec_sealed_len(&e);
	if (need > w->cap) {
		uint8_t *nb = realloc(w->buf, need);

		if (nb == NULL)
			return XR_ERR_NOMEM;
		w->buf = nb;
		w->cap = need;
	}
	if ((r = xr_codec_seal(w->auth, XR_DIR_EXEC_TO_WEB, &e, w->buf,
	    w->cap, blen)) != XR_OK)
		return r;
	*body = w->buf + XR_FRAME_PREFIX_LEN;
	*blen -= XR_FRAME_PREFIX_LEN;
	return XR_OK;
}

/* Send the call's one reply; the entry is acknowledged once it is
 * written. Frees `c` (later, if inside the handler's start()). */
static void
send_reply(struct wcall *c, int code, const char *msg, const uint8_t *resp,
    size_t len)
{
	xr_redis_worker *w = c->w;
	redisAsyncContext *ac = xr_rconn_ctx(w->cmd);
	const uint8_t *body;
	size_t blen;

	c->done = true;
	c->handle = NULL;
	if (ac != NULL && seal_response(w, c, code, msg, resp, len, &body,
	    &blen) == XR_OK &&
	    redisAsyncCommand(ac, reply_cb, c, "XADD %s MAXLEN ~ %u * f %b "
	    "g %s", c->reply_to, (unsigned)w->rc.max_stream_len, body, blen,
	    w->group) ==
	    REDIS_OK)
		return;
	w->st.redis_errors++;
	if (c->in_start)
		c->free_later = true;
	else
		wcall_free(c);
}

/* ---------- running a call ---------- */

static void
handler_done(void *arg, int code, const char *msg, const uint8_t *resp,
    size_t len)
{
	send_reply(arg, code, msg, resp, len);
}

static void
run_call(struct wcall *c)
{
	xr_redis_worker *w = c->w;
	uint64_t now = xr_now_ms(), end = c->ts_ms + c->timeout_ms;
	uint32_t left = 0;
	void *h;

	if (c->timeout_ms != 0) {
		/* the caller's deadline, end to end: never run a call whose
		 * caller has given up */
		if (now >= end) {
			w->st.expired_deadline++;
			send_reply(c, XR_STATUS_DEADLINE_EXCEEDED, "deadline "
			    "exceeded before the call was run", NULL, 0);
			return;
		}
		left = (uint32_t)(end - now);
	}
	w->st.runs++;
	c->in_start = true;
	h = w->tgt.start(w->tgt.arg, c->method, c->req, c->req_len, left,
	    handler_done, c);
	c->in_start = false;
	if (!c->done)
		c->handle = h;
	else if (c->free_later)
		wcall_free(c);
}

static void
record_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct wcall *c = priv;
	xr_redis_worker *w = c->w;
	redisReply *rep = r;

	(void)ac;
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
		/* undecided: the entry stays pending for a claim */
		if (rep != NULL)
			w->st.redis_errors++;
		wcall_free(c);
		return;
	}
	switch (rep->integer) {
	case 1:
		run_call(c);
		return;
	case 2:
		w->st.aborted++;
		send_reply(c, XR_STATUS_ABORTED, "the worker running this call "
		    "stopped before it answered; the call was not run again",
		    NULL, 0);
		return;
	default:
		xr_rx_count(&w->rx, XR_ERR_REPLAY);
		ack(w, c->si, c->entry);
		wcall_free(c);
		return;
	}
}

static int
record_call(struct wcall *c)
{
	xr_redis_worker *w = c->w;
	redisAsyncContext *ac = xr_rconn_ctx(w->cmd);
	const char *ingress = c->reply_to + strlen(w->reply_pfx);
	char nkey[WRK_KEY_MAX + 40], ckey[WRK_REPLY_TO_MAX + 64];
	char hex[2 * XR_NONCE_LEN + 1], tag[64];
	unsigned long long npx = 2 * w->ttl_ms, cpx = npx + c->timeout_ms;

	if (ac == NULL)
		return XR_ERR_CLOSED;
	for (size_t i = 0; i < XR_NONCE_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", c->nonce[i]);
	snprintf(nkey, sizeof(nkey), "%s:nonce:%s", w->rc.stream_prefix, hex);
	snprintf(ckey, sizeof(ckey), "%s:call:%s:%llu", w->rc.stream_prefix,
	    ingress, (unsigned long long)c->call_id);
	/* the entry: its id, and the slot stream's mark (ids of two streams
	 * may be equal) */
	snprintf(tag, sizeof(tag), "%s%s", c->entry, c->si == 0 ? "" : "/s");
	return redisAsyncCommand(ac, record_cb, c, "EVAL %s 2 %s %s %llu %s "
	    "%llu", record_lua, nkey, ckey, npx, tag, cpx) == REDIS_OK ?
	    XR_OK : XR_ERR_CLOSED;
}

/* ---------- one stream entry ---------- */

/* The envelope a REQUEST must have here, past the receive order. */
static bool
request_ok(const xr_redis_worker *w, const Execrpc__V1__Envelope *e)
{
	size_t pl = strlen(w->reply_pfx);

	return e->call_id != 0 && e->method != NULL && e->method[0] != '\0' &&
	    strlen(e->method) < WRK_METHOD_MAX && e->reply_to != NULL &&
	    strlen(e->reply_to) < WRK_REPLY_TO_MAX &&
	    strncmp(e->reply_to, w->reply_pfx, pl) == 0 &&
	    e->reply_to[pl] != '\0' && strchr(e->reply_to + pl, ':') == NULL;
}

static void
on_entry(xr_redis_worker *w, int si, const char *id, const redisReply *fv,
    bool claimed)
{
	const redisReply *f = xr_redis_entry_frame(fv);
	const Execrpc__V1__Envelope *e;
	struct wcall *c = NULL;

	w->st.entries++;
	w->st.claimed += claimed;
	if (f == NULL ||
	    xr_redis_rx(&w->rx, w->codec, (const uint8_t *)f->str,
	    f->len) != XR_OK) {
		if (f == NULL)	/* no frame at all: nothing to verify */
			xr_rx_count(&w->rx, XR_ERR_BAD_SIGNATURE);
		ack(w, si, id);	/* rejected (counted): never retried */
		return;
	}
	e = xr_codec_envelope(w->codec);
	if (!request_ok(w, e) || strlen(id) >= sizeof(c->entry) ||
	    (c = calloc(1, sizeof(*c))) == NULL ||
	    (e->payload.len > 0 &&
	    (c->req = malloc(e->payload.len)) == NULL)) {
		if (c != NULL)
			free(c);
		xr_rx_count(&w->rx, XR_ERR_MALFORMED);
		xr_codec_reset(w->codec);
		ack(w, si, id);
		return;
	}
	c->w = w;
	c->si = si;
	snprintf(c->entry, sizeof(c->entry), "%s", id);
	c->call_id = e->call_id;
	c->ts_ms = e->ts_ms;
	c->timeout_ms = e->timeout_ms;
	snprintf(c->reply_to, sizeof(c->reply_to), "%s", e->reply_to);
	snprintf(c->method, sizeof(c->method), "%s", e->method);
	memcpy(c->nonce, e->nonce.data, XR_NONCE_LEN);
	if (e->payload.len > 0)
		memcpy(c->req, e->payload.data, e->payload.len);
	c->req_len = e->payload.len;
	xr_codec_reset(w->codec);
	c->next = w->head;
	if (w->head != NULL)
		w->head->prev = c;
	w->head = c;
	w->inflight++;
	if (record_call(c) != XR_OK)
		wcall_free(c);	/* stays pending in Redis */
}

/* Each entry of an XREADGROUP/XAUTOCLAIM entry list. */
static void
on_entries(xr_redis_worker *w, int si, const redisReply *list,
    bool claimed)
{
	if (list == NULL || list->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < list->elements; i++) {
		const redisReply *en = list->element[i];

		if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
		    en->element[0]->type != REDIS_REPLY_STRING)
			continue;	/* an entry trimmed away meanwhile */
		if (claimed && entry_in_flight(w, si, en->element[0]->str))
			continue;	/* ours, still running */
		on_entry(w, si, en->element[0]->str, en->element[1], claimed);
	}
}

/* ---------- reading ---------- */

static void
reread_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	read_entries(arg);
}

/* Up once both connections are and the consumer group exists. */
static void
maybe_up(xr_redis_worker *w)
{
	void (*up)(void *) = w->up;

	for (int i = 0; i < w->n_streams; i++)
		if (!w->streams[i].group_ok)
			return;
	if (up == NULL || w->draining ||
	    xr_rconn_ctx(w->cmd) == NULL || rd_ctx(w) == NULL)
		return;
	w->up = NULL;
	up(w->up_arg);
}

static void
xgroup_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct wstream *st = priv;
	redisReply *rep = r;

	(void)ac;
	if (rep == NULL)
		return;
	/* OK, or BUSYGROUP: it exists, as wanted */
	if (rep->type != REDIS_REPLY_ERROR ||
	    strstr(rep->str, "BUSYGROUP") != NULL) {
		st->group_ok = true;
		maybe_up(st->w);
	}
}

static void
create_group(xr_redis_worker *w, redisAsyncContext *ac)
{
	for (int i = 0; i < w->n_streams; i++)
		redisAsyncCommand(ac, xgroup_cb, &w->streams[i], "XGROUP CREATE "
		    "%s %s 0 MKSTREAM", w->streams[i].key, w->group);
}

/* The stream of key `k` (a read reply names it), or -1. */
static int
stream_of(const xr_redis_worker *w, const redisReply *k)
{
	for (int i = 0; k != NULL && k->type == REDIS_REPLY_STRING &&
	    i < w->n_streams; i++)
		if (strlen(w->streams[i].key) == k->len &&
		    memcmp(w->streams[i].key, k->str, k->len) == 0)
			return i;
	return -1;
}

static void
xreadgroup_cb(redisAsyncContext *ac, void *r, void *priv)
{
	xr_redis_worker *w = priv;
	redisReply *rep = r;
	struct timeval tv = { 0, 100000 };

	if (rep == NULL)
		return;		/* lost or freed */
	w->reading = false;
	if (rep->type == REDIS_REPLY_ERROR) {
		/* NOGROUP: the stream is gone (a Redis without persistence
		 * restarted): make it again */
		if (strstr(rep->str, "NOGROUP") != NULL)
			create_group(w, ac);
		else
			w->st.redis_errors++;
		event_add(w->reread, &tv);
		return;
	}
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY &&
	    i < rep->elements; i++) {
		const redisReply *sr = rep->element[i];
		int si;

		if (sr->type == REDIS_REPLY_ARRAY && sr->elements == 2 &&
		    (si = stream_of(w, sr->element[0])) >= 0)
			on_entries(w, si, sr->element[1], false);
	}
	read_entries(w);
}

static void
read_entries(xr_redis_worker *w)
{
	redisAsyncContext *ac = rd_ctx(w);

	if (ac == NULL || w->reading || w->inflight >= WRK_MAX_INFLIGHT)
		return;
	if ((w->n_streams == 1 ? redisAsyncCommand(ac, xreadgroup_cb, w,
	    "XREADGROUP GROUP %s %s COUNT %u BLOCK %u STREAMS %s >", w->group,
	    w->consumer, WRK_READ_COUNT, WRK_READ_BLOCK_MS,
	    w->streams[0].key) : redisAsyncCommand(ac, xreadgroup_cb, w,
	    "XREADGROUP GROUP %s %s COUNT %u BLOCK %u STREAMS %s %s > >",
	    w->group, w->consumer, WRK_READ_COUNT, WRK_READ_BLOCK_MS,
	    w->streams[0].key, w->streams[1].key)) == REDIS_OK)
		w->reading = true;
}

static void
cmd_up(void *arg)
{
	maybe_up(arg);
}

static void
rd_up(void *arg)
{
	xr_redis_worker *w = arg;
	redisAsyncContext *ac = rd_ctx(w);

	w->reading = false;
	create_group(w, ac);
	read_entries(w);
}

static void
rd_down(void *arg)
{
	((xr_redis_worker *)arg)->reading = false;
}

/* ---------- claiming the entries of a dead worker ---------- */

static void claim(struct wstream *st);

static void
xautoclaim_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct wstream *st = priv;
	xr_redis_worker *w = st->w;
	redisReply *rep = r;

	(void)ac;
	/* a claim lost with its connection is over too: the next tick, on
	 * the new connection, claims again */
	st->claiming = false;
	if (rep == NULL) {
		snprintf(st->claim_cursor, sizeof(st->claim_cursor), "0-0");
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING) {
		if (rep->type == REDIS_REPLY_ERROR &&
		    strstr(rep->str, "NOGROUP") == NULL)
			w->st.redis_errors++;
		snprintf(st->claim_cursor, sizeof(st->claim_cursor), "0-0");
		return;
	}
	snprintf(st->claim_cursor, sizeof(st->claim_cursor), "%s",
	    rep->element[0]->str);
	on_entries(w, (int)(st - w->streams), rep->element[1], true);
	if (strcmp(st->claim_cursor, "0-0") != 0)
		claim(st);	/* more to look at */
}

static void
claim(struct wstream *st)
{
	xr_redis_worker *w = st->w;
	redisAsyncContext *ac = xr_rconn_ctx(w->cmd);

	if (ac == NULL || st->claiming || w->draining ||
	    w->inflight >= WRK_MAX_INFLIGHT)
		return;
	if (redisAsyncCommand(ac, xautoclaim_cb, st, "XAUTOCLAIM %s %s %s %u "
	    "%s COUNT %u", st->key, w->group, w->consumer,
	    (unsigned)w->rc.claim_idle_ms, st->claim_cursor,
	    WRK_CLAIM_COUNT) == REDIS_OK)
		st->claiming = true;
}

/* Keep the entries of our running handlers from looking idle (XCLAIM to
 * ourselves resets their idle time), then take over idle ones. */
static void
claim_tick(evutil_socket_t fd, short what, void *arg)
{
	xr_redis_worker *w = arg;
	redisAsyncContext *ac = xr_rconn_ctx(w->cmd);

	(void)fd;
	(void)what;
	if (ac == NULL)
		return;
	for (struct wcall *c = w->head; c != NULL; c = c->next)
		redisAsyncCommand(ac, NULL, NULL, "XCLAIM %s %s %s 0 %s JUSTID",
		    w->streams[c->si].key, w->group, w->consumer, c->entry);
	for (int i = 0; i < w->n_streams; i++)
		claim(&w->streams[i]);
}

/* ---------- the object ---------- */

xr_redis_worker *
xr_redis_worker_new(struct event_base *base, const xr_redis_opts *cfg,
    const xr_keyset *ks, xr_registry *reg, const char *group,
    int slot, const char *consumer, xr_diag *d)
{
	xr_redis_worker *w = calloc(1, sizeof(*w));
	xr_rconn_cbs cmd_cbs = { cmd_up, NULL, w };
	xr_rconn_cbs rd_cbs = { rd_up, rd_down, w };
	uint32_t tick = cfg->rc.claim_idle_ms / 2;
	struct timeval tv;

	if (w == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "redis worker: out of memory");
		return NULL;
	}
	if (strlen(group) >= sizeof(w->group) ||
	    strlen(consumer) >= sizeof(w->consumer)) {
		free(w);
		xr_diag_set(d, XR_ERR_INVALID_ARG, "redis worker: name too "
		    "long");
		return NULL;
	}
	w->base = base;
	w->rc = cfg->rc;
	w->ttl_ms = (uint64_t)cfg->ttl_seconds * 1000;
	w->tgt = xr_registry_local_target(reg);
	snprintf(w->group, sizeof(w->group), "%s", group);
	snprintf(w->consumer, sizeof(w->consumer), "%s", consumer);
	w->n_streams = slot >= 0 ? 2 : 1;
	for (int i = 0; i < w->n_streams; i++) {
		w->streams[i].w = w;
		snprintf(w->streams[i].claim_cursor,
		    sizeof(w->streams[i].claim_cursor), "0-0");
	}
	snprintf(w->streams[0].key, sizeof(w->streams[0].key), "%s:%s:req",
	    w->rc.stream_prefix, group);
	if (slot >= 0)
		snprintf(w->streams[1].key, sizeof(w->streams[1].key),
		    "%s:%s:req:%d", w->rc.stream_prefix, group, slot);
	snprintf(w->reply_pfx, sizeof(w->reply_pfx), "%s:reply:",
	    w->rc.stream_prefix);
	w->rx.dir = XR_DIR_WEB_TO_EXEC;
	w->rx.kind_mask = XR_KIND_BIT(XR_KIND_REQUEST);
	/* no session: a request carries no session id */
	w->rx.open_kind_mask = XR_KIND_BIT(XR_KIND_REQUEST);
	w->rx.ttl_ms = w->ttl_ms;
	w->rx.max_body = xr_frame_max_body(cfg->max_payload_bytes);
	if ((w->auth = xr_auth_new(ks)) == NULL ||
	    (w->codec = xr_codec_new()) == NULL ||
	    (w->reread = evtimer_new(base, reread_cb, w)) == NULL ||
	    (w->claim_timer = event_new(base, -1, EV_PERSIST, claim_tick,
	    w)) == NULL) {
		xr_diag_set(d, XR_ERR_NOMEM, "redis worker: out of memory");
		goto fail;
	}
	w->rx.auth = w->auth;
	tick = tick < 50 ? 50 : tick;
	tv.tv_sec = tick / 1000;
	tv.tv_usec = (tick % 1000) * 1000;
	event_add(w->claim_timer, &tv);
	if ((w->cmd = xr_rconn_new(base, &w->rc, &cmd_cbs, d)) == NULL ||
	    (w->rd = xr_rconn_new(base, &w->rc, &rd_cbs, d)) == NULL)
		goto fail;
	return w;
 fail:
	xr_redis_worker_free(w);
	return NULL;
}

void
xr_redis_worker_stats_get(const xr_redis_worker *w,
    xr_redis_worker_stats *out)
{
	*out = w->st;
	out->rx = w->rx.counters;
}

void
xr_redis_worker_on_up(xr_redis_worker *w, void (*up)(void *), void *arg)
{
	w->up = up;
	w->up_arg = arg;
	maybe_up(w);
}

/* The PING after the last XACK came back: Redis has every XACK. */
static void
drain_ping_cb(redisAsyncContext *ac, void *r, void *priv)
{
	xr_redis_worker *w = priv;
	void (*done)(void *) = w->drained;

	(void)ac;
	(void)r;	/* NULL: the connection went; nothing more to wait for */
	if (w->closing || done == NULL)
		return;
	w->drained = NULL;
	done(w->drained_arg);
}

/* Draining and nothing in flight: done once Redis has the last XACK
 * (commands run in order on the connection, so a PING's answer comes
 * after them). */
static void
drain_check(xr_redis_worker *w)
{
	redisAsyncContext *ac = xr_rconn_ctx(w->cmd);
	void (*done)(void *) = w->drained;

	if (!w->draining || w->inflight > 0 || w->drain_pinged ||
	    done == NULL)
		return;
	w->drain_pinged = true;
	if (ac != NULL && redisAsyncCommand(ac, drain_ping_cb, w, "PING") ==
	    REDIS_OK)
		return;
	w->drained = NULL;
	done(w->drained_arg);
}

void
xr_redis_worker_drain(xr_redis_worker *w, void (*done)(void *), void *arg)
{
	xr_rconn *rd = w->rd;

	if (!w->draining) {
		/* no new entries: a read still blocked is dropped with its
		 * connection (an entry Redis handed over meanwhile stays
		 * pending, without a call record: a live worker claims and
		 * runs it) */
		w->draining = true;
		w->rd = NULL;
		w->reading = false;
		xr_rconn_free(rd);
	}
	if (done != NULL && w->drained == NULL && !w->drain_pinged) {
		w->drained = done;
		w->drained_arg = arg;
		drain_check(w);
	}
}

bool
xr_redis_worker_draining(const xr_redis_worker *w)
{
	return w->draining;
}

uint64_t
xr_redis_worker_inflight(const xr_redis_worker *w)
{
	return w->inflight;
}

void
xr_redis_worker_free(xr_redis_worker *w)
{
	struct wcall *c, *next;

	if (w == NULL)
		return;
	w->closing = true;
	/* running handlers are abandoned (their entries stay pending, for a
	 * claim); a call waiting on Redis is freed by its callback, with a
	 * NULL reply, when the connection goes */
	for (c = w->head; c != NULL; c = next) {
		next = c->next;
		if (c->handle != NULL) {
			w->tgt.cancel(w->tgt.arg, c->handle);
			wcall_free(c);
		}
	}
	xr_rconn_free(w->rd);
	xr_rconn_free(w->cmd);
	if (w->reread != NULL)
		event_free(w->reread);
	if (w->claim_timer != NULL)
		event_free(w->claim_timer);
	xr_codec_free(w->codec);
	xr_auth_free(w->auth);
	free(w->buf);
	free(w);
}
