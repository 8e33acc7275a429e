#!/usr/bin/env bash
# gen/staleness: regenerate into a temp dir and fail when gen/ differs.
set -euo pipefail
top=${1:?usage: check_stale.sh SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$top/scripts/regen" "$tmp"
if ! diff -r "$top/gen/protobuf-c" "$tmp/protobuf-c" >/dev/null ||
   ! diff -r "$top/gen/nanopb" "$tmp/nanopb" >/dev/null; then
  echo "gen/ is stale: run scripts/regen and commit the result" >&2
  diff -r "$top/gen" "$tmp" | head -40 >&2 || true
  exit 1
fi
echo "gen/ is up to date: 1 passed, 0 failed"
