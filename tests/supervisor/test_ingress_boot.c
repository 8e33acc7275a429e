/*
 * tests/supervisor/test_ingress_boot.c — an ingress process's two channels
 * without a supervisor in between: bundles made by the supervisor's own
 * packer (xr_bundle_pack_ingress, protobuf-c) read by the client library
 * (xr_ingress_from_bootstrap, nanopb) over socketpairs the test owns, and
 * control datagrams signed by the supervisor's worker channel (xr_wchan).
 *
 * WEB-BOOT-01  a good bundle: group, index, the endpoint table exactly
 * WEB-BOOT-02  malformed, truncated, oversized, missing or out-of-range
 *              bundles, none, or two: XR_ERR_CHILD_BOOTSTRAP_FAILED with a
 *              reason naming the fault and no key byte
 * WEB-BOOT-03  forged, replayed, truncated, oversized, unknown or
 *              out-of-place control datagrams are refused and counted by
 *              kind; the table is unchanged; a good update applies
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "bundle.h"
#include "execrpc/ingress.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "helper_sup.h"
#include "hmap.h"		/* xr_hash_fnv1a: the key rule of the pick */
#include "rx.h"
#include "worker_chan.h"

static xr_keyset ks;
static uint8_t sid[16], inst[16];
static xr_config cfg;
static xr_group_cfg web;

static int
setup(void **state)
{
	(void)state;
	ts_keys(&ks, NULL);
	assert_int_equal(xr_random_bytes(sid, sizeof(sid)), XR_OK);
	assert_int_equal(xr_random_bytes(inst, sizeof(inst)), XR_OK);
	xr_config_defaults(&cfg);
	memset(&web, 0, sizeof(web));
	snprintf(web.name, sizeof(web.name), "web");
	web.workers = 2;
	web.role = XR_ROLE_INGRESS;
	return 0;
}

/* Two echo slots: [0] READY on a port nobody listens on, [1] STARTING. */
static void
good_bundle(uint8_t **out, size_t *len)
{
	static char *svc[] = { "echo.v1.Echo" };
	Execrpc__V1__ExecEndpoint e[2], *ep[2] = { &e[0], &e[1] };

	for (int i = 0; i < 2; i++) {
		execrpc__v1__exec_endpoint__init(&e[i]);
		e[i].group = "echo";
		e[i].index = (uint32_t)i;
		e[i].host = "127.0.0.1";
		e[i].n_services = 1;
		e[i].services = svc;
	}
	e[0].port = 1;
	e[0].generation = 3;
	e[0].state = EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY;
	e[1].generation = 1;
	e[1].state = EXECRPC__V1__WORKER_STATE__WORKER_STATE_STARTING;
	assert_int_equal(xr_bundle_pack_ingress(&cfg, &web, 1, &ks, inst, sid,
	    ep, 2, out, len), XR_OK);
}

struct run {
	int boot[2], ctl[2];
	struct event_base *base;
	xr_ingress *ing;
	xr_diag d;
	int stops;
};

static void
on_stop(void *arg, xr_ingress *ing, uint32_t t, int drain)
{
	(void)ing;
	(void)t;
	(void)drain;
	((struct run *)arg)->stops++;
}

/* Send `n` datagrams (`bufs`, `lens`) on a fresh bootstrap channel, close
 * it (unless `keep_open`), and open an ingress on it. */
