/* tests/supervisor/helper_sup.c — worker mode, recorders, calls, /proc. */
#include "helper_sup.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "echo.h"
#include "echo/v1/echo.xr.h"
#include "registry.h"
#include "runtime.h"
#include "rx.h"
#include "test/v1/test.xr.h"
#include "worker.h"
#include "worker_chan.h"

/* ---------- the test module table ---------- */

/* test.v1.Probe: Say reports what the worker process sees of itself. */
static void
probe_say(xr_call *call, const Echo__V1__SayRequest *req, void *arg)
{
	Echo__V1__SayResponse r = ECHO__V1__SAY_RESPONSE__INIT;
	struct rlimit rl;
	struct sigaction sa;
	int sig = -1;
	char text[160];

	(void)req;
	(void)arg;
	getrlimit(RLIMIT_CORE, &rl);
	prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
	sigaction(SIGPIPE, NULL, &sa);
	snprintf(text, sizeof(text), "dumpable=%d core=%ld pdeathsig=%d "
	    "sigpipe=%s", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
	    (long)rl.rlim_cur, sig, sa.sa_handler == SIG_IGN ? "ign" : "dfl");
	r.text = text;
	r.worker_pid = (uint64_t)getpid();
	echo_v1_Echo_Say_reply(call, &r);
}

static const echo_v1_Echo_handlers probe_handlers = { .Say = probe_say };
echo_v1_Echo_MODULE_ADD(add_probe, &probe_handlers, NULL)

/* test.v1.Wedge: the loop blocks for good right after READY. */
static void
wedge_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (;;)
		pause();
}

static int
add_wedge(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	static struct event ev;
	struct timeval tv = { 0, 0 };

	/* two priorities; the wedge timer gets the higher one, so it runs in
	 * the loop's first round even if a STOP is already waiting on the
	 * control channel (whose event, made later, gets the default, lower
	 * one): the worker is wedged before it could see any STOP */
	if (event_base_priority_init(ctx->base, 2) != 0)
		return xr_diag_set(d, XR_ERR_INTERNAL, "test.v1.Wedge: no "
		    "event priorities");
	event_assign(&ev, ctx->base, -1, 0, wedge_cb, NULL);
	event_priority_set(&ev, 0);
	event_add(&ev, &tv);
	return xr_echo_module_add(reg, ctx, d);
}

/* test.v1.Stall: registration never returns, so the worker, holding a
 * valid bundle, never reaches READY. */
static int
add_stall(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	(void)reg;
	(void)ctx;
	(void)d;
	for (;;)
		pause();
	return XR_OK;
}

static int
add_empty(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	(void)reg;
	(void)ctx;
	(void)d;
	return XR_OK;
}

/* test.v1.Apps (tests/proto/test/v1/test.proto): Say answers with the
 * apps.probe section the module got, as "key=value;" pairs ("none"
 * without a section). Its check refuses a key named "bad". */
static char apps_seen[TS_APPS_SEEN_MAX];

static void
apps_say(xr_call *call, const Test__V1__SayRequest *req, void *arg)
{
	Test__V1__SayResponse r = TEST__V1__SAY_RESPONSE__INIT;

	(void)req;
	(void)arg;
	r.text = apps_seen;
	r.worker_pid = (uint64_t)getpid();
	test_v1_Apps_Say_reply(call, &r);
}

static int
add_apps(xr_registry *reg, const xr_worker_ctx *ctx, xr_diag *d)
{
	static const test_v1_Apps_handlers h = { .Say = apps_say };

	ts_apps_render(ctx->app, apps_seen, sizeof(apps_seen));
	return test_v1_Apps_register(reg, &h, NULL, d);
}

/* test.v1.Owned: echo.v1.Echo/Say answers "call N" from a state made per
 * registration and owned by the registry; freeing it says so on stderr. */
struct owned {
	unsigned calls;
};

