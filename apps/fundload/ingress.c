/* apps/fundload/ingress.c — read, validate, send in a bounded window
 * (the loads of one channel batched into DecideBatch calls), coordinate
 * the prime slot, write in input order. */
#include "ingress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "err.h"
#include "fundload/v1/fundload.pb.h"
#include "input.h"
#include "rules.h"
#include "service.h"

#define DEF_WINDOW 1024
#define DEF_TIMEOUT_MS 30000
#define READ_CHUNK 65536
#define MAX_CHANNELS 64		/* workers of a group: 1..64 */
#define FILL_CHUNK 64		/* lines read between two looks at the replies */

/* ---------- line reader: bounded buffer, never blocks with work pending ---------- */

struct reader {
	int fd;
	bool blocking_ok;		/* regular file: read() never waits */
	bool eof;
	bool skipping;			/* inside a line over XR_FL_LINE_MAX */
	char *buf;
	size_t cap, start, end;
};

enum { RD_LINE = 1, RD_WAIT = 0, RD_EOF = -1, RD_ERROR = -2, RD_LONG = 2 };

static int
reader_init(struct reader *r, int fd)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->blocking_ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	r->cap = XR_FL_LINE_MAX + 1 + READ_CHUNK;
	if ((r->buf = malloc(r->cap)) == NULL)
		return XR_ERR_NOMEM;
	return XR_OK;
}

/*
 * The next line: RD_LINE (`*line`/`*len` valid until the next call),
 * RD_LONG (a line over XR_FL_LINE_MAX: reported once, its rest skipped),
 * RD_WAIT (no complete line and the fd has nothing now), RD_EOF, RD_ERROR.
 */
static int
reader_next(struct reader *r, const char **line, size_t *len)
{
	for (;;) {
		char *nl = r->start < r->end ?
		    memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
		ssize_t n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - (r->buf + r->start));
			bool skipped = r->skipping;

			*line = r->buf + r->start;
			*len = l;
			r->start += l + 1;
			r->skipping = false;
			if (skipped)
				continue;	/* the tail of a long line */
			return RD_LINE;
		}
		if (r->end - r->start > XR_FL_LINE_MAX) {
			bool skipped = r->skipping;

			r->start = r->end = 0;
			r->skipping = true;
			if (!skipped)
				return RD_LONG;
			continue;
		}
		if (r->eof) {
			if (r->start == r->end)
				return RD_EOF;
			*line = r->buf + r->start;
			*len = r->end - r->start;
			r->start = r->end;
			if (r->skipping) {
				r->skipping = false;
				return RD_EOF;
			}
			return RD_LINE;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (!r->blocking_ok) {
			struct pollfd p = { r->fd, POLLIN, 0 };
			int pr = poll(&p, 1, 0);

			if (pr == 0)
				return RD_WAIT;
			if (pr < 0 && errno != EINTR)
				return RD_ERROR;
			if (pr < 0)
				continue;
		}
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return RD_WAIT;
		if (n < 0)
			return RD_ERROR;
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
}

/* ---------- the window ---------- */

/* FAILED: the call failed (the run stops; the load is never written) */
enum slot_state { SLOT_FREE = 0, SLOT_UNSENT, SLOT_SENT, SLOT_DONE,
    SLOT_FAILED };

struct slot {
	uint8_t state;
	bool prime;		/* experiment rules and a prime numeric id */
	bool accepted, ignored, was_held;
	bool slot_taken;	/* the prime_slot it was sent with: TAKEN */
	int64_t day;
	struct slot *next;	/* the next load of its batch */
	xr_fl_parsed p;
};

struct chan;

/* One DecideBatch call: being filled (chan->fill), then in flight. Its
 * loads are those of one channel, in input order. */
struct batch {
	struct xr_fl_ingress *g;
	struct chan *c;
	struct slot *first, *last;
	uint32_t n;
	struct batch *next_free;
};

