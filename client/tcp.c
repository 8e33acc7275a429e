/*
 * client/tcp.c — the tcp_local transport: one loopback TCP connection per
 * channel on the caller's base, the HELLO handshake of docs/protocol.md, the
 * receive pipeline of core/rx.h, signed writes, BATCH frames both ways.
 *
 * Handshake refused: an endpoint closes, without a word, a connection whose
 * HELLO it cannot verify (docs/protocol.md). A FIN after our HELLO and
 * before HELLO_ACK is that refusal: the channel closes with
 * XR_ERR_BAD_SIGNATURE / UNAUTHENTICATED and the hint that the secret or
 * the kdf differ. A reset is not: an endpoint resets every other
 * connection it closes before HELLO_ACK (max_connections, its handshake
 * timeout, stopping).
 *
 * Events (no bufferevent): a persistent EV_READ added once the connect is
 * done and never toggled; a one-shot EV_WRITE for the non-blocking connect
 * and afterwards only for a write the socket did not take whole; a flush
 * event without fd, made active (event_active) when the first envelope of a
 * loop turn is queued, which runs after the turn's other callbacks.
 *
 * Read path: one readv per readiness into space reserved in the input
 * evbuffer (as much as the frame at the front still needs, at least 16 KiB;
 * no FIONREAD, no second read to meet EAGAIN). The frame reader of
 * core/reader.h checks each 4-byte prefix (xr_rx_check_len) before the body
 * is waited for; a complete frame is made contiguous in the buffer and run
 * through xr_rx_frame(); a BATCH's envelopes go through xr_rx_inner() one by
 * one, each handled once it passes. Any rejected frame or envelope closes
 * the connection, and closing fails every pending call with UNAVAILABLE at
 * once. A response payload is a view into the input buffer, valid during
 * the completion callback.
 *
 * Write path: an envelope (REQUEST, CANCEL) is encoded unsigned into the
 * pending area and numbered when it is queued; at the end of the loop turn
 * (or at once for a blocking call, xr_tcp_flush) the pending envelopes are
 * signed into the output buffer, each alone or, when the endpoint
 * advertised HelloAck.max_batch > 1, grouped into BATCH frames (at most
 * max_batch envelopes and XR_BATCH_MAX_PAYLOAD bytes each, a sequence
 * number reserved for each BATCH before its envelopes were numbered), and
 * everything goes out in one write(2). A group that is full before the end
 * of the turn is signed and written at once (tx_write_early), so the
 * endpoint starts on it while the rest of the turn is queued. HELLO is
 * signed and written at once.
 *
 * The application must ignore SIGPIPE (the socket is written with write(2)).
 */
#include "channel_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <sys/uio.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdarg.h>

#include "batch.h"
#include "frame.h"
#include "keys.h"
#include "log.h"
#include "nonce.h"
#include "printable.h"

/* BATCH too: the client advertises Hello.max_batch = XR_BATCH_MAX. */
#define TCP_RX_KINDS (XR_KIND_BIT(XR_KIND_HELLO_ACK) | \
    XR_KIND_BIT(XR_KIND_RESPONSE) | XR_KIND_BIT(XR_KIND_GOAWAY) | \
    XR_KIND_BIT(XR_KIND_PONG) | XR_KIND_BIT(XR_KIND_BATCH))

/* ---- addresses ----------------------------------------------------------- */

/* Same rule as the server's bind_host: 127.0.0.0/8, ::1, "localhost"
 * (taken as 127.0.0.1). Nothing is resolved. Fills ch->addr and ch->peer;
 * a refusal says which host and what is accepted. */
static int
tcp_resolve(xr_channel *ch, const char *host, uint16_t port, xr_diag *d)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ch->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ch->addr;
	struct in_addr a4;
	struct in6_addr a6;
	char shown[72];

	memset(&ch->addr, 0, sizeof(ch->addr));
	if (host == NULL || host[0] == '\0')
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "no host: set the "
		    "channel's host to the endpoint's address (127.0.0.1, ::1 "
		    "or localhost)");
	if (port == 0)
		return xr_diag_set(d, XR_ERR_INVALID_ARG, "port 0: set the "
		    "channel's port to the port the endpoint listens on");
	xr_printable(host, strlen(host), shown, sizeof(shown));
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4) == 1) {
		if ((ntohl(a4.s_addr) >> 24) != 127)
			goto not_loopback;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a4;
		ch->addrlen = sizeof(*sin);
		snprintf(ch->peer, sizeof(ch->peer), "%s:%u", host,
		    (unsigned)port);
		return XR_OK;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6))
			goto not_loopback;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a6;
		ch->addrlen = sizeof(*sin6);
		snprintf(ch->peer, sizeof(ch->peer), "[%s]:%u", host,
		    (unsigned)port);
		return XR_OK;
	}
	return xr_diag_set(d, XR_ERR_INVALID_ARG, "host \"%s\" is not an IP "
	    "address: tcp_local resolves no names; use 127.0.0.1, ::1 or "
	    "localhost", shown);
 not_loopback:
	return xr_diag_set(d, XR_ERR_INVALID_ARG, "host \"%s\" is not a "
	    "loopback address: tcp_local connects only to 127.0.0.0/8, ::1 or "
	    "localhost (run the client on the endpoint's machine)", shown);
}

