/*
 * tests/fuzz/fuzz_ingress.c — what a web process's C ingress parses from
 * the supervisor (client/ingress_boot.c, client/ingress.c; docs/
 * supervisor.md "The C side"): the ingress bundle of fd 3 and the signed
 * control datagrams of fd 4.
 *
 * Input: one control byte, then:
 *  - control byte even: the bundle's bytes, through xr__ing_boot_decode()
 *    (what xr__ing_boot_read() does once its one datagram arrived: nanopb
 *    decode with the endpoint table one entry at a time, validation);
 *  - control byte odd: datagrams for fd 4 of an ingress opened by
 *    xr_ingress_from_bootstrap() from a fixed valid bundle (packed by the
 *    supervisor's xr_bundle_pack_ingress() with the test keys of
 *    fuzz_common.h: group "web", slots echo[0] READY on 127.0.0.1:1
 *    generation 1 and echo[1] STARTING, and fl[0] STOPPED), each chunk
 *    [flags][length: 2 bytes, big endian][bytes] through
 *    xr__ing_ctl_datagram(). Flags bit 0: the bytes are a Command payload
 *    that the target signs as the supervisor does (kind CONTROL, the
 *    bundle's session id, the next sequence, now; bit 1: the same
 *    sequence as the last one again: a replay); else the bytes are the
 *    datagram itself.
 *
 * Invariants (abort() on violation):
 *  - a bundle is XR_OK or XR_ERR_CHILD_BOOTSTRAP_FAILED with a non-empty,
 *    terminated reason starting "ingress bootstrap: " that holds no byte
 *    of the bundle's keys (the keys' bytes are printable only by chance:
 *    checked for keys of 32+ bytes as a whole);
 *  - on XR_OK protobuf-c decodes the same bytes (or, when it refuses
 *    them, the bytes without the top-level fields nanopb skips: apps and
 *    redis, whose wire type nanopb never checks) and agrees: version 1,
 *    role ingress, group, index, session id, key lengths 32..64, 16-byte
 *    instance id, the same endpoints in order (group, index, host, port,
 *    generation, state, services); every slot is valid (terminated
 *    non-empty group and host, port <= 65535, a known state, a READY one
 *    with a port and a generation, at most 16 services), no two slots
 *    share (group, index), at most 1024 of them; the session is OPEN;
 *  - every datagram moves exactly one of: a reject counter, `refused`,
 *    `updates`, or the first STOP (on_stop runs once, only then); a raw
 *    datagram whose tag does not verify with the control key is a reject;
 *    `updates` moves exactly when on_update runs, for a slot of the table,
 *    and the slot then holds the record (port, generation, state, host);
 *  - the table never grows or shrinks and stays valid; a slot has a
 *    channel only while READY, DRAINING or STOPPING, `connected` exactly
 *    when it has one, and none after a STOP without drain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth.h"
#include "bundle.h"
#include "codec.h"
#include "config.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "execrpc/v1/lifecycle.pb-c.h"
#include "frame.h"
#include "fuzz_common.h"
#include "ingress_priv.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static xr_keyset keys;
static xr_auth *ctl_auth;		/* signs the wrapped Commands */
static uint8_t *bundle;			/* the fixed valid bundle */
static size_t bundle_len;
static const uint8_t inst[XR_INSTANCE_ID_LEN] = "fuzz-instance-01";

static void
setup(void)
{
	static char *svc_echo[] = { "echo.v1.Echo" };
	static char *svc_fl[] = { "fundload.v1.FundLoad", "x.v1.Y" };
	Execrpc__V1__ExecEndpoint e[3], *pp[3];
	xr_config cfg;
	xr_keyset ck;

	CHECK((base = event_base_new()) != NULL);
	CHECK(xr_keys_derive(xf_master, sizeof(xf_master), XR_KDF_HKDF_SHA256,
	    &keys) == XR_OK);
	ck = keys;
	ck.k[XR_DIR_WEB_TO_EXEC] = ck.k[XR_DIR_CONTROL];
	ck.k[XR_DIR_EXEC_TO_WEB] = ck.k[XR_DIR_CONTROL];
	CHECK((ctl_auth = xr_auth_new(&ck)) != NULL);
	xr_keyset_wipe(&ck);
	for (int i = 0; i < 3; i++) {
		execrpc__v1__exec_endpoint__init(&e[i]);
		e[i].host = "127.0.0.1";
		pp[i] = &e[i];
	}
	e[0].group = e[1].group = "echo";
	e[1].index = 1;
	e[0].port = 1;
	e[0].generation = 1;
	e[0].state = EXECRPC__V1__WORKER_STATE__WORKER_STATE_READY;
	e[1].generation = 1;
	e[1].state = EXECRPC__V1__WORKER_STATE__WORKER_STATE_STARTING;
	e[0].n_services = e[1].n_services = 1;
	e[0].services = e[1].services = svc_echo;
	e[2].group = "fl";
	e[2].state = EXECRPC__V1__WORKER_STATE__WORKER_STATE_STOPPED;
	e[2].n_services = 2;
	e[2].services = svc_fl;
	xr_config_defaults(&cfg);
	cfg.n_groups = 1;
	snprintf(cfg.groups[0].name, sizeof(cfg.groups[0].name), "web");
	CHECK(xr_bundle_pack_ingress(&cfg, &cfg.groups[0], 0, &keys, inst,
	    xf_session, pp, 3, &bundle, &bundle_len) == XR_OK);
}

