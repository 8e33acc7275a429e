"""execrpc.testing: a minimal asyncio execrpc endpoint in Python, to test
clients (the C client among them) against a second implementation of the
protocol (docs/python.md, docs/protocol.md).

It follows the C endpoint's rules where a client can see them: HELLO first
(a body over 512 bytes before it is OVERSIZED), the receive pipeline of
execrpc.wire.Rx with the nonce cache for HELLOs, HELLO_ACK with a fresh
16-byte session id, then REQUEST/CANCEL/PING; any rejected frame is counted
and closes the connection (a HELLO that does not verify gets no answer,
only a FIN); call_id 0 or a duplicate of a call in flight is a protocol
error (counted, closed). Statuses: unknown method UNIMPLEMENTED, malformed
name UNIMPLEMENTED, no method INVALID_ARGUMENT, a payload over
max_payload_bytes or one that does not decode INVALID_ARGUMENT, more than
max_inflight calls RESOURCE_EXHAUSTED, the deadline (timeout_ms) passed
DEADLINE_EXCEEDED, a handler's RpcError its code, any other exception
INTERNAL, a response over max_payload_bytes RESOURCE_EXHAUSTED, draining
UNAVAILABLE. It also serves execrpc.v1.Endpoint/Stats (WorkerStatus).

Not a production server: no connection caps, no pre-auth budget, no
backpressure.
"""
import asyncio
import os

from . import wire
from .keys import EXEC_TO_WEB, WEB_TO_EXEC
from .status import RpcError, StatusCode
from .v1 import frame_pb2 as pb
from .v1 import lifecycle_pb2 as lc

STATS_METHOD = "execrpc.v1.Endpoint/Stats"


class Context:
    """What a handler gets besides its request: the method, the deadline
    (loop time, or None), the headers (dict), the trace id (bytes)."""

    def __init__(self, method, deadline, headers, trace_id):
        self.method, self.deadline = method, deadline
        self.headers, self.trace_id = headers, trace_id


class Endpoint:
    """An endpoint on host:port (0: an ephemeral port, read `.port` after
    start()). `keys` is a Keyset; it verifies web->exec and signs
    exec->web. Counters: `rejects` (a list indexed by wire.RejectKind),
    `calls`, `calls_failed`, `protocol_errors`, `handshakes`."""

    def __init__(self, keys, *, host="127.0.0.1", port=0, max_payload_bytes=65536,
                 ttl_seconds=wire.DEFAULT_TTL_SECONDS, nonce_cache_size=4096,
                 max_inflight=1024, handshake_timeout=2.0):
        self.keys, self.host, self.port = keys, host, port
        self.max_payload_bytes, self.max_inflight = max_payload_bytes, max_inflight
        self.ttl_ms = ttl_seconds * 1000
        self.handshake_timeout = handshake_timeout
        self.nonces = wire.NonceCache(nonce_cache_size, self.ttl_ms)
        self.rejects = [0] * len(wire.RejectKind)
        self.calls = self.calls_failed = self.protocol_errors = self.handshakes = 0
        self.draining = False
        self._methods = {}
        self._server = None
        self._conns = set()
        self.add(STATS_METHOD, lc.StatsRequest, lc.WorkerStatus, self._stats)

    def add(self, method, request_type, reply_type, handler):
        """Serve `method` ("package.Service/Method"): `handler(request,
        ctx)` (async or not) gets a `request_type` message and returns a
        `reply_type` message, or raises RpcError."""
        if not wire.method_ok(method):
            raise ValueError(f"malformed method name {method!r}")
        self._methods[method] = (request_type, reply_type, handler)

    async def start(self):
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def drain(self):
        """GOAWAY on every session; REQUESTs arriving later get UNAVAILABLE;
        each connection closes once its calls are answered."""
        self.draining = True
        for c in list(self._conns):
            c.goaway()

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for c in list(self._conns):
            c.close()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.close()

    def _stats(self, req, ctx):
        return lc.WorkerStatus(pid=os.getpid(), port=self.port,
                               state=lc.WORKER_STATE_DRAINING if self.draining
                               else lc.WORKER_STATE_READY,
                               calls=self.calls, calls_failed=self.calls_failed,
                               rejects_by_kind=self.rejects, protocol_errors=self.protocol_errors,
                               stats=lc.STATS_STATE_ANSWERED)

    async def _serve(self, reader, writer):
        conn = _Conn(self, reader, writer)
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)
            conn.close()


