"""python/setup.py: the execrpc Python package (docs/python.md).

The protos' _pb2 modules are generated here, at build time, by protoc
--python_out from the repository's proto/ (never hand-written, never
committed): build_py runs protoc into the build tree. Where they land:
  proto/execrpc/v1/X.proto -> execrpc.v1.X_pb2   (protoc's own path, so a
                              user's proto importing execrpc/v1/frame.proto
                              gets working imports)
  proto/echo/v1/X.proto, proto/fundload/v1/X.proto
                           -> execrpc.examples.<pkg>.v1.X_pb2
(the example services import nothing, so their modules can live anywhere).
The proto directory is ../proto, or $EXECRPC_PROTO_DIR; protoc is found on
PATH, or $PROTOC.

Offline install with Debian's python3-setuptools and python3-protobuf:
  pip install --no-index --no-build-isolation ./python
"""
import glob
import os
import shutil
import subprocess
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.environ.get("EXECRPC_PROTO_DIR", os.path.join(HERE, "..", "proto"))
EXAMPLES = ("echo", "fundload")  # proto/<name>/ -> execrpc.examples.<name>


def module_dir(rel):
    """Where the _pb2 of proto file `rel` (under proto/) goes, relative to
    the build root."""
    top = rel.split(os.sep)[0]
    d = os.path.dirname(rel)
    return d if top == "execrpc" else os.path.join("execrpc", "examples", d)


def gen_protos(build_lib):
    """protoc --python_out for every proto/**/*.proto into build_lib."""
    protoc = os.environ.get("PROTOC") or shutil.which("protoc")
    if not protoc:
        raise SystemExit("execrpc: protoc not found (install protobuf-compiler, or set PROTOC)")
    protos = sorted(glob.glob(os.path.join(PROTO_DIR, "**", "*.proto"), recursive=True))
    if not protos:
        raise SystemExit(f"execrpc: no .proto files under {PROTO_DIR} (set EXECRPC_PROTO_DIR)")
    with tempfile.TemporaryDirectory(prefix="execrpc-pb2-") as tmp:
        subprocess.run([protoc, f"-I{PROTO_DIR}", f"--python_out={tmp}"] + protos, check=True)
        for p in protos:
            rel = os.path.relpath(p, PROTO_DIR)
            name = os.path.basename(rel)[:-len(".proto")] + "_pb2.py"
            dst = os.path.join(build_lib, module_dir(rel))
            os.makedirs(dst, exist_ok=True)
            shutil.copyfile(os.path.join(tmp, os.path.dirname(rel), name), os.path.join(dst, name))
            # every directory from execrpc/ down is a regular package
            d = dst
            while os.path.relpath(d, build_lib) != ".":
                init = os.path.join(d, "__init__.py")
                if not os.path.exists(init):
                    open(init, "w").close()
                d = os.path.dirname(d)


class BuildPyWithProtos(build_py):
    """build_py, then the _pb2 modules into the same build tree."""

    def run(self):
        super().run()
        gen_protos(self.build_lib)


setup(
    name="execrpc",
    version="0.1.0",
    description="Python client and test endpoint for the execrpc wire protocol v1",
    packages=["execrpc"],
    python_requires=">=3.9",
    install_requires=["protobuf>=3.19"],
    cmdclass={"build_py": BuildPyWithProtos},
)
