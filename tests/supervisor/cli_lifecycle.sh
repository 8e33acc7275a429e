#!/usr/bin/env bash
# supervisor/cli_lifecycle: execrpc-supervisor driven by the execrpc CLI
# through the control socket (BOOT-API-01 end to end; STOP-IPC-03 events;
# exit statuses of docs/design.md section 8).
# Usage: cli_lifecycle.sh PATH/TO/execrpc-supervisor PATH/TO/execrpc
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
sup=${1:?usage: cli_lifecycle.sh SUPERVISOR EXECRPC}
cli=${2:?usage: cli_lifecycle.sh SUPERVISOR EXECRPC}
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

# run ARGS...: sets rc, out, err
run() {
	"$cli" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# json EXPR: evaluate a Python expression over the JSON in $out as `j`
json() {
	python3 -c "import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if ($1) else 1)" "$out"
}

sock="$tmp/run/control.sock"
write_config "$tmp/cfg.yaml" transport=tcp_local mode=process_supervisor \
	graceful_timeout_seconds=5 socket="$sock" \
	group=alpha:2:echo.v1.Echo group=beta:1:echo.v1.Echo

# start SUPERVISOR in the background; wait for its 3 worker lines
start() {
	"$sup" --config "$tmp/cfg.yaml" >"$tmp/sup.out" 2>"$tmp/sup.err" &
	spid=$!
	for _ in $(seq 1 200); do
		[ "$(grep -c '^worker ' "$tmp/sup.out" 2>/dev/null)" = 3 ] && return 0
		sleep 0.05
	done
	echo "supervisor did not come up:" >&2
	cat "$tmp/sup.out" "$tmp/sup.err" >&2
	return 1
}

# wait_exit: wait for the supervisor, sets src
wait_exit() {
	wait "$spid"
	src=$?
	spid=
}

# --- no supervisor yet: lifecycle_not_ready (5)
run status --control "$sock"
[ "$rc" = 5 ] && ok || bad "status without supervisor: rc=$rc"
echo "$err" | grep -q 'lifecycle_not_ready' && ok || bad "status without supervisor: $err"

# --- usage
run status
[ "$rc" = 64 ] && ok || bad "status without --control: rc=$rc"
run stop --graceful-timeout x --control "$sock"
[ "$rc" = 64 ] && ok || bad "stop with a bad timeout: rc=$rc"

start || exit 1
grep -Eq '^worker alpha 0 pid [0-9]+ port [0-9]+$' "$tmp/sup.out" && ok || bad "worker line: $(cat "$tmp/sup.out")"
[ "$(stat -c %a "$sock")" = 600 ] && ok || bad "socket mode $(stat -c %a "$sock")"
[ "$(stat -c %a "$tmp/run")" = 700 ] && ok || bad "socket dir mode"

# --- status: exact fields, sorted keys
run status --control "$sock"
[ "$rc" = 0 ] && ok || bad "status rc=$rc $err"
json 'len(j["workers"]) == 3 and j["stop_events"] == []' && ok || bad "status: $out"
json '[(w["group"], w["index"], w["state"], w["restarts"], w["generation"]) for w in j["workers"]] == [("alpha",0,"ready",0,1),("alpha",1,"ready",0,1),("beta",0,"ready",0,1)]' && ok || bad "status fields: $out"
pid0=$(awk '$2=="alpha" && $3==0 {print $5}' "$tmp/sup.out")
port0=$(awk '$2=="alpha" && $3==0 {print $7}' "$tmp/sup.out")
json "j['workers'][0]['pid'] == $pid0 and j['workers'][0]['port'] == $port0" && ok || bad "status pid/port: $out"
case "$out" in '{"stop_events":[],"workers":[{"generation":1,"group":"alpha","index":0,"last_exit_status":-1,"last_signal":0,"pid":'*) ok ;; *) bad "status key order: $out" ;; esac

# --- stats: counters from every worker (asked over the worker channel: no
# call counted), the reject keys named after xr_reject
run stats --control "$sock"
[ "$rc" = 0 ] && ok || bad "stats rc=$rc $err"
json 'all(w["stats"] == "answered" and w["calls"] == 0 and w["calls_failed"] == 0 for w in j["workers"])' && ok || bad "stats: $out"
json 'all(w["rejects"] == {"oversized":0,"bad_signature":0,"malformed":0,"kind_not_allowed":0,"expired":0,"replay":0} for w in j["workers"])' && ok || bad "stats rejects: $out"

# --- a crashed worker comes back (restart: on-failure is the default)
kill -KILL "$pid0"
for _ in $(seq 1 100); do
	run status --control "$sock"
	json 'j["workers"][0]["restarts"] == 1 and j["workers"][0]["state"] == "ready"' && break
	sleep 0.05
done
json 'j["workers"][0]["restarts"] == 1 and j["workers"][0]["last_signal"] == 9' && ok || bad "restart: $out"
json 'j["workers"][0]["generation"] == 2 and j["workers"][1]["generation"] == 1' && ok || bad "restart: a new generation: $out"
[ "$(grep -c '^worker alpha 0 ' "$tmp/sup.out")" = 2 ] && ok || bad "no worker line after the restart"

# --- drain: workers stay up, draining
run drain --control "$sock"
[ "$rc" = 0 ] && ok || bad "drain rc=$rc $err"
json 'all(w["state"] == "draining" for w in j["workers"])' && ok || bad "drain: $out"

# --- stop: graceful, one event per group, the supervisor exits 0
run stop --graceful-timeout 3 --control "$sock"
[ "$rc" = 0 ] && ok || bad "stop rc=$rc $err"
json 'j["stop_events"] == [{"group":"alpha","mode":"graceful"},{"group":"beta","mode":"graceful"}]' && ok || bad "stop events: $out"
json 'all(w["state"] == "stopped" and w["pid"] == 0 and w["last_exit_status"] == 0 for w in j["workers"])' && ok || bad "stop workers: $out"
wait_exit
[ "$src" = 0 ] && ok || bad "supervisor exit $src: $(cat "$tmp/sup.err")"
[ "$(grep -c '^stop ' "$tmp/sup.out")" = 2 ] && grep -q '^stop alpha graceful$' "$tmp/sup.out" && ok || bad "stop lines: $(cat "$tmp/sup.out")"
[ ! -e "$sock" ] && ok || bad "socket left behind"

# --- SIGTERM: a graceful stop with the configured policy
start || exit 1
pids=$(awk '/^worker / {print $5}' "$tmp/sup.out")
kill -TERM "$spid"
wait_exit
[ "$src" = 0 ] && ok || bad "SIGTERM exit $src"
grep -q '^stop beta graceful$' "$tmp/sup.out" && ok || bad "SIGTERM stop lines: $(cat "$tmp/sup.out")"
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=1; done
[ "$left" = 0 ] && ok || bad "workers left after SIGTERM"

# --- a config that is not process_supervisor: config_invalid (2)
write_config "$tmp/inline.yaml" mode=inline
"$sup" --config "$tmp/inline.yaml" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && ok || bad "inline config: rc=$rc"

echo "supervisor/cli_lifecycle: $pass passed, $fail failed"
[ "$fail" = 0 ]
