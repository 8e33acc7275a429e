#!/usr/bin/env bash
# tests/plugin/test_errors.sh PROTOC PLUGIN NANOPB_PROTO_DIR BAD_DIR
# protoc-gen-execrpc on small protos: each bad one makes protoc exit 1 with
# the plugin's one-line message (exact); the good ones give exactly the
# expected files.
set -uo pipefail
protoc=$1 plugin=$(realpath "$2") nanopb=$3 dir=$(realpath "$4")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# run PROTO [PARAM]: protoc's exit status in $rc, its stderr in $err
run() {
  rm -rf "$tmp/out"; mkdir -p "$tmp/out"
  local opt=()
  [ $# -gt 1 ] && opt=(--execrpc_opt="$2")
  (cd "$dir" && "$protoc" -I. -I"$nanopb" --plugin=protoc-gen-execrpc="$plugin" \
    "${opt[@]}" --execrpc_out="$tmp/out" "$1") 2>"$tmp/err"
  rc=$?
  err=$(cat "$tmp/err")
}

# refused PROTO PARAM MESSAGE
refused() {
  run "$1" "$2"
  local want="--execrpc_out: $3"
  if [ "$rc" -eq 1 ] && [ "$err" = "$want" ] && [ -z "$(ls -A "$tmp/out")" ]; then
    pass=$((pass + 1))
  else
    echo "FAIL $1: rc=$rc"; echo " got:  $err"; echo " want: $want"
    fail=$((fail + 1))
  fi
}

# accepted PROTO FILES...
accepted() {
  local p=$1; shift
  run "$p" ""
  local got want
  got=$(cd "$tmp/out" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')
  want=$(printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ')
  [ $# -eq 0 ] && want=""
  if [ "$rc" -eq 0 ] && [ -z "$err" ] && [ "$got" = "$want" ]; then
    pass=$((pass + 1))
  else
    echo "FAIL $p: rc=$rc err=$err"; echo " got:  $got"; echo " want: $want"
    fail=$((fail + 1))
  fi
}

refused unbounded.proto "" "unbounded.proto: method xrtest.bad.Unbounded/Put (request xrtest.bad.Req): field xrtest.bad.Req.name (string) has no bound (no max_length or max_size): nanopb must give it a static size; add the line \"xrtest.bad.Req.name max_length:N\" to unbounded.options (next to unbounded.proto, or in a directory given with options_path=DIR), or [(nanopb).max_length = N] to the field in unbounded.proto"
refused unbounded_resp.proto "" "unbounded_resp.proto: method xrtest.bad.UnboundedResp/Get (response xrtest.bad.Outer): field xrtest.bad.Inner.ids (repeated scalar) has no bound (no max_count): nanopb must give it a static size; add the line \"xrtest.bad.Inner.ids max_count:N\" to unbounded_resp.options (next to unbounded_resp.proto, or in a directory given with options_path=DIR), or [(nanopb).max_count = N] to the field in unbounded_resp.proto"
refused recursive.proto "" "recursive.proto: method xrtest.bad.Tree/Walk (request xrtest.bad.Node): message xrtest.bad.Node contains itself: nanopb cannot bound a recursive message, and execrpc allows none"
refused callback.proto "" "callback.proto: method xrtest.bad.Blobs/Send (request xrtest.bad.Blob): field xrtest.bad.Blob.data is a nanopb callback field (type:FT_CALLBACK): execrpc needs static fields with bounds; remove the type option"
refused streaming.proto "" "streaming.proto: method xrtest.bad.Clock/Watch streams: execrpc has unary calls only"
refused badopt.proto "" "./badopt.options:3: unknown nanopb option \"max_sise\""
refused unreached.proto "side=left" "unknown parameter \"side=left\" (known: side=server|client|both, options_path=DIR, -IDIR)"
# the bound found in the options file the error names
refused unbounded.proto "options_path=$dir/opts" "unbounded.proto: method xrtest.bad.Unbounded/Put (response xrtest.bad.Resp): field xrtest.bad.Resp.ids (repeated scalar) has no bound (no max_count): nanopb must give it a static size; add the line \"xrtest.bad.Resp.ids max_count:N\" to $dir/opts/unbounded.options, or [(nanopb).max_count = N] to the field in unbounded.proto"

accepted unreached.proto unreached.xr.h unreached.xr.c unreached.xrc.h unreached.xrc.c
accepted nosvc.proto

# stdin that is not a request: a clear message and status 1, not a crash
printf '\377\377\377' >"$tmp/junk"
"$plugin" <"$tmp/junk" >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(cat "$tmp/err")" = "protoc-gen-execrpc: stdin is not a CodeGeneratorRequest: run me through protoc (--help)" ]; then
  pass=$((pass + 1))
else
  echo "FAIL: junk stdin: rc=$rc $(cat "$tmp/err")"; fail=$((fail + 1))
fi
if "$plugin" --help | grep -q "^usage: protoc --plugin=protoc-gen-execrpc=PATH"; then
  pass=$((pass + 1))
else
  echo "FAIL: --help"; fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
