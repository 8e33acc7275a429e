"""tests/python/web_lag.py: the Python twin of the web process of
tests/supervisor/test_ingress_resync.c (its --web-lag mode): an
execrpc.bootstrap.Ingress that sends READY, then does not read fd 4
until SIGUSR1, so the test can fill the channel and move a worker.

Usage: web_lag.py --web-lag OUT (through the launcher CMake writes). It
appends to OUT: "table G I state S gen N port P" per endpoint at boot,
"reading" after SIGUSR1, "update G I state S gen N port P rejects R" per
update (R: control datagrams rejected so far), "stop" on STOP; it exits 0
once STOPPED is sent.
"""
import asyncio
import signal
import sys

from execrpc.bootstrap import BootstrapError, Ingress


async def main(out):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # before READY
    log = open(out, "a")
    done = asyncio.get_running_loop().create_future()
    ing = None

    def say(line):
        log.write(line + "\n")
        log.flush()

    def on_update(ep):
        rejects = sum(ing.stats()["rejects"].values())
        say(f"update {ep.group} {ep.index} state {ep.state} gen {ep.generation} "
            f"port {ep.port} rejects {rejects}")

    def on_stop(timeout_ms, drain):
        say("stop")
        ing.stop_done()

    def on_stopped():
        if not done.done():
            done.set_result(None)

    try:
        ing = await Ingress.from_bootstrap(client_name="web_lag", on_stop=on_stop,
                                           on_stopped=on_stopped, on_update=on_update)
    except BootstrapError as e:
        print(f"web_lag: {e}", file=sys.stderr)
        return 8
    for ep in ing.endpoints():
        say(f"table {ep.group} {ep.index} state {ep.state} gen {ep.generation} port {ep.port}")
    if not ing.ready(0):
        return 1
    # blocks the event loop: fd 4 is not read until the test says so
    if signal.sigtimedwait({signal.SIGUSR1}, 60) is None:
        return 1
    say("reading")
    await done
    await ing.close()
    log.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--web-lag":
        print("usage: web_lag.py --web-lag OUT", file=sys.stderr)
        sys.exit(64)
    sys.exit(asyncio.run(main(sys.argv[2])))
