/*
 * apps/demo/demo.c — execrpc-demo: the main job, narrated.
 *
 *   execrpc-demo --config FILE
 *
 * With a process_supervisor config (tcp_local, one group serving
 * echo.v1.Echo) it: starts the supervisor and its workers through the
 * lifecycle; serves the control socket; sends signed calls through the
 * ingress (round robin, then affinity by key) and prints which worker
 * answered; sends a frame signed with a wrong key to a worker and prints
 * every worker's reject counters (Endpoint/Stats, published to the group as
 * a topic); waits for SIGUSR1 (the script runs `execrpc status`
 * meanwhile); SIGKILLs a worker and keeps calling while it is restarted;
 * then serves the control socket until `execrpc stop` stops the groups
 * gracefully, printing the stop events.
 *
 * The binary is also its own worker: `--worker --bootstrap-fd 3
 * --control-fd 4` runs xr_runtime_worker_main(). It uses the runtime's
 * public API only (runtime/runtime.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "codec.h"
#include "echo.h"
#include "execrpc/echo/v1/echo.pb.h"
#include "execrpc/v1/lifecycle.pb-c.h"
#include "frame.h"
#include "proc.h"
#include "runtime.h"
#include "rx.h"

#define PROG "execrpc-demo"	/* the diagnostics' prefix */

/* What the demo calls: resolved when the lifecycle is made. */
static const char *const calls[] = { "echo.v1.Echo" };

static void
on_stop_event(void *arg, const char *group, xr_stop_mode mode)
{
	(void)arg;
	printf("   stop event: group %s %s\n", group, xr_stop_mode_name(mode));
	fflush(stdout);
}

static void
on_worker_event(void *arg, const xr_worker_info *w, int err,
    const char *reason)
{
	(void)arg;
	if (err != XR_OK)
		printf("   worker %s/%u (pid %d): %s: %s\n", w->group, w->index,
		    (int)w->last_pid, xr_category_name(xr_err_category(err)),
		    reason);
	else if (strcmp(reason, "ready") == 0)
		printf("   worker %s/%u ready: pid %d port %u restarts %u\n",
		    w->group, w->index, (int)w->pid, w->port, w->restarts);
	fflush(stdout);
}

/* One blocking Say through the lifecycle's ingress; prints the outcome. */
static int
say(xr_lifecycle *lc, const char *key, const char *text)
{
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse resp = echo_v1_SayResponse_init_zero;
	xr_status st = { 0 };
	xr_channel *ch;
	int err, code;

	snprintf(req.text, sizeof(req.text), "%s", text);
	if ((ch = xr_lifecycle_pick(lc, "echo.v1.Echo", key,
	    key ? strlen(key) : 0, &err)) == NULL) {
		printf("   %-24s -> no worker: %s\n", text, xr_strerror(err));
		return XR_STATUS_UNAVAILABLE;
	}
	code = xr_call_sync(ch, "echo.v1.Echo/Say", echo_v1_SayRequest_fields,
	    &req, echo_v1_SayResponse_fields, &resp, 2000, &st);
	if (code == XR_STATUS_OK)
		printf("   %-24s -> OK from worker pid %llu\n", text,
		    (unsigned long long)resp.worker_pid);
	else
		printf("   %-24s -> %s: %s\n", text, xr_status_name(code),
		    st.message);
	fflush(stdout);
	return code;
}

/* Send a HELLO signed with a key the workers do not have; the worker must
 * close the connection without answering. */
