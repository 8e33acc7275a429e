#!/usr/bin/python3
"""tests/python/test_c_client.py: the C client library (through
tests/python/c_client.c) against the Python test endpoint
(execrpc.testing.Endpoint), and raw peers against that endpoint: its
receive pipeline rejects what the C endpoint rejects, with the same
counter.

usage: test_c_client.py --c-client PATH/py_c_client
"""
import argparse
import asyncio
import struct
import tempfile
import time

from execrpc import StatusCode, testing
from execrpc import wire
from execrpc.examples.echo.v1 import echo_pb2
from xrtest import RawPeer, Report, main, need, oversize_prefix, write_secret

SAY = "echo.v1.Echo/Say"
MAX_PAYLOAD = 65536


async def c_client(args, secret_path, port, *argv):
    """Run the C client; returns its one result line as a dict."""
    p = await asyncio.create_subprocess_exec(args.c_client, secret_path, str(port), *argv,
                                             stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await p.communicate()
    need(p.returncode == 0, f"c_client exit {p.returncode}: {err.decode(errors='replace')}")
    line = out.decode().rstrip("\n")
    head, _, msg = line.partition(" msg=")
    res = dict(kv.split("=", 1) for kv in head.split())
    res["msg"] = msg
    return res


def counters(ep):
    return {k.name.lower(): ep.rejects[k] for k in wire.RejectKind if ep.rejects[k]}


async def check_echo(args, ep, secret):
    text = "héllo ✓ from C"
    r = await c_client(args, secret, ep.port, "echo", text.encode().hex())
    need(r["code"] == "0", f"status {r['code']} ({r['msg']})")
    need(bytes.fromhex(r["text"]) == text.encode(), f"echoed {r['text']}")


async def check_many(args, ep, secret):
    r = await c_client(args, secret, ep.port, "many", "300")
    need(r == {"code": "0", "ok": "300", "of": "300", "msg": ""}, f"got {r}")


async def check_deadline(args, ep, secret, cancelled):
    t0 = time.monotonic()
    r = await c_client(args, secret, ep.port, "deadline", "5000", "300")
    took = time.monotonic() - t0
    need(r["code"] == str(int(StatusCode.DEADLINE_EXCEEDED)), f"status {r['code']} ({r['msg']})")
    # the client's deadline is on a millisecond clock (xr_mono_ms, truncated)
    # and the helper's ms figure is truncated too: up to 2 ms short
    need(298 <= int(r["ms"]) < 300 + 2000, f"DEADLINE_EXCEEDED after {r['ms']} ms (deadline 300)")
    need(took < 5, f"the C client ran {took:.1f} s: the slow handler held it")
    # the handler ended early: cancelled by CANCEL or by the endpoint's own deadline
    await asyncio.wait_for(cancelled.wait(), 3)


async def check_wrong_key(args, ep, tmp):
    before = counters(ep)
    wrong, _ = write_secret(tmp, "wrong")
    r = await c_client(args, wrong, ep.port, "echo", b"x".hex())
    need(r["code"] == str(int(StatusCode.UNAUTHENTICATED)), f"status {r['code']} ({r['msg']})")
    need(r["msg"].startswith(f"handshake refused by 127.0.0.1:{ep.port}:"), r["msg"])
    after = counters(ep)
    need(after.get("bad_signature", 0) == before.get("bad_signature", 0) + 1,
         f"rejects {before} -> {after}, want bad_signature +1")


async def raw_check(ep, keys, want, attack):
    before = list(ep.rejects)
    peer = await RawPeer(keys).open(ep.port)
    try:
        await attack(peer)
        await peer.expect_close()
    finally:
        peer.close()
    d = {k.name.lower(): ep.rejects[k] - before[k] for k in wire.RejectKind
         if ep.rejects[k] != before[k]}
    need(d == {want: 1}, f"rejects changed by {d}, want {want} +1")


async def replay(peer):
    await peer.hello()
    env, frame = await peer.call(SAY, echo_pb2.SayRequest(text="once"))
    need(env.status.code == StatusCode.OK, f"first call {env.status.code}")
    peer.writer.write(frame)


async def replay_hello(peer, hello_frame):
    peer.writer.write(hello_frame)


async def flipped_tag(peer):
    await peer.hello()
    _, frame = peer.request(SAY, echo_pb2.SayRequest(text="t"))
    frame = bytearray(frame)
    frame[-1] ^= 1
    peer.writer.write(bytes(frame))


async def oversize(peer):
    await peer.hello()
    peer.writer.write(oversize_prefix(MAX_PAYLOAD))


async def oversize_preauth(peer):
    peer.writer.write(struct.pack(">I", wire.HELLO_MAX_BODY + 1))


async def expired(peer):
    env = wire.envelope(wire.HELLO)
    env.ts_ms -= 31000
    peer.writer.write(peer.seal(env))


async def request_first(peer):
    await peer.hello()
    peer.session.id = bytes(16)  # a session id that is not this connection's
    _, frame = peer.request(SAY, echo_pb2.SayRequest(text="t"))
    peer.writer.write(frame)


async def run(args):
    rep = Report()
    with tempfile.TemporaryDirectory(prefix="xr-cclient-") as tmp:
        secret, keys = write_secret(tmp)
        ep = testing.Endpoint(keys, max_payload_bytes=MAX_PAYLOAD)
        cancelled = asyncio.Event()

        async def slow(req, ctx):
            try:
                await asyncio.sleep(req.delay_ms / 1000)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return echo_pb2.SayResponse(text=req.text)

        ep.add(SAY, echo_pb2.SayRequest, echo_pb2.SayResponse, slow)
        await ep.start()
        try:
            await rep.run("C client: echo OK, exact bytes", check_echo, args, ep, secret)
            await rep.run("C client: 300 calls in flight", check_many, args, ep, secret)
            await rep.run("C client: deadline 300 ms on a 5 s handler", check_deadline,
                          args, ep, secret, cancelled)
            await rep.run("SEC-IPC-02 C client, wrong key: UNAUTHENTICATED, bad_signature +1",
                          check_wrong_key, args, ep, tmp)
            await rep.run("SEC-IPC-04 raw peer: replayed REQUEST closes, replay +1", raw_check,
                          ep, keys, "replay", replay)
            p0 = RawPeer(keys)
            await p0.open(ep.port)
            hello = await p0.hello()
            p0.close()
            await rep.run("SEC-IPC-04 raw peer: replayed HELLO closes, replay +1", raw_check,
                          ep, keys, "replay", lambda p: replay_hello(p, hello))
            await rep.run("SEC-IPC-02 raw peer: flipped tag bit closes, bad_signature +1", raw_check,
                          ep, keys, "bad_signature", flipped_tag)
            await rep.run("SEC-IPC-05 raw peer: length over max_payload+4096 closes, oversized +1",
                          raw_check, ep, keys, "oversized", oversize)
            await rep.run("SEC-IPC-05 raw peer: 513-byte frame before HELLO closes, oversized +1",
                          raw_check, ep, keys, "oversized", oversize_preauth)
            await rep.run("SEC-IPC-03 raw peer: HELLO 31 s old closes, expired +1", raw_check,
                          ep, keys, "expired", expired)
            await rep.run("SEC-IPC-04 raw peer: another session's id closes, replay +1", raw_check,
                          ep, keys, "replay", request_first)
        finally:
            await ep.close()
    return rep.finish()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--c-client", required=True)
    main(run(ap.parse_args()))