static void
owned_say(xr_call *call, const Echo__V1__SayRequest *req, void *arg)
{
	Echo__V1__SayResponse r = ECHO__V1__SAY_RESPONSE__INIT;
	struct owned *o = arg;
	char text[32];

	(void)req;
	snprintf(text, sizeof(text), "call %u", ++o->calls);
	r.text = text;
	r.worker_pid = (uint64_t)getpid();
	echo_v1_Echo_Say_reply(call, &r);
}

static void
owned_free(void *arg)
{
	struct owned *o = arg;

	fprintf(stderr, "test.v1.Owned: state freed after %u calls\n",
	    o->calls);
	free(o);
}

static const echo_v1_Echo_handlers owned_handlers = { .Say = owned_say };
echo_v1_Echo_MODULE_ADD_STATE(add_owned, &owned_handlers,
    calloc(1, sizeof(struct owned)), owned_free)

static int
check_apps(const xr_app_section *sec, xr_diag *d)
{
	if (xr_app_get(sec, "bad") != NULL)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID,
		    "apps.probe.bad: unknown key (allowed: any other)");
	return XR_OK;
}

void
ts_apps_render(const xr_app_section *sec, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	if (sec == NULL) {
		snprintf(out, cap, "none");
		return;
	}
	for (size_t i = 0; i < sec->n && o < cap; i++) {
		int w = snprintf(out + o, cap - o, "%s=%s;", sec->s[i].key,
		    sec->s[i].value);

		assert_true(w > 0 && (size_t)w < cap - o);
		o += (size_t)w;
	}
}

/* test.v1.Count: Say counts the calls its handler got, this one included,
 * and answers "calls=N". */
static void
count_say(xr_call *call, const Echo__V1__SayRequest *req, void *arg)
{
	static unsigned calls;
	Echo__V1__SayResponse r = ECHO__V1__SAY_RESPONSE__INIT;
	char text[32];

	(void)req;
	(void)arg;
	snprintf(text, sizeof(text), "calls=%u", ++calls);
	r.text = text;
	r.worker_pid = (uint64_t)getpid();
	echo_v1_Echo_Say_reply(call, &r);
}

static const echo_v1_Echo_handlers count_handlers = { .Say = count_say };
echo_v1_Echo_MODULE_ADD(add_count, &count_handlers, NULL)

static const xr_service_module test_modules[] = {
	XR_ECHO_MODULE_INIT,
	{ "test.v1.Probe", add_probe, NULL, NULL },
	{ "test.v1.Wedge", add_wedge, NULL, NULL },
	{ "test.v1.Empty", add_empty, NULL, NULL },
	{ "test.v1.Stall", add_stall, NULL, NULL },
	{ "test.v1.Apps", add_apps, "probe", check_apps },
	{ "test.v1.Owned", add_owned, NULL, NULL },
	{ "test.v1.Count", add_count, NULL, NULL },
};

/* ---------- a hand-made worker that breaks the channel's rules ---------- */

static void
fake_send(xr_wchan *ch, Execrpc__V1__CommandType type, uint32_t port,
    uint64_t request_id)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;

	c.type = type;
	c.port = port;
	c.request_id = request_id;
	if (xr_wchan_send(ch, &c) != XR_OK)
		_exit(3);
}

/*
 * TS_FAKE_SCRIPT on the worker channel, then: STOP -> STOPPED, exit 0.
 * Exit 3 on any set-up failure. No endpoint is started.
 */
