/* runtime/redis_conn.c — one hiredis async connection on an event_base,
 * with AUTH, SELECT and reconnection (runtime/redis.h). */
#include "redis.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "codec.h"
#include "log.h"

#define RCONN_RETRY_MS		100
#define RCONN_PASSWORD_MAX	512

struct xr_rconn {
	struct event_base *base;
	xr_redis_cfg rc;
	xr_rconn_cbs cbs;
	redisAsyncContext *ac;		/* connecting or up; NULL between */
	bool up;
	struct event *retry;
};

static void rconn_try(xr_rconn *c);

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rconn_try(arg);
}

static void
rconn_later(xr_rconn *c)
{
	struct timeval tv = { 0, RCONN_RETRY_MS * 1000 };

	event_add(c->retry, &tv);
}

static void
ignore_reply(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;

	(void)ac;
	(void)priv;
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		xr_warn("redis: AUTH or SELECT refused");
}

/* AUTH with the password file's content (read now, wiped after: hiredis
 * copies it into its output buffer). A file that fails the private-file
 * checks is not sent; the commands that follow then fail NOAUTH. */
static void
rconn_auth(xr_rconn *c)
{
	char pw[RCONN_PASSWORD_MAX + 1];
	xr_diag d = { 0 };
	ssize_t n;
	int fd;

	if (c->rc.password_file[0] == '\0')
		return;
	fd = open(c->rc.password_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || xr_keys_check_private(fd, "redis.password_file",
	    c->rc.password_file, &d) != XR_OK) {
		xr_warn("redis: password_file unusable: %s", fd < 0 ?
		    "cannot open" : d.reason);
		if (fd >= 0)
			close(fd);
		return;
	}
	n = read(fd, pw, sizeof(pw));
	close(fd);
	if (n > 0 && n <= RCONN_PASSWORD_MAX) {
		while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
			n--;
		redisAsyncCommand(c->ac, ignore_reply, NULL, "AUTH %b", pw,
		    (size_t)n);
	} else
		xr_warn("redis: password_file empty or over %d bytes",
		    RCONN_PASSWORD_MAX);
	xr_wipe(pw, sizeof(pw));
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	xr_rconn *c = ac->data;

	if (c == NULL)
		return;
	if (status != REDIS_OK) {
		c->ac = NULL;		/* hiredis frees it */
		rconn_later(c);
		return;
	}
	c->up = true;
	rconn_auth(c);
	if (c->rc.db != 0)
		redisAsyncCommand(c->ac, ignore_reply, NULL, "SELECT %u",
		    (unsigned)c->rc.db);
	if (c->cbs.up != NULL)
		c->cbs.up(c->cbs.arg);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	xr_rconn *c = ac->data;
	bool was_up;

	(void)status;
	if (c == NULL)
		return;
	was_up = c->up;
	c->ac = NULL;
	c->up = false;
	rconn_later(c);
	if (was_up && c->cbs.down != NULL)
		c->cbs.down(c->cbs.arg);
}

static void
rconn_try(xr_rconn *c)
{
	const char *host = c->rc.host[0] != '\0' ? c->rc.host : "127.0.0.1";
	redisAsyncContext *ac;

	ac = c->rc.unix_socket[0] != '\0' ?
	    redisAsyncConnectUnix(c->rc.unix_socket) :
	    redisAsyncConnect(host, (int)c->rc.port);
	if (ac == NULL || ac->err != 0) {
		if (ac != NULL)
			redisAsyncFree(ac);
		rconn_later(c);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		rconn_later(c);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	c->ac = ac;
}

xr_rconn *
xr_rconn_new(struct event_base *base, const xr_redis_cfg *rc,
    const xr_rconn_cbs *cbs, xr_diag *d)
{
	xr_rconn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->retry = evtimer_new(base, retry_cb, c)) == NULL) {
		free(c);
		xr_diag_set(d, XR_ERR_NOMEM, "redis: out of memory");
		return NULL;
	}
	c->base = base;
	c->rc = *rc;
	c->cbs = *cbs;
	rconn_try(c);
	return c;
}

redisAsyncContext *
xr_rconn_ctx(const xr_rconn *c)
{
	return c->up ? c->ac : NULL;
}

void
xr_rconn_free(xr_rconn *c)
{
	redisAsyncContext *ac;

	if (c == NULL)
		return;
	if ((ac = c->ac) != NULL) {
		c->ac = NULL;
		c->up = false;
		ac->data = NULL;	/* its callbacks now do nothing */
		redisAsyncFree(ac);	/* pending callbacks get NULL */
	}
	event_free(c->retry);
	free(c);
}

int
xr_redis_rx(xr_rx *rx, struct xr_codec *codec, const uint8_t *body,
    size_t len)
{
	xr_env_decoder dec = xr_codec_decoder(codec);
	xr_nonce_cache *once = xr_nonce_cache_new(1, rx->ttl_ms);
	xr_session sess = { 0 };
	xr_env_view view;
	int r;

	if (once == NULL)
		return XR_ERR_NOMEM;
	rx->nonces = once;
	r = xr_rx_frame(rx, &sess, body, len, xr_now_ms(), &dec, &view);
	rx->nonces = NULL;
	xr_nonce_cache_free(once);
	return r;
}

const struct redisReply *
xr_redis_entry_frame(const struct redisReply *fv)
{
	return xr_redis_entry_field(fv, "f");
}

const struct redisReply *
xr_redis_entry_field(const struct redisReply *fv, const char *name)
{
	size_t nl = strlen(name);

	if (fv == NULL || fv->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < fv->elements; i += 2)
		if (fv->element[i]->type == REDIS_REPLY_STRING &&
		    fv->element[i]->len == nl &&
		    memcmp(fv->element[i]->str, name, nl) == 0 &&
		    fv->element[i + 1]->type == REDIS_REPLY_STRING)
			return fv->element[i + 1];
	return NULL;
}

void
xr_redis_opts_from(xr_redis_opts *o, const xr_config *cfg)
{
	o->rc = cfg->redis;
	o->ttl_seconds = cfg->ttl_seconds;
	o->max_payload_bytes = cfg->max_payload_bytes;
}
