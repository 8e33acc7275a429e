/*
 * tests/supervisor/web_prog.c — the test web process of
 * tests/supervisor/web_ingress.sh: run by execrpc-supervisor as an ingress
 * group (role: ingress), it gets its keys and the workers' table from fd 3
 * (xr_ingress_from_bootstrap) and follows fd 4.
 *
 * Usage: web_prog REPORT_DIR
 * Every 100 ms it makes two calls echo.v1.Echo/Say {text "w<I>-<n>"}
 * through the ingress (round robin: both workers) and appends to
 * REPORT_DIR/web<I>.log one line per outcome:
 *   ok TEXT pid WORKER_PID
 *   err CODE MESSAGE
 * and per update "update GROUP INDEX state S gen G port P"; at boot "env
 * VAR" per variable of its environment and "dumpable N". On STOP it
 * logs "stop drain D", stops its timer, makes one last call that takes
 * 300 ms (a request it was finishing: the workers still serve), then
 * xr_ingress_stop_done(); when STOPPED is sent it logs "last ok|err ..."
 * and "stopped", and exits 0. A bootstrap failure: one line on stderr and
 * exit 8.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>

#include <event2/event.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "execrpc/echo/v1/echo.pb.h"
#include "execrpc/ingress.h"

extern char **environ;

static FILE *logf_;
static xr_ingress *ing;
static struct event_base *base;
static struct event *tick;
static uint64_t seq;
static char last[256] = "last none";

static void
say(const char *text, uint32_t delay_ms, uint8_t *buf, size_t cap,
    size_t *len)
{
	echo_v1_SayRequest rq = echo_v1_SayRequest_init_zero;
	pb_ostream_t os = pb_ostream_from_buffer(buf, cap);

	snprintf(rq.text, sizeof(rq.text), "%s", text);
	rq.delay_ms = delay_ms;
	*len = pb_encode(&os, echo_v1_SayRequest_fields, &rq) ?
	    os.bytes_written : 0;
}

static void
outcome(char *out, size_t cap, const xr_status *st, const uint8_t *resp,
    size_t len)
{
	echo_v1_SayResponse r = echo_v1_SayResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(resp, len);

	if (st->code != XR_STATUS_OK)
		snprintf(out, cap, "err %d %s", st->code, st->message);
	else if (!pb_decode(&is, echo_v1_SayResponse_fields, &r))
		snprintf(out, cap, "err undecodable");
	else
		snprintf(out, cap, "ok %s pid %" PRIu64, r.text, r.worker_pid);
}

static void
call_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	char line[300];

	(void)arg;
	outcome(line, sizeof(line), st, resp, len);
	fprintf(logf_, "%s\n", line);
	fflush(logf_);
}

static void
last_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	char line[240];

	(void)arg;
	outcome(line, sizeof(line), st, resp, len);
	snprintf(last, sizeof(last), "last %s", line);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[128];
	char text[64];
	size_t len;

	(void)fd;
	(void)what;
	(void)arg;
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof(text), "w%u-%" PRIu64,
		    xr_ingress_index(ing), ++seq);
		say(text, 0, buf, sizeof(buf), &len);
		(void)xr_ingress_call_start(ing, "echo.v1.Echo/Say", buf, len,
		    NULL, 0, 5000, call_done, NULL);
	}
}

static void
on_update(void *arg, const xr_ingress_endpoint *ep)
{
	(void)arg;
	fprintf(logf_, "update %s %u state %d gen %u port %u\n", ep->group,
	    ep->index, ep->state, ep->generation, (unsigned)ep->port);
	fflush(logf_);
}

static void
on_stop(void *arg, xr_ingress *in, uint32_t timeout_ms, int drain)
{
	uint8_t buf[128];
	size_t len;

	(void)arg;
	(void)timeout_ms;
	fprintf(logf_, "stop drain %d\n", drain);
	fflush(logf_);
	event_del(tick);
	say("last", 300, buf, sizeof(buf), &len);
	(void)xr_ingress_call_start(in, "echo.v1.Echo/Say", buf, len, NULL, 0,
	    5000, last_done, NULL);
	xr_ingress_stop_done(in);
}

static void
on_stopped(void *arg, xr_ingress *in)
{
	(void)arg;
	(void)in;
	fprintf(logf_, "%s\nstopped\n", last);
	fflush(logf_);
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	xr_ingress_opts o = { 0 };
	struct timeval tv = { 0, 100 * 1000 };
	xr_diag d = { 0 };
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: web_prog REPORT_DIR\n");
		return 64;
	}
	base = event_base_new();
	o.client_name = "web_prog";
	o.on_stop = on_stop;
	o.on_stopped = on_stopped;
	o.on_update = on_update;
	if ((ing = xr_ingress_from_bootstrap(base, &o, &d)) == NULL) {
		fprintf(stderr, "web_prog: %s (code %d): %s\n",
		    xr_err_name(d.code), d.code, d.reason);
		return 8;
	}
	snprintf(path, sizeof(path), "%s/web%u.log", argv[1],
	    xr_ingress_index(ing));
	if ((logf_ = fopen(path, "a")) == NULL)
		return 1;
	fprintf(logf_, "boot %s %u pid %d\n", xr_ingress_group(ing),
	    xr_ingress_index(ing), (int)getpid());
	for (char **e = environ; *e != NULL; e++)
		fprintf(logf_, "env %s\n", *e);
	fprintf(logf_, "dumpable %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	fflush(logf_);
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick, &tv);
	if (xr_ingress_ready(ing, 0) != XR_OK)
		return 1;
	event_base_dispatch(base);
	event_free(tick);
	xr_ingress_free(ing);
	event_base_free(base);
	fclose(logf_);
	return 0;
}
