"""execrpc.bootstrap: the ingress of a Python web process run by the
supervisor in a web process group (`role: ingress`, docs/supervisor.md
"Web process groups"; the C side is client/ingress.c and ingress_boot.c).

    ing = await execrpc.bootstrap.Ingress.from_bootstrap(on_stop=...)
    ing.ready()                         # READY{port} to the supervisor
    reply = await ing.call("echo.v1.Echo/Say", SayRequest(text="hi"), SayResponse)
    ...                                 # on STOP: finish, then
    ing.stop_done(); await ing.stopped.wait(); await ing.close()

- fd 3: one datagram (at most 128 KiB), then end of file; validated as
  the C reader does (version 1, role ingress, group, runtime slice ranges,
  a known kdf, 32..64-byte keys, a 16-byte instance id and control session
  id, every endpoint: group, host, port <= 65535, a known state, a ready one
  with a port and a generation, no duplicate slot, at most 1024). A fault
  raises BootstrapError naming it, never a key byte.
- each READY execution worker gets one channel, signed with its endpoint
  keys (execrpc.keys.endpoint_keys of the bundle's keys and instance id);
- fd 4: every datagram passes the receive pipeline (size, tag with the
  control key, decode, kind CONTROL, ttl, the bundle's control session id
  and an increasing sequence) before its Command is looked at; rejects are
  counted by kind, verified commands it does not take are counted as
  refused. ENDPOINT to a new generation or port closes the old channel
  (its calls fail UNAVAILABLE) and opens a new one; a draining or stopping
  worker is not picked; a dead one's channel is closed;
- pick(service, key): the first group listing the service, else the first
  with an empty list; round robin, or FNV-1a-64(key) modulo the group's
  size, then the next ready slot; the closed channel to a READY worker (an
  endpoint closes one idle for 300 s) is made again first, at most once
  per REVIVE_S a slot;
- STOP: `on_stop(timeout_ms, drain)` is called (the application stops
  taking requests); once the application called stop_done() and every call
  made through call() completed, STOPPED is sent and `stopped` is set. End
  of file on fd 4 (the supervisor died) is a stop without drain.

The process is hardened first (no core file, not dumpable), as it holds
keys. Nothing here logs or formats a key.
"""
import asyncio
import ctypes
import os
import resource
import select
import socket
import time

from . import keys as xkeys
from . import wire
from .channel import Channel
from .status import RpcError, StatusCode
from .v1 import bootstrap_pb2 as bpb
from .v1 import lifecycle_pb2 as lpb

BUNDLE_MAX = 128 * 1024
CTL_MAX = 64 * 1024
MAX_ENDPOINTS = 1024
EOF_WAIT = 5.0
REVIVE_S = 0.1          # a closed channel to a READY worker: remade at most this often
KIND_CONTROL = 9
# nanopb bounds of the C reader (lifecycle.options, bootstrap.options)
_STR_CAP = 64
_SERVICE_CAP = 128
_SERVICES_MAX = 16
_PAYLOAD_RANGE = (1, 67108864)
_TTL_RANGE = (1, 3600)

READY = lpb.WORKER_STATE_READY
_DEAD = (lpb.WORKER_STATE_STOPPED, lpb.WORKER_STATE_FAILED, lpb.WORKER_STATE_BACKOFF)


class BootstrapError(Exception):
    """child_bootstrap_failed: the bundle was refused (the message says why)."""

    def __init__(self, why):
        super().__init__(f"ingress bootstrap: {why}")


def _str_ok(s, cap):
    return 0 < len(s.encode()) < cap


def endpoint_fault(e):
    """None if the ExecEndpoint `e` is valid, else what is wrong
    (xr__ing_endpoint_check)."""
    if not _str_ok(e.group, _STR_CAP):
        return "group"
    if not _str_ok(e.host, _STR_CAP):
        return "host"
    if e.port > 65535:
        return "port"
    if not lpb.WORKER_STATE_STARTING <= e.state <= lpb.WORKER_STATE_BACKOFF:
        return "state"
    if e.state == READY and (e.port == 0 or e.generation == 0):
        return "port or generation of a ready worker"
    if len(e.services) > _SERVICES_MAX or not all(_str_ok(s, _SERVICE_CAP) for s in e.services):
        return "services"
    return None


