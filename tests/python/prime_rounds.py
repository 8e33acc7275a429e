#!/usr/bin/python3
"""tests/python/prime_rounds.py: the driver of python/prime_web. Two web
processes of examples/fundload_web (experiment rules) on their own ports,
the same 2 fund-load workers behind them; prime-id loads of one UTC day
sent concurrently through both must take that day's slot exactly once:

 1. singles: ROUNDS days, on each one prime-id load through each web
    process at once (POST /v1/loads, new customers, $1.00): per day
    exactly one accepted, both 200;
 2. batches: two POST /v1:loads:batch at once, one per process, each with
    2 prime-id loads of each of 100 days (+ a non-prime load per day):
    per day exactly one prime accepted across both, every non-prime load
    accepted, each batch's lines in its input order;
 3. mixed: singles through one process while a batch goes through the
    other, the same 50 days: exactly one per day;
 4. a day taken in 1, asked again through each process: declined.
Prints the counts and the first failed checks; exits 1 if any failed.

Usage: prime_rounds.py URL_A URL_B [ROUNDS]
"""
import asyncio
import json
import sys

import httpx

DAY0 = 21915           # 2030-01-01
AMOUNT = "$1.00"


def primes(n, start=1000003):
    out, k = [], start
    while len(out) < n:
        if all(k % p for p in range(3, int(k ** 0.5) + 1, 2)) and k % 2:
            out.append(k)
        k += 2
    return out


PRIMES = iter(primes(3000))


def day_time(day, sec=43200):
    import datetime
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(days=day, seconds=sec)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def load(cust, lid, day, sec=43200):
    return {"id": str(lid), "customer_id": cust, "load_amount": AMOUNT,
            "time": day_time(day, sec)}


FAILED = [0]


def check(cond, what):
    if not cond:
        FAILED[0] += 1
        if FAILED[0] <= 5:
            print("FAIL:", what, file=sys.stderr)


async def post_one(c, url, ld):
    r = await c.post(url + "/v1/loads", content=json.dumps(ld))
    check(r.status_code == 200, f"POST /v1/loads {ld}: {r.status_code} {r.text}")
    return json.loads(r.text)


async def singles(c, urls, days, tag):
    """One prime-id load per process per day, the two at once; 8 days in
    flight. {day: [accepted via A, accepted via B]}"""
    out = {}
    sem = asyncio.Semaphore(8)

    async def round_(d):
        lds = [load(f"{tag}{i}-{d}", next(PRIMES), d) for i in range(2)]
        async with sem:
            rs = await asyncio.gather(*(post_one(c, u, ld) for u, ld in zip(urls, lds)))
        out[d] = [r["accepted"] for r in rs]

    await asyncio.gather(*(round_(d) for d in days))
    return out


def batch_body(days, tag):
    lines, primes_by_day = [], {}
    for d in days:
        for i in range(2):
            lid = next(PRIMES)
            lines.append(load(f"{tag}{i}-{d}", lid, d, 3600 * (i + 1)))
            primes_by_day.setdefault(d, []).append(str(lid))
        lines.append(load(f"{tag}n-{d}", f"n{d}", d, 7200))
    return "".join(json.dumps(x) + "\n" for x in lines), lines, primes_by_day


async def post_batch(c, url, body, lines):
    r = await c.post(url + "/v1/loads:batch", content=body)
    check(r.status_code == 200, f"batch: {r.status_code}")
    got = [json.loads(x) for x in r.text.splitlines()]
    check(all("error" not in g for g in got), f"batch error line: {got[-1]}")
    check([(g["id"], g["customer_id"]) for g in got] ==
          [(x["id"], x["customer_id"]) for x in lines], "batch: not the input order")
    return got


def accepted_primes(got):
    return {g["id"] for g in got if g["accepted"] and not g["id"].startswith("n")}


async def main():
    ua, ub = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as c:
        # 1. singles
        days1 = range(DAY0, DAY0 + rounds)
        res = await singles(c, (ua, ub), days1, "s")
        wins = [0, 0]
        for d in days1:
            check(sum(res[d]) == 1, f"singles: day {d}: accepted via A, B = {res[d]}")
            if True in res[d]:
                wins[res[d].index(True)] += 1
        print(f"singles: {rounds} days x 2 concurrent loads: one accepted a day "
              f"(via A {wins[0]}, via B {wins[1]})")

        # 2. two batches at once, the same days
        days2 = range(DAY0 + 1000, DAY0 + 1100)
        ba, la, pa = batch_body(days2, "ba")
        bb, lb, pb = batch_body(reversed(days2), "bb")   # they meet midway
        ga, gb = await asyncio.gather(post_batch(c, ua, ba, la), post_batch(c, ub, bb, lb))
        acc = accepted_primes(ga) | accepted_primes(gb)
        for d in days2:
            n = len(acc & set(pa[d] + pb[d]))
            check(n == 1, f"batches: day {d}: {n} prime loads accepted")
        check(all(g["accepted"] for g in ga + gb if g["id"].startswith("n")),
              "batches: a non-prime load declined")
        print(f"batches: 2 x {len(la)} lines at once over {len(days2)} days: "
              f"one prime accepted a day (A {len(accepted_primes(ga))}, "
              f"B {len(accepted_primes(gb))})")

        # 3. singles through A while a batch goes through B
        days3 = range(DAY0 + 2000, DAY0 + 2050)
        bm, lm, pm = batch_body(days3, "m")
        sres, gm = await asyncio.gather(singles(c, (ua, ua), days3, "ms"),
                                        post_batch(c, ub, bm, lm))
        accm = accepted_primes(gm)
        for d in days3:
            n = sum(sres[d]) + len(accm & set(pm[d]))
            check(n == 1, f"mixed: day {d}: {n} prime loads accepted")
        print(f"mixed: singles via A and a batch via B over {len(days3)} days: "
              "one accepted a day")

        # 4. days taken in 1: declined through both
        for d in list(days1)[:10]:
            for u in (ua, ub):
                r = await post_one(c, u, load(f"late-{d}", next(PRIMES), d))
                check(r["accepted"] is False, f"taken day {d}: accepted again via {u}")
        print("taken days: declined through both processes")


asyncio.run(main())
if FAILED[0]:
    print(f"{FAILED[0]} checks failed", file=sys.stderr)
    sys.exit(1)
