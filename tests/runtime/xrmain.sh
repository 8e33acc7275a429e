#!/usr/bin/env bash
# runtime/xrmain: a program built with xr_main (execrpc/main.h), run as a
# whole: --help and usage, `config check` (a service the program does not
# contain: lifecycle_resolution listing what it contains, before any worker
# is spawned), process_supervisor with 2 workers (worker lines, `execrpc
# status` on the control socket, a SIGKILLed worker logged with its signal
# and restarted, SIGTERM: graceful stop events, exit 0), inline tcp_local
# (listening line, a signed call answered, SIGTERM and SIGINT: exit 0), and
# the program's cleanup hook once per process.
# Usage: xrmain.sh PATH/TO/xrmain_prog PATH/TO/execrpc
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
prog=${1:?usage: xrmain.sh XRMAIN_PROG EXECRPC}
cli=${2:?usage: xrmain.sh XRMAIN_PROG EXECRPC}
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

# run ARGS...: the program in the foreground; sets rc, out, err
run() {
	"$prog" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# start CONFIG PATTERN COUNT: the program in the background until its
# stdout has COUNT lines matching PATTERN
start() {
	"$prog" --config "$1" >"$tmp/p.out" 2>"$tmp/p.err" &
	ppid_=$!
	for _ in $(seq 1 200); do
		[ "$(grep -c "$2" "$tmp/p.out" 2>/dev/null)" = "$3" ] && return 0
		sleep 0.05
	done
	echo "the program did not come up:" >&2
	cat "$tmp/p.out" "$tmp/p.err" >&2
	return 1
}

# stop_with SIGNAL: signal the program, wait for it (at most 10 s, then
# SIGKILL: src 137); sets src
stop_with() {
	kill "-$1" "$ppid_"
	for _ in $(seq 1 200); do
		kill -0 "$ppid_" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$ppid_" 2>/dev/null && kill -KILL "$ppid_"
	wait "$ppid_"
	src=$?
	ppid_=
}

# --- --help: usage, the modes, the services; exit 0
for h in --help -h; do
	run "$h"
	[ "$rc" = 0 ] && [ -z "$err" ] && ok || bad "$h: rc=$rc err=$err"
	head -1 "$tmp/out" | grep -qx 'usage: xrmain_prog --config FILE \[--log-level debug|info|warn|error\]' &&
		ok || bad "$h: usage line: $out"
	grep -q 'process_supervisor' "$tmp/out" && grep -q 'inline' "$tmp/out" &&
		grep -q 'config check FILE' "$tmp/out" && ok || bad "$h: modes: $out"
	grep -qx 'A test program: echo.v1.Echo and test.v1.Nop.' "$tmp/out" && ok ||
		bad "$h: about line: $out"
	[ "$(sed -n '/^services:$/,/^$/p' "$tmp/out")" = "$(printf 'services:\n  echo.v1.Echo\n  test.v1.Nop\n')" ] &&
		ok || bad "$h: services: $out"
	# without an ingress, inline serves callers outside the process only
	# (xrmain_ingress.sh: the other text)
	[ "$(sed -n '/^  bootstrap.mode inline:/,/^  SIGTERM/p' "$tmp/out")" = '  bootstrap.mode inline: serve them in this process (transport
    tcp_local, secret_mode static) and print "listening HOST PORT".
  SIGTERM or SIGINT stops with the config'"'"'s lifecycle policy and' ] &&
		ok || bad "$h: inline text: $out"
done

# --- bad usage: 64, the usage on stderr, nothing on stdout
for args in "" "--bogus" "config" "config check" "config check a b" \
    "config keys x" "--config" "--log-level loud --config x" \
    "--config a extra" "--worker" "--worker --bootstrap-fd 3" \
    "--config a --worker --bootstrap-fd 3 --control-fd 4" \
    "--worker --bootstrap-fd 3 --control-fd 4 extra"; do
	# shellcheck disable=SC2086
	run $args
	[ "$rc" = 64 ] && [ -z "$out" ] || bad "usage ($args): rc=$rc out=$out"
	case $err in *"usage: xrmain_prog --config FILE"*|*"--log-level: "*|*"option"*) ok ;;
	*) bad "usage ($args): stderr: $err" ;; esac
done

# --- the worker form the supervisor execs (and only that) is worker mode;
# its fds are checked strictly (xr_worker_args)
for fds in "3 --control-fd 3" "2 --control-fd 4" "3x --control-fd 4"; do
	# shellcheck disable=SC2086
	run --worker --bootstrap-fd $fds
	[ "$rc" = 64 ] && [ -z "$out" ] &&
		[ "$(head -1 "$tmp/err")" = "usage: $prog --worker --bootstrap-fd N --control-fd M" ] &&
		ok || bad "worker fds ($fds): rc=$rc out=$out err=$err"
