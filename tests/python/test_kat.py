#!/usr/bin/python3
"""tests/python/test_kat.py: known answers. Frames sealed by execrpc.wire
equal, byte for byte, the frames core seals for the same fields
(xr_codec_seal: core/frame.c's wrapper, protobuf-c's envelope, the tag of
core/auth.c), through tests/python/kat_frame.c; the directional and
endpoint keys of execrpc.keys equal xr_keys_derive / xr_keys_endpoint's,
and the fixed vector of tests/core/test_keys.c.

usage: test_kat.py --kat PATH/py_kat_frame
"""
import argparse
import asyncio

from execrpc import keys as K
from execrpc import wire
from execrpc.v1 import frame_pb2 as pb
from xrtest import Report, main, need

MASTER = bytes(range(0x40, 0x40 + 37))  # a fixed test value, not a secret
INST = bytes(range(0xA0, 0xB0))

CASES = {
    "HELLO, kdf hkdf_sha256": dict(
        kdf="hkdf_sha256", dir=K.WEB_TO_EXEC,
        env=dict(kind=wire.HELLO, nonce=bytes(range(16)), ts_ms=1764680000123,
                 payload=pb.Hello(client_name="kat").SerializeToString())),
    "REQUEST with headers, kdf hkdf_sha256": dict(
        kdf="hkdf_sha256", dir=K.WEB_TO_EXEC,
        env=dict(kind=wire.REQUEST, nonce=b"\x11" * 16, ts_ms=1, session_id=b"\x22" * 16,
                 sequence=300, trace_id=b"\x33" * 16, call_id=1 << 40,
                 method="echo.v1.Echo/Say", timeout_ms=4294967295,
                 headers=[pb.Header(key="k1", value="v1"), pb.Header(key="ключ", value="")],
                 payload=bytes(range(256)) * 3)),
    "RESPONSE with status, kdf none": dict(
        kdf="none", dir=K.EXEC_TO_WEB,
        env=dict(kind=wire.RESPONSE, nonce=b"\xfe" * 16, ts_ms=1764680000999,
                 session_id=b"\x01" * 16, sequence=2, call_id=7,
                 status=pb.Status(code=12, message="unknown method \"x.Y/Z\""))),
    "HELLO_ACK, kdf none": dict(
        kdf="none", dir=K.EXEC_TO_WEB,
        env=dict(kind=wire.HELLO_ACK, nonce=b"\x05" * 16, ts_ms=42, session_id=b"\x06" * 16,
                 sequence=1, ack_nonce=b"\x07" * 16,
                 payload=pb.HelloAck(max_inflight=1024, max_payload_bytes=65536)
                 .SerializeToString())),
    "CONTROL, kdf hkdf_sha256": dict(
        kdf="hkdf_sha256", dir=K.CONTROL,
        env=dict(kind=9, nonce=b"\x09" * 16, ts_ms=9, session_id=b"\x0a" * 16, sequence=9)),
}


def spec_lines(case):
    env = case["env"]
    lines = [f"master={MASTER.hex()}", f"kdf={case['kdf']}", f"dir={case['dir'].decode()}",
             f"inst={INST.hex()}", "group=execution", "index=1", "gen=2",
             f"version={wire.VERSION}", f"kind={env['kind']}", f"nonce={env['nonce'].hex()}", f"ts={env['ts_ms']}"]
    simple = dict(session_id="session", ack_nonce="ack", trace_id="trace", payload="payload")
    for f, name in simple.items():
        if f in env:
            lines.append(f"{name}={env[f].hex()}")
    for f, name in dict(sequence="seq", call_id="call_id", method="method",
                        timeout_ms="timeout_ms").items():
        if f in env:
            lines.append(f"{name}={env[f]}")
    if "status" in env:
        lines += [f"code={env['status'].code}", f"message={env['status'].message}"]
    for h in env.get("headers", []):
        lines.append(f"header={h.key}:{h.value}")
    return "".join(line + "\n" for line in lines).encode()


async def c_side(args, case):
    p = await asyncio.create_subprocess_exec(args.kat, stdin=asyncio.subprocess.PIPE,
                                             stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate(spec_lines(case))
    need(p.returncode == 0, f"kat_frame exit {p.returncode}")
    return dict(line.split("=", 1) for line in out.decode().split())


async def check_frame(args, case):
    c = await c_side(args, case)
    ks = K.derive(MASTER, case["kdf"])
    for label in K.LABELS:
        need(ks[label].hex() == c[f"key.{label.decode()}"], f"key {label} differs")
    ep = K.endpoint_keys(ks, INST, "execution", 1, 2)
    for label in (K.WEB_TO_EXEC, K.EXEC_TO_WEB):
        need(ep[label].hex() == c[f"ep.{label.decode()}"], f"endpoint key {label} differs")
    env = pb.Envelope(version=wire.VERSION, **case["env"]).SerializeToString()
    py = wire.seal(ks[case["dir"]], case["dir"], env)
    need(py.hex() == c["frame"], f"frames differ:\n  py {py.hex()}\n  c  {c['frame']}")
    # and the Python receive pipeline splits and verifies the C frame
    body = bytes.fromhex(c["frame"])[4:]
    e, tag = wire.split(body)
    need(e == env and tag == wire.sign(ks[case["dir"]], case["dir"], env), "split differs")


async def check_vector():
    """tests/core/test_keys.c test_endpoint_known_answer."""
    base = K.Keyset("hkdf_sha256", b"\x11" * 32, b"\x22" * 32, b"\x33" * 32)
    ep = K.endpoint_keys(base, INST, "execution", 1, 2)
    need(ep[K.WEB_TO_EXEC].hex() ==
         "9fee985a79a9b3a1d4d1048713cfbe0ecdc81ecf6e6ff34b15e0d5952d76d2b4", "web->exec")
    need(ep[K.EXEC_TO_WEB].hex() ==
         "3d835e9135469709 64cdf2a486a3aa493de0c08fae1c1e712f35561231e9b364".replace(" ", ""),
         "exec->web")
    need(ep[K.CONTROL] == b"\x33" * 32, "control passes through")


async def run(args):
    rep = Report()
    for name, case in CASES.items():
        await rep.run(f"frame known answer: {name}", check_frame, args, case)
    await rep.run("endpoint keys: the vector of tests/core/test_keys.c", check_vector)
    return rep.finish()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kat", required=True)
    main(run(ap.parse_args()))
