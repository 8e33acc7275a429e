#!/usr/bin/python3
"""tests/python/test_wire.py: the package against itself — the receive
pipeline's order and counters (execrpc.wire.Rx), the secret file checks,
and the asyncio channel against the Python test endpoint: calls in flight,
deadlines, cancellation (CANCEL), GOAWAY, the local limits, a lost
connection, and the endpoint's protocol errors.
"""
import asyncio
import os
import tempfile
import time

import execrpc
from execrpc import StatusCode, testing
from execrpc import keys as K
from execrpc import wire
from execrpc.examples.echo.v1 import echo_pb2
from execrpc.v1 import frame_pb2 as pb
from xrtest import Fail, RawPeer, Report, expect_error, main, need

SAY = "echo.v1.Echo/Say"
KEYS = K.derive(b"k" * 32)


def server_rx(nonces=None):
    return wire.Rx(KEYS[K.WEB_TO_EXEC], K.WEB_TO_EXEC, wire.SERVER_KINDS, 30000,
                   wire.max_body(1000), open_kinds=(wire.HELLO,),
                   nonces=wire.NonceCache(4, 30000) if nonces is None else nonces)


def signed(env, key=KEYS[K.WEB_TO_EXEC]):
    return wire.frame_body(env.SerializeToString(), wire.sign(key, K.WEB_TO_EXEC,
                                                               env.SerializeToString()))


def expect_reject(rx, sess, body, kind):
    before = list(rx.counters)
    try:
        rx.frame(sess, body)
    except wire.Reject as r:
        need(r.kind == kind, f"rejected as {r.kind.name}, want {kind.name}")
        want = list(before)
        want[kind] += 1
        need(rx.counters == want, f"counters {rx.counters}, want {want}")
        return
    raise Fail(f"accepted, want {kind.name}")


async def check_rx_order():
    rx, s = server_rx(), wire.Session()
    old = wire.envelope(wire.HELLO)
    old.ts_ms -= 31000
    # expired and signed with another key: the tag is checked first
    expect_reject(rx, s, signed(old, b"x" * 32), wire.RejectKind.BAD_SIGNATURE)
    expect_reject(rx, s, signed(old), wire.RejectKind.EXPIRED)
    # a frame failing two steps is counted at the earlier one only
    two = wire.envelope(wire.RESPONSE, session_id=b"s" * 16, sequence=1)
    two.version = 2
    expect_reject(rx, s, signed(two), wire.RejectKind.MALFORMED)  # malformed + kind
    two.version, two.ts_ms = 1, two.ts_ms - 31000
    expect_reject(rx, s, signed(two), wire.RejectKind.KIND_NOT_ALLOWED)  # kind + expired
    bad = wire.envelope(wire.HELLO)
    bad.version = 2
    expect_reject(rx, s, signed(bad), wire.RejectKind.MALFORMED)
    resp = wire.envelope(wire.RESPONSE, session_id=b"s" * 16, sequence=1)
    expect_reject(rx, s, signed(resp), wire.RejectKind.KIND_NOT_ALLOWED)
    req = wire.envelope(wire.REQUEST)  # no session id on a non-opening kind
    expect_reject(rx, s, signed(req), wire.RejectKind.KIND_NOT_ALLOWED)
    expect_reject(rx, s, b"\x0a\x05abc", wire.RejectKind.BAD_SIGNATURE)  # wrapper cut short
    expect_reject(rx, s, b"\x0a\x00\x12\x00\x1a\x00", wire.RejectKind.BAD_SIGNATURE)  # field 3
    expect_reject(rx, s, b"x" * 1000 + b"y" * 4097, wire.RejectKind.OVERSIZED)
    hello = wire.envelope(wire.HELLO)
    rx.frame(s, signed(hello))
    expect_reject(rx, wire.Session(), signed(hello), wire.RejectKind.REPLAY)  # nonce seen
    hello.ts_ms -= 31000
    expect_reject(rx, wire.Session(), signed(hello), wire.RejectKind.EXPIRED)  # + expired
    need(rx.accepted == 1, f"accepted {rx.accepted}")


