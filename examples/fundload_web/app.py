"""examples/fundload_web/app.py: the fund-load web API (FastAPI), a web
process of a web process group (execrpc.fastapi, docs/web.md).

  POST /v1/loads        one load (the input line's JSON object) ->
                        {"id":..,"customer_id":..,"accepted":true|false}
                        (a duplicate: {"id":..,"customer_id":..,"ignored":true};
                        an invalid load: 400 {"code":3,"message":"bad_amount",..})
  POST /v1/loads:batch  JSON lines -> the decisions as JSON lines, streamed,
                        exactly the lines `fundload` writes (invalid lines
                        and duplicates write nothing)
  GET  /healthz         503 until a fund-load worker is ready, then 200

Each load goes to the worker its customer_id picks; the prime rule is
coordinated as loads.Coordinator says, across the web processes too: the
day's slot is reserved from the worker owning the day before a prime-id
load (experiment rules) is sent. A day another request holds for longer
than the slot wait (10 s), or whose owner is not ready: 503
{"code":14,..}, nothing decided.
"""
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response, StreamingResponse

import execrpc.fastapi as xf
from execrpc import RpcError, StatusCode

import loads as L


def make_app(rules="baseline", ready_port=0, opener=None):
    app = FastAPI(title="fund-load")
    xf.install(app, ready_port=ready_port, opener=opener)
    coord = L.Coordinator(rules)

    @app.post("/v1/loads")
    async def one(request: Request, ing=Depends(xf.ingress)):
        try:
            load = L.parse(await request.body())
        except L.Invalid as e:
            raise RpcError(StatusCode.INVALID_ARGUMENT, str(e)) from None
        async for ld, d in coord.decide(ing, [load]):
            text = L.line(ld, d)
            if text is None:
                text = '{"id":%s,"customer_id":%s,"ignored":true}\n' % (
                    L._esc(ld.id), L._esc(ld.customer_id))
            return Response(text, media_type="application/json")

    @app.post("/v1/loads:batch")
    async def batch(request: Request, ing=Depends(xf.ingress)):
        body = await request.body()
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        parsed = []
        for raw in lines:
            try:
                parsed.append(L.parse(raw))
            except L.Invalid:
                pass

        async def stream():
            out = []
            try:
                async for ld, d in coord.decide(ing, parsed):
                    text = L.line(ld, d)
                    if text is not None:
                        out.append(text)
                    if len(out) >= 256:
                        yield "".join(out)
                        out = []
            except RpcError as e:
                # the status line is gone: the stream ends with the error
                out.append('{"error":{"code":%d,"message":%s}}\n' % (int(e.code),
                                                                    L._esc(e.message)))
            if out:
                yield "".join(out)
        return StreamingResponse(stream(), media_type="application/x-ndjson")

    return app
