#!/usr/bin/env bash
# supervisor/web_ingress: a web process group (role: ingress) of 2 C web
# processes (web_prog.c, xr_ingress_from_bootstrap()) beside an echo
# execution group of 2, under execrpc-supervisor (docs/supervisor.md "Web
# process groups"):
#  - the web processes get their keys from fd 3 and make signed calls to
#    both workers (exact replies);
#  - a worker SIGKILLed and restarted: they learn its new port and
#    generation from fd 4 without restarting, and calls to it succeed again;
#  - `execrpc stop`: the web processes stop first (a call made while
#    draining still succeeds: the workers serve until the web group is
#    done), exit 0, then the workers; one stop event per group;
#  - the inline secret (a canary) is in no web process's cmdline, environ,
#    nor in any log.
# WEB-GRP-01 (1), WEB-GRP-02 (2), WEB-GRP-04 (3, 5), WEB-GRP-03 (4).
# Usage: web_ingress.sh SUPERVISOR EXECRPC WEB_PROG
set -u
sup=${1:?usage: web_ingress.sh SUPERVISOR EXECRPC WEB_PROG}
cli=${2:?}
web=${3:?}
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

canary="CANARY-web-ingress-0123456789abcdef-not-for-web"
sock="$tmp/run/control.sock"
mkdir -p "$tmp/rep"
cat >"$tmp/cfg.yaml" <<EOF2
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
      auth:
        secret_mode: static
        secret: "$canary"
    bootstrap:
      mode: process_supervisor
    lifecycle:
      graceful_timeout_seconds: 10
    control:
      socket: $sock
    process_groups:
      - name: echo
        workers: 2
        services: [echo.v1.Echo]
      - name: web
        role: ingress
        workers: 2
        command: [$web, $tmp/rep]
EOF2
chmod 600 "$tmp/cfg.yaml"

# wait_for SECONDS COMMAND...: until COMMAND succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# status_field GROUP INDEX FIELD: from `execrpc status`
status_field() {
	"$cli" status --control "$sock" | /usr/bin/python3 -c '
import json, sys
for w in json.load(sys.stdin)["workers"]:
    if w["group"] == sys.argv[1] and w["index"] == int(sys.argv[2]):
        print(w.get(sys.argv[3], ""))' "$@"
}
# ok_from LOG PID: a reply from worker PID logged after the mark (if any)
ok_from() { awk '/^mark$/ { s = 1 } !m || s' m="$(grep -c '^mark$' "$1")" "$1" |
    grep -q "^ok .* pid $2\$"; }
lines() { [ "$(grep -c "$1" "$2" 2>/dev/null)" = "$3" ]; }

"$sup" --config "$tmp/cfg.yaml" >"$tmp/sup.out" 2>"$tmp/sup.err" &
spid=$!
wait_for 20 lines '^worker ' "$tmp/sup.out" 4 ||
	{ cat "$tmp/sup.out" "$tmp/sup.err" >&2; exit 1; }
e0=$(status_field echo 0 pid)
e1=$(status_field echo 1 pid)
w0=$(status_field web 0 pid)
w1=$(status_field web 1 pid)
[ "$(status_field web 0 role)" = ingress ] && [ "$(status_field web 1 state)" = ready ] &&
    [ -z "$(status_field echo 0 role)" ] && ok || bad "status: web role/state"

# 1. both web processes reach both workers, exact replies
for i in 0 1; do
	f=$tmp/rep/web$i.log
	wait_for 20 ok_from "$f" "$e0" && wait_for 20 ok_from "$f" "$e1" &&
	    ok || bad "web$i: no reply from both workers: $(tail -n 3 "$f")"
	grep -q "^ok w$i-1 pid \($e0\|$e1\)\$" "$f" && ok ||
	    bad "web$i: first reply not exact: $(grep -m1 '^ok' "$f")"
	[ "$(grep -c '^boot ' "$f")" = 1 ] && ok || bad "web$i: booted twice"
done

# 2. SIGKILL echo[0]: restarted with a new generation and port; the web
#    processes follow without a restart of their own
port0=$(status_field echo 0 port)
for i in 0 1; do echo mark >>"$tmp/rep/web$i.log"; done
kill -KILL "$e0"
gen2() { [ "$(status_field echo 0 generation)" = 2 ] &&
    [ "$(status_field echo 0 state)" = ready ]; }
