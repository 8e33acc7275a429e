#!/usr/bin/env bash
# supervisor/cli_call: `execrpc call` through a running execrpc-supervisor
# (docs/supervisor.md "execrpc call"): the CLI holds no keys, the control
# socket is its authority; the supervisor routes the call to a ready worker
# over the signed worker channel. Exact JSON (--protoset made here with
# protoc) and exact bytes (--binary), exact exit statuses and messages.
# Usage: cli_call.sh SUPERVISOR EXECRPC PROTOC SOURCE_DIR
set -u
sup=${1:?usage: cli_call.sh SUPERVISOR EXECRPC PROTOC SOURCE_DIR}
cli=${2:?}
protoc=${3:?}
src=${4:?}
tmp=$(mktemp -d)
spid=
stopped=
cleanup() {
	[ -n "$stopped" ] && kill -CONT "$stopped" 2>/dev/null
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run ARGS... [< input]: sets rc, out, err
run() {
	"$cli" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect WHAT RC STDERR: the last run's status and its whole stderr
expect() {
	[ "$rc" = "$2" ] && [ "$err" = "$3" ] && ok ||
	    bad "$1: rc=$rc (want $2) stderr: $err (want $3)"
}

sock="$tmp/run/control.sock"
# "any" lists no service: it hosts every module of the program (echo), but a
# group naming echo.v1.Echo explicitly (alpha) takes its calls
config() {
	cat >"$1" <<EOF
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
      max_payload_bytes: 1024
    bootstrap:
      mode: process_supervisor
    lifecycle:
      graceful_timeout_seconds: 5
    control:
      socket: $sock
    process_groups:
$2
EOF
}
config "$tmp/cfg.yaml" '      - name: any
        workers: 1
        services: []
      - name: alpha
        workers: 2
        services: [echo.v1.Echo]'

# start CONFIG NWORKERS: the supervisor in the background, its workers up
start() {
	"$sup" --config "$1" >"$tmp/sup.out" 2>"$tmp/sup.err" &
	spid=$!
	for _ in $(seq 1 200); do
		[ "$(grep -c '^worker ' "$tmp/sup.out" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.05
	done
	echo "supervisor did not come up:" >&2
	cat "$tmp/sup.out" "$tmp/sup.err" >&2
	return 1
}

# pid_of GROUP INDEX
pid_of() { awk -v g="$1" -v i="$2" '$2==g && $3==i {print $5}' "$tmp/sup.out" | tail -1; }

# answered: "GROUP INDEX PID" from the -v line of the last run
answered() { sed -n 's/^execrpc: answered by \([a-z]*\)\[\([0-9]*\)\] pid \([0-9]*\)$/\1 \2 \3/p' "$tmp/err"; }

"$protoc" -I"$src/proto" --descriptor_set_out="$tmp/echo.pb" --include_imports \
	"$src/proto/echo/v1/echo.proto" || { echo "protoc failed" >&2; exit 1; }
ps=(--protoset "$tmp/echo.pb")

# --- usage: neither --protoset nor --binary; no supervisor
run call --control "$sock" echo.v1.Echo/Say '{}'
[ "$rc" = 64 ] && ok || bad "no --protoset/--binary: rc=$rc"
[ "$(head -1 "$tmp/err")" = "execrpc call: give --protoset FILE (a descriptor set from protoc --descriptor_set_out=FILE --include_imports) to call with JSON, or --binary to pass raw protobuf bytes on stdin and stdout" ] && ok || bad "no --protoset/--binary: $err"
run call --control "$sock" --binary echo.v1.Echo/Say </dev/null
[ "$rc" = 5 ] && ok || bad "no supervisor: rc=$rc $err"
case "$err" in "execrpc: lifecycle_not_ready (code -31): no supervisor listening on $sock"*) ok ;; *) bad "no supervisor: $err" ;; esac
run call --help
[ "$rc" = 0 ] && grep -q '^exit status: 0 OK; 100 + the gRPC status code' "$tmp/out" && ok || bad "call --help: rc=$rc"

start "$tmp/cfg.yaml" 3 || exit 1

# --- JSON through the descriptor set: the exact response, round robin
run call --control "$sock" "${ps[@]}" -v echo.v1.Echo/Say '{"text":"hello"}'
read -r g1 i1 p1 <<<"$(answered)"
[ "$rc" = 0 ] && [ "$g1" = alpha ] && [ "$p1" = "$(pid_of alpha "$i1")" ] && ok || bad "json call: rc=$rc $err"
[ "$out" = "{\"text\":\"hello\",\"workerPid\":\"$p1\"}" ] && ok || bad "json call: $out"
run call --control "$sock" "${ps[@]}" -v echo.v1.Echo/Say '{"text":"again"}'
read -r g2 i2 p2 <<<"$(answered)"
[ "$rc" = 0 ] && [ "$g2" = alpha ] && [ "$i2" != "$i1" ] && ok || bad "round robin: $i1 then $i2"
[ "$out" = "{\"text\":\"again\",\"workerPid\":\"$p2\"}" ] && ok || bad "round robin: $out"
# the request from stdin
run call --control "$sock" "${ps[@]}" echo.v1.Echo/Say <<<'{"text":"stdin"}'
case "$out" in '{"text":"stdin","workerPid":"'*'"}') ok ;; *) bad "stdin json: rc=$rc $out $err" ;; esac

