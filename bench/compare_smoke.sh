#!/usr/bin/env bash
# bench/compare_smoke.sh BENCH_COMPARE — the ctest bench/compare_smoke: run
# bench_compare (built without gRPC) with tiny counts and check that it
# exits 0 and prints every expected row with a number, and that --only
# runs just the rows asked for (and their ratio's base). Asserts nothing
# about time: it only keeps the benchmark from rotting silently.
set -u
bin=$1
rows=(
  raw.pingpong raw.pipelined64 libevent.pingpong
  xr.tcp.seq xr.tcp.async32 xr.tcp.async64
  xr.sup1.seq xr.sup1.async64 xr.sup2.async64
  xr.mem.seq xr.mem.async64
  crypto.hmac crypto.ceiling
  connect.raw connect.xr_hello
  start.bare1 start.sup1 start.bare2 start.sup2 start.bare4 start.sup4
)
out=$("$bin" --smoke 2>&1)
rc=$?
fail=0
if [ $rc -ne 0 ]; then
  echo "FAIL: bench_compare --smoke exited $rc"
  fail=1
fi
for r in "${rows[@]}"; do
  if ! grep -Eq "^${r//./\\.} +[a-z_0-9]+ +[0-9]+(\.[0-9]+)? " <<<"$out"; then
    echo "FAIL: row $r missing or without a number"
    fail=1
  fi
done
for l in '^machine: nproc [0-9]+, CPU ' '^placement: servers in forked processes' \
    '^loopback level: rep 1 (fast|slow) level'; do
  grep -Eq "$l" <<<"$out" || { echo "FAIL: no line matching /$l/"; fail=1; }
done
# --only: the chosen rows and the row their ratio uses, nothing else
only=$("$bin" --smoke --only xr.tcp.async3 2>&1)
for r in xr.tcp.async32 raw.pipelined64; do
  grep -Eq "^${r//./\\.} +per_s +[0-9]+ " <<<"$only" ||
    { echo "FAIL: --only xr.tcp.async3: row $r missing"; fail=1; }
done
n=$(grep -Ec '^(raw|libevent|xr|crypto|connect|start)\.' <<<"$only")
[ "$n" -eq 2 ] || { echo "FAIL: --only xr.tcp.async3 printed $n rows, not 2"; fail=1; }
[ $fail -eq 0 ] || { echo "--- output ---"; echo "$out"; echo "--- --only ---"; echo "$only"; }
exit $fail