static void
tampered_hello(uint16_t port)
{
	struct sockaddr_in sin = { 0 };
	uint8_t other[32], nonce[XR_NONCE_LEN], buf[256], b;
	Execrpc__V1__Envelope e;
	xr_keyset ks;
	xr_auth *auth;
	size_t len;
	int fd;
	struct pollfd pfd;

	memset(other, 0x5a, sizeof(other));
	xr_keys_derive(other, sizeof(other), XR_KDF_HKDF_SHA256, &ks);
	auth = xr_auth_new(&ks);
	xr_keyset_wipe(&ks);
	xr_codec_env_init(&e, XR_KIND_HELLO, nonce);
	xr_codec_seal(auth, XR_DIR_WEB_TO_EXEC, &e, buf, sizeof(buf), &len);
	xr_auth_free(auth);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
		printf("   could not send the tampered frame\n");
	} else {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 2000) == 1 && recv(fd, &b, 1, 0) == 0)
			printf("   worker closed the connection without a reply\n");
		else
			printf("   unexpected: the worker did not close\n");
	}
	if (fd >= 0)
		close(fd);
}

/* Every worker's Endpoint/Stats: one topic delivery to each worker of the
 * group hosting echo.v1.Echo, each answer printed. */
static void
print_worker_stats(xr_lifecycle *lc)
{
	Execrpc__V1__StatsRequest req = EXECRPC__V1__STATS_REQUEST__INIT;
	Execrpc__V1__WorkerStatus *ws;
	xr_topic_result *res = NULL;
	xr_topic *tp;
	uint8_t buf[16];
	size_t len = execrpc__v1__stats_request__pack(&req, buf), n = 0;

	if ((tp = xr_transport_topic(xr_lifecycle_transport(lc),
	    "echo.v1.Echo", NULL)) == NULL ||
	    xr_topic_publish_sync(tp, "execrpc.v1.Endpoint/Stats", buf, len,
	    2000, &res, &n) != XR_OK) {
		printf("   stats unavailable\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (res[i].status.code != XR_STATUS_OK ||
		    (ws = execrpc__v1__worker_status__unpack(NULL,
		    res[i].resp_len, res[i].resp)) == NULL) {
			printf("   worker %s/%u: stats unavailable\n",
			    res[i].group, res[i].index);
			continue;
		}
		printf("   worker pid %d: calls %llu, rejects:", ws->pid,
		    (unsigned long long)ws->calls);
		for (size_t k = 0; k < ws->n_rejects_by_kind; k++) /* xr_reject */
			printf("%s %s %llu", k > 0 ? "," : "",
			    xr_reject_name((int)k) != NULL ?
			    xr_reject_name((int)k) : "?",
			    (unsigned long long)ws->rejects_by_kind[k]);
		printf("\n");
		execrpc__v1__worker_status__free_unpacked(ws, NULL);
	}
	xr_topic_results_free(res, n);
	fflush(stdout);
}

static void
usr1_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

/* Serve (control socket, supervision) until SIGUSR1. */
static void
wait_usr1(struct event_base *base, const char *what)
{
	struct event *ev = evsignal_new(base, SIGUSR1, usr1_cb, base);

	printf("== waiting: %s (SIGUSR1 continues)\n", what);
	fflush(stdout);
	evsignal_add(ev, NULL);
	event_base_dispatch(base);
	event_free(ev);
}

static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: execrpc-demo --config FILE\n"
	    "       execrpc-demo --help\n"
	    "\nThe main job, narrated (scripts/demo runs it): with a "
	    "process_supervisor\nconfig (tcp_local, one group serving "
	    "echo.v1.Echo) it starts the workers,\nsends signed calls "
	    "through them, shows a tampered frame rejected, waits\nfor "
	    "SIGUSR1, SIGKILLs a worker while calls continue, then serves "
	    "the\ncontrol socket until `execrpc stop`.\n"
	    "\nservices:\n  echo.v1.Echo\n"
	    "\nexit status: 0 ok, 1..11 the error category "
	    "(2 config_invalid), 64 usage\n");
}

static int
find_port(xr_lifecycle *lc, int index, pid_t *pid)
{
	xr_worker_info w[64];
	size_t n = xr_lifecycle_workers(lc, w, 64);

	for (size_t i = 0; i < n; i++)
		if ((int)w[i].index == index) {
			*pid = w[i].pid;
			return w[i].port;
		}
	return 0;
}