/* ---- writing frames ------------------------------------------------------ */

/* What a client envelope adds around its payload, at most: the fixed fields
 * (nonce, session, trace, method <= 128, timeout, call id, ...) are far
 * below it; an envelope that would not fit is refused, never truncated. */
#define TX_ENV_ROOM		1024
/* Read this much at a time at least (or what the frame still needs). */
#define TCP_READ_MIN		16384

/* Grow a byte buffer to hold `need` bytes; XR_OK or XR_ERR_NOMEM. */
static int
buf_reserve(uint8_t **p, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	uint8_t *n;

	if (need <= *cap)
		return XR_OK;
	while (ncap < need)
		ncap *= 2;
	if ((n = realloc(*p, ncap)) == NULL)
		return XR_ERR_NOMEM;
	*p = n;
	*cap = ncap;
	return XR_OK;
}

/* Fill the common fields of ch->tx for a new envelope of `kind` (its
 * sequence is set when it is queued). */
static int
tx_prepare(xr_channel *ch, uint32_t kind, int with_trace)
{
	execrpc_v1_Envelope *e = &ch->tx;
	uint8_t rnd[XR_NONCE_LEN + XR_NONCE_LEN];
	size_t need = with_trace ? sizeof(rnd) : XR_NONCE_LEN;

	if (xr_nonce_fill(rnd, need) != XR_OK)
		return XR_ERR_SYSTEM;
	e->version = XR_PROTOCOL_VERSION;
	e->kind = (execrpc_v1_Kind)kind;
	memcpy(e->nonce.bytes, rnd, XR_NONCE_LEN);
	e->nonce.size = XR_NONCE_LEN;
	e->ts_ms = xr_now_ms();
	if (ch->sess.state == XR_SESSION_OPEN) {
		memcpy(e->session_id.bytes, ch->sess.id, XR_SESSION_ID_LEN);
		e->session_id.size = XR_SESSION_ID_LEN;
	} else
		e->session_id.size = 0;
	e->sequence = 0;
	e->ack_nonce.size = 0;
	if (with_trace) {
		memcpy(e->trace_id.bytes, rnd + XR_NONCE_LEN, XR_NONCE_LEN);
		e->trace_id.size = XR_NONCE_LEN;
	} else
		e->trace_id.size = 0;
	e->headers_count = 0;
	e->call_id = 0;
	e->method[0] = '\0';
	e->timeout_ms = 0;
	e->has_status = false;
	return XR_OK;
}

/* Room for one more pending record. */
static int
pend_room(xr_channel *ch)
{
	size_t ncap = ch->caprec ? ch->caprec * 2 : 64;
	struct xr_pend *n;

	if (ch->nrec < ch->caprec)
		return XR_OK;
	if ((n = realloc(ch->prec, ncap * sizeof(*n))) == NULL)
		return XR_ERR_NOMEM;
	ch->prec = n;
	ch->caprec = ncap;
	return XR_OK;
}

/* Encode ch->tx + payload numbered `seq` at the end of the pending area. */
static int
tx_encode_pending(xr_channel *ch, uint64_t seq, const uint8_t *payload,
    size_t plen, size_t *env_len)
{
	ch->tx.sequence = seq;
	return xr_nb_encode(&ch->tx, payload, plen, ch->pbuf + ch->plen,
	    ch->pcap - ch->plen, env_len);
}

static void
tx_arm_flush(xr_channel *ch)
{
	if (!ch->flush_on) {
		ch->flush_on = 1;
		event_active(&ch->flush_ev, EV_WRITE, 0);
	}
}

static int tx_seal_first(xr_channel *ch, size_t n);

/* One write(2) of what is signed (retried on EINTR); the written bytes
 * leave obuf. Returns what write() returned, 0 when there was nothing. */
static ssize_t
tx_write_once(xr_channel *ch)
{
	ssize_t n;

	if (ch->olen == ch->ooff)
		return 0;
	do
		n = write(ch->fd, ch->obuf + ch->ooff, ch->olen - ch->ooff);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		ch->ooff += (size_t)n;
	if (ch->ooff == ch->olen)
		ch->ooff = ch->olen = 0;
	return n;
}

/*
 * Write what is signed now, once, when a full BATCH is ready before the end
 * of the turn: a turn that starts a whole window of calls would otherwise
 * hold every request until the last was queued, and the two sides would
 * take turns instead of working at the same time. What the socket does not
 * take, and any error, is for the turn's flush (tx_write_out()).
 */
static void
tx_write_early(xr_channel *ch)
{
	if (ch->fd != -1 && !ch->wr_on)
		(void)tx_write_once(ch);
}

/*
 * Queue ch->tx + payload (a session is open) for the end of the loop turn,
 * encoded unsigned into the pending area and numbered. With a peer that
 * takes batches, it joins the open group when the group has room (count and
 * XR_BATCH_MAX_PAYLOAD), else opens a group: a number is reserved for the
 * group's BATCH before the envelope is numbered (core/batch.h).
 */
