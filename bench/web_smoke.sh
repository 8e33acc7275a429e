#!/usr/bin/env bash
# bench/web_smoke.sh BUILD_DIR — the ctest bench/web_smoke: run
# bench/bench_web.sh --smoke and check that it exits 0 and prints every
# figure with a number. Asserts nothing about time: it only keeps the
# benchmark from rotting silently.
set -u
out=$(bash "$(dirname "$0")/bench_web.sh" --smoke --build "${1:?usage: web_smoke.sh BUILD_DIR}" 2>&1)
rc=$?
fail=0
[ $rc -eq 0 ] || { echo "FAIL: bench_web.sh --smoke exited $rc"; fail=1; }
for l in '^machine: nproc [0-9]+, .*load average [0-9.]+ [0-9.]+ [0-9.]+ \(before\)$' \
    '^NOTE: a loaded' \
    '^http +POST /v1/loads +loads 200 +elapsed_s [0-9.]+ +loads_per_s [0-9.]+ +cpu_ms_per_load [0-9.]+ ' \
    '^c +C ingress direct loads 200 +elapsed_s [0-9.]+ +loads_per_s [0-9.]+ +cpu_ms_per_load [0-9.]+ ' \
    '^batch +POST /v1/loads:batch lines 500 +elapsed_s [0-9.]+ +lines_per_s [0-9.]+ +cpu_ms_per_load [0-9.]+ ' \
    '^ratio +c/http loads_per_s [0-9.]+ +http/c cpu_ms_per_load [0-9.]+$' \
    '^machine: load average [0-9.]+ [0-9.]+ [0-9.]+ \(after\)$'; do
	grep -Eq "$l" <<<"$out" || { echo "FAIL: no line matching /$l/"; fail=1; }
done
[ $fail -eq 0 ] || { echo "--- output ---"; echo "$out"; }
exit $fail
