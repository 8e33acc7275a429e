#!/usr/bin/python3
"""tests/python/test_py_client.py: the Python package (execrpc.channel)
against the C endpoint, execrpc-server (apps/server, echo.v1.Echo), over
loopback TCP. Each check asserts exact codes, bytes and counters (the
endpoint's own, read with execrpc.v1.Endpoint/Stats).

usage: test_py_client.py --server PATH/execrpc-server
"""
import argparse
import asyncio
import tempfile
import time

import execrpc
from execrpc import StatusCode
from execrpc.examples.echo.v1 import echo_pb2
from xrtest import (RawPeer, Report, Server, delta, expect_error, main, need,
                    oversize_prefix, rejects, write_secret)

SAY = "echo.v1.Echo/Say"


async def check_echo(srv, keys):
    text = "héllo wörld ✓ 日本語 🚀 \x01\x7f"  # (a NUL cuts the C echo's text)
    async with await execrpc.connect("127.0.0.1", srv.port, keys) as ch:
        need(ch.hello_ack.max_payload_bytes == Server.MAX_PAYLOAD,
             f"HelloAck.max_payload_bytes {ch.hello_ack.max_payload_bytes}")
        r = await ch.call(SAY, echo_pb2.SayRequest(text=text), echo_pb2.SayResponse, timeout=5)
        need(r.text.encode() == text.encode(), f"echoed {r.text!r}")
        need(r.worker_pid == srv.proc.pid, f"worker_pid {r.worker_pid}, want {srv.proc.pid}")
        big = "abcdefghij" * 409 + "abcde"  # 4095 bytes: echo's declared bound
        raw = await ch.call(SAY, echo_pb2.SayRequest(text=big), timeout=5)
        want = echo_pb2.SayResponse(text=big, worker_pid=srv.proc.pid).SerializeToString()
        need(raw == want, f"reply bytes differ ({len(raw)} vs {len(want)})")


async def check_many(srv, keys):
    n = 200
    async with await execrpc.connect("127.0.0.1", srv.port, keys) as ch:
        t0 = time.monotonic()
        reqs = [echo_pb2.SayRequest(text=f"call {i}", delay_ms=200 + (i * 37) % 300)
                for i in range(n)]
        rs = await asyncio.gather(*[ch.call(SAY, r, echo_pb2.SayResponse, timeout=20)
                                    for r in reqs])
        took = time.monotonic() - t0
        need([r.text for r in rs] == [f"call {i}" for i in range(n)], "replies mismatched")
        # one after the other would take n * 0.2 s = 40 s
        need(took < 15, f"{n} calls of 200..500 ms took {took:.1f} s: not in flight together")
        need(ch.calls_ok == n, f"calls_ok {ch.calls_ok}")


async def check_deadline(srv, keys):
    async with await execrpc.connect("127.0.0.1", srv.port, keys) as ch:
        t0 = time.monotonic()
        await expect_error(StatusCode.DEADLINE_EXCEEDED,
                           ch.call(SAY, echo_pb2.SayRequest(text="slow", delay_ms=5000),
                                   echo_pb2.SayResponse, timeout=0.3))
        took = time.monotonic() - t0
        need(0.29 <= took < 0.3 + 2.0, f"DEADLINE_EXCEEDED after {took:.3f} s (deadline 0.3 s)")
        # the channel stays usable
        r = await ch.call(SAY, echo_pb2.SayRequest(text="after"), echo_pb2.SayResponse, timeout=5)
        need(r.text == "after", "call after the deadline failed")


async def check_unknown(srv, keys):
    async with await execrpc.connect("127.0.0.1", srv.port, keys) as ch:
        await expect_error(
            StatusCode.UNIMPLEMENTED,
            ch.call("echo.v1.Echo/NoSuchMethod", echo_pb2.SayRequest(text="x"), timeout=5),
            'unknown method "echo.v1.Echo/NoSuchMethod": this endpoint serves no such method '
            "(check the name, and which services the worker hosts)")
        await expect_error(StatusCode.INVALID_ARGUMENT,
                           ch.call("kvPut", echo_pb2.SayRequest(), timeout=5),
                           'malformed method name "kvPut": expected "package.Service/Method", '
                           'e.g. "echo.v1.Echo/Say"')
        await expect_error(StatusCode.INVALID_ARGUMENT,
                           ch.call(SAY, echo_pb2.SayRequest(text="x" * 4096), timeout=5),
                           "echo.v1.Echo/Say request: field echo.v1.SayRequest.text is 4096 "
                           "bytes, over its declared 4095")


