/*
 * bench/compare_peers.c — bench_compare's baselines (compare.h): a raw TCP
 * echo and a libevent bufferevent echo (servers and their clients), the cost
 * of a bare TCP connect, and a bare fork+exec of processes that report
 * ready over a pipe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "compare.h"

static void
nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static struct sockaddr_in
loopback(uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

static int
send_port(int port_fd, int lfd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	uint16_t port;

	if (getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0)
		return -1;
	port = ntohs(sin.sin_port);
	if (write(port_fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
		return -1;
	close(port_fd);
	return 0;
}

static int
connect_loopback(uint16_t port)
{
	struct sockaddr_in sin = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("bench_compare: connect");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	nodelay(fd);
	return fd;
}

static int
read_full(int fd, uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* ---- raw TCP ---- */

static void
raw_echo(int fd)
{
	uint8_t buf[65536];
	ssize_t n;

	nodelay(fd);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_full(fd, buf, (size_t)n) != 0)
			break;
	}
	close(fd);
}

int
xrb_raw_serve(int port_fd, void *arg)
{
	struct sockaddr_in sin = loopback(0);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

	(void)arg;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 128) != 0 || send_port(port_fd, lfd) != 0)
		return -1;
	for (;;)
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			raw_echo(fd);
}

int
xrb_pingpong(uint16_t port, const xrb_sizes *z, xrb_result *r)
{
	uint8_t buf[XRB_MSG];
	uint64_t *lat = xrb_lat_alloc(z->seq);
	int fd = connect_loopback(port), rc = -1;

	memset(buf, 'x', sizeof(buf));
	if (lat == NULL || fd < 0)
		goto out;
	for (size_t i = 0; i < z->warmup + z->seq; i++) {
		uint64_t t0 = xrb_now_ns();

		if (write_full(fd, buf, XRB_MSG) != 0 ||
		    read_full(fd, buf, XRB_MSG) != 0) {
			fprintf(stderr, "bench_compare: ping-pong failed\n");
			goto out;
		}
		if (i >= z->warmup)
			lat[i - z->warmup] = xrb_now_ns() - t0;
	}
	xrb_latency(lat, z->seq, r);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(lat);
	return rc;
}

/* Send up to `want` messages in one write; returns how many, or -1. */
static long
send_msgs(int fd, size_t want)
{
	static uint8_t out[256 * XRB_MSG];

	if (want > sizeof(out) / XRB_MSG)
		want = sizeof(out) / XRB_MSG;
	memset(out, 'x', want * XRB_MSG);
	return write_full(fd, out, want * XRB_MSG) == 0 ? (long)want : -1;
}

int
xrb_pipelined(uint16_t port, unsigned inflight, const xrb_sizes *z,
    xrb_result *r)
{
	uint8_t in[65536];
	size_t total = z->pipelined, sent = 0, got_bytes = 0;
	int fd = connect_loopback(port);
	uint64_t t0;

	if (fd < 0)
		return -1;
	t0 = xrb_now_ns();
	while (got_bytes < total * XRB_MSG) {
		size_t done = got_bytes / XRB_MSG, room = inflight -
		    (sent - done), left = total - sent;
		ssize_t n;

		if (room > 0 && left > 0) {
			long s = send_msgs(fd, room < left ? room : left);

			if (s < 0)
				break;
			sent += (size_t)s;
		}
		if ((n = read(fd, in, sizeof(in))) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		got_bytes += (size_t)n;
	}
	r->value = (double)total / ((double)(xrb_now_ns() - t0) / 1e9);
	close(fd);
	if (got_bytes < total * XRB_MSG) {
		fprintf(stderr, "bench_compare: pipelined echo failed\n");
		return -1;
	}
	return 0;
}

int
xrb_connect_cost(uint16_t port, const xrb_sizes *z, xrb_result *r)
{
	uint64_t *lat = xrb_lat_alloc(z->connects);

	if (lat == NULL)
		return -1;
	for (size_t i = 0; i < z->connects; i++) {
		uint64_t t0 = xrb_now_ns();
		int fd = connect_loopback(port);

		lat[i] = xrb_now_ns() - t0;
		if (fd < 0) {
			free(lat);
			return -1;
		}
		close(fd);
	}
	xrb_latency(lat, z->connects, r);
	free(lat);
	return 0;
}

/* ---- libevent bufferevent echo ---- */

static void
le_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_add_buffer(bufferevent_get_output(bev),
	    bufferevent_get_input(bev));
}

static void
le_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
le_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct bufferevent *bev;

	(void)sa;
	(void)salen;
	(void)arg;
	nodelay(fd);
	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, le_read, NULL, le_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int
xrb_libevent_serve(int port_fd, void *arg)
{
	struct sockaddr_in sin = loopback(0);
	struct event_base *base = event_base_new();
	struct evconnlistener *l;

	(void)arg;
	if (base == NULL)
		return -1;
	l = evconnlistener_new_bind(base, le_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL || send_port(port_fd, evconnlistener_get_fd(l)) != 0)
		return -1;
	return event_base_dispatch(base) == 0 ? 0 : -1;
}

/* ---- bare fork+exec ---- */

static pid_t
bare_spawn(const char *exe, int ready_w, int stop_r)
{
	char rs[16], ss[16];
	pid_t pid;

	snprintf(rs, sizeof(rs), "%d", ready_w);
	snprintf(ss, sizeof(ss), "%d", stop_r);
	if ((pid = fork()) == 0) {
		/* these two cross the exec; every other fd is CLOEXEC */
		fcntl(ready_w, F_SETFD, 0);
		fcntl(stop_r, F_SETFD, 0);
		execl(exe, exe, "--bare-ready", rs, ss, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int
xrb_bare_start(const char *exe, unsigned n, xrb_result *r)
{
	int ready[2], stop[2], rc = -1;
	pid_t pids[64];
	unsigned spawned = 0, seen = 0;
	uint64_t t0;
	char c;

	if (n > 64 || pipe2(ready, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(stop, O_CLOEXEC) != 0) {
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	fflush(NULL);
	t0 = xrb_now_ns();
	for (; spawned < n; spawned++)
		if ((pids[spawned] = bare_spawn(exe, ready[1], stop[0])) < 0)
			break;
	close(ready[1]);
	close(stop[0]);
	while (seen < spawned && read(ready[0], &c, 1) == 1)
		seen++;
	r->value = (double)(xrb_now_ns() - t0) / 1e6;
	r->p99 = 0;
	if (spawned == n && seen == n)
		rc = 0;
	else
		fprintf(stderr, "bench_compare: bare start: %u of %u ready\n",
		    seen, n);
	close(stop[1]);
	close(ready[0]);
	for (unsigned i = 0; i < spawned; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	return rc;
}

int
xrb_bare_child(int argc, char **argv)
{
	int ready_w, stop_r;
	char c;

	if (argc != 4)
		return 64;
	ready_w = atoi(argv[2]);
	stop_r = atoi(argv[3]);
	if (write(ready_w, "r", 1) != 1)
		return 1;
	close(ready_w);
	while (read(stop_r, &c, 1) > 0)
		;
	return 0;
}
