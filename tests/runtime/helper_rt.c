/* tests/runtime/helper_rt.c — modules, lifecycle set-up, calls, raw
 * connections. */
#include "helper_rt.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "echo.h"
#include "echo/v1/echo.pb-c.h"
#include "execrpc/v1/lifecycle.pb-c.h"
#include "test/v1/test.xr.h"

/* ---------- modules ---------- */

/* test.v1.Echo/Say (tests/proto/test/v1/test.proto, its generated typed
 * registration): "grow-N" answers N bytes of 'g' (at most 1 MiB);
 * "fail-on-N" fails with fail_code on worker N only; any other text fails
 * with fail_code if set, else is answered. `arg` is the worker's index. */
static void
test_say(xr_call *call, const Test__V1__SayRequest *req, void *arg)
{
	Test__V1__SayResponse resp = TEST__V1__SAY_RESPONSE__INIT;
	unsigned long n = 0;
	char mine[32], *end, *big = NULL;

	snprintf(mine, sizeof(mine), "fail-on-%u", (unsigned)(uintptr_t)arg);
	if (strncmp(req->text, "grow-", 5) == 0) {
		n = strtoul(req->text + 5, &end, 10);
		if (*end != '\0' || n > (1ul << 20) ||
		    (big = malloc(n + 1)) == NULL) {
			xr_call_fail(call, XR_STATUS_INVALID_ARGUMENT,
			    "bad grow-N");
			return;
		}
		memset(big, 'g', n);
		big[n] = '\0';
	} else if (req->fail_code != 0 &&
	    (strncmp(req->text, "fail-on-", 8) != 0 ||
	    strcmp(req->text, mine) == 0)) {
		xr_call_fail(call, (int)req->fail_code, "failed as asked");
		return;
	}
	resp.text = big != NULL ? big : req->text;
	resp.worker_pid = (uint64_t)getpid();
	test_v1_Echo_Say_reply(call, &resp);
	free(big);
}

static const test_v1_Echo_handlers test_handlers = { .Say = test_say };
test_v1_Echo_MODULE_ADD(test_echo_add, &test_handlers,
    (void *)(uintptr_t)ctx->index)

const xr_service_module rt_mods[RT_NMODS] = {
	XR_ECHO_MODULE_INIT,
	test_v1_Echo_MODULE(test_echo_add),
};

int
rt_worker_mode(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--worker") == 0)
			return xr_runtime_worker_main(argc, argv, rt_mods,
			    RT_NMODS);
	return -1;
}

/* ---------- the lifecycle ---------- */

static void
on_phase(void *arg, const char *name)
{
	rt_events *ev = arg;

	strncat(ev->phases, name, sizeof(ev->phases) - strlen(ev->phases) - 2);
	strcat(ev->phases, ",");
}

static void
on_stop(void *arg, const char *group, xr_stop_mode mode)
{
	rt_events *ev = arg;

	(void)group;
	if (mode == XR_STOP_GRACEFUL)
		ev->stop_graceful++;
	else
		ev->stop_forced++;
}

static void
on_worker(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	rt_events *ev = arg;

	if (err == XR_ERR_WORKER_FAILED) {
		ev->failed++;
		ev->last_signal = w->last_signal;
	} else if (err == XR_OK && strcmp(reason, "ready") == 0) {
		ev->ready++;
	}
}

void
rt_new(rt_ctx *r, const char *yaml, const char *worker_exe,
    const char *const *worker_args)
{
	xr_lifecycle_opts o = { 0 };
	xr_diag d = { 0 };

	memset(r, 0, sizeof(*r));
	assert_non_null(r->base = event_base_new());
	if (xr_config_load_string(yaml, strlen(yaml), &r->cfg, &d) != XR_OK)
		fail_msg("config: %s", d.reason);
	o.cfg = &r->cfg;
	o.mods = rt_mods;
	o.n_mods = RT_NMODS;
	o.worker_exe = worker_exe;
	o.worker_args = worker_args;
	o.on_phase = on_phase;
	o.phase_arg = &r->ev;
	o.on_stop_event = on_stop;
	o.stop_arg = &r->ev;
	o.on_worker_event = on_worker;
	o.worker_arg = &r->ev;
	if ((r->lc = xr_lifecycle_new(r->base, &o, &d)) == NULL)
		fail_msg("lifecycle: %s", d.reason);
}

void
rt_up(rt_ctx *r, const char *yaml)
{
	xr_diag d = { 0 };

	rt_new(r, yaml, NULL, NULL);
	if (xr_lifecycle_start(r->lc, &d) != XR_OK ||
	    xr_lifecycle_ready(r->lc, &d) != XR_OK)
		fail_msg("lifecycle up: %s", d.reason);
}

void
rt_free(rt_ctx *r)
{
	xr_lifecycle_free(r->lc);
	xr_config_free(&r->cfg);
	event_base_free(r->base);
}

