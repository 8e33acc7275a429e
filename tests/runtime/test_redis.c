/*
 * tests/runtime/test_redis.c — the redis_streams profile (runtime/redis.h)
 * against a real redis-server that each test starts on a unix socket in a
 * temporary directory (--save '' --appendonly no): unary calls with the
 * same bytes as the memory profile; a REQUEST replayed into the stream by
 * the test (XADD) rejected as a replay, one with a flipped bit as a bad
 * signature, neither run; Redis down: calls fail UNAVAILABLE at once; a
 * worker SIGKILLed mid-call: its entry claimed by a live worker and
 * answered ABORTED, not run again; the streams bounded by max_stream_len;
 * two execrpc-server processes serving one ingress. Fails (never skips)
 * when redis-server is not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "helper_redis.h"
#include "helper_rt.h"
#include "redis.h"
#include "rx.h"

#define SAY "echo.v1.Echo/Say"

static rt_redis srv;
/* execrpc-server processes of a test, killed by the teardown if a failed
 * assertion left them running */
static pid_t servers[2];

static int
setup(void **state)
{
	(void)state;
	rt_redis_start(&srv);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++)
		if (servers[i] > 0) {
			kill(servers[i], SIGKILL);
			waitpid(servers[i], NULL, 0);
			servers[i] = 0;
		}
	rt_redis_stop(&srv);
	return 0;
}

static void
yaml_for(char *y, size_t cap, const char *extra)
{
	snprintf(y, cap,
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: redis_streams\n"
	    "      redis:\n"
	    "        unix_socket: %s\n"
	    "        stream_prefix: t\n"
	    "%s"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", srv.sock, extra);
}

static redisContext *
raw(void)
{
	return rt_redis_raw(&srv);
}

static xr_redis_worker_stats
wstats(rt_ctx *r)
{
	xr_redis_worker_stats w;
	xr_redis_ingress_stats in;

	assert_int_equal(xr_transport_redis_stats(rt_transport(r), &w, &in),
	    XR_OK);
	return w;
}

/* Run the base until the workers have read `n` entries in all (3 s). */
static void
wait_entries(rt_ctx *r, uint64_t n)
{
	for (int i = 0; i < 300 && wstats(r).entries < n; i++)
		rt_run_for(r->base, 10);
	assert_int_equal(wstats(r).entries, n);
	rt_run_for(r->base, 50);	/* its replies and acks */
}

static xr_channel *
pick(rt_ctx *r)
{
	int err;
	xr_channel *ch = xr_lifecycle_pick(r->lc, "echo.v1.Echo", NULL, 0,
	    &err);

	assert_non_null(ch);
	return ch;
}

/* Unary calls over Redis: the response bytes are the memory profile's,
 * byte for byte; every entry read was run once, replied to, acked. */
static void
test_redis_echo_bytes(void **state)
{
	static const char *texts[] = { "", "hello", "grow-3000", "\x01\xff" };
	static const char *yaml_mem =
	    "runtime:\n"
	    "  platform:\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n";
	rt_ctx r, m;
	rt_result a, b;
	char y[1024];
	xr_redis_worker_stats w;

	(void)state;
	yaml_for(y, sizeof(y), "");
	rt_up(&r, y);
	rt_up(&m, yaml_mem);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(rt_say(pick(&r), SAY, texts[i], 0, 0, 5000,
		    &a), XR_STATUS_OK);
		assert_int_equal(rt_say(pick(&m), SAY, texts[i], 0, 0, 5000,
		    &b), XR_STATUS_OK);
		assert_int_equal(a.resp_len, b.resp_len);
		assert_memory_equal(a.resp, b.resp, a.resp_len);
	}
	/* a handler's own status travels too */
	assert_int_equal(rt_say(pick(&r), SAY, "x", 0, XR_STATUS_NOT_FOUND,
	    5000, &a), XR_STATUS_NOT_FOUND);
	rt_run_for(r.base, 50);
	w = wstats(&r);
	assert_int_equal(w.entries, 5);
	assert_int_equal(w.runs, 5);
	assert_int_equal(w.replies, 5);
	assert_int_equal(w.acked, 5);
	assert_int_equal(w.rx.accepted, 5);
	xr_lifecycle_stop(r.lc, NULL);
	rt_free(&r);
	xr_lifecycle_stop(m.lc, NULL);
	rt_free(&m);
}

/* A REQUEST appended again by someone with access to Redis (XADD of the
 * very bytes) is a replay: counted, never run; a flipped bit is a bad
 * signature: counted, never run. Neither gets a reply. */
