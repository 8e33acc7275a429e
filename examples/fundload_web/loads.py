"""examples/fundload_web/loads.py: the fund-load input and output of the
web example (docs/fundload.md "Input", "Output") and the ingress
coordination of the cross-customer prime rule ("Sharding and the
cross-customer prime rule"), over execrpc.bootstrap.Ingress.

- parse(raw): one input line (bytes) to a LoadRequest, or Invalid(reason);
- line(load, decision): the output line, jansson's compact escaping;
- Coordinator.decide(ing, loads): the decisions of `loads` (in order),
  each customer's loads sent in order over the channel its customer_id
  picks (FNV-1a, execrpc.bootstrap), as DecideBatch calls of at most 64.
  The loads are cut into segments: a segment ends before a prime-id load
  (experiment rules) whose day is not yet taken when the segment already
  holds a prime-id load of that day. Within a segment every prime-id load's
  flag is therefore known when it is sent (its day taken: TAKEN; else it
  is the first of its day: FREE), the workers decide their parts in
  parallel, and `taken` is updated from prime_slot_consumed before the
  next segment is sent. That is rule (a) of docs/fundload.md with the
  waiting done by segment, so the decisions are the sequential run's.

  Across web processes (which share nothing but the workers) the day's
  slot is owned by one worker, Coordinator.owner(): FNV-1a-64 of the day
  in decimal over the fund-load group. Before a segment is sent, every
  day of its prime-id loads not known taken is reserved there
  (ReservePrimeSlot, ascending days, a holder unique per reservation):
  TAKEN -> the day joins `taken`, its load goes with TAKEN; FREE -> held,
  its load goes with FREE and the reservation is settled with the
  decision's prime_slot_consumed (SettlePrimeSlot: the day TAKEN, or
  released); BUSY -> retried with a short backoff for `slot_wait`, then
  UNAVAILABLE with nothing sent. `taken` is a cache of the owner's sticky
  TAKEN days. A segment whose calls fail after its days were reserved
  settles them as consumed (fail closed). docs/fundload.md, "Web
  processes: the prime slot across ingresses".
"""
import asyncio
import json
import os
import re
import secrets
import sys

from execrpc import RpcError, StatusCode
from execrpc.bootstrap import READY
from execrpc.examples.fundload.v1 import fundload_pb2 as fl

DECIDE_BATCH = "fundload.v1.FundLoad/DecideBatch"
RESERVE = "fundload.v1.FundLoad/ReservePrimeSlot"
SETTLE = "fundload.v1.FundLoad/SettlePrimeSlot"
LEASE_MS = 10000          # a reservation's lease (its holder may vanish)
SLOT_WAIT = 10.0          # s: a BUSY day is retried this long, then UNAVAILABLE
SERVICE = "fundload.v1.FundLoad"
BATCH_MAX = 64            # XR_FL_BATCH_MAX
SEGMENT_MAX = 1024
AMOUNT_MAX = 2**63 - 1
LINE_MAX = 65536
T_MIN, T_MAX = -62167219200, 253402300799
FIELDS = ("id", "customer_id", "load_amount", "time")
AMOUNT_RE = re.compile(r"\$([0-9]+)(?:\.([0-9]{1,2}))?", re.ASCII)
TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                     r"(?:\.[0-9]+)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))", re.ASCII)
_MDAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


class Invalid(Exception):
    """An invalid input line; the message is the reason (bad_json, ...)."""


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _month_days(y, m):
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return 29 if m == 2 and leap else _MDAYS[m - 1]


def _amount(s):
    m = AMOUNT_RE.fullmatch(s)
    if not m:
        raise Invalid("bad_amount")
    cents = int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if cents > AMOUNT_MAX:
        raise Invalid("bad_amount")
    return cents


def _time(s):
    m = TIME_RE.fullmatch(s)
    if not m:
        raise Invalid("bad_time")
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= _month_days(y, mo) and h <= 23 and mi <= 59
            and sec <= 60):
        raise Invalid("bad_time")
    off = 0
    if m.group(8):
        oh, om = int(m.group(9)), int(m.group(10))
        if oh > 23 or om > 59:
            raise Invalid("bad_time")
        off = (oh * 3600 + om * 60) * (-1 if m.group(8) == "-" else 1)
    t = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + min(sec, 59) - off
    if not T_MIN <= t <= T_MAX:
        raise Invalid("bad_time")
    return t


def _no_dups(pairs):
    if len({k for k, _ in pairs}) != len(pairs):
        raise Invalid("bad_json")
    return dict(pairs)


def _no_constant(c):
    raise Invalid("bad_json")


