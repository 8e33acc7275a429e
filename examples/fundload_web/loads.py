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
  The day set is this process's; segments with a FREE flag are serialized
  within the process.
"""
import asyncio
import json
import re

from execrpc.examples.fundload.v1 import fundload_pb2 as fl

DECIDE_BATCH = "fundload.v1.FundLoad/DecideBatch"
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


class Coordinator:
    """The prime-slot day set of this web process and the segmented
    sending (module docstring). `rules`: "baseline" or "experiment"."""

    def __init__(self, rules, timeout=30.0):
        self.experiment = rules == "experiment"
        self.timeout = timeout
        self.taken = set()
        self._free_lock = asyncio.Lock()

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

    async def _part(self, ing, via, items):
        out = []
        for i in range(0, len(items), BATCH_MAX):
            chunk = [ld for _, ld in items[i:i + BATCH_MAX]]
            r = await ing.call(DECIDE_BATCH, fl.LoadBatch(loads=chunk), fl.DecisionBatch,
                               timeout=self.timeout, via=via)
            if len(r.decisions) != len(chunk):
                raise RuntimeError("DecideBatch: wrong number of decisions")
            out += list(r.decisions)
        return [(pos, d) for (pos, _), d in zip(items, out)]

    async def _segment(self, ing, seg):
        parts = {}
        for pos, (ld, p) in enumerate(seg):
            if p:
                d = ld.time_unix // 86400
                ld.prime_slot = fl.PRIME_SLOT_TAKEN if d in self.taken else fl.PRIME_SLOT_FREE
            t = ing.pick(SERVICE, ld.customer_id)
            parts.setdefault(id(t), (t, []))[1].append((pos, ld))
        res = await asyncio.gather(*(self._part(ing, t, items) for t, items in parts.values()))
        decisions = [None] * len(seg)
        for part in res:
            for pos, d in part:
                decisions[pos] = d
        for (ld, p), d in zip(seg, decisions):
            if p and d.accepted and d.prime_slot_consumed:
                self.taken.add(ld.time_unix // 86400)
        return decisions

    async def decide(self, ing, loads):
        """Yield (load, Decision) for `loads`, in order, segment by segment."""
        for seg in self.segments(loads):
            free = any(p and ld.time_unix // 86400 not in self.taken for ld, p in seg)
            if free:
                async with self._free_lock:
                    ds = await self._segment(ing, seg)
            else:
                ds = await self._segment(ing, seg)
            for (ld, _), d in zip(seg, ds):
                yield ld, d
