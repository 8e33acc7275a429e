/* tests/reliability/helper_preauth.c — hostile sockets, the real-call
 * probe and RSS readings of the pre-auth attack (helper_preauth.h). */
#include "helper_preauth.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "execrpc/client.h"
#include "helper_srv.h"

#define SAY "echo.v1.Echo/Say"

unsigned long
pa_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	return (unsigned long)rl.rlim_cur;
}

int
pa_connect_nb(uint16_t port)
{
	struct sockaddr_in sin = { 0 };
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int
pa_closed(int fd, size_t *bytes)
{
	char buf[512];
	ssize_t r;

	for (;;) {
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0) {
			if (bytes != NULL)
				*bytes += (size_t)r;
			continue;
		}
		if (r == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t
pa_wait_closed(const int *fds, size_t n, size_t want, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	size_t closed;

	for (;;) {
		closed = 0;
		for (size_t i = 0; i < n; i++)
			if (fds[i] >= 0 && pa_closed(fds[i], NULL))
				closed++;
		if (closed >= want || now_ms() >= end)
			return closed;
		usleep(20 * 1000);
	}
}

size_t
pa_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	size_t off = 0;
	ssize_t r;

	while (off < len && now_ms() < end) {
		r = send(fd, p + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r > 0) {
			off += (size_t)r;
		} else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			(void)poll(&pfd, 1, 50);
		} else {
			break;
		}
	}
	return off;
}

int
pa_real_call(struct event_base *base, uint16_t port, uint32_t timeout_ms,
    double *ms)
{
	xr_channel_opts o = { 0 };
	xr_keyset ks;
	xr_channel *ch;
	xr_status st = { 0 };
	struct timespec t0, t1;
	uint8_t *resp = NULL;
	size_t len = 0;
	int err = 0, code;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (xr_keys_derive(ts_master, 32, XR_KDF_HKDF_SHA256, &ks) != XR_OK)
		return XR_STATUS_INTERNAL;
	o.host = "127.0.0.1";
	o.port = port;
	o.connect_timeout_ms = timeout_ms;
	o.client_name = "preauth-probe";
	ch = xr_channel_new_tcp(base, &o, &ks, &err);
	xr_keyset_wipe(&ks);
	if (ch == NULL)
		return XR_STATUS_INTERNAL;
	code = xr_call_sync_bytes(ch, SAY, NULL, 0, &resp, &len, timeout_ms,
	    &st);
	free(resp);
	xr_channel_free(ch);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ms != NULL)
		*ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	return code;
}

unsigned long
pa_rss_kb(pid_t pid)
{
	char path[64], line[256];
	unsigned long kb = 0;
	FILE *f;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
