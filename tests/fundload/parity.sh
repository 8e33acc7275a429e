#!/usr/bin/env bash
# fundload/parity — the cross-profile parity gate (docs/design.md section 9).
# Proves IPC-INT-12 for the reference workload: the memory profile's output
# is exactly tcp_local's (and process_supervisor's, and the sequential
# reference's).
#
# For generated inputs (fundload_gen_input, >= 10,000 lines; one with
# invalid lines, one without) and both rule sets, `fundload` must give
# byte-identical stdout and the same exit status in every runtime profile:
#   memory | tcp_local + inline | process_supervisor with 1, 2, 4 workers |
#   ps2_redis: process_supervisor with 2 workers over redis_streams (a
#   redis-server this test starts on a unix socket in its temporary
#   directory, --save '' --appendonly no)
# (plus a small window, which makes the prime coordination wait more), and
# all of them must equal
#   - fundload_ref: the rules module called sequentially in-process, and
#   - oracle.py: an independent implementation (when /usr/bin/python3 is
#     there; it is on every supported machine — a missing one is reported).
# A profile that fails to start, crashes or differs FAILS the test; nothing
# is skipped.
#
# usage: parity.sh FUNDLOAD FUNDLOAD_REF GEN_INPUT ORACLE_PY [LINES]
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
fundload=${1:?usage: parity.sh FUNDLOAD FUNDLOAD_REF GEN_INPUT ORACLE_PY [LINES]}
ref=${2:?}
gen=${3:?}
oracle=${4:?}
lines=${5:-12000}
py=/usr/bin/python3
tmp=$(mktemp -d)
rpid=""
cleanup() {
  [ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# ps2_redis's Redis: its own, gone with the test
command -v redis-server >/dev/null || { echo "FAIL: no redis-server" >&2; exit 1; }
redis-server --port 0 --unixsocket "$tmp/r.sock" --save '' --appendonly no \
    --dir "$tmp" --loglevel warning >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 100); do [ -S "$tmp/r.sock" ] && break; sleep 0.05; done
[ -S "$tmp/r.sock" ] || { echo "FAIL: redis-server did not start" >&2; exit 1; }

# the profiles: name -> config file (empty: no --config, the defaults =
# memory)
declare -A cfg
cfg[memory]=""
cfg[tcp_inline]="$tmp/tcp_inline.yaml"
write_config "${cfg[tcp_inline]}" transport=tcp_local
for n in 1 2 4; do
  cfg[ps$n]="$tmp/ps$n.yaml"
  write_config "${cfg[ps$n]}" transport=tcp_local mode=process_supervisor \
    ready_timeout_seconds=20 group=execution:$n:fundload.v1.FundLoad
done
# a fresh stream prefix per run: no entry of one run is left for the next
cfg[ps2_redis]="$tmp/ps2_redis.yaml"
write_redis_config() {	# write_redis_config FILE PREFIX
  cat >"$1" <<EOF
runtime:
  platform:
    execution_ipc:
      transport: redis_streams
      redis:
        unix_socket: $tmp/r.sock
        stream_prefix: $2
    bootstrap:
      mode: process_supervisor
    lifecycle:
      ready_timeout_seconds: 20
    process_groups:
      - name: execution
        workers: 2
        services: [fundload.v1.FundLoad]
EOF
}
profiles=(memory tcp_inline ps1 ps2 ps4 ps2_redis)
nrun=0

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*" >&2; }

# inputs: A (seed 20240101, with invalid lines), B (seed 7, invalid lines
# removed, so every run must exit 0)
"$gen" 20240101 "$lines" >"$tmp/A.jsonl" || { echo "generator failed" >&2; exit 1; }
"$gen" 7 "$lines" >"$tmp/B.raw" || { echo "generator failed" >&2; exit 1; }
LC_ALL=C "$ref" "$tmp/B.raw" 2>&1 >/dev/null | sed -n 's/^fundload: line \([0-9]*\):.*/\1d/p' >"$tmp/B.sed"
LC_ALL=C sed -f "$tmp/B.sed" "$tmp/B.raw" >"$tmp/B.jsonl"
echo "inputs: A $(wc -l <"$tmp/A.jsonl") lines ($(wc -l <"$tmp/B.sed") invalid in B removed: B $(wc -l <"$tmp/B.jsonl") lines)"

run() {	# run OUTFILE ARGS... ; echoes the exit status
  local out=$1; shift
  "$@" >"$out" 2>"$out.err"
  echo $?
}

for input in A B; do
  want_rc=65
  [ "$input" = B ] && want_rc=0
  for rules in baseline experiment; do
    ref_out="$tmp/$input.$rules.ref"
    rc=$(run "$ref_out" "$ref" --rules "$rules" "$tmp/$input.jsonl")
    if [ "$rc" -ne "$want_rc" ]; then
      bad "$input/$rules: fundload_ref exit $rc, want $want_rc"
    else
      ok
    fi
    if [ -x "$py" ]; then
      rc=$(run "$tmp/oracle.out" "$py" "$oracle" --rules "$rules" "$tmp/$input.jsonl")
      if [ "$rc" -ne "$want_rc" ] || ! cmp -s "$tmp/oracle.out" "$ref_out"; then
        bad "$input/$rules: oracle.py (exit $rc) differs from fundload_ref"
        diff "$ref_out" "$tmp/oracle.out" | head -10 >&2
      else
        ok
      fi
    else
      bad "$input/$rules: $py is missing: the independent oracle did not run"
    fi
    runs=()
    for p in "${profiles[@]}"; do runs+=("$p:"); done
    runs+=("ps4:--window=3" "tcp_inline:--window=1")
    for r in "${runs[@]}"; do
      p=${r%%:*} extra=${r#*:}
      args=(--rules "$rules")
      [ -n "${cfg[$p]}" ] && args+=(--config "${cfg[$p]}")
      [ -n "$extra" ] && args+=("$extra")
      out="$tmp/$input.$rules.$p"
      nrun=$((nrun + 1))
      [ "$p" = ps2_redis ] && write_redis_config "${cfg[$p]}" "parity$nrun"
      rc=$(run "$out" "$fundload" "${args[@]}" "$tmp/$input.jsonl")
      if [ "$rc" -ne "$want_rc" ]; then
        bad "$input/$rules/$p $extra: exit $rc, want $want_rc"
        grep -v '^fundload: line ' "$out.err" | head -5 >&2
      elif ! cmp -s "$out" "$ref_out"; then
        bad "$input/$rules/$p $extra: stdout differs from the reference"
        diff "$ref_out" "$out" | head -10 >&2
      elif ! cmp -s <(grep '^fundload: line ' "$out.err") \
          <(grep '^fundload: line ' "$ref_out.err"); then
        bad "$input/$rules/$p $extra: diagnostics differ from the reference"
      else
        ok
      fi
    done
  done
done
# the rule sets really differ on these inputs (else parity proves little)
cmp -s "$tmp/A.baseline.ref" "$tmp/A.experiment.ref" && bad "baseline and experiment agree on A"
echo "fundload/parity: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
