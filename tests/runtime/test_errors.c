/*
 * tests/runtime/test_errors.c — the errors a new user meets first (issue
 * 10), each with its exact status or code and its exact message: the real
 * endpoint (xr_server) and the real client library on one event_base, and
 * the execrpc-server program ($XR_SERVER_BIN).
 *
 *   wrong key / wrong kdf on the client: UNAUTHENTICATED with the hint, and
 *     the endpoint's rate-limited warning (SEC-IPC-02 seen from both
 *     sides; SEC-IPC-08: the warning holds no key material)
 *   xr_channel_wait_ready's reason
 *   unknown and malformed method names
 *   a non-loopback host on the client (SEC-IPC-07, client side)
 *   execrpc-server with a generated secret: refused
 *   a port already in use: config_invalid (library and program)
 *   a new connection to a draining endpoint: UNAVAILABLE at once
 *
 * The commit that added this file recorded each message as it was before
 * (the "before" column of the report of issue 10).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "codec.h"
#include "echo.h"
#include "echo/v1/echo.pb-c.h"
#include "execrpc/client.h"
#include "helper_rt.h"
#include "keys.h"
#include "log.h"
#include "registry.h"
#include "rx.h"
#include "server.h"

#define SAY "echo.v1.Echo/Say"
/* what the client says when the endpoint closes after its HELLO */
#define REFUSED "handshake refused by 127.0.0.1:%u: it closed the " \
	"connection after our HELLO without answering (secret or kdf " \
	"mismatch? the client needs the endpoint's auth secret and kdf)"
/* what the endpoint logs (at warn) for a HELLO whose tag is wrong */
#define WARNED "endpoint 127.0.0.1:%u refused a handshake: a client's " \
	"HELLO does not verify with this endpoint's keys (does the client " \
	"use another auth secret or kdf?)"
#define DRAINING "endpoint 127.0.0.1:%u is draining (GOAWAY): it takes no " \
	"new calls; call another endpoint, or retry once it restarted"

static const uint8_t master[32] = "0123456789abcdef0123456789abcdef";

/* ---- an endpoint and a client on one base ---- */

struct fx {
	struct event_base *base;
	xr_registry *reg;
	xr_server *srv;
	uint16_t port;
	xr_keyset ks;
};

static void
fx_up(struct fx *f, const xr_server_opts *so)
{
	xr_server_opts o = { 0 };
	xr_diag d = { 0 };

	memset(f, 0, sizeof(*f));
	if (so != NULL)
		o = *so;
	assert_non_null(f->base = event_base_new());
	assert_non_null(f->reg = xr_registry_new(f->base));
	assert_int_equal(xr_echo_register(f->reg), XR_OK);
	assert_int_equal(xr_keys_derive(master, sizeof(master),
	    XR_KDF_HKDF_SHA256, &f->ks), XR_OK);
	if ((f->srv = xr_server_new(f->base, &o, &f->ks, f->reg, &d)) == NULL)
		fail_msg("server: %s", d.reason);
	if (xr_server_listen(f->srv, &d) != XR_OK)
		fail_msg("listen: %s", d.reason);
	f->port = xr_server_port(f->srv);
}

static void
fx_down(struct fx *f)
{
	xr_server_free(f->srv);
	xr_registry_free(f->reg);
	xr_keyset_wipe(&f->ks);
	event_base_free(f->base);
}

/* A channel to 127.0.0.1:port with `ks` (NULL: the endpoint's keys). */
static xr_channel *
fx_channel(struct fx *f, uint16_t port, const xr_keyset *ks,
    uint32_t connect_timeout_ms)
{
	xr_channel_opts o = { 0 };
	xr_channel *ch;
	int err = -99;

	o.host = "127.0.0.1";
	o.port = port != 0 ? port : f->port;
	o.connect_timeout_ms = connect_timeout_ms;
	ch = xr_channel_new_tcp(f->base, &o, ks != NULL ? ks : &f->ks, &err);
	assert_non_null(ch);
	assert_int_equal(err, XR_OK);
	return ch;
}