def parse(raw):
    """The LoadRequest of one input line (bytes, no newline)."""
    if len(raw) > LINE_MAX:
        raise Invalid("line_too_long")
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_dups,
                         parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("bad_json") from None
    if not isinstance(obj, dict):
        raise Invalid("bad_json")
    if any(k not in FIELDS for k in obj):
        raise Invalid("bad_field")
    if any(k not in obj for k in FIELDS):
        raise Invalid("missing_field")
    for k in ("id", "customer_id"):
        v = obj[k]
        if not isinstance(v, str) or not 1 <= len(v.encode("utf-8", "surrogatepass")) <= 64:
            raise Invalid("bad_field")
    if not isinstance(obj["load_amount"], str):
        raise Invalid("bad_amount")
    amount = _amount(obj["load_amount"])
    if not isinstance(obj["time"], str):
        raise Invalid("bad_time")
    return fl.LoadRequest(id=obj["id"], customer_id=obj["customer_id"], amount_cents=amount,
                          time_unix=_time(obj["time"]))


def _is_prime(n):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def prime_id(i):
    """A numeric id (1..20 ASCII digits, <= 2^64-1) whose value is prime."""
    return (re.fullmatch(r"[0-9]{1,20}", i, re.ASCII) is not None and int(i) < 2**64
            and _is_prime(int(i)))


