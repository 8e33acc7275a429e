/* supervisor/sockio.c — deadline-bounded blocking socket reads. */
#include "sockio.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "err.h"
#include "rx.h"		/* xr_mono_ms */

int
xr_sock_wait(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = xr_mono_ms();
		struct pollfd p = { fd, events, 0 };
		int r;

		if (now >= deadline)
			return XR_ERR_AGAIN;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return XR_ERR_SYSTEM;
		if (r == 0)
			return XR_ERR_AGAIN;
		return XR_OK;
	}
}

int
xr_sock_read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t have = 0;
	int r;

	while (have < len) {
		ssize_t n;

		if ((r = xr_sock_wait(fd, POLLIN, deadline)) != XR_OK)
			return r;
		n = recv(fd, buf + have, len - have, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return XR_ERR_CLOSED;
		if (n < 0)
			return XR_ERR_SYSTEM;
		have += (size_t)n;
	}
	return XR_OK;
}
