/*
 * core/loop.h — run an event loop until a condition holds or a deadline
 * passes: the one "pump" for code that must wait on a libevent base it does
 * not otherwise run (blocking client calls, readiness, stop rounds).
 */
#ifndef XR_LOOP_H
#define XR_LOOP_H

#include <stdint.h>

#include "err.h"

struct event_base;

/*
 * Check done(arg); while it returns 0, run one EVLOOP_ONCE round of `base`
 * (block until at least one event is active, run the active callbacks) and
 * check again. `deadline_ms` is an absolute xr_mono_ms() time (core/rx.h),
 * 0 = none; a timer is armed on `base` for the time left before each round,
 * so a round never sleeps past the deadline, and is removed before return.
 *
 * Returns:
 *  - XR_OK when done() returned > 0 (checked first, and after every round:
 *    a condition that holds after the round in which the deadline passes
 *    still wins);
 *  - done()'s value when it returned < 0 (an xr_err the condition reports);
 *  - XR_ERR_AGAIN when the deadline passed first (callers map it to their
 *    own timeout code, e.g. XR_ERR_READY_TIMEOUT, XR_ERR_STOP_TIMEOUT);
 *  - XR_ERR_INTERNAL when the loop cannot run: event_base_loop() failed, or
 *    no deadline was given and `base` has no event that could ever make
 *    done() change.
 *
 * Must not be called from a callback running on `base` (libevent refuses
 * the nested loop: XR_ERR_INTERNAL, with libevent's own warning). Allocates
 * nothing; done() must not free `base`.
 */
int xr_loop_until(struct event_base *base, int (*done)(void *arg), void *arg,
    uint64_t deadline_ms);

#endif /* XR_LOOP_H */
