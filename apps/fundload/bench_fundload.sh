#!/usr/bin/env bash
# apps/fundload/bench_fundload.sh — fund-load throughput, CPU and memory per
# runtime profile. A benchmark, not a test: it prints figures and asserts
# nothing but that every profile produced the same output.
#
# usage: bench_fundload.sh [--rss N] [--rules R] BUILD_DIR [LINES [RUNS]]
#   BUILD_DIR  a build tree with apps/fundload/fundload and
#              tests/fundload/fundload_gen_input (use an optimized build:
#              -DCMAKE_BUILD_TYPE=RelWithDebInfo or Release)
#   LINES      generated input lines (default 200000)
#   RUNS       rounds; each round runs every profile once, in turn, so a
#              change of machine load hits all of them (default 3)
#   --rules R  baseline, experiment or both (default both)
#   --rss N    also stream N generated lines (e.g. 10000000; no file: the
#              generator pipes into fundload's stdin) through
#              process_supervisor with 2 workers, and print the ingress's
#              peak RSS next to that of the LINES run
#
# Profiles: memory (one process), tcp_inline (tcp_local + inline: ingress
# and endpoint in one process), ps1/ps2/ps4 (process_supervisor with 1, 2,
# 4 workers). Prints a Markdown table: the median wall time (start-up, all
# lines, stop), lines/s and its ratio to memory's median in the same run;
# the CPU time per line (user + system, median over the rounds) of the
# whole run (/usr/bin/time: the program and the workers it reaped), of the
# ingress process and of all workers together (getrusage, from `fundload
# --stats`): load-insensitive, unlike the wall time; the CPU-bound
# lines/s those imply on idle CPUs (the ingress is one thread, the whole
# run spreads over nproc CPUs: lines / max(ingress CPU, total CPU / nproc))
# and its ratio to memory's; DecideBatch calls; the ingress's and the largest worker's peak RSS;
# loads held by the prime coordination. Older builds whose --stats lacks a
# field show "-".
set -eu
rss_lines=0
rulesets="baseline experiment"
while [ $# -gt 0 ]; do
  case $1 in
    --rss) rss_lines=${2:?--rss N}; shift 2 ;;
    --rules) [ "$2" = both ] || rulesets=$2; shift 2 ;;
    *) break ;;
  esac
done
build=${1:?usage: bench_fundload.sh [--rss N] [--rules R] BUILD_DIR [LINES [RUNS]]}
lines=${2:-200000}
runs=${3:-3}
fl=$build/apps/fundload/fundload
gen=$build/tests/fundload/fundload_gen_input
profiles=(memory tcp_inline ps1 ps2 ps4)
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

# field KEY FILE: the value of KEY= in the --stats line of FILE, or "-"
field() {
  local v
  v=$(grep '^fundload: stats' "$2" | sed -n "s/.* $1=\([0-9-]*\).*/\1/p")
  echo "${v:--}"
}

median() {
  local a
  mapfile -t a < <(sort -n)
  echo "${a[$(((${#a[@]} - 1) / 2))]}"
}

# run PROFILE RULES ROUND: one run; its wall time and --stats line kept
run() {
  local p=$1 rules=$2 i=$3 t0 t1 rc=0
  local args=(--stats --rules "$rules")
  [ "$p" != memory ] && args+=(--config "$tmp/$p.yaml")
  /usr/bin/time -f '%e %U %S' -o "$tmp/time" \
    "$fl" "${args[@]}" "$tmp/in.jsonl" >"$tmp/out.$p" 2>"$tmp/err.$p.$rules.$i" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 65 ] || {
    echo "$p/$rules: exit $rc" >&2; tail -3 "$tmp/err.$p.$rules.$i" >&2; exit 1; }
  [ -f "$tmp/ref.$rules" ] || cp "$tmp/out.$p" "$tmp/ref.$rules"
  cmp -s "$tmp/out.$p" "$tmp/ref.$rules" || { echo "$p/$rules: output differs" >&2; exit 1; }
  tail -1 "$tmp/time" | cut -d' ' -f1 >>"$tmp/wall.$p.$rules"
  tail -1 "$tmp/time" | awk '{ print ($2 + $3) * 1000 }' >>"$tmp/tcpu.$p.$rules"
}

