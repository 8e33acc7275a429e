#!/usr/bin/env bash
# apps/fundload/bench_fundload.sh — fund-load throughput and memory per
# runtime profile. A benchmark, not a test: it prints figures and asserts
# nothing but that every profile produced the same output.
#
# usage: bench_fundload.sh BUILD_DIR [LINES [RUNS]]
#   BUILD_DIR  a build tree with apps/fundload/fundload and
#              tests/fundload/fundload_gen_input (use an optimized build:
#              -DCMAKE_BUILD_TYPE=RelWithDebInfo or Release)
#   LINES      generated input lines (default 200000)
#   RUNS       runs per profile; the median wall time is reported (default 3)
#
# Prints a Markdown table: profile, rules, wall seconds (start-up, all lines,
# stop), lines/s, the ingress process's peak RSS and the largest worker's
# (process_supervisor), from `fundload --stats` (getrusage).
set -eu
build=${1:?usage: bench_fundload.sh BUILD_DIR [LINES [RUNS]]}
lines=${2:-200000}
runs=${3:-3}
fl=$build/apps/fundload/fundload
gen=$build/tests/fundload/fundload_gen_input
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$gen" 20240101 "$lines" >"$tmp/in.jsonl"
printf 'runtime:\n  platform:\n    execution_ipc:\n      transport: tcp_local\n' >"$tmp/tcp_inline.yaml"
for n in 1 2 4; do
  cat >"$tmp/ps$n.yaml" <<EOF
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
    bootstrap:
      mode: process_supervisor
    lifecycle:
      ready_timeout_seconds: 20
    process_groups:
      - name: execution
        workers: $n
        services: [fundload.v1.FundLoad]
EOF
done

echo "input: $lines lines ($(du -h "$tmp/in.jsonl" | cut -f1)), $(nproc) CPUs, $(uname -sr)"
echo
echo "| profile | rules | wall s | lines/s | ingress max RSS | worker max RSS | held |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for rules in baseline experiment; do
  for p in memory tcp_inline ps1 ps2 ps4; do
    args=(--stats --rules "$rules")
    [ "$p" != memory ] && args+=(--config "$tmp/$p.yaml")
    times=()
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s.%N)
      rc=0
      "$fl" "${args[@]}" "$tmp/in.jsonl" >"$tmp/out.$p" 2>"$tmp/err" || rc=$?
      t1=$(date +%s.%N)
      [ "$rc" -eq 0 ] || [ "$rc" -eq 65 ] || { echo "$p/$rules: exit $rc" >&2; tail -3 "$tmp/err" >&2; exit 1; }
      times+=("$(echo "$t1 - $t0" | bc -l)")
    done
    [ -f "$tmp/ref.$rules" ] || cp "$tmp/out.$p" "$tmp/ref.$rules"
    cmp -s "$tmp/out.$p" "$tmp/ref.$rules" || { echo "$p/$rules: output differs" >&2; exit 1; }
    wall=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    stats=$(grep '^fundload: stats' "$tmp/err")
    rss=$(sed -n 's/.* maxrss_kb=\([0-9]*\).*/\1/p' <<<"$stats")
    wrss=$(sed -n 's/.* worker_maxrss_kb=\([0-9]*\).*/\1/p' <<<"$stats")
    held=$(sed -n 's/.* held=\([0-9]*\).*/\1/p' <<<"$stats")
    [ "$p" = memory ] || [ "$p" = tcp_inline ] && wrss="-" || wrss="$((wrss / 1024)) MiB"
    printf '| %s | %s | %.2f | %.0f | %d MiB | %s | %s |\n' "$p" "$rules" "$wall" \
      "$(echo "$lines / $wall" | bc -l)" "$((rss / 1024))" "$wrss" "$held"
  done
done