static void
boot(struct run *r, const uint8_t *const *bufs, const size_t *lens, int n,
    int keep_open)
{
	xr_ingress_opts o = { 0 };
	int big = 1 << 20;

	memset(r, 0, sizeof(*r));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, r->boot), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, r->ctl), 0);
	(void)setsockopt(r->boot[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	for (int i = 0; i < n; i++)
		assert_int_equal(send(r->boot[0], bufs[i], lens[i], 0),
		    (ssize_t)lens[i]);
	if (!keep_open) {
		close(r->boot[0]);
		r->boot[0] = -1;
	}
	r->base = event_base_new();
	o.bootstrap_fd = r->boot[1];
	o.control_fd = r->ctl[1];
	o.bootstrap_timeout_ms = 300;
	o.on_stop = on_stop;
	o.arg = r;
	r->ing = xr_ingress_from_bootstrap(r->base, &o, &r->d);
}

static void
done(struct run *r)
{
	if (r->ing == NULL)	/* refused: the ingress closed both fds */
		r->ctl[1] = -1;
	xr_ingress_free(r->ing);
	if (r->boot[0] >= 0)
		close(r->boot[0]);
	close(r->ctl[0]);
	if (r->ctl[1] >= 0 && r->ing == NULL)
		close(r->ctl[1]);
	event_base_free(r->base);
}

/* WEB-BOOT-01 */
static void
test_good(void **state)
{
	uint8_t *b;
	size_t len;
	struct run r;
	xr_ingress_endpoint ep[4];

	(void)state;
	good_bundle(&b, &len);
	boot(&r, (const uint8_t *const *)&b, &len, 1, 0);
	assert_non_null(r.ing);
	assert_string_equal(xr_ingress_group(r.ing), "web");
	assert_int_equal(xr_ingress_index(r.ing), 1);
	assert_int_equal(xr_ingress_endpoints(r.ing, ep, 4), 2);
	assert_string_equal(ep[0].group, "echo");
	assert_int_equal(ep[0].index, 0);
	assert_string_equal(ep[0].host, "127.0.0.1");
	assert_int_equal(ep[0].port, 1);
	assert_int_equal(ep[0].generation, 3);
	assert_int_equal(ep[0].state, XR_INGRESS_EP_READY);
	assert_int_equal(ep[0].connected, 1);
	assert_int_equal(ep[1].state, XR_INGRESS_EP_STARTING);
	assert_int_equal(ep[1].connected, 0);
	done(&r);
	xr_wipe(b, len);
	free(b);
}

/* A bundle changed by `fn` on its decoded form, repacked. */
typedef void (*mutate_fn)(Execrpc__V1__BootstrapBundle *b);

static void m_version(Execrpc__V1__BootstrapBundle *b) { b->version = 2; }
static void m_role(Execrpc__V1__BootstrapBundle *b) { b->role = 0; }
static void m_noingress(Execrpc__V1__BootstrapBundle *b) { b->ingress = NULL; }
static void m_inst(Execrpc__V1__BootstrapBundle *b) { b->ingress->instance_id.len = 15; }
static void m_ctlkey(Execrpc__V1__BootstrapBundle *b) { b->keys->control.len = 16; }
static void m_w2e(Execrpc__V1__BootstrapBundle *b) { b->ingress->web_to_exec.len = 0; }
static void m_nokeys(Execrpc__V1__BootstrapBundle *b) { b->keys = NULL; }
static void m_kdf(Execrpc__V1__BootstrapBundle *b) { b->keys->kdf = 7; }
static void m_sid(Execrpc__V1__BootstrapBundle *b) { b->control_session_id.len = 8; }
static void m_ttl(Execrpc__V1__BootstrapBundle *b) { b->runtime->ttl_seconds = 0; }
static void m_noslice(Execrpc__V1__BootstrapBundle *b) { b->runtime = NULL; }
static void m_group(Execrpc__V1__BootstrapBundle *b) { b->group = ""; }
static void m_state(Execrpc__V1__BootstrapBundle *b) { b->endpoints[1]->state = 9; }
static void m_port0(Execrpc__V1__BootstrapBundle *b) { b->endpoints[0]->port = 0; }
static void m_bigport(Execrpc__V1__BootstrapBundle *b) { b->endpoints[1]->port = 70000; }
static void m_dup(Execrpc__V1__BootstrapBundle *b) { b->endpoints[1]->index = 0; }
static void m_ephost(Execrpc__V1__BootstrapBundle *b) { b->endpoints[0]->host = ""; }

static void
repack(mutate_fn fn, uint8_t **out, size_t *len)
{
	uint8_t *good;
	size_t glen;
	Execrpc__V1__BootstrapBundle *b;

	good_bundle(&good, &glen);
	assert_non_null(b = execrpc__v1__bootstrap_bundle__unpack(NULL, glen,
	    good));
	{
	Execrpc__V1__BootstrapBundle saved = *b;
	char *host0 = b->endpoints[0]->host;

	fn(b);
	*len = execrpc__v1__bootstrap_bundle__get_packed_size(b);
	assert_non_null(*out = malloc(*len));
	execrpc__v1__bootstrap_bundle__pack(b, *out);
	/* undo what now points outside the unpacked message, then free */
	b->ingress = saved.ingress;
	b->keys = saved.keys;
	b->runtime = saved.runtime;
	b->group = saved.group;
	b->endpoints[0]->host = host0;
	execrpc__v1__bootstrap_bundle__free_unpacked(b, NULL);
	}
	free(good);
}

static void
expect_refused(const uint8_t *const *bufs, const size_t *lens, int n,
    int keep_open, const char *want)
{
	struct run r;

	boot(&r, bufs, lens, n, keep_open);
	if (r.ing != NULL || r.d.code != XR_ERR_CHILD_BOOTSTRAP_FAILED ||
	    strstr(r.d.reason, want) == NULL)
		fail_msg("want refusal \"%s\", got %p %s: %s", want,
		    (void *)r.ing, xr_err_name(r.d.code), r.d.reason);
	for (int i = 0; i < XR_DIR_COUNT; i++)
		assert_false(ts_contains_secret((const uint8_t *)r.d.reason,
		    strlen(r.d.reason), ks.k[i].b, ks.k[i].len));
	done(&r);
}

/* WEB-BOOT-02 */
static void
test_refused(void **state)
{
	static const struct {
		mutate_fn fn;
		const char *want;
	} tab[] = {
		{ m_version, "unsupported bundle version 2 (want 1)" },
		{ m_role, "not an ingress bundle (role 0)" },
		{ m_noingress, "ingress keys: missing" },
		{ m_inst, "ingress keys: instance id not 16 bytes" },
		{ m_w2e, "ingress keys: a key not 32..64 bytes" },
		{ m_ctlkey, "keys: control key not 32..64 bytes" },
		{ m_nokeys, "keys: missing" },
		{ m_kdf, "keys: unknown kdf" },
		{ m_sid, "control session id not 16 bytes" },
		{ m_ttl, "runtime slice: runtime.platform.execution_ipc.auth."
		    "ttl_seconds: 0 out of range" },
		{ m_noslice, "runtime slice: missing" },
		{ m_group, "no group name" },
		{ m_state, "endpoint: bad state" },
		{ m_port0, "endpoint: bad port or generation of a ready worker" },
		{ m_bigport, "endpoint: bad port" },
		{ m_dup, "endpoint: duplicate slot 0 of a group" },
		{ m_ephost, "endpoint: bad host" },
	};
	uint8_t *good, *b, *big;
	size_t glen, len, cuts[] = { 1, 2, 7, 0, 0 };
	const uint8_t *p[2];
	size_t l[2];

	(void)state;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		repack(tab[i].fn, &b, &len);
		p[0] = b;
		expect_refused(p, &len, 1, 0, tab[i].want);
		free(b);
	}
	good_bundle(&good, &glen);
	/* truncated: every cut inside a field fails to decode */
	cuts[3] = glen / 2;
	cuts[4] = glen - 1;
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		p[0] = good;
		l[0] = cuts[i];
		expect_refused(p, l, 1, 0, "ingress bootstrap:");
	}
	p[0] = (const uint8_t *)"\xff\xff\xff\xff\xff\xff";
	l[0] = 6;
	expect_refused(p, l, 1, 0, "the bundle does not decode (6 bytes)");
	/* a worker's bundle is not an ingress's */
	assert_int_equal(xr_bundle_pack(&cfg, &web, 0, &ks, sid, &b, &len),
	    XR_OK);
	p[0] = b;
	expect_refused(p, &len, 1, 0, "not an ingress bundle (role 0)");
	free(b);
	/* oversized: refused, never truncated into a parse */
	assert_non_null(big = calloc(1, XR_INGRESS_BUNDLE_MAX + 1));
	memcpy(big, good, glen);
	p[0] = big;
	l[0] = XR_INGRESS_BUNDLE_MAX + 1;
	expect_refused(p, l, 1, 0, "bundle of 131073 bytes is over the limit "
	    "of 131072 bytes");
	free(big);
	/* none: closed at once, or nothing within the timeout */
	expect_refused(p, l, 0, 0, "closed without a bundle");
	expect_refused(p, l, 0, 1, "no bundle on fd");
	/* two */
	p[0] = p[1] = good;
	l[0] = l[1] = glen;
	expect_refused(p, l, 2, 0, "a second datagram on fd");
	xr_wipe(good, glen);
	free(good);
}