/* A channel a load went to: its batch being filled, its calls in flight. */
struct chan {
	xr_channel *ch;
	struct batch *fill;		/* NULL: nothing waits to be sent */
	uint32_t inflight;		/* batches sent and unanswered */
};

struct xr_fl_ingress {
	xr_fl_ingress_opts o;
	uint32_t batch_max;		/* loads per DecideBatch */
	struct reader rd;
	struct slot *slots;
	uint32_t w;			/* window size */
	uint64_t head, tail;		/* slots [head, tail) are in use */
	uint32_t inflight;		/* loads sent (or batched) and undecided */
	uint64_t lineno;
	xr_fl_dayset *taken;		/* days whose prime slot is taken */
	/* scratch of one pump: customers with a waiting load, days with an
	 * undecided prime-id load */
	const struct slot **blk_cust;
	int64_t *blk_day;
	struct chan chans[MAX_CHANNELS];	/* every channel a load went to */
	size_t nchans;
	struct batch *batches;		/* w records: each batch holds >= 1
					 * load of the window */
	struct batch *free_batches;
	struct event *rev;
	bool readable;
	int fatal;
	char fatal_why[256];
	xr_fl_ingress_stats st;
	bool has_group;			/* a group serves FundLoad */
	char group[XR_CFG_NAME_MAX];	/* its name (copied from the source) */
	char outbuf[XR_FL_OUT_MAX];
	uint8_t reqbuf[fundload_v1_LoadBatch_size];
};

static void set_fatal(xr_fl_ingress *g, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first error stops the run; later ones are consequences. */
static void
set_fatal(xr_fl_ingress *g, int code, const char *fmt, ...)
{
	va_list ap;

	if (g->fatal != XR_OK)
		return;
	g->fatal = code;
	va_start(ap, fmt);
	vsnprintf(g->fatal_why, sizeof(g->fatal_why), fmt, ap);
	va_end(ap);
}

static struct slot *
slot_at(const xr_fl_ingress *g, uint64_t i)
{
	return &g->slots[i % g->w];
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	xr_fl_ingress *g = arg;

	(void)fd;
	(void)what;
	g->readable = true;
}

/* The input's fd: standard input, or INPUT opened; -1 with `d` set. */
static int
open_input(const char *input, xr_diag *d)
{
	int fd;

	if (input == NULL || strcmp(input, "-") == 0)
		return STDIN_FILENO;
	if ((fd = open(input, O_RDONLY | O_CLOEXEC)) < 0)
		xr_diag_set(d, XR_ERR_SYSTEM, "%s: %s", input, strerror(errno));
	return fd;
}

xr_fl_ingress *
xr_fl_ingress_new(const xr_fl_ingress_opts *o, xr_diag *d)
{
	xr_fl_ingress *g;
	int fd;

	if ((fd = open_input(o->input, d)) < 0)
		return NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		if (fd != STDIN_FILENO)
			close(fd);
		xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
		return NULL;
	}
	g->o = *o;
	g->o.src.group = NULL;	/* copied below */
	g->has_group = o->src.group != NULL;
	snprintf(g->group, sizeof(g->group), "%s", g->has_group ?
	    o->src.group : "");
	g->batch_max = o->batch == 0 || o->batch > XR_FL_BATCH_MAX ?
	    XR_FL_BATCH_MAX : o->batch;
	g->rd.fd = fd;	/* closed by free() */
	g->w = o->window == 0 ? DEF_WINDOW : o->window;
	if (g->w > XR_FL_WINDOW_MAX)
		g->w = XR_FL_WINDOW_MAX;
	if (g->o.call_timeout_ms == 0)
		g->o.call_timeout_ms = DEF_TIMEOUT_MS;
	g->fatal = XR_OK;
	if (reader_init(&g->rd, fd) != XR_OK ||
	    (g->slots = calloc(g->w, sizeof(*g->slots))) == NULL ||
	    (g->blk_cust = calloc(g->w, sizeof(*g->blk_cust))) == NULL ||
	    (g->blk_day = calloc(g->w, sizeof(*g->blk_day))) == NULL ||
	    (g->batches = calloc(g->w, sizeof(*g->batches))) == NULL ||
	    (g->taken = xr_fl_dayset_new()) == NULL) {
		xr_fl_ingress_free(g);
		xr_diag_set(d, XR_ERR_NOMEM, "out of memory");
		return NULL;
	}
	for (uint32_t i = 0; i < g->w; i++) {
		g->batches[i].g = g;
		g->batches[i].next_free = i + 1 < g->w ? &g->batches[i + 1] :
		    NULL;
	}
	g->free_batches = &g->batches[0];
	if (!g->rd.blocking_ok && (g->rev = event_new(o->src.base,
	    fd, EV_READ, read_cb, g)) == NULL)
		g->rd.blocking_ok = true;	/* cannot watch: plain reads */
	/* decisions leave in 64 KiB writes (and at each wait for input) */
	(void)setvbuf(o->out, NULL, _IOFBF, 1 << 16);
	return g;
}

