/* tests/server/helper_srv.c — server thread + raw signed peer. */
#include "helper_srv.h"

#include <sys/ioctl.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "echo.h"
#include "echo/v1/echo.xr.h"
#include "frame.h"

const uint8_t ts_master[32] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
	0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};

/* ---- the echo handler the tests use: counts entries, then server/echo.c */

static void
say(xr_call *call, const Echo__V1__SayRequest *req, void *arg)
{
	ts_server *t = arg;

	t->echo_handler_calls++;
	if (t->peek_at != 0 && t->echo_handler_calls == t->peek_at) {
		struct pollfd pfd = { .fd = t->peek_fd, .events = POLLIN };
		int n = -1;

		/* loopback bytes can sit in the socket's backlog while the
		 * peer's thread holds it: wait for them (what this thread has
		 * not sent yet cannot arrive while it waits) */
		(void)poll(&pfd, 1, 500);
		t->peeked = ioctl(t->peek_fd, FIONREAD, &n) == 0 ? n : -1;
	}
	xr_echo_say(call, req, NULL);
}

/* ---- server thread */

static void
drained_cb(void *arg)
{
	ts_server *t = arg;

	t->drained = 1;
}

static void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	ts_server *t = arg;
	char c;

	(void)what;
	if (read(fd, &c, 1) != 1)
		return;
	if (c == 'd')
		xr_server_drain(t->srv, drained_cb, t);
	else if (c == 'q')
		event_base_loopbreak(t->base);
}

static void *
server_main(void *arg)
{
	ts_server *t = arg;

	event_base_dispatch(t->base);
	xr_server_stats_get(t->srv, &t->final);
	return NULL;
}

void
ts_server_start(ts_server *t, const xr_server_opts *o)
{
	static const echo_v1_Echo_handlers h = { .Say = say };
	xr_server_opts def = { 0 };
	xr_keyset ks;
	xr_diag d = { 0 };

	memset(t, 0, sizeof(*t));
	assert_int_equal(xr_keys_derive(ts_master, sizeof(ts_master),
	    XR_KDF_HKDF_SHA256, &ks), XR_OK);
	assert_non_null(t->base = event_base_new());
	assert_non_null(t->reg = xr_registry_new(t->base));
	assert_int_equal(echo_v1_Echo_register(t->reg, &h, t, &d), XR_OK);
	t->srv = xr_server_new(t->base, o != NULL ? o : &def, &ks, t->reg, &d);
	xr_keyset_wipe(&ks);
	assert_non_null(t->srv);
	assert_int_equal(xr_server_listen(t->srv, &d), XR_OK);
	t->port = xr_server_port(t->srv);
	assert_int_not_equal(t->port, 0);
	assert_int_equal(pipe(t->ctl), 0);
	t->ctl_ev = event_new(t->base, t->ctl[0], EV_READ | EV_PERSIST, ctl_cb, t);
	event_add(t->ctl_ev, NULL);
	assert_int_equal(pthread_create(&t->thr, NULL, server_main, t), 0);
}

void
ts_server_drain(ts_server *t)
{
	assert_int_equal(write(t->ctl[1], "d", 1), 1);
}

void
ts_server_stop(ts_server *t)
{
	assert_int_equal(write(t->ctl[1], "q", 1), 1);
	pthread_join(t->thr, NULL);
	event_free(t->ctl_ev);
	xr_server_free(t->srv);
	xr_registry_free(t->reg);
	event_base_free(t->base);
	close(t->ctl[0]);
	close(t->ctl[1]);
}

/* ---- raw peer */

void
ts_peer_open(ts_peer *p, uint16_t port, const uint8_t *master)
{
	xr_keyset ks;

	assert_int_equal(xr_keys_derive(master, 32, XR_KDF_HKDF_SHA256, &ks),
	    XR_OK);
	ts_peer_open_keys(p, port, &ks);
	xr_keyset_wipe(&ks);
}

void
ts_peer_open_keys(ts_peer *p, uint16_t port, const xr_keyset *ks)
{
	struct sockaddr_in sin = { 0 };
	int one = 1;

	memset(p, 0, sizeof(*p));
	assert_non_null(p->auth = xr_auth_new(ks));
	assert_non_null(p->codec = xr_codec_new());
	p->rx.auth = p->auth;
	p->rx.dir = XR_DIR_EXEC_TO_WEB;
	p->rx.kind_mask = XR_KIND_BIT(XR_KIND_HELLO_ACK) |
	    XR_KIND_BIT(XR_KIND_RESPONSE) | XR_KIND_BIT(XR_KIND_GOAWAY) |
	    XR_KIND_BIT(XR_KIND_PONG);
	p->rx.ttl_ms = 30000;
	p->rx.max_body = xr_frame_max_body(1 << 20);
	p->next_call = 1;
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->fd >= 0);
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(p->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
}

