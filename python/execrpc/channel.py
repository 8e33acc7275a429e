"""execrpc.channel: an asyncio client channel to one execrpc endpoint over
tcp_local (docs/protocol.md, docs/python.md).

One TCP connection, one HELLO session, many calls in flight; responses in
any order. Every call ends with its reply or one RpcError whose code and
message follow the C client's (client/include/execrpc/client.h):

- local refusals, never sent: a malformed method name and a request over
  max_payload_bytes (INVALID_ARGUMENT), more calls than max_inflight
  (RESOURCE_EXHAUSTED), a closed channel (UNAVAILABLE), a draining one
  (GOAWAY: UNAVAILABLE);
- the deadline: `timeout` seconds, sent as timeout_ms and enforced locally
  (DEADLINE_EXCEEDED "deadline exceeded", at the deadline, whatever the
  endpoint does; CANCEL then tells the endpoint, as the C client does);
- cancellation: cancelling the task awaiting call() sends CANCEL for it and
  re-raises asyncio.CancelledError (the endpoint sends nothing for it);
- the handshake: FIN after our HELLO = refused (UNAUTHENTICATED: secret or
  kdf mismatch), reset = UNAVAILABLE, no HELLO_ACK in connect_timeout =
  UNAVAILABLE;
- a frame from the endpoint that the pipeline rejects, or the connection
  lost: every pending call fails with UNAVAILABLE and the channel closes.
"""
import asyncio
import ipaddress
import math
import os

from . import wire
from .keys import EXEC_TO_WEB, WEB_TO_EXEC
from .status import RpcError, StatusCode
from .v1 import frame_pb2 as pb

DEFAULT_MAX_INFLIGHT = 4096
DEFAULT_CONNECT_TIMEOUT = 5.0