def _esc(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif o < 0x20:
            out.append("\\u%04X" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def line(load, d):
    """The output line of a decided load (None for an ignored one)."""
    if d.ignored:
        return None
    return '{"id":%s,"customer_id":%s,"accepted":%s}\n' % (
        _esc(load.id), _esc(load.customer_id), "true" if d.accepted else "false")


def fnv1a64(data):
    """FNV-1a-64 of `data` (bytes): the key hash of execrpc.bootstrap's pick."""
    h = 0xCBF29CE484222325
    for x in data:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Coordinator:
    """The prime-slot coordination of this web process and the segmented
    sending (module docstring). `rules`: "baseline" or "experiment";
    `timeout`: each call's deadline (s); `lease_ms`: a reservation's
    lease; `slot_wait`: how long a BUSY day is retried (s) before
    UNAVAILABLE."""

    def __init__(self, rules, timeout=30.0, lease_ms=LEASE_MS, slot_wait=SLOT_WAIT):
        self.experiment = rules == "experiment"
        self.timeout = timeout
        self.lease_ms = lease_ms
        self.slot_wait = slot_wait
        self.taken = set()
        self.busy_waits = 0
        self._tag = "%d-%s" % (os.getpid(), secrets.token_hex(8))
        self._seq = 0

    def segments(self, loads):
        """Split `loads` into segments (lists of (load, is_prime))."""
        seg, open_days = [], set()
        for ld in loads:
            p = self.experiment and prime_id(ld.id)
            d = ld.time_unix // 86400
            if (p and d not in self.taken and d in open_days) or len(seg) >= SEGMENT_MAX:
                yield seg
                seg, open_days = [], set()
            if p and d not in self.taken:
                open_days.add(d)
            seg.append((ld, p))
        if seg:
            yield seg

    # ---------- the day's owner: ReservePrimeSlot, SettlePrimeSlot ----------

    @staticmethod
    def owner(ing, day):
        """The Endpoint owning `day`'s prime slot: FNV-1a-64 of the day in
        decimal over the group hosting the service, the slot pick(SERVICE,
        key) starts at."""
        eps = ing.endpoints()
        g = next((e.group for e in eps if SERVICE in e.services), None)
        if g is None:
            g = next((e.group for e in eps if not e.services), None)
        grp = [e for e in eps if e.group == g]
        if not grp:
            raise RpcError(StatusCode.UNIMPLEMENTED, "prime slot: no group hosts " + SERVICE)
        return grp[fnv1a64(str(day).encode()) % len(grp)]

    def _holder(self):
        self._seq += 1
        return "%s-%d" % (self._tag, self._seq)

    async def _slot_call(self, ing, method, req):
        own = self.owner(ing, req.day)
        if own.state != READY:
            raise RpcError(StatusCode.UNAVAILABLE,
                           "prime slot: the owner of day %d is not ready" % req.day)
        req.owner = own.index
        r = await ing.call(method, req, fl.SlotReply, timeout=min(self.timeout, 5.0),
                           via=ing.pick(SERVICE, str(req.day)))
        return r.state

    async def _reserve(self, ing, day, holder):
        """FREE (held by `holder`) or TAKEN; BUSY retried for slot_wait,
        then RpcError UNAVAILABLE (nothing decided)."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self.slot_wait, 0.002
        while True:
            try:
                st = await self._slot_call(ing, RESERVE, fl.ReserveRequest(
                    day=day, holder=holder, lease_ms=self.lease_ms))
            except RpcError as e:
                if e.code != StatusCode.FAILED_PRECONDITION:  # not the owner: failed over
                    raise
                st = fl.SLOT_STATE_BUSY
            if st in (fl.SLOT_STATE_FREE, fl.SLOT_STATE_TAKEN):
                return st
            self.busy_waits += 1
            if loop.time() + delay > deadline:
                raise RpcError(StatusCode.UNAVAILABLE,
                               "prime slot of day %d: busy (another request holds it)" % day)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _settle(self, ing, day, holder, consumed):
        try:
            await self._slot_call(ing, SETTLE, fl.SettleRequest(day=day, holder=holder,
                                                                consumed=consumed))
        except RpcError as e:
            # the decision stands; the reservation expires after its lease
            print("fundload_web: settle of day %d failed: %s" % (day, e), file=sys.stderr)
        if consumed:
            self.taken.add(day)

    async def _reserve_all(self, ing, days):
        """Reserve `days` in ascending order (two requests never wait on
        each other in a cycle): {day: holder} of the FREE ones; the TAKEN
        ones join self.taken. On a failure the ones held are released."""
        held = {}
        try:
            for d in sorted(days):
                h = self._holder()
                if await self._reserve(ing, d, h) == fl.SLOT_STATE_TAKEN:
                    self.taken.add(d)
                else:
                    held[d] = h
        except BaseException:
            self._settle_later(ing, held, False)
            raise
        return held

    def _settle_later(self, ing, held, consumed):
        for d, h in held.items():
            asyncio.ensure_future(self._settle(ing, d, h, consumed))

    # ---------- sending ----------

    async def _part(self, ing, via, items, deadline):
        loop = asyncio.get_running_loop()
        out = []
        for i in range(0, len(items), BATCH_MAX):
            chunk = [ld for _, ld in items[i:i + BATCH_MAX]]
            left = self.timeout if deadline is None else max(0.001, deadline - loop.time())
            r = await ing.call(DECIDE_BATCH, fl.LoadBatch(loads=chunk), fl.DecisionBatch,
                               timeout=left, via=via)
            if len(r.decisions) != len(chunk):
                raise RuntimeError("DecideBatch: wrong number of decisions")
            out += list(r.decisions)
        return [(pos, d) for (pos, _), d in zip(items, out)]

    @staticmethod
    def _snapshot(ing):
        """Every worker slot's (state, generation, port), by (group, index)."""
        return {(e.group, e.index): (e.state, e.generation, e.port)
                for e in ing.endpoints()}

    @classmethod
    def _unchanged(cls, ing, snap):
        """RpcError UNAVAILABLE if a slot changed since `snap` was taken: a
        restarted worker lost its customers' state, so what the run sends
        from here on could be decided wrong (apps/fundload/web.c ends its
        run the same way)."""
        for k, v in cls._snapshot(ing).items():
            if snap.get(k) != v:
                raise RpcError(StatusCode.UNAVAILABLE,
                               "worker %s[%d] changed (state %d, generation %d): its "
                               "customers' state is lost" % (k[0], k[1], v[0], v[1]))

    @staticmethod
    def _plan(ing, seg):
        """The segment's parts: (channel, [(pos, load)]) per worker picked
        by customer_id (RpcError UNAVAILABLE before anything is held)."""
        parts = {}
        for pos, (ld, _) in enumerate(seg):
            # the customer's own worker or UNAVAILABLE: another worker
            # would decide without the customer's state
            t = ing.pick(SERVICE, ld.customer_id, failover=False)
            parts.setdefault(id(t), (t, []))[1].append((pos, ld))
        return list(parts.values())

    async def _segment(self, ing, seg, snap):
        loop = asyncio.get_running_loop()
        # the picks and the check in one step: a channel picked here is
        # one of the snapshot's generations, and a later restart closes
        # it, failing its calls
        self._unchanged(ing, snap)
        parts = self._plan(ing, seg)
        t0 = loop.time()
        days = {ld.time_unix // 86400 for ld, p in seg if p} - self.taken
        held = await self._reserve_all(ing, days) if days else {}
        for ld, p in seg:
            if p:
                taken = ld.time_unix // 86400 in self.taken
                ld.prime_slot = fl.PRIME_SLOT_TAKEN if taken else fl.PRIME_SLOT_FREE
        # decided within half the lease, so settled before it ends
        deadline = t0 + self.lease_ms / 2000.0 if held else None
        try:
            res = await asyncio.gather(*(self._part(ing, t, items, deadline)
                                         for t, items in parts))
        except BaseException:
            # outcome unknown: mark the days taken (fail closed: a slot
            # may go unused that day, never used twice)
            self._settle_later(ing, held, True)
            raise
        decisions = [None] * len(seg)
        for part in res:
            for pos, d in part:
                decisions[pos] = d
        consumed = {ld.time_unix // 86400 for (ld, p), d in zip(seg, decisions)
                    if p and d.accepted and d.prime_slot_consumed}
        for d, h in held.items():
            await self._settle(ing, d, h, d in consumed)
        self.taken |= consumed
        return decisions

    async def decide(self, ing, loads):
        """Yield (load, Decision) for `loads`, in order, segment by segment
        (each segment's prime days reserved first). A worker slot that
        changes during the run (a restart: its customers' state is lost)
        ends it with UNAVAILABLE before the next segment."""
        snap = self._snapshot(ing)
        for seg in self.segments(loads):
            ds = await self._segment(ing, seg, snap)
            for (ld, _), d in zip(seg, ds):
                yield ld, d
