/* core/loop.c — run a libevent base until a condition (contract in loop.h). */
#include "loop.h"

#include <sys/time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "rx.h"

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;		/* waking the round is all it is for */
}

int
xr_loop_until(struct event_base *base, int (*done)(void *arg), void *arg,
    uint64_t deadline_ms)
{
	struct event wake;
	int armed = 0, r;

	if (deadline_ms != 0 &&
	    event_assign(&wake, base, -1, 0, wake_cb, NULL) != 0)
		return XR_ERR_INTERNAL;
	while ((r = done(arg)) == 0) {
		if (deadline_ms != 0) {
			uint64_t now = xr_mono_ms(), left;
			struct timeval tv;

			if (now >= deadline_ms) {
				r = XR_ERR_AGAIN;
				break;
			}
			left = deadline_ms - now;
			tv.tv_sec = (time_t)(left / 1000);
			tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
			if (evtimer_add(&wake, &tv) != 0) {
				r = XR_ERR_INTERNAL;
				break;
			}
			armed = 1;
		}
		/* 1: nothing pending, so nothing can ever change done();
		 * -1: an error, or a nested call from a callback on `base` */
		if (event_base_loop(base, EVLOOP_ONCE) != 0) {
			r = XR_ERR_INTERNAL;
			break;
		}
	}
	if (armed)
		evtimer_del(&wake);
	return r > 0 ? XR_OK : r;
}