static int
fake_worker(int bfd, int cfd)
{
	Execrpc__V1__BootstrapBundle *b;
	const Execrpc__V1__KeyBundle *k;
	uint8_t buf[XR_BUNDLE_MAX], sid[XR_SESSION_ID_LEN];
	xr_keyset ks;
	xr_auth *a;
	xr_wchan ch;
	ssize_t n;
	int status;

	if ((n = recv(bfd, buf, sizeof(buf), 0)) <= 0 ||
	    (b = execrpc__v1__bootstrap_bundle__unpack(NULL, (size_t)n,
	    buf)) == NULL || (k = b->keys) == NULL ||
	    b->control_session_id.len != XR_SESSION_ID_LEN)
		return 3;
	close(bfd);
	memcpy(sid, b->control_session_id.data, sizeof(sid));
	if (xr_keyset_from_keys(k->kdf == EXECRPC__V1__KDF__KDF_NONE ?
	    XR_KDF_NONE : XR_KDF_HKDF_SHA256, k->web_to_exec.data,
	    k->web_to_exec.len, k->exec_to_web.data, k->exec_to_web.len,
	    k->control.data, k->control.len, &ks) != XR_OK ||
	    (a = xr_auth_new(&ks)) == NULL ||
	    xr_wchan_init(&ch, cfd, a, sid, 30) != XR_OK)
		return 3;
	xr_wipe(k->web_to_exec.data, k->web_to_exec.len);
	xr_wipe(k->exec_to_web.data, k->exec_to_web.len);
	xr_wipe(k->control.data, k->control.len);
	execrpc__v1__bootstrap_bundle__free_unpacked(b, NULL);
	xr_wipe(buf, (size_t)n);
	xr_keyset_wipe(&ks);	/* the auth holds its own copy */
	/* TS_FAKE_SCRIPT */
	fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY,
	    TS_FAKE_PORT, 0);
	fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY,
	    TS_FAKE_PORT + 1, 0);
	fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED, 0, 0);
	fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP, 0, 0);
	fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS_REPLY, 0, 999);
	fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL_REPLY, 0, 999);
	fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL, 0, 1);
	for (status = -1; status < 0;) {
		struct pollfd p = { cfd, POLLIN, 0 };
		Execrpc__V1__Command *c = NULL;
		int r;

		if (poll(&p, 1, 30000) != 1) {
			status = 3;
			break;
		}
		if ((r = xr_wchan_recv(&ch, &c)) == XR_ERR_CLOSED)
			status = 1;
		if (r != XR_OK)
			continue;
		if (c->type == EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP) {
			fake_send(&ch, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOPPED,
			    0, 0);
			status = 0;
		}
		execrpc__v1__command__free_unpacked(c, NULL);
	}
	xr_wchan_fini(&ch);
	xr_auth_free(a);
	close(cfd);
	return status;
}

int
ts_worker_mode(int argc, char **argv)
{
	int bfd = -1, cfd = -1, worker = 0, fake = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--worker") == 0)
			worker = 1;
		else if (strcmp(argv[i], "--fake-worker") == 0)
			fake = 1;
		else if (strcmp(argv[i], "--bootstrap-fd") == 0 && i + 1 < argc)
			bfd = atoi(argv[++i]);
		else if (strcmp(argv[i], "--control-fd") == 0 && i + 1 < argc)
			cfd = atoi(argv[++i]);
	}
	if (!worker)
		return -1;
	if (fake)
		return fake_worker(bfd, cfd);
	/* the worker as programs run it: its endpoint from the runtime */
	return xr_runtime_worker_main(argc, argv, test_modules,
	    sizeof(test_modules) / sizeof(test_modules[0]));
}

/* ---------- config, keys ---------- */

void
ts_config(xr_config *cfg, const char *yaml)
{
	xr_diag d = { 0 };
	int r = xr_config_load_string(yaml, strlen(yaml), cfg, &d);

	if (r != XR_OK)
		fail_msg("config: %s", d.reason);
}

void
ts_keys(xr_keyset *ks, uint8_t master[32])
{
	uint8_t m[32];

	assert_int_equal(xr_keys_generate_master(m), XR_OK);
	assert_int_equal(xr_keys_derive(m, sizeof(m), XR_KDF_HKDF_SHA256, ks),
	    XR_OK);
	if (master != NULL)
		memcpy(master, m, sizeof(m));
	xr_wipe(m, sizeof(m));
}

void
ts_ep_keys(const xr_supervisor *s, const xr_worker_info *w, xr_keyset *out)
{
	assert_int_equal(xr_supervisor_endpoint_keys(s, w->group, w->index,
	    w->generation, out), XR_OK);
}

