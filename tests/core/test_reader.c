/*
 * tests/core/test_reader.c — core/reader.c: the one length-prefixed frame
 * reader, fed bytes (xr_reader_feed) and reading libevent buffers
 * (xr_reader_evbuffer, xr_reader_bufferevent). SEC-IPC-05 at the reader
 * level: a prefix over the limit is refused before a body byte is buffered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "frame.h"
#include "helper_wire.h"
#include "reader.h"
#include "rx.h"

static void
fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 131u + (i >> 8));
}

/* prefix + body as one malloc'd wire buffer */
static uint8_t *
make_wire(const uint8_t *body, size_t len, size_t *wire_len)
{
	uint8_t *w = malloc(XR_FRAME_PREFIX_LEN + len);

	assert_non_null(w);
	xr_frame_put_len(w, (uint32_t)len);
	if (len > 0)
		memcpy(w + XR_FRAME_PREFIX_LEN, body, len);
	*wire_len = XR_FRAME_PREFIX_LEN + len;
	return w;
}

/* An xr_rx with only the limit set: all the reader uses of it. */
static void
rx_with_limit(xr_rx *rx, size_t max_body)
{
	memset(rx, 0, sizeof(*rx));
	rx->max_body = max_body;
}

static uint64_t
oversized_count(const xr_rx *rx)
{
	return rx->counters.rejects[XR_REJECT_OVERSIZED];
}

/* The sum of every reject counter: the reader bumps OVERSIZED only. */
static uint64_t
all_rejects(const xr_rx *rx)
{
	uint64_t n = 0;

	for (size_t i = 0; i < XR_REJECT_COUNT; i++)
		n += rx->counters.rejects[i];
	return n;
}

/* ======================= byte feed ======================= */

static void
test_feed_byte_at_a_time(void **state)
{
	xr_auth *a = tw_auth(XR_KDF_HKDF_SHA256);
	uint8_t payload[64];
	size_t bl, wl, used, got_len = 0;
	const uint8_t *got = NULL;
	uint8_t *body, *wire;
	xr_reader r;

	(void)state;
	fill_pattern(payload, sizeof(payload), 1);
	body = tw_frame(a, XR_DIR_WEB_TO_EXEC, XR_KIND_HELLO, 1000, NULL, 0,
	    payload, sizeof(payload), &bl, NULL);
	wire = make_wire(body, bl, &wl);
	xr_reader_init(&r, 4096);
	for (size_t i = 0; i < wl; i++) {
		int rc = xr_reader_feed(&r, wire + i, 1, &used, &got,
		    &got_len);

		assert_int_equal(used, 1);
		if (i + 1 < wl) {
			assert_int_equal(rc, XR_ERR_AGAIN);
		} else {
			assert_int_equal(rc, XR_OK);
		}
	}
	assert_int_equal(got_len, bl);
	assert_memory_equal(got, body, bl);
	/* then the same frame again, fed in one call */
	assert_int_equal(xr_reader_feed(&r, wire, wl, &used, &got,
	    &got_len), XR_OK);
	assert_int_equal(used, wl);
	assert_int_equal(got_len, bl);
	assert_memory_equal(got, body, bl);
	xr_reader_free(&r);
	free(wire);
	free(body);
	xr_auth_free(a);
}

/* The body split in two at every byte boundary: the first part is consumed
 * whole and asks for more (exactly the bytes it got), the second completes
 * the frame with exactly its own length. */
static void
test_feed_split_at_every_boundary(void **state)
{
	uint8_t body[37], *wire;
	size_t wl, used, got_len;
	const uint8_t *got;
	xr_reader r;

	(void)state;
	fill_pattern(body, sizeof(body), 3);
	wire = make_wire(body, sizeof(body), &wl);
	xr_reader_init(&r, sizeof(body));
	for (size_t k = 0; k <= wl; k++) {
		got = NULL;
		got_len = 0;
		if (k < wl) {
			assert_int_equal(xr_reader_feed(&r, wire, k, &used,
			    &got, &got_len), XR_ERR_AGAIN);
			assert_int_equal(used, k);
			assert_int_equal(r.got, k);
			assert_int_equal(r.sized, k >= XR_FRAME_PREFIX_LEN);
			assert_null(got);
			assert_int_equal(xr_reader_feed(&r, wire + k, wl - k,
			    &used, &got, &got_len), XR_OK);
			assert_int_equal(used, wl - k);
		} else {
			assert_int_equal(xr_reader_feed(&r, wire, wl, &used,
			    &got, &got_len), XR_OK);
			assert_int_equal(used, wl);
		}
		assert_int_equal(got_len, sizeof(body));
		assert_memory_equal(got, body, sizeof(body));
	}
	xr_reader_free(&r);
	free(wire);
}

