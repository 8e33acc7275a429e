/* tests/supervisor/ts_probe.c — blocking signed tcp_local test client. */
#include "ts_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "dispatch.h"
#include "frame.h"
#include "keys.h"
#include "replay.h"
#include "rx.h"
#include "sockio.h"

#define PROBE_TTL_MS 30000		/* accept answers this fresh */
#define PROBE_MAX_PAYLOAD (1u << 20)	/* largest answer read */

struct ts_probe {
	int fd;
	xr_auth *auth;			/* borrowed */
	xr_codec *codec;
	xr_rx rx;
	xr_session sess;
	uint64_t next_call;
};

static int
connect_host(const char *host, uint16_t port, int *fd, xr_diag *d)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	int one = 1, s, r;

	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sl = sizeof(*sin6);
	} else {
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "probe: \"%s\" is not "
		    "an address", host);
	}
	if ((s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "probe: socket: %s",
		    strerror(errno));
	do
		r = connect(s, (struct sockaddr *)&ss, sl);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = errno;
		close(s);
		return xr_diag_set(d, XR_ERR_SYSTEM, "probe: connect %s:%u: %s",
		    host, (unsigned)port, strerror(r));
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fd = s;
	return XR_OK;
}

static int
send_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return errno == EPIPE || errno == ECONNRESET ?
			    XR_ERR_CLOSED : XR_ERR_SYSTEM;
		p += n;
		len -= (size_t)n;
	}
	return XR_OK;
}

static int
send_env(ts_probe *p, const Execrpc__V1__Envelope *e)
{
	size_t cap = xr_codec_sealed_len(e), len;
	uint8_t *buf = malloc(cap);
	int r;

	if (buf == NULL)
		return XR_ERR_NOMEM;
	r = xr_codec_seal(p->auth, XR_DIR_WEB_TO_EXEC, e, buf, cap, &len);
	if (r == XR_OK)
		r = send_all(p->fd, buf, len);
	free(buf);
	return r;
}

/* Receive one frame through the client-side pipeline; the envelope stays in
 * p->codec until xr_codec_reset(). */
static int
recv_env(ts_probe *p, uint64_t deadline, const Execrpc__V1__Envelope **e)
{
	xr_env_decoder dec = xr_codec_decoder(p->codec);
	uint8_t prefix[XR_FRAME_PREFIX_LEN], *body;
	xr_env_view v;
	uint32_t len;
	int r;

	if ((r = xr_sock_read_full(p->fd, prefix, sizeof(prefix),
	    deadline)) != XR_OK)
		return r;
	len = xr_frame_get_len(prefix);
	if ((r = xr_rx_check_len(&p->rx, len)) != XR_OK)
		return r;
	if ((body = malloc(len > 0 ? len : 1)) == NULL)
		return XR_ERR_NOMEM;
	if ((r = xr_sock_read_full(p->fd, body, len, deadline)) == XR_OK)
		r = xr_rx_frame(&p->rx, &p->sess, body, len, xr_now_ms(), &dec,
		    &v);
	free(body);
	if (r == XR_OK)
		*e = xr_codec_envelope(p->codec);
	return r;
}

static int
probe_fail(int r, xr_diag *d, const char *what)
{
	return xr_diag_set(d, r, "probe: %s: %s", what, xr_err_name(r));
}

int
ts_probe_open(const char *host, uint16_t port, xr_auth *auth,
    uint32_t timeout_ms, ts_probe **out, xr_diag *d)
{
	Execrpc__V1__Envelope e;
	Execrpc__V1__Hello hello = EXECRPC__V1__HELLO__INIT;
	const Execrpc__V1__Envelope *ack;
	uint8_t nonce[XR_NONCE_LEN], pb[128];
	uint64_t deadline = xr_mono_ms() + timeout_ms;
	ts_probe *p;
	int r;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "probe: out of memory");
	p->fd = -1;
	p->auth = auth;
	p->next_call = 1;
	p->rx.auth = auth;
	p->rx.dir = XR_DIR_EXEC_TO_WEB;
	p->rx.kind_mask = XR_KIND_BIT(XR_KIND_HELLO_ACK) |
	    XR_KIND_BIT(XR_KIND_RESPONSE) | XR_KIND_BIT(XR_KIND_GOAWAY) |
	    XR_KIND_BIT(XR_KIND_PONG);
	p->rx.ttl_ms = PROBE_TTL_MS;
	p->rx.max_body = xr_frame_max_body(PROBE_MAX_PAYLOAD);
	if ((p->codec = xr_codec_new()) == NULL) {
		r = xr_diag_set(d, XR_ERR_NOMEM, "probe: out of memory");
		goto fail;
	}
	if ((r = connect_host(host, port, &p->fd, d)) != XR_OK)
		goto fail;
	if ((r = xr_codec_env_init(&e, XR_KIND_HELLO, nonce)) != XR_OK) {
		probe_fail(r, d, "hello");
		goto fail;
	}
	hello.client_name = "execrpc-supervisor";
	e.payload.len = execrpc__v1__hello__pack(&hello, pb);
	e.payload.data = pb;
	xr_session_pending(&p->sess, nonce);
	if ((r = send_env(p, &e)) != XR_OK) {
		probe_fail(r, d, "send hello");
		goto fail;
	}
	if ((r = recv_env(p, deadline, &ack)) != XR_OK) {
		probe_fail(r, d, "hello_ack");
		goto fail;
	}
	r = ack->kind == EXECRPC__V1__KIND__KIND_HELLO_ACK ? XR_OK :
	    XR_ERR_MALFORMED;
	xr_codec_reset(p->codec);
	if (r != XR_OK) {
		probe_fail(r, d, "hello_ack");
		goto fail;
	}
	*out = p;
	return XR_OK;
 fail:
	ts_probe_close(p);
	return r;
}

