"""execrpc.wire: wire protocol v1 without I/O (docs/protocol.md,
docs/design.md section 2), byte-compatible with core/frame.c, core/rx.c
and core/replay.c.

A frame on a stream is u32be L + L bytes of Frame{envelope = 1, tag = 2},
tag = HMAC-SHA256(key[dir], label(dir) || envelope). seal() writes it the
way core/frame.c does (field 1, then field 2; so the bytes are equal to the
C side's for the same envelope). Rx is the receive pipeline of core/rx.c:
the same six steps in the same order, each failing with its own Reject
kind and bumping exactly its own counter. Session and NonceCache are the
replay state of core/replay.c.
"""
import asyncio
import enum
import hashlib
import hmac
import os
import re
import struct
import time

from .keys import CONTROL, EXEC_TO_WEB, WEB_TO_EXEC  # noqa: F401 (re-exported)
from .v1 import frame_pb2 as pb

VERSION = 1
PREFIX_LEN = 4
TAG_LEN = 32
NONCE_LEN = 16
SESSION_ID_LEN = 16
TRACE_ID_LEN = 16
ENVELOPE_OVERHEAD = 4096
HELLO_MAX_BODY = 512          # XR_HELLO_MAX_BODY: a frame before HELLO verifies
DEFAULT_MAX_PAYLOAD = 1048576
DEFAULT_TTL_SECONDS = 30

HELLO, HELLO_ACK, REQUEST, RESPONSE, CANCEL, GOAWAY, PING, PONG = range(1, 9)
KIND_MAX = 31
SERVER_KINDS = frozenset((HELLO, REQUEST, CANCEL, PING))      # what an endpoint accepts
CLIENT_KINDS = frozenset((HELLO_ACK, RESPONSE, GOAWAY, PONG))  # what a client accepts

_KEY_ENVELOPE = 0x0A  # field 1, wire type 2
_KEY_TAG = 0x12       # field 2, wire type 2
_METHOD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+/[A-Za-z_][A-Za-z0-9_]*$")


class RejectKind(enum.IntEnum):
    """xr_reject (core/err.h): the index of WorkerStatus.rejects_by_kind."""
    OVERSIZED = 0
    BAD_SIGNATURE = 1
    MALFORMED = 2
    KIND_NOT_ALLOWED = 3
    EXPIRED = 4
    REPLAY = 5


class Reject(Exception):
    """A frame the receive pipeline refused; `kind` is a RejectKind. A
    full nonce cache is REPLAY with `cache_full` set (counted as a replay,
    as in C)."""

    def __init__(self, kind, why="", cache_full=False):
        self.kind = RejectKind(kind)
        self.cache_full = cache_full
        super().__init__(f"{self.kind.name.lower()}{': ' + why if why else ''}")


def max_body(max_payload_bytes):
    """The frame body limit for a payload limit (xr_frame_max_body)."""
    return max_payload_bytes + ENVELOPE_OVERHEAD


def method_ok(name):
    """True for a name of the form "package.Service/Method"."""
    return bool(name) and _METHOD_RE.match(name) is not None


MAX_HEADERS = 8
MAX_HEADER_KEY = 63
MAX_HEADER_VALUE = 255


def headers_ok(headers):
    """The header bounds of both C codecs (core/codec.h): at most 8, keys
    unique, key <= 63 and value <= 255 bytes, no NUL."""
    if len(headers) > MAX_HEADERS:
        return False
    keys = set()
    for h in headers:
        k, v = h.key.encode(), h.value.encode()
        if len(k) > MAX_HEADER_KEY or len(v) > MAX_HEADER_VALUE or b"\0" in k + v or k in keys:
            return False
        keys.add(k)
    return True


def now_ms():
    """Unix time in milliseconds (what ts_ms carries)."""
    return time.time_ns() // 1_000_000


def sign(key, label, envelope):
    """HMAC-SHA256(key, label || envelope): the 32-byte tag."""
    return hmac.new(key, label + envelope, hashlib.sha256).digest()


