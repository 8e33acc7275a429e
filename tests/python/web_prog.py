"""tests/python/web_prog.py: the Python twin of tests/supervisor/web_prog.c,
a web process (execrpc.bootstrap.Ingress) run by execrpc-supervisor in a
web process group; tests/supervisor/web_ingress.sh drives it unchanged.

Usage: web_prog.py REPORT_DIR (run through the launcher CMake writes,
which puts the built package on sys.path: the supervisor's environment
has no PYTHONPATH). It appends to REPORT_DIR/webINDEX.log:
  boot GROUP INDEX pid PID, env NAME=VALUE..., dumpable N
  ok TEXT pid WORKER_PID | err CODE MESSAGE    (2 echo calls every 100 ms)
  update GROUP INDEX state S gen G port P     (every ENDPOINT update)
  stop drain D, then "last ok|err ...", then stopped
"""
import asyncio
import ctypes
import os
import sys

from execrpc.bootstrap import BootstrapError, Ingress
from execrpc.examples.echo.v1 import echo_pb2
from execrpc.status import RpcError

SAY = "echo.v1.Echo/Say"


async def outcome(ing, text, delay_ms=0):
    try:
        r = await ing.call(SAY, echo_pb2.SayRequest(text=text, delay_ms=delay_ms),
                           echo_pb2.SayResponse, timeout=5.0)
        return f"ok {r.text} pid {r.worker_pid}"
    except RpcError as e:
        return f"err {int(e.code)} {e.message}"


def exec_environ():
    """The environment the process was started with: /proc/self/environ
    (Python itself adds LC_CTYPE when it coerces the C locale, PEP 538),
    read before the ingress makes the process non-dumpable."""
    with open("/proc/self/environ", "rb") as f:
        return [e.decode() for e in f.read().split(b"\0") if e]


async def main(rep):
    env = exec_environ()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    log = None
    last = ["last none"]
    state = {"seq": 0, "ticking": True}

    def say(line):
        log.write(line + "\n")
        log.flush()

    async def tick_call(text):
        say(await outcome(ing, text))

    async def ticker():
        while state["ticking"]:
            for _ in range(2):
                state["seq"] += 1
                asyncio.ensure_future(tick_call(f"w{ing.index}-{state['seq']}"))
            await asyncio.sleep(0.1)

    async def last_call():
        last[0] = "last " + await outcome(ing, "last", 300)

    async def last_then_done():
        asyncio.ensure_future(last_call())
        await asyncio.sleep(0)     # the call has started: counted in flight
        ing.stop_done()

    def on_stop(timeout_ms, drain):
        say(f"stop drain {int(drain)}")
        state["ticking"] = False
        asyncio.ensure_future(last_then_done())

    def on_stopped():
        say(f"{last[0]}\nstopped")
        if not done.done():
            done.set_result(None)

    def on_update(ep):
        say(f"update {ep.group} {ep.index} state {ep.state} gen {ep.generation} port {ep.port}")

    try:
        ing = await Ingress.from_bootstrap(client_name="web_prog", on_stop=on_stop,
                                           on_stopped=on_stopped, on_update=on_update)
    except BootstrapError as e:
        print(f"web_prog: child_bootstrap_failed: {e}", file=sys.stderr)
        return 8
    log = open(os.path.join(rep, f"web{ing.index}.log"), "a")
    say(f"boot {ing.group} {ing.index} pid {os.getpid()}")
    for e in env:
        say(f"env {e}")
    say(f"dumpable {ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)}")
    asyncio.ensure_future(ticker())
    if not ing.ready(0):
        return 1
    await done
    await ing.close()
    log.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: web_prog.py REPORT_DIR", file=sys.stderr)
        sys.exit(64)
    sys.exit(asyncio.run(main(sys.argv[1])))