int
main(int argc, char **argv)
{
	xr_lifecycle_opts o = { 0 };
	struct event_base *base;
	xr_lifecycle *lc;
	xr_config cfg;
	xr_diag d = { 0 };
	char text[64];
	pid_t victim = 0;
	uint16_t port;
	int r = XR_OK;

	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return xr_runtime_worker_main(argc, argv, &xr_echo_module, 1);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--config") != 0) {
		usage(stderr);
		return 64;
	}
	/* the supervisor holds keys: no core dumps, not dumpable; closed
	 * pipes are errors */
	if ((r = xr_proc_harden(0, &d)) != XR_OK)
		return xr_diag_print(stderr, PROG, r, &d);
	if ((r = xr_config_load_file(argv[2], &cfg, &d)) != XR_OK)
		return xr_diag_print(stderr, PROG, r, &d);
	base = event_base_new();
	o.cfg = &cfg;
	o.mods = &xr_echo_module;	/* the services it hosts: echo */
	o.n_mods = 1;
	o.ingress_services = calls;
	o.n_ingress_services = 1;
	o.on_stop_event = on_stop_event;
	o.on_worker_event = on_worker_event;

	printf("== start: supervisor, %u workers in group %s (kdf %s, secret %s)\n",
	    cfg.groups[0].workers, cfg.groups[0].name, xr_kdf_name(cfg.kdf),
	    xr_secret_mode_name(cfg.secret_mode));
	fflush(stdout);
	if ((lc = xr_lifecycle_new(base, &o, &d)) != NULL &&
	    (r = xr_lifecycle_start(lc, &d)) == XR_OK)
		/* the keys are derived: no copy of an inline secret stays */
		xr_config_wipe_secret(&cfg);
	if (lc == NULL || r != XR_OK ||
	    (r = xr_lifecycle_ready(lc, &d)) != XR_OK ||
	    (r = xr_lifecycle_control_listen(lc, &d)) != XR_OK) {
		xr_lifecycle_free(lc);
		return xr_diag_print(stderr, PROG, d.code, &d);
	}
	printf("   lifecycle %s; control socket %s\n",
	    xr_lc_state_name(xr_lifecycle_status(lc)), cfg.control_socket);

	printf("== signed calls through the ingress (round robin)\n");
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "hello #%d", i + 1);
		say(lc, NULL, text);
	}
	printf("== affinity: one customer's calls reach one worker\n");
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "customer-528 #%d", i + 1);
		say(lc, "customer-528", text);
	}

	printf("== a frame signed with the wrong key, sent to worker 0\n");
	port = (uint16_t)find_port(lc, 0, &victim);
	tampered_hello(port);
	printf("== reject counters of every worker (execrpc.v1.Endpoint/Stats, "
	    "a topic)\n");
	print_worker_stats(lc);

	wait_usr1(base, "run `execrpc status` now");

	printf("== SIGKILL worker 0 (pid %d) while calls continue\n", (int)victim);
	fflush(stdout);
	kill(victim, SIGKILL);
	for (int i = 0; i < 8; i++) {
		snprintf(text, sizeof(text), "during restart #%d", i + 1);
		say(lc, NULL, text);
		run_for(base, 150);
	}

	printf("== serving the control socket until `execrpc stop`\n");
	fflush(stdout);
	if ((r = xr_lifecycle_run(lc, &d)) != XR_OK)
		xr_diag_print(stderr, PROG, r, &d);	/* then stop anyway */
	if ((r = xr_lifecycle_stop(lc, &d)) != XR_OK)
		xr_diag_print(stderr, PROG, r, &d);
	printf("== stopped: lifecycle %s\n", xr_lc_state_name(xr_lifecycle_status(lc)));
	xr_lifecycle_free(lc);
	xr_config_free(&cfg);
	event_base_free(base);
	return r == XR_OK ? 0 : (int)xr_err_category(r);
}