static void
test_redis_replay_and_flip(void **state)
{
	rt_ctx r;
	rt_result a;
	char y[1024];
	redisContext *c;
	redisReply *rep, *f;
	xr_redis_worker_stats w0, w;
	uint8_t *frame;
	size_t len;

	(void)state;
	yaml_for(y, sizeof(y), "");
	rt_up(&r, y);
	assert_int_equal(rt_say(pick(&r), SAY, "once", 0, 0, 5000, &a),
	    XR_STATUS_OK);
	rt_run_for(r.base, 50);
	w0 = wstats(&r);
	assert_int_equal(w0.runs, 1);

	c = raw();
	rep = redisCommand(c, "XRANGE t:execution:req - +");
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	assert_int_equal(rep->elements, 1);
	f = rep->element[0]->element[1]->element[1];
	len = f->len;
	assert_non_null(frame = malloc(len));
	memcpy(frame, f->str, len);
	freeReplyObject(rep);

	/* the same bytes again: replay */
	freeReplyObject(redisCommand(c, "XADD t:execution:req * f %b", frame,
	    len));
	wait_entries(&r, 2);
	w = wstats(&r);
	assert_int_equal(w.rx.rejects[XR_REJECT_REPLAY],
	    w0.rx.rejects[XR_REJECT_REPLAY] + 1);
	assert_int_equal(w.runs, 1);
	assert_int_equal(w.replies, 1);

	/* one bit flipped in the envelope: bad signature */
	frame[len / 2] ^= 0x10;
	freeReplyObject(redisCommand(c, "XADD t:execution:req * f %b", frame,
	    len));
	wait_entries(&r, 3);
	w = wstats(&r);
	assert_int_equal(w.rx.rejects[XR_REJECT_BAD_SIGNATURE],
	    w0.rx.rejects[XR_REJECT_BAD_SIGNATURE] + 1);
	assert_int_equal(w.rx.rejects[XR_REJECT_REPLAY],
	    w0.rx.rejects[XR_REJECT_REPLAY] + 1);
	assert_int_equal(w.runs, 1);
	assert_int_equal(w.replies, 1);
	/* every entry is acknowledged: nothing is left to claim */
	rep = redisCommand(c, "XPENDING t:execution:req execution");
	assert_int_equal(rep->element[0]->integer, 0);
	freeReplyObject(rep);
	free(frame);
	redisFree(c);
	xr_lifecycle_stop(r.lc, NULL);
	rt_free(&r);
}

/* Redis gone: a call fails UNAVAILABLE at once, not at its deadline; a
 * call pending when it goes too. */
static void
test_redis_down_unavailable(void **state)
{
	rt_ctx r;
	rt_result a;
	rt_pending p = { 0 };
	char y[1024];
	uint64_t t0;

	(void)state;
	yaml_for(y, sizeof(y), "");
	rt_up(&r, y);
	assert_int_equal(rt_say(pick(&r), SAY, "up", 0, 0, 5000, &a),
	    XR_STATUS_OK);
	/* a slow call in flight when Redis dies */
	rt_start_say(pick(&r), SAY, 3000, 20000, &p);
	rt_run_for(r.base, 200);
	assert_int_equal(p.done, 0);
	rt_redis_kill(&srv);
	t0 = xr_mono_ms();
	for (int i = 0; i < 200 && !p.done; i++)
		rt_run_for(r.base, 10);
	assert_int_equal(p.done, 1);
	assert_int_equal(p.code, XR_STATUS_UNAVAILABLE);
	t0 = xr_mono_ms();
	assert_int_equal(rt_say(pick(&r), SAY, "down", 0, 0, 20000, &a),
	    XR_STATUS_UNAVAILABLE);
	assert_true(xr_mono_ms() - t0 < 1000);
	xr_lifecycle_stop(r.lc, NULL);
	rt_free(&r);
}

/* Static keys, so that separate processes verify each other's frames. */
#define STATIC_AUTH \
	"      auth:\n" \
	"        secret_mode: static\n" \
	"        secret: \"0123456789abcdef0123456789abcdef\"\n"

/* An ingress alone: the transport service with no endpoint served. */
struct ing {
	struct event_base *base;
	xr_transport_svc *t;
	xr_config cfg;
	xr_keyset ks;
	xr_channel *ch;
};

static void
ing_up(struct ing *g, const char *y)
{
	xr_diag d = { 0 };
	xr_queue *q;
	int err;

	assert_non_null(g->base = event_base_new());
	if (xr_config_load_string(y, strlen(y), &g->cfg, &d) != XR_OK ||
	    xr_config_keyset(&g->cfg, &g->ks, &d) != XR_OK)
		fail_msg("ingress config: %s", d.reason);
	assert_non_null(g->t = xr_transport_new(g->base, &g->cfg, &g->ks,
	    rt_mods, RT_NMODS, &d));
	assert_int_equal(xr_transport_worker_up(g->t, "execution", 0, 0, NULL,
	    &d), XR_OK);
	assert_int_equal(xr_transport_ingress_ready(g->t, 3000, &d), XR_OK);
	assert_non_null(q = xr_transport_queue(g->t, "echo.v1.Echo", &d));
	assert_non_null(g->ch = xr_queue_pick(q, NULL, 0, &err));
}

