/*
 * tests/fuzz/fuzz_control.c — the control socket's command path, as
 * supervisor/ctl_server.c serves a connection: the frame reader
 * (xr_reader_bufferevent, the XR_CTL_MAX_COMMAND limit on the prefix), the
 * execrpc.v1.Command decode, the dispatch (STATUS, STATS, DRAIN, STOP, CALL
 * and anything else) and the reply, on a real supervisor that started
 * nothing (groups "a": 2 workers hosting fundload.v1.FundLoad, "b": 1
 * worker, every service), so no process is ever spawned.
 *
 * Input: one control byte, then the bytes the client writes. The control
 * byte splits the write in two (at (byte / 255) of the rest), with the event
 * loop run in between, so the reader sees a partial frame; then the client
 * shuts down its write side. Per input: a fresh supervisor and connection
 * (xr__ctl_conn_open() on one end of a socketpair), the loop run until the
 * connection is gone.
 *
 * Invariants (abort() on violation):
 *  - the connection always ends, and the server writes nothing or exactly
 *    one frame (4-byte length <= XR_CTL_MAX_REPLY, then that many bytes,
 *    then end of stream) that decodes as execrpc.v1.Reply with printable
 *    messages;
 *  - the reply is the one the input calls for, decided here independently:
 *    a prefix over XR_CTL_MAX_COMMAND -> OVERSIZED; an incomplete frame ->
 *    no reply; a body that is not a Command -> MALFORMED; an unknown group
 *    -> INVALID_ARG; STATUS, STATS, DRAIN -> XR_OK with exactly the workers
 *    of the selected groups; STOP -> XR_OK (nothing ran: no stop event) or
 *    INVALID_ARG with groups; CALL -> a CallResult refusing it (no worker is
 *    ready) or INVALID_ARG with groups; any other type -> INVALID_ARG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ctl_client.h"
#include "ctl_priv.h"
#include "frame.h"
#include "fuzz_common.h"
#include "keys.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROUNDS 1000		/* loop passes before "never ends" */

static struct event_base *base;
static xr_config cfg;
static xr_keyset keys;
static uint8_t *reply;		/* what the server wrote */
static size_t reply_len, reply_cap;

static void
setup(void)
{
	xr_config_defaults(&cfg);
	cfg.transport = XR_TRANSPORT_TCP_LOCAL;
	cfg.boot_mode = XR_BOOT_PROCESS_SUPERVISOR;
	cfg.n_groups = 2;
	memset(cfg.groups, 0, 2 * sizeof(cfg.groups[0]));
	strcpy(cfg.groups[0].name, "a");
	cfg.groups[0].workers = 2;
	cfg.groups[0].n_services = 1;
	strcpy(cfg.groups[0].services[0], "fundload.v1.FundLoad");
	strcpy(cfg.groups[1].name, "b");
	cfg.groups[1].workers = 1;
	CHECK(xr_keys_derive(xf_master, sizeof(xf_master), XR_KDF_HKDF_SHA256,
	    &keys) == XR_OK);
	CHECK((base = event_base_new()) != NULL);
	reply_cap = XR_CTL_MAX_REPLY + 64;
	CHECK((reply = malloc(reply_cap)) != NULL);
}

/* Collect what the server wrote; false at end of stream. */
static bool
drain_peer(int fd)
{
	for (;;) {
		ssize_t n = recv(fd, reply + reply_len, reply_cap - reply_len,
		    MSG_DONTWAIT);

		if (n == 0)
			return false;
		if (n < 0)
			return true;	/* EAGAIN: nothing more now */
		reply_len += (size_t)n;
		CHECK(reply_len < reply_cap);
	}
}

/* Write `n` bytes, running the loop while the socket is full; stop early if
 * the server no longer reads (it answered, or closed). */