static void
test_feed_two_frames_in_one_chunk(void **state)
{
	uint8_t b1[40], b2[300], *buf;
	size_t used, got_len, total = 2 * XR_FRAME_PREFIX_LEN + sizeof(b1) +
	    sizeof(b2);
	const uint8_t *got;
	xr_reader r;

	(void)state;
	fill_pattern(b1, sizeof(b1), 21);
	fill_pattern(b2, sizeof(b2), 22);
	buf = malloc(total);
	assert_non_null(buf);
	xr_frame_put_len(buf, sizeof(b1));
	memcpy(buf + 4, b1, sizeof(b1));
	xr_frame_put_len(buf + 4 + sizeof(b1), sizeof(b2));
	memcpy(buf + 8 + sizeof(b1), b2, sizeof(b2));

	xr_reader_init(&r, 1000);
	assert_int_equal(xr_reader_feed(&r, buf, total, &used, &got,
	    &got_len), XR_OK);
	assert_int_equal(used, 4 + sizeof(b1));
	assert_int_equal(got_len, sizeof(b1));
	assert_memory_equal(got, b1, sizeof(b1));
	assert_int_equal(xr_reader_feed(&r, buf + used, total - used,
	    &used, &got, &got_len), XR_OK);
	assert_int_equal(used, 4 + sizeof(b2));
	assert_int_equal(got_len, sizeof(b2));
	assert_memory_equal(got, b2, sizeof(b2));
	/* nothing left: an empty feed asks for more */
	assert_int_equal(xr_reader_feed(&r, buf, 0, &used, &got,
	    &got_len), XR_ERR_AGAIN);
	assert_int_equal(used, 0);

	/* the same stream in odd chunks (7 bytes) yields the same bodies */
	xr_reader_free(&r);
	{
		size_t off = 0, n_frames = 0;

		while (off < total) {
			size_t n = total - off < 7 ? total - off : 7;
			int rc = xr_reader_feed(&r, buf + off, n, &used,
			    &got, &got_len);

			off += used;
			if (rc == XR_OK) {
				if (n_frames == 0) {
					assert_int_equal(got_len, sizeof(b1));
					assert_memory_equal(got, b1, sizeof(b1));
				} else {
					assert_int_equal(got_len, sizeof(b2));
					assert_memory_equal(got, b2, sizeof(b2));
				}
				n_frames++;
			} else {
				assert_int_equal(rc, XR_ERR_AGAIN);
				assert_int_equal(used, n);
			}
		}
		assert_int_equal(n_frames, 2);
	}
	xr_reader_free(&r);
	free(buf);
}

/* A stream that stops one byte short of the frame's end (or inside the
 * prefix) never yields a frame; what came is consumed and held. */
static void
test_feed_truncated_stream(void **state)
{
	uint8_t body[50], *wire;
	size_t wl, used, got_len = 0;
	const uint8_t *got = NULL;
	xr_reader r;

	(void)state;
	fill_pattern(body, sizeof(body), 9);
	wire = make_wire(body, sizeof(body), &wl);
	xr_reader_init(&r, sizeof(body));
	assert_int_equal(xr_reader_feed(&r, wire, wl - 1, &used, &got,
	    &got_len), XR_ERR_AGAIN);
	assert_int_equal(used, wl - 1);
	assert_int_equal(r.got, wl - 1);
	assert_null(got);
	assert_int_equal(got_len, 0);
	xr_reader_free(&r);

	/* cut inside the prefix: nothing sized, nothing allocated */
	assert_int_equal(xr_reader_feed(&r, wire, 3, &used, &got, &got_len),
	    XR_ERR_AGAIN);
	assert_int_equal(used, 3);
	assert_int_equal(r.sized, 0);
	assert_null(r.buf);
	xr_reader_free(&r);
	free(wire);
}

