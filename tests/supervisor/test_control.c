/*
 * tests/supervisor/test_control.c — the lifecycle control socket through a
 * real AF_UNIX socket: STATUS, STATS, DRAIN and STOP round trips with exact
 * fields, the socket's file mode, the peer-credential check, malformed and
 * oversized commands, stale / live / non-socket paths, the socket's
 * directory (issue 11 #8: group/other-writable or another uid's is
 * refused). A client thread talks to the socket while the main thread runs
 * xr_supervisor_run().
 *
 * STATS asks the workers over their worker channels: exact counters after
 * known calls and rejects; with one worker SIGSTOPped the reply comes at the
 * deadline with that worker "no_answer", and the loop keeps serving other
 * commands meanwhile; its late answer is dropped, not mistaken for the next.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl_client.h"
#include "dispatch.h"
#include "frame.h"
#include "helper_sup.h"
#include "rx.h"

static const char yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc: {transport: tcp_local}\n"
    "    bootstrap: {mode: process_supervisor}\n"
    "    lifecycle: {graceful_timeout_seconds: 7}\n"
    "    process_groups:\n"
    "      - {name: ctl, workers: 2, services: [echo.v1.Echo]}\n"
    "      - {name: other, workers: 1, services: [echo.v1.Echo]}\n";

struct client {
	char path[100];
	char dir[64];
	Execrpc__V1__Reply *status, *stats, *bad_group, *bad_type, *drain,
	    *stop;
	int rc[8];
	int malformed_code, malformed_closed;
	int oversized_code;
	char oversized_why[128];
	int peer_result;	/* 0 refused without a reply */
};

static Execrpc__V1__Reply *
call(const char *path, Execrpc__V1__CommandType type, const char *group,
    uint32_t timeout_ms, int *rc)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__Reply *r = NULL;
	char *groups[1] = { (char *)(uintptr_t)group };
	xr_diag d = { 0 };

	c.type = type;
	c.graceful_timeout_ms = timeout_ms;
	c.drain_inflight = 1;
	if (group != NULL) {
		c.n_groups = 1;
		c.groups = groups;
	}
	*rc = xr_ctl_client_call(path, &c, 20000, &r, &d);
	return r;
}

static int
raw_connect(const char *path)
{
	struct sockaddr_un sun = { 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send raw bytes; read one framed Reply; report its error code and whether
 * the server closed afterwards. */
static int
raw_exchange(const char *path, const uint8_t *msg, size_t len, int *closed,
    char *why, size_t cap)
{
	uint8_t buf[4096];
	size_t have = 0;
	int fd = raw_connect(path), code = 1;
	Execrpc__V1__Reply *r;

	if (fd < 0)
		return 1;
	if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return 1;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n <= 0) {
			*closed = 1;
			break;
		}
		have += (size_t)n;
	}
	if (have >= 4 && xr_frame_get_len(buf) == have - 4 &&
	    (r = execrpc__v1__reply__unpack(NULL, have - 4, buf + 4)) != NULL) {
		code = r->error_code;
		if (why != NULL)
			snprintf(why, cap, "%s", r->error_message);
		execrpc__v1__reply__free_unpacked(r, NULL);
	}
	close(fd);
	return code;
}

/* A peer with another uid may not use the socket even when the file mode
 * lets it connect: the SO_PEERCRED check closes it without a reply. */
static int
foreign_peer(const char *path)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		uint8_t msg[8] = { 0, 0, 0, 2, 0x08, 0x01 }, b[16];
		int fd;

		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		if ((fd = raw_connect(path)) < 0)
			_exit(2);
		ssize_t n;

		(void)!send(fd, msg, 6, MSG_NOSIGNAL);
		/* closed unread: end of file or a reset, never a reply */
		n = recv(fd, b, sizeof(b), 0);
		_exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 1);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One call of `method` to the worker at `port`; its gRPC status. */
static int
call_method(uint16_t port, const xr_keyset *ks, const char *method)
{
	uint8_t *resp;
	size_t len;
	int status;

	status = ts_call(port, ks, method, NULL, 0, 5000, &resp, &len);
	free(resp);
	return status;
}