void
xr_fl_ingress_free(xr_fl_ingress *g)
{
	if (g == NULL)
		return;
	if (g->rev != NULL)
		event_free(g->rev);
	if (g->rd.fd != STDIN_FILENO)
		close(g->rd.fd);
	free(g->rd.buf);
	free(g->slots);
	free(g->blk_cust);
	free(g->blk_day);
	free(g->batches);
	xr_fl_dayset_free(g->taken);
	free(g);
}

void
xr_fl_ingress_stats_get(const xr_fl_ingress *g, xr_fl_ingress_stats *out)
{
	*out = g->st;
}

/* User + system CPU time of `ru`, in ms. */
static long
cpu_ms(const struct rusage *ru)
{
	return (long)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000 +
	    (long)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000;
}

void
xr_fl_ingress_stats_print(const xr_fl_ingress *g, FILE *f)
{
	const xr_fl_ingress_stats *st = &g->st;
	struct rusage self, kids;
	long cpu = -1, kcpu = -1;

	if (getrusage(RUSAGE_SELF, &self) != 0 ||
	    getrusage(RUSAGE_CHILDREN, &kids) != 0)
		self.ru_maxrss = kids.ru_maxrss = -1;
	else {
		cpu = cpu_ms(&self);
		kcpu = cpu_ms(&kids);
	}
	fprintf(f, "fundload: stats profile=%s workers=%u rules=%s "
	    "lines=%llu invalid=%llu accepted=%llu declined=%llu ignored=%llu "
	    "held=%llu max_inflight=%u calls=%llu maxrss_kb=%ld "
	    "worker_maxrss_kb=%ld cpu_ms=%ld worker_cpu_ms=%ld\n",
	    g->o.src.profile, g->o.src.workers, xr_rules_name(g->o.rules), (unsigned long long)st->lines,
	    (unsigned long long)st->invalid, (unsigned long long)st->accepted,
	    (unsigned long long)st->declined, (unsigned long long)st->ignored,
	    (unsigned long long)st->held, st->max_inflight,
	    (unsigned long long)st->calls, self.ru_maxrss, kids.ru_maxrss, cpu,
	    kcpu);
}

/* ---------- the lifecycle as a source ---------- */

static xr_channel *
lc_pick(void *arg, const char *key, size_t key_len, int *err)
{
	return xr_lifecycle_pick(arg, XR_FL_SERVICE, key, key_len, err);
}

static void
lc_call(void *arg, xr_channel *ch, const char *method, const char *key,
    size_t key_len, const uint8_t *req, size_t len, uint32_t timeout_ms,
    xr_call_cb cb, void *cb_arg)
{
	(void)arg;
	(void)key;
	(void)key_len;
	xr_call_start(ch, method, req, len, timeout_ms, cb, cb_arg);
}