/* SEC-IPC-05 (reader): a prefix announcing max_body + 1 is rejected after
 * exactly the 4 prefix bytes, before any body byte is buffered, and the
 * reader stays dead. */
static void
test_SEC_IPC_05_feed_oversized_before_body(void **state)
{
	const size_t max_body = 1000;
	uint8_t *wire = calloc(1, XR_FRAME_PREFIX_LEN + max_body + 1);
	size_t used = 99, got_len = 0;
	const uint8_t *got = NULL;
	xr_reader r;

	(void)state;
	assert_non_null(wire);
	xr_frame_put_len(wire, (uint32_t)(max_body + 1));
	xr_reader_init(&r, max_body);
	assert_int_equal(xr_reader_feed(&r, wire,
	    XR_FRAME_PREFIX_LEN + max_body + 1, &used, &got, &got_len),
	    XR_ERR_OVERSIZED);
	assert_int_equal(used, XR_FRAME_PREFIX_LEN);
	assert_null(r.buf);
	assert_int_equal(r.cap, 0);
	assert_int_equal(r.got, XR_FRAME_PREFIX_LEN);
	assert_int_equal(r.need, max_body + 1);
	assert_null(got);
	/* dead: nothing more is consumed, even a valid small frame */
	xr_frame_put_len(wire, 1);
	assert_int_equal(xr_reader_feed(&r, wire, 5, &used, &got,
	    &got_len), XR_ERR_OVERSIZED);
	assert_int_equal(used, 0);
	assert_null(r.buf);
	xr_reader_free(&r);

	/* prefix split over calls: still rejected on the 4th byte */
	xr_frame_put_len(wire, 0xffffffffu);
	xr_reader_init(&r, max_body);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(xr_reader_feed(&r, wire + i, 1, &used,
		    &got, &got_len), XR_ERR_AGAIN);
		assert_int_equal(used, 1);
	}
	assert_int_equal(xr_reader_feed(&r, wire + 3, 100, &used, &got,
	    &got_len), XR_ERR_OVERSIZED);
	assert_int_equal(used, 1);
	assert_null(r.buf);
	xr_reader_free(&r);
	free(wire);
}

/* The limit itself: exactly max_body passes, max_body + 1 does not; through
 * an xr_rx the refusal is counted as OVERSIZED exactly once. */
static void
test_feed_limit_max_and_max_plus_one(void **state)
{
	const size_t max_body = 1000;
	uint8_t body[1001], *wire;
	size_t wl, used, got_len;
	const uint8_t *got;
	xr_reader r;
	xr_rx rx;

	(void)state;
	fill_pattern(body, sizeof(body), 7);
	wire = make_wire(body, max_body, &wl);
	xr_reader_init(&r, max_body);
	assert_int_equal(xr_reader_feed(&r, wire, wl, &used, &got,
	    &got_len), XR_OK);
	assert_int_equal(used, wl);
	assert_int_equal(got_len, max_body);
	assert_memory_equal(got, body, max_body);
	xr_reader_free(&r);

	rx_with_limit(&rx, max_body);
	xr_reader_init_rx(&r, &rx);
	assert_int_equal(xr_reader_feed(&r, wire, wl, &used, &got,
	    &got_len), XR_OK);
	assert_int_equal(got_len, max_body);
	assert_int_equal(all_rejects(&rx), 0);
	free(wire);

	wire = make_wire(body, max_body + 1, &wl);
	assert_int_equal(xr_reader_feed(&r, wire, wl, &used, &got,
	    &got_len), XR_ERR_OVERSIZED);
	assert_int_equal(used, XR_FRAME_PREFIX_LEN);
	assert_int_equal(oversized_count(&rx), 1);
	assert_int_equal(all_rejects(&rx), 1);
	/* dead: the same error, not counted again */
	assert_int_equal(xr_reader_feed(&r, wire, wl, &used, &got,
	    &got_len), XR_ERR_OVERSIZED);
	assert_int_equal(used, 0);
	assert_int_equal(oversized_count(&rx), 1);
	xr_reader_free(&r);

	xr_reader_init(&r, max_body);
	assert_int_equal(xr_reader_feed(&r, wire, wl, &used, &got,
	    &got_len), XR_ERR_OVERSIZED);
	assert_null(r.buf);
	xr_reader_free(&r);
	free(wire);
}