static bool
str_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	return n > 0 && n < cap;
}

/* Every slot valid, none shares (group, index). */
static void
check_table(const xr_ingress *ing)
{
	CHECK(ing->n <= XR_INGRESS_MAX_ENDPOINTS && ing->n <= ing->cap);
	for (size_t i = 0; i < ing->n; i++) {
		const struct xr_ing_slot *sl = &ing->slots[i];
		int st = sl->ep.state;

		CHECK(str_ok(sl->ep.group, sizeof(sl->ep.group)));
		CHECK(str_ok(sl->ep.host, sizeof(sl->ep.host)));
		CHECK(st >= XR_INGRESS_EP_STARTING && st <= XR_INGRESS_EP_BACKOFF);
		CHECK(st != XR_INGRESS_EP_READY ||
		    (sl->ep.port != 0 && sl->ep.generation != 0));
		CHECK(sl->n_services <= 16);
		for (size_t k = 0; k < sl->n_services; k++)
			CHECK(str_ok(sl->services[k], sizeof(sl->services[k])));
		CHECK((sl->ch != NULL) == (sl->ep.connected != 0));
		CHECK(sl->ch == NULL || st == XR_INGRESS_EP_READY ||
		    st == XR_INGRESS_EP_DRAINING ||
		    st == XR_INGRESS_EP_STOPPING);
		CHECK(sl->ch == NULL || !ing->refusing);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(ing->slots[j].ep.group, sl->ep.group) != 0 ||
			    ing->slots[j].ep.index != sl->ep.index);
	}
}

static bool
holds(const char *hay, const uint8_t *k, size_t n)
{
	size_t h = strlen(hay);

	for (size_t i = 0; n > 0 && i + n <= h; i++)
		if (memcmp(hay + i, k, n) == 0)
			return true;
	return false;
}

/* The endpoint record `e` (protobuf-c) equals slot `sl`. */
static void
check_same(const struct xr_ing_slot *sl, const Execrpc__V1__ExecEndpoint *e)
{
	CHECK(strcmp(sl->ep.group, e->group) == 0 && sl->ep.index == e->index);
	CHECK(strcmp(sl->ep.host, e->host) == 0);
	CHECK(sl->ep.port == e->port && sl->ep.generation == e->generation);
	CHECK(sl->ep.state == (int)e->state);
}

/* Read a protobuf varint at *p (< end): false if truncated or over 10
 * bytes. */
static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int sh = 0; sh < 70 && *p < end; sh += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << sh;
		if ((b & 0x80) == 0)
			return true;
	}
	return false;
}

/*
 * The bundle's bytes without its top-level fields that the ingress's
 * nanopb code skips (apps = 8, redis = 13: FT_IGNORE, any wire type), in
 * `out` (len bytes). Every other field copied as is. Returns the length;
 * CHECKs that the top level is well formed (nanopb took it).
 */
static size_t
strip_ignored(const uint8_t *buf, size_t len, uint8_t *out)
{
	const uint8_t *p = buf, *end = buf + len;
	size_t n = 0;

	while (p < end) {
		const uint8_t *start = p;
		uint64_t tag, v;

		CHECK(varint(&p, end, &tag));
		switch (tag & 7) {
		case 0:
			CHECK(varint(&p, end, &v));
			break;
		case 1:
			CHECK(end - p >= 8);
			p += 8;
			break;
		case 2:
			CHECK(varint(&p, end, &v) && v <= (uint64_t)(end - p));
			p += v;
			break;
		case 5:
			CHECK(end - p >= 4);
			p += 4;
			break;
		default:
			CHECK(false);
		}
		if ((tag >> 3) != 8 && (tag >> 3) != 13) {
			memcpy(out + n, start, (size_t)(p - start));
			n += (size_t)(p - start);
		}
	}
	return n;
}