static int
lc_health(void *arg, char *why, size_t cap)
{
	return xr_lifecycle_health(arg, why, cap);
}

void
xr_fl_source_lifecycle(xr_lifecycle *lc, const xr_config *cfg,
    xr_fl_source *out)
{
	const char *group = xr_lifecycle_route(lc, XR_FL_SERVICE);

	*out = (xr_fl_source){ .base = xr_lifecycle_base(lc), .arg = lc,
	    .pick = lc_pick, .call = lc_call, .health = lc_health,
	    .group = group };
	snprintf(out->profile, sizeof(out->profile), "%s/%s",
	    xr_transport_name(cfg->transport), xr_boot_mode_name(cfg->boot_mode));
	for (size_t i = 0; group != NULL && i < cfg->n_groups; i++)
		if (cfg->boot_mode == XR_BOOT_PROCESS_SUPERVISOR &&
		    strcmp(cfg->groups[i].name, group) == 0)
			out->workers = cfg->groups[i].workers;
}

/* ---------- a call: one DecideBatch ---------- */

/* Check the decision of `s` and record it; false: the run stops. */
static bool
take_decision(xr_fl_ingress *g, struct slot *s, const fundload_v1_Decision *dec)
{
	/* the worker's prime bit must be what the ingress coordinated on */
	if (dec->prime_slot_consumed != (s->prime && dec->accepted) ||
	    (dec->ignored && dec->accepted) || dec->day != s->day) {
		set_fatal(g, XR_ERR_INTERNAL, "%s", "Decide: the decision "
		    "disagrees with the ingress (rules or calendar mismatch)");
		return false;
	}
	s->state = SLOT_DONE;
	s->accepted = dec->accepted;
	s->ignored = dec->ignored;
	if (dec->prime_slot_consumed)
		xr_fl_dayset_add(g->taken, s->day);
	return true;
}

/* The batch's loads are undecided (FAILED until a decision says
 * otherwise); its record goes back to the pool (its slot list stays
 * readable until the next send_load()). */
static void
batch_release(xr_fl_ingress *g, struct batch *b)
{
	g->inflight -= b->n;
	for (struct slot *s = b->first; s != NULL; s = s->next)
		s->state = SLOT_FAILED;
	b->next_free = g->free_batches;
	g->free_batches = b;
}

static void
batch_done(void *arg, const xr_status *st, const uint8_t *resp, size_t len)
{
	struct batch *b = arg;
	xr_fl_ingress *g = b->g;
	fundload_v1_DecisionBatch dec;
	pb_istream_t is;
	struct slot *s;
	uint32_t i;

	b->c->inflight--;
	batch_release(g, b);
	if (st->code != XR_STATUS_OK) {
		set_fatal(g, st->code == XR_STATUS_UNAVAILABLE ?
		    XR_ERR_WORKER_FAILED : XR_ERR_RPC, "Decide failed: %s: %s",
		    xr_status_name(st->code), st->message);
	} else {
		is = pb_istream_from_buffer(resp, len);
		if (!pb_decode(&is, fundload_v1_DecisionBatch_fields, &dec) ||
		    dec.decisions_count != b->n)
			set_fatal(g, XR_ERR_RPC, "%s", "Decide: the decisions "
			    "do not decode, or not one per load");
		else
			for (s = b->first, i = 0; s != NULL &&
			    take_decision(g, s, &dec.decisions[i]);
			    s = s->next, i++)
				;
	}
}

