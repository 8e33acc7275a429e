#!/usr/bin/python3
"""tests/python/test_bootstrap.py: execrpc.bootstrap against a supervisor
double on SOCK_SEQPACKET socketpairs (fd 3 and fd 4 as the supervisor
makes them) and two Python test endpoints holding a worker slot's
endpoint keys for generations 1 and 2:
 - the bundle's refusals, each with its exact message (client/ingress_boot.c's);
 - fd 3: one datagram then end of file; none in time, none at all, two,
   one over 128 KiB refused;
 - the channel to the ready worker (its generation's keys), READY signed on
   fd 4;
 - fd 4: a forged tag, another session, a replayed sequence rejected and
   counted (nothing applied); an unknown slot and a bad record refused;
   an update to generation 2 on a new port: the call in flight on the old
   channel fails UNAVAILABLE, the next reaches the new process;
 - pick: UNIMPLEMENTED for a service no group hosts, UNAVAILABLE with no
   ready worker; round robin;
 - STOP: on_stop, then STOPPED only after stop_done() and the call in
   flight; a second STOP refused;
 - the channel to a READY worker closed by the endpoint (it went away and
   came back on the same port, no update): the next call makes it again
   (channels_revived 1) and succeeds.
"""
import asyncio
import os
import socket

from execrpc import RpcError, StatusCode, testing, wire
from execrpc import keys as K
from execrpc import bootstrap as B
from execrpc.examples.echo.v1 import echo_pb2
from execrpc.v1 import bootstrap_pb2 as bpb
from execrpc.v1 import lifecycle_pb2 as lpb
from xrtest import Report, main, need

SAY = "echo.v1.Echo/Say"
MASTER = b"m" * 32
BASE = K.derive(MASTER, "hkdf_sha256")
INST = bytes(range(16))
SID = bytes(range(100, 116))


def bundle(endpoints=(), **over):
    b = bpb.BootstrapBundle(
        version=1, group="web", index=0, role=lpb.GROUP_ROLE_INGRESS,
        runtime=bpb.RuntimeSlice(max_payload_bytes=65536, ttl_seconds=30),
        keys=bpb.KeyBundle(kdf=bpb.KDF_HKDF_SHA256, control=BASE[K.CONTROL]),
        ingress=bpb.IngressKeys(web_to_exec=BASE[K.WEB_TO_EXEC],
                                exec_to_web=BASE[K.EXEC_TO_WEB], instance_id=INST),
        control_session_id=SID, endpoints=list(endpoints))
    for k, v in over.items():
        if v is None:
            b.ClearField(k)
        else:
            setattr(b, k, v) if not hasattr(getattr(b, k), "CopyFrom") else getattr(b, k).CopyFrom(v)
    return b


def ep(index=0, state=lpb.WORKER_STATE_READY, port=1, gen=1, group="echo", host="127.0.0.1",
       services=("echo.v1.Echo",)):
    return lpb.ExecEndpoint(group=group, index=index, host=host, port=port, generation=gen,
                            state=state, services=list(services))


def refused(data):
    try:
        B.decode_bundle(data)
    except B.BootstrapError as e:
        return str(e)
    return None