static void
run_bundle(const uint8_t *buf, size_t len)
{
	xr_ingress *ing = calloc(1, sizeof(*ing));
	Execrpc__V1__BootstrapBundle *m;
	xr_diag d = { 0 };
	int r;

	CHECK(ing != NULL);
	ing->ctl_fd = -1;
	r = xr__ing_boot_decode(ing, buf, len, &d);
	m = execrpc__v1__bootstrap_bundle__unpack(NULL, len, buf);
	if (r != XR_OK) {
		CHECK(r == XR_ERR_CHILD_BOOTSTRAP_FAILED || r == XR_ERR_NOMEM);
		CHECK(d.code == r && TERMINATED(d.reason));
		CHECK(strncmp(d.reason, "ingress bootstrap: ", 19) == 0 ||
		    r == XR_ERR_NOMEM);
		if (m != NULL && m->keys != NULL && m->keys->control.len >= 32)
			CHECK(!holds(d.reason, m->keys->control.data,
			    m->keys->control.len));
		if (m != NULL && m->ingress != NULL &&
		    m->ingress->web_to_exec.len >= 32)
			CHECK(!holds(d.reason, m->ingress->web_to_exec.data,
			    m->ingress->web_to_exec.len));
	} else {
		if (m == NULL) {
			/* only a field nanopb skips may be what protobuf-c
			 * refused (a wrong wire type for apps or redis) */
			uint8_t *cp = malloc(len ? len : 1);

			CHECK(cp != NULL);
			m = execrpc__v1__bootstrap_bundle__unpack(NULL,
			    strip_ignored(buf, len, cp), cp);
			free(cp);
		}
		CHECK(m != NULL);
		CHECK(m->version == 1);
		CHECK(m->role == EXECRPC__V1__GROUP_ROLE__GROUP_ROLE_INGRESS);
		CHECK(TERMINATED(ing->group) && strcmp(ing->group, m->group) == 0);
		CHECK(ing->index == m->index);
		CHECK(m->keys != NULL && m->ingress != NULL);
		CHECK(m->keys->control.len >= 32 && m->keys->control.len <= 64);
		CHECK(m->ingress->web_to_exec.len >= 32 &&
		    m->ingress->web_to_exec.len <= 64);
		CHECK(m->ingress->exec_to_web.len >= 32 &&
		    m->ingress->exec_to_web.len <= 64);
		CHECK(m->ingress->instance_id.len == XR_INSTANCE_ID_LEN &&
		    memcmp(ing->inst, m->ingress->instance_id.data,
		    XR_INSTANCE_ID_LEN) == 0);
		CHECK(m->control_session_id.len == XR_SESSION_ID_LEN &&
		    memcmp(ing->sess.id, m->control_session_id.data,
		    XR_SESSION_ID_LEN) == 0);
		CHECK(ing->sess.state == XR_SESSION_OPEN);
		CHECK(ing->n == m->n_endpoints);
		for (size_t i = 0; i < ing->n; i++) {
			check_same(&ing->slots[i], m->endpoints[i]);
			CHECK(ing->slots[i].n_services ==
			    m->endpoints[i]->n_services);
			for (size_t k = 0; k < ing->slots[i].n_services; k++)
				CHECK(strcmp(ing->slots[i].services[k],
				    m->endpoints[i]->services[k]) == 0);
		}
		check_table(ing);
	}
	if (m != NULL)
		execrpc__v1__bootstrap_bundle__free_unpacked(m, NULL);
	xr_ingress_free(ing);
}

/* ---- fd 4 ---- */

static int n_stop, n_update;

static void
on_stop(void *arg, xr_ingress *ing, uint32_t timeout_ms, int drain)
{
	(void)arg;
	(void)ing;
	(void)timeout_ms;
	(void)drain;
	n_stop++;
}

static void
on_update(void *arg, const xr_ingress_endpoint *ep)
{
	(void)arg;
	(void)ep;
	n_update++;
}

static xr_ingress *
open_ingress(int *peer)
{
	xr_ingress_opts o = { 0 };
	xr_diag d = { 0 };
	xr_ingress *ing;
	int b[2], c[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, b) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c) == 0);
	CHECK(send(b[0], bundle, bundle_len, 0) == (ssize_t)bundle_len);
	close(b[0]);
	o.bootstrap_fd = b[1];
	o.control_fd = c[1];
	o.on_stop = on_stop;
	o.on_update = on_update;
	o.client_name = "fuzz";
	ing = xr_ingress_from_bootstrap(base, &o, &d);
	CHECK(ing != NULL);
	*peer = c[0];
	return ing;
}

