/* apps/fundload/web.c — `fundload --from-bootstrap`: the fund-load
 * ingress over xr_ingress_from_bootstrap()'s channels (web.h). */
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "err.h"
#include "execrpc/ingress.h"
#include "ingress.h"
#include "rules.h"
#include "service.h"

#define READY_WAIT_MS 30000

static const char usage[] = "usage: fundload --from-bootstrap [--rules R] "
    "[--window N] [--batch N] [--stats] INPUT OUTPUT\n";

struct web {
	struct event_base *base;
	xr_ingress *ing;
	bool stop_seen, stopped, timed_out;
	bool running;			/* the run began: a change ends it */
	int changed;			/* XR_OK, or the error of a change */
	char why[200];
	xr_ingress_endpoint *snap;	/* the table when the run began */
	size_t n_snap;
	xr_fl_ingress *g;		/* freed after the ingress: its calls
					 * may still be in flight */
};

struct args {
	xr_rules rules;
	uint32_t window, batch;
	bool stats;
	const char *input, *output;
};

/* ---------- the command line ---------- */

static bool
num_arg(const char *arg, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > max || *arg == '-')
		return false;
	*out = (uint32_t)n;
	return true;
}

/* XR_OK, or EX_USAGE after a line on stderr. */
static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "batch", required_argument, NULL, 'b' },
		{ "stats", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*a = (struct args){ .rules = XR_RULES_BASELINE };
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if ((c == 'r' && xr_rules_parse(optarg, &a->rules) != XR_OK) ||
		    (c == 'w' && !num_arg(optarg, XR_FL_WINDOW_MAX, &a->window)) ||
		    (c == 'b' && !num_arg(optarg, XR_FL_BATCH_MAX, &a->batch)) ||
		    c == '?') {
			fprintf(stderr, "fundload: --rules baseline|experiment, "
			    "--window 1..%d, --batch 1..%d\n%s",
			    XR_FL_WINDOW_MAX, XR_FL_BATCH_MAX, usage);
			return EX_USAGE;
		}
		a->stats |= c == 's';
	}
	if (argc - optind != 2) {
		fprintf(stderr, "fundload: INPUT and OUTPUT, both files\n%s",
		    usage);
		return EX_USAGE;
	}
	a->input = argv[optind];
	a->output = argv[optind + 1];
	return XR_OK;
}

/* ---------- the ingress's callbacks ---------- */

static void
on_stop(void *arg, xr_ingress *ing, uint32_t graceful_timeout_ms, int drain)
{
	struct web *w = arg;

	(void)ing;
	(void)graceful_timeout_ms;
	(void)drain;
	w->stop_seen = true;
}

static void
on_stopped(void *arg, xr_ingress *ing)
{
	struct web *w = arg;

	(void)ing;
	w->stopped = true;
	event_base_loopbreak(w->base);
}

/* A slot's record after the ingress applied it: once the run began, any
 * change from the snapshot ends it (its channel may be gone already). */
static void
on_update(void *arg, const xr_ingress_endpoint *ep)
{
	struct web *w = arg;

	if (!w->running || w->changed != XR_OK)
		return;
	for (size_t i = 0; i < w->n_snap; i++) {
		const xr_ingress_endpoint *s = &w->snap[i];

		if (strcmp(s->group, ep->group) != 0 || s->index != ep->index)
			continue;
		if (s->state == ep->state && s->generation == ep->generation &&
		    s->port == ep->port && s->connected == ep->connected)
			return;
		break;
	}
	w->changed = XR_ERR_WORKER_FAILED;
	snprintf(w->why, sizeof(w->why), "worker %s[%u] changed (state %d, "
	    "generation %u): its customers' state is lost", ep->group,
	    ep->index, ep->state, ep->generation);
}

/* ---------- the source ---------- */

static xr_channel *
web_pick(void *arg, const char *key, size_t key_len, int *err)
{
	struct web *w = arg;

	/* the customer's own worker or none: another one would decide
	 * without the customer's state */
	return xr_ingress_pick_own(w->ing, XR_FL_SERVICE, key, key_len, err);
}

