#!/usr/bin/env bash
# runtime/xrmain_filter: a filter built with xr_main_run() (execrpc/main.h:
# xr_main_program.filter, .options/.option, .configure) and the lifecycle's
# health (xr_lifecycle_health(), xr_lifecycle_base()), through
# `xrmain_prog filter` (tests/runtime/xrmain_prog.c):
#  - the usage line names [--config FILE], --control and the program's own
#    options; --help says what a filter's --config and --control do;
#  - no --config: the defaults (memory, inline); the run ends when the
#    ingress returns, 0 included (no SIGTERM needed), with nothing on
#    stdout but the ingress's;
#  - .option: the program's option (--workers 0: "PROG: --workers: 1..8",
#    exit 64, nothing started), an operand refused the same way (opt 1),
#    an unknown option the usage;
#  - .configure: its change of the config reaches the lifecycle (--workers
#    3 against the config's 2: 3 workers), it runs in `config check` too
#    and its refusal is the error's category;
#  - process_supervisor: no worker or stop lines on stdout; the ingress's
#    status is the exit status after a graceful stop (the workers gone);
#  - --control: the control socket is served (execrpc status) and the stop
#    events are on stderr; without it, no socket and no stop events;
#  - health: ok once ready; a worker killed under the ingress makes it
#    worker_failed naming the worker, which the ingress returns (6); a
#    SIGTERM makes it lifecycle_not_ready (5), the workers stop gracefully.
# Usage: xrmain_filter.sh PATH/TO/xrmain_prog PATH/TO/execrpc
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
prog=${1:?usage: xrmain_filter.sh XRMAIN_PROG EXECRPC}
cli=${2:?usage: xrmain_filter.sh XRMAIN_PROG EXECRPC}
tmp=$(mktemp -d)
ppid_=
cleanup() {
	[ -n "$ppid_" ] && kill -KILL "$ppid_" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run ARGS...: the filter in the foreground, at most 30 s (137: killed);
# sets rc, out, err
run() {
	timeout -s KILL 30 "$prog" filter "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# --- usage and help
run --help
[ "$rc" = 0 ] && [ "$(head -1 "$tmp/out")" = 'usage: xrmain_prog [--config FILE] [--log-level debug|info|warn|error] [--control] [--workers N] [ARG...]' ] &&
	ok || bad "help: rc=$rc $(head -1 "$tmp/out")"
grep -q '^--control           bootstrap.mode process_supervisor: serve control.socket$' "$tmp/out" &&
	grep -q '(without it: the$' "$tmp/out" && ok || bad "help: $out"

# --- no --config: the defaults; the ingress's 0 ends the run
run say:one
[ "$rc" = 0 ] && [ "$out" = "workers 1
said one pid $(sed -n 's/^xrmain_prog: cleanup pid //p' "$tmp/err")
ingress done argc 1" ] && [ "$(grep -c . "$tmp/err")" = 1 ] &&
	ok || bad "defaults: rc=$rc out=$out err=$err"

# --- the program's options and operands
run --workers 0 say:one
[ "$rc" = 64 ] && [ "$err" = 'xrmain_prog: --workers: 1..8' ] && [ -z "$out" ] &&
	ok || bad "--workers 0: rc=$rc out=$out err=$err"
run say:one refused
[ "$rc" = 64 ] && [ "$err" = 'xrmain_prog: refused: refused' ] && [ -z "$out" ] &&
	ok || bad "operand refused: rc=$rc out=$out err=$err"
run --bogus
[ "$rc" = 64 ] && grep -q '^usage: xrmain_prog ' "$tmp/err" &&
	ok || bad "--bogus: rc=$rc err=$err"

sock="$tmp/control.sock"
write_config "$tmp/ps.yaml" transport=tcp_local mode=process_supervisor \
	graceful_timeout_seconds=5 socket="$sock" group=a:2:echo.v1.Echo
write_config "$tmp/refused.yaml" transport=tcp_local mode=process_supervisor \
	group=refused:2:echo.v1.Echo

# --- configure: in config check, and its change reaches the lifecycle
run config check "$tmp/refused.yaml"
[ "$rc" = 2 ] && [ "$err" = 'xrmain_prog: config_invalid (code -20): runtime.platform.process_groups[0].name: refused by the program' ] &&
	ok || bad "check refused: rc=$rc err=$err"
run config check "$tmp/ps.yaml"
[ "$rc" = 0 ] && [ "$out" = ok ] && ok || bad "check ps: rc=$rc err=$err"
run --config "$tmp/refused.yaml" say:one
[ "$rc" = 2 ] && [ -z "$out" ] && grep -q 'refused by the program$' "$tmp/err" &&
	ok || bad "run refused: rc=$rc out=$out err=$err"
run --config "$tmp/ps.yaml" --workers 3 say:one
[ "$rc" = 0 ] && [ "$(sed -E 's/pid [0-9]+$/pid P/' "$tmp/out")" = "workers 3
said one pid P
ingress done argc 1" ] && ok || bad "--workers 3: rc=$rc out=$out err=$err"
[ "$(grep -c 'cleanup pid' "$tmp/err")" = 4 ] && ! grep -q 'stop event' "$tmp/err" &&
	ok || bad "--workers 3: stderr: $err"

# --- the ingress's status, after a graceful stop
run --config "$tmp/ps.yaml" say:one exit=5
pid=$(awk '$1 == "said" {print $4}' "$tmp/out")
[ "$rc" = 5 ] && [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null &&
	[ "$(head -1 "$tmp/out")" = 'workers 2' ] && ok || bad "exit=5: rc=$rc out=$out err=$err"

# health kill|term FLAGS...: the filter waiting on its health in the
# background; the control socket's presence is noted, then the first
# worker is killed (kill) or the program gets SIGTERM (term); sets rc, out,
# err, had_sock, victim
health() {
	local how=$1
	shift
	"$prog" filter --config "$tmp/ps.yaml" "$@" health >"$tmp/out" 2>"$tmp/err" &
	ppid_=$!
	for _ in $(seq 1 400); do
		grep -q '^waiting pid' "$tmp/out" 2>/dev/null && break
		sleep 0.05
	done
	had_sock=no
	[ -S "$sock" ] && "$cli" status --control "$sock" >"$tmp/status" 2>&1 &&
		had_sock=yes
	victim=$(sed -n 's/^waiting pid //p' "$tmp/out")
	if [ "$how" = term ]; then
		kill -TERM "$ppid_"
	elif [ -n "$victim" ]; then
		kill -KILL "$victim"
	fi
	for _ in $(seq 1 600); do
		kill -0 "$ppid_" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$ppid_" 2>/dev/null && kill -KILL "$ppid_"
	wait "$ppid_"
	rc=$?
	ppid_=
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# --- --control: the socket served, the stop events on stderr; health
health kill --control
[ "$had_sock" = yes ] && grep -q '"state":"ready"' "$tmp/status" &&
	ok || bad "--control: no status: $(cat "$tmp/status")"
[ "$rc" = 6 ] && [ "$(head -2 "$tmp/out")" = "workers 2
health ok" ] && [ "$(tail -1 "$tmp/out")" = "health worker_failed: worker a[0] pid $victim: killed by signal 9" ] &&
	ok || bad "health: rc=$rc out=$out err=$err"
grep -q "^xrmain_prog: stop event: group a graceful$" "$tmp/err" &&
	grep -q "^xrmain_prog: worker_failed (code -32): worker a 0 pid $victim killed by signal 9" "$tmp/err" &&
	ok || bad "--control: stderr: $err"

# --- without --control: no socket, no stop events
health kill
[ "$had_sock" = no ] && [ "$rc" = 6 ] && ! grep -q 'stop event' "$tmp/err" &&
	ok || bad "no --control: sock=$had_sock rc=$rc out=$out err=$err"

# --- SIGTERM under the ingress: the health says a stop was begun (5), the
# workers stop gracefully, none of them fails
health term --control
[ "$rc" = 5 ] && [ "$(tail -1 "$tmp/out")" = 'health lifecycle_not_ready: a stop was begun' ] &&
	grep -q "^xrmain_prog: stop event: group a graceful$" "$tmp/err" &&
	! grep -q worker_failed "$tmp/err" && ok || bad "SIGTERM: rc=$rc out=$out err=$err"

echo "runtime/xrmain_filter: $pass passed, $fail failed"
[ "$fail" = 0 ]
