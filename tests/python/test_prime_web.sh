#!/usr/bin/env bash
# python/prime_web: the cross-customer prime rule across web processes
# (docs/web.md, docs/fundload.md "Web processes: the prime slot across
# ingresses"). fundload-serve with 2 fund-load workers (experiment rules)
# and a web group of 2 processes of examples/fundload_web/app.py, each on
# a port of its own (tests/python/prime_web.py, announced in READY and
# read from `execrpc status`); tests/python/prime_rounds.py sends prime-id
# loads of the same day through both at once and checks that each day's
# slot is taken exactly once. Then `execrpc stop`: graceful, every
# process gone.
# Usage: test_prime_web.sh SERVE EXECRPC SITE SRC [ROUNDS]
set -u
serve=${1:?usage: test_prime_web.sh SERVE EXECRPC SITE SRC [ROUNDS]}
cli=${2:?}
site=${3:?}
src=${4:?}
rounds=${5:-200}
tmp=$(mktemp -d)
spid=
cleanup() {
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
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
sock="$tmp/ctl.sock"
# the web processes' ports once all 4 processes are ready, else nothing
web_ports() {
	"$cli" status --control "$sock" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
w = json.load(sys.stdin)["workers"]
web = sorted((x["index"], x["port"]) for x in w if x["group"] == "web")
if len(w) == 4 and all(x["state"] == "ready" for x in w) and all(p for _, p in web):
    print(" ".join(str(p) for _, p in web))'
}
have_ports() { ports=$(web_ports); [ -n "$ports" ]; }
cat >"$tmp/prime.yaml" <<EOF2
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
    bootstrap:
      mode: process_supervisor
    lifecycle:
      graceful_timeout_seconds: 10
      ready_timeout_seconds: 40
    control:
      socket: $sock
    process_groups:
      - name: fundload
        workers: 2
        services: [fundload.v1.FundLoad]
      - name: web
        role: ingress
        workers: 2
        command: [/usr/bin/python3, $src/tests/python/prime_web.py, --site, $site, --app, $src/examples/fundload_web, --rules, experiment]
apps:
  fundload:
    rules: experiment
EOF2
chmod 600 "$tmp/prime.yaml"
"$serve" --config "$tmp/prime.yaml" >"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
ports=
if ! wait_for 60 have_ports; then
	echo "FAIL: not ready: $(tail -n 5 "$tmp/serve.err")" >&2
	exit 1
fi
read -r pa pb <<<"$ports"
healthz() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/healthz")" = 200 ]; }
wait_for 20 healthz "$pa" && wait_for 20 healthz "$pb" || bad "healthz"
/usr/bin/python3 -B "$src/tests/python/prime_rounds.py" "http://127.0.0.1:$pa" \
    "http://127.0.0.1:$pb" "$rounds" || bad "prime rounds (web log: $(tail -n 5 "$tmp/serve.err"))"
"$cli" stop --control "$sock" >"$tmp/stop" 2>&1 || bad "stop: $(cat "$tmp/stop")"
/usr/bin/python3 - "$tmp/stop" <<'PY' || bad "stop events: $(cat "$tmp/stop")"
import json, sys
r = json.load(open(sys.argv[1]))
ev = sorted((e["group"], e["mode"]) for e in r["stop_events"])
assert ev == [("fundload", "graceful"), ("web", "graceful")], ev
assert all(w["last_exit_status"] == 0 for w in r["workers"]), r["workers"]
PY
wait_for 15 eval '! kill -0 "$spid" 2>/dev/null' || bad "fundload-serve still running"
spid=
echo "prime_web: $fail failed"
[ "$fail" -eq 0 ]