/* ---- WEB-BOOT-03: the control channel ---- */

static void
pump(struct run *r)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(r->base, EVLOOP_NONBLOCK);
}

static Execrpc__V1__ExecEndpoint upd;

static void
endpoint_cmd(Execrpc__V1__Command *c, uint32_t index, int state,
    uint32_t gen)
{
	execrpc__v1__command__init(c);
	execrpc__v1__exec_endpoint__init(&upd);
	upd.group = "echo";
	upd.index = index;
	upd.host = "127.0.0.1";
	upd.generation = gen;
	upd.state = (Execrpc__V1__WorkerState)state;
	c->type = EXECRPC__V1__COMMAND_TYPE__COMMAND_ENDPOINT;
	c->endpoint = &upd;
}

/* Sign `c` with `ch` and capture the datagram instead of delivering it. */
static size_t
capture(xr_wchan *ch, const Execrpc__V1__Command *c, uint8_t *buf,
    size_t cap)
{
	int fds[2], keep = ch->fd;
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	ch->fd = fds[0];
	assert_int_equal(xr_wchan_send(ch, c), XR_OK);
	ch->fd = keep;
	n = recv(fds[1], buf, cap, 0);
	assert_true(n > 0);
	close(fds[0]);
	close(fds[1]);
	return (size_t)n;
}

