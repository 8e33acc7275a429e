/*
 * bench/compare_util.c — bench_compare's clock, latency summary, request
 * text and server processes (compare.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"

const char xrb_text[XRB_TEXT_LEN + 1] =
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

uint64_t
xrb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
xrb_latency(uint64_t *ns, size_t n, xrb_result *r)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	r->value = (double)ns[n / 2] / 1000.0;
	r->p99 = (double)ns[(n * 99) / 100] / 1000.0;
}

uint64_t *
xrb_lat_alloc(size_t n)
{
	uint64_t *p = calloc(n ? n : 1, sizeof(*p));

	if (p == NULL)
		fprintf(stderr, "bench_compare: out of memory\n");
	return p;
}

static int
read_port(int fd, uint16_t *port)
{
	size_t got = 0;

	while (got < sizeof(*port)) {
		ssize_t n = read(fd, (char *)port + got, sizeof(*port) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

pid_t
xrb_spawn_server(int (*serve)(int port_fd, void *arg), void *arg,
    uint16_t *port)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		perror("bench_compare: pipe");
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		perror("bench_compare: fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(serve(p[1], arg) == 0 ? 0 : 1);
	}
	close(p[1]);
	if (read_port(p[0], port) != 0) {
		fprintf(stderr, "bench_compare: a server did not start\n");
		close(p[0]);
		xrb_reap_server(pid);
		return -1;
	}
	close(p[0]);
	return pid;
}

void
xrb_reap_server(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
