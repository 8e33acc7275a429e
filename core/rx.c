/* core/rx.c — the receive pipeline, top to bottom (docs/design.md section 2). */
#include "rx.h"

#include <time.h>

#include "frame.h"

void
xr_rx_count(xr_rx *rx, int err)
{
	int idx = xr_err_reject_index(err);

	if (idx >= 0)
		rx->counters.rejects[idx]++;
}

static int
reject(xr_rx *rx, const xr_env_decoder *dec, int decoded, int err)
{
	if (decoded && dec->release != NULL)
		dec->release(dec->ctx);
	xr_rx_count(rx, err);
	return err;
}

int
xr_rx_check_len(xr_rx *rx, uint32_t body_len)
{
	if (body_len > rx->max_body)
		return reject(rx, NULL, 0, XR_ERR_OVERSIZED);
	return XR_OK;
}

/* Steps 3-6 over an authenticated envelope, with the kinds `kinds`. */
static int
rx_checks(xr_rx *rx, xr_session *sess, const uint8_t *env, size_t env_len,
    uint64_t now_ms, const xr_env_decoder *dec, xr_env_view *view,
    uint32_t kinds)
{
	uint64_t skew;
	int r;

	/* 3. decode, version, field shapes */
	if (dec->decode(dec->ctx, env, env_len, view) != XR_OK)
		return reject(rx, dec, 0, XR_ERR_MALFORMED);
	if (view->version != XR_PROTOCOL_VERSION ||
	    view->nonce_len != XR_NONCE_LEN ||
	    (view->session_id_len != 0 &&
	     view->session_id_len != XR_SESSION_ID_LEN) ||
	    (view->ack_nonce_len != 0 && view->ack_nonce_len != XR_NONCE_LEN))
		return reject(rx, dec, 1, XR_ERR_MALFORMED);

	/* 4. kind whitelist */
	if (view->kind > XR_KIND_MAX || (kinds & XR_KIND_BIT(view->kind)) == 0)
		return reject(rx, dec, 1, XR_ERR_KIND_NOT_ALLOWED);
	if (rx->open_kind_mask != 0 &&
	    ((rx->open_kind_mask & XR_KIND_BIT(view->kind)) != 0) !=
	    (view->session_id_len == 0))
		return reject(rx, dec, 1, XR_ERR_KIND_NOT_ALLOWED);

	/* 5. freshness, both directions of clock skew */
	skew = view->ts_ms > now_ms ? view->ts_ms - now_ms : now_ms - view->ts_ms;
	if (skew > rx->ttl_ms)
		return reject(rx, dec, 1, XR_ERR_EXPIRED);

	/* 6. replay: nonce cache for session-opening frames, else session+seq */
	if ((r = xr_replay_check(sess, rx->nonces, view, now_ms)) != XR_OK)
		return reject(rx, dec, 1, r);

	rx->counters.accepted++;
	return XR_OK;
}

int
xr_rx_frame(xr_rx *rx, xr_session *sess, const uint8_t *body, size_t len,
    uint64_t now_ms, const xr_env_decoder *dec, xr_env_view *view)
{
	const uint8_t *env, *tag;
	size_t env_len, tag_len;

	/* 1. the length (also checked on the prefix, before buffering) */
	if (len > rx->max_body)
		return reject(rx, dec, 0, XR_ERR_OVERSIZED);

	/* 2. tag: nothing is decoded before it verifies */
	if (xr_frame_split(body, len, &env, &env_len, &tag, &tag_len) != XR_OK ||
	    xr_auth_verify(rx->auth, rx->dir, env, env_len, tag, tag_len) != XR_OK)
		return reject(rx, dec, 0, XR_ERR_BAD_SIGNATURE);

	return rx_checks(rx, sess, env, env_len, now_ms, dec, view,
	    rx->kind_mask);
}

int
xr_rx_inner(xr_rx *rx, xr_session *sess, const uint8_t *env, size_t env_len,
    uint64_t now_ms, const xr_env_decoder *dec, xr_env_view *view)
{
	uint32_t kinds = rx->kind_mask & ~rx->open_kind_mask &
	    ~XR_KIND_BIT(XR_KIND_BATCH);

	if (sess->state != XR_SESSION_OPEN)
		return reject(rx, dec, 0, XR_ERR_KIND_NOT_ALLOWED);
	return rx_checks(rx, sess, env, env_len, now_ms, dec, view, kinds);
}

uint64_t
xr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
xr_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
xr_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