/* One blocking call with an empty request (a valid SayRequest). */
static int
call(xr_channel *ch, const char *method, uint32_t timeout_ms, xr_status *st,
    uint64_t *elapsed_ms)
{
	uint64_t t0 = xr_mono_ms();
	uint8_t *resp = NULL;
	size_t len = 0;
	int code;

	code = xr_call_sync_bytes(ch, method, NULL, 0, &resp, &len, timeout_ms,
	    st);
	free(resp);
	if (elapsed_ms != NULL)
		*elapsed_ms = xr_mono_ms() - t0;
	return code;
}

/* A loopback port nobody listens on (bound, not listening, then closed). */
static uint16_t
dead_port(void)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* A loopback listener that never accepts; *port gets its port. */
static int
mute_listener(uint16_t *port)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* ---- log capture: lines at warn and above ---- */

static char logbuf[8192];
static int loglines;

static void
capture(void *arg, xr_log_level lvl, const char *line)
{
	(void)arg;
	if (lvl < XR_LOG_WARN)
		return;
	loglines++;
	strncat(logbuf, line, sizeof(logbuf) - strlen(logbuf) - 2);
	strcat(logbuf, "\n");
}

static void
capture_start(void)
{
	logbuf[0] = '\0';
	loglines = 0;
	xr_log_set_sink(capture, NULL);
}

static void
capture_stop(void)
{
	xr_log_set_sink(NULL, NULL);
}

/* ---- wrong key, wrong kdf ---- */

/* A call on a channel with `ks`: UNAUTHENTICATED with the hint. */
static void
refused_call(struct fx *f, const xr_keyset *ks)
{
	xr_channel *ch = fx_channel(f, 0, ks, 0);
	xr_status st;
	char want[256];

	assert_int_equal(call(ch, SAY, 2000, &st, NULL),
	    XR_STATUS_UNAUTHENTICATED);
	snprintf(want, sizeof(want), REFUSED, (unsigned)f->port);
	assert_string_equal(st.message, want);
	xr_channel_free(ch);
}

static void
test_wrong_key_and_kdf(void **state)
{
	static const uint8_t other[32] = "another-secret-0123456789abcdef";
	xr_server_opts so = { 0 };
	xr_server_stats ss;
	struct fx f;
	xr_keyset bad, nokdf;
	xr_channel *ch;
	xr_status st;
	char want[1024], line[300];

	(void)state;
	so.refused_warn_interval_ms = 1500;
	fx_up(&f, &so);
	capture_start();
	assert_int_equal(xr_keys_derive(other, sizeof(other),
	    XR_KDF_HKDF_SHA256, &bad), XR_OK);
	assert_int_equal(xr_keys_derive(master, sizeof(master), XR_KDF_NONE,
	    &nokdf), XR_OK);

	/* another secret, same kdf; the same secret, another kdf; twice
	 * more within the interval: one warning */
	refused_call(&f, &bad);
	refused_call(&f, &nokdf);
	refused_call(&f, &bad);
	snprintf(want, sizeof(want), WARNED "\n", (unsigned)f.port);
	assert_string_equal(logbuf, want);
	assert_int_equal(loglines, 1);

	/* past the interval: the next one is logged with the count of those
	 * that were not */
	rt_run_for(f.base, 1600);
	refused_call(&f, &nokdf);
	snprintf(line, sizeof(line), WARNED "; 2 more since the last warning\n",
	    (unsigned)f.port);
	strcat(want, line);
	assert_string_equal(logbuf, want);
	assert_int_equal(loglines, 2);
	capture_stop();
	xr_server_stats_get(f.srv, &ss);
	assert_int_equal(ss.handshakes_refused, 4);
	assert_int_equal(ss.refused_warnings, 2);
	assert_int_equal(ss.rejects[XR_REJECT_BAD_SIGNATURE], 4);
	/* SEC-IPC-08: nothing of the secret in the warning */
	assert_null(strstr(logbuf, "0123456789abcdef"));
	assert_null(strstr(logbuf, "3031323334353637"));
	assert_null(strstr(logbuf, "MDEyMzQ1Njc4OWFiY2RlZj"));

	/* the right keys still work: the warning is about refusals only */
	ch = fx_channel(&f, 0, NULL, 0);
	assert_int_equal(call(ch, SAY, 2000, &st, NULL), XR_STATUS_OK);
	xr_channel_free(ch);
	xr_keyset_wipe(&bad);
	xr_keyset_wipe(&nokdf);
	fx_down(&f);

	/* the default interval is 10 s: two refusals, one line */
	fx_up(&f, NULL);
	capture_start();
	assert_int_equal(xr_keys_derive(other, sizeof(other),
	    XR_KDF_HKDF_SHA256, &bad), XR_OK);
	refused_call(&f, &bad);
	refused_call(&f, &bad);
	capture_stop();
	assert_int_equal(loglines, 1);
	xr_server_stats_get(f.srv, &ss);
	assert_int_equal(ss.handshakes_refused, 2);
	assert_int_equal(ss.refused_warnings, 1);
	xr_keyset_wipe(&bad);
	fx_down(&f);
}

