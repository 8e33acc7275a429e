#!/usr/bin/env bash
# tests/sdk/test_install.sh — the installed server SDK.
#
#  1. `cmake --install` into a temporary prefix: libexecrpc.a,
#     libexecrpc-client.a, exactly the public headers, execrpc.pc,
#     the CMake package with execrpcGenerate.cmake, protoc-gen-execrpc;
#  2. each installed header compiles alone (only -I<prefix>/include and the
#     system directories), and a header that needs an uninstalled one fails
#     that check;
#  3. libexecrpc.a: the server side is in it, no fundload and no second copy
#     of the wire core, and every xr_ symbol it needs is defined by it or by
#     libexecrpc-client.a;
#  4. an out-of-tree CMake consumer (consumer/): find_package(execrpc),
#     execrpc_generate() on its own protos (protobuf-c, nanopb and the
#     installed plugin; .options next to the proto and through
#     OPTIONS_FILES), a typed service module linked with execrpc::server and
#     called through the typed stubs of execrpc::client, run inline over
#     memory and tcp_local: exact output;
#  5. the same program compiled with `pkg-config --cflags --libs execrpc`:
#     exact output; the SDK's include path shadows no system header; an
#     edited .options regenerates both sides;
#  6. the service as a program of its own (xr_main): --help, config check,
#     and a supervised run with 2 workers called by the installed
#     `execrpc call` and stopped by `execrpc stop`;
#  7. find_package failures name what is missing (no server component; an
#     unknown component); execrpc_generate's refusals.
#
# Usage: test_install.sh BUILD_DIR TEST_SOURCE_DIR [EXTRA_FLAGS]
#   EXTRA_FLAGS: compiler+linker flags the archives need (the sanitizer
#   flags of an XR_SANITIZE build).
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

build=${1:?build dir}
here=${2:?tests/sdk dir}
src=$(cd "$here/../.." && pwd)
extra=${3:-}
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
}