static int
tx_queue(xr_channel *ch, const uint8_t *payload, size_t plen)
{
	xr_session *ss = &ch->sess;
	struct xr_pend *rec;
	size_t len, item;
	int r;

	if (ch->fd == -1)
		return XR_ERR_CLOSED;
	if (buf_reserve(&ch->pbuf, &ch->pcap, ch->plen + plen + TX_ENV_ROOM) !=
	    XR_OK || pend_room(ch) != XR_OK)
		return XR_ERR_NOMEM;
	rec = &ch->prec[ch->nrec];
	rec->off = ch->plen;
	if (ch->peer_batch > 1 && ch->grp_count > 0 &&
	    ch->grp_count < ch->peer_batch) {
		/* join the open group if it still fits */
		if ((r = tx_encode_pending(ch, ss->send_seq + 1, payload, plen,
		    &len)) != XR_OK)
			return r;
		item = xr_batch_item_len(len);
		if (ch->grp_bytes + item <= XR_BATCH_MAX_PAYLOAD) {
			(void)xr_session_next_seq(ss);
			ch->grp_count++;
			ch->grp_bytes += item;
			rec->starts = 0;
			rec->batch_seq = 0;
			goto queued;
		}
	}
	rec->starts = 1;
	rec->batch_seq = ch->peer_batch > 1 ? xr_session_next_seq(ss) : 0;
	if ((r = tx_encode_pending(ch, xr_session_next_seq(ss), payload, plen,
	    &len)) != XR_OK)
		return r;
	item = xr_batch_item_len(len);
	if (ch->peer_batch > 1 && item <= XR_BATCH_MAX_PAYLOAD) {
		ch->grp_count = 1;
		ch->grp_bytes = item;
	} else
		ch->grp_count = 0;	/* leaves alone; the next opens a group */
 queued:
	rec->len = len;
	ch->plen += len;
	ch->nrec++;
	tx_arm_flush(ch);
	if (rec->starts && ch->nrec > 1 && ch->peer_batch > 1) {
		/* the groups before this one are full: they leave now */
		if ((r = tx_seal_first(ch, ch->nrec - 1)) != XR_OK)
			return r;
		tx_write_early(ch);
	}
	return XR_OK;
}

/* Append one signed frame for the encoded envelope at `env` to obuf. */
static int
tx_sign_one(xr_channel *ch, const uint8_t *env, size_t env_len)
{
	size_t total = xr_frame_wire_len(env_len);
	int r;

	if ((r = buf_reserve(&ch->obuf, &ch->ocap, ch->olen + total)) != XR_OK)
		return r;
	if ((r = xr_nb_frame(ch->auth, XR_DIR_WEB_TO_EXEC, env, env_len,
	    ch->obuf + ch->olen)) != XR_OK)
		return r;
	ch->olen += total;
	return XR_OK;
}

/* Encode ch->tx + payload and append it, signed, to obuf. */
static int
tx_seal_out(xr_channel *ch, const uint8_t *payload, size_t plen)
{
	size_t env_len, total;
	int r;

	if ((r = xr_nb_env_size(&ch->tx, payload, plen, &env_len)) != XR_OK)
		return r;
	total = xr_frame_wire_len(env_len);
	if ((r = buf_reserve(&ch->obuf, &ch->ocap, ch->olen + total)) != XR_OK)
		return r;
	if ((r = xr_nb_seal(ch->auth, XR_DIR_WEB_TO_EXEC, &ch->tx, payload,
	    plen, env_len, ch->obuf + ch->olen)) != XR_OK)
		return r;
	ch->olen += total;
	return XR_OK;
}

/* Append one BATCH frame carrying records [first, first + n) to obuf. */
static int
tx_sign_batch(xr_channel *ch, size_t first, size_t n)
{
	const struct xr_pend *rec = &ch->prec[first];
	size_t bl = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		bl += xr_batch_item_header(ch->batch_buf + bl, rec[i].len);
		memcpy(ch->batch_buf + bl, ch->pbuf + rec[i].off, rec[i].len);
		bl += rec[i].len;
	}
	if ((r = tx_prepare(ch, XR_KIND_BATCH, 0)) != XR_OK)
		return r;
	ch->tx.sequence = rec[0].batch_seq;
	return tx_seal_out(ch, ch->batch_buf, bl);
}

/* Sign the first `n` pending envelopes (whole groups) into obuf, group by
 * group, and move the rest to the front of the pending area. Uses ch->tx. */
static int
tx_seal_first(xr_channel *ch, size_t n)
{
	size_t i = 0, j, off;
	int r = XR_OK;

	while (r == XR_OK && i < n) {
		for (j = i + 1; j < n && !ch->prec[j].starts; j++)
			;
		if (j - i == 1)
			r = tx_sign_one(ch, ch->pbuf + ch->prec[i].off,
			    ch->prec[i].len);
		else
			r = tx_sign_batch(ch, i, j - i);
		i = j;
	}
	if (n == ch->nrec) {
		ch->plen = 0;
		ch->nrec = 0;
		return r;
	}
	off = ch->prec[n].off;
	memmove(ch->pbuf, ch->pbuf + off, ch->plen - off);
	memmove(ch->prec, ch->prec + n, (ch->nrec - n) * sizeof(*ch->prec));
	ch->nrec -= n;
	ch->plen -= off;
	for (i = 0; i < ch->nrec; i++)
		ch->prec[i].off -= off;
	return r;
}

