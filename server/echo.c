/* server/echo.c — echo.v1.Echo, on the code protoc-gen-execrpc generated
 * (gen/protobuf-c/echo/v1/echo.xr.h). */
#include "echo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "echo/v1/echo.xr.h"
#include "err.h"

struct delayed {
	xr_call *call;
	char *text;
	struct event ev;
};

/* This process's pid for worker_pid, without a getpid(2) per call: asked
 * once, and again after a fork. */
static pid_t self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void
self_forget(void)
{
	self = 0;
}

static void
self_watch(void)
{
	(void)pthread_atfork(NULL, NULL, self_forget);
}

static pid_t
self_pid(void)
{
	(void)pthread_once(&self_once, self_watch);
	if (self == 0)
		self = getpid();
	return self;
}

static void
reply_text(xr_call *call, const char *text)
{
	Echo__V1__SayResponse resp = ECHO__V1__SAY_RESPONSE__INIT;

	resp.text = (char *)(uintptr_t)text;
	resp.worker_pid = (uint64_t)self_pid();
	echo_v1_Echo_Say_reply(call, &resp);
}

static void
delayed_free(struct delayed *d)
{
	event_del(&d->ev);
	free(d->text);
	free(d);
}

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;

	(void)fd;
	(void)what;
	reply_text(d->call, d->text);
	delayed_free(d);
}

static void
delay_cancel(void *arg)
{
	struct delayed *d = arg;

	xr_call_fail(d->call, XR_STATUS_CANCELLED, "cancelled");
	delayed_free(d);
}

void
xr_echo_say(xr_call *call, const Echo__V1__SayRequest *req, void *arg)
{
	struct delayed *d;
	struct timeval tv;

	(void)arg;
	if (req->fail_code != 0) {
		xr_call_fail(call, (int)req->fail_code, "failed as asked");
		return;
	}
	if (req->delay_ms == 0) {
		reply_text(call, req->text);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->text = strdup(req->text)) == NULL) {
		free(d);
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	d->call = call;
	tv.tv_sec = req->delay_ms / 1000;
	tv.tv_usec = (suseconds_t)(req->delay_ms % 1000) * 1000;
	event_assign(&d->ev, xr_call_base(call), -1, 0, delay_cb, d);
	event_add(&d->ev, &tv);
	xr_call_on_cancel(call, delay_cancel, d);
}

static const echo_v1_Echo_handlers handlers = { .Say = xr_echo_say };

int
xr_echo_register(xr_registry *reg)
{
	return echo_v1_Echo_register(reg, &handlers, NULL, NULL);
}

int
xr_echo_module_add(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	(void)ctx;
	return echo_v1_Echo_register(reg, &handlers, NULL, d);
}

const xr_service_module xr_echo_module = XR_ECHO_MODULE_INIT;