tmp=$(mktemp -d)
kvs_pid=
# the supervised kvserver of section 6 (its workers die with it), if a
# failure left it running
cleanup() {
  [ -n "$kvs_pid" ] && kill -KILL "$kvs_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
prefix=$tmp/prefix

# ---- 1. install --------------------------------------------------------------
if cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  ok "cmake --install"
else
  ko "cmake --install"; cat "$tmp/install.log"; finish
fi
libdir=$(dirname "$(find "$prefix" -name libexecrpc.a | head -1)")
for f in "$libdir/libexecrpc.a" "$libdir/libexecrpc-client.a" \
    "$libdir/pkgconfig/execrpc.pc" "$libdir/pkgconfig/execrpc-client.pc" \
    "$libdir/cmake/execrpc/execrpcConfig.cmake" \
    "$libdir/cmake/execrpc/execrpcConfigVersion.cmake" \
    "$libdir/cmake/execrpc/execrpcGenerate.cmake" \
    "$prefix/bin/protoc-gen-execrpc"; do
  if [ -f "$f" ]; then ok "installed ${f#"$prefix"/}"; else ko "missing ${f#"$prefix"/}"; fi
done

# exactly the public header set: a user's service and program need these,
# and nothing internal (no *_priv.h, reader, rx, replay, codec, ...)
cat >"$tmp/headers.want" <<'EOF'
execrpc/bounds.h
execrpc/cfgtab.h
execrpc/client.h
execrpc/config.h
execrpc/dispatch.h
execrpc/echo/v1/echo.pb.h
execrpc/err.h
execrpc/ingress.h
execrpc/keys.h
execrpc/lifecycle.h
execrpc/log.h
execrpc/main.h
execrpc/module.h
execrpc/registry.h
execrpc/runtime.h
execrpc/server.h
execrpc/supervisor.h
execrpc/transport.h
execrpc/worker.h
EOF
(cd "$prefix/include" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) \
  >"$tmp/headers.got"
if diff -u "$tmp/headers.want" "$tmp/headers.got" >"$tmp/headers.diff"; then
  ok "include/ holds exactly the public headers"
else
  ko "include/ is not the public header set"; cat "$tmp/headers.diff"
fi

# ---- 2. each header alone ----------------------------------------------------
# cc_header INCDIR HEADER: compile a file that includes HEADER (twice: the
# guard) with only INCDIR and the system directories.
cc_header() {
  printf '#include <%s>\n#include <%s>\nint xr_sdk_header_check;\n' "$2" "$2" \
    >"$tmp/hdr.c"
  cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$1" "$tmp/hdr.c" \
    >"$tmp/hdr.log" 2>&1
}
while read -r h; do
  if cc_header "$prefix/include" "$h"; then
    ok "$h compiles alone"
  else
    ko "$h compiles alone"; cat "$tmp/hdr.log"
  fi
done <"$tmp/headers.got"
# the check fails for a header that includes one that is not installed
cp -r "$prefix/include" "$tmp/badinc"
printf '#include "registry.h"\n#include "reader.h"\n' >"$tmp/badinc/execrpc/bad.h"
if cc_header "$tmp/badinc" execrpc/bad.h; then
  ko "a header including the uninstalled reader.h compiles"
elif grep -q 'reader.h' "$tmp/hdr.log"; then
  ok "a header including the uninstalled reader.h fails the check"
else
  ko "bad.h failed for another reason"; cat "$tmp/hdr.log"
fi

# ---- 3. the archive ----------------------------------------------------------
sdk=$libdir/libexecrpc.a
cli=$libdir/libexecrpc-client.a
defined() { nm --defined-only "$1" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDRB]/ { print $3 }' | LC_ALL=C sort -u; }
defined "$sdk" >"$tmp/sdk.def"
defined "$cli" >"$tmp/cli.def"
for sym in xr_main xr_main_run xr_lifecycle_new xr_transport_new xr_runtime_worker_main \
    xr_supervisor_new xr_worker_main xr_server_new xr_registry_new \
    xr_registry_add_methods xr_registry_on_free xr_call_reply xr_config_load_string \
    execrpc__v1__envelope__descriptor; do
  if grep -qx "$sym" "$tmp/sdk.def"; then ok "libexecrpc.a defines $sym"; else ko "libexecrpc.a lacks $sym"; fi
done
if grep -qi 'fundload' "$tmp/sdk.def"; then
  ko "libexecrpc.a holds fundload code"; grep -i fundload "$tmp/sdk.def" | head -3
else
  ok "no fundload in libexecrpc.a"
fi
# the wire core is the client archive's, once
dups=$(LC_ALL=C comm -12 "$tmp/sdk.def" "$tmp/cli.def" | grep '^xr_' | head -5)
if [ -z "$dups" ]; then ok "no xr_ symbol defined in both archives"; else ko "defined twice: $dups"; fi
nm -u "$sdk" 2>/dev/null | awk '{ print $2 }' | grep '^xr_' | LC_ALL=C sort -u \
  >"$tmp/sdk.undef"
LC_ALL=C sort -u "$tmp/sdk.def" "$tmp/cli.def" >"$tmp/all.def"
missing=$(LC_ALL=C comm -23 "$tmp/sdk.undef" "$tmp/all.def" | head -5)
if [ -s "$tmp/sdk.undef" ] && [ -z "$missing" ]; then
  ok "every xr_ symbol libexecrpc.a uses is in libexecrpc.a or libexecrpc-client.a"
else
  ko "xr_ symbols defined nowhere: ${missing:-(no undefined xr_ symbols seen)}"
fi

# ---- 4. the CMake consumer ---------------------------------------------------
cons=$tmp/consumer
cp -r "$here/consumer" "$cons"
want_run() { # transport
  cat <<EOF
$1: ready
put a: created
put a: replaced
get a: b2
get zz: status 5 no key zz
note max 41
stopped
EOF
}
check_run() { # name binary transport
  if "$2" "$3" >"$tmp/$1.$3.out" 2>"$tmp/$1.$3.err"; then
    ok "$1 $3 runs"
  else
    ko "$1 $3 runs (exit $?)"; cat "$tmp/$1.$3.err"
  fi
  if want_run "$3" | diff -u - "$tmp/$1.$3.out"; then
    ok "$1 $3: exact output"
  else
    ko "$1 $3: output differs"
  fi
}
if cmake -S "$cons" -B "$cons/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" \
    >"$tmp/cm.log" 2>&1 &&
   cmake --build "$cons/build" --verbose >>"$tmp/cm.log" 2>&1; then
  ok "find_package consumer generates, compiles and links"
  for t in memory tcp_local; do
    check_run find_package "$cons/build/kvdemo" "$t"
  done
else
  ko "find_package consumer generates, compiles and links"; tail -40 "$tmp/cm.log"
fi
gen=$cons/build/execrpc_gen/kv
for f in kv/v1/kv.pb-c.c kv/v1/kv.pb-c.h kv/v1/kv.pb.c kv/v1/kv.pb.h \
    kv/v1/kv.xr.c kv/v1/kv.xr.h kv/v1/kv.xrc.c kv/v1/kv.xrc.h; do
  if [ -f "$gen/$f" ]; then ok "generated $f"; else ko "not generated: $f"; fi
done
# by the installed plugin, with the .options next to kv.proto: the
# server's limit of Put's request is nanopb's kv_v1_PutRequest_size
if grep -q -- "--plugin=protoc-gen-execrpc=$prefix/bin/protoc-gen-execrpc" "$tmp/cm.log"; then
  ok "execrpc_generate ran the installed protoc-gen-execrpc"
else
  ko "execrpc_generate did not run $prefix/bin/protoc-gen-execrpc"
fi
if grep -q '^#define kv_v1_Kv_Put_REQ_MAX 98u$' "$gen/kv/v1/kv.xr.h" 2>/dev/null &&
   grep -q '^#define kv_v1_PutRequest_size *98$' "$gen/kv/v1/kv.pb.h" 2>/dev/null; then
  ok "kv.v1.Kv/Put: REQ_MAX 98 on the server, PutRequest_size 98 in nanopb"
else
  ko "kv.v1.Kv/Put limits"; grep -h 'Put_REQ_MAX\|PutRequest_size' "$gen"/kv/v1/kv.* 2>/dev/null
fi
# the source tree is never on the consumer's include path
if grep -q -- "-I$src\|-I$build" "$tmp/cm.log" 2>/dev/null; then
  ko "the consumer compiled against the source or build tree"
else
  ok "the consumer compiled against the installed prefix only"
fi

# ---- 5. the pkg-config consumer ----------------------------------------------
export PKG_CONFIG_PATH=$libdir/pkgconfig
if flags=$(pkg-config --cflags --libs execrpc 2>"$tmp/pc.err"); then
  ok "pkg-config --cflags --libs execrpc"
else
  ko "pkg-config execrpc"; cat "$tmp/pc.err"; finish
fi
case " $flags " in
*" -lexecrpc "*"-lexecrpc-client "*) ok "-lexecrpc before -lexecrpc-client" ;;
*) ko "link order: $flags" ;;
esac
for l in -lprotobuf-c -levent_core -lyaml -ljansson -lmbedcrypto -lnettle -lprotobuf-nanopb; do
  case " $flags " in
  *" $l "*) ok "pkg-config names $l" ;;
  *) ko "pkg-config lacks $l: $flags" ;;
  esac