done

# --- config check
sock="$tmp/run/control.sock"
write_config "$tmp/ps.yaml" transport=tcp_local mode=process_supervisor \
	graceful_timeout_seconds=5 socket="$sock" \
	group=a:2:echo.v1.Echo,test.v1.Nop
run config check "$tmp/ps.yaml"
[ "$rc" = 0 ] && [ "$out" = ok ] && [ -z "$err" ] && ok || bad "check ps: rc=$rc out=$out err=$err"

write_config "$tmp/kv.yaml" transport=tcp_local mode=process_supervisor \
	socket="$sock" group=a:1:echo.v1.Echo group=b:2:test.v1.Nop,kv.v1.Kv
want='xrmain_prog: lifecycle_resolution (code -30): runtime.platform.process_groups[1].services: no module provides "kv.v1.Kv" (this program contains: echo.v1.Echo, test.v1.Nop)'
run config check "$tmp/kv.yaml"
[ "$rc" = 4 ] && [ -z "$out" ] && ok || bad "check kv: rc=$rc out=$out"
[ "$err" = "$want" ] && ok || bad "check kv: stderr: $err"
# the same refusal when asked to run it: before any worker is spawned
run --config "$tmp/kv.yaml"
[ "$rc" = 4 ] && [ -z "$out" ] &&
	[ "$err" = "$want"$'\n'"xrmain_prog: cleanup pid $(sed -n 's/.*cleanup pid //p' "$tmp/err")" ] &&
	ok || bad "run kv: rc=$rc out=$out err=$err"
[ ! -e "$sock" ] && ok || bad "run kv: a control socket was made"

write_config "$tmp/mem.yaml" mode=inline
run config check "$tmp/mem.yaml"
[ "$rc" = 2 ] && [ "$err" = 'xrmain_prog: config_invalid (code -20): runtime.platform.execution_ipc.transport: memory serves callers in this process only, and xrmain_prog has none (use tcp_local or redis_streams)' ] &&
	ok || bad "check memory: rc=$rc err=$err"
write_config "$tmp/gen.yaml" transport=tcp_local mode=inline
run config check "$tmp/gen.yaml"
[ "$rc" = 2 ] && [ "$err" = 'xrmain_prog: config_invalid (code -20): runtime.platform.execution_ipc.auth.secret_mode: generated makes a secret no client can get; set secret_mode: static and secret_file: PATH (mode 0600, 32..4096 bytes), and give the client the same secret and kdf' ] &&
	ok || bad "check generated: rc=$rc err=$err"
run --config "$tmp/gen.yaml"
[ "$rc" = 2 ] && [ -z "$out" ] && ok || bad "run generated: rc=$rc out=$out"
printf 'runtime:\n  platform: [\n' >"$tmp/syntax.yaml"
run config check "$tmp/syntax.yaml"
[ "$rc" = 2 ] && case $err in "xrmain_prog: config_syntax (code -21): "*) true ;; *) false ;; esac &&
	ok || bad "check syntax: rc=$rc err=$err"
# a run that cannot load its config: its category, and the cleanup hook
# all the same
run --config "$tmp/missing.yaml"
[ "$rc" = 2 ] && [ -z "$out" ] &&
	[ "$(sed -n 1p "$tmp/err")" = "xrmain_prog: config_invalid (code -20): config file $tmp/missing.yaml: cannot open (No such file or directory)" ] &&
	[ "$(sed -n 2p "$tmp/err")" = "xrmain_prog: cleanup pid $(sed -n 's/.*cleanup pid //p' "$tmp/err")" ] &&
	ok || bad "run missing: rc=$rc out=$out err=$err"
write_config "$tmp/app.yaml" transport=tcp_local mode=process_supervisor
run config check "$tmp/app.yaml"
[ "$rc" = 0 ] && ok || bad "check default groups: rc=$rc err=$err"

# --- process_supervisor, 2 workers
start "$tmp/ps.yaml" '^worker ' 2 || exit 1
grep -Eq '^worker a 0 pid [0-9]+ port [0-9]+$' "$tmp/p.out" &&
	grep -Eq '^worker a 1 pid [0-9]+ port [0-9]+$' "$tmp/p.out" && ok ||
	bad "worker lines: $(cat "$tmp/p.out")"
