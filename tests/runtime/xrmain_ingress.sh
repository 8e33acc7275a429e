#!/usr/bin/env bash
# runtime/xrmain_ingress: a program built with xr_main_run() that has an
# ingress (xr_main_program.ingress, execrpc/main.h): the usage names the
# operands; the ingress runs once the lifecycle is ready (process_supervisor:
# after the worker lines, the control socket served) with the operands
# (one starting with '-' included), calls the modules through
# xr_lifecycle_pick(), and then the program serves until SIGTERM, or stops
# at once after its own xr_lifecycle_stop_begin(), or exits with the status
# the ingress returns (after a graceful stop); inline with transport memory
# and a generated secret is accepted for such a program (no endpoint, no
# listening line; the calls run in this process); an affinity key picks
# the same worker through the ingress and through `execrpc call --key`.
# Usage: xrmain_ingress.sh PATH/TO/xrmain_prog PATH/TO/execrpc
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
prog=${1:?usage: xrmain_ingress.sh XRMAIN_PROG EXECRPC}
cli=${2:?usage: xrmain_ingress.sh XRMAIN_PROG EXECRPC}
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
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

# run ARGS...: the program with its ingress, in the foreground, at most
# 30 s; sets rc, out, err
run() {
	timeout -s KILL 30 "$prog" ingress "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# bg ARGS...: the program with its ingress in the background (ppid_ its
# pid), output in $tmp/p.out and $tmp/p.err
bg() {
	"$prog" ingress "$@" >"$tmp/p.out" 2>"$tmp/p.err" &
	ppid_=$!
}

# wait_bg: wait for it, at most 30 s (then SIGKILL: 137); sets src
wait_bg() {
	for _ in $(seq 1 600); do
		kill -0 "$ppid_" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$ppid_" 2>/dev/null && kill -KILL "$ppid_"
	wait "$ppid_"
	src=$?
}

# the worker lines' pids, in order
worker_pids() { awk '/^worker / {print $5}' "$tmp/out"; }

# --- the usage names the operands
run --help
[ "$rc" = 0 ] && [ "$(head -1 "$tmp/out")" = 'usage: xrmain_prog --config FILE [--log-level debug|info|warn|error] [ARG...]' ] &&
	ok || bad "help: rc=$rc $(head -1 "$tmp/out")"
grep -qx "ARG...              for the program's own calls, made once it is ready;" "$tmp/out" &&
	ok || bad "help: no ARG... line: $out"
# with an ingress, inline takes any transport and secret mode
# (xrmain.sh: the text without one)
[ "$(sed -n '/^  bootstrap.mode inline:/,/^  SIGTERM/p' "$tmp/out")" = '  bootstrap.mode inline: serve them in this process (any transport
    and secret_mode; tcp_local also prints "listening HOST PORT").
  SIGTERM or SIGINT stops with the config'"'"'s lifecycle policy and' ] &&
	ok || bad "help: inline text: $out"

sock="$tmp/control.sock"
write_config "$tmp/ps.yaml" transport=tcp_local mode=process_supervisor \
	graceful_timeout_seconds=5 socket="$sock" group=a:2:echo.v1.Echo

# --- process_supervisor: the calls after the worker lines, round robin
# over the 2 workers; "stop" ends the run gracefully, exit 0
run --config "$tmp/ps.yaml" one two -x stop
read -r p0 p1 <<<"$(worker_pids | tr '\n' ' ')"
want="worker a 0 pid $p0 port PORT
worker a 1 pid $p1 port PORT
said one pid $p0
said two pid $p1
said -x pid $p0
ingress done argc 4
stop a graceful"
[ "$rc" = 0 ] && [ -n "$p1" ] &&
	[ "$(sed -E 's/ port [0-9]+$/ port PORT/' "$tmp/out")" = "$want" ] &&
	ok || bad "ps stop: rc=$rc out=$out err=$err"
[ "$(grep -c 'cleanup pid' "$tmp/err")" = 3 ] && ok || bad "ps stop: stderr: $err"

# --- the ingress's exit status: a graceful stop, then exit 3
run --config "$tmp/ps.yaml" one exit=3 two
read -r p0 p1 <<<"$(worker_pids | tr '\n' ' ')"
want="said one pid $p0
stop a graceful"
[ "$rc" = 3 ] && [ "$(sed '/^worker /d' "$tmp/out")" = "$want" ] &&
	ok || bad "ps exit=3: rc=$rc out=$out err=$err"
for p in $p0 $p1; do
	kill -0 "$p" 2>/dev/null && bad "ps exit=3: worker $p left"
done

# --- the ingress returns 0: the program serves (the control socket is up)
# until SIGTERM
bg --config "$tmp/ps.yaml" one
for _ in $(seq 1 200); do
	grep -q '^ingress done' "$tmp/p.out" 2>/dev/null && break
	sleep 0.05
done
grep -q '^said one pid ' "$tmp/p.out" && grep -qx 'ingress done argc 1' "$tmp/p.out" &&
	ok || bad "serve: $(cat "$tmp/p.out" "$tmp/p.err")"
st=$("$cli" status --control "$sock" 2>&1)
[ "$(grep -o '"state":"ready"' <<<"$st" | wc -l)" = 2 ] && ok || bad "serve: status: $st"
kill -TERM "$ppid_"
wait_bg
[ "$src" = 0 ] && [ "$(tail -1 "$tmp/p.out")" = 'stop a graceful' ] &&
	ok || bad "serve: SIGTERM: exit $src $(cat "$tmp/p.out" "$tmp/p.err")"

# --- affinity: a key reaches the same worker through the ingress
# (xr_lifecycle_pick) and through `execrpc call --key` (the supervisor's
# CALL); with 3 workers, keys c, e, f and user-1 are where FNV-1a-32 modulo
# the ready workers would have picked another one
write_config "$tmp/ps3.yaml" transport=tcp_local mode=process_supervisor \
	graceful_timeout_seconds=5 socket="$sock" group=a:3:echo.v1.Echo
protoc -I "$srcdir/proto" --descriptor_set_out="$tmp/echo.pb" --include_imports \
	echo/v1/echo.proto
keys="a b c d e f user-1 user-2 user-3 user-7"
# shellcheck disable=SC2086
bg --config "$tmp/ps3.yaml" $(printf 'key=%s ' $keys)
for _ in $(seq 1 200); do
	grep -q '^ingress done' "$tmp/p.out" 2>/dev/null && break
	sleep 0.05
done
for k in $keys; do
	via_ingress=$(awk -v t="key=$k" '$1 == "said" && $2 == t {print $4}' "$tmp/p.out")
	"$cli" call --control "$sock" --protoset "$tmp/echo.pb" --key "$k" -v \
		echo.v1.Echo/Say '{}' >/dev/null 2>"$tmp/call.err"
	via_call=$(sed -n 's/^execrpc: answered by a\[[0-9]*\] pid //p' "$tmp/call.err")
	[ -n "$via_ingress" ] && [ "$via_ingress" = "$via_call" ] && ok ||
		bad "key $k: ingress pid $via_ingress, execrpc call pid $via_call $(cat "$tmp/call.err")"
done
[ "$(awk '$1 == "said" {print $4}' "$tmp/p.out" | sort -u | wc -l)" = 3 ] && ok ||
	bad "affinity: the keys did not reach all 3 workers: $(cat "$tmp/p.out")"
kill -TERM "$ppid_"
wait_bg
[ "$src" = 0 ] && ok || bad "affinity: SIGTERM: exit $src"

# --- inline, memory, a generated secret: refused without an ingress
# (tests/runtime/xrmain.sh), the ingress's own modules with one
write_config "$tmp/mem.yaml" mode=inline
run config check "$tmp/mem.yaml"
[ "$rc" = 0 ] && [ "$out" = ok ] && ok || bad "check memory: rc=$rc err=$err"
bg --config "$tmp/mem.yaml" one stop
wait_bg
[ "$src" = 0 ] && [ "$(cat "$tmp/p.out")" = "said one pid $ppid_
ingress done argc 2" ] && [ "$(cat "$tmp/p.err")" = "xrmain_prog: cleanup pid $ppid_" ] &&
	ok || bad "memory: exit $src: $(cat "$tmp/p.out" "$tmp/p.err")"

# --- an operand "--worker" (also the whole worker form after --config) is
# the ingress's, never worker mode
bg --config "$tmp/mem.yaml" one --worker --bootstrap-fd 3 --control-fd 4 stop
wait_bg
[ "$src" = 0 ] && [ "$(cat "$tmp/p.out")" = "said one pid $ppid_
said --worker pid $ppid_
said --bootstrap-fd pid $ppid_
said 3 pid $ppid_
said --control-fd pid $ppid_
said 4 pid $ppid_
ingress done argc 7" ] && [ "$(cat "$tmp/p.err")" = "xrmain_prog: cleanup pid $ppid_" ] &&
	ok || bad "operand --worker: exit $src: $(cat "$tmp/p.out" "$tmp/p.err")"

# --- inline, tcp_local, a generated secret: the endpoint's line, then the
# calls through it
write_config "$tmp/gen.yaml" transport=tcp_local mode=inline
bg --config "$tmp/gen.yaml" one stop
wait_bg
[ "$src" = 0 ] && [ "$(sed -E 's/^listening 127\.0\.0\.1 [0-9]+$/listening/' "$tmp/p.out")" = "listening
said one pid $ppid_
ingress done argc 2" ] && ok || bad "tcp_local generated: exit $src: $(cat "$tmp/p.out" "$tmp/p.err")"
ppid_=

echo "runtime/xrmain_ingress: $pass passed, $fail failed"
[ "$fail" = 0 ]