# per_line MS: microseconds per line of MS milliseconds, or "-"
per_line() { [ "$1" = - ] && echo - || printf '%.2f' "$(echo "$1 * 1000 / $lines" | bc -l)"; }

echo "input: $lines lines ($(du -h "$tmp/in.jsonl" | cut -f1)), $runs rounds, $(nproc) CPUs," \
  "$(uname -sr), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| profile | rules | wall s | lines/s | × memory | CPU µs/line | ingress CPU µs/line | workers CPU µs/line | CPU-bound lines/s | × memory | calls | ingress max RSS | worker max RSS | held |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for rules in $rulesets; do
  for ((i = 0; i < runs; i++)); do
    for p in "${profiles[@]}"; do run "$p" "$rules" "$i"; done
  done
  mem_lps= mem_cb=
  for p in "${profiles[@]}"; do
    wall=$(median <"$tmp/wall.$p.$rules")
    lps=$(echo "$lines / $wall" | bc -l)
    [ -n "$mem_lps" ] || mem_lps=$lps
    # the CPU figures of the median run's round are as noisy as any: take
    # the medians over the rounds too
    cpu=- wcpu=-
    if [ "$(field cpu_ms "$tmp/err.$p.$rules.0")" != - ]; then
      cpu=$(for f in "$tmp"/err."$p"."$rules".*; do field cpu_ms "$f"; done | median)
      wcpu=$(for f in "$tmp"/err."$p"."$rules".*; do field worker_cpu_ms "$f"; done | median)
    fi
    e=$tmp/err.$p.$rules.0
    rss=$(field maxrss_kb "$e")
    wrss=$(field worker_maxrss_kb "$e")
    case $p in memory | tcp_inline) wrss=- wcpu=- ;; *) wrss="$((wrss / 1024)) MiB" ;; esac
    # CPU-bound: lines/s on idle CPUs if CPU time were all that counted:
    # the ingress is one thread; the whole run spreads over nproc CPUs
    cb=- cbr=-
    if [ "$cpu" != - ]; then
      tot=$cpu
      [ "$wcpu" = - ] || tot=$((cpu + wcpu))
      bound=$(echo "if ($cpu > $tot / $(nproc)) $cpu else $tot / $(nproc)" | bc -l)
      cb=$(printf '%.0f' "$(echo "$lines * 1000 / $bound" | bc -l)")
      [ -n "$mem_cb" ] || mem_cb=$cb
      cbr=$(printf '%.2f' "$(echo "$cb / $mem_cb" | bc -l)")
    fi
    printf '| %s | %s | %.2f | %.0f | %.2f | %s | %s | %s | %s | %s | %s | %d MiB | %s | %s |\n' \
      "$p" "$rules" "$wall" "$lps" "$(echo "$lps / $mem_lps" | bc -l)" \
      "$(per_line "$(median <"$tmp/tcpu.$p.$rules")")" \
      "$(per_line "$cpu")" "$(per_line "$wcpu")" "$cb" "$cbr" "$(field calls "$e")" \
      "$((rss / 1024))" "$wrss" "$(field held "$e")"
  done
done

if [ "$rss_lines" -gt 0 ]; then
  echo
  echo "ingress peak RSS, ps2 baseline (input streamed from the generator):"
  for n in "$lines" "$rss_lines"; do
    t0=$(date +%s.%N)
    rc=0
    "$gen" 20240101 "$n" | "$fl" --stats --config "$tmp/ps2.yaml" \
      >/dev/null 2>"$tmp/err.rss" || rc=$?
    t1=$(date +%s.%N)
    [ "$rc" -eq 0 ] || [ "$rc" -eq 65 ] || { echo "rss $n: exit $rc" >&2; tail -3 "$tmp/err.rss" >&2; exit 1; }
    printf '  %s lines: ingress maxrss %s KiB, largest worker %s KiB, %.1f s\n' \
      "$n" "$(field maxrss_kb "$tmp/err.rss")" "$(field worker_maxrss_kb "$tmp/err.rss")" \
      "$(echo "$t1 - $t0" | bc -l)"
  done
fi