static void
ing_down(struct ing *g)
{
	xr_transport_free(g->t);
	xr_keyset_wipe(&g->ks);
	xr_config_free(&g->cfg);
	event_base_free(g->base);
}

/*
 * A worker SIGKILLed with a call running: the entry stays pending with its
 * call record; a live worker claims it after claim_idle_ms and answers
 * ABORTED, never running it again; the caller gets that status before its
 * deadline. The caller here is an ingress alone (the transport service
 * with no endpoint served), so no worker of its own competes for the entry.
 */
static void
test_redis_worker_killed_aborted(void **state)
{
	struct ing g;
	rt_pending p;
	rt_ctx live;
	char y[1024];
	redisContext *c;
	redisReply *rep;
	pid_t child;
	int pending = 0;
	uint64_t t0;
	xr_redis_worker_stats w;

	(void)state;
	snprintf(y, sizeof(y),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: redis_streams\n"
	    STATIC_AUTH
	    "      redis:\n"
	    "        unix_socket: %s\n"
	    "        stream_prefix: t\n"
	    "        claim_idle_ms: 300\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", srv.sock);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {	/* the worker that dies */
		rt_ctx r;

		rt_up(&r, y);
		event_base_dispatch(r.base);
		_exit(0);
	}
	ing_up(&g, y);
	rt_start_say(g.ch, SAY, 5000, 15000, &p);
	/* wait until the child has read it (pending in its name) */
	c = raw();
	for (int i = 0; i < 500 && pending == 0; i++) {
		rt_run_for(g.base, 10);
		rep = redisCommand(c, "XPENDING t:execution:req execution");
		if (rep != NULL && rep->type == REDIS_REPLY_ARRAY)
			pending = (int)rep->element[0]->integer;
		freeReplyObject(rep);
	}
	assert_int_equal(pending, 1);
	rt_run_for(g.base, 200);	/* its handler is running: the record */
	assert_int_equal(p.done, 0);
	kill(child, SIGKILL);
	while (waitpid(child, NULL, 0) < 0)
		;
	/* a live worker takes over */
	t0 = xr_mono_ms();
	rt_up(&live, y);
	for (int i = 0; i < 500 && !p.done; i++) {
		rt_run_for(g.base, 10);
		rt_run_for(live.base, 10);
	}
	assert_int_equal(p.done, 1);
	assert_int_equal(p.code, XR_STATUS_ABORTED);
	assert_true(xr_mono_ms() - t0 < 5000);	/* well before 15 s */
	w = wstats(&live);
	assert_int_equal(w.claimed, 1);
	assert_int_equal(w.aborted, 1);
	assert_int_equal(w.runs, 0);		/* never run again */
	rep = redisCommand(c, "XPENDING t:execution:req execution");
	assert_int_equal(rep->element[0]->integer, 0);
	freeReplyObject(rep);
	redisFree(c);
	xr_lifecycle_stop(live.lc, NULL);
	rt_free(&live);
	ing_down(&g);
}

/* The streams stay within max_stream_len (MAXLEN ~: whole macro nodes of
 * 100 entries are trimmed, so the bound is the setting plus one node).
 * Calls go in batches below the bound: an entry trimmed before a worker
 * read it is lost (its call ends at its deadline), as documented. */
static void
test_redis_maxlen(void **state)
{
	enum { N = 2000, BATCH = 50 };
	rt_ctx r;
	rt_pending p[BATCH];
	char y[1024];
	redisContext *c;
	redisReply *rep;
	long long xlen;

	(void)state;
	yaml_for(y, sizeof(y), "        max_stream_len: 100\n");
	rt_up(&r, y);
	for (int b = 0; b < N / BATCH; b++) {
		int done = 0;

		for (int k = 0; k < BATCH; k++)
			rt_start_say(pick(&r), SAY, 0, 10000, &p[k]);
		for (int i = 0; i < 1000 && done < BATCH; i++) {
			rt_run_for(r.base, 5);
			done = 0;
			for (int k = 0; k < BATCH; k++)
				done += p[k].done;
		}
		assert_int_equal(done, BATCH);
		for (int k = 0; k < BATCH; k++)
			assert_int_equal(p[k].code, XR_STATUS_OK);
	}
	assert_int_equal(wstats(&r).runs, N);
	c = raw();
	rep = redisCommand(c, "XLEN t:execution:req");
	xlen = rep->integer;
	freeReplyObject(rep);
	assert_true(xlen >= 100 && xlen <= 200);
	rep = redisCommand(c, "KEYS t:reply:*");
	assert_int_equal(rep->elements, 1);
	freeReplyObject(redisCommand(c, "SELECT 0"));
	{
		redisReply *l = redisCommand(c, "XLEN %s",
		    rep->element[0]->str);

		assert_true(l->integer >= 100 && l->integer <= 200);
		freeReplyObject(l);
		/* the reply stream expires 60 s after the ingress last read
		 * from it: none is left behind for good */
		l = redisCommand(c, "PTTL %s", rep->element[0]->str);
		assert_true(l->integer > 0 && l->integer <= 60000);
		freeReplyObject(l);
	}
	freeReplyObject(rep);
	redisFree(c);
	xr_lifecycle_stop(r.lc, NULL);
	rt_free(&r);
}