# --- raw bytes: SayRequest{text "hi"} in, SayResponse{text "hi", pid} out
printf '\n\002hi' >"$tmp/req.bin"
"$cli" call --control "$sock" --binary -v echo.v1.Echo/Say <"$tmp/req.bin" >"$tmp/resp.bin" 2>"$tmp/err"
rc=$?
read -r g i p <<<"$(answered)"
want=$(python3 -c "
import sys
p = int(sys.argv[1]); v = b''
while True:
    if p < 0x80: v += bytes([p]); break
    v += bytes([p & 0x7f | 0x80]); p >>= 7
sys.stdout.write((b'\n\x02hi\x10' + v).hex())" "$p")
got=$(od -An -tx1 -v "$tmp/resp.bin" | tr -d ' \n')
[ "$rc" = 0 ] && [ "$got" = "$want" ] && ok || bad "binary: rc=$rc got $got want $want"

# --- a handler's failure: its status as the exit status, its message
run call --control "$sock" "${ps[@]}" echo.v1.Echo/Say '{"text":"x","failCode":5}'
expect "handler failure" 105 "execrpc: NOT_FOUND (status 5): failed as asked"
[ "$out" = "" ] && ok || bad "handler failure printed: $out"

# --- unknown methods: named by the worker, by the descriptor set
run call --control "$sock" --binary echo.v1.Echo/Nope </dev/null
expect "unknown method" 112 'execrpc: UNIMPLEMENTED (status 12): unknown method "echo.v1.Echo/Nope"'
run call --control "$sock" "${ps[@]}" echo.v1.Echo/Nope '{}'
expect "unknown method in the protoset" 64 'execrpc call: service echo.v1.Echo in the descriptor set has no method "Nope"'
# a service no group names: the group that hosts every module ("any")
run call --control "$sock" --binary -v foo.v1.Bar/Baz </dev/null
expect "unnamed service" 112 "execrpc: answered by any[0] pid $(pid_of any 0)
execrpc: UNIMPLEMENTED (status 12): unknown method \"foo.v1.Bar/Baz\""
run call --control "$sock" --binary echo.v1.Echo </dev/null
expect "malformed method" 103 'execrpc: INVALID_ARGUMENT (status 3): method "echo.v1.Echo" is not of the form package.Service/Method (at most 127 bytes)'

# --- requests that do not convert, or are over the limit
run call --control "$sock" "${ps[@]}" echo.v1.Echo/Say '{"text":"x","nope":1}'
expect "unknown field" 103 'execrpc: INVALID_ARGUMENT (status 3): request: unknown field "nope" in echo.v1.SayRequest'
run call --control "$sock" "${ps[@]}" echo.v1.Echo/Say '{"text":1}'
expect "wrong type" 103 'execrpc: INVALID_ARGUMENT (status 3): request: field "text" of echo.v1.SayRequest: expected a string, got an integer'
run call --control "$sock" "${ps[@]}" echo.v1.Echo/Say "{\"text\":\"$(printf 'a%.0s' $(seq 1 1030))\"}"
expect "over max_payload_bytes" 108 'execrpc: RESOURCE_EXHAUSTED (status 8): request of 1033 bytes is over the call limit of 1024 bytes (max_payload_bytes 1024, worker channel 1024)'
head -c 1048577 /dev/zero >"$tmp/huge.bin"
run call --control "$sock" --binary echo.v1.Echo/Say <"$tmp/huge.bin"
expect "over the CLI's cap" 108 'execrpc: RESOURCE_EXHAUSTED (status 8): the request on stdin is over the call limit of 1048576 bytes'

# --- affinity: one key, one worker
run call --control "$sock" "${ps[@]}" --key user-7 -v echo.v1.Echo/Say '{}'
read -r gk ik pk <<<"$(answered)"
same=1
for _ in 1 2 3; do
	run call --control "$sock" "${ps[@]}" --key user-7 -v echo.v1.Echo/Say '{}'
	[ "$(answered)" = "$gk $ik $pk" ] || same=0
done
[ "$gk" = alpha ] && [ "$same" = 1 ] && ok || bad "affinity: $gk[$ik] then $(answered)"
# an empty answer: every field at its default is left out
[ "$out" = "{\"workerPid\":\"$pk\"}" ] && ok || bad "defaults left out: $out"

# --- a stopped (SIGSTOP) worker: DEADLINE_EXCEEDED at the timeout, while
# the supervisor keeps answering
kill -STOP "$pk"
stopped=$pk
t0=$(date +%s%N)
"$cli" call --control "$sock" "${ps[@]}" --key user-7 --timeout 1500 echo.v1.Echo/Say '{}' \
	>"$tmp/slow.out" 2>"$tmp/slow.err" &
cpid=$!
sleep 0.2
run status --control "$sock"
[ "$rc" = 0 ] && ok || bad "status while a call waits: rc=$rc $err"
kill -0 "$cpid" 2>/dev/null && ok || bad "status was not answered while the call waited"
wait "$cpid"
rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$rc" = 104 ] && ok || bad "stopped worker: rc=$rc $(cat "$tmp/slow.err")"
[ "$(cat "$tmp/slow.err")" = "execrpc: DEADLINE_EXCEEDED (status 4): no answer from worker alpha[$ik] within 1500 ms" ] && ok || bad "stopped worker: $(cat "$tmp/slow.err")"
[ "$ms" -ge 1490 ] && [ "$ms" -lt 3500 ] && ok || bad "stopped worker: answered after $ms ms"
kill -CONT "$pk"
stopped=
# it serves again; its late answer was dropped
run call --control "$sock" "${ps[@]}" --key user-7 -v echo.v1.Echo/Say '{"text":"back"}'
[ "$rc" = 0 ] && [ "$out" = "{\"text\":\"back\",\"workerPid\":\"$pk\"}" ] && ok || bad "after SIGCONT: rc=$rc $out $err"

# --- a worker that dies with a call in flight: UNAVAILABLE at once
"$cli" call --control "$sock" "${ps[@]}" --key user-7 echo.v1.Echo/Say '{"delayMs":5000}' \
	>"$tmp/slow.out" 2>"$tmp/slow.err" &
cpid=$!
sleep 0.3
t0=$(date +%s%N)
kill -KILL "$pk"
wait "$cpid"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 114 ] && [ "$ms" -lt 3000 ] && ok || bad "worker killed: rc=$rc after $ms ms"
[ "$(cat "$tmp/slow.err")" = "execrpc: UNAVAILABLE (status 14): worker alpha[$ik] exited before answering" ] && ok || bad "worker killed: $(cat "$tmp/slow.err")"
# it is restarted (restart: on-failure)
for _ in $(seq 1 100); do
	[ "$(grep -c "^worker alpha $ik " "$tmp/sup.out")" = 2 ] && break
	sleep 0.05