done
# the SDK's include path does not shadow a system header of the same name
# (execrpc/err.h is reached as "execrpc/err.h" only; <err.h> is glibc's)
printf '#include <err.h>\n#include <execrpc/runtime.h>\nvoid f(void);\nvoid f(void) { warnx("%%d", XR_OK); }\n' \
  >"$tmp/shadow.c"
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Werror -fsyntax-only $(pkg-config --cflags execrpc) \
    "$tmp/shadow.c" >"$tmp/shadow.log" 2>&1; then
  ok "<err.h> beside <execrpc/runtime.h> is the system's"
else
  ko "<err.h> beside <execrpc/runtime.h>"; cat "$tmp/shadow.log"
fi
if [ "$(pkg-config --modversion execrpc)" = "$(pkg-config --modversion execrpc-client)" ]; then
  ok "execrpc and execrpc-client versions agree"
else
  ko "versions differ"
fi
# shellcheck disable=SC2086
if cc -std=c11 $extra -I"$gen" "$cons/main.c" "$cons/kv_service.c" "$cons/note.c" \
    "$gen/kv/v1/kv.pb-c.c" "$gen/kv/v1/kv.pb.c" \
    "$gen/kv/v1/kv.xr.c" "$gen/kv/v1/kv.xrc.c" \
    "$cons/build/execrpc_gen/note/note/v1/note.pb.c" \
    -I"$cons/build/execrpc_gen/note" -o "$tmp/kvdemo_pc" $flags \
    >"$tmp/pc.log" 2>&1; then
  ok "pkg-config consumer compiles and links"
  for t in memory tcp_local; do
    check_run pkg-config "$tmp/kvdemo_pc" "$t"
  done
else
  ko "pkg-config consumer compiles and links"; cat "$tmp/pc.log"
fi

# an edited .options regenerates both sides with the new bound
sed -i 's/^kv.v1.PutRequest.value   max_size:64$/kv.v1.PutRequest.value   max_size:48/' \
  "$cons/proto/kv/v1/kv.options"