static void
test_feed_zero_length_body(void **state)
{
	uint8_t wire[4 + 4 + 3];
	size_t used, got_len = 99;
	const uint8_t *got;
	xr_reader r;

	(void)state;
	xr_frame_put_len(wire, 0);
	xr_frame_put_len(wire + 4, 3);
	memcpy(wire + 8, "abc", 3);
	xr_reader_init(&r, 100);
	assert_int_equal(xr_reader_feed(&r, wire, sizeof(wire), &used,
	    &got, &got_len), XR_OK);
	assert_int_equal(used, 4);
	assert_int_equal(got_len, 0);
	/* the next frame follows normally */
	assert_int_equal(xr_reader_feed(&r, wire + 4, sizeof(wire) - 4,
	    &used, &got, &got_len), XR_OK);
	assert_int_equal(used, 7);
	assert_int_equal(got_len, 3);
	assert_memory_equal(got, "abc", 3);
	xr_reader_free(&r);
}

/*
 * After XR_ERR_NOMEM (the body buffer could not be allocated) the reader
 * must not write the next bytes into a buffer smaller than the announced
 * length. Run in a child with RLIMIT_AS so that malloc fails; the child
 * exits 0 only if feeding more bytes after NOMEM is safe (an error, not a
 * crash). Skipped under ASan, whose shadow memory does not live with
 * RLIMIT_AS.
 */
static void
test_feed_after_nomem(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)state;
	skip();
#else
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 512u << 20, 512u << 20 };
		uint8_t wire[4 + 16] = { 0 };
		const uint8_t *got = NULL;
		size_t used, got_len;
		xr_reader r;
		int rc;

		/* die of the signal itself, not through cmocka's handler */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(3);
		xr_reader_init(&r, 0xffffffffu);
		xr_frame_put_len(wire, 0xfffffff0u);
		rc = xr_reader_feed(&r, wire, 4, &used, &got, &got_len);
		if (rc != XR_ERR_NOMEM)
			_exit(4);	/* malloc did not fail: inconclusive */
		/* the stream continues: this must not write out of bounds */
		rc = xr_reader_feed(&r, wire + 4, 16, &used, &got, &got_len);
		_exit(rc == XR_ERR_NOMEM && used == 0 ? 0 : 5);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 3 || WEXITSTATUS(st) == 4))
		skip();
	if (WIFSIGNALED(st))
		fail_msg("reader fed after XR_ERR_NOMEM: killed by signal %d",
		    WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
#endif
}

/* ======================= libevent buffers ======================= */

/* Append `n` bytes as their own chain (by reference), so that a frame
 * spans chains and evbuffer_pullup really has to join them. */
static void
ev_add_chain(struct evbuffer *in, const uint8_t *p, size_t n)
{
	if (n > 0)
		assert_int_equal(evbuffer_add_reference(in, p, n, NULL, NULL),
		    0);
}

/* The body split in two at every byte boundary (each part its own chain):
 * AGAIN with the exact byte count needed, nothing drained, then the frame
 * whole; the next call drains it. */
static void
test_evbuffer_split_at_every_boundary(void **state)
{
	uint8_t body[37], *wire;
	size_t wl, got_len, want;
	const uint8_t *got;
	xr_reader r;

	(void)state;
	fill_pattern(body, sizeof(body), 4);
	wire = make_wire(body, sizeof(body), &wl);
	for (size_t k = 0; k <= wl; k++) {
		struct evbuffer *in = evbuffer_new();

		assert_non_null(in);
		xr_reader_init(&r, sizeof(body));
		ev_add_chain(in, wire, k);
		if (k < wl) {
			want = 0;
			got = NULL;
			assert_int_equal(xr_reader_evbuffer(&r, in, &got,
			    &got_len, &want), XR_ERR_AGAIN);
			assert_int_equal(want, k < XR_FRAME_PREFIX_LEN ?
			    XR_FRAME_PREFIX_LEN : wl);
			assert_int_equal(evbuffer_get_length(in), k);
			assert_null(got);
		}
		ev_add_chain(in, wire + k, wl - k);
		assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len,
		    &want), XR_OK);
		assert_int_equal(got_len, sizeof(body));
		assert_memory_equal(got, body, sizeof(body));
		/* the frame stays in `in` until the next call */
		assert_int_equal(evbuffer_get_length(in), wl);
		assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len,
		    &want), XR_ERR_AGAIN);
		assert_int_equal(evbuffer_get_length(in), 0);
		assert_int_equal(want, XR_FRAME_PREFIX_LEN);
		xr_reader_free(&r);
		evbuffer_free(in);
	}
	free(wire);
}