done
[ "$(grep -c "^worker alpha $ik " "$tmp/sup.out")" = 2 ] && ok || bad "no restart: $(cat "$tmp/sup.out")"

# --- draining workers are not picked
run drain --control "$sock"
[ "$rc" = 0 ] && ok || bad "drain rc=$rc $err"
run call --control "$sock" "${ps[@]}" echo.v1.Echo/Say '{}'
expect "draining" 114 'execrpc: UNAVAILABLE (status 14): no ready worker in process group "alpha" (method "echo.v1.Echo/Say")'

run stop --control "$sock"
[ "$rc" = 0 ] && ok || bad "stop rc=$rc $err"
wait "$spid"
spid=

# --- without a group that hosts every module: a service no group names
config "$tmp/cfg2.yaml" '      - name: alpha
        workers: 1
        services: [echo.v1.Echo]'
start "$tmp/cfg2.yaml" 1 || exit 1
run call --control "$sock" --binary kv.v1.Kv/Put </dev/null
expect "no group" 112 'execrpc: UNIMPLEMENTED (status 12): no process group hosts service "kv.v1.Kv" (method "kv.v1.Kv/Put")'
run stop --control "$sock"
[ "$rc" = 0 ] && ok || bad "stop rc=$rc $err"
wait "$spid"
spid=

# --- a control-socket STOP follows lifecycle.drain_inflight unless the CLI
# overrides it: a 1500 ms call in flight is answered when the stop drains,
# and fails with the worker's UNAVAILABLE when it does not
drain_case() {	# WHAT DRAIN_INFLIGHT STOP_FLAGS WANT_RC
	cat >"$tmp/cfg3.yaml" <<EOF
runtime:
  platform:
    execution_ipc: {transport: tcp_local}
    bootstrap: {mode: process_supervisor}
    lifecycle: {graceful_timeout_seconds: 5, drain_inflight: $2}
    control: {socket: $sock}
    process_groups:
      - {name: alpha, workers: 1, services: [echo.v1.Echo]}
EOF
	start "$tmp/cfg3.yaml" 1 || exit 1
	"$cli" call --control "$sock" "${ps[@]}" echo.v1.Echo/Say \
	    '{"text":"held","delayMs":1500}' >"$tmp/held.out" 2>"$tmp/held.err" &
	local cpid=$!
	sleep 0.5
	# shellcheck disable=SC2086
	run stop --control "$sock" $3
	[ "$rc" = 0 ] && ok || bad "$1: stop rc=$rc $err"
	wait "$cpid"
	local crc=$?
	[ "$crc" = "$4" ] && ok || bad "$1: call rc=$crc (want $4) $(cat "$tmp/held.err")"
	wait "$spid"
	spid=
}
drain_case "config drain_inflight: true" true "" 0
grep -q '"text":"held"' "$tmp/held.out" && ok || bad "drained call: $(cat "$tmp/held.out")"
drain_case "config drain_inflight: false" false "" 114
drain_case "config false, --drain" false "--drain" 0
drain_case "config true, --no-drain" true "--no-drain" 114

echo "supervisor/cli_call: $pass passed, $fail failed"
[ "$fail" = 0 ]