/* ---- wait_ready ---- */

static void
test_wait_ready_reason(void **state)
{
	static const uint8_t other[32] = "another-secret-0123456789abcdef";
	struct fx f;
	xr_keyset bad;
	xr_channel *ch;
	xr_diag d;
	uint16_t port;
	char want[256];
	int fd;

	(void)state;
	fx_up(&f, NULL);

	/* nobody listens */
	port = dead_port();
	ch = fx_channel(&f, port, NULL, 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(xr_channel_wait_ready_diag(ch, 2000, &d),
	    XR_ERR_CLOSED);
	assert_int_equal(d.code, XR_ERR_CLOSED);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%u failed: "
	    "Connection refused (is the endpoint running, on this port?)",
	    (unsigned)port);
	assert_string_equal(d.reason, want);
	/* the old call: the same code */
	assert_int_equal(xr_channel_wait_ready(ch, 0), XR_ERR_CLOSED);
	xr_channel_free(ch);

	/* handshake refused (wrong key) */
	assert_int_equal(xr_keys_derive(other, sizeof(other),
	    XR_KDF_HKDF_SHA256, &bad), XR_OK);
	ch = fx_channel(&f, 0, &bad, 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(xr_channel_wait_ready_diag(ch, 2000, &d),
	    XR_ERR_BAD_SIGNATURE);
	snprintf(want, sizeof(want), REFUSED, (unsigned)f.port);
	assert_string_equal(d.reason, want);
	assert_int_equal(xr_channel_wait_ready(ch, 0), XR_ERR_BAD_SIGNATURE);
	xr_channel_free(ch);
	xr_keyset_wipe(&bad);

	/* a listener that never answers: the channel's connect timeout */
	fd = mute_listener(&port);
	ch = fx_channel(&f, port, NULL, 200);
	memset(&d, 0, sizeof(d));
	assert_int_equal(xr_channel_wait_ready_diag(ch, 2000, &d),
	    XR_ERR_READY_TIMEOUT);
	snprintf(want, sizeof(want), "no HELLO_ACK from 127.0.0.1:%u within "
	    "200 ms (connect_timeout_ms): is an execrpc endpoint listening "
	    "there?", (unsigned)port);
	assert_string_equal(d.reason, want);
	assert_false(xr_channel_is_usable(ch));
	xr_channel_free(ch);
	/* ... and wait_ready's own timeout, shorter: still trying */
	ch = fx_channel(&f, port, NULL, 2000);
	memset(&d, 0, sizeof(d));
	assert_int_equal(xr_channel_wait_ready_diag(ch, 100, &d),
	    XR_ERR_READY_TIMEOUT);
	snprintf(want, sizeof(want), "handshake to 127.0.0.1:%u not done "
	    "within 100 ms (still trying until connect_timeout_ms)",
	    (unsigned)port);
	assert_string_equal(d.reason, want);
	assert_true(xr_channel_is_usable(ch));
	xr_channel_free(ch);
	close(fd);

	/* no channel at all */
	memset(&d, 0, sizeof(d));
	assert_int_equal(xr_channel_wait_ready_diag(NULL, 0, &d),
	    XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "no channel");
	fx_down(&f);
}

/* ---- method names ---- */

struct local_res {
	int n, code;
	char msg[256];
};

static void
local_done(void *arg, int code, const char *msg, const uint8_t *resp,
    size_t len)
{
	struct local_res *r = arg;

	(void)resp;
	(void)len;
	r->n++;
	r->code = code;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void
test_method_names(void **state)
{
	struct fx f;
	xr_channel *ch, *mem;
	xr_local_target t;
	struct local_res lr;
	xr_status st;

	(void)state;
	fx_up(&f, NULL);
	t = xr_registry_local_target(f.reg);
	ch = fx_channel(&f, 0, NULL, 0);
	assert_non_null(mem = xr_channel_new_memory(f.base, &t));

	/* unknown: tcp_local and memory answer the same */
	assert_int_equal(call(ch, "kv.v1.Kv/Putt", 2000, &st, NULL),
	    XR_STATUS_UNIMPLEMENTED);
	assert_string_equal(st.message, "unknown method \"kv.v1.Kv/Putt\": "
	    "this endpoint serves no such method (check the name, and which "
	    "services the worker hosts)");
	assert_int_equal(call(mem, "kv.v1.Kv/Putt", 2000, &st, NULL),
	    XR_STATUS_UNIMPLEMENTED);
	assert_string_equal(st.message, "unknown method \"kv.v1.Kv/Putt\": "
	    "this endpoint serves no such method (check the name, and which "
	    "services the worker hosts)");

	/* malformed: refused by the client before anything is sent */
	assert_int_equal(call(ch, "kvPut", 2000, &st, NULL),
	    XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "malformed method name \"kvPut\": "
	    "expected \"package.Service/Method\", e.g. \"echo.v1.Echo/Say\"");
	assert_int_equal(call(mem, "kv.v1.Kv/", 2000, &st, NULL),
	    XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "malformed method name \"kv.v1.Kv/\": "
	    "expected \"package.Service/Method\", e.g. \"echo.v1.Echo/Say\"");
	assert_int_equal(call(ch, "", 2000, &st, NULL),
	    XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "no method name: give it as "
	    "\"package.Service/Method\"");

	/* malformed, reaching the registry (a client that does not check) */
	memset(&lr, 0, sizeof(lr));
	assert_null(t.start(t.arg, "kvPut", NULL, 0, 0, local_done, &lr));
	assert_int_equal(lr.n, 1);
	assert_int_equal(lr.code, XR_STATUS_UNIMPLEMENTED);
	assert_string_equal(lr.msg, "malformed method name \"kvPut\": "
	    "expected \"package.Service/Method\"");
	/* a name that is not printable is shown escaped */
	memset(&lr, 0, sizeof(lr));
	assert_null(t.start(t.arg, "kv.v1.Kv/P\"u\nt", NULL, 0, 0,
	    local_done, &lr));
	assert_int_equal(lr.code, XR_STATUS_UNIMPLEMENTED);
	assert_string_equal(lr.msg, "unknown method \"kv.v1.Kv/P\\\"u\\x0at\": "
	    "this endpoint serves no such method (check the name, and which "
	    "services the worker hosts)");

	xr_channel_free(mem);
	xr_channel_free(ch);
	fx_down(&f);
}

/* ---- non-loopback host on the client (SEC-IPC-07, client side) ---- */

static void
test_client_non_loopback(void **state)
{
	struct fx f;
	xr_channel_opts o = { 0 };
	xr_diag d = { 0 };
	int err = 0;

	(void)state;
	fx_up(&f, NULL);
	o.host = "10.0.0.1";
	o.port = f.port;
	assert_null(xr_channel_new_tcp_diag(f.base, &o, &f.ks, &d));
	assert_int_equal(d.code, XR_ERR_INVALID_ARG);
	assert_string_equal(d.reason, "host \"10.0.0.1\" is not a loopback "
	    "address: tcp_local connects only to 127.0.0.0/8, ::1 or localhost "
	    "(run the client on the endpoint's machine)");
	/* the old constructor: the code only */
	assert_null(xr_channel_new_tcp(f.base, &o, &f.ks, &err));
	assert_int_equal(err, XR_ERR_INVALID_ARG);
	fx_down(&f);
}

/* ---- a port in use: the library ---- */

static void
test_port_in_use_library(void **state)
{
	struct fx f;
	xr_server_opts o = { 0 };
	xr_server *s2;
	xr_diag d = { 0 };
	char want[200];

	(void)state;
	fx_up(&f, NULL);
	o.bind_port = f.port;
	assert_non_null(s2 = xr_server_new(f.base, &o, &f.ks, f.reg, &d));
	assert_int_equal(xr_server_listen(s2, &d), XR_ERR_CONFIG_INVALID);
	assert_int_equal(d.code, XR_ERR_CONFIG_INVALID);
	snprintf(want, sizeof(want), "runtime.platform.execution_ipc.bind_port "
	    "%u: address already in use on 127.0.0.1 (another process listens "
	    "there: stop it, or choose another port, or 0 for an ephemeral "
	    "one)", (unsigned)f.port);
	assert_string_equal(d.reason, want);
	xr_server_free(s2);
	fx_down(&f);
}

/* ---- a new connection to a draining endpoint ---- */

static void
drained(void *arg)
{
	(*(int *)arg)++;
}

struct pend {
	int done, code;
};

static void
pend_cb(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct pend *p = arg;

	(void)resp;
	(void)len;
	p->done = 1;
	p->code = st->code;
}

/* A connection made to a drained endpoint, and to one still draining (a
 * call in flight): UNAVAILABLE at once, long before the call's deadline;
 * the call in flight completes; the drain ends. */
static void
test_draining_new_connection(void **state)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	struct fx f;
	xr_channel *ch, *busy;
	xr_status st;
	xr_diag d = { 0 };
	struct pend p = { 0 };
	uint8_t buf[32];
	char want[256];
	uint64_t ms;
	int done = 0;

	(void)state;
	fx_up(&f, NULL);
	snprintf(want, sizeof(want), DRAINING, (unsigned)f.port);

	/* draining with a call in flight */
	busy = fx_channel(&f, 0, NULL, 0);
	assert_int_equal(xr_channel_wait_ready(busy, 2000), XR_OK);
	req.text = "slow";
	req.delay_ms = 1500;
	assert_non_null(xr_call_start(busy, SAY, buf,
	    echo__v1__say_request__pack(&req, buf), 5000, pend_cb, &p));
	rt_run_for(f.base, 50);
	xr_server_drain(f.srv, drained, &done);
	assert_int_equal(done, 0);

	ch = fx_channel(&f, 0, NULL, 0);
	assert_int_equal(call(ch, SAY, 5000, &st, &ms), XR_STATUS_UNAVAILABLE);
	assert_string_equal(st.message, want);
	assert_true(ms < 1000);		/* not its 5 s deadline */
	assert_int_equal(p.done, 0);	/* the old call is still running */
	xr_channel_free(ch);

	/* wait_ready says so too */
	ch = fx_channel(&f, 0, NULL, 0);
	assert_int_equal(xr_channel_wait_ready_diag(ch, 2000, &d),
	    XR_ERR_CLOSED);
	assert_string_equal(d.reason, want);
	xr_channel_free(ch);

	/* the call in flight finishes, then the drain */
	for (int i = 0; i < 400 && (!p.done || done == 0); i++)
		rt_run_for(f.base, 10);
	assert_int_equal(p.done, 1);
	assert_int_equal(p.code, XR_STATUS_OK);
	assert_int_equal(done, 1);
	xr_channel_free(busy);

	/* drained, no connection left: the same, at once */
	ch = fx_channel(&f, 0, NULL, 0);
	assert_int_equal(call(ch, SAY, 5000, &st, &ms), XR_STATUS_UNAVAILABLE);
	assert_string_equal(st.message, want);
	assert_true(ms < 1000);
	xr_channel_free(ch);
	assert_int_equal(done, 1);	/* the callback ran once */
	fx_down(&f);
}

/* Frames (by their prefixes) read from `fd` until EOF; the base runs
 * meanwhile. -1 if no EOF within 2 s. */
static int
frames_until_eof(struct event_base *base, int fd)
{
	uint8_t buf[4096];
	size_t have = 0, off = 0;
	int frames = 0;

	for (int i = 0; i < 200; i++) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 10) != 1)
			continue;
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n <= 0) {
			while (off + 4 <= have) {
				off += 4 + ((size_t)buf[off] << 24 |
				    (size_t)buf[off + 1] << 16 |
				    (size_t)buf[off + 2] << 8 | buf[off + 3]);
				frames++;
			}
			return off == have ? frames : -1;
		}
		have += (size_t)n;
	}
	return -1;
}

