/*
 * tests/runtime/test_errors.c — the errors a new user meets first (issue
 * 10), each with its exact status or code and its exact message: the real
 * endpoint (xr_server) and the real client library on one event_base, and
 * the execrpc-server program ($XR_SERVER_BIN).
 *
 *   wrong key / wrong kdf on the client (SEC-IPC-02 seen from the client)
 *   xr_channel_wait_ready's reason
 *   unknown and malformed method names
 *   a non-loopback host on the client (SEC-IPC-07, client side)
 *   execrpc-server with a generated secret
 *   a port already in use (library and program)
 *   a new connection to a draining endpoint
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

#include "echo.h"
#include "execrpc/client.h"
#include "helper_rt.h"
#include "keys.h"
#include "log.h"
#include "registry.h"
#include "rx.h"
#include "server.h"

#define SAY "echo.v1.Echo/Say"

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

static void
test_wrong_key_and_kdf(void **state)
{
	static const uint8_t other[32] = "another-secret-0123456789abcdef";
	struct fx f;
	xr_keyset bad;
	xr_channel *ch;
	xr_status st;

	(void)state;
	fx_up(&f, NULL);
	capture_start();

	/* another secret, same kdf */
	assert_int_equal(xr_keys_derive(other, sizeof(other),
	    XR_KDF_HKDF_SHA256, &bad), XR_OK);
	ch = fx_channel(&f, 0, &bad, 0);
	assert_int_equal(call(ch, SAY, 2000, &st, NULL),
	    XR_STATUS_UNAVAILABLE);
	assert_string_equal(st.message,
	    "connection closed: closed by the server");
	xr_channel_free(ch);
	xr_keyset_wipe(&bad);

	/* the same secret, another kdf */
	assert_int_equal(xr_keys_derive(master, sizeof(master), XR_KDF_NONE,
	    &bad), XR_OK);
	ch = fx_channel(&f, 0, &bad, 0);
	assert_int_equal(call(ch, SAY, 2000, &st, NULL),
	    XR_STATUS_UNAVAILABLE);
	assert_string_equal(st.message,
	    "connection closed: closed by the server");
	xr_channel_free(ch);
	xr_keyset_wipe(&bad);

	/* nothing at warn on the endpoint's side */
	capture_stop();
	assert_int_equal(loglines, 0);
	assert_string_equal(logbuf, "");
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
	uint16_t port;
	int fd;

	(void)state;
	fx_up(&f, NULL);

	/* nobody listens */
	ch = fx_channel(&f, dead_port(), NULL, 0);
	assert_int_equal(xr_channel_wait_ready(ch, 2000), XR_ERR_CLOSED);
	assert_string_equal(xr_strerror(XR_ERR_CLOSED),
	    "connection or object closed");
	xr_channel_free(ch);

	/* handshake refused (wrong key) */
	assert_int_equal(xr_keys_derive(other, sizeof(other),
	    XR_KDF_HKDF_SHA256, &bad), XR_OK);
	ch = fx_channel(&f, 0, &bad, 0);
	assert_int_equal(xr_channel_wait_ready(ch, 2000), XR_ERR_CLOSED);
	xr_channel_free(ch);
	xr_keyset_wipe(&bad);

	/* a listener that never answers: the channel's connect timeout */
	fd = mute_listener(&port);
	ch = fx_channel(&f, port, NULL, 200);
	assert_int_equal(xr_channel_wait_ready(ch, 2000), XR_ERR_CLOSED);
	xr_channel_free(ch);
	/* ... and wait_ready's own timeout, shorter */
	ch = fx_channel(&f, port, NULL, 2000);
	assert_int_equal(xr_channel_wait_ready(ch, 100), XR_ERR_READY_TIMEOUT);
	assert_string_equal(xr_strerror(XR_ERR_READY_TIMEOUT),
	    "workers not ready before the timeout");
	xr_channel_free(ch);
	close(fd);
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
	assert_string_equal(st.message, "unknown method");
	assert_int_equal(call(mem, "kv.v1.Kv/Putt", 2000, &st, NULL),
	    XR_STATUS_UNIMPLEMENTED);
	assert_string_equal(st.message, "unknown method");

	/* malformed: refused by the client before anything is sent */
	assert_int_equal(call(ch, "kvPut", 2000, &st, NULL),
	    XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "bad method name or request");
	assert_int_equal(call(mem, "kv.v1.Kv/", 2000, &st, NULL),
	    XR_STATUS_INVALID_ARGUMENT);
	assert_string_equal(st.message, "bad method name or request");

	/* malformed, reaching the registry (a client that does not check) */
	memset(&lr, 0, sizeof(lr));
	assert_null(t.start(t.arg, "kvPut", NULL, 0, 0, local_done, &lr));
	assert_int_equal(lr.n, 1);
	assert_int_equal(lr.code, XR_STATUS_UNIMPLEMENTED);
	assert_string_equal(lr.msg, "unknown method");

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
	int err = 0;

	(void)state;
	fx_up(&f, NULL);
	o.host = "10.0.0.1";
	o.port = f.port;
	assert_null(xr_channel_new_tcp(f.base, &o, &f.ks, &err));
	assert_int_equal(err, XR_ERR_INVALID_ARG);
	assert_string_equal(xr_strerror(err), "invalid argument");
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
	assert_int_equal(xr_server_listen(s2, &d), XR_ERR_SYSTEM);
	assert_int_equal(d.code, XR_ERR_SYSTEM);
	snprintf(want, sizeof(want), "bind 127.0.0.1:%u: Address already in use",
	    (unsigned)f.port);
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

static void
test_draining_new_connection(void **state)
{
	struct fx f;
	xr_channel *ch;
	xr_status st;
	uint64_t ms;
	int done = 0;

	(void)state;
	fx_up(&f, NULL);
	xr_server_drain(f.srv, drained, &done);
	assert_int_equal(done, 1);	/* no connection: drained at once */

	ch = fx_channel(&f, 0, NULL, 0);
	assert_int_equal(call(ch, SAY, 500, &st, &ms),
	    XR_STATUS_DEADLINE_EXCEEDED);
	assert_string_equal(st.message, "deadline exceeded");
	assert_true(ms >= 490);		/* it waited for its deadline */
	xr_channel_free(ch);
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

	(void)state;
	/* secret_mode generated, written out, and left to its default */
	tmp_config(&t, "generated", 0);
	run_server(t.cfg, &p);
	assert_int_equal(sscanf(p.out, "listening 127.0.0.1 %u", &port), 1);
	assert_int_equal(p.status, 0);	/* it ran until SIGTERM */
	assert_string_equal(p.err, "");
	tmp_clean(&t);

	tmp_config(&t, "default", 0);
	run_server(t.cfg, &p);
	assert_int_equal(sscanf(p.out, "listening 127.0.0.1 %u", &port), 1);
	assert_int_equal(p.status, 0);
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
	assert_int_equal(p.status, 1);
	snprintf(want, sizeof(want), "execrpc-server: system (code -4): "
	    "bind 127.0.0.1:%u: Address already in use\n", (unsigned)port);
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
		cmocka_unit_test(test_server_generated_secret),
		cmocka_unit_test(test_server_port_in_use),
	};
	int r;

	if ((r = rt_worker_mode(argc, argv)) >= 0)
		return r;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