void
ts_peer_close(ts_peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	xr_auth_free(p->auth);
	xr_codec_free(p->codec);
}

uint8_t *
ts_seal(ts_peer *p, uint32_t kind, const char *method, const uint8_t *payload,
    size_t plen, uint64_t call_id, uint32_t timeout_ms, uint64_t ts_ms,
    size_t *len)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN], *buf;
	size_t cap;

	assert_int_equal(xr_codec_env_init(&e, kind, nonce), XR_OK);
	if (ts_ms != 0)
		e.ts_ms = ts_ms;
	if (kind != XR_KIND_HELLO) {
		e.session_id.data = p->sess.id;
		e.session_id.len = XR_SESSION_ID_LEN;
		e.sequence = xr_session_next_seq(&p->sess);
	} else {
		xr_session_pending(&p->sess, nonce);
	}
	e.method = (char *)(uintptr_t)(method != NULL ? method : "");
	e.call_id = call_id;
	e.timeout_ms = timeout_ms;
	e.payload.data = (uint8_t *)(uintptr_t)payload;
	e.payload.len = plen;
	cap = xr_codec_sealed_len(&e);
	assert_non_null(buf = malloc(cap));
	assert_int_equal(xr_codec_seal(p->auth, XR_DIR_WEB_TO_EXEC, &e, buf,
	    cap, len), XR_OK);
	return buf;
}

int
ts_send_raw(ts_peer *p, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = send(p->fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_full(int fd, uint8_t *buf, size_t len, int timeout_ms, int *closed)
{
	size_t have = 0;

	*closed = 0;
	while (have < len) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = recv(fd, buf + have, len - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*closed = 1;
			return -1;
		}
		have += (size_t)n;
	}
	return 0;
}

const Execrpc__V1__Envelope *
ts_recv(ts_peer *p, int timeout_ms, int *closed)
{
	static uint8_t body[(1 << 20) + 8192];
	uint8_t prefix[4];
	uint32_t len;
	xr_env_decoder dec = xr_codec_decoder(p->codec);
	xr_env_view v;

	if (read_full(p->fd, prefix, 4, timeout_ms, closed) != 0)
		return NULL;
	len = xr_frame_get_len(prefix);
	assert_true(len <= sizeof(body));
	if (read_full(p->fd, body, len, timeout_ms, closed) != 0)
		return NULL;
	assert_int_equal(xr_rx_frame(&p->rx, &p->sess, body, len, xr_now_ms(),
	    &dec, &v), XR_OK);
	return xr_codec_envelope(p->codec);
}

void
ts_handshake(ts_peer *p)
{
	const Execrpc__V1__Envelope *e;
	size_t len;
	uint8_t *f = ts_seal(p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0, 0, &len);
	int closed;

	assert_int_equal(ts_send_raw(p, f, len), 0);
	free(f);
	e = ts_recv(p, 2000, &closed);
	assert_non_null(e);
	assert_int_equal(e->kind, XR_KIND_HELLO_ACK);
	assert_int_equal(p->sess.state, XR_SESSION_OPEN);
}

uint64_t
ts_send_say(ts_peer *p, const char *text, uint32_t delay_ms,
    uint32_t timeout_ms)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t pb[4096], *f;
	size_t plen, len;
	uint64_t id = p->next_call++;

	req.text = (char *)(uintptr_t)text;
	req.delay_ms = delay_ms;
	assert_true(echo__v1__say_request__get_packed_size(&req) <= sizeof(pb));
	plen = echo__v1__say_request__pack(&req, pb);
	f = ts_seal(p, XR_KIND_REQUEST, "echo.v1.Echo/Say", pb, plen, id,
	    timeout_ms, 0, &len);
	assert_int_equal(ts_send_raw(p, f, len), 0);
	free(f);
	return id;
}

int
ts_wait_closed(ts_peer *p, int timeout_ms, int *frames)
{
	uint8_t buf[4096];
	int n = 0;

	for (;;) {
		struct pollfd pfd = { p->fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		r = recv(p->fd, buf, sizeof(buf), 0);
		if (r <= 0) {
			if (frames != NULL)
				*frames = n;
			return 1;
		}
		n++;
	}
	if (frames != NULL)
		*frames = n;
	return 0;
}

void
ts_say_text(const Execrpc__V1__Envelope *e, char *buf, size_t cap)
{
	Echo__V1__SayResponse *r = echo__v1__say_response__unpack(NULL,
	    e->payload.len, e->payload.data);

	assert_non_null(r);
	snprintf(buf, cap, "%s", r->text);
	echo__v1__say_response__free_unpacked(r, NULL);
}