def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def frame_body(envelope, tag):
    """The Frame wrapper around envelope bytes and a tag, as core/frame.c
    writes it (no prefix)."""
    return (bytes([_KEY_ENVELOPE]) + _varint(len(envelope)) + envelope
            + bytes([_KEY_TAG]) + _varint(len(tag)) + tag)


def with_prefix(body):
    """u32be length prefix + body."""
    return struct.pack(">I", len(body)) + body


def seal(key, label, envelope):
    """The complete frame on the wire for serialized `envelope` signed
    with `key` under direction `label`."""
    return with_prefix(frame_body(envelope, sign(key, label, envelope)))


def _get_varint32(b, off):
    acc = 0
    for i in range(5):
        if off >= len(b):
            raise ValueError
        x = b[off]
        off += 1
        acc |= (x & 0x7F) << (7 * i)
        if not x & 0x80:
            if acc > 0xFFFFFFFF:
                raise ValueError
            return acc, off
    raise ValueError


def split(body):
    """(envelope, tag) of a frame body, as xr_frame_split(): exactly fields
    1 and 2, length-delimited, each at most once, no trailing bytes, a tag
    present. Anything else raises Reject(BAD_SIGNATURE)."""
    env, tag, off = b"", None, 0
    seen_env = False
    try:
        while off < len(body):
            key = body[off]
            off += 1
            if key not in (_KEY_ENVELOPE, _KEY_TAG):
                raise ValueError
            n, off = _get_varint32(body, off)
            if n > len(body) - off:
                raise ValueError
            field = bytes(body[off:off + n])
            off += n
            if key == _KEY_ENVELOPE:
                if seen_env:
                    raise ValueError
                env, seen_env = field, True
            else:
                if tag is not None:
                    raise ValueError
                tag = field
    except ValueError:
        raise Reject(RejectKind.BAD_SIGNATURE, "the frame wrapper does not parse") from None
    if tag is None:
        raise Reject(RejectKind.BAD_SIGNATURE, "no tag")
    return env, tag


def envelope(kind, **fields):
    """A fresh Envelope: version 1, `kind`, a random 16-byte nonce, ts_ms =
    now, plus `fields`."""
    return pb.Envelope(version=VERSION, kind=kind, nonce=os.urandom(NONCE_LEN),
                       ts_ms=now_ms(), **fields)


class NonceCache:
    """The bounded nonce cache of core/replay.c for session-opening frames:
    a nonce is remembered until ts + ttl; when full with nothing expired a
    new nonce is refused (fails closed)."""

    def __init__(self, capacity, ttl_ms):
        if capacity < 1:
            raise ValueError("nonce cache capacity must be >= 1")
        self.capacity, self.ttl_ms = capacity, ttl_ms
        self._until = {}

    def __len__(self):
        return len(self._until)

    def check(self, nonce, ts_ms, now):
        """Remember `nonce`; Reject(REPLAY) if present or the cache is full."""
        if len(self._until) >= self.capacity or nonce in self._until:
            self._until = {n: t for n, t in self._until.items() if t >= now}
        if nonce in self._until:
            raise Reject(RejectKind.REPLAY, "nonce seen before")
        if len(self._until) >= self.capacity:
            raise Reject(RejectKind.REPLAY, "nonce cache full", cache_full=True)
        self._until[nonce] = ts_ms + self.ttl_ms


class Session:
    """Per-connection replay state (xr_session): NONE (endpoint, before
    HELLO), PENDING (client, HELLO sent), OPEN; the session id, our HELLO's
    nonce, the highest sequence accepted from the peer, the last one sent."""
    NONE, PENDING, OPEN = range(3)

    def __init__(self):
        self.state = Session.NONE
        self.id = b""
        self.hello_nonce = b""
        self.peer_seq = 0
        self.send_seq = 0

    def next_seq(self):
        self.send_seq += 1
        return self.send_seq

    def check(self, env, nonces, now):
        """The replay step (xr_replay_check) for a verified, decoded, fresh
        envelope; advances the state on success, raises Reject otherwise."""
        if not env.session_id:
            if self.state != Session.NONE or nonces is None:
                raise Reject(RejectKind.REPLAY, "a session-opening frame on an open connection")
            nonces.check(env.nonce, env.ts_ms, now)
            return
        if self.state == Session.OPEN:
            if env.session_id != self.id or env.sequence <= self.peer_seq:
                raise Reject(RejectKind.REPLAY, "session id or sequence")
            self.peer_seq = env.sequence
        elif self.state == Session.PENDING:
            if (env.kind != HELLO_ACK or env.ack_nonce != self.hello_nonce
                    or env.sequence == 0):
                raise Reject(RejectKind.REPLAY, "not the ack of our HELLO")
            self.id, self.peer_seq, self.state = env.session_id, env.sequence, Session.OPEN
        else:
            raise Reject(RejectKind.REPLAY, "a session id before any session")