/* Send the batch being filled on `c` (if any) as one DecideBatch. */
static void
send_batch(xr_fl_ingress *g, struct chan *c)
{
	struct batch *b = c->fill;
	pb_ostream_t os = pb_ostream_from_buffer(g->reqbuf, sizeof(g->reqbuf));

	if (b == NULL)
		return;
	c->fill = NULL;
	for (const struct slot *s = b->first; s != NULL; s = s->next) {
		fundload_v1_LoadRequest req = fundload_v1_LoadRequest_init_zero;

		memcpy(req.id, s->p.id, s->p.id_len + 1);
		memcpy(req.customer_id, s->p.customer, s->p.customer_len + 1);
		req.amount_cents = s->p.amount;
		req.time_unix = s->p.time;
		req.prime_slot = s->slot_taken ?
		    fundload_v1_PrimeSlot_PRIME_SLOT_TAKEN :
		    fundload_v1_PrimeSlot_PRIME_SLOT_FREE;
		if (!pb_encode_tag(&os, PB_WT_STRING,
		    fundload_v1_LoadBatch_loads_tag) ||
		    !pb_encode_submessage(&os, fundload_v1_LoadRequest_fields,
		    &req)) {
			set_fatal(g, XR_ERR_INTERNAL, "%s",
			    "cannot encode a request");
			batch_release(g, b);
			return;
		}
	}
	c->inflight++;
	g->st.calls++;
	/* the callback may run inside (memory transport) */
	g->o.src.call(g->o.src.arg, c->ch, XR_FL_METHOD_DECIDE_BATCH,
	    b->first->p.customer, b->first->p.customer_len, g->reqbuf,
	    os.bytes_written, g->o.call_timeout_ms, batch_done, b);
}

/* The record of channel `ch`, added on first use; NULL when there are more
 * channels than a group can have workers. */
static struct chan *
chan_of(xr_fl_ingress *g, xr_channel *ch)
{
	size_t i;

	for (i = 0; i < g->nchans && g->chans[i].ch != ch; i++)
		;
	if (i == g->nchans) {
		if (g->nchans == MAX_CHANNELS)
			return NULL;
		g->chans[g->nchans++] = (struct chan){ .ch = ch };
	}
	return &g->chans[i];
}

/*
 * Send `s` (its customer's channel, its prime flag now): it joins the
 * channel's batch being filled, which leaves when it is full, at once for a
 * prime-id load whose day is open (later prime-id loads of its day wait for
 * it), or by flush() (the channel is idle, or the ingress is about to wait).
 */
static void
send_load(xr_fl_ingress *g, struct slot *s, bool open_prime)
{
	xr_channel *ch;
	struct chan *c;
	struct batch *b;
	int err = XR_OK;

	/* affinity: a customer's loads always go to the same worker */
	if ((ch = g->o.src.pick(g->o.src.arg, s->p.customer,
	    s->p.customer_len, &err)) == NULL) {
		set_fatal(g, err != XR_OK ? err : XR_ERR_WORKER_FAILED,
		    "no channel for a customer: %s", xr_strerror(err));
		return;
	}
	if ((c = chan_of(g, ch)) == NULL) {
		set_fatal(g, XR_ERR_INTERNAL, "%s", "more channels than workers");
		return;
	}
	if ((b = c->fill) == NULL) {
		b = g->free_batches;	/* never NULL: a batch holds >= 1 slot */
		g->free_batches = b->next_free;
		b->c = c;
		b->first = b->last = NULL;
		b->n = 0;
		c->fill = b;
	}
	s->slot_taken = xr_fl_dayset_has(g->taken, s->day);
	s->next = NULL;
	if (b->last != NULL)
		b->last->next = s;
	else
		b->first = s;
	b->last = s;
	b->n++;
	s->state = SLOT_SENT;
	if (++g->inflight > g->st.max_inflight)
		g->st.max_inflight = g->inflight;
	if (b->n == g->batch_max || open_prime)
		send_batch(g, c);
}

/* Send the batches being filled: all of them (`all`), or those of the
 * channels with no call in flight (their worker is idle). */
static void
flush(xr_fl_ingress *g, bool all)
{
	for (size_t i = 0; i < g->nchans; i++)
		if (all || g->chans[i].inflight == 0)
			send_batch(g, &g->chans[i]);
}