async def check_oversize(srv, keys):
    before, ws0 = await rejects(srv.port, keys)
    async with await execrpc.connect("127.0.0.1", srv.port, keys) as ch:
        await expect_error(StatusCode.INVALID_ARGUMENT,
                           ch.call(SAY, b"\x0a" + b"\xff" * (Server.MAX_PAYLOAD + 1), timeout=5),
                           "request larger than max_payload_bytes")
    after, ws1 = await rejects(srv.port, keys)
    need(after == before, f"a locally refused request reached the endpoint: {delta(before, after)}")
    # the Stats call of the first rejects() is the one call between
    need(ws1.calls == ws0.calls + 1, f"calls {ws0.calls} -> {ws1.calls}, want +1 (Stats only)")
    peer = await RawPeer(keys).open(srv.port)
    await peer.hello()
    peer.writer.write(oversize_prefix(Server.MAX_PAYLOAD))
    await peer.expect_close()
    peer.close()
    d = delta(after, (await rejects(srv.port, keys))[0])
    need(d == {"oversized": 1}, f"rejects changed by {d}, want oversized +1")


async def check_bad_signature(srv, keys, tmp):
    before, _ = await rejects(srv.port, keys)
    _, wrong = write_secret(tmp, "wrong-secret")
    e = await expect_error(StatusCode.UNAUTHENTICATED,
                           execrpc.connect("127.0.0.1", srv.port, wrong))
    need(e.message.startswith(f"handshake refused by 127.0.0.1:{srv.port}:"), e.message)
    d = delta(before, (await rejects(srv.port, keys))[0])
    need(d == {"bad_signature": 1}, f"rejects changed by {d}, want bad_signature +1")


async def check_replay(srv, keys):
    before, _ = await rejects(srv.port, keys)
    peer = await RawPeer(keys).open(srv.port)
    await peer.hello()
    env, captured = await peer.call(SAY, echo_pb2.SayRequest(text="once"))
    need(env.status.code == StatusCode.OK, f"first call: {env.status.code}")
    peer.writer.write(captured)
    await peer.expect_close()
    peer.close()
    d = delta(before, (await rejects(srv.port, keys))[0])
    need(d == {"replay": 1}, f"rejects changed by {d}, want replay +1")


async def check_goaway(srv, keys):
    async with await execrpc.connect("127.0.0.1", srv.port, keys) as ch:
        slow = asyncio.ensure_future(ch.call(SAY, echo_pb2.SayRequest(text="drained", delay_ms=800),
                                             echo_pb2.SayResponse, timeout=10))
        await asyncio.sleep(0.2)
        srv.sigterm()
        for _ in range(100):
            if not ch.usable:
                break
            await asyncio.sleep(0.02)
        need(not ch.usable, "no GOAWAY within 2 s of SIGTERM")
        await expect_error(StatusCode.UNAVAILABLE,
                           ch.call(SAY, echo_pb2.SayRequest(text="late"), timeout=5),
                           f"endpoint 127.0.0.1:{srv.port} is draining (GOAWAY): it takes no new "
                           "calls; call another endpoint, or retry once it restarted")
        r = await slow
        need(r.text == "drained", "the call in flight did not complete")
    rc = await asyncio.get_running_loop().run_in_executor(None, srv.proc.wait, 10)
    need(rc == 0, f"exit status {rc}")


async def run(args):
    rep = Report()
    with tempfile.TemporaryDirectory(prefix="xr-pyclient-") as tmp:
        secret_path, keys = write_secret(tmp)
        srv = Server(args.server, tmp, secret_path)
        try:
            await rep.run("echo: exact bytes (unicode, 4095-byte text)", check_echo, srv, keys)
            await rep.run("200 calls in flight on one connection", check_many, srv, keys)
            await rep.run("deadline 0.3 s: DEADLINE_EXCEEDED before 2.3 s", check_deadline,
                          srv, keys)
            await rep.run("unknown method UNIMPLEMENTED; bad name and field bound INVALID_ARGUMENT",
                          check_unknown, srv, keys)
            await rep.run("SEC-IPC-05 oversize: refused locally; forced on the wire closes, oversized +1",
                          check_oversize, srv, keys)
            await rep.run("SEC-IPC-02 wrong key: UNAUTHENTICATED, bad_signature +1", check_bad_signature,
                          srv, keys, tmp)
            await rep.run("SEC-IPC-04 replayed REQUEST closes, replay +1", check_replay, srv, keys)
            await rep.run("SIGTERM: GOAWAY refuses new calls, the call in flight completes",
                          check_goaway, srv, keys)
        finally:
            srv.stop()
    return rep.finish()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True)
    main(run(ap.parse_args()))
