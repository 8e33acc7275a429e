/*
 * tests/supervisor/test_control_read.c — the control client's reply read
 * (xr_ctl_client_call through the frame reader of core/reader.h) against a
 * fake control socket that answers badly on purpose: a reply at the limit
 * and one byte over it, a reply one byte at a time, a stream closed inside
 * the prefix, and a body that never finishes (the read stays bounded by the
 * call's deadline).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl_client.h"
#include "frame.h"
#include "helper_sup.h"
#include "rx.h"

enum script {
	SEND_AT_LIMIT,		/* a valid Reply of exactly MAX_REPLY bytes */
	SEND_OVER_LIMIT,	/* a prefix of MAX_REPLY + 1, then silence */
	SEND_BYTEWISE,		/* a small valid Reply, one byte per send */
	CLOSE_IN_PREFIX,	/* 2 prefix bytes, then close */
	STALL_IN_BODY,		/* a prefix of 10 and 3 body bytes, then silence */
};

struct fake {
	char dir[64];
	char path[108];
	int lfd;
	enum script script;
	pthread_t th;
	int cmd_ok;		/* the fake received one whole command */
};

static int
read_full(int fd, uint8_t *p, size_t n)
{
	size_t have = 0;

	while (have < n) {
		ssize_t k = recv(fd, p + have, n - have, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		have += (size_t)k;
	}
	return 0;
}

static int
send_all(int fd, const uint8_t *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* A framed Reply whose error_message makes it exactly `total` bytes
 * (total >= 2^14 + 4, so the length varint is 3 bytes). malloc'd. */
static uint8_t *
reply_of_size(size_t total, size_t *wire_len)
{
	Execrpc__V1__Reply r = EXECRPC__V1__REPLY__INIT;
	size_t slen = total - 4;	/* key byte + 3-byte varint */
	char *msg = malloc(slen + 1);
	uint8_t *w = malloc(XR_FRAME_PREFIX_LEN + total);

	if (msg == NULL || w == NULL)
		abort();
	memset(msg, 'm', slen);
	msg[slen] = '\0';
	r.error_message = msg;
	if (execrpc__v1__reply__get_packed_size(&r) != total)
		abort();
	xr_frame_put_len(w, (uint32_t)total);
	execrpc__v1__reply__pack(&r, w + XR_FRAME_PREFIX_LEN);
	free(msg);
	*wire_len = XR_FRAME_PREFIX_LEN + total;
	return w;
}

/* Wait until the client hangs up (the fake never closes first). */
static void
wait_peer_close(int fd)
{
	uint8_t b;

	while (recv(fd, &b, 1, 0) > 0)
		;
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	uint8_t hdr[XR_FRAME_PREFIX_LEN], cmd[XR_CTL_MAX_COMMAND], *w;
	size_t wl;
	uint32_t len;
	int fd;

	if ((fd = accept(f->lfd, NULL, NULL)) < 0)
		return NULL;
	if (read_full(fd, hdr, sizeof(hdr)) != 0 ||
	    (len = xr_frame_get_len(hdr)) > sizeof(cmd) ||
	    read_full(fd, cmd, len) != 0) {
		close(fd);
		return NULL;
	}
	f->cmd_ok = 1;
	switch (f->script) {
	case SEND_AT_LIMIT:
		w = reply_of_size(XR_CTL_MAX_REPLY, &wl);
		(void)send_all(fd, w, wl);
		free(w);
		wait_peer_close(fd);
		break;
	case SEND_OVER_LIMIT:
		xr_frame_put_len(hdr, XR_CTL_MAX_REPLY + 1);
		(void)send_all(fd, hdr, sizeof(hdr));
		wait_peer_close(fd);
		break;
	case SEND_BYTEWISE: {
		Execrpc__V1__Reply r = EXECRPC__V1__REPLY__INIT;
		uint8_t buf[64];

		r.error_code = XR_ERR_INVALID_ARG;
		r.error_message = "bytewise";
		len = (uint32_t)execrpc__v1__reply__pack(&r,
		    buf + XR_FRAME_PREFIX_LEN);
		xr_frame_put_len(buf, len);
		for (size_t i = 0; i < XR_FRAME_PREFIX_LEN + len; i++) {
			(void)send_all(fd, buf + i, 1);
			usleep(1000);
		}
		wait_peer_close(fd);
		break;
	}
	case CLOSE_IN_PREFIX:
		xr_frame_put_len(hdr, 10);
		(void)send_all(fd, hdr, 2);
		break;
	case STALL_IN_BODY:
		xr_frame_put_len(hdr, 10);
		(void)send_all(fd, hdr, sizeof(hdr));
		(void)send_all(fd, (const uint8_t *)"abc", 3);
		wait_peer_close(fd);
		break;
	}
	close(fd);
	return NULL;
}

static void
fake_start(struct fake *f, enum script s)
{
	struct sockaddr_un sun;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/xr-ctlread-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, f->path, strlen(f->path));
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	assert_int_equal(listen(f->lfd, 1), 0);
	f->script = s;
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	assert_int_equal(pthread_join(f->th, NULL), 0);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	assert_int_equal(f->cmd_ok, 1);
}

/* One STATUS call with `timeout_ms`; the reply (or NULL) in *out. */
static int
status_call(struct fake *f, uint32_t timeout_ms, Execrpc__V1__Reply **out,
    xr_diag *d)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;

	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS;
	memset(d, 0, sizeof(*d));
	return xr_ctl_client_call(f->path, &c, timeout_ms, out, d);
}