/* Sign every pending envelope into obuf and empty the pending area. */
static int
tx_seal_pending(xr_channel *ch)
{
	int r = tx_seal_first(ch, ch->nrec);

	ch->grp_count = 0;
	ch->grp_bytes = 0;
	return r;
}

static void tcp_lost(xr_channel *ch, int eof, int err);

/*
 * One write of everything signed, unless a write already waits for
 * EV_WRITE. A partial write or EAGAIN keeps the rest and adds the one-shot
 * EV_WRITE; an error closes the channel (callbacks run).
 */
static void
tx_write_out(xr_channel *ch)
{
	ssize_t n;

	if (ch->fd == -1 || ch->wr_on)
		return;
	n = tx_write_once(ch);
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		tcp_lost(ch, 0, errno);
		return;
	}
	if (ch->ooff == ch->olen)
		return;
	if (ch->ooff > ch->ocap / 2) {
		memmove(ch->obuf, ch->obuf + ch->ooff, ch->olen - ch->ooff);
		ch->olen -= ch->ooff;
		ch->ooff = 0;
	}
	if (event_add(&ch->wr_ev, NULL) == 0)
		ch->wr_on = 1;
	else
		tcp_lost(ch, 0, errno != 0 ? errno : EIO);
}

void
xr_tcp_flush(xr_channel *ch)
{
	int r;

	xr_channel_enter(ch);
	if (ch->flush_on) {
		event_del(&ch->flush_ev);
		ch->flush_on = 0;
	}
	if (ch->nrec > 0 && (r = tx_seal_pending(ch)) != XR_OK)
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_INTERNAL,
		    "cannot sign the frames for %s (%s)", ch->peer,
		    xr_err_name(r));
	tx_write_out(ch);
	xr_channel_leave(ch);
}

static void
tcp_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_channel *ch = arg;

	(void)fd;
	(void)what;
	ch->flush_on = 0;
	xr_tcp_flush(ch);
}

/* HELLO: no session yet, so it is signed and written at once. */
static int
tx_hello(xr_channel *ch)
{
	execrpc_v1_Hello hello;
	uint8_t buf[execrpc_v1_Hello_size];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	int r;

	memset(&hello, 0, sizeof(hello));
	memcpy(hello.client_name, ch->client_name, sizeof(hello.client_name));
	hello.max_batch = XR_BATCH_MAX;
	if (!pb_encode(&os, execrpc_v1_Hello_fields, &hello))
		return XR_ERR_INTERNAL;
	ch->sess.state = XR_SESSION_NONE;
	if ((r = tx_prepare(ch, XR_KIND_HELLO, 0)) != XR_OK)
		return r;
	xr_session_pending(&ch->sess, ch->tx.nonce.bytes);
	if ((r = tx_seal_out(ch, buf, os.bytes_written)) != XR_OK)
		return r;
	tx_write_out(ch);
	return XR_OK;
}

/* A call's REQUEST. `fresh_ms`: the timeout its deadline was armed with
 * moments ago, in this same call (no clock read); 0: the time remaining is
 * read off the clock (a request queued during the handshake). */
static int
tx_request(xr_channel *ch, xr_client_call *c, const uint8_t *req,
    size_t req_len, uint32_t fresh_ms)
{
	uint64_t now, rem;
	int r;

	if ((r = tx_prepare(ch, XR_KIND_REQUEST, 1)) != XR_OK)
		return r;
	ch->tx.call_id = c->id;
	memcpy(ch->tx.method, c->method, sizeof(ch->tx.method));
	if (c->deadline_us != 0 && fresh_ms != 0)
		ch->tx.timeout_ms = fresh_ms;
	else if (c->deadline_us != 0) {
		/* the deadline as time remaining, rounded up so the
		 * peer never gives up before we do */
		now = xr_mono_us();
		rem = c->deadline_us > now ?
		    (c->deadline_us - now + 999u) / 1000u : 1;
		ch->tx.timeout_ms = rem > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)rem;
	}
	return tx_queue(ch, req, req_len);
}

/* ---- closing ------------------------------------------------------------- */

/* Stop the events and close the socket; the buffers stay until destroy
 * (a completion running now may still view a response in `in`). */
static void
tcp_shut(xr_channel *ch)
{
	if (ch->ev_set) {
		event_del(&ch->rd_ev);
		event_del(&ch->wr_ev);
		event_del(&ch->flush_ev);
		ch->rd_on = ch->wr_on = ch->flush_on = 0;
	}
	if (ch->fd != -1) {
		close(ch->fd);
		ch->fd = -1;
	}
	ch->ooff = ch->olen = 0;
	ch->plen = ch->nrec = 0;
	ch->grp_count = 0;
}