/* ---------- recorders ---------- */

void
ts_on_stop(void *arg, const char *group, xr_stop_mode mode)
{
	ts_rec *r = arg;
	ts_ev *e;

	if (r->n >= TS_MAX_EVENTS)
		return;
	e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->kind = 1;
	snprintf(e->group, sizeof(e->group), "%s", group);
	e->mode = mode;
	e->at_ms = xr_mono_ms();
}

void
ts_on_worker(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	ts_rec *r = arg;
	ts_ev *e;

	if (r->n >= TS_MAX_EVENTS)
		return;
	e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->kind = 0;
	e->w = *w;
	e->err = err;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	e->at_ms = xr_mono_ms();
}

int
ts_stop_count(const ts_rec *r, const char *group, xr_stop_mode mode)
{
	int n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].kind == 1 && strcmp(r->ev[i].group, group) == 0 &&
		    (mode == 0 || r->ev[i].mode == mode))
			n++;
	return n;
}

int
ts_worker_count(const ts_rec *r, int err, const char *reason)
{
	int n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].kind == 0 && r->ev[i].err == err &&
		    (reason == NULL || strcmp(r->ev[i].reason, reason) == 0))
			n++;
	return n;
}

/* ---------- calls ---------- */

const Execrpc__V1__Envelope *
ts_response(ts_peer *p, int timeout_ms, int *closed)
{
	const Execrpc__V1__Envelope *e;

	while ((e = ts_recv(p, timeout_ms, closed)) != NULL &&
	    e->kind != EXECRPC__V1__KIND__KIND_RESPONSE)
		;	/* GOAWAY, PONG */
	return e;
}

int
ts_call(uint16_t port, const xr_keyset *ks, const char *method,
    const uint8_t *req, size_t req_len, int wait_ms, uint8_t **resp,
    size_t *resp_len)
{
	const Execrpc__V1__Envelope *e;
	ts_peer p;
	uint8_t *f;
	size_t len;
	uint64_t id;
	int closed, status;

	*resp = NULL;
	*resp_len = 0;
	ts_peer_open_keys(&p, port, ks);
	ts_handshake(&p);
	id = p.next_call++;
	f = ts_seal(&p, XR_KIND_REQUEST, method, req, req_len, id, 0, 0, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	if ((e = ts_response(&p, wait_ms, &closed)) == NULL)
		fail_msg("%s on port %u: %s", method, (unsigned)port, closed ?
		    "the connection closed" : "no response in time");
	assert_int_equal(e->call_id, id);
	status = e->status != NULL ? (int)e->status->code : XR_STATUS_UNKNOWN;
	if (e->payload.len > 0) {
		assert_non_null(*resp = malloc(e->payload.len));
		memcpy(*resp, e->payload.data, e->payload.len);
		*resp_len = e->payload.len;
	}
	ts_peer_close(&p);
	return status;
}

bool
ts_hello_refused(uint16_t port, const xr_keyset *ks)
{
	ts_peer p;
	uint8_t *f;
	size_t len;
	int frames = -1, closed;

	ts_peer_open_keys(&p, port, ks);
	f = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0, 0, &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	closed = ts_wait_closed(&p, 2000, &frames);
	ts_peer_close(&p);
	return closed == 1 && frames == 0;
}

int
ts_say(uint16_t port, const xr_keyset *ks, const char *text,
    uint32_t delay_ms, char *out, size_t cap, uint64_t *pid)
{
	return ts_say_to(port, ks, "echo.v1.Echo/Say", text, delay_ms, out,
	    cap, pid);
}

int
ts_say_to(uint16_t port, const xr_keyset *ks, const char *method,
    const char *text, uint32_t delay_ms, char *out, size_t cap,
    uint64_t *pid)
{
	Echo__V1__SayRequest req = ECHO__V1__SAY_REQUEST__INIT;
	Echo__V1__SayResponse *resp;
	uint8_t pb[256], *rb;
	size_t rl;
	int status;

	req.text = (char *)(uintptr_t)text;
	req.delay_ms = delay_ms;
	assert_true(echo__v1__say_request__get_packed_size(&req) <= sizeof(pb));
	status = ts_call(port, ks, method, pb,
	    echo__v1__say_request__pack(&req, pb), 5000 + (int)delay_ms, &rb,
	    &rl);
	if (status == XR_STATUS_OK) {
		resp = echo__v1__say_response__unpack(NULL, rl, rb);
		assert_non_null(resp);
		if (out != NULL)
			snprintf(out, cap, "%s", resp->text);
		if (pid != NULL)
			*pid = resp->worker_pid;
		echo__v1__say_response__free_unpacked(resp, NULL);
	}
	free(rb);
	return status;
}

Execrpc__V1__WorkerStatus *
ts_stats(uint16_t port, const xr_keyset *ks)
{
	Execrpc__V1__WorkerStatus *ws;
	uint8_t *rb;
	size_t rl;

	assert_int_equal(ts_call(port, ks, "execrpc.v1.Endpoint/Stats", NULL,
	    0, 5000, &rb, &rl), XR_STATUS_OK);
	ws = execrpc__v1__worker_status__unpack(NULL, rl, rb);
	free(rb);
	assert_non_null(ws);
	return ws;
}

/* ---------- /proc ---------- */

/* pid, ppid and pgrp of /proc/PID/stat (comm may hold spaces). */
static int
proc_stat(pid_t pid, pid_t *ppid, pid_t *pgrp)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;
	int ppid_i, pgrp_i;
	char state;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d %d", &state, &ppid_i, &pgrp_i) != 3)
		return -1;
	*ppid = ppid_i;
	*pgrp = pgrp_i;
	return 0;
}

