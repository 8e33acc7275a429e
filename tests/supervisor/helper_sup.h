/*
 * tests/supervisor/helper_sup.h — shared pieces of the supervisor tests.
 *
 * Every test binary is its own worker executable: main() first calls
 * ts_worker_mode(), which runs xr_worker_main() with the test module table
 * when argv holds "--worker". The modules are the application's business
 * (server/module.h), so test behaviours live here, not in production
 * code (PROC-INT-05):
 *   echo.v1.Echo   the real example service (server/echo.c)
 *   test.v1.Probe  echo.v1.Echo/Say answers with the worker's own view of its
 *                  hardening: "dumpable=D core=C pdeathsig=S sigpipe=ign|dfl"
 *   test.v1.Wedge  echo, plus a timer that wedges the event loop right after
 *                  READY: a worker that never honours STOP
 *   test.v1.Empty  registers nothing (only the built-in Endpoint/Stats)
 *   test.v1.Stall  never returns from registration: a worker that took its
 *                  bundle but never sends READY
 *   test.v1.Apps   reads apps.probe: test.v1.Apps/Say (tests/proto) answers
 *                  with the section it got (ts_apps_render); its check_app
 *                  refuses a key named "bad"
 *   test.v1.Owned  echo.v1.Echo/Say answers "call N" from a state the
 *                  registry owns (echo_v1_Echo_MODULE_ADD_STATE); freeing
 *                  it writes "test.v1.Owned: state freed after N calls" on
 *                  stderr
 *   test.v1.Count  echo.v1.Echo/Say counts the calls its handler got and
 *                  answers "calls=N" (this one included)
 */
#ifndef TS_HELPER_SUP_H
#define TS_HELPER_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "config.h"
#include "helper_srv.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "execrpc/v1/lifecycle.pb-c.h"
#include "keys.h"
#include "supervisor.h"

/* If argv asks for worker mode, run the worker and return its exit status;
 * else return -1. With "--fake-worker" too, the worker is a hand-made one
 * that sends, on the worker channel, TS_FAKE_SCRIPT: READY{TS_FAKE_PORT},
 * READY{TS_FAKE_PORT + 1} (a second READY), STOPPED (no STOP was sent),
 * STOP (the supervisor's command, the wrong way), STATS_REPLY{request_id
 * 999} (nobody asked), CALL_REPLY{request_id 999} (no such call), CALL
 * {request_id 1} (the supervisor's command, the wrong way); then answers
 * STOP with STOPPED and exits 0. */
int ts_worker_mode(int argc, char **argv);

#define TS_FAKE_PORT 1111

/* The longest answer of test.v1.Apps. */
#define TS_APPS_SEEN_MAX 16384

/* An apps section as test.v1.Apps answers: "key=value;" for each setting
 * in order, "" for an empty one, "none" for NULL (asserts it fits). */
void ts_apps_render(const xr_app_section *sec, char *out, size_t cap);

/* Parse YAML into `cfg` (asserts). */
void ts_config(xr_config *cfg, const char *yaml);

/* A fresh random master and its hkdf keyset; `master` may be NULL. */
void ts_keys(xr_keyset *ks, uint8_t master[32]);

/* The keys of worker `w`'s endpoint (its group, index and generation) as
 * supervisor `s` handed them over (xr_supervisor_endpoint_keys; asserts).
 * A supervised worker verifies nothing signed with the supervisor's own
 * keyset. */
void ts_ep_keys(const xr_supervisor *s, const xr_worker_info *w,
    xr_keyset *out);

/* ---- recording callbacks ---- */

#define TS_MAX_EVENTS 128

typedef struct ts_ev {
	int kind;		/* 0 worker event, 1 stop event */
	xr_worker_info w;	/* worker event */
	int err;
	char reason[160];
	char group[64];		/* stop event */
	xr_stop_mode mode;
	uint64_t at_ms;		/* monotonic */
} ts_ev;

typedef struct ts_rec {
	ts_ev ev[TS_MAX_EVENTS];
	size_t n;
} ts_rec;

void ts_on_stop(void *arg, const char *group, xr_stop_mode mode);
void ts_on_worker(void *arg, const xr_worker_info *w, int err,
    const char *reason);
