#!/usr/bin/env bash
# bench/bench_redis_smoke.sh BENCH_REDIS EXECRPC_SERVER — the ctest
# bench/redis_smoke: run bench_redis --smoke (a few hundred calls per row)
# and check that it exits 0 and prints every row with a number, the ratios
# and the machine lines. Asserts nothing about time: it only keeps the
# benchmark from rotting silently.
set -u
bin=$1
server=$2
rows=(raw.tcp.pingpong
  floor.xadd.unix.P1c1 floor.xadd.unix.P16c32 floor.stream_pp.unix
  floor.xadd.tcp.P1c1 floor.xadd.tcp.P16c32 floor.stream_pp.tcp)
for w in 1 2 4; do
  for c in seq if32 if64; do
    rows+=("tcp_local.w$w.$c" "redis.unix.w$w.$c" "redis.tcp.w$w.$c")
  done
done
out=$("$bin" --smoke --server "$server" 2>&1)
rc=$?
fail=0
if [ $rc -ne 0 ]; then
  echo "FAIL: bench_redis --smoke exited $rc"
  fail=1
fi
for r in "${rows[@]}"; do
  if ! grep -Eq "^${r//./\\.} +ok +(-|[0-9]+) +[0-9]+(\.[0-9]+)? " <<<"$out"; then
    echo "FAIL: row $r missing or without a number"
    fail=1
  fi
done
for l in '^w1\.seq +[0-9]+\.[0-9]+ ' '^w4\.if64 +[0-9]+\.[0-9]+ ' \
    '^machine: nproc [0-9]+, CPU ' '^loopback level: rep 1 (fast|slow) level' \
    '^  redis\.unix\.w1\.seq .*xadd=2\.[0-9]+\([0-9.]+us\)'; do
  grep -Eq "$l" <<<"$out" || { echo "FAIL: no line matching /$l/"; fail=1; }
done
[ $fail -eq 0 ] || { echo "--- output ---"; echo "$out"; }
exit $fail
