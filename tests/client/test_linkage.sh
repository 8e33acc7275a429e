#!/usr/bin/env bash
# tests/client/test_linkage.sh — libexecrpc-client is self-contained and
# free of protobuf-c, and installs into a prefix that an out-of-tree
# consumer builds against with pkg-config and with find_package(execrpc).
#
# Usage: test_linkage.sh BUILD_DIR SOURCE_DIR [EXTRA_FLAGS]
#   EXTRA_FLAGS: compiler+linker flags the archive needs (the sanitizer
#   flags of an XR_SANITIZE build).
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

build=${1:?build dir}
src=${2:?source dir}
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

lib=$build/client/libexecrpc-client.a
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the archive -------------------------------------------------------------
if [ -f "$lib" ]; then ok "archive exists"; else ko "no $lib"; finish; fi
if nm "$lib" 2>/dev/null | grep -q 'protobuf_c_'; then
  ko "archive references protobuf_c_ symbols"
  nm "$lib" | grep 'protobuf_c_' | head -5
else
  ok "no protobuf_c_ symbol in the archive"
fi
if nm -u "$lib" 2>/dev/null | grep -q 'protobuf_c_'; then
  ko "archive has undefined protobuf_c_ symbols"
else
  ok "no undefined protobuf_c_ symbol"
fi
# the wire core and the nanopb descriptors are inside
for sym in xr_rx_frame xr_auth_verify xr_frame_split execrpc_v1_Envelope_msg \
    echo_v1_SayRequest_msg xr_channel_new_tcp xr_channel_new_memory \
    xr_channel_new_memory_opts xr_call_sync xr_call_start_msg; do
  if nm --defined-only "$lib" 2>/dev/null | grep -q " T $sym\$\| [DR] $sym\$"; then
    ok "archive defines $sym"
  else
    ko "archive lacks $sym"
  fi
done

# ---- install -----------------------------------------------------------------
prefix=$tmp/prefix
if cmake --install "$build" --prefix "$prefix" --component client \
    >"$tmp/install.log" 2>&1; then
  ok "cmake --install"
else
  ko "cmake --install"; cat "$tmp/install.log"; finish
fi
for f in include/execrpc/client.h include/execrpc/err.h \
    include/execrpc/keys.h include/execrpc/dispatch.h \
    include/execrpc/echo/v1/echo.pb.h; do
  if [ -f "$prefix/$f" ]; then ok "installed $f"; else ko "missing $f"; fi
done
pc=$(find "$prefix" -name execrpc-client.pc | head -1)
cfg=$(find "$prefix" -name execrpcConfig.cmake | head -1)
ver=$(find "$prefix" -name execrpcConfigVersion.cmake | head -1)
alib=$(find "$prefix" -name libexecrpc-client.a | head -1)
for v in pc cfg ver alib; do
  if [ -n "${!v}" ]; then ok "installed ${!v#"$prefix"/}"; else ko "missing $v"; fi
done
[ -n "$pc" ] && [ -n "$cfg" ] && [ -n "$alib" ] || finish

# ---- a consumer --------------------------------------------------------------
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/consumer.c" <<'EOF'
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "execrpc/client.h"
#include "execrpc/echo/v1/echo.pb.h"

static void *
echo_start(void *arg, const char *method, const uint8_t *req, size_t len,
    uint32_t timeout_ms, xr_local_done_fn done, void *done_arg)
{
	(void)arg; (void)method; (void)timeout_ms;
	done(done_arg, XR_STATUS_OK, "", req, len);
	return NULL;
}

/* the async call on messages, as a generated stub's trampoline uses it */
static void
say_deliver(void (*cb)(void), void *arg, const xr_status *st,
    const void *resp)
{
	const echo_v1_SayResponse *r = resp;

	(void)cb;
	*(int *)arg = st->code == XR_STATUS_OK && r != NULL &&
	    strcmp(r->text, "linked") == 0 ? 1 : -1;
}

