"""tests/python/xrtest.py: what the tests/python checks share — a report
(`ok - NAME` / `not ok - NAME: REASON` per check, then `N passed, M
failed`, exit 1 on a failure), every check bounded by a timeout; secret
files; execrpc-server started on an ephemeral port; a raw peer that signs
its own frames (to replay, forge or oversize them); the endpoint's
reject counters through execrpc.v1.Endpoint/Stats.

The execrpc package comes from PYTHONPATH (the build tree's
tests/python/site, made by `setup.py build_py`: tests/python/CMakeLists.txt).
"""
import asyncio
import os
import select
import signal
import struct
import subprocess
import sys
import time
import traceback

import execrpc
from execrpc import keys as K
from execrpc import wire
from execrpc.v1 import frame_pb2 as pb
from execrpc.v1 import lifecycle_pb2 as lc

REJECT_NAMES = [k.name.lower() for k in wire.RejectKind]
STATS = "execrpc.v1.Endpoint/Stats"


class Fail(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Fail(msg)


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    async def run(self, name, fn, *args, timeout=30):
        """Run `await fn(*args)` within `timeout` seconds."""
        try:
            await asyncio.wait_for(fn(*args), timeout)
        except Exception as e:  # a crash in a check is that check's failure
            self.failed += 1
            if isinstance(e, Fail):
                why = str(e)
            elif isinstance(e, asyncio.TimeoutError):
                why = f"not done within {timeout} s"
            else:
                why = f"{type(e).__name__}: {e}"
                traceback.print_exc()
            print(f"not ok - {name}: {why}", flush=True)
            return
        self.passed += 1
        print(f"ok - {name}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed or not self.passed else 0


async def expect_error(code, coro, message=None):
    """Await `coro`; it must raise RpcError with `code` (and `message`,
    when given). Returns the error."""
    try:
        await coro
    except execrpc.RpcError as e:
        need(e.code == code, f"{e.name} ({e.message!r}), want {execrpc.StatusCode(code).name}")
        need(message is None or e.message == message, f"message {e.message!r}, want {message!r}")
        return e
    raise Fail(f"no error, want {execrpc.StatusCode(code).name}")


def write_secret(tmp, name="secret"):
    """A fresh 48-byte secret in a 0600 file; returns (path, Keyset)."""
    secret = os.urandom(48)
    while secret[-1:] in (b"\n", b"\r"):  # a trailing newline is stripped
        secret = os.urandom(48)
    path = os.path.join(tmp, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, secret + b"\n")
    os.close(fd)
    return path, K.derive(K.load_secret_file(path), "hkdf_sha256")


class Server:
    """execrpc-server (apps/server: echo.v1.Echo) on 127.0.0.1, port 0,
    tcp_local, static secret, kdf hkdf_sha256, max_payload_bytes 65536."""
    MAX_PAYLOAD = 65536

    def __init__(self, binary, tmp, secret_path):
        cfg = os.path.join(tmp, "server.yaml")
        with open(cfg, "w") as f:
            f.write(f"""runtime:
  platform:
    execution_ipc:
      transport: tcp_local
      bind_host: 127.0.0.1
      bind_port: 0
      max_payload_bytes: {self.MAX_PAYLOAD}
      auth: {{mode: hmac, secret_mode: static, secret_file: {secret_path}, kdf: hkdf_sha256, ttl_seconds: 30}}
""")
        self.log_path = os.path.join(tmp, "server.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([binary, "--config", cfg], stdout=subprocess.PIPE,
                                         stderr=log)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode() if ready else ""
        parts = line.split()
        if len(parts) != 3 or parts[0] != "listening":
            self.stop()
            with open(self.log_path, "rb") as f:
                err = f.read().decode(errors="replace")
            raise SystemExit(f"server did not start (stdout {line!r}):\n{err}")
        self.port = int(parts[2])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def sigterm(self):
        self.proc.send_signal(signal.SIGTERM)


async def rejects(port, keys):
    """The endpoint's reject counters by name, read with Endpoint/Stats."""
    async with await execrpc.connect("127.0.0.1", port, keys) as ch:
        ws = await ch.call(STATS, lc.StatsRequest(), lc.WorkerStatus, timeout=5)
    need(len(ws.rejects_by_kind) == len(REJECT_NAMES),
         f"{len(ws.rejects_by_kind)} reject kinds, want {len(REJECT_NAMES)}")
    return dict(zip(REJECT_NAMES, ws.rejects_by_kind)), ws


def delta(before, after):
    return {k: after[k] - before[k] for k in before if after[k] != before[k]}


class RawPeer:
    """A client that builds and signs its own frames on a plain asyncio
    connection: to send captured, forged or oversized ones."""

    def __init__(self, keys):
        self.keys, self.session = keys, wire.Session()
        self.call_id = 0
        self.rx = wire.Rx(keys[K.EXEC_TO_WEB], K.EXEC_TO_WEB, wire.CLIENT_KINDS, 30000,
                          wire.max_body(1 << 20))

    async def open(self, port):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    def close(self):
        self.writer.close()

    def seal(self, env):
        return wire.seal(self.keys[K.WEB_TO_EXEC], K.WEB_TO_EXEC, env.SerializeToString())

    async def hello(self):
        env = wire.envelope(wire.HELLO, payload=pb.Hello(client_name="raw").SerializeToString())
        self.session.state, self.session.hello_nonce = wire.Session.PENDING, env.nonce
        frame = self.seal(env)
        self.writer.write(frame)
        ack = await self.recv()
        need(ack is not None and ack.kind == wire.HELLO_ACK, "no HELLO_ACK")
        return frame

    def request(self, method, msg, timeout_ms=5000):
        """A REQUEST's wire bytes (not sent): (call_id, bytes)."""
        self.call_id += 1
        env = wire.envelope(wire.REQUEST, session_id=self.session.id,
                            sequence=self.session.next_seq(), call_id=self.call_id,
                            method=method, timeout_ms=timeout_ms,
                            payload=msg.SerializeToString())
        return self.call_id, self.seal(env)

    async def recv(self, timeout=5):
        body = await asyncio.wait_for(wire.read_body(self.reader, self.rx), timeout)
        return None if body is None else self.rx.frame(self.session, body)

    async def call(self, method, msg):
        cid, frame = self.request(method, msg)
        self.writer.write(frame)
        env = await self.recv()
        need(env is not None and env.kind == wire.RESPONSE and env.call_id == cid,
             f"{method}: no RESPONSE for call {cid}")
        return env, frame

    async def expect_close(self, secs=3):
        """Reads until the peer closes; fails on a RESPONSE or a timeout."""
        deadline = time.monotonic() + secs
        try:
            while True:
                env = await self.recv(max(0.01, deadline - time.monotonic()))
                if env is None:
                    return
                need(env.kind != wire.RESPONSE, f"a RESPONSE (call {env.call_id}) before the close")
        except asyncio.TimeoutError:
            raise Fail(f"connection still open after {secs} s") from None
        except (ConnectionResetError, asyncio.IncompleteReadError):
            return
        except wire.Reject as r:
            raise Fail(f"a frame came back instead of the close ({r})") from None


def oversize_prefix(max_payload):
    """A length prefix one byte over the body limit, and no body."""
    return struct.pack(">I", wire.max_body(max_payload) + 1)


def main(coro):
    sys.exit(asyncio.run(coro))
