#!/usr/bin/env python3
# Sends malformed and hostile frames to a running server, each followed by a good Classify; prints the table.
"""Usage: scripts/bad_inputs.py URL [--server-pid PID] [--skip TEXT]...

Expects the server scripts/leakcheck.sh starts: `--models lite0 --workers 1 --queue 1
--max-payload-mb 2 --max-message-mb 4` (the limits below must match). Waits for Health,
then for every case sends one frame (built by hand where the client would refuse to
build it), checks the reply's status, and then checks the server still serves: one good
Classify of the cat photo with `glimpse-cache: no`, which runs the model on the worker.

Every call that could succeed is sent uncached: a result left in the server's cache at
exit is reported by memcheck as "definitely lost" (see leakcheck.sh), so the leak check
is only meaningful while the cache stays empty. Calls expected to fail go through the
cache's lookup and in-flight table like any other, and leave nothing behind.

Exit status 0 when every case got its expected status and every good Classify after it
succeeded; 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "clients" / "python"))
import pynng  # noqa: E402

from glimpse_client import Client, GlimpseError, StatusCode, glimpse_pb2 as pb  # noqa: E402
from glimpse_client import frame  # noqa: E402

IMAGES = ROOT / "testdata" / "generated" / "images"
MODEL = "lite0"
CATS = range(281, 286)  # ImageNet 281-285, the cat photo's top class
MAX_PAYLOAD = 2 << 20   # --max-payload-mb 2
MAX_MESSAGE = 4 << 20   # --max-message-mb 4
HEALTH_WAIT_S = 300     # valgrind loads the model ~10x slower than native
# Under memcheck one lite0 inference takes ~1.5 s with scalar kernels (~25 s with AVX2/FMA,
# which valgrind emulates slowly); generous, since a wrong answer fails fast anyway.
CALL_TIMEOUT_S = 120
FLOOD = 6
NO_CACHE = {"glimpse-cache": "no"}
S = StatusCode

# Set by main(): the model's input side, the good image, and the counter of request ids.
SIDE = 224
CAT = b""
_ids = iter(range(1, 1 << 62))


class Outcome(NamedTuple):
    """What came back: a status (None: no reply), the reply's message, a note for the table."""

    status: Optional[int]
    message: str = ""
    note: str = ""


class Case(NamedTuple):
    name: str
    expected: frozenset  # of statuses; None in it means "no reply"
    run: Callable[[str], Outcome]


def envelope(method: str, body: bytes = b"", *, metadata=None, deadline_unix_ms=0, timeout_ms=0,
             request_id: Optional[int] = None) -> tuple[pb.RequestEnvelope, int]:
    rid = next(_ids) if request_id is None else request_id
    env = pb.RequestEnvelope(method="/glimpse.v1.Glimpse/" + method if not method.startswith("/") else method,
                             request_id=rid, body=body, metadata=dict(metadata or {}),
                             deadline_unix_ms=deadline_unix_ms, timeout_ms=timeout_ms)
    return env, rid


def classify_body(**fields) -> bytes:
    return pb.ClassifyRequest(model=fields.pop("model", MODEL), **fields).SerializeToString()


def exchange(url: str, data: bytes, request_id: Optional[int] = None, timeout_s: float = CALL_TIMEOUT_S) -> Outcome:
    """One raw frame out, one reply back, on a REQ socket of its own (nng: resending off)."""
    with pynng.Req0(resend_time=-1, send_timeout=int(timeout_s * 1000), recv_timeout=int(timeout_s * 1000)) as s:
        s.dial(url, block=True)
        s.send(data)
        try:
            raw = s.recv()
        except pynng.Timeout:
            return Outcome(None, note=f"no reply in {timeout_s:g} s")
        except (pynng.ConnectionReset, pynng.ConnectionAborted) as e:
            return Outcome(None, note=f"connection dropped ({e})")
    try:
        reply = frame.decode_response(raw)
    except frame.FrameError as e:
        return Outcome(-1, note=f"reply is not a response frame: {e}")
    # A frame the server cannot read has no request id to echo (0); any other must echo ours.
    want_id = 0 if request_id is None else request_id
    if reply.request_id != want_id:
        return Outcome(-1, reply.message, f"reply carries request id {reply.request_id}, expected {want_id}")
    return Outcome(reply.status, reply.message)


def raw(data: bytes) -> Callable[[str], Outcome]:
    """A frame the server cannot decode: it answers with request id 0."""
    return lambda url: exchange(url, data)


