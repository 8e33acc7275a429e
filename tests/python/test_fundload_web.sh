#!/usr/bin/env bash
# python/fundload_web: examples/fundload_web under fundload-serve — 2
# fund-load workers and a web group of 2 uvicorn processes (serve.py,
# execrpc.fastapi), a generated secret — for each rule set:
#  1. POST /v1/loads:batch of a generated input (fundload_gen_input, with
#     invalid lines, duplicates, prime-id bursts): the body equals
#     fundload_ref's output byte for byte;
#  2. both workers decided loads (customers spread by FNV-1a);
#  3. POST /v1/loads: one decision, a duplicate, an invalid load (400);
#  4. `execrpc stop`: web group then workers, graceful, every process gone;
#  5. (baseline) a worker SIGKILLed during a batch (below).
# Usage: test_fundload_web.sh SERVE EXECRPC GEN_INPUT FUNDLOAD_REF SITE SRC
set -u
serve=${1:?usage: test_fundload_web.sh SERVE EXECRPC GEN_INPUT FUNDLOAD_REF SITE SRC}
cli=${2:?}
gen=${3:?}
ref=${4:?}
site=${5:?}
src=${6:?}
tmp=$(mktemp -d)
spid=
cleanup() {
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
status_json() { "$cli" status --control "$sock"; }
web_ready() {
	status_json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
w = json.load(sys.stdin)["workers"]
sys.exit(0 if len(w) == 4 and all(x["state"] == "ready" for x in w) else 1)'
}
healthz() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; }

"$gen" 7 6000 >"$tmp/input.jsonl" || { echo "gen failed" >&2; exit 1; }
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
for rules in baseline experiment; do
	sock="$tmp/$rules.sock"
	cat >"$tmp/$rules.yaml" <<EOF2
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
        command: [/usr/bin/python3, $src/examples/fundload_web/serve.py, --site, $site, --port, "$port", --rules, $rules]
apps:
  fundload:
    rules: $rules
EOF2
	chmod 600 "$tmp/$rules.yaml"
	"$serve" --config "$tmp/$rules.yaml" >"$tmp/$rules.out" 2>"$tmp/$rules.err" &
	spid=$!
	if ! wait_for 40 web_ready || ! wait_for 20 healthz; then
		bad "$rules: not ready: $(tail -n 5 "$tmp/$rules.err")"
		kill -KILL "$spid"; spid=
		continue
	fi
	ok
	# 1. the batch through HTTP = the sequential reference, byte for byte
	"$ref" --rules "$rules" "$tmp/input.jsonl" >"$tmp/$rules.ref" 2>/dev/null
	code=$(curl -s -o "$tmp/$rules.http" -w '%{http_code}' -X POST \
	    --data-binary @"$tmp/input.jsonl" "$url/v1/loads:batch")
	[ "$code" = 200 ] && ok || bad "$rules: batch HTTP $code"
	n=$(wc -l <"$tmp/$rules.ref")
	if [ "$n" -gt 5000 ] && cmp -s "$tmp/$rules.ref" "$tmp/$rules.http"; then ok; else
		bad "$rules: batch differs from fundload_ref ($n lines): $(diff "$tmp/$rules.ref" "$tmp/$rules.http" | head -n 4)"
	fi
	# 2. both workers decided loads
	"$cli" stats --control "$sock" >"$tmp/$rules.stats"
	/usr/bin/python3 - "$tmp/$rules.stats" <<'PY' && ok || bad "$rules: a worker got no call: $(cat "$tmp/$rules.stats")"