wait_for 20 gen2 || bad "echo[0] not back with generation 2"
n0=$(status_field echo 0 pid)
nport=$(status_field echo 0 port)
for i in 0 1; do
	f=$tmp/rep/web$i.log
	wait_for 20 ok_from "$f" "$n0" && ok ||
	    bad "web$i: no reply from the restarted worker $n0"
	grep -q "^update echo 0 state 2 gen 2 port $nport\$" "$f" && ok ||
	    bad "web$i: no update to generation 2 port $nport (was $port0)"
	# the calls in flight on the dead one failed UNAVAILABLE, none other
	if grep '^err' "$f" | grep -qv '^err 14 '; then
		bad "web$i: an error other than UNAVAILABLE: $(grep '^err' "$f" | grep -v '^err 14 ' | head -1)"
	else ok; fi
	[ "$(grep -c '^boot ' "$f")" = 1 ] && ok || bad "web$i: restarted"
done
[ "$(status_field web 0 pid)" = "$w0" ] && [ "$(status_field web 1 pid)" = "$w1" ] &&
    [ "$(status_field web 0 restarts)" = 0 ] && ok || bad "a web process was restarted"

# 3. no canary in the web processes' cmdline or environ. They are not
#    dumpable (they hold keys): /proc/PID/environ is root's then, so each
#    logs its own environment at boot
for i in 0 1; do
	eval p=\$w$i
	f=$tmp/rep/web$i.log
	tr '\0' '\n' <"/proc/$p/cmdline" >"$tmp/cmdline"
	tr '\0' '\n' <"/proc/$p/environ" >"$tmp/environ" 2>/dev/null ||
	    : >"$tmp/environ"
	grep -q "web_prog" "$tmp/cmdline" && ok || bad "cmdline of $p unreadable"
	if grep -q "$canary" "$tmp/cmdline" "$tmp/environ"; then
		bad "canary in /proc/$p"; else ok; fi
	[ "$(grep '^env ' "$f")" = "env PATH=/usr/local/bin:/usr/bin:/bin" ] &&
	    ok || bad "environ of $p: $(grep '^env ' "$f")"
	grep -qx "dumpable 0" "$f" && ok || bad "web$i is dumpable"
done

# 4. stop: web first (its last call, made while draining, succeeds), then
#    the workers; one stop event per group; every process gone
"$cli" stop --control "$sock" >"$tmp/stop.json" 2>"$tmp/stop.err"
rc=$?
[ "$rc" = 0 ] && ok || bad "stop: rc=$rc $(cat "$tmp/stop.err")"
/usr/bin/python3 - "$tmp/stop.json" <<'PY' && ok || bad "stop events: $(cat "$tmp/stop.json")"
import json, sys
r = json.load(open(sys.argv[1]))
ev = sorted((e["group"], e["mode"]) for e in r["stop_events"])
assert ev == [("echo", "graceful"), ("web", "graceful")], ev
assert all(w["state"] == "stopped" and w["pid"] == 0 for w in r["workers"])
assert all(w["last_exit_status"] == 0 for w in r["workers"])
PY
wait_for 10 eval '! kill -0 "$spid" 2>/dev/null' && ok || bad "supervisor still running"
spid=
[ "$(grep '^stop ' "$tmp/sup.out")" = "stop web graceful
stop echo graceful" ] && ok || bad "stop lines: $(grep '^stop ' "$tmp/sup.out")"
for i in 0 1; do
	f=$tmp/rep/web$i.log
	# after STOP: the calls in flight finish (ok), then the last one
	# (made while draining) succeeds, then STOPPED
	sed -n '/^stop drain 1$/,$p' "$f" >"$tmp/after"
	[ "$(head -n 1 "$tmp/after")" = "stop drain 1" ] &&
	    [ "$(tail -n 1 "$tmp/after")" = stopped ] &&
	    grep -qx "last ok last pid \($e1\|$n0\)" "$tmp/after" &&
	    [ "$(grep -cv '^ok w' "$tmp/after")" = 3 ] && ok ||
	    bad "web$i: stop sequence: $(tail -n 3 "$f")"
done
for p in "$e1" "$n0" "$w0" "$w1"; do
	kill -0 "$p" 2>/dev/null && bad "process $p still alive" || ok
done

# 5. the canary in no log
if grep -q "$canary" "$tmp/sup.out" "$tmp/sup.err" "$tmp"/rep/*.log \
    "$tmp/stop.json"; then bad "canary in a log"; else ok; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