if cmake --build "$cons/build" >"$tmp/cm2.log" 2>&1 &&
   grep -q '^#define kv_v1_Kv_Put_REQ_MAX 82u$' "$gen/kv/v1/kv.xr.h" &&
   grep -q '^#define kv_v1_PutRequest_size *82$' "$gen/kv/v1/kv.pb.h"; then
  ok "kv.options edited: rebuilt with REQ_MAX 82 and PutRequest_size 82"
else
  ko "kv.options edited"; cat "$tmp/cm2.log"
  grep -h 'Put_REQ_MAX\|PutRequest_size' "$gen"/kv/v1/kv.* 2>/dev/null
fi

# ---- 6. the same service as a complete program (xr_main) ---------------------
kvs=$cons/build/kvserver
if "$kvs" --help >"$tmp/help.out" 2>&1 && grep -qx '  kv.v1.Kv' "$tmp/help.out"; then
  ok "kvserver --help lists kv.v1.Kv"
else
  ko "kvserver --help"; cat "$tmp/help.out"
fi
cat >"$tmp/sup.yaml" <<EOF
runtime:
  platform:
    bootstrap:
      mode: process_supervisor
    execution_ipc:
      transport: tcp_local
    control:
      socket: $tmp/ctl.sock
    process_groups:
      - name: kv
        workers: 2
        services: [kv.v1.Kv]
EOF
sed 's/\[kv.v1.Kv\]/[kv.v1.Kv, other.v1.Svc]/' "$tmp/sup.yaml" >"$tmp/bad.yaml"
if [ "$("$kvs" config check "$tmp/sup.yaml" 2>&1)" = ok ]; then
  ok "kvserver config check: ok"
else
  ko "kvserver config check"; "$kvs" config check "$tmp/sup.yaml"
fi
"$kvs" config check "$tmp/bad.yaml" >"$tmp/bad.out" 2>&1
st=$?
if [ "$st" = 4 ] && grep -q 'no module provides "other.v1.Svc" (this program contains: kv.v1.Kv)' "$tmp/bad.out"; then
  ok "kvserver config check of a service it lacks: exit 4, names what it contains"
else
  ko "kvserver config check bad.yaml: exit $st"; cat "$tmp/bad.out"
fi
# supervised: 2 workers (kvserver re-executed), called with the installed
# execrpc through the control socket, stopped gracefully
protoc -I"$cons/proto" --descriptor_set_out="$tmp/kv.protoset" --include_imports \
  "$cons/proto/kv/v1/kv.proto"
"$kvs" --config "$tmp/sup.yaml" >"$tmp/sup.out" 2>"$tmp/sup.err" &
kvs_pid=$!
workers() { grep -c '^worker kv [01] pid [0-9]* port [0-9]*$' "$tmp/sup.out"; }
for _ in $(seq 100); do
  [ "$(workers)" = 2 ] && break
  sleep 0.1
done
if [ "$(workers)" = 2 ]; then
  ok "kvserver --config: 2 workers ready"
else
  ko "kvserver --config: workers"; cat "$tmp/sup.out" "$tmp/sup.err"
fi
call() { # METHOD JSON: prints "EXIT OUTPUT" (stdout and stderr)
  local out
  out=$("$prefix/bin/execrpc" call --control "$tmp/ctl.sock" \
    --protoset "$tmp/kv.protoset" --key a "$1" "$2" 2>&1)
  echo "$? $out"
}
for c in 'kv.v1.Kv/Put|{"key":"a","value":"b"}|0 {"created":true}' \
    'kv.v1.Kv/Get|{"key":"a"}|0 {"value":"b"}' \
    'kv.v1.Kv/Get|{"key":"zz"}|105 execrpc: NOT_FOUND (status 5): no key zz'; do
  IFS='|' read -r m req want <<<"$c"
  got=$(call "$m" "$req")
  if [ "$got" = "$want" ]; then
    ok "execrpc call $m $req: $want"
  else
    ko "execrpc call $m $req: got '$got', want '$want'"
  fi
done
"$prefix/bin/execrpc" stop --control "$tmp/ctl.sock" >/dev/null 2>&1
for _ in $(seq 100); do
  kill -0 "$kvs_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$kvs_pid" 2>/dev/null; then
  ko "kvserver still running 10 s after execrpc stop"; kill -KILL "$kvs_pid"
fi
wait "$kvs_pid"
st=$?
kvs_pid=
if [ "$st" = 0 ] && grep -qx 'stop kv graceful' "$tmp/sup.out"; then
  ok "execrpc stop: kvserver stopped its group gracefully, exit 0"