void
xr_tcp_close(xr_channel *ch, int err, int status, const char *fmt, ...)
{
	xr_client_call *c;
	va_list ap;

	if (ch->state != XR_CH_CLOSED) {
		ch->state = XR_CH_CLOSED;
		ch->close_err = err;
		ch->close_status = status;
		va_start(ap, fmt);
		vsnprintf(ch->close_why, sizeof(ch->close_why), fmt, ap);
		va_end(ap);
		xr_debug("execrpc client: connection closed: %s",
		    ch->close_why);
	}
	if (ch->conn_timer_set) {
		evtimer_del(&ch->conn_timer);
		ch->conn_timer_set = 0;
	}
	tcp_shut(ch);
	while ((c = xr_calls_any(ch)) != NULL)
		xr_calls_complete(c, ch->close_status, ch->close_why, NULL, 0);
}

void
xr_tcp_maybe_drained(xr_channel *ch)
{
	char why[XR_CLIENT_WHY_MAX];

	if (ch->state == XR_CH_DRAINING &&
	    xr_hmap_count(&ch->calls.map) == 0) {
		/* the reason GOAWAY recorded stays the reason */
		memcpy(why, ch->close_why, sizeof(why));
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE, "%s",
		    why);
	}
}

void
xr_tcp_destroy(xr_channel *ch)
{
	if (ch->conn_timer_set) {
		evtimer_del(&ch->conn_timer);
		ch->conn_timer_set = 0;
	}
	tcp_shut(ch);
	if (ch->in != NULL) {
		evbuffer_free(ch->in);
		ch->in = NULL;
	}
	free(ch->obuf);
	free(ch->pbuf);
	free(ch->prec);
	ch->obuf = ch->pbuf = NULL;
	ch->prec = NULL;
	ch->ocap = ch->pcap = ch->caprec = 0;
	xr_auth_free(ch->auth);
	ch->auth = NULL;
	xr_wipe(&ch->sess, sizeof(ch->sess));
}

/* ---- receiving ----------------------------------------------------------- */

/* A frame that passed the pipeline but breaks the session protocol. */
static void
tcp_violation(xr_channel *ch, int err, const char *why)
{
	xr_rx_count(&ch->rx, err);
	xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
	    "protocol error from %s (%s): connection closed", ch->peer, why);
}

static void
tcp_handshake_done(xr_channel *ch)
{
	execrpc_v1_HelloAck ack;
	pb_istream_t is;

	memset(&ack, 0, sizeof(ack));
	is = pb_istream_from_buffer(ch->dec.payload, ch->dec.payload_len);
	if (!pb_decode(&is, execrpc_v1_HelloAck_fields, &ack)) {
		tcp_violation(ch, XR_ERR_MALFORMED, "HELLO_ACK payload");
		return;
	}
	if (ack.max_payload_bytes != 0 && ack.max_payload_bytes < ch->max_payload)
		ch->max_payload = ack.max_payload_bytes;
	if (ack.max_inflight != 0 && ack.max_inflight < ch->max_inflight)
		ch->max_inflight = ack.max_inflight;
	ch->peer_batch = ack.max_batch < XR_BATCH_SEND ? ack.max_batch :
	    XR_BATCH_SEND;
	ch->state = XR_CH_READY;
	if (ch->conn_timer_set) {
		evtimer_del(&ch->conn_timer);
		ch->conn_timer_set = 0;
	}
	/* the queue goes out once the frames read with HELLO_ACK are done:
	 * a GOAWAY right behind it fails the queued calls instead */
}

/* After a read: send what was queued before the handshake, in order, or
 * fail it if the endpoint said GOAWAY with its HELLO_ACK. Callbacks may
 * close or free the channel. */
static void
tcp_flush_queue(xr_channel *ch)
{
	xr_client_call *c;
	int r;

	while (ch->state == XR_CH_DRAINING && !ch->freeing &&
	    (c = ch->q_head) != NULL)
		xr_calls_complete(c, XR_STATUS_UNAVAILABLE, ch->close_why,
		    NULL, 0);
	while (ch->state == XR_CH_READY && !ch->freeing &&
	    (c = ch->q_head) != NULL) {
		xr_calls_unqueue(ch, c);
		c->state = XR_CALL_SENT;
		r = tx_request(ch, c, c->qreq, c->qreq_len, 0);
		free(c->qreq);
		c->qreq = NULL;
		c->qreq_len = 0;
		if (r != XR_OK)
			xr_calls_complete(c, XR_STATUS_INTERNAL,
			    "cannot send the request", NULL, 0);
	}
}

static void
tcp_response(xr_channel *ch)
{
	const execrpc_v1_Envelope *e = &ch->dec.env;
	xr_client_call *c;
	int code = XR_STATUS_OK;

	c = e->call_id != 0 ? xr_calls_find(ch, e->call_id) : NULL;
	if (c == NULL || c->state != XR_CALL_SENT) {
		/* finished (deadline, cancel) or never ours: ignore */
		ch->stray_responses++;
		return;
	}
	if (e->has_status)
		code = (int)e->status.code;
	if (code < XR_STATUS_OK || code > XR_STATUS_UNAUTHENTICATED)
		code = XR_STATUS_UNKNOWN;
	if (code == XR_STATUS_OK && ch->dec.payload_len > ch->max_payload) {
		/* an endpoint with a larger limit than ours: this call fails,
		 * the connection is sound */
		xr_calls_complete(c, XR_STATUS_RESOURCE_EXHAUSTED,
		    XR_CLIENT_MSG_RESP_TOO_LARGE, NULL, 0);
		return;
	}
	xr_calls_complete(c, code, e->has_status ? e->status.message : "",
	    ch->dec.payload, ch->dec.payload_len);
}