pid0=$(awk '$2=="a" && $3==0 {print $5}' "$tmp/p.out")
pid1=$(awk '$2=="a" && $3==1 {print $5}' "$tmp/p.out")
out=$("$cli" status --control "$sock" 2>"$tmp/err")
rc=$?
[ "$rc" = 0 ] && ok || bad "status: rc=$rc $(cat "$tmp/err")"
python3 -c "import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if [(w['group'], w['index'], w['state'], w['pid']) for w in j['workers']] == [('a',0,'ready',$pid0),('a',1,'ready',$pid1)] else 1)" "$out" &&
	ok || bad "status: $out"

# a worker crash: one line on stderr with its signal, and it comes back
kill -KILL "$pid0"
for _ in $(seq 1 100); do
	[ "$(grep -c '^worker a 0 ' "$tmp/p.out")" = 2 ] && break
	sleep 0.05
done
[ "$(grep -c '^worker a 0 ' "$tmp/p.out")" = 2 ] && ok || bad "no worker line after the restart: $(cat "$tmp/p.out")"
[ "$(grep -c 'worker_failed' "$tmp/p.err")" = 1 ] &&
	grep -qx "xrmain_prog: worker_failed (code -32): worker a 0 pid $pid0 killed by signal 9 (SIGKILL); restart: on-failure" "$tmp/p.err" &&
	ok || bad "crash line: $(cat "$tmp/p.err")"
pids=$(awk '/^worker / {print $5}' "$tmp/p.out")

stop_with TERM
[ "$src" = 0 ] && ok || bad "SIGTERM: exit $src: $(cat "$tmp/p.err")"
[ "$(grep -c '^stop ' "$tmp/p.out")" = 1 ] && grep -qx 'stop a graceful' "$tmp/p.out" &&
	ok || bad "stop lines: $(cat "$tmp/p.out")"
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=1; done
[ "$left" = 0 ] && ok || bad "workers left after SIGTERM"
[ ! -e "$sock" ] && ok || bad "control socket left behind"
# cleanup: the program, and the two workers that stopped (not the killed one)
[ "$(grep -c '^xrmain_prog: cleanup pid ' "$tmp/p.err")" = 3 ] &&
	grep -qx "xrmain_prog: cleanup pid $pid1" "$tmp/p.err" && ok ||
	bad "cleanup lines: $(cat "$tmp/p.err")"
[ "$(grep -vc -e '^xrmain_prog: cleanup pid ' -e 'worker_failed' "$tmp/p.err")" = 0 ] &&
	ok || bad "unexpected stderr: $(cat "$tmp/p.err")"

# --- inline, tcp_local, a static secret
head -c 48 /dev/urandom | base64 | tr -d '\n' >"$tmp/secret"
chmod 600 "$tmp/secret"
cat >"$tmp/inline.yaml" <<YAML
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
      bind_host: 127.0.0.1
      bind_port: 0
      auth: {secret_mode: static, secret_file: $tmp/secret}
    bootstrap: {mode: inline}
    lifecycle: {graceful_timeout_seconds: 5}
YAML
run config check "$tmp/inline.yaml"
[ "$rc" = 0 ] && [ "$out" = ok ] && ok || bad "check inline: rc=$rc err=$err"
for sig in TERM INT; do
	start "$tmp/inline.yaml" '^listening ' 1 || exit 1
	grep -Eqx 'listening 127\.0\.0\.1 [0-9]+' "$tmp/p.out" && ok ||
		bad "listening line: $(cat "$tmp/p.out")"
	port=$(awk '/^listening / {print $3}' "$tmp/p.out")
	reply=$("$prog" call "$port" "$tmp/secret" "hello $sig" 2>"$tmp/err")
	[ "$reply" = "reply hello $sig pid $ppid_" ] && ok ||
		bad "inline call: $reply $(cat "$tmp/err")"
	pp=$ppid_
	stop_with "$sig"
	[ "$src" = 0 ] && ok || bad "SIG$sig: exit $src: $(cat "$tmp/p.err")"
	[ "$(cat "$tmp/p.out")" = "listening 127.0.0.1 $port" ] && ok ||
		bad "inline stdout: $(cat "$tmp/p.out")"
	[ "$(cat "$tmp/p.err")" = "xrmain_prog: cleanup pid $pp" ] && ok ||
		bad "inline stderr: $(cat "$tmp/p.err")"
	# stopped: the port is closed
	"$prog" call "$port" "$tmp/secret" x >/dev/null 2>&1 &&
		bad "a call after the stop was answered" || ok
done

echo "runtime/xrmain: $pass passed, $fail failed"
[ "$fail" = 0 ]
