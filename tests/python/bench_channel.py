#!/usr/bin/python3
"""tests/python/bench_channel.py: a figures program, not a test. N echo
calls (64-byte text) through one execrpc.channel, K in flight, against
execrpc-server; prints wall time and calls per CPU second of the Python
client and of the endpoint (load-insensitive on a shared machine).

usage (from a build tree):
  PYTHONPATH=build/tests/python/site /usr/bin/python3 tests/python/bench_channel.py \\
      build/apps/server/execrpc-server [N [K]]
"""
import asyncio
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import execrpc  # noqa: E402
from execrpc.examples.echo.v1 import echo_pb2  # noqa: E402
from xrtest import Server, write_secret  # noqa: E402


async def bench(binary, n, inflight):
    with tempfile.TemporaryDirectory() as tmp:
        path, keys = write_secret(tmp)
        srv = Server(binary, tmp, path)
        try:
            async with await execrpc.connect("127.0.0.1", srv.port, keys) as ch:
                req = echo_pb2.SayRequest(text="x" * 64)
                sem = asyncio.Semaphore(inflight)

                async def one():
                    async with sem:
                        await ch.call("echo.v1.Echo/Say", req, echo_pb2.SayResponse, timeout=30)

                c0, t0 = time.process_time(), time.monotonic()
                await asyncio.gather(*[one() for _ in range(n)])
                cpu, wall = time.process_time() - c0, time.monotonic() - t0
            srv.sigterm()
            srv.proc.wait()
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            scpu = ru.ru_utime + ru.ru_stime
            print(f"calls {n}, in flight {inflight}: wall {wall:.2f} s ({n / wall:.0f}/s), "
                  f"client CPU {cpu:.2f} s ({n / cpu:.0f} calls per client CPU s), "
                  f"endpoint CPU {scpu:.2f} s ({n / scpu:.0f} calls per endpoint CPU s, "
                  "its start and stop included)")
        finally:
            srv.stop()


if __name__ == "__main__":
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    asyncio.run(bench(a[0], int(a[1]) if len(a) > 1 else 20000, int(a[2]) if len(a) > 2 else 100))