class Rx:
    """One side's receive pipeline (xr_rx, core/rx.c). `key`/`label`: the
    verifier's key and direction; `kinds`: the whitelist; `open_kinds`: the
    kinds that open a session and carry no session id (empty: no such rule,
    the client side); `nonces`: a NonceCache for opening frames or None.
    `counters[RejectKind]` and `accepted` count what it saw."""

    def __init__(self, key, label, kinds, ttl_ms, max_body_len, open_kinds=(), nonces=None):
        self.key, self.label = key, label
        self.kinds, self.open_kinds = frozenset(kinds), frozenset(open_kinds)
        self.ttl_ms, self.max_body, self.nonces = ttl_ms, max_body_len, nonces
        self.counters = [0] * len(RejectKind)
        self.accepted = 0

    def count(self, kind):
        self.counters[kind] += 1

    def check_len(self, n):
        """Step 1, on the length prefix before the body is read."""
        if n > self.max_body:
            self.count(RejectKind.OVERSIZED)
            raise Reject(RejectKind.OVERSIZED, f"{n} bytes over {self.max_body}")

    def frame(self, session, body, now=None):
        """Steps 1-6 over a frame body; returns the Envelope or raises
        Reject (counted)."""
        try:
            env = self._steps(session, body, now_ms() if now is None else now)
        except Reject as r:
            self.count(r.kind)
            raise
        self.accepted += 1
        return env

    def _steps(self, session, body, now):
        if len(body) > self.max_body:
            raise Reject(RejectKind.OVERSIZED)
        env_bytes, tag = split(body)
        if len(tag) != TAG_LEN or not hmac.compare_digest(
                sign(self.key, self.label, env_bytes), tag):
            raise Reject(RejectKind.BAD_SIGNATURE, "the tag does not verify")
        try:
            env = pb.Envelope.FromString(env_bytes)
        except Exception:
            raise Reject(RejectKind.MALFORMED, "the envelope does not decode") from None
        if (env.version != VERSION or len(env.nonce) != NONCE_LEN
                or len(env.session_id) not in (0, SESSION_ID_LEN)
                or len(env.ack_nonce) not in (0, NONCE_LEN)):
            raise Reject(RejectKind.MALFORMED, "version or field lengths")
        if not headers_ok(env.headers):
            raise Reject(RejectKind.MALFORMED, "headers outside their bounds")
        if env.kind > KIND_MAX or env.kind not in self.kinds:
            raise Reject(RejectKind.KIND_NOT_ALLOWED, f"kind {env.kind}")
        if self.open_kinds and (env.kind in self.open_kinds) != (not env.session_id):
            raise Reject(RejectKind.KIND_NOT_ALLOWED, f"kind {env.kind} and its session id")
        if abs(now - env.ts_ms) > self.ttl_ms:
            raise Reject(RejectKind.EXPIRED, "ts outside the ttl")
        session.check(env, self.nonces, now)
        return env


async def read_body(reader, rx):
    """The next frame body from an asyncio StreamReader, its length
    checked by rx.check_len() before a body byte is read. None on a clean
    EOF between frames; asyncio.IncompleteReadError on EOF inside one."""
    try:
        head = await reader.readexactly(PREFIX_LEN)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise
    (n,) = struct.unpack(">I", head)
    rx.check_len(n)
    return await reader.readexactly(n)