/* Several processes for real: two execrpc-server processes (separate
 * programs, separate Redis connections) serve the group's stream; the
 * ingress here has no worker of its own. Every call is answered by one of
 * them (the pid in the response), exactly once. */
static void
test_redis_separate_processes(void **state)
{
	enum { N = 40 };
	const char *bin = getenv("XR_SERVER_BIN");
	char y[1024], secret[192], cfgpath[192];
	pid_t *srvs = servers;
	struct ing g;
	rt_pending p[N];
	rt_result a;
	int from[2] = { 0, 0 }, done = 0;
	FILE *f;

	(void)state;
	assert_non_null(bin);
	snprintf(secret, sizeof(secret), "%s/secret", srv.dir);
	assert_non_null(f = fopen(secret, "w"));
	fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	assert_int_equal(chmod(secret, 0600), 0);
	snprintf(y, sizeof(y),
	    "runtime:\n"
	    "  platform:\n"
	    "    execution_ipc:\n"
	    "      transport: redis_streams\n"
	    "      auth:\n"
	    "        secret_mode: static\n"
	    "        secret_file: %s\n"
	    "      redis:\n"
	    "        url: \"unix://%s\"\n"
	    "        stream_prefix: multi\n"
	    "    process_groups:\n"
	    "      - name: execution\n"
	    "        services: [echo.v1.Echo]\n", secret, srv.sock);
	snprintf(cfgpath, sizeof(cfgpath), "%s/server.yaml", srv.dir);
	assert_non_null(f = fopen(cfgpath, "w"));
	fputs(y, f);
	fclose(f);
	for (int i = 0; i < 2; i++) {
		int pfd[2];
		char line[64] = "";
		FILE *out;

		assert_int_equal(pipe(pfd), 0);
		srvs[i] = fork();
		assert_true(srvs[i] >= 0);
		if (srvs[i] == 0) {
			close(pfd[0]);
			dup2(pfd[1], 1);
			execl(bin, bin, "--config", cfgpath, (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		/* up and reading once it says so */
		assert_non_null(out = fdopen(pfd[0], "r"));
		assert_non_null(fgets(line, sizeof(line), out));
		assert_string_equal(line, "serving redis_streams multi\n");
		fclose(out);
	}
	ing_up(&g, y);
	/* one call first: both servers are up and reading within 5 s */
	for (int i = 0; i < 50; i++) {
		if (rt_say(g.ch, SAY, "hi", 0, 0, 2000, &a) == XR_STATUS_OK)
			break;
		rt_run_for(g.base, 100);
	}
	assert_int_equal(a.code, XR_STATUS_OK);
	for (int k = 0; k < N; k++)
		rt_start_say(g.ch, SAY, 50, 10000, &p[k]);
	for (int i = 0; i < 1000 && done < N; i++) {
		rt_run_for(g.base, 10);
		done = 0;
		for (int k = 0; k < N; k++)
			done += p[k].done;
	}
	assert_int_equal(done, N);
	for (int k = 0; k < N; k++)
		assert_int_equal(p[k].code, XR_STATUS_OK);
	/* by pid: blocking calls, one after the other */
	for (int k = 0; k < N; k++) {
		uint64_t pid;

		assert_int_equal(rt_say(g.ch, SAY, "who", 0, 0, 5000, &a),
		    XR_STATUS_OK);
		pid = rt_say_pid(a.resp, a.resp_len);
		assert_true(pid == (uint64_t)srvs[0] ||
		    pid == (uint64_t)srvs[1]);
		from[pid == (uint64_t)srvs[1]]++;
	}
	print_message("calls by server: %d, %d\n", from[0], from[1]);
	ing_down(&g);
	for (int i = 0; i < 2; i++) {
		int st;

		kill(srvs[i], SIGTERM);
		assert_int_equal(waitpid(srvs[i], &st, 0), srvs[i]);
		srvs[i] = 0;
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	unlink(secret);
	unlink(cfgpath);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_redis_echo_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_redis_replay_and_flip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_down_unavailable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_redis_worker_killed_aborted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_maxlen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_redis_separate_processes,
		    setup, teardown),
	};
	int rc;

	if ((rc = rt_worker_mode(argc, argv)) >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
