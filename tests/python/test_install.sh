#!/bin/bash
# tests/python/test_install.sh SRC: `pip install --no-index
# --no-build-isolation ./python` works offline with Debian's setuptools and
# protobuf, into a venv that sees the system's site-packages (where
# python3-protobuf is; the venv has no pip of its own, Debian's runs), from
# a copy of the tree (python/ and
# proto/, so the source tree gets no build/ or egg-info), and the installed
# package imports with its generated _pb2 modules and nothing from the
# source tree. Prints `ok - ...` lines; exits 1 on a failure.
set -euo pipefail
src=$1
tmp=$(mktemp -d /tmp/xr-pyinstall.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tree"
cp -r "$src/python" "$src/proto" "$tmp/tree/"
rm -rf "$tmp/tree/python/build" "$tmp/tree/python/"*.egg-info
cd "$tmp"
/usr/bin/python3 -m venv --system-site-packages --without-pip "$tmp/venv"
py=$tmp/venv/bin/python3
if ! "$py" -m pip install -q --no-index --no-build-isolation \
    "$tmp/tree/python" >"$tmp/pip.log" 2>&1; then
  cat "$tmp/pip.log"
  echo "not ok - pip install --no-index --no-build-isolation ./python"
  exit 1
fi
echo "ok - pip install --no-index --no-build-isolation ./python"
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PYTHONDONTWRITEBYTECODE=1 "$py" - "$site" <<'PY'
import os, sys
site = sys.argv[1]
import execrpc
from execrpc import RpcError, StatusCode, wire, testing, channel
from execrpc.v1 import frame_pb2, lifecycle_pb2, bootstrap_pb2
from execrpc.examples.echo.v1 import echo_pb2
from execrpc.examples.fundload.v1 import fundload_pb2
for m in (execrpc, frame_pb2, echo_pb2):
    assert os.path.realpath(m.__file__).startswith(os.path.realpath(site)), m.__file__
assert frame_pb2.Envelope.DESCRIPTOR.full_name == "execrpc.v1.Envelope"
assert echo_pb2.SayRequest.DESCRIPTOR.full_name == "echo.v1.SayRequest"
e = RpcError(4, "deadline exceeded")
assert (e.code, e.name, e.message) == (StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "deadline exceeded")
print("ok - the installed package imports, _pb2 modules generated")
PY
