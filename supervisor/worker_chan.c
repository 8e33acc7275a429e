/* supervisor/worker_chan.c — the signed supervisor <-> worker channel. */
#include "worker_chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "frame.h"
#include "keys.h"

/* (Re)allocate the buffers for datagrams of up to `max_dgram` bytes. */
static int
bufs_alloc(xr_wchan *c, size_t max_dgram)
{
	size_t cap = XR_FRAME_PREFIX_LEN + max_dgram;
	uint8_t *pb, *b;

	if ((pb = malloc(max_dgram)) == NULL)
		return XR_ERR_NOMEM;
	if ((b = malloc(cap)) == NULL) {
		free(pb);
		return XR_ERR_NOMEM;
	}
	free(c->pbuf);
	free(c->buf);
	c->pbuf = pb;
	c->buf = b;
	c->cap = cap;
	c->rx.max_body = max_dgram;
	return XR_OK;
}

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
	c->rx.nonces = NULL;
	c->sess.state = XR_SESSION_OPEN;
	memcpy(c->sess.id, sid, XR_SESSION_ID_LEN);
	if (bufs_alloc(c, XR_WCHAN_OVERHEAD) != XR_OK) {
		xr_wchan_fini(c);
		return XR_ERR_NOMEM;
	}
	return XR_OK;
}

int
xr_wchan_set_payload_max(xr_wchan *c, uint32_t n)
{
	int r;

	if (n > XR_WCHAN_PAYLOAD_CAP)
		return XR_ERR_INVALID_ARG;
	if ((r = bufs_alloc(c, (size_t)n + XR_WCHAN_OVERHEAD)) != XR_OK)
		return r;
	c->payload_max = n;
	return XR_OK;
}

int
xr_wchan_size_socket(int fd, uint32_t want, uint32_t *got)
{
	int v, sb = 0;
	socklen_t len = sizeof(sb);
	uint64_t room;

	*got = 0;
	if (want > XR_WCHAN_PAYLOAD_CAP)
		want = XR_WCHAN_PAYLOAD_CAP;
	v = (int)(want + 2 * XR_WCHAN_OVERHEAD);
	/* best effort: the kernel caps (or refuses) the size; what it took
	 * is read back below */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, &len) != 0 || sb <= 0)
		return XR_ERR_SYSTEM;
	/* Linux doubles what it is asked for (bookkeeping); half of it is
	 * what we asked, or the cap */
	room = (uint64_t)sb / 2;
	room = room > 2 * XR_WCHAN_OVERHEAD ? room - 2 * XR_WCHAN_OVERHEAD : 0;
	*got = room < want ? (uint32_t)room : want;
	return XR_OK;
}

static int
ident_char(int ch, int first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    ch == '_' || (!first && ch >= '0' && ch <= '9');
}

int
xr_wchan_method_ok(const char *m)
{
	size_t i, n;
	int first = 1, slash = 0;

	if (m == NULL || (n = strlen(m)) == 0 || n > XR_WCHAN_METHOD_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (m[i] == '.' || m[i] == '/') {
			/* a separator ends a non-empty identifier; one '/',
			 * and no '.' after it */
			if (first || (m[i] == '/' && slash) ||
			    (m[i] == '.' && slash))
				return 0;
			slash |= m[i] == '/';
			first = 1;
			continue;
		}
		if (!ident_char((unsigned char)m[i], first))
			return 0;
		first = 0;
	}
	return slash && !first;
}

void
xr_wchan_fini(xr_wchan *c)
{
	xr_codec_free(c->codec);
	c->codec = NULL;
	free(c->pbuf);
	free(c->buf);
	c->pbuf = c->buf = NULL;
	c->cap = 0;
	xr_wipe(&c->sess, sizeof(c->sess));
}

int
xr_wchan_send(xr_wchan *c, const Execrpc__V1__Command *cmd)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];
	size_t plen = execrpc__v1__command__get_packed_size(cmd), len;
	ssize_t n;
	int r;

	if (c->buf == NULL)
		return XR_ERR_INVALID_ARG;
	if (plen > c->rx.max_body)
		return XR_ERR_NO_SPACE;
	if ((r = xr_codec_env_init(&e, XR_KIND_CONTROL, nonce)) != XR_OK)
		return r;
	e.session_id.data = c->sess.id;
	e.session_id.len = XR_SESSION_ID_LEN;
	e.payload.len = execrpc__v1__command__pack(cmd, c->pbuf);
	e.payload.data = c->pbuf;
	/* the datagram must fit what the peer accepts (its rx.max_body) */
	if (xr_codec_sealed_len(&e) > c->cap)
		return XR_ERR_NO_SPACE;
	e.sequence = xr_session_next_seq(&c->sess);
	if ((r = xr_codec_seal(c->rx.auth, XR_DIR_CONTROL, &e, c->buf, c->cap,
	    &len)) != XR_OK)
		return r;
	/* SOCK_SEQPACKET keeps boundaries: send the Frame without the prefix */
	do
		n = send(c->fd, c->buf + XR_FRAME_PREFIX_LEN,
		    len - XR_FRAME_PREFIX_LEN, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return XR_ERR_AGAIN;
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			return XR_ERR_CLOSED;
		if (errno == EMSGSIZE)
			return XR_ERR_NO_SPACE;
		return XR_ERR_SYSTEM;
	}
	return (size_t)n == len - XR_FRAME_PREFIX_LEN ? XR_OK : XR_ERR_SYSTEM;
}

int
xr_wchan_recv(xr_wchan *c, Execrpc__V1__Command **out)
{
	xr_env_decoder dec = xr_codec_decoder(c->codec);
	const Execrpc__V1__Envelope *e;
	size_t max = c->rx.max_body;
	xr_env_view v;
	ssize_t n;
	int r;

	*out = NULL;
	if (c->buf == NULL)
		return XR_ERR_INVALID_ARG;
	do
		n = recv(c->fd, c->buf, max, MSG_TRUNC | MSG_DONTWAIT);
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
	if ((size_t)n > max) {
		xr_rx_count(&c->rx, XR_ERR_OVERSIZED);
		xr_wipe(c->buf, max);
		return XR_ERR_OVERSIZED;
	}
	/* 2-6. tag, decode, kind, ttl, session + sequence */
	r = xr_rx_frame(&c->rx, &c->sess, c->buf, (size_t)n, xr_now_ms(), &dec,
	    &v);
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
	xr_wipe(c->buf, (size_t)n);
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