def _wait_readable(fd, timeout):
    p = select.poll()
    p.register(fd, select.POLLIN)
    end = time.monotonic() + timeout
    while True:
        left = max(0.0, end - time.monotonic())
        if p.poll(int(left * 1000)):
            return True
        if left <= 0:
            return False


def read_bundle_bytes(fd, timeout=10.0):
    """The one datagram on `fd` (closed on return), then end of file."""
    sock = socket.socket(fileno=fd)
    buf = bytearray(BUNDLE_MAX)
    try:
        if not _wait_readable(fd, timeout):
            raise BootstrapError(f"no bundle on fd {fd} within {round(timeout * 1000)} ms")
        try:
            n = sock.recv_into(buf, 0, socket.MSG_TRUNC)   # n: the datagram's size
        except OSError as e:
            raise BootstrapError(f"fd {fd}: {e.strerror} (a SOCK_SEQPACKET socket from the "
                                 "supervisor?)") from None
        if n == 0:
            raise BootstrapError(f"fd {fd} closed without a bundle")
        if n > BUNDLE_MAX:
            raise BootstrapError(f"bundle of {n} bytes is over the limit of {BUNDLE_MAX} bytes")
        if not _wait_readable(fd, EOF_WAIT):
            raise BootstrapError(f"fd {fd} not closed after the bundle")
        if sock.recv(1) != b"":
            raise BootstrapError(f"a second datagram on fd {fd} (one bundle only)")
        return bytes(buf[:n])
    finally:
        buf[:] = bytes(len(buf))
        sock.close()


def decode_bundle(data):
    """The validated BootstrapBundle of `data`; BootstrapError otherwise."""
    b = bpb.BootstrapBundle()
    try:
        b.ParseFromString(data)
    except Exception:
        raise BootstrapError(f"the bundle does not decode ({len(data)} bytes)") from None
    seen = set()
    for i, e in enumerate(b.endpoints):
        bad = endpoint_fault(e)
        if bad:
            raise BootstrapError(f"endpoint: bad {bad}")
        if i >= MAX_ENDPOINTS:
            raise BootstrapError(f"more than {MAX_ENDPOINTS} endpoints")
        if (e.group, e.index) in seen:
            raise BootstrapError(f"endpoint: duplicate slot {e.index} of a group")
        seen.add((e.group, e.index))
    if b.version != 1:
        raise BootstrapError(f"unsupported bundle version {b.version} (want 1)")
    if b.role != lpb.GROUP_ROLE_INGRESS:
        raise BootstrapError(f"not an ingress bundle (role {b.role}): is this program in a "
                             "group with role: ingress?")
    if not _str_ok(b.group, _STR_CAP):
        raise BootstrapError("no group name")
    rt = b.runtime
    if not b.HasField("runtime"):
        raise BootstrapError("runtime slice: missing")
    for name, v, (lo, hi) in (("execution_ipc.max_payload_bytes", rt.max_payload_bytes,
                               _PAYLOAD_RANGE),
                              ("execution_ipc.auth.ttl_seconds", rt.ttl_seconds, _TTL_RANGE)):
        if not lo <= v <= hi:
            raise BootstrapError(f"runtime slice: runtime.platform.{name}: {v} outside "
                                 f"{lo}..{hi}")
    k = b.keys
    if not b.HasField("keys"):
        raise BootstrapError("keys: missing")
    if not 32 <= len(k.control) <= 64:
        raise BootstrapError("keys: control key not 32..64 bytes")
    if k.kdf not in (bpb.KDF_NONE, bpb.KDF_HKDF_SHA256):
        raise BootstrapError("keys: unknown kdf")
    ik = b.ingress
    if not b.HasField("ingress"):
        raise BootstrapError("ingress keys: missing")
    if len(ik.instance_id) != xkeys.INSTANCE_ID_LEN:
        raise BootstrapError("ingress keys: instance id not 16 bytes")
    if not (32 <= len(ik.web_to_exec) <= 64 and 32 <= len(ik.exec_to_web) <= 64):
        raise BootstrapError("ingress keys: a key not 32..64 bytes")
    if len(b.control_session_id) != wire.SESSION_ID_LEN:
        raise BootstrapError(f"control session id not {wire.SESSION_ID_LEN} bytes")
    return b