def call(method: str, body: bytes = b"", **kw) -> Callable[[str], Outcome]:
    def run(url: str) -> Outcome:
        env, rid = envelope(method, body, **kw)
        return exchange(url, frame.encode_request(env), rid)
    return run


def header(magic=b"GLMP", version=1, kind=1, flags=0) -> bytes:
    return struct.pack("<4sBBH", magic, version, kind, flags)


def good_classify_frame() -> bytes:
    env, _ = envelope("Classify", classify_body(jpeg=CAT), metadata=NO_CACHE)
    return frame.encode_request(env)


def tensor(shape, nbytes: Optional[int] = None, datatype=pb.FP32) -> pb.Tensor:
    count = 1
    for d in shape:
        count *= d
    return pb.Tensor(datatype=datatype, shape=list(shape), raw_contents=bytes(4 * count if nbytes is None else nbytes))


def huge_dimensions_jpeg(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its SOF0/SOF2 frame header claiming width x height (the data is unchanged)."""
    i = 2
    while i < len(jpeg):
        marker, length = jpeg[i + 1], struct.unpack(">H", jpeg[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            return jpeg[:i + 5] + struct.pack(">HH", height, width) + jpeg[i + 9:]
        i += 2 + length
    raise ValueError("no SOF marker")


def corrupt_scan(jpeg: bytes) -> bytes:
    """Scrambles 64 bytes in the middle of the entropy-coded data (after SOS), keeping the markers."""
    sos = jpeg.index(b"\xff\xda")
    start = sos + (len(jpeg) - sos) // 2
    rng = random.Random(7)
    noise = bytes(b if b != 0xFF else 0x00 for b in rng.randbytes(64))  # no accidental markers
    return jpeg[:start] + noise + jpeg[start + 64:]


def flood(url: str) -> Outcome:
    """FLOOD uncached Classifies of different images at once against --queue 1 and one worker."""
    images = sorted(IMAGES.glob("*.jpg"))
    photos = [p.read_bytes() for p in images if p.name not in ("tiny_1x1.jpg", "cat_large.jpg")][:FLOOD]
    results: list = [None] * FLOOD
    sockets = []
    for _ in range(FLOOD):  # connect all first, so the frames leave together
        s = pynng.Req0(resend_time=-1, send_timeout=CALL_TIMEOUT_S * 1000, recv_timeout=CALL_TIMEOUT_S * 1000)
        s.dial(url, block=True)
        sockets.append(s)
    start = threading.Barrier(FLOOD)

    def one(i: int) -> None:
        env, rid = envelope("Classify", classify_body(jpeg=photos[i % len(photos)]), metadata=NO_CACHE)
        data = frame.encode_request(env)
        start.wait()
        try:
            sockets[i].send(data)
            reply = frame.decode_response(sockets[i].recv())
            results[i] = reply.status if reply.request_id == rid else -1
        except Exception as e:  # noqa: BLE001  (reported in the table)
            results[i] = f"{type(e).__name__}"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(FLOOD)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sockets:
        s.close()
    ok = results.count(S.OK)
    busy = results.count(S.RESOURCE_EXHAUSTED)
    note = f"{ok} OK, {busy} RESOURCE_EXHAUSTED" + ("" if ok + busy == FLOOD else f", other: {results}")
    # One worker and one queue slot: while the burst arrives at most two are held, so some must
    # be refused at once; a third may be accepted if a slot frees up before the last frame lands
    # (under valgrind the front is slow too). Every request must be answered, OK or refused.
    good = ok + busy == FLOOD and ok >= 1 and busy >= 1
    return Outcome(S.RESOURCE_EXHAUSTED if good else -1, note=note)


def oversized_frame(url: str) -> Outcome:
    """A 5 MiB frame (over --max-message-mb 4): nanomsg drops it and the connection; no reply."""
    jpeg = b"\xff\xd8" + bytes(5 << 20)
    started = time.monotonic()
    with Client(url, timeout=CALL_TIMEOUT_S) as client:
        try:
            client.classify(jpeg, model=MODEL, cache=False)
        except GlimpseError as e:
            seconds = time.monotonic() - started
            note = f"client: {e.status_name} after {seconds:.2f} s"
            # The client sees the drop as UNAVAILABLE; "quickly" = long before its own timeout.
            if e.status_code == S.UNAVAILABLE and seconds < 10:
                return Outcome(None, note=note)
            return Outcome(e.status_code, e.message, note)
    return Outcome(S.OK, note="the server answered a frame over its message limit")


def cases() -> list[Case]:
    rng = random.Random(1)
    cat = CAT
    side = SIDE
    good_body = classify_body(jpeg=cat)
    invalid = frozenset({S.INVALID_ARGUMENT})
    return [
        Case("random bytes (256)", invalid, raw(rng.randbytes(256))),
        Case("empty frame", invalid, raw(b"")),
        Case("header only, 7 bytes", invalid, raw(header()[:7])),
        Case("wrong magic GLMQ", invalid, raw(header(magic=b"GLMQ") + envelope("Health")[0].SerializeToString())),
        Case("wrong version 2", invalid, raw(header(version=2) + envelope("Health")[0].SerializeToString())),
        Case("response kind", invalid, raw(header(kind=2) + envelope("Health")[0].SerializeToString())),
        Case("unknown flags 0x0001", invalid, raw(header(flags=1) + envelope("Health")[0].SerializeToString())),
        # Field 1 (method), length 16, but only 3 bytes follow.
        Case("envelope not protobuf", invalid, raw(header() + b"\x0a\x10abc")),
        Case("empty envelope (no method)", frozenset({S.UNIMPLEMENTED}), raw(header())),
        Case("unknown method", frozenset({S.UNIMPLEMENTED}), call("Nope", good_body)),
        Case("body not protobuf", invalid, call("Classify", b"\x12\xff\xff\xff\xff\x0f")),
        Case("no input", invalid, call("Classify", classify_body())),
        Case("empty jpeg", invalid, call("Classify", classify_body(jpeg=b""))),
        Case("unknown model lite9", frozenset({S.NOT_FOUND}), call("Classify", classify_body(model="lite9", jpeg=cat))),
        Case("truncated JPEG (3000 B)", invalid, call("Classify", classify_body(jpeg=cat[:3000]))),
        Case("not a JPEG (GIF)", invalid, call("Classify", classify_body(jpeg=b"GIF89a" + bytes(600)))),
        Case("JPEG 1x1", invalid, call("Classify", classify_body(jpeg=(IMAGES / "tiny_1x1.jpg").read_bytes()))),
        Case("JPEG claims 60000x60000", invalid,
             call("Classify", classify_body(jpeg=huge_dimensions_jpeg(cat, 60000, 60000)))),
        # libjpeg-turbo may decode damaged entropy data with a warning; either answer is fine,
        # what matters here is what memcheck says about the decoder.
        Case("JPEG scan data scrambled", frozenset({S.OK, S.INVALID_ARGUMENT}),
             call("Classify", classify_body(jpeg=corrupt_scan(cat)), metadata=NO_CACHE)),
        Case(f"tensor shape [1,3,{side // 2},{side // 2}]", invalid,
             call("Classify", classify_body(tensor=tensor([1, 3, side // 2, side // 2])))),
        Case("tensor dtype unspecified", invalid,
             call("Classify", classify_body(tensor=tensor([1, 3, side, side], datatype=pb.DATA_TYPE_UNSPECIFIED)))),
        Case("tensor 4 bytes short", invalid,
             call("Classify", classify_body(tensor=tensor([1, 3, side, side], nbytes=4 * 3 * side * side - 4)))),
        Case("tensor shape [-1,3,S,S]", invalid,
             call("Classify", classify_body(tensor=tensor([-1, 3, side, side], nbytes=4 * 3 * side * side)))),
        Case("Infer with two inputs", invalid,
             call("Infer", pb.InferRequest(model=MODEL, inputs=[tensor([1, 3, side, side])] * 2).SerializeToString())),
        Case("JPEG over limit (3 MiB)", frozenset({S.RESOURCE_EXHAUSTED}),
             call("Classify", classify_body(jpeg=b"\xff\xd8" + bytes(3 << 20)))),
        Case("deadline_unix_ms=1000", frozenset({S.DEADLINE_EXCEEDED}),
             call("Classify", good_body, deadline_unix_ms=1000)),
        # Expires while queued (DEADLINE_EXCEEDED, the model not run) or, if a worker is quick, runs.
        Case("timeout_ms=1", frozenset({S.DEADLINE_EXCEEDED, S.OK}),
             call("Classify", good_body, timeout_ms=1, metadata=NO_CACHE)),
        Case("top_k 2^32-1 (clamped)", frozenset({S.OK}),
             call("Classify", classify_body(jpeg=cat, top_k=2**32 - 1), metadata=NO_CACHE)),
        Case("Health of unknown service", frozenset({S.NOT_FOUND}),
             call("Health", pb.HealthRequest(service="grpc.health.v1.Nope").SerializeToString())),
        Case(f"flood: {FLOOD} uncached at --queue 1", frozenset({S.RESOURCE_EXHAUSTED}), flood),
        Case("frame over limit (5 MiB)", frozenset({None}), oversized_frame),
        # Absurd but well-formed deadlines must mean "no deadline in practice", not a trap:
        # 2^63 and up do not fit Int64; 10^15 ms (the year 33658) overflows when turned into ns.
        Case("Health, deadline_unix_ms 2^64-1", frozenset({S.OK}), call("Health", deadline_unix_ms=2**64 - 1)),
        Case("Health, deadline_unix_ms 10^15", frozenset({S.OK}), call("Health", deadline_unix_ms=10**15)),
    ]


def still_serving(url: str) -> tuple[bool, str]:
    """One good uncached Classify of the cat: the front, the queue and the worker all work."""
    started = time.monotonic()
    env, rid = envelope("Classify", classify_body(jpeg=CAT), metadata=NO_CACHE)
    out = exchange(url, frame.encode_request(env), rid)
    seconds = time.monotonic() - started
    if out.status != S.OK:
        return False, f"{status_text(out.status)} {out.message or out.note}"[:60]
    return True, f"{seconds:.1f} s"


def status_text(status) -> str:
    if status is None:
        return "no reply"
    if status == -1:
        return "BAD REPLY"
    try:
        return S(status).name
    except ValueError:
        return f"STATUS_{status}"


def wait_healthy(url: str, pid: Optional[int]) -> float:
    started = time.monotonic()
    with Client(url, timeout=2.0) as client:
        while time.monotonic() - started < HEALTH_WAIT_S:
            if pid is not None and not os.path.exists(f"/proc/{pid}"):
                raise SystemExit(f"server (pid {pid}) exited before it was healthy")
            try:
                if client.health().status == pb.HealthResponse.SERVING:
                    return time.monotonic() - started
            except GlimpseError:
                time.sleep(0.5)
    raise SystemExit(f"server at {url} not healthy after {HEALTH_WAIT_S} s")


def main() -> int:
    global SIDE, CAT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--server-pid", type=int, help="stop waiting for health if this process exits")
    parser.add_argument("--skip", action="append", default=[], metavar="TEXT",
                        help="leave out the cases whose name contains TEXT (repeatable), e.g. a known crash")
    args = parser.parse_args()

    print(f"server healthy after {wait_healthy(args.url, args.server_pid):.1f} s", flush=True)
    with Client(args.url, timeout=30) as client:
        metadata = client.model_metadata(MODEL)
    SIDE = metadata.input_size
    CAT = (IMAGES / "cat.jpg").read_bytes()

    ok, note = still_serving(args.url)
    if not ok:
        raise SystemExit(f"the good Classify fails before any bad input: {note}")
    print(f"good Classify before the suite: {note}\n", flush=True)

    width = 34
    print(f"{'input':{width}}  {'expected':22}  {'got':18}  {'still serving':13}  note")
    failures = 0
    for case in cases():
        if any(text in case.name for text in args.skip):
            print(f"{case.name:{width}}  skipped (--skip)")
            continue
        try:
            out = case.run(args.url)
        except Exception as e:  # noqa: BLE001  (a crash of the harness is a failed case, not a traceback)
            out = Outcome(-1, note=f"{type(e).__name__}: {e}")
        try:
            serving, serving_note = still_serving(args.url)
        except Exception as e:  # noqa: BLE001  (the server is gone: every later case fails too)
            serving, serving_note = False, f"{type(e).__name__}: {e}"
        passed = out.status in case.expected and serving
        failures += not passed
        expected = "|".join(sorted(status_text(s) for s in case.expected))
        note = out.note or out.message
        print(f"{case.name:{width}}  {expected:22}  {status_text(out.status):18}  "
              f"{('yes ' if serving else 'NO  ') + serving_note:13}  {note[:90]}"
              f"{'' if passed else '   <-- FAIL'}", flush=True)
    print(f"\nbad inputs: {failures} failed" if failures else "\nbad inputs: every case as expected, server still serving")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
