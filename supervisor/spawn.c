/*
 * supervisor/spawn.c — starting a worker process: fork, the child's set-up
 * between fork and exec, exec, and the one-shot bootstrap bundle; the
 * supervisor's end of the worker channel is opened here and closed by
 * xr__sup_chan_close().
 */
#include "supervisor_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle.h"
#include "execrpc/v1/bootstrap.pb-c.h"
#include "keys.h"
#include "log.h"

/* Serialize a worker's bundle (contract in bundle.h). */
int
xr_bundle_pack(const xr_config *cfg, const xr_group_cfg *g, uint32_t index,
    const xr_keyset *keys, const uint8_t sid[XR_SESSION_ID_LEN],
    uint8_t **out, size_t *len)
{
	return xr_bundle_pack_gen(cfg, g, index, 0, keys, sid, out, len);
}

/* cfg->redis as a worker's RedisSlice (strings borrowed from cfg). */
static void
redis_slice(const xr_config *cfg, Execrpc__V1__RedisSlice *rs)
{
	const xr_redis_cfg *rc = &cfg->redis;

	rs->host = (char *)(uintptr_t)rc->host;
	rs->port = rc->port;
	rs->unix_socket = (char *)(uintptr_t)rc->unix_socket;
	rs->db = rc->db;
	rs->stream_prefix = (char *)(uintptr_t)rc->stream_prefix;
	rs->claim_idle_ms = rc->claim_idle_ms;
	rs->max_stream_len = rc->max_stream_len;
	rs->password_file = (char *)(uintptr_t)rc->password_file;
}

int
xr_bundle_pack_gen(const xr_config *cfg, const xr_group_cfg *g,
    uint32_t index, uint32_t generation, const xr_keyset *keys,
    const uint8_t sid[XR_SESSION_ID_LEN], uint8_t **out, size_t *len)
{
	Execrpc__V1__BootstrapBundle b = EXECRPC__V1__BOOTSTRAP_BUNDLE__INIT;
	Execrpc__V1__RuntimeSlice rt = EXECRPC__V1__RUNTIME_SLICE__INIT;
	Execrpc__V1__RedisSlice rs = EXECRPC__V1__REDIS_SLICE__INIT;
	Execrpc__V1__KeyBundle kb = EXECRPC__V1__KEY_BUNDLE__INIT;
	char *svc[XR_CFG_MAX_SERVICES];
	Execrpc__V1__AppSetting as[XR_CFG_MAX_APPS * XR_CFG_MAX_APP_SETTINGS];
	Execrpc__V1__AppSetting *asp[XR_CFG_MAX_APPS * XR_CFG_MAX_APP_SETTINGS];
	size_t na = 0;

	b.version = 1;
	b.group = (char *)(uintptr_t)g->name;
	b.index = index;
	b.generation = generation;
	/* none listed: the worker hosts every module it has */
	for (size_t i = 0; i < g->n_services; i++)
		svc[i] = (char *)(uintptr_t)g->services[i];
	b.n_services = g->n_services;
	b.services = svc;
	rt.bind_host = (char *)(uintptr_t)cfg->bind_host;
	rt.bind_port = 0;	/* workers bind ephemeral ports, report them */
	rt.max_payload_bytes = cfg->max_payload_bytes;
	rt.ttl_seconds = cfg->ttl_seconds;
	rt.nonce_cache_size = cfg->nonce_cache_size;
	rt.graceful_timeout_ms = cfg->graceful_timeout_seconds * 1000;
	rt.drain_inflight = cfg->drain_inflight;
	if (cfg->transport == XR_TRANSPORT_REDIS_STREAMS) {
		redis_slice(cfg, &rs);
		b.redis = &rs;
	}
	/* every apps section, opaque: each worker module checks its own */
	for (size_t i = 0; i < cfg->n_apps && i < XR_CFG_MAX_APPS; i++)
		for (size_t j = 0; j < cfg->apps[i].n &&
		    j < XR_CFG_MAX_APP_SETTINGS; j++, na++) {
			execrpc__v1__app_setting__init(&as[na]);
			as[na].app = (char *)(uintptr_t)cfg->apps[i].name;
			as[na].key = (char *)(uintptr_t)cfg->apps[i].s[j].key;
			as[na].value = (char *)(uintptr_t)cfg->apps[i].s[j].value;
			asp[na] = &as[na];
		}
	b.n_apps = na;
	b.apps = asp;
	kb.kdf = keys->kdf == XR_KDF_NONE ? EXECRPC__V1__KDF__KDF_NONE :
	    EXECRPC__V1__KDF__KDF_HKDF_SHA256;
	kb.web_to_exec.data = (uint8_t *)(uintptr_t)
	    keys->k[XR_DIR_WEB_TO_EXEC].b;
	kb.web_to_exec.len = keys->k[XR_DIR_WEB_TO_EXEC].len;
	kb.exec_to_web.data = (uint8_t *)(uintptr_t)
	    keys->k[XR_DIR_EXEC_TO_WEB].b;
	kb.exec_to_web.len = keys->k[XR_DIR_EXEC_TO_WEB].len;
	kb.control.data = (uint8_t *)(uintptr_t)
	    keys->k[XR_DIR_CONTROL].b;
	kb.control.len = keys->k[XR_DIR_CONTROL].len;
	b.runtime = &rt;
	b.keys = &kb;
	b.control_session_id.data = (uint8_t *)(uintptr_t)sid;
	b.control_session_id.len = XR_SESSION_ID_LEN;
	*len = execrpc__v1__bootstrap_bundle__get_packed_size(&b);
	if ((*out = malloc(*len)) == NULL)
		return XR_ERR_NOMEM;
	execrpc__v1__bootstrap_bundle__pack(&b, *out);
	return XR_OK;
}