/* A raw connection to the endpoint, accepted (the base ran). */
static int
raw_connect(struct fx *f)
{
	struct sockaddr_in sin = { 0 };
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(f->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	rt_run_for(f->base, 50);
	return fd;
}

/* Send a HELLO signed with `ks`. */
static void
raw_hello(int fd, const xr_keyset *ks)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN], hello[256];
	xr_auth *auth;
	size_t len;

	assert_non_null(auth = xr_auth_new(ks));
	assert_int_equal(xr_codec_env_init(&e, XR_KIND_HELLO, nonce), XR_OK);
	assert_int_equal(xr_codec_seal(auth, XR_DIR_WEB_TO_EXEC, &e, hello,
	    sizeof(hello), &len), XR_OK);
	xr_auth_free(auth);
	assert_int_equal(send(fd, hello, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* How the peer ended the connection within 2 s (the base runs): 0 EOF
 * (FIN), 1 reset, -1 neither (or it sent bytes). */
static int
raw_end(struct event_base *base, int fd)
{
	uint8_t b;

	for (int i = 0; i < 200; i++) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (base != NULL)
			event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 10) != 1)
			continue;
		n = recv(fd, &b, 1, 0);
		if (n == 0)
			return 0;
		return n < 0 && errno == ECONNRESET ? 1 : -1;
	}
	return -1;
}

