#!/usr/bin/python3
"""Interop test: a raw Python client, frame by frame on a blocking socket,
against execrpc-server (wire protocol v1, docs/protocol.md). Keys, frames
and the receive checks are the Python package's (python/execrpc: keys,
wire; docs/python.md), on PYTHONPATH. Prints `ok - NAME` / `not ok - NAME:
REASON` per check, then `N passed, M failed`; exits 1 on any failure."""
import argparse
import base64
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from execrpc import keys as xrkeys
from execrpc import wire
from execrpc.examples.echo.v1 import echo_pb2
from execrpc.v1 import frame_pb2 as pb
from execrpc.v1 import lifecycle_pb2 as lc_pb2

MAX_PAYLOAD = 65536
MAX_BODY = wire.max_body(MAX_PAYLOAD)
TX, RX = xrkeys.WEB_TO_EXEC, xrkeys.EXEC_TO_WEB


class Fail(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Fail(msg)


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def run(self, name, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # a crash in a check is that check's failure
            self.failed += 1
            why = str(e) if isinstance(e, Fail) else f"{type(e).__name__}: {e}"
            print(f"not ok - {name}: {why}", flush=True)
            return
        self.passed += 1
        print(f"ok - {name}", flush=True)


# ---------- one connection ----------

class Conn:
    def __init__(self, port, keys):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.keys, self.session = keys, wire.Session()
        self.rx = wire.Rx(keys[RX], RX, wire.CLIENT_KINDS, 30000, MAX_BODY)
        self.call_id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def frame(self, kind, **fields):
        """Signs a fresh envelope; returns the wire bytes (prefix + Frame)."""
        env = wire.envelope(kind, **fields)
        return wire.seal(self.keys[TX], TX, env.SerializeToString())

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                need(not buf, f"peer closed mid-frame ({len(buf)}/{n} bytes)")
                return None
            buf += chunk
        return buf

    def recv(self):
        """Next Envelope that passes the client's receive pipeline
        (execrpc.wire.Rx: length, tag, shape, kind, ttl, session and
        sequence), or None when the peer closed."""
        head = self.recv_exact(4)
        if head is None:
            return None
        (n,) = struct.unpack(">I", head)
        try:
            self.rx.check_len(n)
            return self.rx.frame(self.session, self.recv_exact(n) or b"")
        except wire.Reject as r:
            raise Fail(f"server frame refused: {r}") from None

    def hello(self, name="interop-py"):
        frame = self.frame(pb.KIND_HELLO,
                           payload=pb.Hello(client_name=name).SerializeToString())
        nonce = pb.Envelope.FromString(wire.split(frame[4:])[0]).nonce
        self.session.state, self.session.hello_nonce = wire.Session.PENDING, nonce
        self.sock.sendall(frame)
        ack = self.recv()
        need(ack is not None, "server closed instead of HELLO_ACK")
        need(ack.kind == pb.KIND_HELLO_ACK, f"expected HELLO_ACK, got kind {ack.kind}")
        need(ack.ack_nonce == nonce, "HELLO_ACK.ack_nonce != HELLO.nonce")
        need(len(ack.session_id) == 16, f"session_id of {len(ack.session_id)} bytes")
        return pb.HelloAck.FromString(ack.payload)

    def request_frame(self, method, msg):
        """The next REQUEST: (call_id, wire bytes)."""
        self.call_id += 1
        return self.call_id, self.frame(
            pb.KIND_REQUEST, session_id=self.session.id, sequence=self.session.next_seq(),
            call_id=self.call_id, method=method, timeout_ms=5000,
            payload=msg.SerializeToString())

    def call(self, method, msg):
        """One unary call; returns (RESPONSE envelope, REQUEST wire bytes)."""
        cid, wire = self.request_frame(method, msg)
        self.sock.sendall(wire)
        env = self.recv()
        need(env is not None, f"{method}: server closed instead of RESPONSE")
        need(env.kind == pb.KIND_RESPONSE, f"{method}: got kind {env.kind}")
        need(env.call_id == cid, f"{method}: call_id {env.call_id} != {cid}")
        return env, wire

    def expect_close(self, secs, ctx=""):
        """Reads until the peer closes; fails on timeout or any RESPONSE."""
        deadline = time.monotonic() + secs
        try:
            while True:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                env = self.recv()
                if env is None:
                    return
                need(env.kind != pb.KIND_RESPONSE,
                     f"{ctx}got a RESPONSE (call {env.call_id}) before the close")
        except socket.timeout:
            raise Fail(f"{ctx}connection still open after {secs} s")
        except ConnectionResetError:
            return  # closed (RST): counts as closed


# ---------- server ----------

def start_server(binary, tmp):
    secret = os.urandom(48)
    while secret[-1:] in (b"\n", b"\r"):  # the server strips those
        secret = os.urandom(48)
    secret_path = os.path.join(tmp, "secret")
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, secret + b"\n")
    os.close(fd)
    cfg_path = os.path.join(tmp, "config.yaml")
    with open(cfg_path, "w") as f:
        f.write(f"""runtime:
  platform:
    execution_ipc:
      transport: tcp_local
      bind_host: 127.0.0.1
      bind_port: 0
      max_payload_bytes: {MAX_PAYLOAD}
      auth: {{mode: hmac, secret_mode: static, secret_file: {secret_path}, kdf: hkdf_sha256, ttl_seconds: 30}}
""")
    log_path = os.path.join(tmp, "server.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary, "--config", cfg_path, "--log-level", "debug"],
                                stdout=subprocess.PIPE, stderr=log)
    return proc, secret_path, log_path


def read_port(proc, log_path):
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline().decode() if ready else ""
    parts = line.split()
    if len(parts) != 3 or parts[0] != "listening":
        with open(log_path, "rb") as f:
            err = f.read().decode(errors="replace")
        raise SystemExit(f"server did not start (stdout {line!r}, exit {proc.poll()}):\n{err}")
    return int(parts[2])


# ---------- checks ----------

def check_echo(port, keys, text):
    with Conn(port, keys) as c:
        c.hello()
        env, _ = c.call("echo.v1.Echo/Say", echo_pb2.SayRequest(text=text))
        need(env.status.code == pb.STATUS_OK,
             f"status {env.status.code} ({env.status.message!r})")
        got = echo_pb2.SayResponse.FromString(env.payload).text
        need(got == text, f"echoed {len(got)} chars, sent {len(text)}")


def check_echo_refused(port, keys, text, code, message):
    # echo.v1.Echo's limits come from proto/echo/v1/echo.options (text up
    # to 4095 bytes, what a nanopb client can hold): past them, refused
    with Conn(port, keys) as c:
        c.hello()
        env, _ = c.call("echo.v1.Echo/Say", echo_pb2.SayRequest(text=text))
        need(env.status.code == code and env.status.message == message,
             f"status {env.status.code} ({env.status.message!r}), want {code} ({message!r})")
        need(not env.payload, "error RESPONSE carries a payload")


def check_unknown_method(port, keys):
    with Conn(port, keys) as c:
        c.hello()
        env, _ = c.call("echo.v1.Echo/NoSuchMethod", echo_pb2.SayRequest(text="x"))
        need(env.status.code == pb.STATUS_UNIMPLEMENTED,
             f"status {env.status.code}, want UNIMPLEMENTED ({pb.STATUS_UNIMPLEMENTED})")
        need(not env.payload, "error RESPONSE carries a payload")


def check_bad_tag(port, keys):
    with Conn(port, keys) as c:
        c.hello()
        wire = bytearray(c.request_frame("echo.v1.Echo/Say", echo_pb2.SayRequest(text="t"))[1])
        wire[-1] ^= 0x01  # the tag is the Frame's last field: flip its last bit
        c.sock.sendall(bytes(wire))
        c.expect_close(2)


def check_replay(port, keys):
    with Conn(port, keys) as c:
        c.hello()
        env, captured = c.call("echo.v1.Echo/Say", echo_pb2.SayRequest(text="once"))
        need(env.status.code == pb.STATUS_OK, f"first call: status {env.status.code}")
        c.sock.sendall(captured)
        c.expect_close(2, "same connection: ")
    with Conn(port, keys) as c:
        c.hello()
        c.sock.sendall(captured)
        c.expect_close(2, "fresh connection: ")


def check_oversized(port, keys):
    with Conn(port, keys) as c:
        c.sock.sendall(struct.pack(">I", MAX_BODY + 1))  # and no body
        c.expect_close(1)


def check_stats(port, keys):
    with Conn(port, keys) as c:
        c.hello()
        env, _ = c.call("execrpc.v1.Endpoint/Stats", lc_pb2.StatsRequest())
        need(env.status.code == pb.STATUS_OK, f"status {env.status.code}")
        ws = lc_pb2.WorkerStatus.FromString(env.payload)
        # rejects_by_kind is indexed by xr_reject (core/err.h)
        kinds = ["oversized", "bad_signature", "malformed",
                 "kind_not_allowed", "expired", "replay"]
        need(len(ws.rejects_by_kind) == len(kinds),
             f"{len(ws.rejects_by_kind)} reject kinds, want {len(kinds)}")
        want = dict(bad_signature=1, replay=2, oversized=1, malformed=0,
                    expired=0, kind_not_allowed=0)
        got = dict(zip(kinds, ws.rejects_by_kind))
        need(got == want, f"rejects {got}, want {want}")


def check_sigterm(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        raise Fail("still running 5 s after SIGTERM")
    need(rc == 0, f"exit status {rc}")


def check_log(log_path, secret_path, keys):
    with open(log_path, "rb") as f:
        log = f.read()
    with open(secret_path, "rb") as f:
        raw = f.read()
    need(log.strip(), "the debug log is empty (nothing to check)")
    items = {"secret file": raw, "secret": raw[:-1]}
    items.update({f"key {k.decode()}": keys[k] for k in xrkeys.LABELS})
    for what, b in items.items():
        forms = {"raw": b, "hex": b.hex().encode(), "HEX": b.hex().upper().encode(),
                 "base64": base64.b64encode(b), "base64url": base64.urlsafe_b64encode(b)}
        for form, needle in forms.items():
            needle = needle.rstrip(b"=")
            need(needle not in log, f"{what} appears in the log as {form}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True)
    args = ap.parse_args()

    rep = Report()
    with tempfile.TemporaryDirectory(prefix="xr-interop-") as tmp:
        proc, secret_path, log_path = start_server(args.server, tmp)
        try:
            port = read_port(proc, log_path)
            keys = xrkeys.derive(xrkeys.load_secret_file(secret_path), "hkdf_sha256")
            rep.run("echo: unicode text", check_echo, port, keys,
                    "héllo wörld ✓ 日本語 🚀")
            rep.run("echo: 4095-byte text (the declared bound)", check_echo, port, keys,
                    "abcdefghij" * 409 + "abcde")
            rep.run("echo: 4096-byte text is INVALID_ARGUMENT", check_echo_refused,
                    port, keys, "x" * 4096, pb.STATUS_INVALID_ARGUMENT,
                    "echo.v1.Echo/Say request: field echo.v1.SayRequest.text "
                    "is 4096 bytes, over its declared 4095")
            rep.run("echo: 10000-byte text is RESOURCE_EXHAUSTED", check_echo_refused,
                    port, keys, "abcdefghij" * 1000, pb.STATUS_RESOURCE_EXHAUSTED,
                    "request is 10003 bytes, over the 4110-byte limit of echo.v1.Echo/Say")
            rep.run("SEC-IPC-02 flipped tag bit closes, no RESPONSE", check_bad_tag, port, keys)
            rep.run("SEC-IPC-04 replayed REQUEST closes (same and fresh connection)",
                    check_replay, port, keys)
            rep.run("SEC-IPC-05 oversized length prefix closes within 1 s",
                    check_oversized, port, keys)
            rep.run("unknown method is UNIMPLEMENTED", check_unknown_method, port, keys)
            rep.run("Endpoint/Stats reject counters exact", check_stats, port, keys)
            rep.run("SIGTERM exits 0 within 5 s", check_sigterm, proc)
            rep.run("SEC-IPC-08 no secret or key material in the debug log",
                    check_log, log_path, secret_path, keys)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print(f"{rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
