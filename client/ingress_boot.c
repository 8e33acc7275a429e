/*
 * client/ingress_boot.c — an ingress process reads its bootstrap bundle
 * (fd 3): one datagram, then end of file; decoded with nanopb (the
 * endpoint table one entry at a time), validated, its keys kept in the
 * ingress and every buffer that held them wiped.
 */
#include "ingress_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pb_decode.h>

#include "cfgtab.h"
#include "execrpc/v1/bootstrap.pb.h"

#define EOF_WAIT_MS 5000

static int fail(xr_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(xr_diag *d, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return xr_diag_set(d, XR_ERR_CHILD_BOOTSTRAP_FAILED,
	    "ingress bootstrap: %s", why);
}

/* Wait for `fd` to be readable within `ms`: 1, 0 (timeout) or -1. */
static int
wait_readable(int fd, uint32_t ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t end = xr_mono_ms() + ms, now;
	int r;

	for (;;) {
		now = xr_mono_ms();
		r = poll(&p, 1, now >= end ? 0 : (int)(end - now));
		if (r >= 0 || errno != EINTR)
			return r > 0 ? 1 : r;
	}
}

/* A name (group, host, service): 1..cap-1 bytes of printable ASCII, no
 * space. Stricter than the wire's UTF-8: the supervisor's names come from
 * the config, whose checks allow nothing else. */
static bool
str_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == 0 || n == cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

int
xr__ing_endpoint_check(const execrpc_v1_ExecEndpoint *e, char *why,
    size_t cap)
{
	const char *bad = NULL;

	if (!str_ok(e->group, sizeof(e->group)))
		bad = "group";
	else if (!str_ok(e->host, sizeof(e->host)))
		bad = "host";
	else if (e->port > 65535)
		bad = "port";
	else if (e->state < execrpc_v1_WorkerState_WORKER_STATE_STARTING ||
	    e->state > execrpc_v1_WorkerState_WORKER_STATE_BACKOFF)
		bad = "state";
	else if (e->state == execrpc_v1_WorkerState_WORKER_STATE_READY &&
	    (e->port == 0 || e->generation == 0))
		bad = "port or generation of a ready worker";
	for (size_t i = 0; bad == NULL && i < e->services_count; i++)
		if (!str_ok(e->services[i], sizeof(e->services[i])))
			bad = "services";
	if (bad == NULL)
		return XR_OK;
	snprintf(why, cap, "endpoint: bad %s", bad);
	return XR_ERR_MALFORMED;
}

struct ep_ctx {
	xr_ingress *ing;
	char why[120];
};

/* One endpoint of the table: checked, appended (no duplicate slot). */
static bool
dec_endpoint(pb_istream_t *s, const pb_field_t *f, void **arg)
{
	struct ep_ctx *c = *arg;
	xr_ingress *ing = c->ing;
	execrpc_v1_ExecEndpoint e;
	struct xr_ing_slot *sl;

	(void)f;
	memset(&e, 0, sizeof(e));
	if (!pb_decode(s, execrpc_v1_ExecEndpoint_fields, &e)) {
		snprintf(c->why, sizeof(c->why), "endpoint %zu does not "
		    "decode", ing->n);
		return false;
	}
	if (xr__ing_endpoint_check(&e, c->why, sizeof(c->why)) != XR_OK)
		return false;
	if (ing->n >= XR_INGRESS_MAX_ENDPOINTS) {
		snprintf(c->why, sizeof(c->why), "more than %d endpoints",
		    XR_INGRESS_MAX_ENDPOINTS);
		return false;
	}
	for (size_t i = 0; i < ing->n; i++)
		if (strcmp(ing->slots[i].ep.group, e.group) == 0 &&
		    ing->slots[i].ep.index == e.index) {
			snprintf(c->why, sizeof(c->why), "endpoint: duplicate "
			    "slot %u of a group", e.index);
			return false;
		}
	if (ing->n == ing->cap) {
		size_t nc = ing->cap ? ing->cap * 2 : 8;
		void *p = realloc(ing->slots, nc * sizeof(*ing->slots));

		if (p == NULL) {
			snprintf(c->why, sizeof(c->why), "out of memory");
			return false;
		}
		ing->slots = p;
		ing->cap = nc;
	}
	sl = &ing->slots[ing->n++];
	memset(sl, 0, sizeof(*sl));
	snprintf(sl->ep.group, sizeof(sl->ep.group), "%s", e.group);
	snprintf(sl->ep.host, sizeof(sl->ep.host), "%s", e.host);
	sl->ep.index = e.index;
	sl->ep.port = (uint16_t)e.port;
	sl->ep.generation = e.generation;
	sl->ep.state = (int)e.state;
	sl->n_services = e.services_count;
	memcpy(sl->services, e.services, sizeof(sl->services));
	return true;
}

static bool
key_ok(size_t len)
{
	return len >= 32 && len <= 64;
}

int
xr__ing_boot_decode(xr_ingress *ing, const uint8_t *buf, size_t len,
    xr_diag *d)
{
	execrpc_v1_BootstrapBundle *b;
	struct ep_ctx c = { .ing = ing };
	pb_istream_t s = pb_istream_from_buffer(buf, len);
	xr_diag ud = { 0 };
	int r = XR_OK;

	/* big (services, keys): on the heap, wiped */
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return xr_diag_set(d, XR_ERR_NOMEM, "ingress: out of memory");
	b->endpoints.funcs.decode = dec_endpoint;
	b->endpoints.arg = &c;
	if (!pb_decode(&s, execrpc_v1_BootstrapBundle_fields, b)) {
		r = c.why[0] ? fail(d, "%s", c.why) :
		    fail(d, "the bundle does not decode (%zu bytes): %s", len,
		    PB_GET_ERROR(&s));
		goto out;
	}
	if (b->version != 1) {
		r = fail(d, "unsupported bundle version %u (want 1)",
		    b->version);
		goto out;
	}
	if (b->role != execrpc_v1_GroupRole_GROUP_ROLE_INGRESS) {
		r = fail(d, "not an ingress bundle (role %d): is this program "
		    "in a group with role: ingress?", (int)b->role);
		goto out;
	}
	if (!str_ok(b->group, sizeof(b->group))) {
		r = fail(d, "no group name");
		goto out;
	}
	if (!b->has_runtime ||
	    xr_config_check_uint("runtime.platform.execution_ipc."
	    "max_payload_bytes", b->runtime.max_payload_bytes, &ud) != XR_OK ||
	    xr_config_check_uint("runtime.platform.execution_ipc.auth."
	    "ttl_seconds", b->runtime.ttl_seconds, &ud) != XR_OK) {
		r = fail(d, "runtime slice: %s", b->has_runtime ? ud.reason :
		    "missing");
		goto out;
	}
	if (!b->has_keys || (b->keys.kdf != execrpc_v1_Kdf_KDF_NONE &&
	    b->keys.kdf != execrpc_v1_Kdf_KDF_HKDF_SHA256) ||
	    !key_ok(b->keys.control.size)) {
		r = fail(d, "keys: %s", !b->has_keys ? "missing" :
		    !key_ok(b->keys.control.size) ? "control key not 32..64 "
		    "bytes" : "unknown kdf");
		goto out;
	}
	if (!b->has_ingress || !key_ok(b->ingress.web_to_exec.size) ||
	    !key_ok(b->ingress.exec_to_web.size) ||
	    b->ingress.instance_id.size != XR_INSTANCE_ID_LEN) {
		r = fail(d, "ingress keys: %s", !b->has_ingress ? "missing" :
		    b->ingress.instance_id.size != XR_INSTANCE_ID_LEN ?
		    "instance id not 16 bytes" : "a key not 32..64 bytes");
		goto out;
	}
	if (b->control_session_id.size != XR_SESSION_ID_LEN) {
		r = fail(d, "control session id not %d bytes",
		    XR_SESSION_ID_LEN);
		goto out;
	}
	snprintf(ing->group, sizeof(ing->group), "%s", b->group);
	ing->index = b->index;
	ing->max_payload = b->runtime.max_payload_bytes;
	ing->ttl = b->runtime.ttl_seconds;
	if (xr_keyset_from_keys(b->keys.kdf == execrpc_v1_Kdf_KDF_NONE ?
	    XR_KDF_NONE : XR_KDF_HKDF_SHA256, b->ingress.web_to_exec.bytes,
	    b->ingress.web_to_exec.size, b->ingress.exec_to_web.bytes,
	    b->ingress.exec_to_web.size, b->keys.control.bytes,
	    b->keys.control.size, &ing->base_keys) != XR_OK) {
		r = fail(d, "keys refused");
		goto out;
	}
	memcpy(ing->inst, b->ingress.instance_id.bytes, XR_INSTANCE_ID_LEN);
	ing->sess.state = XR_SESSION_OPEN;
	memcpy(ing->sess.id, b->control_session_id.bytes, XR_SESSION_ID_LEN);
 out:
	xr_wipe(b, sizeof(*b));
	free(b);
	return r;
}

int
xr__ing_boot_read(xr_ingress *ing, int fd, uint32_t timeout_ms, xr_diag *d)
{
	uint8_t *buf = malloc(XR_INGRESS_BUNDLE_MAX), extra;
	ssize_t n = -1, m;
	int r, w;

	if (buf == NULL) {
		close(fd);
		return xr_diag_set(d, XR_ERR_NOMEM, "ingress: out of memory");
	}
	if ((w = wait_readable(fd, timeout_ms)) <= 0) {
		r = w == 0 ? fail(d, "no bundle on fd %d within %u ms", fd,
		    timeout_ms) : fail(d, "fd %d: %s", fd, strerror(errno));
		goto out;
	}
	do
		n = recv(fd, buf, XR_INGRESS_BUNDLE_MAX, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		r = n == 0 ? fail(d, "fd %d closed without a bundle", fd) :
		    fail(d, "fd %d: %s (a SOCK_SEQPACKET socket from the "
		    "supervisor?)", fd, strerror(errno));
		n = 0;
		goto out;
	}
	if ((size_t)n > XR_INGRESS_BUNDLE_MAX) {
		r = fail(d, "bundle of %zd bytes is over the limit of %d "
		    "bytes", n, XR_INGRESS_BUNDLE_MAX);
		n = XR_INGRESS_BUNDLE_MAX;
		goto out;
	}
	/* the supervisor closes right after its one datagram */
	if (wait_readable(fd, EOF_WAIT_MS) <= 0) {
		r = fail(d, "fd %d not closed after the bundle", fd);
		goto out;
	}
	do
		m = recv(fd, &extra, 1, MSG_TRUNC);
	while (m < 0 && errno == EINTR);
	if (m != 0) {
		r = fail(d, "a second datagram on fd %d (one bundle only)", fd);
		goto out;
	}
	r = xr__ing_boot_decode(ing, buf, (size_t)n, d);
 out:
	close(fd);
	if (n > 0)
		xr_wipe(buf, (size_t)n);
	free(buf);
	return r;
}
