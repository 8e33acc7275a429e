/*
 * tests/reliability/helper_preauth.h — pieces shared by the pre-auth
 * attack test (test_preauth.c) and its battery (battery_preauth.c):
 * hostile sockets that never authenticate, a probe that makes real signed
 * calls through the client library, and RSS readings.
 */
#ifndef PA_HELPER_PREAUTH_H
#define PA_HELPER_PREAUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft
 * limit. */
unsigned long pa_raise_nofile(void);

/* A non-blocking TCP connect to 127.0.0.1:`port` (SOCK_CLOEXEC); returns
 * the fd (the connect may still be in progress) or -1. */
int pa_connect_nb(uint16_t port);

/* 1 if the endpoint ended the connection on `fd` (reset or EOF), 0 if it
 * is still open; never blocks. Bytes the endpoint sent are drained and
 * added to *bytes if non-NULL. */
int pa_closed(int fd, size_t *bytes);

/* Wait up to `timeout_ms` until at least `want` of the `n` fds in `fds`
 * (entries < 0 are skipped) are closed by the endpoint (pa_closed);
 * returns how many are. */
size_t pa_wait_closed(const int *fds, size_t n, size_t want, int timeout_ms);

/* Write all of `buf` on a blocking or non-blocking fd, MSG_NOSIGNAL; stop
 * at the first error or when `timeout_ms` passes. Returns bytes sent. */
size_t pa_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * One real call: a new connection (a fresh channel of the client library
 * on `base`, keys from ts_master), HELLO, echo.v1.Echo/Say, the answer;
 * then the channel is freed. Returns the status code (XR_STATUS_OK on
 * success); *ms (may be NULL) is the time the whole call took.
 */
int pa_real_call(struct event_base *base, uint16_t port, uint32_t timeout_ms,
    double *ms);

/* VmRSS of process `pid` (0 = this one) in KiB, 0 if unknown. */
unsigned long pa_rss_kb(pid_t pid);

#endif
