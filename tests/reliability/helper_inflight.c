/* tests/reliability/helper_inflight.c — the recording service, the
 * supervised group, rounds of calls with a worker SIGKILLed in the middle
 * (helper_inflight.h). */
#include "helper_inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "test/v1/test.pb-c.h"
#include "test/v1/test.xr.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------- the recording service (runs in the workers) ---------- */

struct ki_state {
	int fd;			/* apps.inflight.log, O_APPEND */
};

struct ki_pending {
	xr_call *call;
	char *text;
	struct event ev;
};

static void
ki_reply(xr_call *call, const char *text)
{
	Test__V1__SayResponse resp = TEST__V1__SAY_RESPONSE__INIT;

	resp.text = (char *)(uintptr_t)text;
	resp.worker_pid = (uint64_t)getpid();
	test_v1_Echo_Say_reply(call, &resp);
}

static void
pending_free(struct ki_pending *p)
{
	event_del(&p->ev);
	free(p->text);
	free(p);
}

static void
pending_due(evutil_socket_t fd, short what, void *arg)
{
	struct ki_pending *p = arg;

	(void)fd;
	(void)what;
	ki_reply(p->call, p->text);
	pending_free(p);
}

static void
pending_cancel(void *arg)
{
	struct ki_pending *p = arg;

	xr_call_fail(p->call, XR_STATUS_CANCELLED, "cancelled");
	pending_free(p);
}

/* Record the execution (one write: one whole line), then answer after
 * delay_ms. */
static void
ki_say(xr_call *call, const Test__V1__SayRequest *req, void *arg)
{
	struct ki_state *st = arg;
	struct ki_pending *p;
	struct timeval tv;
	char line[160];
	int n = snprintf(line, sizeof(line), "%s\n", req->text);

	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    write(st->fd, line, (size_t)n) != n) {
		xr_call_fail(call, XR_STATUS_INTERNAL, "cannot record");
		return;
	}
	if (req->delay_ms == 0) {
		ki_reply(call, req->text);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->text = strdup(req->text)) == NULL) {
		free(p);
		xr_call_fail(call, XR_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	p->call = call;
	tv.tv_sec = req->delay_ms / 1000;
	tv.tv_usec = (suseconds_t)(req->delay_ms % 1000) * 1000;
	event_assign(&p->ev, xr_call_base(call), -1, 0, pending_due, p);
	event_add(&p->ev, &tv);
	xr_call_on_cancel(call, pending_cancel, p);
}

static void
ki_state_free(void *arg)
{
	struct ki_state *st = arg;

	close(st->fd);
	free(st);
}

static struct ki_state *
ki_state_new(const xr_worker_ctx *ctx, xr_diag *d)
{
	const char *path = xr_app_get(ctx->app, "log");
	struct ki_state *st;

	if (path == NULL) {
		xr_diag_set(d, XR_ERR_CONFIG_INVALID, "apps.inflight.log: "
		    "missing (the execution record's path)");
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) < 0) {
		xr_diag_set(d, XR_ERR_SYSTEM, "apps.inflight.log: %s",
		    strerror(errno));
		free(st);
		return NULL;
	}
	return st;
}

static const test_v1_Echo_handlers ki_handlers = { .Say = ki_say };
test_v1_Echo_MODULE_ADD_STATE(ki_add, &ki_handlers, ki_state_new(ctx, d),
    ki_state_free)

static const xr_service_module ki_mods[] = {
	{ .name = test_v1_Echo_SERVICE, .add = ki_add, .app = "inflight" },
};

int
ki_worker_mode(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--worker") == 0)
			return xr_runtime_worker_main(argc, argv, ki_mods, 1);
	return -1;
}

/* ---------- the group ---------- */

static void
on_worker(void *arg, const xr_worker_info *w, int err, const char *reason)
{
	ki_ctx *k = arg;

	if (err == XR_OK && strcmp(reason, "ready") == 0 && w->index < 2) {
		k->pid[w->index] = w->pid;
		k->ready_ms[w->index] = now_ms();
		k->ready[w->index]++;
	}
}

static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

