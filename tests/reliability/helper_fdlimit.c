/* tests/reliability/helper_fdlimit.c — endpoint and supervisor children
 * under a small RLIMIT_NOFILE, floods, probes (helper_fdlimit.h). */
#include "helper_fdlimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper_srv.h"

uint64_t
fl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
set_nofile(unsigned nofile)
{
	struct rlimit rl = { nofile, nofile };

	return setrlimit(RLIMIT_NOFILE, &rl);
}

/* Read exactly `len` bytes within `ms`: 0, or -1 (EOF, error, time). */
static int
read_full(int fd, void *buf, size_t len, int ms)
{
	uint64_t end = fl_now_ms() + (uint64_t)ms;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		struct pollfd p = { fd, POLLIN, 0 };
		uint64_t now = fl_now_ms();

		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			return -1;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* ---------- the endpoint ---------- */

static void __attribute__((noreturn))
endpoint_child(unsigned nofile, int cmd, int rep)
{
	ts_server t;
	fl_report r;
	struct rusage ru;
	char c;

	if (set_nofile(nofile) != 0)
		_exit(2);
	ts_server_start(&t, NULL);
	if (write(rep, &t.port, sizeof(t.port)) != sizeof(t.port))
		_exit(3);
	while (read(cmd, &c, 1) < 0 && errno == EINTR)
		;
	ts_server_stop(&t);
	memset(&r, 0, sizeof(r));
	r.st = t.final;
	getrusage(RUSAGE_SELF, &ru);
	r.cpu_ms = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	if (write(rep, &r, sizeof(r)) != sizeof(r))
		_exit(4);
	_exit(0);
}

int
fl_endpoint_start(fl_endpoint *e, unsigned nofile)
{
	int cmd[2], rep[2];

	memset(e, 0, sizeof(*e));
	if (pipe2(cmd, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(rep, O_CLOEXEC) != 0) {
		close(cmd[0]);
		close(cmd[1]);
		return -1;
	}
	if ((e->pid = fork()) == 0) {
		close(cmd[1]);
		close(rep[0]);
		endpoint_child(nofile, cmd[0], rep[1]);
	}
	close(cmd[0]);
	close(rep[1]);
	e->cmd = cmd[1];
	e->rep = rep[0];
	if (e->pid < 0 || read_full(e->rep, &e->port, sizeof(e->port),
	    10000) != 0)
		return -1;
	return 0;
}

/* Reap `pid` within `ms`, SIGKILL past it: 0 if it exited in time. */
static int
reap(pid_t pid, int ms, int *status)
{
	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 0;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

int
fl_endpoint_stop(fl_endpoint *e, fl_report *r, int *status)
{
	int rc;

	memset(r, 0, sizeof(*r));
	(void)!write(e->cmd, "q", 1);
	rc = read_full(e->rep, r, sizeof(*r), 10000);
	if (reap(e->pid, 10000, status) != 0)
		rc = -1;
	close(e->cmd);
	close(e->rep);
	return rc;
}

/* ---------- floods ---------- */

int
fl_flood_tcp(uint16_t port, int *fds, int cap)
{
	struct sockaddr_in sin = { 0 };
	int n = 0, fd;

	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (n < cap) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
		    errno != EINPROGRESS) {
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	return n;
}

int
fl_flood_unix(const char *path, int *fds, int cap)
{
	struct sockaddr_un sun = { 0 };
	int n = 0, fd;

	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	for (int tries = 0; n < cap && tries < cap + 40; tries++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			/* EAGAIN: the backlog is full for now */
			close(fd);
			usleep(5000);
			continue;
		}
		fds[n++] = fd;
	}
	return n;
}

void
fl_close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* ---------- the probe ---------- */

int
fl_signed_say(uint16_t port, int wait_ms)
{
	const Execrpc__V1__Envelope *e;
	ts_peer p;
	uint8_t *f;
	size_t len;
	uint64_t id;
	int closed, ok = 0;

	ts_peer_open(&p, port, ts_master);
	f = ts_seal(&p, XR_KIND_HELLO, NULL, NULL, 0, 0, 0, 0, &len);
	if (ts_send_raw(&p, f, len) != 0)
		goto out;
	if ((e = ts_recv(&p, wait_ms, &closed)) == NULL ||
	    e->kind != (int)XR_KIND_HELLO_ACK)
		goto out;
	id = ts_send_say(&p, "recovered", 0, (uint32_t)wait_ms);
	while ((e = ts_recv(&p, wait_ms, &closed)) != NULL &&
	    e->kind != (int)XR_KIND_RESPONSE)
		;
	ok = e != NULL && e->call_id == id && (e->status == NULL ||
	    (int)e->status->code == XR_STATUS_OK);
 out:
	free(f);
	ts_peer_close(&p);
	return ok;
}

/* ---------- execrpc-supervisor ---------- */

static int
write_config(const fl_sup *s, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/cfg.yaml", s->dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "runtime:\n  platform:\n"
	    "    execution_ipc: {transport: tcp_local}\n"
	    "    bootstrap: {mode: process_supervisor}\n"
	    "    lifecycle: {ready_timeout_seconds: 10, "
	    "graceful_timeout_seconds: 3}\n"
	    "    control: {socket: %s}\n"
	    "    process_groups:\n"
	    "      - {name: g, workers: 2, restart: on-failure, "
	    "services: [echo.v1.Echo]}\n", s->sock);
	return fclose(f);
}

int
fl_sup_start(fl_sup *s, unsigned nofile)
{
	const char *bin = getenv("XR_BINARY_DIR");
	char exe[512], cfg[128];
	int out[2], err[2];

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/xr-fdlimit-XXXXXX");
	if (bin == NULL || mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(s->sock, sizeof(s->sock), "%s/run/control.sock", s->dir);
	snprintf(exe, sizeof(exe), "%s/apps/supervisor/execrpc-supervisor",
	    bin);
	if (write_config(s, cfg, sizeof(cfg)) != 0 ||
	    pipe2(out, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) != 0)
		return -1;
	if ((s->pid = fork()) == 0) {
		char *argv[] = { exe, (char *)"--config", cfg, NULL };

		if (dup2(out[1], 1) != 1 || dup2(err[1], 2) != 2 ||
		    set_nofile(nofile) != 0)
			_exit(126);
		execv(exe, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	s->out = out[0];
	s->err = err[0];
	(void)fcntl(s->err, F_SETFL, O_NONBLOCK);
	return s->pid > 0 ? 0 : -1;
}

/* One "worker g I pid P port N" line. */
static void
sup_line(fl_sup *s, const char *l)
{
	unsigned idx, port;
	int pid;

	if (sscanf(l, "worker g %u pid %d port %u", &idx, &pid, &port) == 3 &&
	    idx < 2) {
		s->worker[idx] = (pid_t)pid;
		s->lines[idx]++;
	}
}

static int
sup_done(const fl_sup *s, int index, unsigned lines)
{
	if (index < 0)
		return s->lines[0] >= 1 && s->lines[1] >= 1;
	return s->lines[index] >= lines;
}

int
fl_sup_wait(fl_sup *s, int index, unsigned lines, int ms, int *status)
{
	uint64_t end = fl_now_ms() + (uint64_t)ms;
	char *nl;
	ssize_t n;

	while (!sup_done(s, index, lines)) {
		struct pollfd p = { s->out, POLLIN, 0 };
		uint64_t now = fl_now_ms();

		if (waitpid(s->pid, status, WNOHANG) == s->pid) {
			s->pid = -1;
			return -1;
		}
		(void)fl_sup_stderr(s);	/* never let its stderr pipe fill */
		if (now >= end)
			return 0;
		if (poll(&p, 1, end - now > 50 ? 50 : (int)(end - now)) <= 0)
			continue;
		n = read(s->out, s->line + s->n, sizeof(s->line) - 1 - s->n);
		if (n <= 0) {
			usleep(10000);	/* EOF: its exit is reaped above */
			continue;
		}
		s->n += (size_t)n;
		s->line[s->n] = '\0';
		while ((nl = strchr(s->line, '\n')) != NULL) {
			*nl = '\0';
			sup_line(s, s->line);
			s->n -= (size_t)(nl + 1 - s->line);
			memmove(s->line, nl + 1, s->n + 1);
		}
	}
	return 1;
}

const char *
fl_sup_stderr(fl_sup *s)
{
	char buf[512];
	size_t have = strlen(s->errtail), cap = sizeof(s->errtail) - 1;
	ssize_t n;

	while ((n = read(s->err, buf, sizeof(buf))) > 0) {
		if (have + (size_t)n > cap) {	/* keep the end */
			size_t drop = have + (size_t)n - cap;

			drop = drop > have ? have : drop;
			memmove(s->errtail, s->errtail + drop, have - drop);
			have -= drop;
		}
		if ((size_t)n > cap - have)
			n = (ssize_t)(cap - have);
		memcpy(s->errtail + have, buf, (size_t)n);
		have += (size_t)n;
		s->errtail[have] = '\0';
	}
	return s->errtail;
}

int
fl_sup_stop(fl_sup *s)
{
	char path[160];
	int st = 0;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		(void)reap(s->pid, 10000, &st);
	}
	close(s->out);
	close(s->err);
	/* what it made: the config, the control socket and its directory */
	unlink(s->sock);
	snprintf(path, sizeof(path), "%s/run", s->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/cfg.yaml", s->dir);
	unlink(path);
	rmdir(s->dir);
	return st;
}