/* A connection accepted before the drain whose HELLO comes after it: it
 * gets HELLO_ACK and GOAWAY, then the close (before: closed at once
 * without a word, which its client would take for a refused handshake).
 * It does not hold the drain. */
static void
test_draining_handshake_in_progress(void **state)
{
	xr_server_stats ss;
	struct fx f;
	int fd, done = 0;

	(void)state;
	fx_up(&f, NULL);
	fd = raw_connect(&f);		/* accepted, waiting for HELLO */
	xr_server_stats_get(f.srv, &ss);
	assert_int_equal(ss.connections_open, 1);
	xr_server_drain(f.srv, drained, &done);
	assert_int_equal(done, 1);	/* no open connection: drained */
	xr_server_stats_get(f.srv, &ss);
	assert_int_equal(ss.connections_open, 1);	/* not dropped */

	raw_hello(fd, &f.ks);
	assert_int_equal(frames_until_eof(f.base, fd), 2);
	close(fd);
	rt_run_for(f.base, 20);
	xr_server_stats_get(f.srv, &ss);
	assert_int_equal(ss.connections_open, 0);
	assert_int_equal(done, 1);
	fx_down(&f);
}

/* What the client's inference rests on: before HELLO_ACK the endpoint
 * closes with a FIN only a connection whose HELLO it refused, and resets
 * every other (handshake timeout, max_connections, endpoint freed). */
