/*
 * tests/runtime/helper_rt.h — shared pieces of the runtime tests: the
 * module table, a lifecycle brought up from YAML with recorded events,
 * blocking and pending calls, raw connections to an endpoint.
 *
 * Every test binary is its own worker executable: main() first calls
 * rt_worker_mode(). The modules (server/module.h):
 *   echo.v1.Echo  the real example service (server/echo.c)
 *   test.v1.Echo  a Say under a second service name, to route to a second
 *                 group (tests/proto/test/v1/test.proto: echo's
 *                 messages on the wire, generated typed registration); it
 *                 answers the text at once, or fails with fail_code if
 *                 set; a request whose text is "fail-on-N" fails with its
 *                 fail_code on worker N only (others answer), one whose
 *                 text is "grow-N" is answered with a text of N bytes (a
 *                 response larger than its request)
 */
#ifndef RT_HELPER_H
#define RT_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "runtime.h"

extern const xr_service_module rt_mods[];
#define RT_NMODS 2

/* If argv asks for worker mode, run the worker and return its exit status;
 * else return -1. */
int rt_worker_mode(int argc, char **argv);

typedef struct rt_events {
	char phases[256];	/* "config,registries,..." */
	int stop_graceful, stop_forced;
	int failed;		/* XR_ERR_WORKER_FAILED events */
	int last_signal;
	int ready;		/* "ready" worker events */
} rt_events;

typedef struct rt_ctx {
	struct event_base *base;
	xr_config cfg;
	xr_lifecycle *lc;
	rt_events ev;
} rt_ctx;

/* Parse `yaml` (asserts) and make the lifecycle with rt_mods and the event
 * recorders; nothing started. `worker_exe`/`worker_args` may be NULL. */
void rt_new(rt_ctx *r, const char *yaml, const char *worker_exe,
    const char *const *worker_args);
/* rt_new(r, yaml, NULL, NULL), start and ready (asserts XR_OK). */
void rt_up(rt_ctx *r, const char *yaml);
/* Free the lifecycle, the config and the base. */
void rt_free(rt_ctx *r);
/* The lifecycle's transport service (asserts non-NULL). */
xr_transport_svc *rt_transport(const rt_ctx *r);

/* Run the base for `ms` milliseconds. */
void rt_run_for(struct event_base *base, int ms);

typedef struct rt_result {
	int code;
	char message[256];
	char text[256];		/* SayResponse.text on OK */
	uint64_t pid;		/* SayResponse.worker_pid on OK */
	uint8_t resp[4096];	/* the response bytes */
	size_t resp_len;
} rt_result;

/* A blocking `method` (a Say of echo.v1.Echo or test.v1.Echo) on `ch` with
 * {text, delay_ms, fail_code}; fills `out` and returns its code. */
int rt_say(xr_channel *ch, const char *method, const char *text,
    uint32_t delay_ms, uint32_t fail_code, uint32_t timeout_ms,
    rt_result *out);

/* A Say started on `ch` whose status lands in `p`. */
typedef struct rt_pending {
	int done, code;
} rt_pending;
void rt_start_say(xr_channel *ch, const char *method, uint32_t delay_ms,
    uint32_t timeout_ms, rt_pending *p);

/* Decode a SayResponse: its worker_pid (asserts). */
uint64_t rt_say_pid(const uint8_t *resp, size_t len);

/* The worker's Endpoint/Stats rejects of one topic result (asserts OK):
 * indexed by xr_reject; also the calls counter. */
void rt_stats_rejects(const xr_topic_result *res,
    uint64_t rejects[XR_REJECT_COUNT], uint64_t *calls);

/* ---- raw connections to an endpoint at 127.0.0.1:port ---- */

/* Send `len` bytes; then 1 if the peer closed without a byte, 0 if it
 * answered, -1 if neither within 3 s. `base` runs meanwhile (the endpoint
 * may be in this process). */
int rt_raw_send(struct event_base *base, uint16_t port, const uint8_t *buf,
    size_t len);

/* A HELLO signed with `ks` whose ts is `ts_offset_ms` off now (fresh
 * nonce); returns as rt_raw_send(). */
int rt_raw_hello(struct event_base *base, uint16_t port, const xr_keyset *ks,
    int64_t ts_offset_ms);

#endif
