/* tests/reliability/helper_redis_bound.c — a long redis_streams run with
 * Redis sampled as it goes (helper_redis_bound.h). */
#include "helper_redis_bound.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "echo.h"
#include "echo/v1/echo.pb-c.h"
#include "runtime.h"

#define RB_PREFIX	"rb"
#define RB_STEP		64	/* calls per entry of the start history */

static const xr_service_module rb_mods[] = { XR_ECHO_MODULE_INIT };

struct rb {
	const rb_opts *o;
	rb_figures *f;
	char dir[64], sock[128];
	pid_t redis;
	redisContext *c;		/* the sampler's */
	char reply_key[160];
	struct event_base *base;
	xr_config cfg;
	bool have_cfg;
	xr_lifecycle *lc;
	uint8_t req[64];
	size_t req_len;
	uint64_t started, completed;
	uint64_t *hist_ms;		/* when call k * RB_STEP started */
	size_t n_hist;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fail(struct rb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct rb *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->f->why, sizeof(b->f->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---------- redis-server ---------- */

static int
redis_up(struct rb *b)
{
	char *argv[] = { "redis-server", "--port", "0", "--unixsocket",
	    b->sock, "--save", "", "--appendonly", "no", "--dir", b->dir,
	    "--loglevel", "warning", NULL };

	snprintf(b->dir, sizeof(b->dir), "/tmp/xr-rbound-XXXXXX");
	if (mkdtemp(b->dir) == NULL)
		return fail(b, "mkdtemp failed");
	snprintf(b->sock, sizeof(b->sock), "%s/redis.sock", b->dir);
	if ((b->redis = fork()) < 0)
		return fail(b, "fork failed");
	if (b->redis == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp("redis-server", argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if ((b->c = redisConnectUnix(b->sock)) != NULL &&
		    b->c->err == 0)
			return 0;
		if (b->c != NULL)
			redisFree(b->c);
		b->c = NULL;
		usleep(10000);
	}
	return fail(b, "redis-server did not start (is it installed?)");
}

static void
redis_down(struct rb *b)
{
	char path[192];

	if (b->c != NULL)
		redisFree(b->c);
	if (b->redis > 0) {
		kill(b->redis, SIGKILL);
		while (waitpid(b->redis, NULL, 0) < 0)
			;
	}
	if (b->dir[0] != '\0') {
		unlink(b->sock);
		snprintf(path, sizeof(path), "%s/dump.rdb", b->dir);
		unlink(path);
		rmdir(b->dir);
	}
}

/* An integer reply, or -1. */
static long long
rint_cmd(struct rb *b, const char *fmt, ...)
{
	redisReply *rep;
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(b->c, fmt, ap);
	va_end(ap);
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/* Keys matching `pattern` (SCAN: expired ones are not returned); the first
 * one's name into `first` if not NULL. */
static long long
count_keys(struct rb *b, const char *pattern, char *first, size_t cap)
{
	char cursor[32] = "0";
	long long n = 0;

	do {
		redisReply *rep = redisCommand(b->c, "SCAN %s MATCH %s "
		    "COUNT 1000", cursor, pattern);

		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != 2) {
			freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		if (first != NULL && n == 0 && rep->element[1]->elements > 0)
			snprintf(first, cap, "%s",
			    rep->element[1]->element[0]->str);
		n += (long long)rep->element[1]->elements;
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

/* A numeric field ("used_memory") of an INFO section, or -1. */
static long long
info_field(struct rb *b, const char *section, const char *field)
{
	redisReply *rep = redisCommand(b->c, "INFO %s", section);
	long long v = -1;
	const char *p;

	if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    (p = strstr(rep->str, field)) != NULL)
		v = atoll(p + strlen(field) + 1);
	freeReplyObject(rep);
	return v;
}

static long long
node_entries(struct rb *b)
{
	redisReply *rep = redisCommand(b->c, "CONFIG GET "
	    "stream-node-max-entries");
	long long v = -1;

	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements == 2)
		v = atoll(rep->element[1]->str);
	freeReplyObject(rep);
	return v;
}

/* ---------- the runtime ---------- */

static int
runtime_up(struct rb *b)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	xr_lifecycle_opts lo = { 0 };
	xr_diag d = { 0 };
	char y[1024];

	snprintf(y, sizeof(y),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: redis_streams\n"
	    "      auth:\n"
	    "        ttl_seconds: %u\n"
	    "      redis:\n"
	    "        unix_socket: %s\n"
	    "        stream_prefix: " RB_PREFIX "\n"
	    "        max_stream_len: %u\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", b->o->ttl_seconds, b->sock,
	    b->o->max_stream_len);
	if ((b->base = event_base_new()) == NULL)
		return fail(b, "event_base_new failed");
	if (xr_config_load_string(y, strlen(y), &b->cfg, &d) != XR_OK)
		return fail(b, "config: %s", d.reason);
	b->have_cfg = true;
	lo.cfg = &b->cfg;
	lo.mods = rb_mods;
	lo.n_mods = 1;
	if ((b->lc = xr_lifecycle_new(b->base, &lo, &d)) == NULL ||
	    xr_lifecycle_start(b->lc, &d) != XR_OK ||
	    xr_lifecycle_ready(b->lc, &d) != XR_OK)
		return fail(b, "lifecycle: %s", d.reason);
	req.text = "bound";
	b->req_len = echo__v1__say_request__pack(&req, b->req);
	return 0;
}

static void
runtime_down(struct rb *b)
{
	if (b->lc != NULL) {
		xr_lifecycle_stop(b->lc, NULL);
		xr_lifecycle_free(b->lc);
	}
	if (b->have_cfg)
		xr_config_free(&b->cfg);
	if (b->base != NULL)
		event_base_free(b->base);
}

static void
call_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct rb *b = arg;

	(void)resp;
	(void)len;
	b->completed++;
	if (st->code >= 0 && st->code < 17)
		b->f->by_code[st->code]++;
	if (st->code == XR_STATUS_OK)
		b->f->ok++;
	else
		b->f->other++;
}

static int
start_call(struct rb *b)
{
	xr_channel *ch;
	int err;

	if ((ch = xr_lifecycle_pick(b->lc, "echo.v1.Echo", NULL, 0,
	    &err)) == NULL)
		return fail(b, "pick: %s", xr_strerror(err));
	if (b->started % RB_STEP == 0)
		b->hist_ms[b->n_hist++] = now_ms();
	b->started++;
	xr_call_start(ch, "echo.v1.Echo/Say", b->req, b->req_len,
	    b->o->timeout_ms, call_done, b);
	return 0;
}

/* Calls started after `t` (ms), to within RB_STEP. */
static uint64_t
started_since(const struct rb *b, uint64_t t)
{
	size_t k = b->n_hist;

	while (k > 0 && b->hist_ms[k - 1] >= t)
		k--;
	return b->started - (uint64_t)k * RB_STEP + RB_STEP;
}

/* ---------- sampling ---------- */

static void
sample_len(struct rb *b)
{
	long long req = rint_cmd(b, "XLEN " RB_PREFIX ":execution:req");
	long long rep = b->reply_key[0] != '\0' ? rint_cmd(b, "XLEN %s",
	    b->reply_key) : 0;
	long long mem = info_field(b, "memory", "used_memory");

	if (b->reply_key[0] == '\0')
		count_keys(b, RB_PREFIX ":reply:*", b->reply_key,
		    sizeof(b->reply_key));
	if (req > b->f->max_req)
		b->f->max_req = req;
	if (rep > b->f->max_reply)
		b->f->max_reply = rep;
	if (mem > b->f->max_used_memory)
		b->f->max_used_memory = mem;
	b->f->samples++;
}

static void
sample_keys(struct rb *b)
{
	uint64_t life = 2ull * b->o->ttl_seconds * 1000 + b->o->timeout_ms;
	uint64_t now = now_ms();
	long long bound = (long long)started_since(b, now > life + 1000 ?
	    now - life - 1000 : 0);
	long long n = count_keys(b, RB_PREFIX ":nonce:*", NULL, 0);
	long long c = count_keys(b, RB_PREFIX ":call:*", NULL, 0);

	if (n > b->f->max_nonce)
		b->f->max_nonce = n;
	if (c > b->f->max_call)
		b->f->max_call = c;
	if (n - bound > b->f->key_excess)
		b->f->key_excess = n - bound;
	if (c - bound > b->f->key_excess)
		b->f->key_excess = c - bound;
}

static void
run_for(struct event_base *base, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static int
run_calls(struct rb *b)
{
	uint64_t t0 = now_ms(), next_len = 0, next_keys = 0;

	while (b->completed < b->o->calls) {
		while (b->started < b->o->calls &&
		    b->started - b->completed < b->o->window)
			if (start_call(b) != 0)
				return -1;
		event_base_loop(b->base, EVLOOP_ONCE);
		if (b->completed >= next_len) {
			sample_len(b);
			next_len += b->o->len_every;
		}
		if (b->completed >= next_keys) {
			sample_keys(b);
			next_keys += b->o->keys_every;
		}
	}
	b->f->seconds = (double)(now_ms() - t0) / 1000.0;
	sample_len(b);
	sample_keys(b);
	return 0;
}

int
rb_run(const rb_opts *o, rb_figures *f)
{
	struct rb b;
	uint64_t life = 2ull * o->ttl_seconds * 1000 + o->timeout_ms;
	int r = -1;

	memset(&b, 0, sizeof(b));
	memset(f, 0, sizeof(*f));
	f->key_excess = -(long long)o->calls;
	b.o = o;
	b.f = f;
	if ((b.hist_ms = calloc(o->calls / RB_STEP + 2,
	    sizeof(*b.hist_ms))) == NULL) {
		snprintf(f->why, sizeof(f->why), "out of memory");
		return -1;
	}
	if (redis_up(&b) != 0 || runtime_up(&b) != 0)
		goto out;
	f->node = node_entries(&b);
	if (run_calls(&b) != 0)
		goto out;
	/* every record's life runs out: none may be left */
	run_for(b.base, life + 1000);
	f->nonce_left = count_keys(&b, RB_PREFIX ":nonce:*", NULL, 0);
	f->call_left = count_keys(&b, RB_PREFIX ":call:*", NULL, 0);
	r = 0;
 out:
	runtime_down(&b);
	redis_down(&b);
	free(b.hist_ms);
	return r;
}
