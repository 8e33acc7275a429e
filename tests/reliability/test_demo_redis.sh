#!/usr/bin/env bash
# reliability/test_demo_redis — `scripts/demo redis` runs from this build
# (XR_DEMO_BUILD): its own redis-server, fund-load over redis_streams through
# 2 supervised workers (one slot stream each) with decisions byte-identical
# to the memory profile's, the Redis inspection;
# exit status 0 and the lines that say so. Bounded (20,000 lines).
set -u
src=${XR_SOURCE_DIR:?XR_SOURCE_DIR not set}
bin=${XR_BINARY_DIR:?XR_BINARY_DIR not set}
out=$(mktemp /tmp/xr-demo-redis-XXXXXX)
trap 'rm -f "$out"' EXIT
fail=0
XR_DEMO_BUILD=$bin timeout 150 bash "$src/scripts/demo" redis >"$out" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: scripts/demo redis exited $rc" >&2
	fail=1
fi
for want in "transport\": \"redis_streams" \
    "lines=20000 invalid=395 accepted=12971 declined=6153 ignored=481" \
    "byte-identical to the memory profile's (19124 lines)" \
    "worker 0's slot stream demo:execution:req:0: " \
    "worker 1's slot stream demo:execution:req:1: " \
    "lag	0" "== demo done"; do
	grep -qF -- "$want" "$out" || { echo "FAIL: no \"$want\"" >&2; fail=1; }
done
# no secret in what the demo printed
if grep -qE '"secret": |[0-9a-f]{64}' "$out"; then
	echo "FAIL: a secret in the demo's output" >&2
	fail=1
fi
[ "$fail" -eq 0 ] || { tail -n 30 "$out" >&2; exit 1; }
echo "scripts/demo redis: ok"