static void
expect_stats(struct run *r, uint64_t updates, uint64_t refused, int kind,
    uint64_t rejects, int last)
{
	xr_ingress_stats st;
	uint64_t total = 0;

	pump(r);
	xr_ingress_stats_get(r->ing, &st);
	for (int i = 0; i < XR_CHANNEL_REJECT_KINDS; i++)
		total += st.rejects[i];
	if (st.updates != updates || st.refused != refused ||
	    (kind >= 0 && st.rejects[kind] != rejects) ||
	    (kind < 0 && total != rejects) || st.last_reject != last)
		fail_msg("stats: updates %llu refused %llu rejects[%d] %llu "
		    "total %llu last %s; want %llu %llu %llu %s",
		    (unsigned long long)st.updates,
		    (unsigned long long)st.refused, kind,
		    kind >= 0 ? (unsigned long long)st.rejects[kind] : 0,
		    (unsigned long long)total, xr_err_name(st.last_reject),
		    (unsigned long long)updates, (unsigned long long)refused,
		    (unsigned long long)rejects, xr_err_name(last));
}

static void
test_control(void **state)
{
	uint8_t *b, dg[8192], big[XR_INGRESS_CTL_MAX + 16];
	size_t len, n;
	struct run r;
	xr_auth *a = xr_auth_new(&ks), *other;
	xr_keyset wrong;
	xr_wchan ch, forged, otherses;
	uint8_t sid2[16];
	Execrpc__V1__Command c;
	xr_ingress_endpoint ep[2];

	(void)state;
	good_bundle(&b, &len);
	boot(&r, (const uint8_t *const *)&b, &len, 1, 0);
	assert_non_null(r.ing);
	assert_int_equal(xr_wchan_init(&ch, r.ctl[0], a, sid, 30), XR_OK);
	/* a good update: echo[1] ready at generation 2 on port 2 */
	endpoint_cmd(&c, 1, XR_WORKER_READY, 2);
	upd.port = 2;
	assert_int_equal(xr_wchan_send(&ch, &c), XR_OK);
	expect_stats(&r, 1, 0, -1, 0, 0);
	assert_int_equal(xr_ingress_endpoints(r.ing, ep, 2), 2);
	assert_int_equal(ep[1].state, XR_INGRESS_EP_READY);
	assert_int_equal(ep[1].generation, 2);
	assert_int_equal(ep[1].port, 2);
	assert_int_equal(ep[1].connected, 1);
	/* forged: another key */
	ts_keys(&wrong, NULL);
	assert_non_null(other = xr_auth_new(&wrong));
	assert_int_equal(xr_wchan_init(&forged, r.ctl[0], other, sid, 30),
	    XR_OK);
	endpoint_cmd(&c, 1, XR_WORKER_BACKOFF, 2);
	assert_int_equal(xr_wchan_send(&forged, &c), XR_OK);
	expect_stats(&r, 1, 0, XR_REJECT_BAD_SIGNATURE, 1,
	    XR_ERR_BAD_SIGNATURE);
	/* another session id (the right key): not this channel's */
	assert_int_equal(xr_random_bytes(sid2, sizeof(sid2)), XR_OK);
	assert_int_equal(xr_wchan_init(&otherses, r.ctl[0], a, sid2, 30),
	    XR_OK);
	assert_int_equal(xr_wchan_send(&otherses, &c), XR_OK);
	expect_stats(&r, 1, 0, XR_REJECT_REPLAY, 1, XR_ERR_REPLAY);
	/* replayed: a good datagram delivered twice */
	n = capture(&ch, &c, dg, sizeof(dg));
	assert_int_equal(send(r.ctl[0], dg, n, 0), (ssize_t)n);
	assert_int_equal(send(r.ctl[0], dg, n, 0), (ssize_t)n);
	expect_stats(&r, 2, 0, XR_REJECT_REPLAY, 2, XR_ERR_REPLAY);
	assert_int_equal(xr_ingress_endpoints(r.ing, ep, 2), 2);
	assert_int_equal(ep[1].state, XR_INGRESS_EP_BACKOFF);
	assert_int_equal(ep[1].connected, 0);
	/* truncated */
	endpoint_cmd(&c, 1, XR_WORKER_STARTING, 3);
	n = capture(&ch, &c, dg, sizeof(dg));
	assert_int_equal(send(r.ctl[0], dg, n - 3, 0), (ssize_t)n - 3);
	expect_stats(&r, 2, 0, XR_REJECT_BAD_SIGNATURE, 2,
	    XR_ERR_BAD_SIGNATURE);
	/* oversized */
	memset(big, 0, sizeof(big));
	assert_int_equal(send(r.ctl[0], big, sizeof(big), 0),
	    (ssize_t)sizeof(big));
	expect_stats(&r, 2, 0, XR_REJECT_OVERSIZED, 1, XR_ERR_OVERSIZED);
	/* verified, but not for an ingress: a CALL; an unknown slot; a bad
	 * record */
	execrpc__v1__command__init(&c);
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_CALL;
	c.method = "echo.v1.Echo/Say";
	assert_int_equal(xr_wchan_send(&ch, &c), XR_OK);
	endpoint_cmd(&c, 7, XR_WORKER_STARTING, 1);
	assert_int_equal(xr_wchan_send(&ch, &c), XR_OK);
	endpoint_cmd(&c, 0, 12, 1);
	assert_int_equal(xr_wchan_send(&ch, &c), XR_OK);
	expect_stats(&r, 2, 3, -1, 5, XR_ERR_OVERSIZED);
	assert_int_equal(xr_ingress_endpoints(r.ing, ep, 2), 2);
	assert_int_equal(ep[0].state, XR_INGRESS_EP_READY);
	assert_int_equal(ep[0].generation, 3);
	/* STOP once; a second is refused */
	execrpc__v1__command__init(&c);
	c.type = EXECRPC__V1__COMMAND_TYPE__COMMAND_STOP;
	c.drain_inflight = 1;
	assert_int_equal(xr_wchan_send(&ch, &c), XR_OK);
	assert_int_equal(xr_wchan_send(&ch, &c), XR_OK);
	expect_stats(&r, 2, 4, -1, 5, XR_ERR_OVERSIZED);
	assert_int_equal(r.stops, 1);
	xr_wchan_fini(&ch);
	xr_wchan_fini(&forged);
	xr_wchan_fini(&otherses);
	xr_auth_free(a);
	xr_auth_free(other);
	xr_keyset_wipe(&wrong);
	done(&r);
	xr_wipe(b, len);
	free(b);
}