static void
send_all(int fd, const uint8_t *p, size_t n)
{
	int stalls = 0;

	while (n > 0 && stalls < MAX_ROUNDS) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno != EAGAIN)
			return;
		if (w <= 0) {
			stalls++;
			event_base_loop(base, EVLOOP_NONBLOCK);
			if (!drain_peer(fd))
				return;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
check_printable(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		CHECK(*s >= 0x20 && *s <= 0x7e);
}

/* The number of workers a Command selects (all when it names no group);
 * -1 if it names an unknown group. */
static long
selected(const Execrpc__V1__Command *c)
{
	bool sel[2] = { c->n_groups == 0, c->n_groups == 0 };
	long n = 0;

	for (size_t i = 0; i < c->n_groups; i++) {
		size_t g;

		for (g = 0; g < cfg.n_groups; g++)
			if (strcmp(cfg.groups[g].name, c->groups[i]) == 0)
				break;
		if (g == cfg.n_groups)
			return -1;
		sel[g] = true;
	}
	for (size_t g = 0; g < cfg.n_groups; g++)
		if (sel[g])
			n += cfg.groups[g].workers;
	return n;
}

/* The reply `r` against the command in `in` (the client's bytes). */
static void
check_reply(const uint8_t *in, size_t len, const Execrpc__V1__Reply *r)
{
	uint32_t need = len >= XR_FRAME_PREFIX_LEN ? xr_frame_get_len(in) : 0;
	Execrpc__V1__Command *c;
	long nsel;

	check_printable(r->error_message);
	if (r->call != NULL)
		check_printable(r->call->status_message);
	if (need > XR_CTL_MAX_COMMAND) {
		CHECK(r->error_code == XR_ERR_OVERSIZED && r->call == NULL);
		return;
	}
	CHECK(len >= XR_FRAME_PREFIX_LEN + (size_t)need);
	c = execrpc__v1__command__unpack(NULL, need, in + XR_FRAME_PREFIX_LEN);
	if (c == NULL) {
		CHECK(r->error_code == XR_ERR_MALFORMED);
		return;
	}
	nsel = selected(c);
	switch (c->type) {
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS:
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS:
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN:
		if (nsel < 0)
			CHECK(r->error_code == XR_ERR_INVALID_ARG);
		else
			CHECK(r->error_code == XR_OK &&
			    r->n_workers == (size_t)nsel);
		break;
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP:
		CHECK(r->error_code == (c->n_groups == 0 ? XR_OK :
		    XR_ERR_INVALID_ARG));
		CHECK(r->n_stop_events == 0);
		break;
	case EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL:
		if (c->n_groups != 0) {
			CHECK(r->error_code == XR_ERR_INVALID_ARG &&
			    r->call == NULL);
		} else {
			CHECK(r->error_code == XR_OK && r->call != NULL &&
			    r->call->status_code != 0);
		}
		break;
	default:
		CHECK(r->error_code == XR_ERR_INVALID_ARG);
		break;
	}
	for (size_t i = 0; i < r->n_workers; i++) {
		const Execrpc__V1__WorkerStatus *w = r->workers[i];

		CHECK(w->state == (Execrpc__V1__WorkerState)XR_WORKER_STOPPED &&
		    w->pid == 0);
	}
	execrpc__v1__command__free_unpacked(c, NULL);
}

/* Whether the client's bytes hold a complete frame or an over-limit prefix
 * (the server must answer those). */
static bool
must_answer(const uint8_t *in, size_t len)
{
	uint32_t need;

	if (len < XR_FRAME_PREFIX_LEN)
		return false;
	need = xr_frame_get_len(in);
	return need > XR_CTL_MAX_COMMAND ||
	    len - XR_FRAME_PREFIX_LEN >= need;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xr_supervisor_opts o = { 0 };
	xr_supervisor *s;
	Execrpc__V1__Reply *r;
	size_t split;
	int sv[2], rounds = 0;
	bool open = true;
	xr_diag d;

	if (size < 1 || size > 2 * XR_CTL_MAX_COMMAND)
		return 0;
	if (base == NULL)
		setup();
	o.cfg = &cfg;
	o.keys = &keys;
	CHECK((s = xr_supervisor_new(base, &o, &d)) != NULL);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == 0);
	CHECK(xr__ctl_conn_open(s, sv[0]) == XR_OK);
	reply_len = 0;
	split = (size - 1) * data[0] / 255;
	send_all(sv[1], data + 1, split);
	event_base_loop(base, EVLOOP_NONBLOCK);
	open = drain_peer(sv[1]);
	send_all(sv[1], data + 1 + split, size - 1 - split);
	shutdown(sv[1], SHUT_WR);
	while (!TAILQ_EMPTY(&s->ctl_conns) || open) {
		CHECK(++rounds <= MAX_ROUNDS);
		event_base_loop(base, EVLOOP_NONBLOCK);
		open = drain_peer(sv[1]);
	}
	close(sv[1]);
	xr_supervisor_free(s);

	if (reply_len == 0) {
		CHECK(!must_answer(data + 1, size - 1));
		return 0;
	}
	CHECK(reply_len >= XR_FRAME_PREFIX_LEN);
	CHECK(xr_frame_get_len(reply) <= XR_CTL_MAX_REPLY &&
	    reply_len == XR_FRAME_PREFIX_LEN + xr_frame_get_len(reply));
	r = execrpc__v1__reply__unpack(NULL, reply_len - XR_FRAME_PREFIX_LEN,
	    reply + XR_FRAME_PREFIX_LEN);
	CHECK(r != NULL);
	check_reply(data + 1, size - 1, r);
	execrpc__v1__reply__free_unpacked(r, NULL);
	return 0;
}
