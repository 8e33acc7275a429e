"""execrpc.fastapi: a FastAPI (Starlette) adapter for a web process run by
the supervisor in a web process group (docs/web.md).

    from fastapi import Depends, FastAPI, Request
    import execrpc.fastapi as xf

    app = FastAPI()
    xf.install(app)                      # lifespan, error mapping, /healthz

    @app.post("/v1/say")
    async def say(request: Request, ing=Depends(xf.ingress)):
        return await xf.call_json(ing, "echo.v1.Echo/Say", await request.body(),
                                  SayRequest, SayResponse)

- lifespan(app): opens the ingress from the bootstrap (fd 3, fd 4:
  execrpc.bootstrap.Ingress) at startup and sends READY; on STOP from the
  supervisor it asks the server to exit (SIGTERM to itself: uvicorn stops
  accepting, finishes the requests in flight, then runs the shutdown); the
  shutdown tells the ingress the application is done, waits for STOPPED
  (every call completed) and closes it;
- ingress(request): the dependency handing the open Ingress to a route;
- to_message / to_json / call_json: a JSON body to a request message and
  the reply back (google.protobuf.json_format; JSON names in lowerCamelCase
  with unpopulated fields emitted, as grpc-gateway's default marshaler; the
  proto names are accepted too). A body that does not parse is
  INVALID_ARGUMENT;
- an RpcError raised by a route becomes the HTTP status of HTTP_STATUS (the
  grpc-gateway mapping; UNAVAILABLE also gets `Retry-After: 1`) with the
  body {"code": CODE, "message": MESSAGE, "details": []};
- /healthz: 503 until every service the endpoint table names has a ready
  worker (and while stopping), then 200.
"""
import asyncio
import contextlib
import os
import signal

from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import JSONResponse

from .bootstrap import READY, Ingress
from .status import RpcError, StatusCode

# grpc-gateway's HTTPStatusFromCode (runtime/errors.go)
HTTP_STATUS = {
    StatusCode.OK: 200,
    StatusCode.CANCELLED: 499,
    StatusCode.UNKNOWN: 500,
    StatusCode.INVALID_ARGUMENT: 400,
    StatusCode.DEADLINE_EXCEEDED: 504,
    StatusCode.NOT_FOUND: 404,
    StatusCode.ALREADY_EXISTS: 409,
    StatusCode.PERMISSION_DENIED: 403,
    StatusCode.RESOURCE_EXHAUSTED: 429,
    StatusCode.FAILED_PRECONDITION: 400,
    StatusCode.ABORTED: 409,
    StatusCode.OUT_OF_RANGE: 400,
    StatusCode.UNIMPLEMENTED: 501,
    StatusCode.INTERNAL: 500,
    StatusCode.UNAVAILABLE: 503,
    StatusCode.DATA_LOSS: 500,
    StatusCode.UNAUTHENTICATED: 401,
}
RETRY_AFTER_SECONDS = 1
STOPPED_WAIT = 30.0


def http_status(code):
    """The HTTP status of gRPC status `code` (an unknown code: 500)."""
    try:
        return HTTP_STATUS[StatusCode(code)]
    except ValueError:
        return 500


def error_response(err):
    """The JSONResponse of an RpcError."""
    code = int(err.code)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if code == StatusCode.UNAVAILABLE else None
    return JSONResponse({"code": code, "message": err.message, "details": []},
                        status_code=http_status(code), headers=headers)


async def _on_rpc_error(request, exc):
    return error_response(exc)


def to_message(body, message_type):
    """`body` (bytes, str or a dict) parsed into a new `message_type`;
    RpcError(INVALID_ARGUMENT) if it does not parse."""
    msg = message_type()
    try:
        if isinstance(body, dict):
            json_format.ParseDict(body, msg)
        else:
            json_format.Parse(body if body else "{}", msg)
    except json_format.ParseError as e:
        raise RpcError(StatusCode.INVALID_ARGUMENT, f"request body: {e}") from None
    return msg


def to_json(msg):
    """The JSON object (a dict) of a reply message."""
    return json_format.MessageToDict(msg, including_default_value_fields=True)


async def call_json(ing, method, body, request_type, reply_type, *, key=None, timeout=None):
    """Parse `body` as `request_type`, call `method` through the ingress,
    return the reply as a dict (raises RpcError)."""
    req = to_message(body, request_type)
    return to_json(await ing.call(method, req, reply_type, key=key, timeout=timeout))


def ingress(request: Request):
    """The dependency: the application's open Ingress (UNAVAILABLE if
    none)."""
    ing = getattr(request.app.state, "execrpc", None)
    if ing is None:
        raise RpcError(StatusCode.UNAVAILABLE, "ingress: not open")
    return ing


def healthy(ing):
    """True if every service named by the table has a ready worker (any
    ready worker if the table names none), and the ingress is not
    stopping."""
    if ing is None or ing.refusing or ing.stop_seen:
        return False
    svcs = ing.services()
    if not svcs:
        return any(ep.state == READY and ep.connected for ep in ing.endpoints())
    return all(ing.has_ready(s) for s in svcs)


async def _healthz(request: Request):
    ok = healthy(getattr(request.app.state, "execrpc", None))
    return JSONResponse({"ready": ok}, status_code=200 if ok else 503)


def _stop_server(timeout_ms, drain):
    os.kill(os.getpid(), signal.SIGTERM)


@contextlib.asynccontextmanager
async def lifespan(app, opener=None, ready_port=0):
    """Open the ingress (`opener()`: a coroutine function returning an
    Ingress-like object; default Ingress.from_bootstrap), keep it in
    app.state.execrpc, send READY; on shutdown: stop_done(), wait for
    STOPPED (at most STOPPED_WAIT s), close."""
    if opener is None:
        ing = await Ingress.from_bootstrap(client_name="execrpc-fastapi", on_stop=_stop_server)
    else:
        ing = await opener()
    app.state.execrpc = ing
    ing.ready(ready_port)
    try:
        yield
    finally:
        ing.stop_done()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ing.stopped.wait(), STOPPED_WAIT)
        await ing.close()
        app.state.execrpc = None


def install(app, *, opener=None, ready_port=0, healthz="/healthz"):
    """Give `app` the lifespan (works on FastAPI versions with and without
    a `lifespan` argument), the RpcError mapping and the readiness route."""
    app.router.lifespan_context = lambda a: lifespan(a, opener, ready_port)
    app.add_exception_handler(RpcError, _on_rpc_error)
    if healthz:
        app.add_route(healthz, _healthz, methods=["GET"])
    return app


__all__ = ["HTTP_STATUS", "call_json", "error_response", "healthy", "http_status", "ingress",
           "install", "lifespan", "to_json", "to_message"]
