#!/usr/bin/env bash
# bench/bench_web.sh — POST /v1/loads through the FastAPI web group against
# the C ingress calling the same workers directly, in one run
# (docs/web.md "Figures"). Prints figures; asserts nothing about time.
#
#   bench/bench_web.sh [--build DIR] [--requests N] [--conns C]
#                      [--batch-lines L] [--smoke]
#
# One fundload-serve (a generated secret) supervises
#   fundload  2 fund-load workers (baseline rules),
#   web       2 uvicorn processes of examples/fundload_web (one port),
#   cweb      1 `fundload --from-bootstrap --window C --batch 1` process
#             (apps/fundload/web.c), its INPUT a FIFO the script feeds.
# Then, on the same workers:
#   1. http:   N loads (generated, valid, ids "h…"), each one `POST
#              /v1/loads`, from bench/web_client.py with C connections, one
#              request in flight on each (after a warm-up of 200);
#   2. c:      the same N loads (ids "c…") through the C web process, one
#              load per DecideBatch call, C calls in flight;
#   3. batch:  L loads (ids "b…") in one `POST /v1/loads:batch` (curl).
# For each: wall time, rate, and the CPU time every process of the run
# spent (workers, web processes, client; from /proc/PID/task/*/schedstat
# and the client's own clock), per load: a figure the machine's load
# changes far less than the rates.
# Defaults: N 4000, C 16, L 40000; --smoke: N 200, C 4, L 500.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=$src/build
n=4000 conns=16 blines=40000
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--requests) n=$2; shift 2 ;;
	--conns) conns=$2; shift 2 ;;
	--batch-lines) blines=$2; shift 2 ;;
	--smoke) n=200 conns=4 blines=500; shift ;;
	*) echo "usage: $0 [--build DIR] [--requests N] [--conns C] [--batch-lines L] [--smoke]" >&2; exit 64 ;;
	esac
done
build=$(cd "$build" && pwd)
py=/usr/bin/python3
fundload=$build/apps/fundload/fundload
serve=$build/tests/python/fundload-serve
cli=$build/apps/execrpc/execrpc
gen=$build/tests/fundload/fundload_gen_input
ref=$build/tests/fundload/fundload_ref
site=$build/tests/python/site
for f in "$fundload" "$serve" "$cli" "$gen" "$ref"; do
	[ -x "$f" ] || { echo "$0: $f missing (build the project first)" >&2; exit 1; }
done
[ -d "$site/execrpc" ] || { echo "$0: $site missing (target python_site)" >&2; exit 1; }

tmp=$(mktemp -d)
spid=
cleanup() {
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "$0: $*" >&2; [ -f "$tmp/serve.err" ] && tail -n 5 "$tmp/serve.err" >&2; exit 1; }
wait_for() {	# wait_for SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# inputs: valid lines only (fundload_ref's diagnostics name the invalid
# ones), ids prefixed per path so that no path sees another's ids
valid() {	# valid SEED LINES OUT
	"$gen" "$1" "$2" >"$tmp/raw"
	LC_ALL=C "$ref" "$tmp/raw" 2>&1 >/dev/null | sed -n 's/^fundload: line \([0-9]*\):.*/\1d/p' >"$tmp/raw.sed"
	LC_ALL=C sed -f "$tmp/raw.sed" "$tmp/raw" >"$3"
}
valid 31 $((n * 11 / 10 + 300)) "$tmp/all.jsonl"
head -n "$n" "$tmp/all.jsonl" | sed 's/"id":"/"id":"h/' >"$tmp/http.jsonl"
head -n "$n" "$tmp/all.jsonl" | sed 's/"id":"/"id":"c/' >"$tmp/c.jsonl"
tail -n 200 "$tmp/all.jsonl" | sed 's/"id":"/"id":"w/' >"$tmp/warm.jsonl"
valid 32 $((blines * 11 / 10 + 100)) "$tmp/b.all"
head -n "$blines" "$tmp/b.all" | sed 's/"id":"/"id":"b/' >"$tmp/batch.jsonl"
[ "$(wc -l <"$tmp/http.jsonl")" -eq "$n" ] && [ "$(wc -l <"$tmp/batch.jsonl")" -eq "$blines" ] ||
	die "the generator gave too few valid lines"

port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
sock=$tmp/control.sock
mkfifo -m 600 "$tmp/c.fifo"
cat >"$tmp/config.yaml" <<EOF2
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
      auth:
        secret_mode: generated
    bootstrap:
      mode: process_supervisor
    lifecycle:
      ready_timeout_seconds: 30
      graceful_timeout_seconds: 10
    control:
      socket: $sock
    process_groups:
      - name: fundload
        workers: 2
        services: [fundload.v1.FundLoad]
      - name: web
        role: ingress
        workers: 2
        command: [$py, $src/examples/fundload_web/serve.py, --site, $site, --port, "$port", --rules, baseline]
      - name: cweb
        role: ingress
        workers: 1
        restart: never
        command: [$fundload, --from-bootstrap, --rules, baseline, --window, "$conns", --batch, "1", --stats, $tmp/c.fifo, $tmp/c.out]
apps:
  fundload:
    rules: baseline
EOF2
chmod 600 "$tmp/config.yaml"
"$serve" --config "$tmp/config.yaml" >"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
status_json() { "$cli" status --control "$sock"; }
all_ready() {
	status_json 2>/dev/null | $py -c '
import json, sys
w = json.load(sys.stdin)["workers"]
sys.exit(0 if len(w) == 5 and all(x["state"] == "ready" for x in w) else 1)' 2>/dev/null
}
healthz() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; }
wait_for 60 all_ready && wait_for 30 healthz || die "the run did not start"
pids=$(status_json | $py -c '
import json, sys
print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["workers"]))')
wpids=$(status_json | $py -c '
import json, sys
print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["workers"] if w["group"] == "fundload"))')

