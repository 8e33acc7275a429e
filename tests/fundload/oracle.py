#!/usr/bin/python3
"""tests/fundload/oracle.py [--rules baseline|experiment] INPUT

An independent implementation of docs/design.md section 9 as docs/fundload.md
states it, sharing no code with apps/fundload: the parity gate checks that
the C reference (fundload_ref) and every runtime profile agree with it on
the generated inputs. Prints the decisions on stdout; exits 65 if any line
was invalid, else 0. Standard library only (run with /usr/bin/python3).
"""
import json
import re
import sys

DAY_LIMIT, WEEK_LIMIT, DAY_COUNT, PRIME_LIMIT = 500000, 2000000, 3, 999900
AMOUNT_MAX = 2**63 - 1
LINE_MAX = 65536
T_MIN, T_MAX = -62167219200, 253402300799

AMOUNT_RE = re.compile(r"\$([0-9]+)(?:\.([0-9]{1,2}))?", re.ASCII)
TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                     r"(?:\.[0-9]+)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))", re.ASCII)


class Invalid(Exception):
    pass


def days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def month_days(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


def parse_amount(s):
    m = AMOUNT_RE.fullmatch(s)
    if not m:
        raise Invalid("bad_amount")
    cents = int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if cents > AMOUNT_MAX:
        raise Invalid("bad_amount")
    return cents


def parse_time(s):
    m = TIME_RE.fullmatch(s)
    if not m:
        raise Invalid("bad_time")
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= month_days(y, mo) and h <= 23 and mi <= 59 and sec <= 60):
        raise Invalid("bad_time")
    off = 0
    if m.group(8):
        oh, om = int(m.group(9)), int(m.group(10))
        if oh > 23 or om > 59:
            raise Invalid("bad_time")
        off = (oh * 3600 + om * 60) * (-1 if m.group(8) == "-" else 1)
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + min(sec, 59) - off
    if not T_MIN <= t <= T_MAX:
        raise Invalid("bad_time")
    return t


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Invalid("bad_json")
    return dict(pairs)


def parse_line(raw):
    if len(raw) > LINE_MAX:
        raise Invalid("line_too_long")
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=no_dups,
                         parse_constant=lambda c: (_ for _ in ()).throw(Invalid("bad_json")))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("bad_json")
    if not isinstance(obj, dict):
        raise Invalid("bad_json")
    fields = ("id", "customer_id", "load_amount", "time")
    if any(k not in fields for k in obj):
        raise Invalid("bad_field")
    if any(k not in obj for k in fields):
        raise Invalid("missing_field")
    for k in ("id", "customer_id"):
        v = obj[k]
        if not isinstance(v, str) or not 1 <= len(v.encode("utf-8", "surrogatepass")) <= 64:
            raise Invalid("bad_field")
    if not isinstance(obj["load_amount"], str):
        raise Invalid("bad_amount")
    amount = parse_amount(obj["load_amount"])
    if not isinstance(obj["time"], str):
        raise Invalid("bad_time")
    return obj["id"], obj["customer_id"], amount, parse_time(obj["time"])


def is_prime(n):
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
    return re.fullmatch(r"[0-9]{1,20}", i, re.ASCII) is not None and int(i) < 2**64 and is_prime(int(i))


def main():
    args = sys.argv[1:]
    experiment = False
    if len(args) == 3 and args[0] == "--rules":
        experiment = args[1] == "experiment"
        args = args[2:]
    if len(args) != 1:
        sys.exit("usage: oracle.py [--rules R] INPUT")
    data = open(args[0], "rb").read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    seen = set()          # (customer, id)
    day = {}              # (customer, day) -> [sum, count]
    week = {}             # (customer, week) -> sum
    prime_days = set()
    invalid = 0
    out = []
    for raw in lines:
        try:
            lid, cust, amount, t = parse_line(raw)
        except Invalid:
            invalid += 1
            continue
        if (cust, lid) in seen:
            continue
        seen.add((cust, lid))
        d = t // 86400
        w = (d + 3) // 7
        monday = (d + 3) % 7 == 0
        eff = amount * 2 if experiment and monday else amount
        prime = experiment and prime_id(lid)
        dsum, dcount = day.get((cust, d), [0, 0])
        wsum = week.get((cust, w), 0)
        ok = (not (prime and amount > PRIME_LIMIT) and dcount < DAY_COUNT
              and dsum + eff <= DAY_LIMIT and wsum + eff <= WEEK_LIMIT
              and not (prime and d in prime_days))
        if ok:
            day[(cust, d)] = [dsum + eff, dcount + 1]
            week[(cust, w)] = wsum + eff
            if prime:
                prime_days.add(d)
        out.append('{"id":%s,"customer_id":%s,"accepted":%s}\n' % (
            json.dumps(lid, ensure_ascii=False), json.dumps(cust, ensure_ascii=False),
            "true" if ok else "false"))
    sys.stdout.write("".join(out))
    sys.exit(65 if invalid else 0)


if __name__ == "__main__":
    main()
