/* supervisor/worker_chan.c — the signed supervisor <-> worker channel. */
#include "worker_chan.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "frame.h"
#include "keys.h"

int
xr_wchan_init(xr_wchan *c, int fd, xr_auth *auth,
    const uint8_t sid[XR_SESSION_ID_LEN], uint32_t ttl_seconds)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	if ((c->codec = xr_codec_new()) == NULL)
		return XR_ERR_NOMEM;
	c->rx.auth = auth;
	c->rx.dir = XR_DIR_CONTROL;
	c->rx.kind_mask = XR_KIND_BIT(XR_KIND_CONTROL);
	c->rx.open_kind_mask = 0;	/* no session-opening kind: the session
					 * comes from the bundle */
	c->rx.ttl_ms = (uint64_t)ttl_seconds * 1000;
	c->rx.max_body = XR_WCHAN_MAX_DGRAM;
	c->rx.nonces = NULL;
	c->sess.state = XR_SESSION_OPEN;
	memcpy(c->sess.id, sid, XR_SESSION_ID_LEN);
	return XR_OK;
}

void
xr_wchan_fini(xr_wchan *c)
{
	xr_codec_free(c->codec);
	c->codec = NULL;
	xr_wipe(&c->sess, sizeof(c->sess));
}

int
xr_wchan_send(xr_wchan *c, const Execrpc__V1__Command *cmd)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN], payload[1024];
	uint8_t buf[XR_FRAME_PREFIX_LEN + XR_WCHAN_MAX_DGRAM];
	size_t plen = execrpc__v1__command__get_packed_size(cmd), len;
	ssize_t n;
	int r;

	if (plen > sizeof(payload))
		return XR_ERR_NO_SPACE;
	if ((r = xr_codec_env_init(&e, XR_KIND_CONTROL, nonce)) != XR_OK)
		return r;
	e.session_id.data = c->sess.id;
	e.session_id.len = XR_SESSION_ID_LEN;
	e.sequence = xr_session_next_seq(&c->sess);
	e.payload.len = execrpc__v1__command__pack(cmd, payload);
	e.payload.data = payload;
	if ((r = xr_codec_seal(c->rx.auth, XR_DIR_CONTROL, &e, buf, sizeof(buf),
	    &len)) != XR_OK)
		return r;
	/* SOCK_SEQPACKET keeps boundaries: send the Frame without the prefix */
	do
		n = send(c->fd, buf + XR_FRAME_PREFIX_LEN,
		    len - XR_FRAME_PREFIX_LEN, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return XR_ERR_AGAIN;
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			return XR_ERR_CLOSED;
		return XR_ERR_SYSTEM;
	}
	return (size_t)n == len - XR_FRAME_PREFIX_LEN ? XR_OK : XR_ERR_SYSTEM;
}

int
xr_wchan_recv(xr_wchan *c, Execrpc__V1__Command **out)
{
	uint8_t buf[XR_WCHAN_MAX_DGRAM];
	xr_env_decoder dec = xr_codec_decoder(c->codec);
	const Execrpc__V1__Envelope *e;
	xr_env_view v;
	ssize_t n;
	int r;

	*out = NULL;
	do
		n = recv(c->fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return XR_ERR_AGAIN;
		if (errno == ECONNRESET)
			return XR_ERR_CLOSED;
		return XR_ERR_SYSTEM;
	}
	if (n == 0)
		return XR_ERR_CLOSED;
	/* 1. size: MSG_TRUNC reports the real datagram length */
	if ((size_t)n > sizeof(buf)) {
		xr_rx_count(&c->rx, XR_ERR_OVERSIZED);
		return XR_ERR_OVERSIZED;
	}
	/* 2-6. tag, decode, kind, ttl, session + sequence */
	r = xr_rx_frame(&c->rx, &c->sess, buf, (size_t)n, xr_now_ms(), &dec, &v);
	if (r == XR_OK) {
		e = xr_codec_envelope(c->codec);
		*out = execrpc__v1__command__unpack(NULL, e->payload.len,
		    e->payload.data);
		if (*out == NULL) {
			xr_rx_count(&c->rx, XR_ERR_MALFORMED);
			r = XR_ERR_MALFORMED;
		}
		xr_codec_reset(c->codec);
	}
	xr_wipe(buf, (size_t)n);
	return r;
}

int
xr_wchan_dispatch(xr_wchan *ch, const xr_wchan_cmd *tab, size_t n,
    xr_wchan_side side, int state, void *arg, const Execrpc__V1__Command *c)
{
	for (size_t i = 0; i < n && i < XR_WCHAN_MAX_CMDS; i++) {
		const xr_wchan_cmd *row = &tab[i];

		if (row->type != (int)c->type)
			continue;
		if (row->to != side || state < 0 || state >= 32 ||
		    (row->states & XR_WCHAN_STATE(state)) == 0 ||
		    ((row->flags & XR_WCHAN_ONCE) != 0 &&
		    (ch->once_done & (1u << i)) != 0))
			return XR_ERR_KIND_NOT_ALLOWED;
		if ((row->flags & XR_WCHAN_ONCE) != 0)
			ch->once_done |= 1u << i;
		row->fn(arg, c);
		return XR_OK;
	}
	return XR_ERR_KIND_NOT_ALLOWED;
}