/* Act on one accepted frame. */
static void
tcp_dispatch(xr_channel *ch, const xr_env_view *v)
{
	int handshaking = ch->state == XR_CH_HANDSHAKE;

	if (handshaking != (v->kind == XR_KIND_HELLO_ACK)) {
		tcp_violation(ch, XR_ERR_KIND_NOT_ALLOWED, handshaking ?
		    "expected HELLO_ACK" : "unexpected HELLO_ACK");
		return;
	}
	switch (v->kind) {
	case XR_KIND_HELLO_ACK:
		tcp_handshake_done(ch);
		break;
	case XR_KIND_RESPONSE:
		tcp_response(ch);
		break;
	case XR_KIND_GOAWAY:
		if (ch->state == XR_CH_READY) {
			ch->state = XR_CH_DRAINING;
			ch->close_status = XR_STATUS_UNAVAILABLE;
			snprintf(ch->close_why, sizeof(ch->close_why),
			    "endpoint %s is draining (GOAWAY): it takes no new "
			    "calls; call another endpoint, or retry once it "
			    "restarted", ch->peer);
		}
		break;
	case XR_KIND_PONG:
	default:
		break;
	}
}

/* The envelopes of an accepted BATCH (its payload viewed in ch->dec), each
 * through steps 3-6 and handled in order; the first reject closes. */
static void
tcp_batch(xr_channel *ch)
{
	xr_env_decoder dec = xr_nb_decoder(&ch->dec);
	xr_env_view view;
	xr_batch_iter it;
	const uint8_t *env;
	size_t len;
	uint64_t now = xr_now_ms();
	int r;

	xr_batch_iter_init(&it, ch->dec.payload, ch->dec.payload_len,
	    XR_BATCH_MAX);
	while ((r = xr_batch_next(&it, &env, &len)) == 1) {
		/* counted by the pipeline when it fails */
		if ((r = xr_rx_inner(&ch->rx, &ch->sess, env, len, now, &dec,
		    &view)) != XR_OK)
			goto refused;
		tcp_dispatch(ch, &view);
		ch->dec.payload = NULL;
		ch->dec.payload_len = 0;
		if (ch->state == XR_CH_CLOSED || ch->freeing)
			return;
	}
	if (r == 0)
		return;
	xr_rx_count(&ch->rx, r);	/* the walk itself: MALFORMED */
 refused:
	xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
	    "frame from %s refused (%s): connection closed", ch->peer,
	    xr_err_name(r));
}

/* Run the frames that are complete in `in` through the pipeline. */
static void
tcp_read_frames(xr_channel *ch)
{
	xr_env_decoder dec = xr_nb_decoder(&ch->dec);
	xr_env_view view;
	const uint8_t *body;
	size_t len;
	int r;

	while (ch->fd != -1 && !ch->freeing &&
	    ch->state != XR_CH_CLOSED && ch->state != XR_CH_CONNECTING) {
		/* 1. the limit, on the 4 prefix bytes, before any of the body
		 * is waited for */
		r = xr_reader_evbuffer(&ch->rd, ch->in, &body, &len,
		    &ch->rd_want);
		if (r == XR_ERR_AGAIN)
			return;
		if (r != XR_OK) {
			xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
			    "frame from %s refused (%s): connection closed",
			    ch->peer, xr_err_name(r));
			return;
		}
		/* 2.-6. tag, decode, kind, ttl, session + sequence */
		r = xr_rx_frame(&ch->rx, &ch->sess, body, len, xr_now_ms(), &dec,
		    &view);
		if (r == XR_ERR_BAD_SIGNATURE && ch->state == XR_CH_HANDSHAKE) {
			xr_tcp_close(ch, XR_ERR_BAD_SIGNATURE,
			    XR_STATUS_UNAUTHENTICATED, "handshake with %s "
			    "failed: its HELLO_ACK does not verify with our "
			    "keys (secret or kdf mismatch? the client needs "
			    "the endpoint's auth secret and kdf)", ch->peer);
			return;
		}
		if (r != XR_OK) {
			xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
			    "frame from %s refused (%s): connection closed",
			    ch->peer, xr_err_name(r));
			return;
		}
		if (view.kind == XR_KIND_BATCH && ch->state != XR_CH_HANDSHAKE)
			tcp_batch(ch);
		else
			tcp_dispatch(ch, &view);
		ch->dec.payload = NULL;
		ch->dec.payload_len = 0;
	}
}

/* One read per readiness, into space reserved in `in`: as much as the
 * frame at the front still needs, at least TCP_READ_MIN. Returns 1 when
 * bytes came in; 0 otherwise (EAGAIN, or the connection is lost and
 * closed). */