static size_t
scan(pid_t ppid, pid_t pgid, pid_t *out, size_t cap)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		pid_t pid, pp, pg;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (proc_stat(pid, &pp, &pg) != 0)
			continue;
		if ((ppid > 0 && pp == ppid) || (pgid > 0 && pg == pgid)) {
			if (out != NULL && n < cap)
				out[n] = pid;
			n++;
		}
	}
	closedir(d);
	return n;
}

size_t
ts_children_of(pid_t ppid, pid_t *out, size_t cap)
{
	return scan(ppid, 0, out, cap);
}

size_t
ts_in_pgrp(pid_t pgid)
{
	return scan(0, pgid, NULL, 0);
}

uint8_t *
ts_read_file(const char *path, size_t *len)
{
	uint8_t *buf = malloc(65536);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_non_null(buf);
	*len = 0;
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + *len, 65536 - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	return buf;
}

static bool
memmem_ok(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return m > 0 && memmem(hay, n, needle, m) != NULL;
}

bool
ts_contains_secret(const uint8_t *hay, size_t n, const uint8_t *key,
    size_t klen)
{
	char lo[2 * 64 + 1], up[2 * 64 + 1];

	if (memmem_ok(hay, n, key, klen))
		return true;
	for (size_t i = 0; i < klen && i < 64; i++) {
		snprintf(lo + 2 * i, 3, "%02x", key[i]);
		snprintf(up + 2 * i, 3, "%02X", key[i]);
	}
	return memmem_ok(hay, n, lo, 2 * klen) ||
	    memmem_ok(hay, n, up, 2 * klen) ||
	    /* a leading run is enough to count as a leak */
	    memmem_ok(hay, n, lo, 16) || memmem_ok(hay, n, up, 16) ||
	    memmem_ok(hay, n, key, 8);
}

/* ---------- bundles and hand-started workers ---------- */

