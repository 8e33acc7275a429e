#!/usr/bin/env bash
# tests/plugin/test_swap.sh CC SWAP_C INCLUDE_FLAGS...
# The generated handler struct is typed per method: swap.c with the handlers
# in the right fields compiles, with Put's and Get's swapped it does not, and
# the compiler names the field. (-fsyntax-only: nothing is linked.)
set -uo pipefail
cc=$1 src=$2
shift 2
flags=(-std=c11 -D_GNU_SOURCE -fsyntax-only -Werror=incompatible-pointer-types
  "$@" $(pkg-config --cflags libprotobuf-c))
pass=0 fail=0
if out=$("$cc" "${flags[@]}" "$src" 2>&1); then
  pass=$((pass + 1))
else
  echo "FAIL: the right handlers do not compile:"; echo "$out"; fail=$((fail + 1))
fi
if out=$("$cc" "${flags[@]}" -DSWAPPED "$src" 2>&1); then
  echo "FAIL: swapped handlers compiled"; fail=$((fail + 1))
elif grep -q "incompatible pointer type" <<<"$out" &&
     grep -q "\.Put = get" <<<"$out" && grep -q "\.Get = put" <<<"$out"; then
  pass=$((pass + 1))
else
  echo "FAIL: swapped handlers failed for another reason:"; echo "$out"
  fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