# CPU ms of the run's processes so far (of the fund-load workers with
# `workers`): the time their threads ran, from /proc/PID/task/TID/schedstat
# (nanoseconds; finer than the 10 ms ticks of /proc/PID/stat)
cpu_ms() {
	local p=$pids
	[ "${1:-}" = workers ] && p=$wpids
	$py - $p <<'PY'
import glob, sys
t = 0
for p in sys.argv[1:]:
    for f in glob.glob("/proc/%s/task/*/schedstat" % p):
        try:
            t += int(open(f).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
print("%.3f" % (t / 1e6))
PY
}

echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg) (before)"
echo "NOTE: a loaded, shared machine (other builds and benchmarks running): the rates are noisy; cpu_ms/load is steadier"
echo "setup: 2 fund-load workers (tcp_local, baseline rules); web: 2 uvicorn processes; cweb: 1 C web process; $conns in flight"

# 0. warm-up (connections, imports, first calls)
$py "$here/web_client.py" --port "$port" --conns "$conns" "$tmp/warm.jsonl" >/dev/null || die "warm-up failed"

# 1. http
c0=$(cpu_ms) w0=$(cpu_ms workers)
$py "$here/web_client.py" --port "$port" --conns "$conns" "$tmp/http.jsonl" >"$tmp/http.res" || die "http: $(cat "$tmp/http.res")"
c1=$(cpu_ms) w1=$(cpu_ms workers)
read -r _ _ _ _ el rps ccpu <"$tmp/http.res"
el=${el#elapsed_s=}; rps=${rps#rps=}; ccpu=${ccpu#client_cpu_s=}
http_cpu=$($py -c "print('%.3f' % (($c1 - $c0 + $ccpu * 1000) / $n))")
echo "http   POST /v1/loads   loads $n  elapsed_s $el  loads_per_s $rps  cpu_ms_per_load $http_cpu (servers $($py -c "print('%.0f' % ($c1 - $c0))") ms, of which workers $($py -c "print('%.0f' % ($w1 - $w0))") ms; client ${ccpu}s)"

# 2. the C ingress directly
c0=$(cpu_ms) w0=$(cpu_ms workers)
cat "$tmp/c.jsonl" >"$tmp/c.fifo"
done_line() { grep -q '^fundload: done ' "$tmp/serve.err"; }
wait_for 120 done_line || die "cweb: no done line"
wait_for 10 grep -q '^fundload: stats ' "$tmp/serve.err"
c1=$(cpu_ms) w1=$(cpu_ms workers)
d=$(grep '^fundload: done ' "$tmp/serve.err")
case $d in *"status=0 lines=$n "*) ;; *) die "cweb: $d" ;; esac
cms=$(sed -n 's/.* elapsed_ms=\([0-9]*\).*/\1/p' <<<"$d")
crate=$($py -c "print('%.1f' % ($n / max($cms, 1) * 1000))")
c_cpu=$($py -c "print('%.3f' % (($c1 - $c0) / $n))")
calls=$(sed -n 's/^fundload: stats .* calls=\([0-9]*\) .*/\1/p' "$tmp/serve.err")
max_inflight=$(sed -n 's/^fundload: stats .* max_inflight=\([0-9]*\) .*/\1/p' "$tmp/serve.err")
echo "c      C ingress direct loads $n  elapsed_s $($py -c "print('%.3f' % ($cms / 1000))")  loads_per_s $crate  cpu_ms_per_load $c_cpu (workers $($py -c "print('%.0f' % ($w1 - $w0))") ms; DecideBatch calls $calls, max in flight $max_inflight)"
[ "$(wc -l <"$tmp/c.out")" -gt 0 ] || die "cweb: no decisions"

# 3. batch
c0=$(cpu_ms)
bt=$(curl -s -o "$tmp/batch.out" -w '%{http_code} %{time_total}' -X POST --data-binary @"$tmp/batch.jsonl" "$url/v1/loads:batch")
c1=$(cpu_ms)
[ "${bt%% *}" = 200 ] || die "batch: HTTP ${bt%% *}"
bts=${bt#* }
grep -q '"error"' "$tmp/batch.out" && die "batch: $(grep '"error"' "$tmp/batch.out" | head -n 1)"
echo "batch  POST /v1/loads:batch lines $blines  elapsed_s $($py -c "print('%.3f' % $bts)")  lines_per_s $($py -c "print('%.1f' % ($blines / $bts))")  cpu_ms_per_load $($py -c "print('%.3f' % (($c1 - $c0) / $blines))") (servers; curl not counted)"

echo "ratio  c/http loads_per_s $($py -c "print('%.1f' % ($crate / $rps))")  http/c cpu_ms_per_load $($py -c "print('%.1f' % ($http_cpu / max($c_cpu, 0.001)))")"
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) (after)"
"$cli" stop --control "$sock" >"$tmp/stop.out" 2>&1 || die "stop: $(cat "$tmp/stop.out")"
wait "$spid" || die "fundload-serve exit $?"
spid=