def _check_host(host):
    """tcp_local connects to loopback only (as the C client)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise RpcError(StatusCode.INVALID_ARGUMENT,
                       f'host "{host}" is not an IP address: tcp_local resolves no names; '
                       "use 127.0.0.1, ::1 or localhost") from None
    if not ip.is_loopback:
        raise RpcError(StatusCode.INVALID_ARGUMENT,
                       f'host "{host}" is not a loopback address: tcp_local connects only to '
                       "127.0.0.0/8, ::1 or localhost (run the client on the endpoint's machine)")
    return host


class Channel:
    """A connected channel; make one with `await Channel.connect(...)` (or
    execrpc.connect). Use it from one event loop. `async with` closes it."""

    def __init__(self, reader, writer, keys, where, *, max_payload_bytes, ttl_seconds,
                 max_inflight):
        self._reader, self._writer = reader, writer
        self._key = keys[WEB_TO_EXEC]
        self.where = where
        self.max_payload_bytes = max_payload_bytes
        self.max_inflight = max_inflight
        self.session = wire.Session()
        self.rx = wire.Rx(keys[EXEC_TO_WEB], EXEC_TO_WEB, wire.CLIENT_KINDS,
                          ttl_seconds * 1000, wire.max_body(max_payload_bytes))
        self._pending = {}       # call_id -> Future of the RESPONSE envelope
        self._pings = []         # Futures waiting for a PONG, in order
        self._next_call_id = 0
        self._closed_status = None   # (code, message) once closed
        self._draining = False
        self._reader_task = None
        self.calls_started = self.calls_ok = self.calls_failed = 0

    # ---------- connect and handshake ----------

    @classmethod
    async def connect(cls, host, port, keys, *, max_payload_bytes=wire.DEFAULT_MAX_PAYLOAD,
                      ttl_seconds=wire.DEFAULT_TTL_SECONDS, max_inflight=DEFAULT_MAX_INFLIGHT,
                      connect_timeout=DEFAULT_CONNECT_TIMEOUT, client_name="execrpc-python"):
        """Connect to host:port (loopback) and finish the HELLO handshake
        within `connect_timeout` seconds. `keys` is a Keyset (the endpoint's
        directional keys, or a worker's endpoint keys). Raises RpcError."""
        host = _check_host(host)
        if not 0 < port < 65536:
            raise RpcError(StatusCode.INVALID_ARGUMENT, f"port {port}: expected 1..65535")
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + connect_timeout
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), connect_timeout)
        except asyncio.TimeoutError:
            raise RpcError(StatusCode.UNAVAILABLE,
                           f"no HELLO_ACK from {where} within {round(connect_timeout * 1000)} ms "
                           "(connect_timeout_ms): is an execrpc endpoint listening there?") from None
        except OSError as e:
            raise RpcError(StatusCode.UNAVAILABLE,
                           f"connect to {where} failed: {e.strerror or e} "
                           "(is the endpoint running, on this port?)") from None
        ch = cls(reader, writer, keys, where, max_payload_bytes=max_payload_bytes,
                 ttl_seconds=ttl_seconds, max_inflight=max_inflight)
        try:
            await ch._handshake(client_name, max(0.001, deadline - loop.time()))
        except BaseException:
            writer.close()
            raise
        ch._reader_task = asyncio.ensure_future(ch._read_loop())
        return ch

    async def _handshake(self, client_name, timeout):
        env = wire.envelope(wire.HELLO,
                            payload=pb.Hello(client_name=client_name).SerializeToString())
        self.session.state, self.session.hello_nonce = wire.Session.PENDING, env.nonce
        self._writer.write(wire.seal(self._key, WEB_TO_EXEC, env.SerializeToString()))
        try:
            ack = await asyncio.wait_for(self._read_one(), timeout)
        except asyncio.TimeoutError:
            raise RpcError(StatusCode.UNAVAILABLE,
                           f"no HELLO_ACK from {self.where} within {round(timeout * 1000)} ms "
                           "(connect_timeout_ms): is an execrpc endpoint listening there?") from None
        except (ConnectionResetError, BrokenPipeError):
            raise RpcError(StatusCode.UNAVAILABLE,
                           f"connection reset by {self.where} before HELLO_ACK "
                           "(the endpoint is at max_connections or stopping)") from None
        except (wire.Reject, asyncio.IncompleteReadError) as e:
            if isinstance(e, wire.Reject) and e.kind != wire.RejectKind.BAD_SIGNATURE:
                raise RpcError(StatusCode.UNAVAILABLE,
                               f"frame from {self.where} refused ({e.kind.name}): "
                               "connection closed") from None
            ack = None
        if ack is None:
            raise RpcError(StatusCode.UNAUTHENTICATED, self._refused_msg())
        if ack.kind != wire.HELLO_ACK:  # a PONG or RESPONSE cannot pass PENDING; defensive
            raise RpcError(StatusCode.UNAVAILABLE, f"frame from {self.where} refused: no HELLO_ACK")
        hello_ack = pb.HelloAck.FromString(ack.payload)
        if hello_ack.max_payload_bytes:
            self.max_payload_bytes = min(self.max_payload_bytes, hello_ack.max_payload_bytes)
        if hello_ack.max_inflight:
            self.max_inflight = min(self.max_inflight, hello_ack.max_inflight)
        self.hello_ack = hello_ack

    def _refused_msg(self):
        return (f"handshake refused by {self.where}: it closed the connection after our HELLO "
                "without answering (secret or kdf mismatch? the client needs the endpoint's "
                "auth secret and kdf)")

    async def _read_one(self):
        """The next verified envelope, or None at a clean EOF."""
        body = await wire.read_body(self._reader, self.rx)
        if body is None:
            return None
        return self.rx.frame(self.session, body)

    # ---------- the reader ----------

    async def _read_loop(self):
        why = (StatusCode.UNAVAILABLE, f"connection closed by the endpoint {self.where}")
        try:
            while True:
                env = await self._read_one()
                if env is None:
                    break
                self._on_frame(env)
        except wire.Reject as r:
            why = (StatusCode.UNAVAILABLE,
                   f"frame from {self.where} refused ({r.kind.name}): connection closed")
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            return
        self._shut(*why)

    def _on_frame(self, env):
        if env.kind == wire.RESPONSE:
            fut = self._pending.pop(env.call_id, None)
            if fut is not None and not fut.done():
                fut.set_result(env)
            # else: finished already (deadline, cancel): ignored, as in C
        elif env.kind == wire.GOAWAY:
            self._draining = True
        elif env.kind == wire.PONG:
            if self._pings:
                fut = self._pings.pop(0)
                if not fut.done():
                    fut.set_result(None)

    def _shut(self, code, message):
        """Close the connection once; fail every pending call with it."""
        if self._closed_status is not None:
            return
        self._closed_status = (code, message)
        self._writer.close()
        for fut in list(self._pending.values()) + self._pings:
            if not fut.done():
                fut.set_exception(RpcError(code, message))
        self._pending.clear()
        self._pings.clear()

    # ---------- calls ----------

    @property
    def usable(self):
        """True while the channel can take calls (open, not draining)."""
        return self._closed_status is None and not self._draining

    def _refuse_new(self):
        if self._closed_status is not None:
            raise RpcError(*self._closed_status)
        if self._draining:
            raise RpcError(StatusCode.UNAVAILABLE,
                           f"endpoint {self.where} is draining (GOAWAY): it takes no new calls; "
                           "call another endpoint, or retry once it restarted")

    def _send(self, kind, **fields):
        env = wire.envelope(kind, session_id=self.session.id,
                            sequence=self.session.next_seq(), **fields)
        self._writer.write(wire.seal(self._key, WEB_TO_EXEC, env.SerializeToString()))

    async def call(self, method, request, reply_type=None, *, timeout=None, headers=None):
        """One unary call. `request`: a protobuf message (or bytes);
        `reply_type`: the reply's message class (None: return the reply's
        bytes); `timeout`: seconds (None: no deadline); `headers`: a dict
        of str -> str (at most 8). Returns the reply or raises RpcError."""
        payload = request if isinstance(request, (bytes, bytearray)) else request.SerializeToString()
        env = await self._call_bytes(method, bytes(payload), timeout, headers)
        if reply_type is None:
            return env.payload
        try:
            return reply_type.FromString(env.payload)
        except Exception:
            raise RpcError(StatusCode.INTERNAL, "response does not decode") from None

    async def _call_bytes(self, method, payload, timeout, headers):
        if not wire.method_ok(method):
            raise RpcError(StatusCode.INVALID_ARGUMENT,
                           f'malformed method name "{method}": expected "package.Service/Method", '
                           'e.g. "echo.v1.Echo/Say"')
        self._refuse_new()
        if len(payload) > self.max_payload_bytes:
            raise RpcError(StatusCode.INVALID_ARGUMENT, "request larger than max_payload_bytes")
        if len(self._pending) >= self.max_inflight:
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                           f"{self.max_inflight} calls in flight on the channel to {self.where} "
                           "(max_inflight)")
        hdrs = [pb.Header(key=k, value=v) for k, v in (headers or {}).items()]
        if not wire.headers_ok(hdrs):
            raise RpcError(StatusCode.INVALID_ARGUMENT,
                           "headers: at most 8, keys unique, key <= 63 and value <= 255 bytes")
        timeout_ms = 0
        if timeout is not None:
            if timeout <= 0:
                raise RpcError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            timeout_ms = min(0xFFFFFFFF, max(1, math.ceil(timeout * 1000)))
        self._next_call_id += 1
        call_id = self._next_call_id
        fut = asyncio.get_running_loop().create_future()
        self._pending[call_id] = fut
        self.calls_started += 1
        self._send(wire.REQUEST, call_id=call_id, method=method, timeout_ms=timeout_ms,
                   trace_id=os.urandom(wire.TRACE_ID_LEN), headers=hdrs, payload=payload)
        try:
            env = await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            self._abandon(call_id)
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded") from None
        except asyncio.CancelledError:
            self._abandon(call_id)
            raise
        except RpcError:
            self.calls_failed += 1
            raise
        return self._result(env)

    def _abandon(self, call_id):
        """A call ended here (deadline, cancel): CANCEL tells the endpoint
        (best effort, as xr_tcp_abandon); a late RESPONSE is ignored."""
        self.calls_failed += 1
        if self._pending.pop(call_id, None) is not None and self._closed_status is None:
            self._send(wire.CANCEL, call_id=call_id)

    def _result(self, env):
        code = env.status.code
        if code != StatusCode.OK:
            self.calls_failed += 1
            raise RpcError(code, env.status.message)
        if len(env.payload) > self.max_payload_bytes:
            self.calls_failed += 1
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED, "response larger than max_payload_bytes")
        self.calls_ok += 1
        return env

    async def ping(self, timeout=5.0):
        """PING; returns once the PONG arrived, or raises RpcError."""
        self._refuse_new()
        fut = asyncio.get_running_loop().create_future()
        self._pings.append(fut)
        self._send(wire.PING)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, "no PONG before the deadline") from None

    # ---------- closing ----------

    async def close(self):
        """Fail pending calls with UNAVAILABLE, close the connection."""
        self._shut(StatusCode.UNAVAILABLE, f"channel to {self.where} closed")
        if self._reader_task is not None:
            self._reader_task.cancel()
            try:
                await self._reader_task
            except asyncio.CancelledError:
                pass
        try:
            await self._writer.wait_closed()
        except OSError:
            pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def stats(self):
        """Counters: calls started/ok/failed, rejects by RejectKind name."""
        return {"calls_started": self.calls_started, "calls_ok": self.calls_ok,
                "calls_failed": self.calls_failed,
                "rejects": {k.name.lower(): self.rx.counters[k] for k in wire.RejectKind}}


async def connect(host, port, keys, **opts):
    """Channel.connect(host, port, keys, **opts)."""
    return await Channel.connect(host, port, keys, **opts)
