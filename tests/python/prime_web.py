#!/usr/bin/python3
"""tests/python/prime_web.py: one web process of the python/prime_web
test's web group: examples/fundload_web/app.py under uvicorn on a port of
its own (127.0.0.1, ephemeral), announced to the supervisor in READY, so
that the test reaches each web process separately (`execrpc status`
shows it as the process's port). serve.py shares one port instead.

Usage (the config's `command`): prime_web.py --site DIR --app DIR --rules R
"""
import argparse
import asyncio
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--rules", choices=("baseline", "experiment"), default="experiment")
    a = ap.parse_args()
    sys.path[:0] = [a.site, a.app]
    import uvicorn
    from app import make_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(False)
    port = sock.getsockname()[1]
    cfg = uvicorn.Config(make_app(a.rules, ready_port=port), lifespan="on",
                         log_level="warning", access_log=False)
    asyncio.run(uvicorn.Server(cfg).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
