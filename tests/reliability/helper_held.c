/* tests/reliability/helper_held.c — see helper_held.h. */
#include "helper_held.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "echo.h"
#include "echo/v1/echo.pb-c.h"

/* ---- the child */

struct child {
	struct event_base *base;
	xr_server *srv;
	int rep;
};

/* A call answered later: it keeps the decoded request (the call owns it
 * until it is finished) and answers its text as it is, without a copy,
 * so that the endpoint's memory is what the charge counts. */
struct slow {
	xr_call *call;
	const Echo__V1__SayRequest *req;
	struct event ev;
	TAILQ_ENTRY(slow) link;
};

/* The calls not answered yet ('r' answers them now). */
static TAILQ_HEAD(, slow) slow_calls = TAILQ_HEAD_INITIALIZER(slow_calls);

static void
slow_free(struct slow *w)
{
	event_del(&w->ev);
	TAILQ_REMOVE(&slow_calls, w, link);
	free(w);
}

static void
slow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slow *w = arg;
	Echo__V1__SayResponse resp = ECHO__V1__SAY_RESPONSE__INIT;

	(void)fd;
	(void)what;
	resp.text = w->req->text;
	(void)xr_call_reply(w->call, &resp.base);
	slow_free(w);
}

static void
slow_cancel(void *arg)
{
	struct slow *w = arg;

	(void)xr_call_fail(w->call, XR_STATUS_CANCELLED, "cancelled");
	slow_free(w);
}

static void
big_say(xr_call *call, const ProtobufCMessage *msg, void *arg)
{
	const Echo__V1__SayRequest *req = (const Echo__V1__SayRequest *)msg;
	struct slow *w;
	struct timeval tv;

	(void)arg;
	if (req->delay_ms == 0 || (w = calloc(1, sizeof(*w))) == NULL) {
		xr_echo_say(call, req, NULL);	/* answers at once */
		return;
	}
	w->call = call;
	w->req = req;
	tv.tv_sec = req->delay_ms / 1000;
	tv.tv_usec = (suseconds_t)(req->delay_ms % 1000) * 1000;
	event_assign(&w->ev, xr_call_base(call), -1, 0, slow_cb, w);
	event_add(&w->ev, &tv);
	TAILQ_INSERT_TAIL(&slow_calls, w, link);
	xr_call_on_cancel(call, slow_cancel, w);
}

static void
child_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *ch = arg;
	xr_server_stats st;
	char c;

	(void)what;
	if (read(fd, &c, 1) != 1 || c == 'q') {
		event_base_loopbreak(ch->base);
		return;
	}
	if (c == 'r') {
		while (!TAILQ_EMPTY(&slow_calls))
			slow_cb(-1, 0, TAILQ_FIRST(&slow_calls));
		return;
	}
	xr_server_stats_get(ch->srv, &st);
	if (write(ch->rep, &st, sizeof(st)) != (ssize_t)sizeof(st))
		_exit(3);
}

static int
child_main(const xr_server_opts *o, int ctl, int rep)
{
	struct child ch = { .rep = rep };
	xr_registry *reg;
	struct event *ev;
	xr_keyset ks;
	xr_diag d = { 0 };
	uint16_t port;

	if (xr_keys_derive(ts_master, sizeof(ts_master), XR_KDF_HKDF_SHA256,
	    &ks) != XR_OK || (ch.base = event_base_new()) == NULL ||
	    (reg = xr_registry_new(ch.base)) == NULL ||
	    xr_registry_add_method(reg, TI_METHOD,
	    &echo__v1__say_request__descriptor,
	    &echo__v1__say_response__descriptor, big_say, NULL,
	    XR_SIZE_UNLIMITED, XR_SIZE_UNLIMITED, &d) != XR_OK ||
	    (ch.srv = xr_server_new(ch.base, o, &ks, reg, &d)) == NULL ||
	    xr_server_listen(ch.srv, &d) != XR_OK)
		return 2;
	xr_keyset_wipe(&ks);
	port = xr_server_port(ch.srv);
	if (write(rep, &port, sizeof(port)) != (ssize_t)sizeof(port))
		return 3;
	ev = event_new(ch.base, ctl, EV_READ | EV_PERSIST, child_ctl_cb, &ch);
	event_add(ev, NULL);
	event_base_dispatch(ch.base);
	event_free(ev);
	xr_server_free(ch.srv);
	xr_registry_free(reg);
	event_base_free(ch.base);
	return 0;
}

/* ---- the parent */

static void
read_all(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

void
ti_server_start(ti_server *t, const xr_server_opts *o)
{
	int ctl[2], rep[2];

	assert_int_equal(pipe(ctl), 0);
	assert_int_equal(pipe(rep), 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		close(ctl[1]);
		close(rep[0]);
		signal(SIGPIPE, SIG_IGN);
		_exit(child_main(o, ctl[0], rep[1]));
	}
	close(ctl[0]);
	close(rep[1]);
	t->ctl = ctl[1];
	t->rep = rep[0];
	read_all(t->rep, &t->port, sizeof(t->port));
	assert_int_not_equal(t->port, 0);
}

void
ti_server_stats(ti_server *t, xr_server_stats *st)
{
	assert_int_equal(write(t->ctl, "s", 1), 1);
	read_all(t->rep, st, sizeof(*st));
}

int
ti_server_wait_seen(ti_server *t, uint64_t n, int timeout_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	xr_server_stats st;
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += 10) {
		ti_server_stats(t, &st);
		if (st.calls_started + st.calls_over_budget >= n)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

void
ti_server_release(ti_server *t)
{
	assert_int_equal(write(t->ctl, "r", 1), 1);
}

void
ti_server_stop(ti_server *t)
{
	int status;

	assert_int_equal(write(t->ctl, "q", 1), 1);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(t->ctl);
	close(t->rep);
}

long
ti_proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* The request, packed into a malloc'd buffer. */
static uint8_t *
big_pack(size_t text_len, uint32_t delay_ms, size_t *len)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	uint8_t *buf;
	char *text;

	assert_non_null(text = malloc(text_len + 1));
	memset(text, 'x', text_len);
	text[text_len] = '\0';
	req.text = text;
	req.delay_ms = delay_ms;
	*len = echo__v1__say_request__get_packed_size(&req);
	assert_non_null(buf = malloc(*len));
	assert_int_equal(echo__v1__say_request__pack(&req, buf), *len);
	free(text);
	return buf;
}

size_t
ti_big_payload_len(size_t text_len, uint32_t delay_ms)
{
	size_t len;

	free(big_pack(text_len, delay_ms, &len));
	return len;
}

uint64_t
ti_send_big(ts_peer *p, size_t text_len, uint32_t delay_ms,
    uint32_t timeout_ms)
{
	uint64_t id = p->next_call++;
	size_t plen, len;
	uint8_t *pb = big_pack(text_len, delay_ms, &plen), *f;

	f = ts_seal(p, XR_KIND_REQUEST, TI_METHOD, pb, plen, id, timeout_ms,
	    0, &len);
	assert_int_equal(ts_send_raw(p, f, len), 0);
	free(f);
	free(pb);
	return id;
}
