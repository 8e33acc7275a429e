#!/usr/bin/python3
"""examples/fundload_web/serve.py: one web process of the example's web
group: uvicorn serving app.py on 127.0.0.1:PORT, the port shared by the
group's processes (SO_REUSEPORT: the kernel spreads the connections).

Usage (the config's `command`; no secret on it: the keys come on fd 3):
  serve.py --site DIR --port PORT --rules baseline|experiment
DIR: where the execrpc package is (the build's tests/python/site). The
supervisor gives the process a minimal environment (no PYTHONPATH).
"""
import argparse
import asyncio
import os
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rules", choices=("baseline", "experiment"), default="baseline")
    a = ap.parse_args()
    sys.path[:0] = [a.site, os.path.dirname(os.path.abspath(__file__))]
    import uvicorn
    from app import make_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", a.port))
    sock.set_inheritable(False)
    cfg = uvicorn.Config(make_app(a.rules, ready_port=a.port), lifespan="on",
                         log_level="warning", access_log=False)
    asyncio.run(uvicorn.Server(cfg).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