/* Run the base for 30 ms: long enough for a connect to port 1 of
 * 127.0.0.1, where nobody listens, to be refused. */
static void
until_refused(struct run *r)
{
	struct timeval tv = { 0, 30000 };

	event_base_loopexit(r->base, &tv);
	event_base_dispatch(r->base);
}

/* A key of a slot that is not ready: xr_ingress_pick() takes the next
 * ready one, xr_ingress_pick_own() none; a key of the ready slot: both
 * give its channel. (Slot 0 READY, its channel still connecting; slot 1
 * STARTING.) */
static void
test_pick_own(void **state)
{
	char k0[8] = "", k1[8] = "";
	uint8_t *b;
	size_t len;
	struct run r;
	xr_channel *ch;
	int err;

	(void)state;
	for (int i = 0; i < 64 && (k0[0] == '\0' || k1[0] == '\0'); i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", i);
		if (xr_hash_fnv1a(k, strlen(k)) % 2 == 0)
			memcpy(k0, k, sizeof(k));
		else
			memcpy(k1, k, sizeof(k));
	}
	good_bundle(&b, &len);
	boot(&r, (const uint8_t *const *)&b, &len, 1, 0);
	assert_non_null(r.ing);
	assert_non_null(ch = xr_ingress_pick(r.ing, "echo.v1.Echo", k0,
	    strlen(k0), &err));
	assert_int_equal(err, XR_OK);
	assert_ptr_equal(xr_ingress_pick_own(r.ing, "echo.v1.Echo", k0,
	    strlen(k0), &err), ch);
	assert_int_equal(err, XR_OK);
	assert_ptr_equal(xr_ingress_pick(r.ing, "echo.v1.Echo", k1,
	    strlen(k1), &err), ch);
	assert_int_equal(err, XR_OK);
	assert_null(xr_ingress_pick_own(r.ing, "echo.v1.Echo", k1, strlen(k1),
	    &err));
	assert_int_equal(err, XR_ERR_WORKER_FAILED);
	assert_null(xr_ingress_pick_own(r.ing, "echo.v1.Echo", NULL, 0, &err));
	assert_int_equal(err, XR_ERR_INVALID_ARG);
	assert_null(xr_ingress_pick_own(r.ing, "kv.v1.Kv", k0, strlen(k0),
	    &err));
	assert_int_equal(err, XR_ERR_INVALID_ARG);
	done(&r);
	xr_wipe(b, len);
	free(b);
}