static int
tcp_read(xr_channel *ch)
{
	struct evbuffer_iovec v[2];
	size_t have = evbuffer_get_length(ch->in), want = TCP_READ_MIN;
	ssize_t n;
	int nv;

	if (ch->rd_want > have && ch->rd_want - have > want)
		want = ch->rd_want - have;
	if ((nv = evbuffer_reserve_space(ch->in, (ev_ssize_t)want, v, 2)) < 1) {
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connection to %s: out of memory for reading", ch->peer);
		return 0;
	}
	do
		n = readv(ch->fd, (struct iovec *)v, nv);
	while (n == -1 && errno == EINTR);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		tcp_lost(ch, n == 0, n == 0 ? 0 : errno);
		return 0;
	}
	if (n == -1)
		return 0;
	if ((size_t)n <= v[0].iov_len) {
		v[0].iov_len = (size_t)n;
		nv = 1;
	} else
		v[1].iov_len = (size_t)n - v[0].iov_len;
	if (evbuffer_commit_space(ch->in, v, nv) != 0) {
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_INTERNAL,
		    "connection to %s: cannot keep what was read", ch->peer);
		return 0;
	}
	return 1;
}

static void
tcp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_channel *ch = arg;

	(void)fd;
	(void)what;
	xr_channel_enter(ch);
	if (tcp_read(ch))
		tcp_read_frames(ch);
	tcp_flush_queue(ch);
	xr_tcp_maybe_drained(ch);
	xr_channel_leave(ch);
}

/* The endpoint closed (eof) or the socket failed with `e`: say which, and
 * what to check. */
static void
tcp_lost(xr_channel *ch, int eof, int e)
{
	if (eof && ch->state == XR_CH_HANDSHAKE)
		xr_tcp_close(ch, XR_ERR_BAD_SIGNATURE,
		    XR_STATUS_UNAUTHENTICATED, "handshake refused by %s: it "
		    "closed the connection after our HELLO without answering "
		    "(secret or kdf mismatch? the client needs the endpoint's "
		    "auth secret and kdf)", ch->peer);
	else if (eof)
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connection closed by the endpoint %s", ch->peer);
	else if ((ch->state == XR_CH_CONNECTING ||
	    ch->state == XR_CH_HANDSHAKE) && (e == ECONNRESET || e == EPIPE))
		/* accepted, then reset: seen as a failed connect when the
		 * reset comes before the connect is reported */
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connection reset by %s before HELLO_ACK (the endpoint is "
		    "at max_connections or stopping)", ch->peer);
	else if (ch->state == XR_CH_CONNECTING)
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connect to %s failed: %s%s", ch->peer,
		    evutil_socket_error_to_string(e), e == ECONNREFUSED ?
		    " (is the endpoint running, on this port?)" : "");
	else
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connection to %s lost: %s", ch->peer,
		    evutil_socket_error_to_string(e));
}

/* The connect finished: send HELLO and start reading. */
static void
tcp_connected(xr_channel *ch)
{
	int e = ch->conn_errno, r;
	socklen_t sl = sizeof(e);

	if (e == 0 && getsockopt(ch->fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
		e = errno;
	if (e != 0) {
		tcp_lost(ch, 0, e);
		return;
	}
	ch->state = XR_CH_HANDSHAKE;
	if (event_add(&ch->rd_ev, NULL) != 0) {
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_INTERNAL,
		    "cannot watch the connection to %s", ch->peer);
		return;
	}
	ch->rd_on = 1;
	if ((r = tx_hello(ch)) != XR_OK)
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_INTERNAL,
		    "cannot send HELLO to %s (%s)", ch->peer, xr_err_name(r));
}

/* wr_ev: the connect, or a socket that can take the rest of a write. */
static void
tcp_write_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_channel *ch = arg;

	(void)fd;
	(void)what;
	ch->wr_on = 0;
	xr_channel_enter(ch);
	if (ch->state == XR_CH_CONNECTING)
		tcp_connected(ch);
	else
		tx_write_out(ch);
	xr_channel_leave(ch);
}

static void
tcp_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_channel *ch = arg;

	(void)fd;
	(void)what;
	ch->conn_timer_set = 0;
	xr_channel_enter(ch);
	if (ch->state == XR_CH_CONNECTING)
		xr_tcp_close(ch, XR_ERR_READY_TIMEOUT, XR_STATUS_UNAVAILABLE,
		    "connect to %s not done within %u ms (connect_timeout_ms)",
		    ch->peer, (unsigned)ch->connect_timeout_ms);
	else if (ch->state == XR_CH_HANDSHAKE)
		xr_tcp_close(ch, XR_ERR_READY_TIMEOUT, XR_STATUS_UNAVAILABLE,
		    "no HELLO_ACK from %s within %u ms (connect_timeout_ms): "
		    "is an execrpc endpoint listening there?", ch->peer,
		    (unsigned)ch->connect_timeout_ms);
	xr_channel_leave(ch);
}

/* ---- the transport hooks ------------------------------------------------- */

