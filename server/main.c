/*
 * server/main.c — execrpc-server: a standalone execution endpoint.
 *
 *   execrpc-server --config FILE [--log-level LEVEL]
 *
 * Loads and validates the config, derives the keys from its secret
 * (secret_mode static is the useful one here: the ingress needs the same
 * secret), registers echo.v1.Echo, binds runtime.platform.execution_ipc
 * bind_host:bind_port and prints "listening HOST PORT" on stdout. SIGTERM or
 * SIGINT drains (GOAWAY, in-flight calls finish) within
 * lifecycle.graceful_timeout_seconds, then exits 0; past it, exits 1.
 * Exit status on a startup error: the error's category number.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "echo.h"
#include "log.h"
#include "proc.h"
#include "server.h"

struct run {
	struct event_base *base;
	xr_server *srv;
	struct event *sigterm, *sigint, *grace;
	uint32_t graceful_ms;
	int status;
};

static void
drained(void *arg)
{
	struct run *r = arg;

	r->status = 0;
	event_base_loopexit(r->base, NULL);
}

static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	xr_warn("drain did not finish within the graceful timeout");
	r->status = 1;
	event_base_loopexit(r->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;
	struct timeval tv = { r->graceful_ms / 1000, (r->graceful_ms % 1000) * 1000 };

	(void)sig;
	(void)what;
	if (xr_server_draining(r->srv))
		return;
	evtimer_add(r->grace, &tv);
	xr_server_drain(r->srv, drained, r);
}

static int
fail(int code, const xr_diag *d)
{
	return xr_diag_print(stderr, "execrpc-server", code, d);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_path = NULL;
	xr_config cfg;
	xr_keyset ks;
	xr_diag d = { 0 };
	xr_server_opts o = { 0 };
	struct run r = { 0 };
	xr_registry *reg = NULL;
	int ch, lvl, ret;

	/* this process holds keys: no core dumps, no ptrace attach */
	if ((ret = xr_proc_harden(0, &d)) != XR_OK)
		return fail(ret, &d);
	while ((ch = getopt_long(argc, argv, "c:l:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'l':
			if ((lvl = xr_log_level_parse(optarg)) < 0) {
				fprintf(stderr, "execrpc-server: bad --log-level\n");
				return 64;
			}
			xr_log_set_level((xr_log_level)lvl);
			break;
		default:
			fprintf(stderr, "usage: execrpc-server --config FILE "
			    "[--log-level debug|info|warn|error]\n");
			return 64;
		}
	}
	if (cfg_path == NULL) {
		fprintf(stderr, "usage: execrpc-server --config FILE\n");
		return 64;
	}
	if ((ret = xr_config_load_file(cfg_path, &cfg, &d)) != XR_OK)
		return fail(ret, &d);
	/* a generated secret lives in this process only: no client of a
	 * standalone endpoint could ever call it */
	if (cfg.secret_mode == XR_SECRET_GENERATED) {
		xr_config_free(&cfg);
		xr_diag_set(&d, XR_ERR_CONFIG_INVALID, "runtime.platform."
		    "execution_ipc.auth.secret_mode: generated makes a secret "
		    "no client can get; set secret_mode: static and secret_file:"
		    " PATH (mode 0600, 32..4096 bytes), and give the client the "
		    "same secret and kdf");
		return fail(XR_ERR_CONFIG_INVALID, &d);
	}
	if ((ret = xr_config_keyset(&cfg, &ks, &d)) != XR_OK) {
		xr_config_free(&cfg);
		return fail(ret, &d);
	}
	for (int i = 0; i < XR_DIR_COUNT; i++)
		xr_log_register_secret(ks.k[i].b, ks.k[i].len);
	if (cfg.secret_inline != NULL)
		xr_log_register_secret(cfg.secret_inline, cfg.secret_inline_len);

	o.bind_host = cfg.bind_host;
	o.bind_port = (uint16_t)cfg.bind_port;
	o.max_payload_bytes = cfg.max_payload_bytes;
	o.ttl_seconds = cfg.ttl_seconds;
	o.nonce_cache_size = cfg.nonce_cache_size;
	r.graceful_ms = cfg.graceful_timeout_seconds * 1000;
	r.status = 1;
	if ((r.base = event_base_new()) == NULL ||
	    (reg = xr_registry_new(r.base)) == NULL ||
	    xr_echo_register(reg) != XR_OK) {
		xr_diag_set(&d, XR_ERR_NOMEM, "cannot set up the event loop");
		ret = XR_ERR_NOMEM;
		goto out;
	}
	if ((r.srv = xr_server_new(r.base, &o, &ks, reg, &d)) == NULL) {
		ret = d.code;
		goto out;
	}
	xr_keyset_wipe(&ks);
	if ((ret = xr_server_listen(r.srv, &d)) != XR_OK)
		goto out;
	r.sigterm = evsignal_new(r.base, SIGTERM, signal_cb, &r);
	r.sigint = evsignal_new(r.base, SIGINT, signal_cb, &r);
	r.grace = evtimer_new(r.base, grace_cb, &r);
	evsignal_add(r.sigterm, NULL);
	evsignal_add(r.sigint, NULL);
	printf("listening %s %u\n", cfg.bind_host, (unsigned)xr_server_port(r.srv));
	fflush(stdout);
	xr_info("listening on %s:%u", cfg.bind_host,
	    (unsigned)xr_server_port(r.srv));
	event_base_dispatch(r.base);
	ret = XR_OK;
 out:
	xr_keyset_wipe(&ks);
	if (ret != XR_OK)
		r.status = fail(ret, &d);
	if (r.sigterm != NULL)
		event_free(r.sigterm);
	if (r.sigint != NULL)
		event_free(r.sigint);
	if (r.grace != NULL)
		event_free(r.grace);
	xr_server_free(r.srv);
	xr_registry_free(reg);
	if (r.base != NULL)
		event_base_free(r.base);
	xr_config_free(&cfg);
	xr_log_forget_secrets();
	return r.status;
}