static void
test_fin_only_for_refused_hello(void **state)
{
	static const uint8_t other[32] = "another-secret-0123456789abcdef";
	xr_server_opts so = { 0 };
	xr_keyset bad;
	xr_channel *ch;
	xr_status st;
	struct fx f;
	char want[256];
	int fd, fd2;

	(void)state;
	so.handshake_timeout_ms = 100;
	fx_up(&f, &so);

	/* refused HELLO: FIN */
	assert_int_equal(xr_keys_derive(other, sizeof(other),
	    XR_KDF_HKDF_SHA256, &bad), XR_OK);
	fd = raw_connect(&f);
	raw_hello(fd, &bad);
	assert_int_equal(raw_end(f.base, fd), 0);
	close(fd);
	xr_keyset_wipe(&bad);

	/* no HELLO within handshake_timeout_ms: reset */
	fd = raw_connect(&f);
	assert_int_equal(raw_end(f.base, fd), 1);
	close(fd);
	fx_down(&f);

	/* past max_connections (1): reset, also as the client sees it */
	memset(&so, 0, sizeof(so));
	so.max_connections = 1;
	fx_up(&f, &so);
	fd = raw_connect(&f);		/* holds the one slot */
	fd2 = raw_connect(&f);
	assert_int_equal(raw_end(f.base, fd2), 1);
	close(fd2);
	ch = fx_channel(&f, 0, NULL, 0);
	assert_int_equal(call(ch, SAY, 2000, &st, NULL),
	    XR_STATUS_UNAVAILABLE);
	snprintf(want, sizeof(want), "connection reset by 127.0.0.1:%u before "
	    "HELLO_ACK (the endpoint is at max_connections or stopping)",
	    (unsigned)f.port);
	assert_string_equal(st.message, want);
	xr_channel_free(ch);

	/* the endpoint freed with a connection in its handshake: reset */
	xr_server_free(f.srv);
	f.srv = NULL;
	assert_int_equal(raw_end(f.base, fd), 1);	/* (libevent closes the
							 * socket from the loop) */
	close(fd);
	fx_down(&f);
}