/* Traffic at workers w[0] and w[1] of `sup`, each signed with its
 * endpoint's keys. */
static void
make_traffic(const xr_supervisor *sup, const xr_worker_info *w)
{
	uint16_t port0 = w[0].port, port1 = w[1].port;
	xr_keyset other, k0, k1, *ks = &k1;
	ts_peer p;
	uint8_t *f;
	size_t len;

	ts_ep_keys(sup, &w[0], &k0);
	ts_ep_keys(sup, &w[1], &k1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ts_say(port0, &k0, "t", 0, NULL, 0, NULL),
		    XR_STATUS_OK);
	assert_int_equal(ts_say(port1, ks, "t", 0, NULL, 0, NULL),
	    XR_STATUS_OK);
	assert_int_equal(call_method(port1, ks, "nope.v1.Nope/Nothing"),
	    XR_STATUS_UNIMPLEMENTED);
	ts_keys(&other, NULL);
	assert_true(ts_hello_refused(port1, &other));
	xr_keyset_wipe(&other);
	/* a REQUEST with call_id 0 after HELLO: closed, one protocol_error
	 * (issue 11 #11), no call, no reject */
	ts_peer_open_keys(&p, port1, ks);
	ts_handshake(&p);
	f = ts_seal(&p, XR_KIND_REQUEST, "echo.v1.Echo/Say", NULL, 0, 0, 0, 0,
	    &len);
	assert_int_equal(ts_send_raw(&p, f, len), 0);
	free(f);
	assert_int_equal(ts_wait_closed(&p, 5000, NULL), 1);
	ts_peer_close(&p);
	xr_keyset_wipe(&k0);
	xr_keyset_wipe(&k1);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	uint8_t garbage[9] = { 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t huge[4];	/* one byte over XR_CTL_MAX_COMMAND announced */

	c->status = call(c->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS,
	    NULL, 0, &c->rc[0]);
	c->stats = call(c->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS,
	    "ctl", 0, &c->rc[1]);
	c->bad_group = call(c->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS,
	    "nope", 0, &c->rc[2]);
	c->bad_type = call(c->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_READY,
	    NULL, 0, &c->rc[3]);
	c->malformed_code = raw_exchange(c->path, garbage, sizeof(garbage),
	    &c->malformed_closed, NULL, 0);
	{
		int closed = 0;

		xr_frame_put_len(huge, XR_CTL_MAX_COMMAND + 1);
		c->oversized_code = raw_exchange(c->path, huge, sizeof(huge),
		    &closed, c->oversized_why, sizeof(c->oversized_why));
	}
	/* open the socket to everyone for a moment: only SO_PEERCRED stands
	 * (needs root to become another uid; else not checked) */
	if (geteuid() == 0) {
		chmod(c->dir, 0755);
		chmod(c->path, 0666);
		c->peer_result = foreign_peer(c->path);
		chmod(c->path, 0600);
		chmod(c->dir, 0700);
	}
	c->drain = call(c->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_DRAIN,
	    "other", 0, &c->rc[4]);
	c->stop = call(c->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP,
	    NULL, 2000, &c->rc[5]);
	return NULL;
}

static void
test_control_socket_round_trips(void **state)
{
	xr_supervisor_opts o = { 0 };
	struct event_base *base;
	xr_supervisor *sup;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	ts_rec rec = { 0 };
	xr_worker_info w[8];
	struct client c;
	struct stat st;
	pthread_t thr;
	char tmpl[] = "/tmp/xr-ctl-XXXXXX";
	char *json = NULL;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(chmod(tmpl, 0755), 0);	/* see foreign_peer() */
	snprintf(c.dir, sizeof(c.dir), "%s/run", tmpl);
	snprintf(c.path, sizeof(c.path), "%s/ctl.sock", c.dir);
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	o.cfg = &cfg;
	o.keys = &ks;
	o.on_stop_event = ts_on_stop;
	o.stop_arg = &rec;
	assert_non_null(sup = xr_supervisor_new(base, &o, &d));
	assert_int_equal(xr_supervisor_start_groups(sup, NULL, 0, &d), XR_OK);
	assert_int_equal(xr_supervisor_wait_ready(sup, 20000, &d), XR_OK);
	assert_int_equal(xr_supervisor_workers(sup, w, 8), 3);

	/* known traffic for STATS: ctl[0] 3 calls; ctl[1] 1 call, 1 failed
	 * call (unknown method), 1 HELLO signed with another key, 1 REQUEST
	 * with call_id 0 */
	make_traffic(sup, w);

	/* the parent directory is created 0700; the socket is 0600 */
	assert_int_equal(xr_supervisor_control_listen(sup, c.path, &d), XR_OK);
	assert_int_equal(stat(c.dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(c.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(pthread_create(&thr, NULL, client_main, &c), 0);
	assert_int_equal(xr_supervisor_run(sup, &d), XR_OK);
	pthread_join(thr, NULL);

	/* STATUS: every worker, exact fields */
	assert_int_equal(c.rc[0], XR_OK);
	assert_non_null(c.status);
	assert_int_equal(c.status->error_code, 0);
	assert_int_equal(c.status->n_workers, 3);
	assert_int_equal(c.status->n_stop_events, 0);
	for (size_t i = 0; i < 3; i++) {
		const Execrpc__V1__WorkerStatus *ws = c.status->workers[i];

		assert_string_equal(ws->group, w[i].group);
		assert_int_equal(ws->index, w[i].index);
		assert_int_equal(ws->pid, w[i].pid);
		assert_int_equal(ws->state,
		    EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY);
		assert_int_equal(ws->port, w[i].port);
		assert_int_equal(ws->restarts, 0);
		assert_int_equal(ws->generation, 1);
		assert_int_equal(ws->last_exit_status, -1);
		assert_int_equal(ws->last_signal, 0);
		assert_int_equal(ws->n_rejects_by_kind, 0);
		assert_int_equal(ws->stats,
		    EXECRPC__V1__STATS_STATE__STATS_STATE_UNSPECIFIED);
	}
	assert_int_equal(xr_ctl_client_reply_json(c.status, &json), XR_OK);
	assert_non_null(strstr(json, "{\"stop_events\":[],\"workers\":[{"
	    "\"generation\":1,\"group\":\"ctl\",\"index\":0,"
	    "\"last_exit_status\":-1,\"last_signal\":0,\"pid\":"));
	free(json);
	/* STATS of one group: each worker's exact counters, read over its
	 * worker channel (asking costs no call) */
	assert_int_equal(c.rc[1], XR_OK);
	assert_int_equal(c.stats->error_code, 0);
	assert_int_equal(c.stats->n_workers, 2);
	for (size_t i = 0; i < 2; i++) {
		const Execrpc__V1__WorkerStatus *ws = c.stats->workers[i];

		assert_string_equal(ws->group, "ctl");
		assert_int_equal(ws->pid, w[i].pid);
		assert_int_equal(ws->stats,
		    EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED);
		assert_int_equal(ws->calls, i == 0 ? 3 : 2);
		assert_int_equal(ws->calls_failed, i == 0 ? 0 : 1);
		assert_int_equal(ws->protocol_errors, i == 0 ? 0 : 1);
		assert_int_equal(ws->n_rejects_by_kind, XR_REJECT_COUNT);
		for (size_t j = 0; j < XR_REJECT_COUNT; j++)
			assert_int_equal(ws->rejects_by_kind[j],
			    i == 1 && j == XR_REJECT_BAD_SIGNATURE ? 1 : 0);
	}
	assert_int_equal(xr_ctl_client_reply_json(c.stats, &json), XR_OK);
	assert_non_null(strstr(json, "{\"calls\":3,\"calls_failed\":0,"
	    "\"generation\":1,\"group\":\"ctl\",\"index\":0,"));
	assert_non_null(strstr(json, "{\"calls\":2,\"calls_failed\":1,"
	    "\"generation\":1,\"group\":\"ctl\",\"index\":1,"));
	assert_non_null(strstr(json, "\"rejects\":{\"bad_signature\":0,"
	    "\"expired\":0,\"kind_not_allowed\":0,\"malformed\":0,"
	    "\"oversized\":0,\"replay\":0},\"restarts\":0,\"state\":"
	    "\"ready\",\"stats\":\"answered\"}"));
	assert_non_null(strstr(json, "\"rejects\":{\"bad_signature\":1,"
	    "\"expired\":0,\"kind_not_allowed\":0,\"malformed\":0,"
	    "\"oversized\":0,\"replay\":0}"));
	for (size_t i = 0; i < 2; i++) {
		char want[96];

		snprintf(want, sizeof(want), "\"port\":%u,\"protocol_errors\""
		    ":%d,\"rejects\":{", (unsigned)w[i].port, i == 0 ? 0 : 1);
		assert_non_null(strstr(json, want));
	}
	free(json);
	/* errors: an error reply, then the connection is closed */
	assert_int_equal(c.rc[2], XR_OK);
	assert_int_equal(c.bad_group->error_code, XR_ERR_INVALID_ARG);
	assert_int_equal(c.rc[3], XR_OK);
	assert_int_equal(c.bad_type->error_code, XR_ERR_INVALID_ARG);
	assert_int_equal(c.malformed_code, XR_ERR_MALFORMED);
	assert_int_equal(c.malformed_closed, 1);
	assert_int_equal(c.oversized_code, XR_ERR_OVERSIZED);
	assert_string_equal(c.oversized_why, "command of 1052673 bytes is "
	    "over the limit of 1052672 bytes");
	/* another uid: refused by SO_PEERCRED, no reply */
	assert_int_equal(c.peer_result, 0);
	/* DRAIN of one group: its worker drains, the others keep serving */
	assert_int_equal(c.rc[4], XR_OK);
	assert_int_equal(c.drain->n_workers, 1);
	assert_string_equal(c.drain->workers[0]->group, "other");
	assert_int_equal(c.drain->workers[0]->state,
	    EXECRPC__V1__WORKER_STATE__WORKER_STATE_DRAINING);
	/* STOP: answered when the stop round is over, with its events */
	assert_int_equal(c.rc[5], XR_OK);
	assert_int_equal(c.stop->error_code, 0);
	assert_int_equal(c.stop->n_stop_events, 2);
	assert_string_equal(c.stop->stop_events[0]->group, "ctl");
	assert_int_equal(c.stop->stop_events[0]->mode,
	    EXECRPC__V1__STOP_MODE__STOP_MODE_GRACEFUL);
	assert_string_equal(c.stop->stop_events[1]->group, "other");
	assert_int_equal(c.stop->stop_events[1]->mode,
	    EXECRPC__V1__STOP_MODE__STOP_MODE_GRACEFUL);
	assert_int_equal(c.stop->n_workers, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(c.stop->workers[i]->state,
		    EXECRPC__V1__WORKER_STATE__WORKER_STATE_STOPPED);
		assert_int_equal(c.stop->workers[i]->pid, 0);
		assert_int_equal(c.stop->workers[i]->last_exit_status, 0);
	}
	assert_int_equal(xr_ctl_client_reply_json(c.stop, &json), XR_OK);
	assert_non_null(strstr(json, "\"stop_events\":[{\"group\":\"ctl\","
	    "\"mode\":\"graceful\"},{\"group\":\"other\",\"mode\":"
	    "\"graceful\"}]"));
	free(json);
	assert_int_equal(ts_stop_count(&rec, "ctl", XR_STOP_GRACEFUL), 1);
	assert_int_equal(ts_stop_count(&rec, "other", XR_STOP_GRACEFUL), 1);

	execrpc__v1__reply__free_unpacked(c.status, NULL);
	execrpc__v1__reply__free_unpacked(c.stats, NULL);
	execrpc__v1__reply__free_unpacked(c.bad_group, NULL);
	execrpc__v1__reply__free_unpacked(c.bad_type, NULL);
	execrpc__v1__reply__free_unpacked(c.drain, NULL);
	execrpc__v1__reply__free_unpacked(c.stop, NULL);
	xr_supervisor_free(sup);
	/* the socket is gone with the supervisor */
	assert_int_not_equal(lstat(c.path, &st), 0);
	assert_int_equal(ts_children_of(getpid(), NULL, 0), 0);
	rmdir(c.dir);
	rmdir(tmpl);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
}

/* ---- STATS never blocks the loop ---- */

struct nb {
	char path[100];
	pid_t stopped;		/* the SIGSTOPped worker */
	Execrpc__V1__Reply *stats, *status, *stats2, *stop;
	int rc[4];
	uint64_t stats_at, stats_ms, status_at, status_ms, stats2_ms;
};

/* STATUS while the STATS is waiting for the stopped worker */
static void *
nb_status_main(void *arg)
{
	struct nb *n = arg;
	uint64_t t0;

	usleep(200 * 1000);
	t0 = xr_mono_ms();
	n->status = call(n->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS,
	    NULL, 0, &n->rc[1]);
	n->status_at = xr_mono_ms();
	n->status_ms = n->status_at - t0;
	return NULL;
}

static void *
nb_client_main(void *arg)
{
	struct nb *n = arg;
	pthread_t thr;
	uint64_t t0;
	int th;

	th = pthread_create(&thr, NULL, nb_status_main, n);
	t0 = xr_mono_ms();
	n->stats = call(n->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS,
	    NULL, 0, &n->rc[0]);
	n->stats_at = xr_mono_ms();
	n->stats_ms = n->stats_at - t0;
	if (th == 0)
		pthread_join(thr, NULL);
	/* the stopped worker answers the first STATS late: dropped, and not
	 * taken for an answer to the next one */
	kill(n->stopped, SIGCONT);
	usleep(300 * 1000);
	t0 = xr_mono_ms();
	n->stats2 = call(n->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STATS,
	    NULL, 0, &n->rc[2]);
	n->stats2_ms = xr_mono_ms() - t0;
	n->stop = call(n->path, EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP,
	    NULL, 5000, &n->rc[3]);
	return NULL;
}

static void
test_control_stats_never_blocks(void **state)
{
	xr_supervisor_opts o = { 0 };
	struct event_base *base;
	xr_supervisor *sup;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	xr_worker_info w[8];
	struct nb n;
	pthread_t thr;
	char tmpl[] = "/tmp/xr-ctl-XXXXXX";
	char *json = NULL, *p;

	(void)state;
	memset(&n, 0, sizeof(n));
	assert_non_null(mkdtemp(tmpl));
	snprintf(n.path, sizeof(n.path), "%s/ctl.sock", tmpl);
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	o.cfg = &cfg;
	o.keys = &ks;
	assert_non_null(sup = xr_supervisor_new(base, &o, &d));
	assert_int_equal(xr_supervisor_start_groups(sup, NULL, 0, &d), XR_OK);
	assert_int_equal(xr_supervisor_wait_ready(sup, 20000, &d), XR_OK);
	assert_int_equal(xr_supervisor_workers(sup, w, 8), 3);
	assert_int_equal(xr_supervisor_control_listen(sup, n.path, &d), XR_OK);
	n.stopped = w[1].pid;		/* ctl[1] */
	assert_int_equal(kill(n.stopped, SIGSTOP), 0);

	assert_int_equal(pthread_create(&thr, NULL, nb_client_main, &n), 0);
	assert_int_equal(xr_supervisor_run(sup, &d), XR_OK);
	pthread_join(thr, NULL);

	/* the STATS reply came at the deadline (1000 ms), not later */
	assert_int_equal(n.rc[0], XR_OK);
	assert_int_equal(n.stats->error_code, 0);
	assert_int_equal(n.stats->n_workers, 3);
	if (n.stats_ms < 900 || n.stats_ms > 2500)
		fail_msg("STATS answered after %llu ms (deadline 1000)",
		    (unsigned long long)n.stats_ms);
	for (size_t i = 0; i < 3; i++) {
		const Execrpc__V1__WorkerStatus *ws = n.stats->workers[i];

		assert_int_equal(ws->pid, w[i].pid);
		assert_int_equal(ws->state,
		    EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY);
		if (i == 1) {
			/* the stopped one: asked, no answer, no counters */
			assert_int_equal(ws->stats,
			    EXECRPC__V1__STATS_STATE__STATS_STATE_NO_ANSWER);
			assert_int_equal(ws->n_rejects_by_kind, 0);
			assert_int_equal(ws->calls, 0);
		} else {
			assert_int_equal(ws->stats,
			    EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED);
			assert_int_equal(ws->n_rejects_by_kind,
			    XR_REJECT_COUNT);
		}
	}
	assert_int_equal(xr_ctl_client_reply_json(n.stats, &json), XR_OK);
	assert_non_null(p = strstr(json, "\"stats\":\"no_answer\""));
	assert_null(strstr(p + 1, "\"stats\":\"no_answer\""));	/* once */
	assert_non_null(strstr(json, "{\"generation\":1,\"group\":\"ctl\","
	    "\"index\":1,\"last_exit_status\":-1,\"last_signal\":0,"
	    "\"pid\":"));
	free(json);
	/* meanwhile the loop served a STATUS at once */
	assert_int_equal(n.rc[1], XR_OK);
	assert_int_equal(n.status->error_code, 0);
	assert_int_equal(n.status->n_workers, 3);
	if (n.status_ms > 500 || n.status_at >= n.stats_at)
		fail_msg("STATUS took %llu ms while STATS waited",
		    (unsigned long long)n.status_ms);
	/* the next STATS: every worker answers, promptly */
	assert_int_equal(n.rc[2], XR_OK);
	assert_int_equal(n.stats2->n_workers, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(n.stats2->workers[i]->stats,
		    EXECRPC__V1__STATS_STATE__STATS_STATE_ANSWERED);
	assert_true(n.stats2_ms < 1000);
	/* and the stop is graceful: the stopped worker was continued */
	assert_int_equal(n.rc[3], XR_OK);
	assert_int_equal(n.stop->error_code, 0);
	assert_int_equal(n.stop->n_stop_events, 2);

	execrpc__v1__reply__free_unpacked(n.stats, NULL);
	execrpc__v1__reply__free_unpacked(n.status, NULL);
	execrpc__v1__reply__free_unpacked(n.stats2, NULL);
	execrpc__v1__reply__free_unpacked(n.stop, NULL);
	xr_supervisor_free(sup);
	assert_int_equal(ts_children_of(getpid(), NULL, 0), 0);
	rmdir(tmpl);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
}

static xr_supervisor *
bare_supervisor(struct event_base *base, xr_config *cfg, xr_keyset *ks)
{
	xr_supervisor_opts o = { 0 };
	xr_diag d = { 0 };
	xr_supervisor *s;

	o.cfg = cfg;
	o.keys = ks;
	assert_non_null(s = xr_supervisor_new(base, &o, &d));
	return s;
}

/* Paths: a non-socket file is refused and left alone; a socket someone
 * listens on is refused; a stale socket file is replaced. */
static void
test_control_socket_paths(void **state)
{
	struct event_base *base;
	xr_supervisor *sup;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	struct sockaddr_un sun = { 0 };
	struct stat st;
	char tmpl[] = "/tmp/xr-ctl-XXXXXX", path[64];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/ctl.sock", tmpl);
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	sup = bare_supervisor(base, &cfg, &ks);

	assert_true((fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	assert_int_equal(xr_supervisor_control_listen(sup, path, &d),
	    XR_ERR_INVALID_ARG);
	assert_non_null(strstr(d.reason, "not a socket"));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(unlink(path), 0);

	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(xr_supervisor_control_listen(sup, path, &d),
	    XR_ERR_INVALID_ARG);
	assert_non_null(strstr(d.reason, "in use"));
	close(fd);	/* the file stays: a stale socket */
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(xr_supervisor_control_listen(sup, path, &d), XR_OK);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	xr_supervisor_free(sup);
	assert_int_not_equal(lstat(path, &st), 0);
	rmdir(tmpl);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
}

/* listen at DIR/ctl.sock: the result; no socket file is left on refusal */
static int
listen_in(xr_supervisor *sup, const char *dir, xr_diag *d)
{
	char path[96];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	memset(d, 0, sizeof(*d));
	r = xr_supervisor_control_listen(sup, path, d);
	if (r != XR_OK)
		assert_int_not_equal(lstat(path, &st), 0);
	return r;
}

/* issue 11 #8: the socket's directory. Group/other-writable (sticky or
 * not) or owned by another uid: refused, naming the directory and the
 * problem, nothing bound. A missing one is created 0700; an existing 0700
 * one is used; after the free the socket is gone. */
static void
test_control_socket_dir(void **state)
{
	static const struct { const char *name; mode_t mode; } bad[] = {
		{ "open", 0777 }, { "sticky", 01777 }, { "group", 0770 },
		{ "other", 0703 },
	};
	struct event_base *base;
	xr_supervisor *sup;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	struct stat st;
	char tmpl[] = "/tmp/xr-ctl-XXXXXX", dir[64], want[200], path[96];

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	ts_config(&cfg, yaml);
	ts_keys(&ks, NULL);
	assert_non_null(base = event_base_new());
	sup = bare_supervisor(base, &cfg, &ks);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", tmpl, bad[i].name);
		assert_int_equal(mkdir(dir, 0700), 0);
		assert_int_equal(chmod(dir, bad[i].mode), 0);
		assert_int_equal(listen_in(sup, dir, &d), XR_ERR_INVALID_ARG);
		snprintf(want, sizeof(want), "control socket directory %s is "
		    "group/other-writable (mode %04o)", dir,
		    (unsigned)bad[i].mode);
		assert_string_equal(d.reason, want);
		assert_int_equal(rmdir(dir), 0);
	}
	/* owned by another uid, 0755: only root can set that up */
	snprintf(dir, sizeof(dir), "%s/theirs", tmpl);
	assert_int_equal(mkdir(dir, 0755), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, 65534, 65534), 0);
		assert_int_equal(listen_in(sup, dir, &d), XR_ERR_INVALID_ARG);
		snprintf(want, sizeof(want), "control socket directory %s is "
		    "owned by uid 65534, not by uid 0 or root", dir);
		assert_string_equal(d.reason, want);
	} else {
		print_message("not root: the other-uid directory case "
		    "is not run\n");
	}
	assert_int_equal(rmdir(dir), 0);

	/* a missing directory: created 0700, served, removed at the free */
	snprintf(dir, sizeof(dir), "%s/new", tmpl);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	assert_int_equal(listen_in(sup, dir, &d), XR_OK);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	xr_supervisor_free(sup);
	assert_int_not_equal(lstat(path, &st), 0);
	assert_int_equal(errno, ENOENT);

	/* the same directory, now existing 0700; root-owned 0755 too */
	sup = bare_supervisor(base, &cfg, &ks);
	assert_int_equal(listen_in(sup, dir, &d), XR_OK);
	xr_supervisor_free(sup);
	assert_int_not_equal(lstat(path, &st), 0);
	assert_int_equal(rmdir(dir), 0);
	if (geteuid() == 0) {
		assert_int_equal(mkdir(dir, 0755), 0);
		sup = bare_supervisor(base, &cfg, &ks);
		assert_int_equal(listen_in(sup, dir, &d), XR_OK);
		xr_supervisor_free(sup);
		assert_int_not_equal(lstat(path, &st), 0);
		assert_int_equal(rmdir(dir), 0);
	}
	assert_int_equal(rmdir(tmpl), 0);
	event_base_free(base);
	xr_config_free(&cfg);
	xr_keyset_wipe(&ks);
}

/* The CLI client sees lifecycle_not_ready when nothing listens. */
static void
test_control_no_supervisor(void **state)
{
	Execrpc__V1__Command c = EXECRPC__V1__COMMAND__INIT;
	Execrpc__V1__Reply *r = NULL;
	xr_diag d = { 0 };

	(void)state;
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STATUS;
	assert_int_equal(xr_ctl_client_call("/tmp/xr-ctl-none/ctl.sock", &c,
	    1000, &r, &d), XR_ERR_LIFECYCLE_NOT_READY);
	assert_null(r);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_socket_round_trips),
		cmocka_unit_test(test_control_stats_never_blocks),
		cmocka_unit_test(test_control_socket_paths),
		cmocka_unit_test(test_control_socket_dir),
		cmocka_unit_test(test_control_no_supervisor),
	};
	int r;

	if ((r = ts_worker_mode(argc, argv)) >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