/* ---------- coordination ---------- */

static bool
cust_blocked(const xr_fl_ingress *g, size_t n, const struct slot *s)
{
	for (size_t i = 0; i < n; i++)
		if (g->blk_cust[i]->p.customer_len == s->p.customer_len &&
		    memcmp(g->blk_cust[i]->p.customer, s->p.customer,
		    s->p.customer_len) == 0)
			return true;
	return false;
}

static bool
day_blocked(const xr_fl_ingress *g, size_t n, int64_t day)
{
	for (size_t i = 0; i < n; i++)
		if (g->blk_day[i] == day)
			return true;
	return false;
}

/*
 * Send every load of the window that may go now, in input order. A load
 * waits (stays UNSENT) while
 *  - it has a prime id (experiment), its day's slot is not known taken,
 *    and an earlier prime-id load of the same day has no decision yet; or
 *  - an earlier load of its customer waits (per-customer order).
 * Everything else is sent at once (batched per channel: send_load()). A
 * batched load counts as sent: it is in flight, undecided. docs/fundload.md
 * has the proof that the decisions are those of a sequential run.
 */
static void
pump(xr_fl_ingress *g)
{
	size_t ncust = 0, nday = 0;

	for (uint64_t i = g->head; i < g->tail && g->fatal == XR_OK; i++) {
		struct slot *s = slot_at(g, i);
		bool open_prime;

		if (s->state == SLOT_DONE)
			continue;
		open_prime = s->prime && !xr_fl_dayset_has(g->taken, s->day);
		if (s->state == SLOT_UNSENT &&
		    (cust_blocked(g, ncust, s) ||
		    (open_prime && day_blocked(g, nday, s->day)))) {
			if (!s->was_held) {
				s->was_held = true;
				g->st.held++;
			}
			g->blk_cust[ncust++] = s;
			if (open_prime && !day_blocked(g, nday, s->day))
				g->blk_day[nday++] = s->day;
			continue;
		}
		if (s->state == SLOT_UNSENT)
			send_load(g, s, open_prime);
		/* sent and still undecided: later prime-id loads of its day wait */
		if (s->state == SLOT_SENT && open_prime &&
		    !day_blocked(g, nday, s->day))
			g->blk_day[nday++] = s->day;
	}
	flush(g, false);
}

/* Write the decided loads at the head of the window, in input order (also
 * after an error: everything before the first undecided load). */
static int
emit(xr_fl_ingress *g)
{
	while (g->head < g->tail) {
		struct slot *s = slot_at(g, g->head);

		if (s->state != SLOT_DONE)
			break;
		if (s->ignored) {
			g->st.ignored++;
		} else {
			size_t n = xr_fl_format_decision(g->outbuf, s->p.id,
			    s->p.id_len, s->p.customer, s->p.customer_len,
			    s->accepted);

			if (fwrite(g->outbuf, 1, n, g->o.out) != n)
				return XR_ERR_SYSTEM;
			if (s->accepted)
				g->st.accepted++;
			else
				g->st.declined++;
		}
		s->state = SLOT_FREE;
		g->head++;
	}
	return XR_OK;
}

/* Read up to FILL_CHUNK lines into the window: until it is full, the input
 * waits or ends. */
