#!/usr/bin/python3
"""bench/web_client.py: the HTTP client of bench/bench_web.sh.

  web_client.py --port PORT --conns N [--path /v1/loads] INPUT

Sends every line of INPUT as one `POST PATH` (HTTP/1.1, keep-alive) over N
connections, each with one request in flight (the lines dealt round robin
to the connections, in order within each), and prints one line:

  http requests=R ok=K status_other=O elapsed_s=T rps=X client_cpu_s=C

(ok: answers 200; rps: requests per second of wall time; client_cpu_s: this
process's user + system CPU time, which the machine's 2 cores share with
the servers). Raw asyncio streams, no HTTP library: the client should cost
as little as possible. Exit status 1 if an answer is not 200.
"""
import argparse
import asyncio
import re
import time

CL = re.compile(rb"(?im)^content-length:[ \t]*(\d+)\r?$")


async def conn(port, path, bodies, counts):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " % path.encode()
    for body in bodies:
        w.write(head + b"%d\r\n\r\n" % len(body) + body)
        h = await r.readuntil(b"\r\n\r\n")
        m = CL.search(h)
        if m is None:
            raise RuntimeError("no Content-Length: %r" % h[:200])
        await r.readexactly(int(m.group(1)))
        counts["ok" if h[9:12] == b"200" else "other"] += 1
    w.close()


async def run(a, lines):
    counts = {"ok": 0, "other": 0}
    parts = [lines[i::a.conns] for i in range(a.conns)]
    t0 = time.monotonic()
    await asyncio.gather(*(conn(a.port, a.path, p, counts) for p in parts if p))
    return counts, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--path", default="/v1/loads")
    ap.add_argument("input")
    a = ap.parse_args()
    with open(a.input, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l]
    c0 = time.process_time()
    counts, el = asyncio.run(run(a, lines))
    cpu = time.process_time() - c0
    n = counts["ok"] + counts["other"]
    print("http requests=%d ok=%d status_other=%d elapsed_s=%.3f rps=%.1f client_cpu_s=%.2f"
          % (n, counts["ok"], counts["other"], el, n / el if el > 0 else 0.0, cpu))
    raise SystemExit(0 if counts["other"] == 0 else 1)


if __name__ == "__main__":
    main()
