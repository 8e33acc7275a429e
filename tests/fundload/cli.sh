#!/usr/bin/env bash
# fundload/cli: arguments and exit statuses, config handling, standard
# input, streaming from a slow producer, bounded diagnostics, a worker lost
# mid-run, a closed stdout.
# usage: cli.sh FUNDLOAD GOLDEN_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
trap "" PIPE	# a write to a closed FIFO must not kill the script
export LC_ALL=C
fl=${1:?usage: cli.sh FUNDLOAD GOLDEN_DIR}
golden=${2:?}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
check() {	# check NAME CONDITION...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name" >&2; fi
}
rc_of() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
valid='{"id":"1","customer_id":"1","load_amount":"$1.00","time":"2000-01-01T00:00:00Z"}'

ps2=(transport=tcp_local mode=process_supervisor ready_timeout_seconds=20
  graceful_timeout_seconds=2 group=execution:2:fundload.v1.FundLoad:never)
write_config "$tmp/tcp.yaml" transport=tcp_local
write_config "$tmp/ps2.yaml" "${ps2[@]}"
write_config "$tmp/exp.yaml" apps.fundload.rules=experiment
write_config "$tmp/bad.yaml" transport=carrier-pigeon
write_config "$tmp/noapp.yaml" group=execution::echo.v1.Echo