static int
fill(xr_fl_ingress *g, bool *wait)
{
	char why[512];

	*wait = false;
	for (unsigned n = 0; n < FILL_CHUNK && g->tail - g->head < g->w &&
	    g->fatal == XR_OK; n++) {
		const char *line;
		size_t len;
		struct slot *s;
		xr_fl_bad b;
		int r = reader_next(&g->rd, &line, &len);

		if (r == RD_WAIT) {
			*wait = true;
			return XR_OK;
		}
		if (r == RD_EOF)
			return XR_OK;
		if (r == RD_ERROR)
			return XR_ERR_SYSTEM;
		g->lineno++;
		g->st.lines++;
		s = slot_at(g, g->tail);
		if (r == RD_LONG)
			b = xr_fl_parse_line(NULL, (size_t)XR_FL_LINE_MAX + 1,
			    &s->p, why, sizeof(why));
		else
			b = xr_fl_parse_line(line, len, &s->p, why, sizeof(why));
		if (b != XR_FL_LINE_OK) {
			g->st.invalid++;
			fprintf(g->o.err, "fundload: line %llu: %s: %s\n",
			    (unsigned long long)g->lineno, xr_fl_bad_name(b),
			    why);
			continue;
		}
		s->state = SLOT_UNSENT;
		s->day = xr_fl_day(s->p.time);
		s->prime = g->o.rules == XR_RULES_EXPERIMENT &&
		    xr_fl_id_is_prime(s->p.id, s->p.id_len);
		s->accepted = s->ignored = s->was_held = false;
		g->tail++;
	}
	return XR_OK;
}

/* The source's health (a stop begun, which comes before its effects on
 * the channels, or a worker event), and every channel a load went to must
 * still be up: a lost connection means a lost shard state, and a customer
 * must never move to another worker. */
static void
check_health(xr_fl_ingress *g)
{
	char why[256] = "";
	int r;

	if ((r = g->o.src.health(g->o.src.arg, why, sizeof(why))) != XR_OK) {
		set_fatal(g, r, "%s", why);
		return;
	}
	for (size_t i = 0; i < g->nchans; i++)
		if (!xr_channel_is_usable(g->chans[i].ch)) {
			set_fatal(g, XR_ERR_WORKER_FAILED, "%s",
			    "the connection to a worker was lost");
			return;
		}
}

int
xr_fl_ingress_run(xr_fl_ingress *g, xr_diag *d)
{
	bool wait = false;
	int r;

	if (!g->has_group)
		return xr_diag_set(d, XR_ERR_CONFIG_INVALID, "runtime.platform."
		    "process_groups: no group serves %s", XR_FL_SERVICE);
	for (;;) {
		check_health(g);
		if (g->fatal == XR_OK) {
			if ((r = fill(g, &wait)) != XR_OK)
				return xr_diag_set(d, r, "reading the input: %s",
				    strerror(errno));
			pump(g);
		}
		if ((r = emit(g)) != XR_OK)
			return xr_diag_set(d, r, "writing the output: %s",
			    strerror(errno));
		if (g->fatal != XR_OK)
			break;
		if (g->head == g->tail && g->rd.eof && !wait &&
		    g->rd.start == g->rd.end)
			break;		/* all read, all written */
		if (!wait && !(g->rd.eof && g->rd.start == g->rd.end) &&
		    g->tail - g->head < g->w) {
			/* more input now: take the replies so far, read on */
			if (event_base_loop(g->o.src.base,
			    EVLOOP_NONBLOCK) < 0)
				return xr_diag_set(d, XR_ERR_INTERNAL,
				    "the event loop failed");
			continue;
		}
		flush(g, true);		/* about to wait: nothing held back */
		if (g->inflight == 0 && !wait)
			continue;	/* room in the window: read on */
		if (wait) {
			fflush(g->o.out);	/* a slow producer sees output */
			g->readable = false;
			if (event_add(g->rev, NULL) != 0)
				return xr_diag_set(d, XR_ERR_SYSTEM,
				    "cannot watch the input");
		}
		if (event_base_loop(g->o.src.base, EVLOOP_ONCE) < 0)
			return xr_diag_set(d, XR_ERR_INTERNAL,
			    "the event loop failed");
		if (wait)
			event_del(g->rev);
	}
	if (g->fatal != XR_OK)
		return xr_diag_set(d, g->fatal, "%s", g->fatal_why);
	if (fflush(g->o.out) != 0)
		return xr_diag_set(d, XR_ERR_SYSTEM, "writing the output: %s",
		    strerror(errno));
	return XR_OK;
}