import json, sys
w = [x for x in json.load(open(sys.argv[1]))["workers"] if x["group"] == "fundload"]
assert len(w) == 2 and all(int(x.get("calls", 0)) > 0 for x in w), w
PY
	# 3. one load; the same again (a duplicate); an invalid one
	one='{"id":"x1","customer_id":"web-test","load_amount":"$10.00","time":"2000-01-03T00:00:00Z"}'
	r=$(curl -s -w ' %{http_code}' -X POST -d "$one" "$url/v1/loads")
	[ "$r" = '{"id":"x1","customer_id":"web-test","accepted":true}
 200' ] && ok || bad "$rules: one load: $r"
	r=$(curl -s -w ' %{http_code}' -X POST -d "$one" "$url/v1/loads")
	[ "$r" = '{"id":"x1","customer_id":"web-test","ignored":true}
 200' ] && ok || bad "$rules: duplicate: $r"
	r=$(curl -s -w ' %{http_code}' -X POST -d '{"id":"x2","customer_id":"c","load_amount":"5","time":"2000-01-03T00:00:00Z"}' "$url/v1/loads")
	[ "$r" = '{"code":3,"message":"bad_amount","details":[]} 400' ] && ok || bad "$rules: invalid: $r"
	# 4. stop: the web group first, then the workers; every process gone
	pids=$(status_json | /usr/bin/python3 -c '
import json, sys
print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["workers"]))')
	"$cli" stop --control "$sock" >"$tmp/$rules.stop" 2>&1 && ok || bad "$rules: stop: $(cat "$tmp/$rules.stop")"
	/usr/bin/python3 - "$tmp/$rules.stop" <<'PY' && ok || bad "$rules: stop events: $(cat "$tmp/$rules.stop")"
import json, sys
r = json.load(open(sys.argv[1]))
ev = sorted((e["group"], e["mode"]) for e in r["stop_events"])
assert ev == [("fundload", "graceful"), ("web", "graceful")], ev
assert all(w["last_exit_status"] == 0 for w in r["workers"]), r["workers"]
PY
	wait_for 15 eval '! kill -0 "$spid" 2>/dev/null' && ok || bad "$rules: fundload-serve still running"
	spid=
	for p in $pids; do kill -0 "$p" 2>/dev/null && bad "$rules: process $p alive" || ok; done
done
# 5. a worker SIGKILLed during a batch: the stream holds the reference's
#    first decisions, then at most one error line (UNAVAILABLE), never a
#    wrong or duplicated decision; the worker comes back (generation 2) and
#    the web processes, not restarted, call it on its new port
rules=baseline
sock="$tmp/kill.sock"
sed "s#$tmp/baseline.sock#$sock#" "$tmp/baseline.yaml" >"$tmp/kill.yaml"
chmod 600 "$tmp/kill.yaml"
"$serve" --config "$tmp/kill.yaml" >"$tmp/kill.out" 2>"$tmp/kill.err" &
spid=$!
if wait_for 40 web_ready && wait_for 20 healthz; then
	fpid() { status_json | /usr/bin/python3 -c '
import json, sys
for w in json.load(sys.stdin)["workers"]:
    if w["group"] == sys.argv[1] and w["index"] == int(sys.argv[2]):
        print(w[sys.argv[3]])' "$@"; }
	w0=$(fpid web 0 pid)
	w1=$(fpid web 1 pid)
	k=$(fpid fundload 0 pid)
	"$gen" 9 40000 >"$tmp/kill.jsonl"
	"$ref" --rules baseline "$tmp/kill.jsonl" >"$tmp/kill.ref" 2>/dev/null
	curl -s -o "$tmp/kill.http" -w '%{http_code}' -X POST \
	    --data-binary @"$tmp/kill.jsonl" "$url/v1/loads:batch" >"$tmp/kill.code" &
	cpid=$!
	# once the stream has begun (decisions written): mid-batch
	streaming() { [ -s "$tmp/kill.http" ]; }
	wait_for 20 streaming
	kill -KILL "$k"
	wait "$cpid"
	[ "$(cat "$tmp/kill.code")" = 200 ] && ok || bad "kill: batch HTTP $(cat "$tmp/kill.code")"
	/usr/bin/python3 - "$tmp/kill.ref" "$tmp/kill.http" <<'PY' && ok || bad "kill: the stream is not a prefix of the reference: $(tail -c 300 "$tmp/kill.http")"
import sys
ref = open(sys.argv[1], "rb").read().splitlines(True)
got = open(sys.argv[2], "rb").read().splitlines(True)
if got and got[-1].startswith(b'{"error":'):
    assert got[-1].startswith(b'{"error":{"code":14,'), got[-1]
    got = got[:-1]
    print(f"kill: {len(got)} decisions of {len(ref)}, then UNAVAILABLE", file=sys.stderr)
else:
    print(f"kill: the batch ended before the kill ({len(got)} decisions)", file=sys.stderr)
assert got == ref[:len(got)]
PY
	gen2() { [ "$(fpid fundload 0 generation)" = 2 ] && [ "$(fpid fundload 0 state)" = ready ]; }
	wait_for 20 gen2 && ok || bad "kill: fundload[0] not back with generation 2"
	# new customers (both workers, both web processes): every one decided
	codes=
	for i in $(seq 20); do
		codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -X POST -d \
		    "{\"id\":\"k$i\",\"customer_id\":\"after-kill-$i\",\"load_amount\":\"\$1.00\",\"time\":\"2001-01-01T00:00:00Z\"}" \
		    "$url/v1/loads")"
	done
	[ "$codes" = "$(printf ' 200%.0s' $(seq 20))" ] && ok || bad "kill: after the restart:$codes"
	[ "$(fpid web 0 pid)" = "$w0" ] && [ "$(fpid web 1 pid)" = "$w1" ] && ok ||
	    bad "kill: a web process was restarted"
	"$cli" stop --control "$sock" >/dev/null 2>&1 && ok || bad "kill: stop"
	wait_for 15 eval '! kill -0 "$spid" 2>/dev/null' && ok || bad "kill: still running"
	spid=
else
	bad "kill: not ready: $(tail -n 5 "$tmp/kill.err")"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