def harden():
    """No core file, not dumpable: the process is about to hold keys."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:    # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")


class Endpoint:
    """One execution worker slot as the ingress sees it."""

    __slots__ = ("group", "index", "host", "port", "generation", "state", "services",
                 "connected")

    def __init__(self, e):
        self.group, self.index = e.group, e.index
        self.services = tuple(e.services)
        self.connected = False
        self.update(e)

    def update(self, e):
        self.host, self.port, self.generation, self.state = e.host, e.port, e.generation, e.state

    def __repr__(self):
        return (f"<Endpoint {self.group}[{self.index}] state {self.state} gen "
                f"{self.generation} {self.host}:{self.port}>")


class _Slot:
    def __init__(self, e):
        self.ep = Endpoint(e)
        self.ch = None          # a Task resolving to a Channel
        self.revived_at = None  # Ingress._revive(): the last remake


def _fnv1a64(data):
    h = 0xCBF29CE484222325
    for x in data:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Ingress:
    """The web process's ingress; make it with `await Ingress.from_bootstrap()`
    from the event loop that will use it."""

    def __init__(self, bundle, control_fd, opts):
        self.group, self.index = bundle.group, bundle.index
        self.max_payload = bundle.runtime.max_payload_bytes
        self.ttl = bundle.runtime.ttl_seconds
        kdf = "none" if bundle.keys.kdf == bpb.KDF_NONE else "hkdf_sha256"
        ik = bundle.ingress
        self._base = xkeys.Keyset(kdf, ik.web_to_exec, ik.exec_to_web, bundle.keys.control)
        self._inst = bytes(ik.instance_id)
        self._ctl_key = bytes(bundle.keys.control)
        self._slots = [_Slot(e) for e in bundle.endpoints]
        self._rr = {}
        self._opts = opts
        self._sess = wire.Session()
        self._sess.state, self._sess.id = wire.Session.OPEN, bytes(bundle.control_session_id)
        self._rx = wire.Rx(self._ctl_key, xkeys.CONTROL, (KIND_CONTROL,), self.ttl * 1000, CTL_MAX)
        self._ctl = socket.socket(fileno=control_fd)
        self._ctl.setblocking(False)
        self._dgram = bytearray(CTL_MAX)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._ctl.fileno(), self._on_ctl)
        self.inflight = 0
        self.refusing = False
        self.stop_seen = False
        self.draining = False
        self._done_asked = False
        self.stopped = asyncio.Event()
        self.updates = self.refused = self.channels_opened = self.channels_revived = 0
        self.rejects = [0] * len(wire.RejectKind)

    @classmethod
    async def from_bootstrap(cls, bootstrap_fd=3, control_fd=4, *, bootstrap_timeout=10.0,
                             client_name="execrpc-python", on_stop=None, on_update=None,
                             on_stopped=None):
        """Harden the process, read and validate the bundle on
        `bootstrap_fd`, watch `control_fd`, open a channel to every ready
        worker. `on_stop(timeout_ms, drain)`, `on_update(Endpoint)`,
        `on_stopped()`: plain callables. Raises BootstrapError."""
        try:
            harden()
            bundle = decode_bundle(read_bundle_bytes(bootstrap_fd, bootstrap_timeout))
        except BaseException:
            os.close(control_fd)
            raise
        ing = cls(bundle, control_fd, {"client_name": client_name, "on_stop": on_stop,
                                       "on_update": on_update, "on_stopped": on_stopped})
        bundle.Clear()
        for sl in ing._slots:
            if sl.ep.state == READY:
                ing._open(sl)
        return ing

    # ---------- channels ----------

    def _open(self, sl):
        ep = sl.ep
        ks = xkeys.endpoint_keys(self._base, self._inst, ep.group, ep.index, ep.generation)
        sl.ch = asyncio.ensure_future(Channel.connect(
            ep.host, ep.port, ks, max_payload_bytes=self.max_payload, ttl_seconds=self.ttl,
            client_name=self._opts["client_name"]))
        sl.ch.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved
        ep.connected = True
        self.channels_opened += 1

    def _close(self, sl):
        t, sl.ch, sl.ep.connected = sl.ch, None, False

        async def shut():
            try:
                ch = await t
            except (RpcError, asyncio.CancelledError):
                return
            await ch.close()      # its calls fail UNAVAILABLE
        asyncio.ensure_future(shut())

    def _apply(self, sl, e):
        moved = e.generation != sl.ep.generation or e.port != sl.ep.port
        sl.ep.update(e)
        if sl.ch is not None and (moved or e.state in _DEAD):
            self._close(sl)
        if sl.ch is None and e.state == READY and not self.refusing:
            self._open(sl)

    # ---------- the control channel (fd 4) ----------

    def _send(self, ctype, port=0):
        if self._ctl is None:
            return False
        env = wire.envelope(KIND_CONTROL, session_id=self._sess.id,
                            sequence=self._sess.next_seq(),
                            payload=lpb.Command(type=ctype, port=port).SerializeToString())
        eb = env.SerializeToString()
        try:
            self._ctl.send(wire.frame_body(eb, wire.sign(self._ctl_key, xkeys.CONTROL, eb)))
        except OSError:
            return False
        return True

    def ready(self, port=0):
        """READY{port}: the web process is up (`port`: its HTTP port or 0)."""
        return self._send(lpb.COMMAND_READY, port)

    def _on_ctl(self):
        while self._ctl is not None:
            try:
                n = self._ctl.recv_into(self._dgram, 0, socket.MSG_TRUNC)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                n = 0
            if n == 0:
                self._ctl_eof()
                return
            if n > CTL_MAX:
                self.rejects[wire.RejectKind.OVERSIZED] += 1
                continue
            try:
                env = self._rx.frame(self._sess, bytes(self._dgram[:n]))
            except wire.Reject as r:
                self.rejects[r.kind] += 1
                continue
            c = lpb.Command()
            try:
                c.ParseFromString(env.payload)
            except Exception:
                self.rejects[wire.RejectKind.MALFORMED] += 1
                continue
            if c.type == lpb.COMMAND_ENDPOINT:
                self._on_endpoint(c)
            elif c.type == lpb.COMMAND_STOP:
                self._on_stop(c.graceful_timeout_ms, c.drain_inflight)
            else:
                self.refused += 1

    def _ctl_eof(self):
        self._loop.remove_reader(self._ctl.fileno())
        self._ctl.close()
        self._ctl = None
        if not self.stop_seen:
            self._on_stop(0, False)

    def _on_endpoint(self, c):
        if not c.HasField("endpoint") or endpoint_fault(c.endpoint):
            self.refused += 1
            return
        for sl in self._slots:
            if sl.ep.group == c.endpoint.group and sl.ep.index == c.endpoint.index:
                self._apply(sl, c.endpoint)
                self.updates += 1
                if self._opts["on_update"]:
                    self._opts["on_update"](sl.ep)
                return
        self.refused += 1

    def _on_stop(self, timeout_ms, drain):
        if self.stop_seen:
            self.refused += 1
            return
        self.stop_seen, self.draining = True, bool(drain)
        if not drain:
            self.refusing = True
            for sl in self._slots:
                if sl.ch is not None:
                    self._close(sl)
        if self._opts["on_stop"]:
            self._opts["on_stop"](timeout_ms, bool(drain))
        self._maybe_stopped()

    def stop_done(self):
        """The application's own requests are done: STOPPED follows once
        every call made through call() completed."""
        self._done_asked = True
        self._maybe_stopped()

    def _maybe_stopped(self):
        if not self._done_asked or self.inflight > 0 or self.stopped.is_set():
            return
        self.refusing = True
        self._send(lpb.COMMAND_STOPPED)
        self.stopped.set()
        if self._opts["on_stopped"]:
            self._opts["on_stopped"]()

    # ---------- picking and calling ----------

    def _route(self, service):
        pick = next((i for i, s in enumerate(self._slots) if service in s.ep.services), None)
        if pick is None:
            pick = next((i for i, s in enumerate(self._slots) if not s.ep.services), None)
        if pick is None:
            return None
        g = self._slots[pick].ep.group
        return [s for s in self._slots if s.ep.group == g]

    @staticmethod
    def _live(t):
        """A channel Task still connecting, or connected and usable."""
        return not t.done() or (not t.cancelled() and t.exception() is None
                                and t.result().usable)

    def _revive(self, grp):
        """The closed channel to a READY worker (an endpoint closes one
        idle for 300 s; a reset) is made again on the next pick of its
        group, at most once per REVIVE_S a slot, as the C ingress does."""
        now = time.monotonic()
        for sl in grp:
            if sl.ep.state != READY or sl.ch is None or self._live(sl.ch):
                continue
            if sl.revived_at is not None and now - sl.revived_at < REVIVE_S:
                continue
            sl.revived_at = now
            self._close(sl)
            self._open(sl)
            self.channels_revived += 1

    def pick(self, service, key=None, *, failover=True):
        """The channel Task of a ready worker for `service`, or RpcError
        (UNIMPLEMENTED: no group has it; UNAVAILABLE: none ready, or
        stopping). With a key the key's own slot is tried first, then the
        next ready one; with `failover=False` only the key's own slot (a
        service that keeps state per key: another worker would decide
        without it), UNAVAILABLE when it is not ready."""
        if self.refusing:
            raise RpcError(StatusCode.UNAVAILABLE,
                           f'ingress: no ready worker for service "{service}" (stopping)')
        grp = self._route(service)
        if grp is None:
            raise RpcError(StatusCode.UNIMPLEMENTED,
                           f'ingress: no ready worker for service "{service}" (no group hosts it)')
        self._revive(grp)
        n = len(grp)
        if key is not None:
            start = _fnv1a64(key.encode() if isinstance(key, str) else key) % n
        else:
            g = grp[0].ep.group
            start = self._rr.get(g, 0) % n
            self._rr[g] = start + 1
        for i in range(n if failover or key is None else 1):
            sl = grp[(start + i) % n]
            if sl.ep.state == READY and sl.ch is not None and self._live(sl.ch):
                return sl.ch
        raise RpcError(StatusCode.UNAVAILABLE,
                       f'ingress: no ready worker for service "{service}"')

    def has_ready(self, service):
        """True if a ready worker with a channel hosts `service`."""
        grp = self._route(service)
        return bool(grp) and any(s.ep.state == READY and s.ch is not None for s in grp)

    def services(self):
        """Every service named by the table, in order."""
        out = []
        for s in self._slots:
            out += [x for x in s.ep.services if x not in out]
        return out

    async def call(self, method, request, reply_type=None, *, key=None, timeout=None,
                   headers=None, via=None):
        """One unary call through a picked worker (Channel.call): pick(the
        method's service, key), or `via`, a channel pick() returned.
        Counted in flight until it completes (STOPPED waits for it)."""
        svc, slash, _ = method.partition("/")
        if not slash or not svc:
            raise RpcError(StatusCode.INVALID_ARGUMENT, "ingress: bad method name")
        t = self.pick(svc, key) if via is None else via
        self.inflight += 1
        try:
            ch = await t
            return await ch.call(method, request, reply_type, timeout=timeout, headers=headers)
        finally:
            self.inflight -= 1
            # after the caller has seen the outcome (as the C callback)
            self._loop.call_soon(self._maybe_stopped)

    def endpoints(self):
        """The table: one Endpoint per execution worker slot."""
        return [s.ep for s in self._slots]

    def stats(self):
        return {"updates": self.updates, "refused": self.refused,
                "channels_opened": self.channels_opened,
                "channels_revived": self.channels_revived,
                "rejects": {k.name.lower(): self.rejects[k] for k in wire.RejectKind}}

    async def close(self):
        """Close every channel and fd 4."""
        self.refusing = True
        for sl in self._slots:
            if sl.ch is not None:
                t, sl.ch = sl.ch, None
                try:
                    await (await t).close()
                except (RpcError, asyncio.CancelledError):
                    pass
        if self._ctl is not None:
            self._loop.remove_reader(self._ctl.fileno())
            self._ctl.close()
            self._ctl = None
        self._ctl_key = b""
        self._base = None