/* Two frames (and the start of a third) in one chunk: each handed out in
 * turn, each body a view into the buffer itself (no copy). */
static void
test_evbuffer_two_frames_in_one_chunk(void **state)
{
	uint8_t b1[40], b2[300], *buf;
	size_t got_len, want, total = 2 * XR_FRAME_PREFIX_LEN + sizeof(b1) +
	    sizeof(b2) + 2;
	const uint8_t *got;
	struct evbuffer *in = evbuffer_new();
	xr_reader r;
	xr_rx rx;

	(void)state;
	assert_non_null(in);
	fill_pattern(b1, sizeof(b1), 31);
	fill_pattern(b2, sizeof(b2), 32);
	buf = malloc(total);
	assert_non_null(buf);
	xr_frame_put_len(buf, sizeof(b1));
	memcpy(buf + 4, b1, sizeof(b1));
	xr_frame_put_len(buf + 4 + sizeof(b1), sizeof(b2));
	memcpy(buf + 8 + sizeof(b1), b2, sizeof(b2));
	buf[total - 2] = 0;		/* two bytes of a third prefix */
	buf[total - 1] = 0;
	assert_int_equal(evbuffer_add(in, buf, total), 0);

	rx_with_limit(&rx, 1000);
	xr_reader_init_rx(&r, &rx);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, &want),
	    XR_OK);
	assert_int_equal(got_len, sizeof(b1));
	assert_memory_equal(got, b1, sizeof(b1));
	/* in place: the body is the buffer's own first chain */
	assert_ptr_equal(got, evbuffer_pullup(in, -1) + XR_FRAME_PREFIX_LEN);
	assert_int_equal(evbuffer_get_length(in), total);

	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, &want),
	    XR_OK);
	assert_int_equal(got_len, sizeof(b2));
	assert_memory_equal(got, b2, sizeof(b2));
	assert_ptr_equal(got, evbuffer_pullup(in, -1) + XR_FRAME_PREFIX_LEN);
	assert_int_equal(evbuffer_get_length(in),
	    XR_FRAME_PREFIX_LEN + sizeof(b2) + 2);

	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, &want),
	    XR_ERR_AGAIN);
	assert_int_equal(want, XR_FRAME_PREFIX_LEN);
	assert_int_equal(evbuffer_get_length(in), 2);
	assert_int_equal(all_rejects(&rx), 0);
	xr_reader_free(&r);
	evbuffer_free(in);
	free(buf);
}

/* A truncated stream: one byte short of the frame, nothing is handed out
 * and nothing drained, however often the reader is asked. */
static void
test_evbuffer_truncated_stream(void **state)
{
	uint8_t body[50], *wire;
	size_t wl, got_len = 0, want = 0;
	const uint8_t *got = NULL;
	struct evbuffer *in = evbuffer_new();
	xr_reader r;

	(void)state;
	assert_non_null(in);
	fill_pattern(body, sizeof(body), 10);
	wire = make_wire(body, sizeof(body), &wl);
	assert_int_equal(evbuffer_add(in, wire, wl - 1), 0);
	xr_reader_init(&r, sizeof(body));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len,
		    &want), XR_ERR_AGAIN);
		assert_int_equal(want, wl);
		assert_int_equal(evbuffer_get_length(in), wl - 1);
		assert_null(got);
	}
	xr_reader_free(&r);
	evbuffer_free(in);
	free(wire);
}

/* SEC-IPC-05 (evbuffer): the limit at max_body and max_body + 1. Over it,
 * the answer comes from the 4 prefix bytes alone: OVERSIZED, counted once
 * through the rx, nothing drained or made contiguous, and the reader asks
 * for no body bytes. */