int
ts_probe_send(ts_probe *p, const char *method, const uint8_t *req,
    size_t req_len, uint32_t call_timeout_ms, uint64_t *call_id)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];
	int r;

	if ((r = xr_codec_env_init(&e, XR_KIND_REQUEST, nonce)) != XR_OK)
		return r;
	e.session_id.data = p->sess.id;
	e.session_id.len = XR_SESSION_ID_LEN;
	e.sequence = xr_session_next_seq(&p->sess);
	e.call_id = p->next_call++;
	e.method = (char *)(uintptr_t)method;
	e.timeout_ms = call_timeout_ms;
	e.payload.data = (uint8_t *)(uintptr_t)req;
	e.payload.len = req_len;
	if (call_id != NULL)
		*call_id = e.call_id;
	return send_env(p, &e);
}

int
ts_probe_recv(ts_probe *p, uint32_t timeout_ms, uint64_t *call_id,
    int *status, uint8_t **resp, size_t *resp_len)
{
	uint64_t deadline = xr_mono_ms() + timeout_ms;
	const Execrpc__V1__Envelope *e;
	int r;

	*resp = NULL;
	*resp_len = 0;
	for (;;) {
		if ((r = recv_env(p, deadline, &e)) != XR_OK)
			return r;
		if (e->kind == EXECRPC__V1__KIND__KIND_RESPONSE)
			break;
		xr_codec_reset(p->codec);	/* GOAWAY / PONG */
	}
	*call_id = e->call_id;
	*status = e->status != NULL ? (int)e->status->code : XR_STATUS_UNKNOWN;
	if (e->payload.len > 0) {
		if ((*resp = malloc(e->payload.len)) == NULL) {
			xr_codec_reset(p->codec);
			return XR_ERR_NOMEM;
		}
		memcpy(*resp, e->payload.data, e->payload.len);
		*resp_len = e->payload.len;
	}
	xr_codec_reset(p->codec);
	return XR_OK;
}

void
ts_probe_close(ts_probe *p)
{
	if (p == NULL)
		return;
	if (p->fd >= 0)
		close(p->fd);
	xr_codec_free(p->codec);
	xr_wipe(&p->sess, sizeof(p->sess));
	free(p);
}

int
ts_probe_stats(const char *host, uint16_t port, xr_auth *auth,
    uint32_t timeout_ms, Execrpc__V1__WorkerStatus **out, xr_diag *d)
{
	uint64_t deadline = xr_mono_ms() + timeout_ms, now, id;
	uint8_t *resp = NULL;
	size_t len = 0;
	ts_probe *p = NULL;
	int r, status = XR_STATUS_UNKNOWN;

	*out = NULL;
	if ((r = ts_probe_open(host, port, auth, timeout_ms, &p, d)) != XR_OK)
		return r;
	if ((r = ts_probe_send(p, "execrpc.v1.Endpoint/Stats", NULL, 0,
	    timeout_ms, &id)) != XR_OK) {
		probe_fail(r, d, "send stats");
		goto out;
	}
	now = xr_mono_ms();
	if ((r = ts_probe_recv(p, (uint32_t)(deadline > now ? deadline - now :
	    0), &id, &status, &resp, &len)) != XR_OK) {
		probe_fail(r, d, "stats response");
		goto out;
	}
	if (status != XR_STATUS_OK) {
		r = xr_diag_set(d, XR_ERR_RPC, "probe: stats: status %s",
		    xr_status_name(status));
		goto out;
	}
	if ((*out = execrpc__v1__worker_status__unpack(NULL, len, resp)) ==
	    NULL)
		r = xr_diag_set(d, XR_ERR_MALFORMED, "probe: stats response "
		    "does not decode");
 out:
	free(resp);
	ts_probe_close(p);
	return r;
}