/* Sign payload `p` as the supervisor's COMMAND datagram: malloc'd frame
 * body (no length prefix) in *out. */
static size_t
wrap(const uint8_t *p, size_t n, uint64_t seq, uint8_t **out)
{
	Execrpc__V1__Envelope e;
	uint8_t nonce[XR_NONCE_LEN];
	size_t cap, len;
	uint8_t *buf;

	CHECK(xr_codec_env_init(&e, XR_KIND_CONTROL, nonce) == XR_OK);
	e.session_id.data = (uint8_t *)(uintptr_t)xf_session;
	e.session_id.len = XR_SESSION_ID_LEN;
	e.payload.data = (uint8_t *)(uintptr_t)p;
	e.payload.len = n;
	e.sequence = seq;
	cap = xr_codec_sealed_len(&e);
	CHECK((buf = malloc(cap)) != NULL);
	CHECK(xr_codec_seal(ctl_auth, XR_DIR_CONTROL, &e, buf, cap, &len) ==
	    XR_OK);
	memmove(buf, buf + XR_FRAME_PREFIX_LEN, len - XR_FRAME_PREFIX_LEN);
	*out = buf;
	return len - XR_FRAME_PREFIX_LEN;
}

static uint64_t
moved(const xr_ingress_stats *st)
{
	uint64_t n = st->refused + st->updates;

	for (int k = 0; k < XR_CHANNEL_REJECT_KINDS; k++)
		n += st->rejects[k];
	return n;
}

static void
one_datagram(xr_ingress *ing, uint8_t flags, const uint8_t *p, size_t n,
    uint64_t *seq)
{
	Execrpc__V1__Command *cmd = NULL;
	xr_ingress_stats a, b;
	const uint8_t *env, *tag;
	size_t env_len, tag_len, dl = n;
	uint8_t *owned = NULL;
	const uint8_t *dg = p;
	int stops = n_stop, ups = n_update;
	bool stop_before = ing->stop_seen, tag_ok;

	if (flags & 1) {
		if (!(flags & 2))
			(*seq)++;
		dl = wrap(p, n, *seq, &owned);
		dg = owned;
		cmd = execrpc__v1__command__unpack(NULL, n, p);
	}
	tag_ok = xr_frame_split(dg, dl, &env, &env_len, &tag, &tag_len) ==
	    XR_OK && xr_auth_verify(ctl_auth, XR_DIR_CONTROL, env, env_len,
	    tag, tag_len) == XR_OK;
	xr_ingress_stats_get(ing, &a);
	(void)xr__ing_ctl_datagram(ing, dg, dl);
	xr_ingress_stats_get(ing, &b);
	CHECK(moved(&b) - moved(&a) + (ing->stop_seen && !stop_before) == 1);
	CHECK(n_stop - stops == (ing->stop_seen && !stop_before));
	CHECK(n_update - ups == (int)(b.updates - a.updates));
	if (!tag_ok)
		CHECK(b.updates == a.updates && b.refused == a.refused &&
		    ing->stop_seen == stop_before);
	if (b.updates != a.updates) {
		/* only a signed, decodable ENDPOINT gets here */
		CHECK(cmd != NULL && cmd->endpoint != NULL);
		for (size_t i = 0; i < ing->n; i++)
			if (strcmp(ing->slots[i].ep.group,
			    cmd->endpoint->group) == 0 &&
			    ing->slots[i].ep.index == cmd->endpoint->index)
				check_same(&ing->slots[i], cmd->endpoint);
	}
	check_table(ing);
	if (cmd != NULL)
		execrpc__v1__command__free_unpacked(cmd, NULL);
	free(owned);
}

static void
run_control(const uint8_t *p, size_t n)
{
	int peer;
	xr_ingress *ing = open_ingress(&peer);
	size_t n0 = ing->n;
	uint64_t seq = 0;

	n_stop = n_update = 0;
	check_table(ing);
	while (n >= 3) {
		uint8_t flags = p[0];
		size_t len = (size_t)p[1] << 8 | p[2];

		p += 3;
		n -= 3;
		if (len > n)
			len = n;
		one_datagram(ing, flags, p, len, &seq);
		p += len;
		n -= len;
	}
	CHECK(ing->n == n0 && n_stop <= 1);
	xr_ingress_free(ing);
	close(peer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (base == NULL)
		setup();
	if (size < 1)
		return 0;
	if (data[0] & 1)
		run_control(data + 1, size - 1);
	else
		run_bundle(data + 1, size - 1);
	return 0;
}