static void
test_SEC_IPC_05_evbuffer_limit_max_and_max_plus_one(void **state)
{
	const size_t max_body = 1000;
	uint8_t body[1001], *wire;
	size_t wl, got_len, want;
	const uint8_t *got;
	struct evbuffer *in = evbuffer_new();
	xr_reader r;
	xr_rx rx;

	(void)state;
	assert_non_null(in);
	fill_pattern(body, sizeof(body), 11);
	rx_with_limit(&rx, max_body);
	xr_reader_init_rx(&r, &rx);

	wire = make_wire(body, max_body, &wl);
	assert_int_equal(evbuffer_add(in, wire, wl), 0);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, &want),
	    XR_OK);
	assert_int_equal(got_len, max_body);
	assert_memory_equal(got, body, max_body);
	assert_int_equal(all_rejects(&rx), 0);
	free(wire);

	/* only the prefix of the next frame has arrived: refused at once */
	wire = make_wire(body, max_body + 1, &wl);
	assert_int_equal(evbuffer_add(in, wire, XR_FRAME_PREFIX_LEN), 0);
	want = 0;
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, &want),
	    XR_ERR_OVERSIZED);
	assert_int_equal(want, 0);	/* no body byte was asked for */
	assert_int_equal(evbuffer_get_length(in), XR_FRAME_PREFIX_LEN);
	assert_int_equal(r.need, max_body + 1);
	assert_int_equal(oversized_count(&rx), 1);
	assert_int_equal(all_rejects(&rx), 1);
	/* more bytes do not revive it, nor count again */
	assert_int_equal(evbuffer_add(in, wire + XR_FRAME_PREFIX_LEN,
	    wl - XR_FRAME_PREFIX_LEN), 0);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, &want),
	    XR_ERR_OVERSIZED);
	assert_int_equal(evbuffer_get_length(in), wl);
	assert_int_equal(oversized_count(&rx), 1);
	xr_reader_free(&r);

	/* a plain limit, no rx: the same decision, nothing counted */
	evbuffer_drain(in, evbuffer_get_length(in));
	assert_int_equal(evbuffer_add(in, wire, wl), 0);
	xr_reader_init(&r, max_body);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, NULL),
	    XR_ERR_OVERSIZED);
	assert_int_equal(evbuffer_get_length(in), wl);
	assert_int_equal(oversized_count(&rx), 1);
	xr_reader_free(&r);
	xr_frame_put_len(wire, 0xffffffffu);
	evbuffer_drain(in, evbuffer_get_length(in));
	assert_int_equal(evbuffer_add(in, wire, XR_FRAME_PREFIX_LEN), 0);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, NULL),
	    XR_ERR_OVERSIZED);
	assert_int_equal(evbuffer_get_length(in), XR_FRAME_PREFIX_LEN);
	xr_reader_free(&r);
	evbuffer_free(in);
	free(wire);
}

static void
test_evbuffer_zero_length_body(void **state)
{
	uint8_t wire[4 + 4 + 3];
	size_t got_len = 99;
	const uint8_t *got;
	struct evbuffer *in = evbuffer_new();
	xr_reader r;

	(void)state;
	assert_non_null(in);
	xr_frame_put_len(wire, 0);
	xr_frame_put_len(wire + 4, 3);
	memcpy(wire + 8, "abc", 3);
	assert_int_equal(evbuffer_add(in, wire, sizeof(wire)), 0);
	xr_reader_init(&r, 100);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, NULL),
	    XR_OK);
	assert_int_equal(got_len, 0);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, NULL),
	    XR_OK);
	assert_int_equal(got_len, 3);
	assert_memory_equal(got, "abc", 3);
	assert_int_equal(evbuffer_get_length(in), 7);
	assert_int_equal(xr_reader_evbuffer(&r, in, &got, &got_len, NULL),
	    XR_ERR_AGAIN);
	assert_int_equal(evbuffer_get_length(in), 0);
	xr_reader_free(&r);
	evbuffer_free(in);
}

