#!/usr/bin/env bash
# fundload/web_parity — the fund-load ingress in a web process group
# (`fundload --from-bootstrap`, apps/fundload/web.c, docs/fundload.md "In a
# web process group"): fundload-serve supervises 2 fund-load workers and a
# web group of 1 C process that gets its keys and the workers' endpoints
# from fd 3/fd 4 (xr_ingress_from_bootstrap) and streams a generated input
# (>= 10,000 lines, with invalid lines, duplicates and prime-id bursts)
# through them, each load on the worker its customer_id picks. For each
# rule set (and the experiment rules again with a window of 8 and one load
# per call, which makes the prime coordination wait more):
#  1. the web process reports "done status=65" (the input has invalid
#     lines) with the profile tcp_local/web_ingress and 2 workers;
#  2. its OUTPUT equals fundload_ref's byte for byte;
#  3. both workers decided loads; the web process stayed up (READY);
#  4. `execrpc stop`: both groups graceful, every process exits 0;
# and a worker SIGKILLed mid-run (kill_run below): done status=6, OUTPUT a
# proper prefix of the reference.
# A run that does not start, or never reports done, FAILS the test.
#
# usage: web_parity.sh FUNDLOAD FUNDLOAD_SERVE EXECRPC FUNDLOAD_REF GEN_INPUT [LINES]
set -u
fundload=$(realpath "${1:?usage: web_parity.sh FUNDLOAD FUNDLOAD_SERVE EXECRPC FUNDLOAD_REF GEN_INPUT [LINES]}")
serve=${2:?}
cli=${3:?}
ref=${4:?}
gen=${5:?}
lines=${6:-12000}
py=/usr/bin/python3
tmp=$(mktemp -d)
spid=
cleanup() {
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*" >&2; }
wait_for() {	# wait_for SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

"$gen" 20240101 "$lines" >"$tmp/input.jsonl" || { echo "generator failed" >&2; exit 1; }
[ "$(wc -l <"$tmp/input.jsonl")" -ge 10000 ] || { echo "input too short" >&2; exit 1; }

# config NAME RULES INPUT [fundload options...]: $tmp/NAME.yaml, the web
# process's OUTPUT $tmp/NAME.out
config() {
	local name=$1 rules=$2 input=$3 opts=""
	shift 3
	for o in "$@"; do opts="$opts, \"$o\""; done
	cat >"$tmp/$name.yaml" <<EOF2
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
    bootstrap:
      mode: process_supervisor
    lifecycle:
      ready_timeout_seconds: 30
      graceful_timeout_seconds: 10
    control:
      socket: $tmp/$name.sock
    process_groups:
      - name: fundload
        workers: 2
        services: [fundload.v1.FundLoad]
      - name: web
        role: ingress
        workers: 1
        restart: never
        command: ["$fundload", "--from-bootstrap", "--rules", "$rules", "--stats"$opts, "$input", "$tmp/$name.out"]
apps:
  fundload:
    rules: $rules
EOF2
	chmod 600 "$tmp/$name.yaml"
}

# run NAME RULES [fundload options...]
run() {
	local name=$1 rules=$2 sock="$tmp/$1.sock" out="$tmp/$1.out" err="$tmp/$1.err"
	shift 2
	config "$name" "$rules" "$tmp/input.jsonl" "$@"
	"$serve" --config "$tmp/$name.yaml" >"$tmp/$name.serve" 2>"$err" &
	spid=$!
	# done, or fundload-serve gone (then the wait ends at once)
	done_line() { grep -q '^fundload: done ' "$err" || ! kill -0 "$spid" 2>/dev/null; }
	wait_for 60 done_line
	if ! grep -q '^fundload: done ' "$err"; then
		bad "$name: the web process never reported done: $(tail -n 5 "$err")"
		kill -KILL "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; spid=
		return
	fi
	ok
	# 1. its status and stats
	grep -q '^fundload: done status=65 lines='"$lines"' invalid=' "$err" && ok ||
	    bad "$name: $(grep '^fundload: done' "$err") (want status=65 lines=$lines)"
	wait_for 10 grep -q '^fundload: stats ' "$err"
	grep -q '^fundload: stats profile=tcp_local/web_ingress workers=2 rules='"$rules"' ' "$err" && ok ||
	    bad "$name: stats: $(grep '^fundload: stats' "$err")"
	# 2. byte for byte
	if [ "$(wc -l <"$tmp/$rules.ref")" -gt 5000 ] && cmp -s "$tmp/$rules.ref" "$out"; then ok; else
		bad "$name: OUTPUT differs from fundload_ref: $(diff "$tmp/$rules.ref" "$out" | head -n 4)"
	fi
	# 3. both workers called; the web process still up
	"$cli" stats --control "$sock" >"$tmp/$name.stats" 2>&1
	"$py" - "$tmp/$name.stats" <<'PY' && ok || bad "$name: workers: $(cat "$tmp/$name.stats")"
import json, sys
w = json.load(open(sys.argv[1]))["workers"]
f = [x for x in w if x["group"] == "fundload"]
web = [x for x in w if x["group"] == "web"]
assert len(f) == 2 and all(int(x.get("calls", 0)) > 0 for x in f), f
assert len(web) == 1 and web[0]["state"] == "ready", web
PY
	pids=$("$cli" status --control "$sock" | "$py" -c '
import json, sys
print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["workers"]))')
	# 4. stop: web group first, then the workers, graceful, all gone
	"$cli" stop --control "$sock" >"$tmp/$name.stop" 2>&1 && ok || bad "$name: stop: $(cat "$tmp/$name.stop")"
	"$py" - "$tmp/$name.stop" <<'PY' && ok || bad "$name: stop events: $(cat "$tmp/$name.stop")"
import json, sys
r = json.load(open(sys.argv[1]))
ev = sorted((e["group"], e["mode"]) for e in r["stop_events"])
assert ev == [("fundload", "graceful"), ("web", "graceful")], ev
assert all(w["last_exit_status"] == 0 for w in r["workers"]), r["workers"]
PY
	wait_for 15 eval '! kill -0 "$spid" 2>/dev/null' && ok || bad "$name: fundload-serve still running"
	wait "$spid" 2>/dev/null
	spid=
	for p in $pids; do kill -0 "$p" 2>/dev/null && bad "$name: process $p alive" || ok; done
}

for rules in baseline experiment; do
	"$ref" --rules "$rules" "$tmp/input.jsonl" >"$tmp/$rules.ref" 2>/dev/null
	[ $? -eq 65 ] || bad "fundload_ref $rules: not exit 65"
done
# A worker SIGKILLed during the run (INPUT a FIFO: 6000 lines, then the
# rest only after the kill): the run ends with worker_failed (done
# status=6) without hanging, OUTPUT is a proper prefix of the reference
# (never a wrong or duplicated decision), and the stop still works.
kill_run() {
	local name=kill sock="$tmp/kill.sock" err="$tmp/kill.err" out="$tmp/kill.out"
	mkfifo -m 600 "$tmp/kill.fifo"
	config kill baseline "$tmp/kill.fifo"
	"$serve" --config "$tmp/kill.yaml" >"$tmp/kill.serve" 2>"$err" &
	spid=$!
	{ head -n 6000 "$tmp/input.jsonl"
	  while [ ! -e "$tmp/kill.go" ]; do sleep 0.1; done
	  tail -n +6001 "$tmp/input.jsonl"; } >"$tmp/kill.fifo" 2>/dev/null &
	local wpid=$!
	half() { [ -f "$out" ] && [ "$(wc -l <"$out")" -ge 5000 ]; }
	if ! wait_for 60 half; then
		bad "kill: the first 6000 lines were not decided: $(tail -n 3 "$err")"
	else
		local k
		k=$("$cli" status --control "$sock" | "$py" -c '
import json, sys
print([w["pid"] for w in json.load(sys.stdin)["workers"] if w["group"] == "fundload"][0])')
		kill -KILL "$k"
		touch "$tmp/kill.go"
		done_line() { grep -q '^fundload: done ' "$err"; }
		wait_for 60 done_line && ok || bad "kill: no done line: $(tail -n 3 "$err")"
		grep -q '^fundload: done status=6 ' "$err" && ok ||
		    bad "kill: $(grep '^fundload: done' "$err") (want status=6)"
		grep -q '^fundload: worker_failed (code -32): ' "$err" && ok ||
		    bad "kill: no worker_failed diagnostic: $(grep -v ': line ' "$err" | tail -n 3)"
		local n
		n=$(stat -c %s "$out")
		if [ "$n" -gt 0 ] && [ "$n" -lt "$(stat -c %s "$tmp/baseline.ref")" ] &&
		    cmp -s -n "$n" "$out" "$tmp/baseline.ref" && [ "$(tail -c 1 "$out" | od -An -c | tr -d ' ')" = '\n' ]; then
			ok
		else
			bad "kill: OUTPUT ($n bytes) is not a proper prefix of the reference"
		fi
	fi
	"$cli" stop --control "$sock" >/dev/null 2>&1 && ok || bad "kill: stop"
	wait_for 15 eval '! kill -0 "$spid" 2>/dev/null' && ok || bad "kill: fundload-serve still running"
	kill -KILL "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
	spid=
	kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
}

run baseline baseline
run experiment experiment
run experiment_w8 experiment --window 8 --batch 1
kill_run
echo "web_parity: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