class _Conn:
    """One connection: its session, its receive pipeline, its calls."""

    def __init__(self, ep, reader, writer):
        self.ep, self.reader, self.writer = ep, reader, writer
        self.session = wire.Session()
        self.rx = wire.Rx(ep.keys[WEB_TO_EXEC], WEB_TO_EXEC, wire.SERVER_KINDS, ep.ttl_ms,
                          wire.HELLO_MAX_BODY, open_kinds=(wire.HELLO,), nonces=ep.nonces)
        self.rx.counters = ep.rejects  # the endpoint counts every connection's rejects
        self.tasks = {}  # call_id -> Task

    def close(self):
        for t in self.tasks.values():
            t.cancel()
        self.tasks.clear()
        self.writer.close()

    def send(self, kind, **fields):
        env = wire.envelope(kind, session_id=self.session.id,
                            sequence=self.session.next_seq(), **fields)
        self.writer.write(wire.seal(self.ep.keys[EXEC_TO_WEB], EXEC_TO_WEB,
                                    env.SerializeToString()))

    def goaway(self):
        """GOAWAY; the connection closes once no call is left."""
        if self.session.state == wire.Session.OPEN:
            self.send(wire.GOAWAY, status=pb.Status(code=StatusCode.UNAVAILABLE,
                                                    message="draining"))
        self.close_if_drained()

    def close_if_drained(self):
        if self.ep.draining and not self.tasks:
            self.writer.close()

    async def run(self):
        try:
            body = await asyncio.wait_for(wire.read_body(self.reader, self.rx),
                                          self.ep.handshake_timeout)
            if body is None or not self.hello(body):
                return
            while True:
                body = await wire.read_body(self.reader, self.rx)
                if body is None or not self.frame(body):
                    return
        except (wire.Reject, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError):
            return

    def hello(self, body):
        env = self.rx.frame(self.session, body)  # a Reject closes (FIN), unanswered
        if env.kind != wire.HELLO:
            return False
        self.ep.handshakes += 1
        self.session.id, self.session.state = os.urandom(wire.SESSION_ID_LEN), wire.Session.OPEN
        self.rx.max_body = wire.max_body(self.ep.max_payload_bytes)
        ack = pb.HelloAck(max_inflight=self.ep.max_inflight,
                          max_payload_bytes=self.ep.max_payload_bytes)
        self.send(wire.HELLO_ACK, ack_nonce=env.nonce, payload=ack.SerializeToString())
        if self.ep.draining:
            self.goaway()
        return True

    def frame(self, body):
        env = self.rx.frame(self.session, body)
        if env.kind == wire.PING:
            self.send(wire.PONG)
        elif env.kind == wire.CANCEL:
            t = self.tasks.get(env.call_id)
            if t is not None:
                t.cancel()
        elif env.kind == wire.REQUEST:
            if env.call_id == 0 or env.call_id in self.tasks:
                self.ep.protocol_errors += 1
                return False
            self.request(env)
        return True

    def respond(self, call_id, code, message="", payload=b""):
        self.ep.calls += 1
        if code != StatusCode.OK:
            self.ep.calls_failed += 1
        self.send(wire.RESPONSE, call_id=call_id,
                  status=pb.Status(code=code, message=message), payload=payload)

    def request(self, env):
        refused = self.refusal(env)
        if refused is not None:
            self.respond(env.call_id, *refused)
            return
        self.tasks[env.call_id] = asyncio.ensure_future(self.dispatch(env))

    def refusal(self, env):
        """(code, message) for a REQUEST refused before any handler runs."""
        if self.ep.draining:
            return StatusCode.UNAVAILABLE, "draining"
        if not env.method:
            return StatusCode.INVALID_ARGUMENT, "no method"
        if not wire.method_ok(env.method):
            return (StatusCode.UNIMPLEMENTED,
                    f'malformed method name "{env.method}": expected "package.Service/Method"')
        if env.method not in self.ep._methods:
            return (StatusCode.UNIMPLEMENTED,
                    f'unknown method "{env.method}": this endpoint serves no such method '
                    "(check the name, and which services the worker hosts)")
        if len(env.payload) > self.ep.max_payload_bytes:
            return (StatusCode.INVALID_ARGUMENT,
                    f"request is {len(env.payload)} bytes, over max_payload_bytes")
        if len(self.tasks) >= self.ep.max_inflight:
            return StatusCode.RESOURCE_EXHAUSTED, "too many calls in flight on this connection"
        return None

    async def dispatch(self, env):
        req_type, reply_type, handler = self.ep._methods[env.method]
        loop = asyncio.get_running_loop()
        timeout = env.timeout_ms / 1000 if env.timeout_ms else None
        ctx = Context(env.method, loop.time() + timeout if timeout else None,
                      {h.key: h.value for h in env.headers}, env.trace_id)
        try:
            try:
                req = req_type.FromString(env.payload)
            except Exception:
                raise RpcError(StatusCode.INVALID_ARGUMENT,
                               f"{env.method} request does not decode") from None
            reply = await asyncio.wait_for(self._call(handler, req, ctx), timeout)
            out = reply.SerializeToString()
            if len(out) > self.ep.max_payload_bytes:
                raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                               "response larger than max_payload_bytes")
            self.respond(env.call_id, StatusCode.OK, payload=out)
        except asyncio.TimeoutError:
            self.respond(env.call_id, StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
        except RpcError as e:
            self.respond(env.call_id, e.code, e.message)
        except asyncio.CancelledError:
            return  # CANCEL or the connection closed: nothing is sent
        except Exception as e:  # a handler's bug is its call's INTERNAL
            self.respond(env.call_id, StatusCode.INTERNAL, f"handler failed: {type(e).__name__}")
        finally:
            if self.tasks.get(env.call_id) is asyncio.current_task():
                del self.tasks[env.call_id]
            self.close_if_drained()

    @staticmethod
    async def _call(handler, req, ctx):
        r = handler(req, ctx)
        return await r if asyncio.iscoroutine(r) else r


def add_echo(ep):
    """Serve echo.v1.Echo/Say on `ep` as apps/server's echo does for the
    fields the tests use: text back, worker_pid, delay_ms, fail_code."""
    from .examples.echo.v1 import echo_pb2

    async def say(req, ctx):
        if req.delay_ms:
            await asyncio.sleep(req.delay_ms / 1000)
        if req.fail_code:
            raise RpcError(req.fail_code, "failed as asked (fail_code)")
        return echo_pb2.SayResponse(text=req.text, worker_pid=os.getpid())

    ep.add("echo.v1.Echo/Say", echo_pb2.SayRequest, echo_pb2.SayResponse, say)
    return ep