static size_t
read_lowmark(struct bufferevent *bev)
{
	size_t low = 99, high = 99;

	assert_int_equal(bufferevent_getwatermark(bev, EV_READ, &low, &high),
	    0);
	assert_int_equal(high, 0);
	return low;
}

/* Write `n` bytes into one end of a bufferevent pair; they land in the
 * other end's input buffer. */
static void
pair_push(struct event_base *base, struct bufferevent *w, const uint8_t *p,
    size_t n)
{
	assert_int_equal(bufferevent_write(w, p, n), 0);
	assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
}

/* The bufferevent form keeps the read low-watermark: 0 while a prefix is
 * incomplete (every byte wakes the owner), 4 + L once the prefix passed
 * the limit, 0 again when the frame is complete or refused. */
static void
test_bufferevent_watermark(void **state)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2], *bev;
	struct evbuffer *in;
	uint8_t body[100], *wire, big[XR_FRAME_PREFIX_LEN];
	size_t wl, got_len;
	const uint8_t *got;
	xr_reader r;

	(void)state;
	assert_non_null(base);
	assert_int_equal(bufferevent_pair_new(base, 0, pair), 0);
	bev = pair[1];
	assert_int_equal(bufferevent_enable(pair[0], EV_WRITE), 0);
	assert_int_equal(bufferevent_enable(bev, EV_READ), 0);
	in = bufferevent_get_input(bev);
	fill_pattern(body, sizeof(body), 12);
	wire = make_wire(body, sizeof(body), &wl);
	xr_reader_init(&r, sizeof(body));

	pair_push(base, pair[0], wire, 2);
	assert_int_equal(evbuffer_get_length(in), 2);
	assert_int_equal(xr_reader_bufferevent(&r, bev, &got, &got_len),
	    XR_ERR_AGAIN);
	assert_int_equal(read_lowmark(bev), 0);
	pair_push(base, pair[0], wire + 2, 10);
	assert_int_equal(xr_reader_bufferevent(&r, bev, &got, &got_len),
	    XR_ERR_AGAIN);
	assert_int_equal(read_lowmark(bev), wl);
	pair_push(base, pair[0], wire + 12, wl - 12);
	assert_int_equal(evbuffer_get_length(in), wl);
	assert_int_equal(xr_reader_bufferevent(&r, bev, &got, &got_len),
	    XR_OK);
	assert_int_equal(got_len, sizeof(body));
	assert_memory_equal(got, body, sizeof(body));
	assert_int_equal(read_lowmark(bev), 0);
	assert_int_equal(xr_reader_bufferevent(&r, bev, &got, &got_len),
	    XR_ERR_AGAIN);
	assert_int_equal(evbuffer_get_length(in), 0);
	assert_int_equal(read_lowmark(bev), 0);

	/* a prefix over the limit: refused, the watermark never asks for
	 * its body */
	xr_frame_put_len(big, sizeof(body) + 1);
	pair_push(base, pair[0], big, sizeof(big));
	assert_int_equal(xr_reader_bufferevent(&r, bev, &got, &got_len),
	    XR_ERR_OVERSIZED);
	assert_int_equal(read_lowmark(bev), 0);
	assert_int_equal(evbuffer_get_length(in), sizeof(big));

	xr_reader_free(&r);
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	event_base_free(base);
	free(wire);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed_byte_at_a_time),
		cmocka_unit_test(test_feed_split_at_every_boundary),
		cmocka_unit_test(test_feed_two_frames_in_one_chunk),
		cmocka_unit_test(test_feed_truncated_stream),
		cmocka_unit_test(test_SEC_IPC_05_feed_oversized_before_body),
		cmocka_unit_test(test_feed_limit_max_and_max_plus_one),
		cmocka_unit_test(test_feed_zero_length_body),
		cmocka_unit_test(test_feed_after_nomem),
		cmocka_unit_test(test_evbuffer_split_at_every_boundary),
		cmocka_unit_test(test_evbuffer_two_frames_in_one_chunk),
		cmocka_unit_test(test_evbuffer_truncated_stream),
		cmocka_unit_test(
		    test_SEC_IPC_05_evbuffer_limit_max_and_max_plus_one),
		cmocka_unit_test(test_evbuffer_zero_length_body),
		cmocka_unit_test(test_bufferevent_watermark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
