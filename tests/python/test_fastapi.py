#!/usr/bin/python3
"""tests/python/test_fastapi.py: execrpc.fastapi without a supervisor — the
gRPC -> HTTP status table (grpc-gateway's), the error body and Retry-After,
the JSON helper both ways, the dependency, /healthz and the lifespan (READY
at startup; stop_done, STOPPED awaited and close at shutdown), through
FastAPI's TestClient and an ingress double.
"""
import asyncio

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

import execrpc.fastapi as xf
from execrpc import RpcError, StatusCode
from execrpc.examples.echo.v1 import echo_pb2
from xrtest import Report, main, need

SAY = "echo.v1.Echo/Say"
EXPECT = {0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400,
          10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401}


class Ep:
    def __init__(self, state, connected=True):
        self.state, self.connected = state, connected


class FakeIngress:
    """What execrpc.fastapi uses of execrpc.bootstrap.Ingress."""

    def __init__(self):
        self.refusing = self.stop_seen = False
        self.ready_ports, self.calls, self.log = [], [], []
        self.ready_svcs = set()
        self.fail = None
        self.stopped = asyncio.Event()

    def ready(self, port=0):
        self.ready_ports.append(port)
        return True

    def services(self):
        return ["echo.v1.Echo", "kv.v1.Kv"]

    def has_ready(self, svc):
        return svc in self.ready_svcs

    def endpoints(self):
        return [Ep(2)]

    async def call(self, method, req, reply_type, *, key=None, timeout=None):
        self.calls.append((method, req, key))
        if self.fail is not None:
            raise RpcError(self.fail, f"failed with {self.fail}")
        return reply_type(text=req.text.upper(), worker_pid=7)

    def stop_done(self):
        self.log.append("stop_done")
        self.stopped.set()

    async def close(self):
        self.log.append("close")


def make_app(fake):
    async def opener():
        fake.log.append("open")
        return fake

    app = FastAPI()
    xf.install(app, opener=opener, ready_port=8123)

    @app.post("/v1/say")
    async def say(request: Request, ing=Depends(xf.ingress)):
        return await xf.call_json(ing, SAY, await request.body(), echo_pb2.SayRequest,
                                  echo_pb2.SayResponse, key="k")
    return app


async def check_table():
    for code, want in EXPECT.items():
        need(xf.http_status(code) == want, f"code {code}: {xf.http_status(code)} != {want}")
        need(xf.HTTP_STATUS[StatusCode(code)] == want, f"table {code}")
    need(len(xf.HTTP_STATUS) == 17, "17 codes")
    need(xf.http_status(99) == 500, "an unknown code is 500")
    r = xf.error_response(RpcError(StatusCode.UNAVAILABLE, "no worker"))
    need(r.status_code == 503 and r.headers.get("retry-after") == "1", "503 + Retry-After")
    need(r.body == b'{"code":14,"message":"no worker","details":[]}', f"body {r.body!r}")
    r = xf.error_response(RpcError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"))
    need(r.status_code == 504 and "retry-after" not in r.headers, "504 without Retry-After")


async def check_json_helper():
    m = xf.to_message(b'{"text":"hi","delayMs":5}', echo_pb2.SayRequest)
    need(m == echo_pb2.SayRequest(text="hi", delay_ms=5), f"camelCase: {m}")
    m = xf.to_message({"text": "hi", "delay_ms": 5}, echo_pb2.SayRequest)
    need(m == echo_pb2.SayRequest(text="hi", delay_ms=5), "proto names, dict")
    need(xf.to_message(b"", echo_pb2.SayRequest) == echo_pb2.SayRequest(), "empty body")
    need(xf.to_json(echo_pb2.SayResponse(text="x", worker_pid=3)) ==
         {"text": "x", "workerPid": "3"}, "reply JSON")
    need(xf.to_json(echo_pb2.SayResponse()) == {"text": "", "workerPid": "0"},
         "unpopulated fields emitted")
    for bad in (b"{", b'{"nope":1}', b'{"delayMs":"x"}', b"[1]"):
        try:
            xf.to_message(bad, echo_pb2.SayRequest)
        except RpcError as e:
            need(e.code == StatusCode.INVALID_ARGUMENT and e.message.startswith("request body: "),
                 f"{bad!r}: {e}")
        else:
            need(False, f"{bad!r} parsed")


def _client_checks(fake):
    app = make_app(fake)
    with TestClient(app) as c:
        need(fake.log == ["open"] and fake.ready_ports == [8123], f"startup {fake.log}")
        r = c.post("/v1/say", content=b'{"text":"hi"}')
        need(r.status_code == 200 and r.content == b'{"text":"HI","workerPid":"7"}',
             f"200: {r.status_code} {r.content!r}")
        need(fake.calls[-1][0] == SAY and fake.calls[-1][2] == "k", "method and key")
        r = c.post("/v1/say", content=b'{"text":')
        need(r.status_code == 400 and r.json()["code"] == 3 and r.json()["details"] == [],
             f"bad JSON: {r.status_code} {r.content!r}")
        for code, want in EXPECT.items():
            if code == 0:
                continue
            fake.fail = code
            r = c.post("/v1/say", content=b'{"text":"a"}')
            body = {"code": code, "message": f"failed with {code}", "details": []}
            need(r.status_code == want and r.json() == body,
                 f"code {code}: {r.status_code} {r.content!r}")
            need((r.headers.get("retry-after") == "1") == (code == 14), f"Retry-After {code}")
        fake.fail = None
        r = c.get("/healthz")
        need(r.status_code == 503 and r.json() == {"ready": False}, "healthz before")
        fake.ready_svcs.add("echo.v1.Echo")
        need(c.get("/healthz").status_code == 503, "healthz with one service of two")
        fake.ready_svcs.add("kv.v1.Kv")
        r = c.get("/healthz")
        need(r.status_code == 200 and r.json() == {"ready": True}, "healthz ready")
        fake.stop_seen = True
        need(c.get("/healthz").status_code == 503, "healthz while stopping")
    need(fake.log == ["open", "stop_done", "close"], f"shutdown {fake.log}")


async def check_app():
    await asyncio.get_running_loop().run_in_executor(None, _client_checks, FakeIngress())


async def check_no_ingress():
    app = FastAPI()

    @app.get("/x")
    async def x(ing=Depends(xf.ingress)):
        return {}
    app.add_exception_handler(RpcError, xf._on_rpc_error)

    def run():
        with TestClient(app) as c:
            r = c.get("/x")
            need(r.status_code == 503 and r.json()["message"] == "ingress: not open",
                 f"{r.status_code} {r.content!r}")
    await asyncio.get_running_loop().run_in_executor(None, run)


async def run():
    rep = Report()
    await rep.run("gRPC -> HTTP table (grpc-gateway), error body, Retry-After", check_table)
    await rep.run("JSON helper: names, defaults, bad bodies INVALID_ARGUMENT", check_json_helper)
    await rep.run("app: lifespan, dependency, statuses and bodies, /healthz", check_app)
    await rep.run("dependency without an ingress: 503", check_no_ingress)
    return rep.finish()


if __name__ == "__main__":
    main(run())
