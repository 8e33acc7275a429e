"""execrpc: a Python client (and a test endpoint) for the execrpc wire
protocol v1 (docs/python.md).

    import execrpc
    from execrpc.examples.echo.v1 import echo_pb2

    keys = execrpc.keys.derive(execrpc.keys.load_secret_file("secret"), "hkdf_sha256")
    async with await execrpc.connect("127.0.0.1", port, keys) as ch:
        reply = await ch.call("echo.v1.Echo/Say", echo_pb2.SayRequest(text="hi"),
                              echo_pb2.SayResponse, timeout=1.0)

Modules: execrpc.keys (key derivation), execrpc.wire (frames, signing,
the receive pipeline, sessions), execrpc.channel (the asyncio channel),
execrpc.status (StatusCode, RpcError), execrpc.testing (an endpoint for
tests). The _pb2 modules are generated at build: execrpc.v1.frame_pb2,
execrpc.v1.lifecycle_pb2, execrpc.v1.bootstrap_pb2,
execrpc.examples.echo.v1.echo_pb2, execrpc.examples.fundload.v1.fundload_pb2.
"""
from . import keys
from .channel import Channel, connect
from .status import RpcError, StatusCode

__all__ = ["Channel", "RpcError", "StatusCode", "connect", "keys"]