int
ki_up(ki_ctx *k)
{
	xr_lifecycle_opts o = { 0 };
	xr_diag d = { 0 };
	char yaml[1024];

	memset(k, 0, sizeof(*k));
	snprintf(k->dir, sizeof(k->dir), "/tmp/xr-inflight-XXXXXX");
	if (mkdtemp(k->dir) == NULL) {
		snprintf(k->why, sizeof(k->why), "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(k->log, sizeof(k->log), "%s/executed", k->dir);
	snprintf(yaml, sizeof(yaml),
	    "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 10, "
	    "graceful_timeout_seconds: 3}\n"
	    "    process_groups:\n"
	    "      - {name: g, workers: 2, restart: on-failure, "
	    "services: [%s]}\n"
	    "apps:\n  inflight:\n    log: %s\n", KI_SERVICE, k->log);
	if ((k->base = event_base_new()) == NULL ||
	    xr_config_load_string(yaml, strlen(yaml), &k->cfg, &d) != XR_OK)
		goto fail;
	o.cfg = &k->cfg;
	o.mods = ki_mods;
	o.n_mods = 1;
	o.on_worker_event = on_worker;
	o.worker_arg = k;
	if ((k->lc = xr_lifecycle_new(k->base, &o, &d)) == NULL ||
	    xr_lifecycle_start(k->lc, &d) != XR_OK ||
	    xr_lifecycle_ready(k->lc, &d) != XR_OK)
		goto fail;
	return 0;
 fail:
	snprintf(k->why, sizeof(k->why), "up: %.200s", d.reason);
	return -1;
}

void
ki_down(ki_ctx *k)
{
	xr_diag d = { 0 };

	if (k->lc != NULL)
		(void)xr_lifecycle_stop(k->lc, &d);
	xr_lifecycle_free(k->lc);
	xr_config_free(&k->cfg);
	if (k->base != NULL)
		event_base_free(k->base);
	unlink(k->log);
	rmdir(k->dir);
}

/* ---------- a round ---------- */

struct ki_call {
	int done, code;
	uint64_t start_ms, done_ms;
};

/* Static: a completion that comes after its round still lands here. */
static struct ki_call calls_[KI_MAX_CALLS];
static unsigned counts_[KI_MAX_CALLS];

static void
call_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct ki_call *c = arg;

	(void)resp;
	(void)len;
	c->done = 1;
	c->code = st->code;
	c->done_ms = now_ms();
}

static size_t
pack_req(const char *text, uint32_t delay_ms, uint8_t *buf, size_t cap)
{
	Test__V1__SayRequest req = TEST__V1__SAY_REQUEST__INIT;

	req.text = (char *)(uintptr_t)text;
	req.delay_ms = delay_ms;
	if (test__v1__say_request__get_packed_size(&req) > cap)
		return 0;
	return test__v1__say_request__pack(&req, buf);
}

/* Count the record's lines: this round's ids into counts_[], the rest
 * into *phantom. Returns the lines of this round. */
static unsigned
read_record(const ki_ctx *k, unsigned round, unsigned calls,
    unsigned *phantom)
{
	FILE *f = fopen(k->log, "r");
	char line[160];
	unsigned r, i, mine = 0;
	char end;

	memset(counts_, 0, sizeof(counts_));
	*phantom = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "r%u-%u%c", &r, &i, &end) == 3 && end == '\n' &&
		    r == round && i < calls) {
			counts_[i]++;
			mine++;
		} else {
			(*phantom)++;
		}
	}
	fclose(f);
	return mine;
}

/* A call after the restart, to the new process: 1 if one of a few round
 * robin picks reached it and came back OK. */