async def check_refusals():
    need(refused(bundle([ep()]).SerializeToString()) is None, "a valid bundle refused")
    P = "ingress bootstrap: "
    cases = [
        (bundle(version=2), "unsupported bundle version 2 (want 1)"),
        (bundle(role=lpb.GROUP_ROLE_EXECUTION),
         "not an ingress bundle (role 0): is this program in a group with role: ingress?"),
        (bundle(group=""), "no group name"),
        (bundle(group="g" * 64), "no group name"),
        (bundle(runtime=None), "runtime slice: missing"),
        (bundle(keys=None), "keys: missing"),
        (bundle(keys=bpb.KeyBundle(kdf=bpb.KDF_HKDF_SHA256, control=b"c" * 31)),
         "keys: control key not 32..64 bytes"),
        (bundle(keys=bpb.KeyBundle(kdf=bpb.KDF_UNSPECIFIED, control=b"c" * 32)),
         "keys: unknown kdf"),
        (bundle(ingress=None), "ingress keys: missing"),
        (bundle(ingress=bpb.IngressKeys(web_to_exec=b"w" * 32, exec_to_web=b"e" * 32,
                                        instance_id=b"i" * 15)),
         "ingress keys: instance id not 16 bytes"),
        (bundle(ingress=bpb.IngressKeys(web_to_exec=b"w" * 65, exec_to_web=b"e" * 32,
                                        instance_id=INST)),
         "ingress keys: a key not 32..64 bytes"),
        (bundle(control_session_id=b"s" * 15), "control session id not 16 bytes"),
        (bundle([ep(host="")]), "endpoint: bad host"),
        (bundle([ep(group="")]), "endpoint: bad group"),
        (bundle([ep(port=65536)]), "endpoint: bad port"),
        (bundle([ep(state=8)]), "endpoint: bad state"),
        (bundle([ep(state=0)]), "endpoint: bad state"),
        (bundle([ep(port=0)]), "endpoint: bad port or generation of a ready worker"),
        (bundle([ep(gen=0)]), "endpoint: bad port or generation of a ready worker"),
        (bundle([ep(services=["s"] * 17)]), "endpoint: bad services"),
        (bundle([ep(), ep()]), "endpoint: duplicate slot 0 of a group"),
        (bundle([ep(index=i) for i in range(1025)]), "more than 1024 endpoints"),
    ]
    for b, want in cases:
        got = refused(b.SerializeToString())
        need(got == P + want, f"want {want!r}, got {got!r}")
    for ttl in (0, 3601):
        got = refused(bundle(runtime=bpb.RuntimeSlice(max_payload_bytes=1,
                                                       ttl_seconds=ttl)).SerializeToString())
        need(got is not None and got.startswith(P + "runtime slice: "), f"ttl {ttl}: {got}")
    got = refused(b"\xff\xff\xff")
    need(got == P + "the bundle does not decode (3 bytes)", f"garbage: {got}")
    # no key byte in any message
    for b, _ in cases:
        got = refused(b.SerializeToString()) or ""
        need(BASE[K.CONTROL].decode("latin1") not in got, "a key in a message")


def pair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return a, b


async def check_fd3():
    def read(sends, close=True, timeout=2.0, big=False):
        ours, theirs = pair()
        if big:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        for d in sends:
            ours.send(d)
        if close:
            ours.close()
        fd = theirs.detach()
        try:
            return B.read_bundle_bytes(fd, timeout), fd
        except B.BootstrapError as e:
            return str(e), fd
        finally:
            if not close:
                ours.close()

    got, _ = read([b"abc"])
    need(got == b"abc", f"one datagram: {got!r}")
    got, fd = read([])
    need(got == f"ingress bootstrap: fd {fd} closed without a bundle", got)
    got, fd = read([b"a", b"b"])
    need(got == f"ingress bootstrap: a second datagram on fd {fd} (one bundle only)", got)
    got, fd = read([], close=False, timeout=0.2)
    need(got == f"ingress bootstrap: no bundle on fd {fd} within 200 ms", got)
    got, fd = read([b"x" * (B.BUNDLE_MAX + 1)], big=True)
    need(got == "ingress bootstrap: bundle of 131073 bytes is over the limit of 131072 bytes",
         got)


