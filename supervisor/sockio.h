/*
 * supervisor/sockio.h — blocking socket I/O bounded by a deadline, for the
 * small synchronous clients of this layer (the control socket client, and
 * the tests' endpoint probe). Deadlines are absolute xr_mono_ms() values.
 */
#ifndef XR_SOCKIO_H
#define XR_SOCKIO_H

#include <stddef.h>
#include <stdint.h>

/* Wait until `fd` is ready for `events` (POLLIN / POLLOUT). Returns XR_OK,
 * XR_ERR_AGAIN at the deadline, or XR_ERR_SYSTEM. Retries on EINTR. */
int xr_sock_wait(int fd, short events, uint64_t deadline);

/* Read exactly `len` bytes before the deadline. Returns XR_OK, XR_ERR_AGAIN
 * (deadline), XR_ERR_CLOSED (EOF or reset) or XR_ERR_SYSTEM. */
int xr_sock_read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline);

#endif /* XR_SOCKIO_H */