static int
call_new_process(ki_ctx *k, unsigned round, pid_t pid)
{
	uint8_t req[64], *resp = NULL;
	size_t len, rlen = 0;
	char text[32];
	xr_status st;
	Test__V1__SayResponse *m;
	int err, hit = 0;

	snprintf(text, sizeof(text), "after-%u", round);
	len = pack_req(text, 0, req, sizeof(req));
	for (int i = 0; i < 4 && !hit; i++) {
		xr_channel *ch = xr_lifecycle_pick(k->lc, KI_SERVICE, NULL, 0,
		    &err);

		if (xr_call_sync_bytes(ch, KI_METHOD, req, len, &resp, &rlen,
		    5000, &st) == XR_STATUS_OK &&
		    (m = test__v1__say_response__unpack(NULL, rlen, resp)) !=
		    NULL) {
			hit = m->worker_pid == (uint64_t)pid;
			test__v1__say_response__free_unpacked(m, NULL);
		}
		free(resp);
		resp = NULL;
	}
	return hit;
}

static int
all_done(unsigned calls)
{
	for (unsigned i = 0; i < calls; i++)
		if (!calls_[i].done)
			return 0;
	return 1;
}

int
ki_run_round(ki_ctx *k, unsigned round, unsigned calls, uint32_t delay_ms,
    uint32_t timeout_ms, uint32_t slack_ms, unsigned victim, ki_round *out)
{
	xr_worker_info w[2];
	uint8_t req[64];
	char text[32];
	size_t len;
	unsigned ready_before, phantom;
	uint64_t kill_ms, end, over;
	pid_t old;
	int err;

	memset(out, 0, sizeof(*out));
	if (calls > KI_MAX_CALLS || victim > 1 ||
	    xr_lifecycle_workers(k->lc, w, 2) != 2 || w[victim].pid <= 0) {
		snprintf(k->why, sizeof(k->why), "round %u: no worker %u", round,
		    victim);
		return -1;
	}
	if (truncate(k->log, 0) != 0 && errno != ENOENT) {
		snprintf(k->why, sizeof(k->why), "truncate: %s", strerror(errno));
		return -1;
	}
	memset(calls_, 0, sizeof(calls_));
	for (unsigned i = 0; i < calls; i++) {
		snprintf(text, sizeof(text), "r%u-%u", round, i);
		len = pack_req(text, delay_ms, req, sizeof(req));
		calls_[i].start_ms = now_ms();
		xr_call_start(xr_lifecycle_pick(k->lc, KI_SERVICE, NULL, 0, &err),
		    KI_METHOD, req, len, timeout_ms, call_done, &calls_[i]);
	}
	out->calls = calls;
	/* every call running in a worker before the kill */
	end = now_ms() + 5000;
	while ((out->in_flight = read_record(k, round, calls, &phantom)) <
	    calls && now_ms() < end)
		run_for(k->base, 5);
	if (out->in_flight < calls) {
		snprintf(k->why, sizeof(k->why), "round %u: %u of %u calls "
		    "running in a worker after 5 s", round, out->in_flight,
		    calls);
		return -1;
	}
	old = w[victim].pid;
	ready_before = k->ready[victim];
	kill_ms = now_ms();
	kill(old, SIGKILL);
	end = kill_ms + timeout_ms + 15000;
	while (now_ms() < end && !(all_done(calls) &&
	    k->ready[victim] > ready_before))
		run_for(k->base, 5);
	out->restarted = k->ready[victim] > ready_before &&
	    k->pid[victim] != old;
	if (out->restarted)
		out->restart_ms = k->ready_ms[victim] - kill_ms;
	/* the record, then the verdict of each call */
	(void)read_record(k, round, calls, &out->phantom);
	for (unsigned i = 0; i < calls; i++) {
		const struct ki_call *c = &calls_[i];

		out->executed += counts_[i] > 0;
		out->duplicates += counts_[i] > 1;
		if (!c->done) {
			out->lost++;
			continue;
		}
		if (c->code == XR_STATUS_OK) {
			out->ok++;
			out->ok_unexecuted += counts_[i] == 0;
		} else if (c->code == XR_STATUS_UNAVAILABLE) {
			out->unavailable++;
		} else {
			out->other++;
		}
		if (c->done_ms > c->start_ms + timeout_ms) {
			over = c->done_ms - c->start_ms - timeout_ms;
			out->max_over_ms = over > out->max_over_ms ? over :
			    out->max_over_ms;
			out->late += over > slack_ms;
		}
	}
	if (out->restarted)
		out->after_ok = call_new_process(k, round, k->pid[victim]);
	return 0;
}