async def check_nonce_cache_full():
    rx = server_rx(wire.NonceCache(2, 30000))
    for _ in range(2):
        rx.frame(wire.Session(), signed(wire.envelope(wire.HELLO)))
    try:
        rx.frame(wire.Session(), signed(wire.envelope(wire.HELLO)))
    except wire.Reject as r:
        need(r.kind == wire.RejectKind.REPLAY and r.cache_full, f"{r}")
        return
    raise Fail("a third nonce passed a full cache of 2")


async def check_secret_file():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "s")
        with open(p, "wb") as f:
            f.write(b"a" * 32 + b"\r\n")
        os.chmod(p, 0o600)
        need(K.load_secret_file(p) == b"a" * 32, "\\r\\n not stripped")
        os.chmod(p, 0o640)
        try:
            K.load_secret_file(p)
            raise Fail("a group-readable secret file was accepted")
        except ValueError as e:
            need("aaaa" not in str(e) and p in str(e), str(e))
        os.chmod(p, 0o600)
        with open(p, "wb") as f:
            f.write(b"a" * 31 + b"\n")
        try:
            K.load_secret_file(p)
            raise Fail("a 31-byte secret was accepted")
        except ValueError:
            pass


class Env:
    """A Python endpoint with echo, a handler that waits until released,
    and one that reports the headers it got."""

    def __init__(self, **opts):
        self.ep = testing.add_echo(testing.Endpoint(KEYS, **opts))
        self.cancelled = asyncio.Event()
        self.release = asyncio.Event()
        self.seen = {}

        async def wait(req, ctx):
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            return echo_pb2.SayResponse(text=req.text)

        def headers(req, ctx):
            self.seen = dict(ctx.headers, timeout=ctx.deadline is not None)
            return echo_pb2.SayResponse(text=req.text)

        self.ep.add("echo.v1.Echo/Wait", echo_pb2.SayRequest, echo_pb2.SayResponse, wait)
        self.ep.add("echo.v1.Echo/Headers", echo_pb2.SayRequest, echo_pb2.SayResponse, headers)

    async def __aenter__(self):
        await self.ep.start()
        return self

    async def __aexit__(self, *exc):
        await self.ep.close()


async def check_calls():
    async with Env() as env:
        async with await execrpc.connect("127.0.0.1", env.ep.port, KEYS) as ch:
            rs = await asyncio.gather(*[
                ch.call(SAY, echo_pb2.SayRequest(text=str(i), delay_ms=(50 - i) * 4),
                        echo_pb2.SayResponse, timeout=10) for i in range(50)])
            need([r.text for r in rs] == [str(i) for i in range(50)], "replies mismatched")
            await ch.call("echo.v1.Echo/Headers", echo_pb2.SayRequest(), timeout=5,
                          headers={"x-user": "ana", "x-trace": "1"})
            need(env.seen == {"x-user": "ana", "x-trace": "1", "timeout": True}, f"{env.seen}")
            await expect_error(StatusCode.INVALID_ARGUMENT,
                               ch.call(SAY, echo_pb2.SayRequest(), timeout=5,
                                       headers={f"k{i}": "v" for i in range(9)}))
            await expect_error(StatusCode.NOT_FOUND,
                               ch.call(SAY, echo_pb2.SayRequest(fail_code=5), timeout=5),
                               "failed as asked (fail_code)")
            await ch.ping()


async def check_deadline_and_cancel():
    async with Env() as env:
        async with await execrpc.connect("127.0.0.1", env.ep.port, KEYS) as ch:
            t0 = time.monotonic()
            await expect_error(StatusCode.DEADLINE_EXCEEDED,
                               ch.call("echo.v1.Echo/Wait", echo_pb2.SayRequest(), timeout=0.2),
                               "deadline exceeded")
            took = time.monotonic() - t0
            need(0.19 <= took < 1.5, f"after {took:.3f} s")
            await asyncio.wait_for(env.cancelled.wait(), 2)  # CANCEL or its own deadline
            env.cancelled.clear()
            task = asyncio.ensure_future(ch.call("echo.v1.Echo/Wait", echo_pb2.SayRequest()))
            await asyncio.sleep(0.1)
            calls = env.ep.calls
            task.cancel()
            try:
                await task
                raise Fail("the cancelled call returned")
            except asyncio.CancelledError:
                pass
            await asyncio.wait_for(env.cancelled.wait(), 2)  # no deadline: CANCEL did it
            r = await ch.call(SAY, echo_pb2.SayRequest(text="still"), echo_pb2.SayResponse,
                              timeout=5)
            need(r.text == "still", "channel unusable after a cancel")
            need(env.ep.calls == calls + 1, f"the endpoint answered the cancelled call "
                 f"({env.ep.calls - calls} answers, want 1)")