/* Through the ingress, so that its drain waits for the call: it picks the
 * same channel again for the batch's first customer (nothing changed
 * since the pick: health was XR_OK and no event ran). */
static void
web_call(void *arg, xr_channel *ch, const char *method, const char *key,
    size_t key_len, const uint8_t *req, size_t len, uint32_t timeout_ms,
    xr_call_cb cb, void *cb_arg)
{
	struct web *w = arg;

	(void)ch;
	xr_ingress_call_start(w->ing, method, req, len, key, key_len,
	    timeout_ms, cb, cb_arg);
}

static int
web_health(void *arg, char *why, size_t cap)
{
	struct web *w = arg;

	if (w->stop_seen) {
		snprintf(why, cap, "%s", "a stop was begun (STOP from the "
		    "supervisor)");
		return XR_ERR_LIFECYCLE_NOT_READY;
	}
	if (w->changed != XR_OK) {
		snprintf(why, cap, "%s", w->why);
		return w->changed;
	}
	return XR_OK;
}

/* ---------- the run ---------- */

static void
wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct web *w = arg;

	(void)fd;
	(void)what;
	w->timed_out = true;
}

/* Every slot READY with a channel: the table as the run begins. */
static bool
all_ready(struct web *w)
{
	size_t n = xr_ingress_endpoints(w->ing, w->snap, XR_INGRESS_MAX_ENDPOINTS);

	w->n_snap = n;
	for (size_t i = 0; i < n; i++)
		if (w->snap[i].state != XR_INGRESS_EP_READY ||
		    !w->snap[i].connected)
			return false;
	return true;
}

/*
 * The HELLO of every FundLoad channel done (the round robin of as many
 * picks as there are slots meets each ready one): opening a FIFO INPUT
 * then blocks the loop, and an endpoint resets a connection whose HELLO
 * does not come within its handshake timeout (2 s); the ingress would not
 * reopen it. XR_OK, or the error with `d` set; the snapshot taken again.
 */
static int
handshakes(struct web *w, xr_diag *d)
{
	size_t n = w->n_snap;
	int r, err;

	for (size_t i = 0; i < n; i++) {
		xr_channel *ch = xr_ingress_pick(w->ing, XR_FL_SERVICE, NULL, 0,
		    &err);

		if (ch != NULL &&
		    (r = xr_channel_wait_ready_diag(ch, READY_WAIT_MS, d)) !=
		    XR_OK)
			return r;
	}
	if (!all_ready(w))
		return xr_diag_set(d, XR_ERR_WORKER_FAILED, "%s",
		    "a worker changed while the channels were opening");
	return XR_OK;
}

