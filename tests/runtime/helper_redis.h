/*
 * tests/runtime/helper_redis.h — a real redis-server for a redis_streams
 * test, on a unix socket in a fresh temporary directory: started, killed
 * (SIGKILL), started again on the same socket and directory (its AOF is
 * read back), stopped and removed. Static functions, one copy per test
 * file that includes it (tests/runtime links only helper_rt.c). Fails the
 * test (never skips) when redis-server is not installed.
 */
#ifndef RT_HELPER_REDIS_H
#define RT_HELPER_REDIS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

typedef struct rt_redis {
	char dir[64];
	char sock[128];
	bool aof;		/* --appendonly yes --appendfsync always */
	pid_t pid;
} rt_redis;

/* Start redis-server on s->sock in s->dir (both made on the first start)
 * and wait until it answers PING (up to 10 s, AOF loaded). */
static inline void
rt_redis_start(rt_redis *s)
{
	char *argv[] = { "redis-server", "--port", "0", "--unixsocket",
	    s->sock, "--save", "", "--appendonly", s->aof ? "yes" : "no",
	    "--appendfsync", "always", "--dir", s->dir, "--loglevel",
	    "warning", NULL };
	redisContext *c;
	redisReply *rep;

	if (s->dir[0] == '\0') {
		snprintf(s->dir, sizeof(s->dir), "/tmp/xr-redis-XXXXXX");
		assert_non_null(mkdtemp(s->dir));
		snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	}
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp("redis-server", argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		bool ok = false;

		if ((c = redisConnectUnix(s->sock)) != NULL && c->err == 0 &&
		    (rep = redisCommand(c, "PING")) != NULL) {
			ok = rep->type == REDIS_REPLY_STATUS;
			freeReplyObject(rep);
		}
		if (c != NULL)
			redisFree(c);
		if (ok)
			return;
		usleep(10000);
	}
	fail_msg("redis-server did not start");
}

/* SIGKILL it and reap it; the directory and its AOF stay. */
static inline void
rt_redis_kill(rt_redis *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	while (waitpid(s->pid, NULL, 0) < 0)
		;
	s->pid = 0;
}

/* Kill it and remove its directory. */
static inline void
rt_redis_stop(rt_redis *s)
{
	char cmd[128];

	rt_redis_kill(s);
	if (s->dir[0] != '\0' && strncmp(s->dir, "/tmp/xr-redis-", 14) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			print_message("could not remove %s\n", s->dir);
	}
	memset(s, 0, sizeof(*s));
}

/* A blocking connection for the test's own commands. */
static inline redisContext *
rt_redis_raw(const rt_redis *s)
{
	redisContext *c = redisConnectUnix(s->sock);

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	return c;
}

/* An integer command's value (asserts the type). */
static inline long long
rt_redis_int(redisContext *c, const char *fmt, ...)
{
	redisReply *rep;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	if (rep->type != REDIS_REPLY_INTEGER)
		fail_msg("redis: not an integer: %s", rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "(other type)");
	v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/* XPENDING's count of a stream's consumer group. */
static inline long long
rt_redis_pending(redisContext *c, const char *stream, const char *group)
{
	redisReply *rep = redisCommand(c, "XPENDING %s %s", stream, group);
	long long n;

	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	n = rep->element[0]->integer;
	freeReplyObject(rep);
	return n;
}

/* The number of keys matching `pattern` (SCAN, not KEYS). */
static inline long long
rt_redis_count_keys(redisContext *c, const char *pattern)
{
	char cursor[32] = "0";
	long long n = 0;

	do {
		redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 1000",
		    cursor, pattern);

		assert_non_null(rep);
		assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		n += (long long)rep->element[1]->elements;
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

#endif /* RT_HELPER_REDIS_H */