else
  ko "kvserver after stop: exit $st"; cat "$tmp/sup.out" "$tmp/sup.err"
fi

# ---- 7. what find_package says when something is missing ---------------------
# find_probe PREFIX FIND_PACKAGE_ARGS [MORE_CMAKE]: configure a project that
# calls find_package(execrpc REQUIRED ARGS), says what it got, then runs
# MORE_CMAKE; the log is $tmp/probe.log.
probe=$tmp/probe
mkdir -p "$probe"
find_probe() {
  cat >"$probe/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(probe C)
find_package(execrpc REQUIRED $2)
foreach(t execrpc::client execrpc::server)
  if(TARGET \${t})
    message(STATUS "probe: \${t}")
  endif()
endforeach()
if(COMMAND execrpc_generate)
  message(STATUS "probe: execrpc_generate")
endif()
${3:-}
EOF
  rm -rf "$probe/build"
  cmake -S "$probe" -B "$probe/build" -DCMAKE_PREFIX_PATH="$1" >"$tmp/probe.log" 2>&1
}
if find_probe "$prefix" "" &&
   [ "$(grep -c '^-- probe: ' "$tmp/probe.log")" = 3 ]; then
  ok "find_package(execrpc): execrpc::client, execrpc::server, execrpc_generate"
else
  ko "find_package(execrpc) on the full prefix"; cat "$tmp/probe.log"
fi
# a prefix with the client component only
client_only=$tmp/client_only
if cmake --install "$build" --prefix "$client_only" --component client \
    >"$tmp/install_client.log" 2>&1 && [ ! -e "$client_only/${libdir#"$prefix"/}/libexecrpc.a" ]; then
  ok "cmake --install --component client: no libexecrpc.a"
else
  ko "client-only install"; cat "$tmp/install_client.log"
fi
if find_probe "$client_only" "" && grep -q '^-- probe: execrpc::client' "$tmp/probe.log" &&
   ! grep -q '^-- probe: execrpc::server\|probe: execrpc_generate' "$tmp/probe.log"; then
  ok "client-only prefix: find_package(execrpc) gives execrpc::client only"
else
  ko "client-only prefix, no components"; cat "$tmp/probe.log"
fi
if find_probe "$client_only" "COMPONENTS server"; then
  ko "COMPONENTS server found on a client-only prefix"
elif grep -q 'execrpc: not found: component server' "$tmp/probe.log"; then
  ok "COMPONENTS server on a client-only prefix names the missing component"
else
  ko "COMPONENTS server: unexpected failure"; cat "$tmp/probe.log"
fi
# execrpc_generate() with the plugin (the default) where it is not installed
noplug=$tmp/noplug
cp -r "$prefix" "$noplug"
rm -f "$noplug/bin/protoc-gen-execrpc"
printf 'syntax = "proto3";\npackage p.v1;\nmessage M { uint32 n = 1; }\n' \
  >"$probe/m.proto"
probe_gen='
add_library(p OBJECT m.proto)
execrpc_generate(TARGET p PROTOS m.proto)'
if find_probe "$noplug" "" "$probe_gen"; then
  ko "execrpc_generate without an installed plugin configures"
elif grep -q 'protoc-gen-execrpc is not installed with the' "$tmp/probe.log"; then
  ok "execrpc_generate without an installed plugin says so"
else
  ko "execrpc_generate without the plugin: unexpected failure"; cat "$tmp/probe.log"
fi
if find_probe "$noplug" "" "${probe_gen%)} PLUGIN OFF BOGUS x)"; then
  ko "execrpc_generate with an unknown argument configures"
elif grep -q 'unknown arguments: BOGUS;x' "$tmp/probe.log"; then
  ok "execrpc_generate names an unknown argument"
else
  ko "execrpc_generate BOGUS: unexpected failure"; cat "$tmp/probe.log"
fi
if find_probe "$noplug" "" "${probe_gen%)} PLUGIN OFF)"; then
  ok "execrpc_generate(PLUGIN OFF) configures without the plugin"
else
  ko "execrpc_generate(PLUGIN OFF) without the plugin"; cat "$tmp/probe.log"
fi
if find_probe "$prefix" "COMPONENTS client bogus"; then
  ko "COMPONENTS bogus found"
elif grep -q 'unknown component bogus (known: client, server)' "$tmp/probe.log"; then
  ok "an unknown component is named"
else
  ko "COMPONENTS bogus: unexpected failure"; cat "$tmp/probe.log"
fi
finish