int
main(void)
{
	struct event_base *base = event_base_new();
	xr_local_target tgt = { echo_start, NULL, NULL };
	echo_v1_SayRequest req = echo_v1_SayRequest_init_zero;
	echo_v1_SayResponse resp = echo_v1_SayResponse_init_zero;
	uint8_t master[32] = { 1, 2, 3 };
	xr_channel_opts o;
	xr_keyset ks;
	xr_channel *ch;
	xr_status st;
	int err, async = 0;

	ch = xr_channel_new_memory(base, &tgt);
	strcpy(req.text, "linked");
	if (xr_call_sync(ch, "echo.v1.Echo/Say", echo_v1_SayRequest_fields,
	    &req, echo_v1_SayResponse_fields, &resp, 1000, &st) != 0 ||
	    strcmp(resp.text, "linked") != 0)
		return 1;
	if (xr_call_start_msg(ch, "echo.v1.Echo/Say", echo_v1_SayRequest_fields,
	    &req, echo_v1_SayResponse_fields, sizeof(resp), 1000, say_deliver,
	    NULL, &async) != NULL || async != 1)
		return 5;
	xr_channel_free(ch);
	/* the memory channel's limits, from the installed header */
	memset(&o, 0, sizeof(o));
	o.max_payload_bytes = 4;
	ch = xr_channel_new_memory_opts(base, &tgt, &o);
	if (ch == NULL || xr_call_sync(ch, "echo.v1.Echo/Say",
	    echo_v1_SayRequest_fields, &req, echo_v1_SayResponse_fields, &resp,
	    1000, &st) != XR_STATUS_INVALID_ARGUMENT)
		return 4;
	xr_channel_free(ch);
	if (xr_keys_derive(master, sizeof(master), XR_KDF_HKDF_SHA256, &ks) != 0)
		return 2;
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = 1;
	if ((ch = xr_channel_new_tcp(base, &o, &ks, &err)) == NULL)
		return 3;
	xr_channel_free(ch);
	xr_keyset_wipe(&ks);
	event_base_free(base);
	printf("consumer ok: %s\n", xr_strerror(0));
	return 0;
}
EOF

check_binary() { # name binary linklog
  if "$2" >"$tmp/$1.out" 2>&1; then ok "$1 runs"; else ko "$1 runs"; cat "$tmp/$1.out"; fi
  if grep -qi 'protobuf-c' "$3"; then ko "$1 link line names protobuf-c"; else ok "$1 link line has no protobuf-c"; fi
  if ldd "$2" 2>/dev/null | grep -qi 'protobuf-c'; then
    ko "$1 depends on libprotobuf-c"
  else
    ok "$1 does not depend on libprotobuf-c"
  fi
}

# 1. pkg-config, plain --libs (the archive's dependencies are public)
export PKG_CONFIG_PATH=$(dirname "$pc")
if flags=$(pkg-config --cflags --libs execrpc-client 2>"$tmp/pc.err"); then
  ok "pkg-config execrpc-client"
else
  ko "pkg-config execrpc-client"; cat "$tmp/pc.err"; finish
fi
echo "cc consumer.c $flags" >"$tmp/pc.link"
# shellcheck disable=SC2086
if cc -std=c11 $extra "$tmp/consumer/consumer.c" -o "$tmp/consumer_pc" $flags \
    >>"$tmp/pc.link" 2>&1; then
  ok "pkg-config consumer compiles and links"
  check_binary pkg-config "$tmp/consumer_pc" "$tmp/pc.link"
else
  ko "pkg-config consumer compiles and links"; cat "$tmp/pc.link"
fi

# 2. find_package(execrpc)
cat >"$tmp/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(execrpc_consumer C)
find_package(execrpc 0.1 REQUIRED)
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE execrpc::client)
EOF
if cmake -S "$tmp/consumer" -B "$tmp/consumer/build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$extra" \
    -DCMAKE_EXE_LINKER_FLAGS="$extra" >"$tmp/cm.log" 2>&1 &&
   cmake --build "$tmp/consumer/build" --verbose >>"$tmp/cm.log" 2>&1; then
  ok "find_package consumer compiles and links"
  check_binary find_package "$tmp/consumer/build/consumer" "$tmp/cm.log"
else
  ko "find_package consumer compiles and links"; cat "$tmp/cm.log"
fi
finish
