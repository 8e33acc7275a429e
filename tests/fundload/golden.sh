#!/usr/bin/env bash
# fundload/golden: the hand-checked cases (golden/cases.jsonl, explained line
# by line in golden/README.md) give exactly golden/{baseline,experiment}.expected
# and exit 65 (the case file has invalid lines), in the memory profile and
# through tcp_local.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
fundload=${1:?usage: golden.sh FUNDLOAD GOLDEN_DIR}
dir=${2:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
write_config "$tmp/tcp.yaml" transport=tcp_local
pass=0 fail=0
for rules in baseline experiment; do
  for prof in memory tcp; do
    args=(--rules "$rules")
    [ "$prof" = tcp ] && args+=(--config "$tmp/tcp.yaml")
    "$fundload" "${args[@]}" "$dir/cases.jsonl" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 65 ] && cmp -s "$tmp/out" "$dir/$rules.expected"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL golden $rules $prof: exit $rc (want 65)" >&2
      diff "$dir/$rules.expected" "$tmp/out" | head -20 >&2
      cat "$tmp/err" >&2
    fi
  done
done
# the diagnostics: one per invalid line, with its line number and category
want=$(grep -c . "$dir/diagnostics.expected")
"$fundload" "$dir/cases.jsonl" 2>&1 >/dev/null | cut -d: -f1-3 | sort >"$tmp/diag"
if cut -d: -f1-3 "$dir/diagnostics.expected" | sort | cmp -s - "$tmp/diag"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1))
  echo "FAIL golden diagnostics (want $want lines):" >&2
  cat "$tmp/diag" >&2
fi
echo "fundload/golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
