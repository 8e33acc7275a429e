#!/usr/bin/env bash
# python/fundload_web_kill: one `POST /v1/loads` in flight when the
# fund-load worker deciding it is SIGKILLed gets HTTP 503 with
# `Retry-After: 1` and the UNAVAILABLE body (never a 200, never a hang);
# after the restart (generation 2) the same load through the same web
# processes, not restarted, is decided once: 200 "accepted":true (the dead
# worker never decided it, so it is no duplicate).
#
# Catching the request in flight without sleeping and hoping: the worker
# its customer picks (FNV-1a-64 of customer_id, slot 0 of 2) is SIGSTOPped
# first; the request is in flight once its bytes wait in the worker's TCP
# receive queue (`ss`: the Recv-Q of the connections to the worker's port
# grows, since a stopped process reads nothing); only then the SIGKILL.
# The fund-load service, the example app and the supervisor are the real
# ones: no hook, no test-only code path.
# Usage: test_fundload_web_kill.sh SERVE EXECRPC SITE SRC
set -u
serve=${1:?usage: test_fundload_web_kill.sh SERVE EXECRPC SITE SRC}
cli=${2:?}
site=${3:?}
src=${4:?}
tmp=$(mktemp -d)
spid=
kpid=
cleanup() {
	[ -n "$kpid" ] && kill -CONT "$kpid" 2>/dev/null
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
sock="$tmp/kill.sock"
status_json() { "$cli" status --control "$sock"; }
web_ready() {
	status_json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
w = json.load(sys.stdin)["workers"]
sys.exit(0 if len(w) == 4 and all(x["state"] == "ready" for x in w) else 1)'
}
healthz() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; }
fpid() { status_json | /usr/bin/python3 -c '
import json, sys
for w in json.load(sys.stdin)["workers"]:
    if w["group"] == sys.argv[1] and w["index"] == int(sys.argv[2]):
        print(w[sys.argv[3]])' "$@"; }
# bytes waiting in the receive queues of the connections to port $1
recvq() { ss -Htn state established "( sport = :$1 )" | awk '{ s += $1 } END { print s + 0 }'; }

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
cat >"$tmp/kill.yaml" <<EOF2
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
    bootstrap:
      mode: process_supervisor
    lifecycle:
      graceful_timeout_seconds: 10
      ready_timeout_seconds: 60
    control:
      socket: $sock
    process_groups:
      - name: fundload
        workers: 2
        services: [fundload.v1.FundLoad]
      - name: web
        role: ingress
        workers: 2
        command: [/usr/bin/python3, $src/examples/fundload_web/serve.py, --site, $site, --port, "$port", --rules, baseline]
apps:
  fundload:
    rules: baseline
EOF2
chmod 600 "$tmp/kill.yaml"
"$serve" --config "$tmp/kill.yaml" >"$tmp/kill.out" 2>"$tmp/kill.err" &
spid=$!
if ! wait_for 90 web_ready || ! wait_for 30 healthz; then
	bad "not ready: $(tail -n 5 "$tmp/kill.err")"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok
# a customer whose loads go to fundload[0] (FNV-1a-64 modulo 2 = 0)
cust=$(/usr/bin/python3 -c '
def fnv(b):
    h = 0xCBF29CE484222325
    for x in b:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h
print(next(c for c in (f"inflight-{i}" for i in range(100)) if fnv(c.encode()) % 2 == 0))')
load="{\"id\":\"f1\",\"customer_id\":\"$cust\",\"load_amount\":\"\$12.50\",\"time\":\"2000-01-03T00:00:00Z\"}"
w0=$(fpid web 0 pid)
w1=$(fpid web 1 pid)
kpid=$(fpid fundload 0 pid)
kport=$(fpid fundload 0 port)
[ "$(fpid fundload 0 generation)" = 1 ] && ok || bad "fundload[0] not generation 1"

kill -STOP "$kpid"
q0=$(recvq "$kport")
curl -s -m 60 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' -X POST -d "$load" \
    "$url/v1/loads" >"$tmp/code" &
cpid=$!
arrived() { [ "$(recvq "$kport")" -gt "$q0" ]; }
if wait_for 30 arrived; then ok; else bad "the request never reached fundload[0]"; fi
echo "in flight: Recv-Q to fundload[0] :$kport $q0 -> $(recvq "$kport") bytes" >&2
kill -KILL "$kpid"
kpid=
wait "$cpid"
code=$(cat "$tmp/code")
[ "$code" = 503 ] && ok || bad "in flight: HTTP $code $(cat "$tmp/b")"
grep -qi '^retry-after: 1' "$tmp/h" && ok || bad "in flight: no Retry-After: $(cat "$tmp/h")"
case "$(cat "$tmp/b")" in
'{"code":14,"message":'*) ok ;;
*) bad "in flight: body $(cat "$tmp/b")" ;;
esac

gen2() { [ "$(fpid fundload 0 generation)" = 2 ] && [ "$(fpid fundload 0 state)" = ready ]; }
wait_for 30 gen2 && ok || bad "fundload[0] not back with generation 2"
# the web processes learn the new port from fd 4: the same load, once it
# is taken (503 until then, decided by nobody), is decided exactly once
took() {
	r=$(curl -s -m 30 -w ' %{http_code}' -X POST -d "$load" "$url/v1/loads")
	case "$r" in *' 503') return 1 ;; esac
	return 0
}
wait_for 20 took
[ "$r" = "{\"id\":\"f1\",\"customer_id\":\"$cust\",\"accepted\":true}
 200" ] && ok || bad "after the restart: $r"
r=$(curl -s -m 30 -w ' %{http_code}' -X POST -d "$load" "$url/v1/loads")
[ "$r" = "{\"id\":\"f1\",\"customer_id\":\"$cust\",\"ignored\":true}
 200" ] && ok || bad "the same load again: $r"
[ "$(fpid web 0 pid)" = "$w0" ] && [ "$(fpid web 1 pid)" = "$w1" ] && ok ||
    bad "a web process was restarted"
"$cli" stop --control "$sock" >/dev/null 2>&1 && ok || bad "stop"
wait_for 20 eval '! kill -0 "$spid" 2>/dev/null' && ok || bad "still running"
spid=
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