async def check_goaway():
    async with Env() as env:
        async with await execrpc.connect("127.0.0.1", env.ep.port, KEYS) as ch:
            task = asyncio.ensure_future(ch.call("echo.v1.Echo/Wait",
                                                 echo_pb2.SayRequest(text="w"),
                                                 echo_pb2.SayResponse, timeout=5))
            await asyncio.sleep(0.1)
            await env.ep.drain()
            for _ in range(100):
                if not ch.usable:
                    break
                await asyncio.sleep(0.01)
            need(not ch.usable, "GOAWAY not seen")
            await expect_error(StatusCode.UNAVAILABLE, ch.call(SAY, echo_pb2.SayRequest()))
            env.release.set()
            need((await task).text == "w", "the call in flight did not complete")


async def check_local_limits():
    async with Env(max_inflight=2, max_payload_bytes=100) as env:
        async with await execrpc.connect("127.0.0.1", env.ep.port, KEYS) as ch:
            need(ch.max_inflight == 2 and ch.max_payload_bytes == 100, "HelloAck limits")
            await expect_error(StatusCode.INVALID_ARGUMENT,
                               ch.call(SAY, echo_pb2.SayRequest(text="x" * 101)),
                               "request larger than max_payload_bytes")
            t = [asyncio.ensure_future(ch.call("echo.v1.Echo/Wait", echo_pb2.SayRequest(),
                                               timeout=5)) for _ in range(2)]
            await asyncio.sleep(0.05)
            await expect_error(StatusCode.RESOURCE_EXHAUSTED,
                               ch.call(SAY, echo_pb2.SayRequest()))
            env.release.set()
            await asyncio.gather(*t)


async def check_connection_lost():
    async with Env() as env:
        ch = await execrpc.connect("127.0.0.1", env.ep.port, KEYS)
        task = asyncio.ensure_future(ch.call("echo.v1.Echo/Wait", echo_pb2.SayRequest(),
                                             timeout=10))
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        for c in list(env.ep._conns):
            c.close()
        await expect_error(StatusCode.UNAVAILABLE, task,
                           f"connection closed by the endpoint 127.0.0.1:{env.ep.port}")
        need(time.monotonic() - t0 < 2, "the pending call waited for its deadline")
        await expect_error(StatusCode.UNAVAILABLE, ch.call(SAY, echo_pb2.SayRequest()))
        await ch.close()
        await expect_error(StatusCode.UNAVAILABLE, execrpc.connect("127.0.0.1", 1, KEYS))
        await expect_error(StatusCode.INVALID_ARGUMENT, execrpc.connect("10.0.0.1", 1, KEYS))