/* The socket and its three events, and the connect started. */
static int
tcp_start(xr_channel *ch, xr_diag *d)
{
	struct timeval tv;
	int one = 1;

	ch->fd = socket(ch->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (ch->fd == -1)
		return xr_diag_set(d, XR_ERR_SYSTEM, "socket: %s",
		    strerror(errno));
	(void)setsockopt(ch->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((ch->in = evbuffer_new()) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	if (event_assign(&ch->rd_ev, ch->base, ch->fd, EV_READ | EV_PERSIST,
	    tcp_read_cb, ch) != 0 ||
	    event_assign(&ch->wr_ev, ch->base, ch->fd, EV_WRITE, tcp_write_cb,
	    ch) != 0 ||
	    event_assign(&ch->flush_ev, ch->base, -1, 0, tcp_flush_cb, ch) != 0 ||
	    event_assign(&ch->conn_timer, ch->base, -1, 0, tcp_conn_timer_cb,
	    ch) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "cannot set an event");
	ch->ev_set = 1;
	tv.tv_sec = (time_t)(ch->connect_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(ch->connect_timeout_ms % 1000) * 1000;
	if (evtimer_add(&ch->conn_timer, &tv) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "cannot set a timer");
	ch->conn_timer_set = 1;
	ch->state = XR_CH_CONNECTING;
	if (connect(ch->fd, (struct sockaddr *)&ch->addr, ch->addrlen) == 0 ||
	    errno == EINPROGRESS) {
		if (event_add(&ch->wr_ev, NULL) != 0)
			return xr_diag_set(d, XR_ERR_SYSTEM, "cannot set an "
			    "event");
		ch->wr_on = 1;
	} else if (errno == ECONNREFUSED) {
		/* reported from the loop, like a refusal that comes later */
		ch->conn_errno = errno;
		event_active(&ch->wr_ev, EV_WRITE, 0);
	} else {
		/* failed at once (e.g. no IPv6 loopback): the channel exists
		 * but is closed; its calls fail with UNAVAILABLE */
		xr_tcp_close(ch, XR_ERR_CLOSED, XR_STATUS_UNAVAILABLE,
		    "connect to %s failed: %s", ch->peer, strerror(errno));
	}
	return XR_OK;
}

int
xr_tcp_open(xr_channel *ch, const xr_channel_opts *opts, const xr_keyset *ks,
    xr_diag *d)
{
	int r;

	ch->fd = -1;
	if ((r = tcp_resolve(ch, opts->host, opts->port, d)) != XR_OK)
		return r;
	ch->max_payload = opts->max_payload_bytes ? opts->max_payload_bytes :
	    XR_CLIENT_DEF_MAX_PAYLOAD;
	ch->max_inflight = opts->max_inflight ? opts->max_inflight :
	    XR_CLIENT_DEF_MAX_INFLIGHT;
	ch->connect_timeout_ms = opts->connect_timeout_ms ?
	    opts->connect_timeout_ms : XR_CLIENT_DEF_CONNECT_MS;
	snprintf(ch->client_name, sizeof(ch->client_name), "%s",
	    opts->client_name != NULL ? opts->client_name : "");
	if ((ch->auth = xr_auth_new(ks)) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
	ch->rx.auth = ch->auth;
	ch->rx.dir = XR_DIR_EXEC_TO_WEB;
	ch->rx.kind_mask = TCP_RX_KINDS;
	ch->rx.ttl_ms = (uint64_t)(opts->ttl_seconds ? opts->ttl_seconds :
	    XR_CLIENT_DEF_TTL_S) * 1000u;
	ch->rx.max_body = xr_frame_max_body(ch->max_payload);
	ch->rx.nonces = NULL;	/* the client opens no sessions */
	xr_reader_init_rx(&ch->rd, &ch->rx);
	return tcp_start(ch, d);
}

int
xr_tcp_start_call(xr_channel *ch, xr_client_call *c, const uint8_t *req,
    size_t req_len, uint32_t timeout_ms)
{
	int r;

	if (ch->state == XR_CH_READY) {
		c->state = XR_CALL_SENT;
		if ((r = tx_request(ch, c, req, req_len, timeout_ms)) != XR_OK) {
			xr_calls_complete(c, XR_STATUS_INTERNAL,
			    "cannot send the request", NULL, 0);
			return r;
		}
		return XR_OK;
	}
	/* connecting: keep a copy until the session is open */
	if (req_len > 0) {
		if ((c->qreq = malloc(req_len)) == NULL) {
			xr_calls_complete(c, XR_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory", NULL, 0);
			return XR_ERR_NOMEM;
		}
		memcpy(c->qreq, req, req_len);
	}
	c->qreq_len = req_len;
	xr_calls_enqueue(ch, c);
	return XR_OK;
}

void
xr_tcp_abandon(xr_channel *ch, xr_client_call *c)
{
	if (c->state != XR_CALL_SENT || ch->fd == -1 ||
	    (ch->state != XR_CH_READY && ch->state != XR_CH_DRAINING))
		return;
	if (tx_prepare(ch, XR_KIND_CANCEL, 0) != XR_OK)
		return;
	ch->tx.call_id = c->id;
	(void)tx_queue(ch, NULL, 0);	/* best effort; the call is done */
}

size_t
xr_tcp_outbuf_len(const xr_channel *ch)
{
	return ch->olen - ch->ooff + ch->plen;
}