uint8_t *
ts_bundle(const xr_keyset *ks, const uint8_t sid[16], const char *service,
    ts_mutate_fn m, size_t *len)
{
	Execrpc__V1__BootstrapBundle b = EXECRPC__V1__BOOTSTRAP_BUNDLE__INIT;
	Execrpc__V1__RuntimeSlice rt = EXECRPC__V1__RUNTIME_SLICE__INIT;
	Execrpc__V1__KeyBundle kb = EXECRPC__V1__KEY_BUNDLE__INIT;
	char *svc[1] = { (char *)(uintptr_t)service };
	uint8_t *buf;

	b.version = 1;
	b.group = "direct";
	b.index = 0;
	b.n_services = 1;
	b.services = svc;
	rt.bind_host = "127.0.0.1";
	rt.max_payload_bytes = 1048576;
	rt.ttl_seconds = 30;
	rt.nonce_cache_size = 1024;
	rt.graceful_timeout_ms = 5000;
	rt.drain_inflight = 1;
	kb.kdf = EXECRPC__V1__KDF__KDF_HKDF_SHA256;
	kb.web_to_exec.data = (uint8_t *)(uintptr_t)ks->k[0].b;
	kb.web_to_exec.len = ks->k[0].len;
	kb.exec_to_web.data = (uint8_t *)(uintptr_t)ks->k[1].b;
	kb.exec_to_web.len = ks->k[1].len;
	kb.control.data = (uint8_t *)(uintptr_t)ks->k[2].b;
	kb.control.len = ks->k[2].len;
	b.runtime = &rt;
	b.keys = &kb;
	b.control_session_id.data = (uint8_t *)(uintptr_t)sid;
	b.control_session_id.len = 16;
	if (m != NULL)
		m(&b);
	*len = execrpc__v1__bootstrap_bundle__get_packed_size(&b);
	assert_non_null(buf = malloc(*len + 1));
	execrpc__v1__bootstrap_bundle__pack(&b, buf);
	return buf;
}

void
ts_child_start(ts_child *c, const uint8_t *const *dgrams, const size_t *lens,
    size_t n)
{
	int boot[2], ctl[2], ep[2];
	struct stat st;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    boot), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    ctl), 0);
	assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		char *argv[] = { "execrpc-worker", "--worker", "--bootstrap-fd",
		    "3", "--control-fd", "4", NULL };
		char *envp[] = { "PATH=/usr/bin:/bin", NULL };
		int b = fcntl(boot[1], F_DUPFD_CLOEXEC, 10);
		int k = fcntl(ctl[1], F_DUPFD_CLOEXEC, 10);

		if (b < 0 || k < 0 || dup2(b, 3) != 3 || dup2(k, 4) != 4 ||
		    dup2(ep[1], 2) != 2)
			_exit(99);
		execve("/proc/self/exe", argv, envp);
		_exit(98);
	}
	assert_int_equal(fstat(boot[1], &st), 0);
	c->boot_ino = (unsigned long)st.st_ino;
	close(boot[1]);
	close(ctl[1]);
	close(ep[1]);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(send(boot[0], dgrams[i], lens[i], MSG_NOSIGNAL),
		    (ssize_t)lens[i]);
	close(boot[0]);
	c->ctl = ctl[0];
	c->err = ep[0];
}

int
ts_child_wait(ts_child *c, int timeout_ms, char *buf, size_t cap)
{
	uint64_t deadline = xr_mono_ms() + (uint64_t)timeout_ms;
	size_t have = 0;
	int st = 0;
	pid_t r;

	for (;;) {
		struct pollfd p = { c->err, POLLIN, 0 };
		uint64_t now = xr_mono_ms();
		ssize_t n;

		assert_true(now < deadline);
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		n = read(c->err, buf + have, cap - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		if (have == cap - 1)
			break;
	}
	buf[have] = '\0';
	while ((r = waitpid(c->pid, &st, 0)) < 0 && errno == EINTR)
		;
	assert_int_equal(r, c->pid);
	close(c->err);
	close(c->ctl);
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

int
ts_has_socket(pid_t pid, unsigned long ino)
{
	char dir[64], path[512], link[128], want[64];
	struct dirent *de;
	DIR *d;
	int found = 0;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0)
			found = 1;
	}
	closedir(d);
	return found;
}