/* The closed channel to a READY worker is made again by the next pick of
 * its group, at most once per 100 ms. */
static void
test_revive(void **state)
{
	uint8_t *b;
	size_t len;
	struct run r;
	xr_ingress_stats st;
	struct timeval tv = { 0, 150000 };
	int err;

	(void)state;
	good_bundle(&b, &len);
	boot(&r, (const uint8_t *const *)&b, &len, 1, 0);
	assert_non_null(r.ing);
	xr_ingress_stats_get(r.ing, &st);
	assert_int_equal(st.channels_opened, 1);
	until_refused(&r);
	/* A round whose second pick did not come within 90 ms of the redial
	 * (a stalled machine) proves nothing and is run again. */
	for (int round = 0; ; round++) {
		xr_ingress_stats before;
		xr_channel *ch;
		uint64_t t0;

		assert_true(round < 5);
		xr_ingress_stats_get(r.ing, &before);
		/* the channel failed, the window passed: the pick makes a new
		 * one (connecting) */
		t0 = xr_mono_ms();
		assert_non_null(xr_ingress_pick(r.ing, "echo.v1.Echo", NULL, 0,
		    &err));
		assert_int_equal(err, XR_OK);
		xr_ingress_stats_get(r.ing, &st);
		assert_int_equal(st.channels_opened, before.channels_opened + 1);
		assert_int_equal(st.channels_revived,
		    before.channels_revived + 1);
		/* it fails too; a pick within 100 ms does not redial */
		until_refused(&r);
		ch = xr_ingress_pick(r.ing, "echo.v1.Echo", NULL, 0, &err);
		if (xr_mono_ms() - t0 >= 90) {
			event_base_loopexit(r.base, &tv);
			event_base_dispatch(r.base);
			until_refused(&r);
			continue;
		}
		assert_null(ch);
		assert_int_equal(err, XR_ERR_WORKER_FAILED);
		xr_ingress_stats_get(r.ing, &st);
		assert_int_equal(st.channels_revived,
		    before.channels_revived + 1);
		break;
	}
	/* past 100 ms: once more */
	xr_ingress_stats_get(r.ing, &st);
	event_base_loopexit(r.base, &tv);
	event_base_dispatch(r.base);
	assert_non_null(xr_ingress_pick(r.ing, "echo.v1.Echo", NULL, 0,
	    &err));
	{
		uint64_t was = st.channels_revived;

		xr_ingress_stats_get(r.ing, &st);
		assert_int_equal(st.channels_revived, was + 1);
	}
	done(&r);
	xr_wipe(b, len);
	free(b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_pick_own),
		cmocka_unit_test(test_revive),
	};

	(void)ts_worker_mode(argc, argv);	/* never a worker */
	return cmocka_run_group_tests(tests, setup, NULL);
}