/* ---- the execrpc-server program ---- */

struct prog {
	int status;		/* exit status, or 128 + signal */
	char out[512];
	char err[1024];
};

static void
slurp(int fd, char *buf, size_t cap)
{
	size_t n = strlen(buf);
	ssize_t r;

	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/*
 * Run execrpc-server --config `cfg`. If it prints its "listening" line it
 * is running: SIGTERM it. Collect stdout, stderr and the exit status.
 */
static void
run_server(const char *cfg, struct prog *p)
{
	const char *bin = getenv("XR_SERVER_BIN");
	int po[2], pe[2], st;
	pid_t pid;
	struct pollfd pfd;

	assert_non_null(bin);
	memset(p, 0, sizeof(*p));
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execl(bin, bin, "--config", cfg, (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	pfd.fd = po[0];
	pfd.events = POLLIN;
	/* the first stdout line, or EOF (it exited) */
	if (poll(&pfd, 1, 5000) == 1) {
		char c;
		size_t n = 0;

		while (n + 1 < sizeof(p->out) && read(po[0], &c, 1) == 1) {
			p->out[n++] = c;
			if (c == '\n')
				break;
		}
		p->out[n] = '\0';
	}
	if (p->out[0] != '\0')
		kill(pid, SIGTERM);
	slurp(po[0], p->out, sizeof(p->out));
	slurp(pe[0], p->err, sizeof(p->err));
	close(po[0]);
	close(pe[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct tmp {
	char dir[64], cfg[128], secret[128];
};

static void
tmp_config(struct tmp *t, const char *auth, unsigned port)
{
	FILE *f;

	snprintf(t->dir, sizeof(t->dir), "/tmp/xr-errs-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->secret, sizeof(t->secret), "%s/secret", t->dir);
	snprintf(t->cfg, sizeof(t->cfg), "%s/c.yaml", t->dir);
	assert_non_null(f = fopen(t->secret, "w"));
	fputs("0123456789abcdef0123456789abcdef-errs", f);
	fclose(f);
	assert_int_equal(chmod(t->secret, 0600), 0);
	assert_non_null(f = fopen(t->cfg, "w"));
	fprintf(f, "runtime:\n  platform:\n    execution_ipc:\n"
	    "      transport: tcp_local\n      bind_port: %u\n", port);
	if (strcmp(auth, "static") == 0)
		fprintf(f, "      auth: {secret_mode: static, secret_file: %s}\n",
		    t->secret);
	else if (strcmp(auth, "generated") == 0)
		fprintf(f, "      auth: {secret_mode: generated}\n");
	fclose(f);
}

static void
tmp_clean(struct tmp *t)
{
	unlink(t->secret);
	unlink(t->cfg);
	rmdir(t->dir);
}

static void
test_server_generated_secret(void **state)
{
	struct tmp t;
	struct prog p;
	unsigned port;
	static const char *want = "execrpc-server: config_invalid (code -20): "
	    "runtime.platform.execution_ipc.auth.secret_mode: generated makes a "
	    "secret no client can get; set secret_mode: static and secret_file:"
	    " PATH (mode 0600, 32..4096 bytes), and give the client the same "
	    "secret and kdf\n";

	(void)state;
	/* secret_mode generated, written out, and left to its default */
	tmp_config(&t, "generated", 0);
	run_server(t.cfg, &p);
	assert_string_equal(p.out, "");
	assert_int_equal(p.status, 2);
	assert_string_equal(p.err, want);
	tmp_clean(&t);

	tmp_config(&t, "default", 0);
	run_server(t.cfg, &p);
	assert_string_equal(p.out, "");
	assert_int_equal(p.status, 2);
	assert_string_equal(p.err, want);
	tmp_clean(&t);

	/* static: it runs */
	tmp_config(&t, "static", 0);
	run_server(t.cfg, &p);
	assert_int_equal(sscanf(p.out, "listening 127.0.0.1 %u", &port), 1);
	assert_int_equal(p.status, 0);
	tmp_clean(&t);
}

static void
test_server_port_in_use(void **state)
{
	struct tmp t;
	struct prog p;
	uint16_t port;
	char want[300];
	int fd;

	(void)state;
	fd = mute_listener(&port);
	tmp_config(&t, "static", port);
	run_server(t.cfg, &p);
	close(fd);
	assert_string_equal(p.out, "");
	assert_int_equal(p.status, 2);
	snprintf(want, sizeof(want), "execrpc-server: config_invalid (code "
	    "-20): runtime.platform.execution_ipc.bind_port %u: address already "
	    "in use on 127.0.0.1 (another process listens there: stop it, or "
	    "choose another port, or 0 for an ephemeral one)\n",
	    (unsigned)port);
	assert_string_equal(p.err, want);
	tmp_clean(&t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_key_and_kdf),
		cmocka_unit_test(test_wait_ready_reason),
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_client_non_loopback),
		cmocka_unit_test(test_port_in_use_library),
		cmocka_unit_test(test_draining_new_connection),
		cmocka_unit_test(test_draining_handshake_in_progress),
		cmocka_unit_test(test_fin_only_for_refused_hello),
		cmocka_unit_test(test_server_generated_secret),
		cmocka_unit_test(test_server_port_in_use),
	};
	int r;

	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