/*
 * The child between fork and exec: async-signal-safe calls only. Default
 * signal dispositions and an empty mask (ignored signals survive exec), its
 * own process group, death signal, the two channel ends dup2'd to the fixed
 * fds 3 and 4, /dev/null as stdin and stdout, every other fd from 5 up
 * closed at exec (the error pipe with
 * them: EOF on it means exec succeeded), then exec. On failure the errno goes
 * down the error pipe.
 */
static void __attribute__((noreturn))
child_exec(const xr_supervisor *s, const char *exe, char *const *argv,
    int boot, int ctl, int errfd, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	int b, c, e = errfd, err, nul;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (setpgid(0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		goto fail;
	if (getppid() != parent)
		_exit(127);	/* the supervisor is already gone */
	if ((b = fcntl(boot, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (c = fcntl(ctl, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (e = fcntl(errfd, F_DUPFD_CLOEXEC, 10)) < 0) {
		e = errfd;
		goto fail;
	}
	if (dup2(b, 3) != 3 || dup2(c, 4) != 4)
		goto fail;
	/* stdin and stdout are the application's (e.g. fundload's input and
	 * output): a worker gets /dev/null; stderr stays for diagnostics */
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    dup2(nul, 0) != 0 || dup2(nul, 1) != 1)
		goto fail;
	if (close_range(5, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
		for (int fd = 5; fd < s->max_fd; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	execve(exe, argv, s->envp);
 fail:
	err = errno;
	(void)!write(e, &err, sizeof(err));
	_exit(127);
}

/* The data-plane keys of worker `w`'s bundle: its endpoint's, or its
 * group's under redis_streams. */
static int
worker_keys(const xr_supervisor *s, const struct sup_worker *w,
    xr_keyset *ek)
{
	const xr_group_cfg *gc = w->grp->cfg;

	if (s->cfg->transport == XR_TRANSPORT_REDIS_STREAMS)
		return xr_keys_group(&s->keys, gc->name, ek);
	return xr_keys_endpoint(&s->keys, s->inst, gc->name, w->index,
	    w->generation, ek);
}

int
xr__sup_spawn(struct sup_worker *w)
{
	xr_supervisor *s = w->sup;
	int boot[2] = { -1, -1 }, ctl[2] = { -1, -1 }, ep[2] = { -1, -1 };
	uint8_t sid[XR_SESSION_ID_LEN], *bundle = NULL;
	xr_keyset ek;
	size_t blen = 0;
	pid_t pid = -1, parent = getpid();
	int r = XR_ERR_BOOTSTRAP_START_FAILED, err = 0, fl, st;
	uint32_t call0 = 0, call1 = 0;
	const xr_group_cfg *gc = w->grp->cfg;
	bool ingress = xr__sup_is_ingress(w->grp);
	/* an ingress group runs its command (argv as configured); a worker
	 * the program itself */
	char *iargv[XR_CFG_MAX_ARGS + 1];
	const char *exe = ingress ? gc->command[0] : s->exe;
	char *const *argv = ingress ? iargv : s->argv;
	ssize_t n;

	w->reason[0] = '\0';
	w->generation++;	/* a new process: new endpoint keys */
	for (size_t i = 0; ingress && i <= gc->n_command; i++)
		iargv[i] = i < gc->n_command ?
		    (char *)(uintptr_t)gc->command[i] : NULL;
	/* a worker's keys are those of its endpoint and generation
	 * (xr_keys_endpoint), never the supervisor's base keys; under
	 * redis_streams those of its group (xr_keys_group: any ingress signs
	 * for the group, not for one process); an ingress gets what derives
	 * them (docs/supervisor.md "Web process groups") */
	memset(&ek, 0, sizeof(ek));
	if (xr_random_bytes(sid, sizeof(sid)) != XR_OK ||
	    (ingress ? xr__sup_ingress_bundle(w, &s->keys, sid, &bundle,
	    &blen) : worker_keys(s, w, &ek) != XR_OK ? XR_ERR_INTERNAL :
	    xr_bundle_pack_gen(s->cfg, gc, w->index, w->generation, &ek, sid,
	    &bundle, &blen)) != XR_OK) {
		xr_keyset_wipe(&ek);
		snprintf(w->reason, sizeof(w->reason), "cannot build the bundle");
		goto out;
	}
	xr_keyset_wipe(&ek);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, boot) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0 ||
	    pipe2(ep, O_CLOEXEC) != 0) {
		snprintf(w->reason, sizeof(w->reason), "socketpair/pipe: %s",
		    strerror(errno));
		goto out;
	}
	/* room for CALL / CALL_REPLY payloads, both ends alike; the worker
	 * reads its end's size back and takes the same limit */
	if (xr_wchan_size_socket(ctl[0], s->cfg->max_payload_bytes,
	    &call0) != XR_OK || xr_wchan_size_socket(ctl[1],
	    s->cfg->max_payload_bytes, &call1) != XR_OK) {
		snprintf(w->reason, sizeof(w->reason), "worker channel "
		    "buffers: %s", strerror(errno));
		goto out;
	}
	if ((pid = fork()) == 0)
		child_exec(s, exe, argv, boot[1], ctl[1], ep[1], parent);
	err = errno;
	/* the child's ends: ours are closed right away */
	close(boot[1]);
	close(ctl[1]);
	close(ep[1]);
	boot[1] = ctl[1] = ep[1] = -1;
	if (pid < 0) {
		snprintf(w->reason, sizeof(w->reason), "fork: %s",
		    strerror(err));
		goto out;
	}
	w->last_pid = pid;
	(void)setpgid(pid, pid);	/* both sides: no race with kill(-pid) */
	/* EOF: exec succeeded; an int: exec (or the setup before it) failed */
	do
		n = read(ep[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		snprintf(w->reason, sizeof(w->reason), "exec %.120s: %s", exe,
		    n == (ssize_t)sizeof(err) ? strerror(err) : "failed");
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		pid = -1;
		goto out;
	}
	/* exactly one bundle, then our end is closed */
	do
		n = send(boot[0], bundle, blen, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)blen)	/* the child died; its exit says why */
		xr_debug("supervisor: bundle send: %s", strerror(errno));
	w->pid = pid;
	w->ctl_fd = ctl[0];
	w->call_max = call0 < call1 ? call0 : call1;
	ctl[0] = -1;
	if ((fl = fcntl(w->ctl_fd, F_GETFL)) < 0 ||
	    fcntl(w->ctl_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    xr_wchan_init(&w->chan, w->ctl_fd, s->ctl_auth, sid,
	    s->cfg->ttl_seconds) != XR_OK ||
	    xr_wchan_set_payload_max(&w->chan, w->call_max) != XR_OK) {
		/* cannot talk to it: it can only be killed */
		snprintf(w->reason, sizeof(w->reason), "control channel setup");
		kill(-pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		w->pid = 0;
		xr__sup_chan_close(w);
		goto out;
	}
	event_assign(&w->ctl_ev, s->base, w->ctl_fd, EV_READ | EV_PERSIST,
	    xr__sup_chan_read_cb, w);
	event_add(&w->ctl_ev, NULL);
	w->ctl_ev_set = true;
	w->port = 0;
	w->acked = w->killed = false;
	r = XR_OK;
 out:
	if (bundle != NULL) {
		xr_wipe(bundle, blen);
		free(bundle);
	}
	xr_wipe(sid, sizeof(sid));
	for (int i = 0; i < 2; i++) {
		if (boot[i] >= 0)
			close(boot[i]);
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return r;
}

void
xr__sup_chan_close(struct sup_worker *w)
{
	if (w->ctl_ev_set) {
		event_del(&w->ctl_ev);
		w->ctl_ev_set = false;
	}
	if (w->ctl_fd >= 0) {
		close(w->ctl_fd);
		w->ctl_fd = -1;
	}
	xr_wchan_fini(&w->chan);
}
