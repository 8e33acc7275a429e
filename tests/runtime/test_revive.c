/*
 * tests/runtime/test_revive.c — the ingress side of the transport service
 * (bootstrap.mode process_supervisor, tcp_local) makes a closed channel to
 * an up worker again on the next pick or publish (runtime/transport.c,
 * group_revive()).
 *
 * The worker here is an xr_server on the test's own event base whose idle
 * timeout is 150 ms (the default is 300 s), reported up to the transport as
 * worker execution[0]; it closes the ingress's connection once it has been
 * idle that long. Proves: a call OK; after the idle close the channel is
 * unusable; the next queue pick gives a usable channel (revived 1) and the
 * call on it is OK; after a second idle close a topic publish reaches the
 * worker (revived 2); a worker that refuses connections is redialled at
 * most once per 100 ms (revived 3, not more, over picks within 100 ms).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "echo.h"
#include "helper_rt.h"
#include "registry.h"
#include "rx.h"
#include "server.h"

#define SAY "echo.v1.Echo/Say"
#define IDLE_MS 150

static const char yaml[] =
    "runtime:\n"
    "  platform:\n"
    "    execution_ipc:\n"
    "      transport: tcp_local\n"
    "      auth:\n"
    "        secret_mode: static\n"
    "        secret: \"0123456789abcdef0123456789abcdef\"\n"
    "    bootstrap:\n"
    "      mode: process_supervisor\n"
    "    process_groups:\n"
    "      - name: execution\n"
    "        workers: 1\n"
    "        services: [echo.v1.Echo]\n";

struct fx {
	struct event_base *base;
	xr_config cfg;
	xr_keyset ks;
	xr_registry *reg;
	xr_server *srv;
	xr_transport_svc *t;
};

static void
fx_up(struct fx *f)
{
	xr_server_opts so = { .idle_timeout_ms = IDLE_MS };
	xr_diag d = { 0 };

	memset(f, 0, sizeof(*f));
	assert_non_null(f->base = event_base_new());
	if (xr_config_load_string(yaml, strlen(yaml), &f->cfg, &d) != XR_OK ||
	    xr_config_keyset(&f->cfg, &f->ks, &d) != XR_OK)
		fail_msg("config: %s", d.reason);
	assert_non_null(f->reg = xr_registry_new(f->base));
	assert_int_equal(xr_echo_register(f->reg), XR_OK);
	assert_non_null(f->srv = xr_server_new(f->base, &so, &f->ks, f->reg,
	    &d));
	assert_int_equal(xr_server_listen(f->srv, &d), XR_OK);
	assert_non_null(f->t = xr_transport_new(f->base, &f->cfg, &f->ks,
	    rt_mods, RT_NMODS, &d));
	assert_int_equal(xr_transport_worker_up(f->t, "execution", 0,
	    xr_server_port(f->srv), &f->ks, &d), XR_OK);
	assert_int_equal(xr_transport_ingress_ready(f->t, 3000, &d), XR_OK);
}

static void
fx_down(struct fx *f)
{
	xr_transport_free(f->t);
	xr_server_free(f->srv);
	xr_registry_free(f->reg);
	xr_keyset_wipe(&f->ks);
	xr_config_free(&f->cfg);
	event_base_free(f->base);
}

/* Run the base until the idle endpoint has closed `ch`. */
static void
idle_close(struct fx *f, xr_channel *ch)
{
	for (int i = 0; i < 100 && xr_channel_is_usable(ch); i++)
		rt_run_for(f->base, 20);
	assert_false(xr_channel_is_usable(ch));
}

static void
test_pick_revives(void **state)
{
	struct fx f;
	xr_diag d = { 0 };
	xr_queue *q;
	xr_topic *tp;
	xr_channel *ch;
	xr_topic_result *res = NULL;
	size_t n = 0;
	rt_result r;
	int err;

	(void)state;
	fx_up(&f);
	assert_non_null(q = xr_transport_queue(f.t, "echo.v1.Echo", &d));
	assert_non_null(ch = xr_queue_pick(q, NULL, 0, &err));
	assert_int_equal(rt_say(ch, SAY, "one", 0, 0, 2000, &r), XR_STATUS_OK);
	assert_string_equal(r.text, "one");

	/* idle: the endpoint closes; the next pick makes a new channel */
	idle_close(&f, ch);
	assert_int_equal(xr_transport_channels_revived(f.t), 0);
	assert_non_null(ch = xr_queue_pick(q, NULL, 0, &err));
	assert_int_equal(err, XR_OK);
	assert_true(xr_channel_is_usable(ch));
	assert_int_equal(xr_transport_channels_revived(f.t), 1);
	assert_int_equal(rt_say(ch, SAY, "two", 0, 0, 2000, &r), XR_STATUS_OK);
	assert_string_equal(r.text, "two");

	/* the same for a topic publish */
	idle_close(&f, ch);
	assert_non_null(tp = xr_transport_topic(f.t, "echo.v1.Echo", &d));
	assert_int_equal(xr_topic_publish_sync(tp, SAY, NULL, 0, 2000, &res,
	    &n), XR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(res[0].status.code, XR_STATUS_OK);
	xr_topic_results_free(res, n);
	assert_int_equal(xr_transport_channels_revived(f.t), 2);

	/* a worker that refuses connections: redialled once per 100 ms. A
	 * round whose picks did not all fall within 90 ms of the redial (a
	 * stalled machine) proves nothing and is run again */
	xr_server_free(f.srv);
	f.srv = NULL;
	for (int round = 0; round < 5; round++) {
		uint64_t before, t0;

		rt_run_for(f.base, 200);	/* past the window; failed */
		before = xr_transport_channels_revived(f.t);
		t0 = xr_mono_ms();
		(void)xr_queue_pick(q, NULL, 0, &err);
		assert_int_equal(xr_transport_channels_revived(f.t),
		    before + 1);
		rt_run_for(f.base, 20);		/* the redial is refused */
		for (int i = 0; i < 10; i++)
			(void)xr_queue_pick(q, NULL, 0, &err);
		if (xr_mono_ms() - t0 >= 90)
			continue;
		assert_int_equal(xr_transport_channels_revived(f.t),
		    before + 1);
		fx_down(&f);
		return;
	}
	fail_msg("5 rounds stalled past the 100 ms window");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_revives),
	};
	int r = rt_worker_mode(argc, argv);

	if (r >= 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