/* Until every slot is ready; XR_OK or the error with `d` set. */
static int
wait_ready(struct web *w, xr_diag *d)
{
	struct timeval tv = { READY_WAIT_MS / 1000, 0 };
	struct event *t = evtimer_new(w->base, wait_timeout, w);

	if (t == NULL || evtimer_add(t, &tv) != 0) {
		if (t != NULL)
			event_free(t);
		return xr_diag_set(d, XR_ERR_NOMEM, "cannot arm a timer");
	}
	while (!all_ready(w) && !w->timed_out && !w->stop_seen)
		if (event_base_loop(w->base, EVLOOP_ONCE) < 0)
			break;
	event_free(t);
	if (w->stop_seen)
		return xr_diag_set(d, XR_ERR_LIFECYCLE_NOT_READY, "%s",
		    "a stop was begun before the run");
	if (!all_ready(w))
		return xr_diag_set(d, XR_ERR_WORKER_FAILED, "not every worker "
		    "was ready within %d s", READY_WAIT_MS / 1000);
	return handshakes(w, d);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* INPUT into OUTPUT; the exit status `fundload --config` would have. */
static int
decide(struct web *w, const struct args *a)
{
	xr_fl_ingress_opts io = { .input = a->input, .err = stderr,
	    .rules = a->rules, .window = a->window, .batch = a->batch };
	xr_fl_ingress *g;
	xr_fl_ingress_stats st = { 0 };
	xr_diag d = { 0 };
	uint64_t t0 = 0, t1 = 0;
	int fd = -1, status = 0;

	io.src = (xr_fl_source){ .base = w->base, .arg = w,
	    .pick = web_pick, .call = web_call, .health = web_health,
	    .profile = "tcp_local/web_ingress" };
	if ((status = wait_ready(w, &d)) == XR_OK) {
		int err;

		(void)xr_ingress_pick(w->ing, XR_FL_SERVICE, NULL, 0, &err);
		io.src.group = err == XR_ERR_INVALID_ARG ? NULL : XR_FL_SERVICE;
		io.src.workers = (uint32_t)w->n_snap;
		w->running = true;
	}
	if (status == XR_OK && ((fd = open(a->output, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (io.out = fdopen(fd, "w")) == NULL)) {
		status = xr_diag_set(&d, XR_ERR_SYSTEM, "%s: %s", a->output,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (status == XR_OK && (g = w->g = xr_fl_ingress_new(&io, &d)) != NULL) {
		t0 = mono_ms();
		status = xr_fl_ingress_run(g, &d);
		t1 = mono_ms();
		xr_fl_ingress_stats_get(g, &st);
	} else if (status == XR_OK) {
		status = d.code;
	}
	if (io.out != NULL && fclose(io.out) != 0 && status == XR_OK)
		status = xr_diag_set(&d, XR_ERR_SYSTEM, "%s: %s", a->output,
		    strerror(errno));
	status = status != XR_OK ? xr_diag_print(stderr, "fundload", status,
	    &d) : st.invalid > 0 ? EX_DATAERR : 0;
	fprintf(stderr, "fundload: done status=%d lines=%llu invalid=%llu "
	    "elapsed_ms=%llu\n", status, (unsigned long long)st.lines,
	    (unsigned long long)st.invalid, (unsigned long long)(t1 - t0));
	if (w->g != NULL && a->stats)
		xr_fl_ingress_stats_print(w->g, stderr);
	fflush(stderr);
	w->running = false;
	return status;
}

int
xr_fl_web_main(int argc, char **argv)
{
	struct web w = { .changed = XR_OK };
	xr_ingress_opts o = { .client_name = "fundload-web", .arg = &w,
	    .on_stop = on_stop, .on_stopped = on_stopped,
	    .on_update = on_update };
	struct args a;
	xr_diag d = { 0 };
	int r;

	if ((r = parse_args(argc, argv, &a)) != XR_OK)
		return r;
	if ((w.snap = calloc(XR_INGRESS_MAX_ENDPOINTS, sizeof(*w.snap))) ==
	    NULL || (w.base = event_base_new()) == NULL) {
		free(w.snap);
		return xr_diag_print(stderr, "fundload", XR_ERR_NOMEM, NULL);
	}
	if ((w.ing = xr_ingress_from_bootstrap(w.base, &o, &d)) == NULL) {
		r = xr_diag_print(stderr, "fundload", d.code, &d);
	} else if ((r = xr_ingress_ready(w.ing, 0)) != XR_OK) {
		r = xr_diag_print(stderr, "fundload", r, NULL);
	} else {
		(void)decide(&w, &a);
		/* idle until STOP; STOPPED once the calls have completed */
		while (!w.stop_seen && event_base_loop(w.base,
		    EVLOOP_ONCE) == 0)
			;
		xr_ingress_stop_done(w.ing);
		while (!w.stopped && event_base_loop(w.base, EVLOOP_ONCE) == 0)
			;
		r = w.stopped ? 0 : XR_CAT_INTERNAL;
	}
	xr_ingress_free(w.ing);	/* the calls left fail: before w.g */
	xr_fl_ingress_free(w.g);
	event_base_free(w.base);
	free(w.snap);
	return r;
}