/* Exactly XR_CTL_MAX_REPLY bytes are accepted and decoded. */
static void
test_control_read_reply_at_limit(void **state)
{
	Execrpc__V1__Reply *r = NULL;
	struct fake f;
	xr_diag d;

	(void)state;
	fake_start(&f, SEND_AT_LIMIT);
	assert_int_equal(status_call(&f, 10000, &r, &d), XR_OK);
	assert_non_null(r);
	assert_int_equal(strlen(r->error_message), XR_CTL_MAX_REPLY - 4);
	execrpc__v1__reply__free_unpacked(r, NULL);
	fake_stop(&f);
}

/* One byte over the limit: refused on the prefix alone, long before the
 * deadline, with nothing decoded. */
static void
test_control_read_reply_over_limit(void **state)
{
	Execrpc__V1__Reply *r = NULL;
	struct fake f;
	xr_diag d;
	uint64_t t0 = xr_mono_ms();

	(void)state;
	fake_start(&f, SEND_OVER_LIMIT);
	assert_int_equal(status_call(&f, 10000, &r, &d), XR_ERR_OVERSIZED);
	assert_true(xr_mono_ms() - t0 < 5000);
	assert_null(r);
	assert_int_equal(d.code, XR_ERR_OVERSIZED);
	/* XR_CTL_MAX_REPLY + 1 = 1048576 + 65536 + 1 */
	assert_string_equal(d.reason, "reply of 1114113 bytes over the limit");
	fake_stop(&f);
}

/* A reply trickling in one byte per send is put together whole. */
static void
test_control_read_reply_bytewise(void **state)
{
	Execrpc__V1__Reply *r = NULL;
	struct fake f;
	xr_diag d;

	(void)state;
	fake_start(&f, SEND_BYTEWISE);
	assert_int_equal(status_call(&f, 10000, &r, &d), XR_OK);
	assert_non_null(r);
	assert_int_equal(r->error_code, XR_ERR_INVALID_ARG);
	assert_string_equal(r->error_message, "bytewise");
	execrpc__v1__reply__free_unpacked(r, NULL);
	fake_stop(&f);
}

/* Closed inside the prefix: no reply, XR_ERR_CLOSED. */
static void
test_control_read_closed_in_prefix(void **state)
{
	Execrpc__V1__Reply *r = NULL;
	struct fake f;
	xr_diag d;

	(void)state;
	fake_start(&f, CLOSE_IN_PREFIX);
	assert_int_equal(status_call(&f, 10000, &r, &d), XR_ERR_CLOSED);
	assert_null(r);
	assert_string_equal(d.reason, "no reply: closed");
	fake_stop(&f);
}

/* A body that never completes: the read ends at the call's deadline. */
static void
test_control_read_stall_bounded_by_deadline(void **state)
{
	Execrpc__V1__Reply *r = NULL;
	struct fake f;
	xr_diag d;
	uint64_t t0 = xr_mono_ms(), dt;

	(void)state;
	fake_start(&f, STALL_IN_BODY);
	assert_int_equal(status_call(&f, 300, &r, &d), XR_ERR_AGAIN);
	dt = xr_mono_ms() - t0;
	assert_null(r);
	assert_string_equal(d.reason, "truncated reply: timed out");
	assert_true(dt >= 290);
	assert_true(dt < 5000);
	fake_stop(&f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_read_reply_at_limit),
		cmocka_unit_test(test_control_read_reply_over_limit),
		cmocka_unit_test(test_control_read_reply_bytewise),
		cmocka_unit_test(test_control_read_closed_in_prefix),
		cmocka_unit_test(test_control_read_stall_bounded_by_deadline),
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