# --- arguments ---
check "help exits 0" [ "$(rc_of "$fl" --help)" -eq 0 ]
check "help prints usage" grep -q '^usage: fundload' "$tmp/out"
check "help lists the services" [ "$(sed -n '/^services:$/,/^$/p' "$tmp/out")" = 'services:
  fundload.v1.FundLoad
  echo.v1.Echo' ]
check "help names the options" grep -q -- '^--rules R  *baseline or experiment' "$tmp/out"
check "unknown option: 64" [ "$(rc_of "$fl" --bogus)" -eq 64 ]
check "bad --rules: 64" [ "$(rc_of "$fl" --rules lenient)" -eq 64 ]
check "--window 0: 64" [ "$(rc_of "$fl" --window 0)" -eq 64 ]
check "--window 1025: 64" [ "$(rc_of "$fl" --window 1025)" -eq 64 ]
check "two inputs: 64" [ "$(rc_of "$fl" a b)" -eq 64 ]
check "missing input: 1" [ "$(rc_of "$fl" "$tmp/nonexistent")" -eq 1 ]
check "missing input: says so" grep -q 'nonexistent' "$tmp/err"

# --- config ---
check "invalid config: 2 (config_invalid)" [ "$(rc_of "$fl" --config "$tmp/bad.yaml" "$golden/cases.jsonl")" -eq 2 ]
check "invalid config: names the key" grep -q 'execution_ipc.transport' "$tmp/err"
check "no group serves FundLoad: 2" [ "$(rc_of "$fl" --config "$tmp/noapp.yaml" "$golden/cases.jsonl")" -eq 2 ]
# a service the program does not contain: refused before any worker starts,
# with the services it does contain
write_config "$tmp/kv.yaml" transport=tcp_local mode=process_supervisor \
  group=execution:2:fundload.v1.FundLoad,kv.v1.Kv
check "unknown service: 4 (lifecycle_resolution)" [ "$(rc_of "$fl" --config "$tmp/kv.yaml" "$golden/cases.jsonl")" -eq 4 ]
check "unknown service: names it and the contained ones" [ "$(cat "$tmp/err")" = 'fundload: lifecycle_resolution (code -30): runtime.platform.process_groups[0].services: no module provides "kv.v1.Kv" (this program contains: fundload.v1.FundLoad, echo.v1.Echo)' ]
check "unknown service: no output" [ ! -s "$tmp/out" ]
check "config selects experiment" [ "$(rc_of "$fl" --config "$tmp/exp.yaml" "$golden/cases.jsonl")" -eq 65 ]
check "config selects experiment: output" cmp -s "$tmp/out" "$golden/experiment.expected"
check "--rules overrides the config" [ "$(rc_of "$fl" --config "$tmp/exp.yaml" --rules baseline "$golden/cases.jsonl")" -eq 65 ]
check "--rules overrides the config: output" cmp -s "$tmp/out" "$golden/baseline.expected"
# apps.fundload is the module's to check: the core passes any well-formed
# section, the fund-load module refuses what it does not know
write_config "$tmp/appkey.yaml" apps.fundload.rules=experiment \
  apps.fundload.bogus=1
write_config "$tmp/appval.yaml" apps.fundload.rules=strict
check "unknown apps.fundload key: 2" [ "$(rc_of "$fl" --config "$tmp/appkey.yaml" "$golden/cases.jsonl")" -eq 2 ]
check "unknown apps.fundload key: named" grep -q '^fundload: config_invalid (code -20): apps.fundload.bogus: unknown key (allowed: rules)$' "$tmp/err"
check "bad apps.fundload.rules: 2" [ "$(rc_of "$fl" --config "$tmp/appval.yaml" "$golden/cases.jsonl")" -eq 2 ]
check "bad apps.fundload.rules: named" grep -q '^fundload: config_invalid (code -20): apps.fundload.rules: unsupported value "strict" (allowed: baseline, experiment)$' "$tmp/err"
check "--rules does not hide a bad section" [ "$(rc_of "$fl" --config "$tmp/appkey.yaml" --rules baseline "$golden/cases.jsonl")" -eq 2 ]
# the section reaches the workers in their bundle
write_config "$tmp/ps2exp.yaml" "${ps2[@]}" apps.fundload.rules=experiment
check "process_supervisor, config selects experiment" [ "$(rc_of "$fl" --config "$tmp/ps2exp.yaml" "$golden/cases.jsonl")" -eq 65 ]
check "process_supervisor, config selects experiment: output" cmp -s "$tmp/out" "$golden/experiment.expected"

# --- input forms ---
check "stdin" [ "$("$fl" <"$golden/cases.jsonl" 2>/dev/null | cmp -s - "$golden/baseline.expected"; echo $?)" -eq 0 ]
check "- is stdin" [ "$("$fl" - <"$golden/cases.jsonl" 2>/dev/null | cmp -s - "$golden/baseline.expected"; echo $?)" -eq 0 ]
printf '%s\r\n%s' "${valid/\"id\":\"1\"/\"id\":\"2\"}" "$valid" >"$tmp/crlf.jsonl"
check "CRLF and no final newline: exit 0" [ "$(rc_of "$fl" "$tmp/crlf.jsonl")" -eq 0 ]
check "CRLF and no final newline: 2 lines" [ "$(grep -c accepted\":true "$tmp/out")" -eq 2 ]
check "empty input: exit 0, no output" [ "$(rc_of "$fl" /dev/null)" -eq 0 ] 
check "empty input: nothing written" [ ! -s "$tmp/out" ]

# --- a huge line: one bounded diagnostic, the rest processed ---
{ echo "$valid"; printf '{"id":"'; head -c 200000 /dev/zero | tr '\0' 7; echo '"}'; echo "${valid/\"id\":\"1\"/\"id\":\"3\"}"; } >"$tmp/huge.jsonl"
check "huge line: exit 65" [ "$(rc_of "$fl" --config "$tmp/tcp.yaml" "$tmp/huge.jsonl")" -eq 65 ]
check "huge line: the others decided" [ "$(wc -l <"$tmp/out")" -eq 2 ]
check "huge line: line_too_long on line 2" grep -q '^fundload: line 2: line_too_long: ' "$tmp/err"
check "huge line: diagnostic bounded" [ "$(wc -c <"$tmp/err")" -lt 300 ]
printf '{"id":"1","customer_id":"1","load_amount":"$1.%s","time":"2000-01-01T00:00:00Z"}\n' "$(head -c 5000 /dev/zero | tr '\0' 9)" >"$tmp/long.jsonl"
check "long bad amount: 65" [ "$(rc_of "$fl" "$tmp/long.jsonl")" -eq 65 ]
check "long bad amount: quoted at most 80 bytes" [ "$(wc -c <"$tmp/err")" -lt 250 ]
printf '{"id":"\033[2J\001","customer_id":1}\n' >"$tmp/ctl.jsonl"
check "control bytes: 65" [ "$(rc_of "$fl" "$tmp/ctl.jsonl")" -eq 65 ]
check "control bytes never reach stderr raw" [ "$(tr -d '\n' <"$tmp/err" | tr -d '[:print:]' | wc -c)" -eq 0 ]

# --- streaming: a decision is written before the producer is done ---
wait_lines() {	# wait_lines FILE N: up to 10 s for N lines
  for _ in $(seq 100); do
    [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
mkfifo "$tmp/in"
"$fl" --config "$tmp/tcp.yaml" <"$tmp/in" >"$tmp/s.out" 2>"$tmp/s.err" &
spid=$!
pids+=("$spid")
exec 3>"$tmp/in"
echo "$valid" >&3
check "streaming: 1st decision before EOF" wait_lines "$tmp/s.out" 1
echo "${valid/\"id\":\"1\"/\"id\":\"9\"}" >&3
check "streaming: 2nd decision before EOF" wait_lines "$tmp/s.out" 2
exec 3>&-
wait "$spid"
check "streaming: exit 0" [ $? -eq 0 ]

# --- SIGTERM mid-run: the decisions so far, then exit 5 (a stop was begun) ---
"$fl" --config "$tmp/tcp.yaml" <"$tmp/in" >"$tmp/t.out" 2>"$tmp/t.err" &
tpid=$!
pids+=("$tpid")
exec 3>"$tmp/in"
echo "$valid" >&3
check "SIGTERM: first decision" wait_lines "$tmp/t.out" 1
kill -TERM "$tpid"
for _ in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$tpid" 2>/dev/null
wait "$tpid"
rc=$?
exec 3>&-
check "SIGTERM: exit 5, got $rc" [ "$rc" -eq 5 ]
check "SIGTERM: says so" grep -qx 'fundload: lifecycle_not_ready (code -31): a stop was begun' "$tmp/t.err"
check "SIGTERM: the decision written" [ "$(wc -l <"$tmp/t.out")" -eq 1 ]

# --- a worker lost mid-run: worker_failed (6), nothing hangs ---
# (PROC-INT-04 / PROC-INT-08 as the application sees them: the crash
# reaches the caller as the worker-failed category)
"$fl" --config "$tmp/ps2.yaml" <"$tmp/in" >"$tmp/w.out" 2>"$tmp/w.err" &
wpid=$!
pids+=("$wpid")
exec 3>"$tmp/in"
echo "$valid" >&3
check "worker lost: first decision" wait_lines "$tmp/w.out" 1
# the children of $wpid (a bash loop: processes that vanish while we look
# must not cut the scan short, as they would make mawk stop)
workers=""
for st in /proc/[0-9]*/stat; do
  line=$(cat "$st" 2>/dev/null) || continue
  read -ra f <<< "${line##*) }"	# f[0] state, f[1] ppid
  [ "${f[1]:-}" = "$wpid" ] && workers="$workers ${st//[^0-9]/}"
done
check "worker lost: 2 workers running" [ "$(echo $workers | wc -w)" -eq 2 ]
kill -9 $workers 2>/dev/null
for _ in $(seq 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
echo "$valid" >&3 2>/dev/null
exec 3>&-
wait "$wpid"
rc=$?
check "worker lost: exit 6 (worker_failed), got $rc" [ "$rc" -eq 6 ]
check "worker lost: says worker_failed" grep -q 'worker_failed' "$tmp/w.err"

# --- stdout closed early: an error exit, no hang ---
for _ in $(seq 20000); do echo "$valid"; done >"$tmp/many.jsonl"
sed -i 's/"id":"1"/"id":"X"/' "$tmp/many.jsonl"
awk '{ sub(/"id":"X"/, "\"id\":\"" NR "\""); print }' "$tmp/many.jsonl" >"$tmp/many2.jsonl"
set -o pipefail
timeout 20 "$fl" --window 1 "$tmp/many2.jsonl" 2>/dev/null | head -c 10 >/dev/null
rc=$?
set +o pipefail
check "closed stdout: error exit, no hang (got $rc)" [ "$rc" -ne 0 -a "$rc" -ne 124 ]

echo "fundload/cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