/* Number of stop events for `group` (mode 0 = any). */
int ts_stop_count(const ts_rec *r, const char *group, xr_stop_mode mode);
/* Number of worker events with `err` and, if non-NULL, `reason`. */
int ts_worker_count(const ts_rec *r, int err, const char *reason);

/* ---- calls to a worker's endpoint, with the raw signing peer of
 * tests/server/helper_srv.h (127.0.0.1:port) ---- */

/* The next RESPONSE on `p` within `timeout_ms` per read, GOAWAY and PONG
 * skipped; NULL when the connection closed (*closed = 1) or nothing came
 * (*closed = 0). The envelope is valid until the next receive on `p`. */
const Execrpc__V1__Envelope *ts_response(ts_peer *p, int timeout_ms,
    int *closed);

/* One call of `method` with the request bytes `req` over a fresh session
 * signed with `ks`, its response awaited `wait_ms` per read. Returns the
 * gRPC status; `*resp` (malloc'd, NULL when empty; caller frees) /
 * `*resp_len` the response payload. Asserts on a transport failure. */
int ts_call(uint16_t port, const xr_keyset *ks, const char *method,
    const uint8_t *req, size_t req_len, int wait_ms, uint8_t **resp,
    size_t *resp_len);

/* Send a HELLO signed with `ks`: true if the endpoint closes the connection
 * within 2 s without sending a byte (e.g. a foreign key: bad_signature). */
bool ts_hello_refused(uint16_t port, const xr_keyset *ks);

/* echo.v1.Echo/Say over a signed connection made with `ks`. Returns the
 * gRPC status (asserts on transport failure); text / pid of the answer. */
int ts_say(uint16_t port, const xr_keyset *ks, const char *text,
    uint32_t delay_ms, char *out, size_t cap, uint64_t *pid);

/* ts_say() to `method`, a Say of echo.v1's messages on the wire (e.g.
 * "test.v1.Apps/Say"). */
int ts_say_to(uint16_t port, const xr_keyset *ks, const char *method,
    const char *text, uint32_t delay_ms, char *out, size_t cap,
    uint64_t *pid);

/* The worker's Endpoint/Stats with `ks` (asserts). Caller frees with
 * execrpc__v1__worker_status__free_unpacked(). */
Execrpc__V1__WorkerStatus *ts_stats(uint16_t port, const xr_keyset *ks);

/* ---- processes ---- */

/* Processes whose parent is `ppid` (live or zombie). */
size_t ts_children_of(pid_t ppid, pid_t *out, size_t cap);
/* Processes in process group `pgid`. */
size_t ts_in_pgrp(pid_t pgid);
/* Read a /proc file; malloc'd, *len set; NULL if unreadable. */
uint8_t *ts_read_file(const char *path, size_t *len);
/* True if `hay` holds `key` raw or as lower/upper hex. */
bool ts_contains_secret(const uint8_t *hay, size_t n, const uint8_t *key,
    size_t klen);

/* ---- raw bundles and a worker started by hand (CHILD-BOOT-*) ---- */

typedef void (*ts_mutate_fn)(Execrpc__V1__BootstrapBundle *b);

/* A bundle for group "direct", index 0, one service, a loopback runtime
 * slice, the keys of `ks` and session id `sid`; `m` may change it before
 * packing. malloc'd. */
uint8_t *ts_bundle(const xr_keyset *ks, const uint8_t sid[16],
    const char *service, ts_mutate_fn m, size_t *len);

typedef struct ts_child {
	pid_t pid;
	int ctl;		/* our end of the control channel */
	int err;		/* read end of the child's stderr */
	unsigned long boot_ino;	/* inode of the child's bootstrap socket */
} ts_child;

/* 1 if process `pid` has an fd open on socket inode `ino`. */
int ts_has_socket(pid_t pid, unsigned long ino);

/* Start this binary as a worker with fresh socketpairs on fds 3 and 4,
 * send `n` datagrams on the bootstrap channel, close our end. */
void ts_child_start(ts_child *c, const uint8_t *const *dgrams,
    const size_t *lens, size_t n);
/* Wait for it to exit (asserts within timeout_ms); its stderr into buf. */
int ts_child_wait(ts_child *c, int timeout_ms, char *buf, size_t cap);

#endif