xr_transport_svc *
rt_transport(const rt_ctx *r)
{
	xr_transport_svc *t = xr_lifecycle_transport(r->lc);

	assert_non_null(t);
	return t;
}

void
rt_run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* ---------- calls ---------- */

static size_t
pack_say(const char *text, uint32_t delay_ms, uint32_t fail_code,
    uint8_t *buf, size_t cap)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;

	req.text = (char *)(uintptr_t)text;
	req.delay_ms = delay_ms;
	req.fail_code = fail_code;
	assert_true(echo__v1__say_request__get_packed_size(&req) <= cap);
	return echo__v1__say_request__pack(&req, buf);
}

uint64_t
rt_say_pid(const uint8_t *resp, size_t len)
{
	Echo__V1__SayResponse *m;
	uint64_t pid;

	assert_non_null(m = echo__v1__say_response__unpack(NULL, len, resp));
	pid = m->worker_pid;
	echo__v1__say_response__free_unpacked(m, NULL);
	return pid;
}

int
rt_say(xr_channel *ch, const char *method, const char *text,
    uint32_t delay_ms, uint32_t fail_code, uint32_t timeout_ms,
    rt_result *out)
{
	static uint8_t buf[1 << 17];
	uint8_t *resp = NULL;
	size_t len, rlen = 0;
	xr_status st;
	Echo__V1__SayResponse *m;

	assert_non_null(ch);
	len = pack_say(text, delay_ms, fail_code, buf, sizeof(buf));
	memset(out, 0, sizeof(*out));
	out->code = xr_call_sync_bytes(ch, method, buf, len, &resp, &rlen,
	    timeout_ms, &st);
	snprintf(out->message, sizeof(out->message), "%s", st.message);
	assert_true(rlen <= sizeof(out->resp));
	if (rlen > 0)
		memcpy(out->resp, resp, rlen);
	out->resp_len = rlen;
	if (out->code == XR_STATUS_OK) {
		assert_non_null(m = echo__v1__say_response__unpack(NULL, rlen,
		    resp));
		snprintf(out->text, sizeof(out->text), "%s", m->text);
		out->pid = m->worker_pid;
		echo__v1__say_response__free_unpacked(m, NULL);
	}
	free(resp);
	return out->code;
}

static void
pending_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	rt_pending *p = arg;

	(void)resp;
	(void)len;
	p->done = 1;
	p->code = st->code;
}

void
rt_start_say(xr_channel *ch, const char *method, uint32_t delay_ms,
    uint32_t timeout_ms, rt_pending *p)
{
	uint8_t buf[64];
	size_t len = pack_say("pending", delay_ms, 0, buf, sizeof(buf));

	assert_non_null(ch);
	memset(p, 0, sizeof(*p));
	xr_call_start(ch, method, buf, len, timeout_ms, pending_cb, p);
}

void
rt_stats_rejects(const xr_topic_result *res,
    uint64_t rejects[XR_REJECT_COUNT], uint64_t *calls)
{
	Execrpc__V1__WorkerStatus *ws;

	assert_int_equal(res->status.code, XR_STATUS_OK);
	assert_non_null(ws = execrpc__v1__worker_status__unpack(NULL,
	    res->resp_len, res->resp));
	assert_int_equal(ws->n_rejects_by_kind, XR_REJECT_COUNT);
	for (size_t i = 0; i < XR_REJECT_COUNT; i++)
		rejects[i] = ws->rejects_by_kind[i];
	*calls = ws->calls;
	execrpc__v1__worker_status__free_unpacked(ws, NULL);
}

/* ---------- raw connections ---------- */

int
rt_raw_send(struct event_base *base, uint16_t port, const uint8_t *buf,
    size_t len)
{
	struct sockaddr_in sin = { 0 };
	struct pollfd pfd;
	uint8_t b;
	ssize_t n;
	int fd, r = -1;

	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (int i = 0; i < 300; i++) {
		if (poll(&pfd, 1, 10) == 1) {
			n = recv(fd, &b, 1, 0);
			r = n == 0 || (n < 0 && errno == ECONNRESET) ? 1 : 0;
			break;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	close(fd);
	return r;
}

int
rt_raw_hello(struct event_base *base, uint16_t port, const xr_keyset *ks,
    int64_t ts_offset_ms)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN], buf[256];
	xr_auth *auth;
	size_t len;

	assert_non_null(auth = xr_auth_new(ks));
	assert_int_equal(xr_codec_env_init(&e, XR_KIND_HELLO, nonce), XR_OK);
	e.ts_ms = (uint64_t)((int64_t)e.ts_ms + ts_offset_ms);
	assert_int_equal(xr_codec_seal(auth, XR_DIR_WEB_TO_EXEC, &e, buf,
	    sizeof(buf), &len), XR_OK);
	xr_auth_free(auth);
	return rt_raw_send(base, port, buf, len);
}