class FakeEndpoint:
    """A hand-made endpoint: a correct handshake, then each REQUEST answered
    by `answer(self, request_env)`, which returns the frames to write."""

    def __init__(self, answer):
        self.answer = answer

    async def start(self):
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self):
        self.server.close()
        await self.server.wait_closed()

    def frame(self, kind, key=KEYS[K.EXEC_TO_WEB], **fields):
        env = wire.envelope(kind, **fields)
        return wire.seal(key, K.EXEC_TO_WEB, env.SerializeToString())

    async def serve(self, reader, writer):
        rx, s = server_rx(), wire.Session()
        try:
            hello = rx.frame(s, await wire.read_body(reader, rx))
            self.session_id, s.state = os.urandom(16), wire.Session.OPEN
            s.id, self.seq = self.session_id, 1
            writer.write(self.frame(wire.HELLO_ACK, session_id=s.id, sequence=1,
                                    ack_nonce=hello.nonce))
            while True:
                body = await wire.read_body(reader, rx)
                if body is None:
                    break
                env = rx.frame(s, body)
                if env.kind == wire.REQUEST:
                    for f in self.answer(self, env):
                        writer.write(f)
        except (asyncio.IncompleteReadError, OSError, wire.Reject):
            pass
        finally:
            writer.close()

    def response(self, env, session_id=None, key=KEYS[K.EXEC_TO_WEB], seq=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        return self.frame(wire.RESPONSE, key=key, call_id=env.call_id, sequence=seq,
                          session_id=self.session_id if session_id is None else session_id,
                          status=pb.Status(code=0))


async def check_reply_checks():
    """Replies are verified as the endpoint verifies requests: another
    session's id, a sequence not above the last, a wrong tag — each closes
    the channel and fails the calls pending on it with UNAVAILABLE."""
    cases = {
        "REPLAY": lambda ep, env: [ep.response(env, session_id=bytes(16))],
        "REPLAY ": lambda ep, env: [ep.response(env, seq=ep.seq)],  # sequence not above
        "BAD_SIGNATURE": lambda ep, env: [ep.response(env, key=b"x" * 32)],
    }
    for kind, answer in cases.items():
        def policy(ep, env, answer=answer):
            return [] if env.method == "a.B/Hold" else answer(ep, env)

        ep = await FakeEndpoint(policy).start()
        try:
            async with await execrpc.connect("127.0.0.1", ep.port, KEYS) as ch:
                held = asyncio.ensure_future(ch.call("a.B/Hold", b"", timeout=10))
                await asyncio.sleep(0.05)
                msg = f"frame from 127.0.0.1:{ep.port} refused ({kind.strip()}): connection closed"
                await expect_error(StatusCode.UNAVAILABLE, ch.call("a.B/C", b"", timeout=5), msg)
                await expect_error(StatusCode.UNAVAILABLE, held, msg)
                want = {k: 0 for k in ch.stats()["rejects"]}
                want[kind.strip().lower()] = 1
                need(ch.stats()["rejects"] == want, f"{kind}: rejects {ch.stats()['rejects']}")
        finally:
            await ep.close()


async def check_protocol_errors():
    async with Env() as env:
        peer = await RawPeer(KEYS).open(env.ep.port)
        await peer.hello()
        env_ = wire.envelope(wire.REQUEST, session_id=peer.session.id,
                             sequence=peer.session.next_seq(), call_id=0, method=SAY)
        peer.writer.write(peer.seal(env_))
        await peer.expect_close()
        peer.close()
        need(env.ep.protocol_errors == 1, f"protocol_errors {env.ep.protocol_errors}")
        need(sum(env.ep.rejects) == 0, f"rejects {env.ep.rejects}")
        peer = await RawPeer(KEYS).open(env.ep.port)
        await peer.hello()
        for method, code in (("echo.v1.Echo/Nope", StatusCode.UNIMPLEMENTED),
                             ("nodots", StatusCode.UNIMPLEMENTED),
                             ("", StatusCode.INVALID_ARGUMENT)):
            r, _ = await peer.call(method, pb.Hello())
            need(r.status.code == code, f"{method!r}: {r.status.code}, want {code.name}")
        peer.close()


async def run():
    rep = Report()
    await rep.run("receive pipeline: step order and one counter per reject", check_rx_order)
    await rep.run("nonce cache full: fails closed (REPLAY, cache_full)", check_nonce_cache_full)
    await rep.run("secret file: stripped, permission and length checks", check_secret_file)
    await rep.run("calls in flight, headers, handler status, ping", check_calls)
    await rep.run("deadline (local, CANCEL) and task cancel (CANCEL, no answer)",
                  check_deadline_and_cancel)
    await rep.run("GOAWAY: new calls UNAVAILABLE, the call in flight completes", check_goaway)
    await rep.run("local limits from HELLO_ACK: payload, max_inflight", check_local_limits)
    await rep.run("connection lost: pending calls UNAVAILABLE at once; connect errors",
                  check_connection_lost)
    await rep.run("replies: another session, an old sequence, a bad tag close the channel",
                  check_reply_checks)
    await rep.run("endpoint: call_id 0 closes (protocol_errors +1); method statuses",
                  check_protocol_errors)
    return rep.finish()


if __name__ == "__main__":
    main(run())