class Sup:
    """The supervisor's end of fd 4: signed commands out, verified in."""

    def __init__(self, sock):
        self.sock, self.seq = sock, 0
        self.sock.setblocking(False)
        self.sess = wire.Session()
        self.sess.state, self.sess.id = wire.Session.OPEN, SID
        self.rx = wire.Rx(BASE[K.CONTROL], K.CONTROL, (B.KIND_CONTROL,), 30000, B.CTL_MAX)

    def send(self, cmd, key=None, sid=SID, seq=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        env = wire.envelope(B.KIND_CONTROL, session_id=sid, sequence=seq,
                            payload=cmd.SerializeToString()).SerializeToString()
        self.sock.send(wire.frame_body(env, wire.sign(key or BASE[K.CONTROL], K.CONTROL, env)))

    async def recv(self, timeout=5.0):
        loop = asyncio.get_running_loop()
        body = await asyncio.wait_for(loop.sock_recv(self.sock, B.CTL_MAX), timeout)
        env = self.rx.frame(self.sess, body)
        return lpb.Command.FromString(env.payload)


def tagged_endpoint(tag, gen, index=0, port=0):
    e = testing.Endpoint(K.endpoint_keys(BASE, INST, "echo", index, gen), port=port)

    async def say(req, ctx):
        if req.delay_ms:
            await asyncio.sleep(req.delay_ms / 1000)
        return echo_pb2.SayResponse(text=f"{tag}:{req.text}")
    e.add(SAY, echo_pb2.SayRequest, echo_pb2.SayResponse, say)
    return e


async def say(ing, text, delay=0):
    r = await ing.call(SAY, echo_pb2.SayRequest(text=text, delay_ms=delay),
                       echo_pb2.SayResponse, timeout=5.0)
    return r.text


async def check_ingress():
    e1 = await tagged_endpoint("g1", 1).start()
    e2 = await tagged_endpoint("g2", 2).start()
    wrong = await tagged_endpoint("wrong", 2, index=1).start()   # slot 1's keys, gen 2
    b_ours, b_theirs = pair()
    c_ours, c_theirs = pair()
    b_ours.send(bundle([ep(0, port=e1.port), ep(1, state=lpb.WORKER_STATE_STARTING, port=0)])
                .SerializeToString())
    b_ours.close()
    events = []
    ing = await B.Ingress.from_bootstrap(
        b_theirs.detach(), c_theirs.detach(),
        on_stop=lambda t, d: events.append(("stop", t, d)),
        on_update=lambda e: events.append(("update", e.group, e.index, e.state, e.generation,
                                           e.port)),
        on_stopped=lambda: events.append(("stopped",)))
    sup = Sup(c_ours)
    try:
        need(ing.group == "web" and ing.index == 0, "group and index")
        need(ing.ready(8080), "READY sent")
        c = await sup.recv()
        need(c.type == lpb.COMMAND_READY and c.port == 8080, f"READY: {c}")
        need(await say(ing, "a") == "g1:a" and await say(ing, "b") == "g1:b",
             "calls through the generation-1 keys")
        need(ing.has_ready("echo.v1.Echo") and ing.services() == ["echo.v1.Echo"], "has_ready")
        try:
            ing.pick("kv.v1.Kv")
            need(False, "a service no group hosts picked")
        except RpcError as e:
            need(e.code == StatusCode.UNIMPLEMENTED, f"{e}")
        # rejected on fd 4: nothing applied
        upd = lpb.Command(type=lpb.COMMAND_ENDPOINT, endpoint=ep(0, port=e2.port, gen=2))
        sup.send(upd, key=b"f" * 32)
        sup.send(upd, sid=b"z" * 16)
        sup.send(lpb.Command(type=lpb.COMMAND_ENDPOINT, endpoint=ep(5)))       # unknown slot
        sup.send(lpb.Command(type=lpb.COMMAND_ENDPOINT, endpoint=ep(0, port=0)))  # bad record
        sup.send(lpb.Command(type=lpb.COMMAND_STATS))                           # not taken
        await asyncio.sleep(0.2)
        st = ing.stats()
        need(st["rejects"]["bad_signature"] == 1 and st["rejects"]["replay"] == 1,
             f"rejects {st}")
        need(st["refused"] == 3 and st["updates"] == 0 and not events, f"refused {st} {events}")
        need(await say(ing, "c") == "g1:c", "still generation 1")
        # generation 2 on a new port: the call in flight on the old fails UNAVAILABLE
        slow = asyncio.ensure_future(say(ing, "slow", delay=1000))
        await asyncio.sleep(0.2)
        sup.send(upd)
        seq = sup.seq
        try:
            await slow
            need(False, "the call on the old channel succeeded")
        except RpcError as e:
            need(e.code == StatusCode.UNAVAILABLE, f"old channel: {e}")
        need(events == [("update", "echo", 0, lpb.WORKER_STATE_READY, 2, e2.port)],
             f"events {events}")
        need(await say(ing, "d") == "g2:d", "the generation-2 process")
        sup.send(upd, seq=seq)        # a replayed sequence
        await asyncio.sleep(0.1)
        need(ing.stats()["rejects"]["replay"] == 2, f"replay {ing.stats()}")
        # slot 1 ready with gen 2 on `wrong` (its own keys): round robin over both
        sup.send(lpb.Command(type=lpb.COMMAND_ENDPOINT, endpoint=ep(1, port=wrong.port, gen=2)))
        await asyncio.sleep(0.1)
        got = sorted([await say(ing, str(i)) for i in range(4)])
        need(got == ["g2:0", "g2:2", "wrong:1", "wrong:3"] or
             got == ["g2:1", "g2:3", "wrong:0", "wrong:2"], f"round robin {got}")
        # slot 0 dead: not picked
        sup.send(lpb.Command(type=lpb.COMMAND_ENDPOINT,
                             endpoint=ep(0, state=lpb.WORKER_STATE_BACKOFF, port=0, gen=2)))
        await asyncio.sleep(0.1)
        need([await say(ing, "x") for _ in range(3)] == ["wrong:x"] * 3, "dead slot picked")
        # a key of slot 0: the next ready slot, or with failover=False none
        k0 = next(k for k in ("k%d" % i for i in range(20))
                  if B._fnv1a64(k.encode()) % 2 == 0)
        k1 = next(k for k in ("k%d" % i for i in range(20))
                  if B._fnv1a64(k.encode()) % 2 == 1)
        need(ing.pick("echo.v1.Echo", k0) is ing.pick("echo.v1.Echo", k1),
             "slot 0's key failed over to slot 1")
        need(ing.pick("echo.v1.Echo", k1, failover=False) is
             ing.pick("echo.v1.Echo", k1), "slot 1's own key, failover=False")
        try:
            ing.pick("echo.v1.Echo", k0, failover=False)
            need(False, "slot 0's key picked another slot with failover=False")
        except RpcError as e:
            need(e.code == StatusCode.UNAVAILABLE, f"{e}")
        # STOP: on_stop; STOPPED after stop_done and the call in flight
        events.clear()
        sup.send(lpb.Command(type=lpb.COMMAND_STOP, graceful_timeout_ms=5000,
                             drain_inflight=True))
        await asyncio.sleep(0.1)
        need(events == [("stop", 5000, True)], f"stop events {events}")
        last = asyncio.ensure_future(say(ing, "last", delay=300))
        await asyncio.sleep(0.05)
        ing.stop_done()
        need(not ing.stopped.is_set(), "STOPPED before the call in flight ended")
        need(await last == "wrong:last", "the call in flight while stopping")
        c = await sup.recv()
        need(c.type == lpb.COMMAND_STOPPED and ing.stopped.is_set() and
             events[-1] == ("stopped",), f"STOPPED: {c} {events}")
        sup.send(lpb.Command(type=lpb.COMMAND_STOP))
        await asyncio.sleep(0.1)
        need(ing.stats()["refused"] == 4, "a second STOP is refused")
        try:
            ing.pick("echo.v1.Echo")
            need(False, "picked after STOPPED")
        except RpcError as e:
            need(e.code == StatusCode.UNAVAILABLE, f"{e}")
    finally:
        await ing.close()
        sup.sock.close()
        for e in (e1, e2, wrong):
            await e.close()


async def check_revive():
    e1 = await tagged_endpoint("first", 1).start()
    b_ours, b_theirs = pair()
    c_ours, c_theirs = pair()
    b_ours.send(bundle([ep(0, port=e1.port)]).SerializeToString())
    b_ours.close()
    ing = await B.Ingress.from_bootstrap(b_theirs.detach(), c_theirs.detach())
    e2 = None
    try:
        need(await say(ing, "a") == "first:a", "the first process")
        # the endpoint goes away and comes back on the same port, with no
        # update on fd 4 (as a connection an idle endpoint closed)
        port = e1.port
        old = await ing.pick("echo.v1.Echo")
        await e1.close()
        for _ in range(500):
            if not old.usable:
                break
            await asyncio.sleep(0.01)
        need(not old.usable, "the channel saw the endpoint close")
        e2 = await tagged_endpoint("again", 1, port=port).start()
        st = ing.stats()
        need(st["channels_opened"] == 1 and st["channels_revived"] == 0, f"before {st}")
        need(await say(ing, "b") == "again:b", "the call after the channel closed")
        st = ing.stats()
        need(st["channels_opened"] == 2 and st["channels_revived"] == 1, f"after {st}")
        need(await say(ing, "c") == "again:c", "the remade channel is kept")
        need(ing.stats()["channels_revived"] == 1, f"remade once {ing.stats()}")
    finally:
        await ing.close()
        c_ours.close()
        if e2 is not None:
            await e2.close()


async def run():
    rep = Report()
    await rep.run("bundle refusals: exact messages, no key byte", check_refusals)
    await rep.run("fd 3: one datagram then EOF; none, none in time, two, over 128 KiB", check_fd3)
    await rep.run("channels, fd 4 verification, updates, pick, STOP/STOPPED", check_ingress)
    await rep.run("a closed channel to a READY worker is made again by the next pick",
                  check_revive)
    return rep.finish()


if __name__ == "__main__":
    main(run())
