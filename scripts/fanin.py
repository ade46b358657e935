#!/usr/bin/env python3
# Fan-in test: 16 concurrent Swift and Python clients against one server, every reply checked against offline answers.
"""Usage: scripts/fanin.py [--no-cache] [--binary PATH]

1. Classifies the 100 images of testdata/generated/fanin/ (made by
   scripts/make_fanin_images.py, run here when they are missing) with the local engine:
   `glimpse classify --json --top 5`, no server. These are the expected answers.
2. Starts `glimpse serve --listen tcp://127.0.0.1:<free port> --workers 2` (with
   --no-cache: `--cache-mb 0` as well) and waits for Health to say SERVING.
3. Starts 16 clients at once: even k the Swift CLI (`glimpse classify --server`), odd k
   the Python client (`python3 -m glimpse_client`). Client k sends images
   k*6 .. k*6+49 (mod 100), so neighbouring clients overlap (cache hits, joined calls)
   but no two send the same sequence.
4. Checks every reply against step 1, reads the server's Stats, SIGTERMs the server and
   expects exit status 0.

The last line is "N passed, M failed" over the 16 x 50 expected replies (a reply that is
wrong, an error, or missing altogether counts as failed); the exit status is 1 if M > 0
or any other check failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_CLIENT = ROOT / "clients" / "python"
sys.path.insert(0, str(PYTHON_CLIENT))
from glimpse_client import Client, GlimpseError, glimpse_pb2 as pb  # noqa: E402

MODEL = "lite0"
TOP = 5
CLIENTS = 16
PER_CLIENT = 50
STRIDE = 6
# Server and local CLI run the same binary, the same model file, the same kernel table and
# the same JPEG bytes, and a reply carries the float32 the worker computed, so a correct
# server gives bit-identical probabilities. The slack only absorbs printing: both CLIs
# print the shortest decimal that round-trips the float32, which is exact, but 1e-5 keeps a
# future formatting change (say %.6f) from reading as a wrong answer while any real mix-up
# (another image's answer, another model) is off by far more than that.
PROBABILITY_TOLERANCE = 1e-5
# Per reply. Under load each client waits behind at most 15 others on 2 workers (~0.1 s).
CLIENT_TIMEOUT_S = 30
HEALTH_WAIT_S = 60
STOP_WAIT_S = 30


def free_port() -> int:
    """A TCP port that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fanin_images() -> list[str]:
    """The 100 images as paths relative to the repository (the key both CLIs echo back)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_fanin_images  # noqa: E402  (only here: it imports scikit-image)

    paths = make_fanin_images.image_paths()
    if len(paths) != make_fanin_images.COUNT:
        make_fanin_images.main()
        paths = make_fanin_images.image_paths()
    return [str(p.relative_to(ROOT)) for p in paths]


def offline_answers(binary: Path, images: list[str]) -> dict:
    """image → [(index, probability)] from the local engine, no server involved."""
    run = subprocess.run([str(binary), "classify", "--model", MODEL, "--json", "--top", str(TOP), *images],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        raise SystemExit(f"offline classify failed ({run.returncode}):\n{run.stderr}")
    return {r["image"]: [(p["index"], p["probability"]) for p in r["predictions"]] for r in json.loads(run.stdout)}


def wait_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + HEALTH_WAIT_S
    with Client(url, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"server exited with {server.returncode} before it was healthy")
            try:
                if client.health().status == pb.HealthResponse.SERVING:
                    return
            except GlimpseError:
                time.sleep(0.1)
    raise SystemExit(f"server at {url} not healthy after {HEALTH_WAIT_S} s")


def client_command(k: int, binary: Path, url: str, images: list[str]) -> tuple[str, list[str]]:
    if k % 2 == 0:
        return "swift", [str(binary), "classify", "--server", url, "--model", MODEL, "--json", "--top", str(TOP),
                         "--timeout", str(CLIENT_TIMEOUT_S), *images]
    # --model as the Swift CLI sends it, so both languages' requests have the same bytes
    # and meet in the server's cache (with "" they would be separate entries).
    return "python", [sys.executable, "-m", "glimpse_client", url, "--model", MODEL, "--json", "--top", str(TOP),
                      "--timeout", str(CLIENT_TIMEOUT_S), *images]


def check_client(expected_images: list[str], stdout: str, offline: dict) -> tuple[int, int, int, list[str], float]:
    """(passed, wrong, lost, notes, largest probability difference seen) for one client's JSON output."""
    try:
        results = json.loads(stdout)
    except json.JSONDecodeError as e:
        return 0, 0, len(expected_images), [f"output is not JSON ({e})"], 0.0
    by_image: dict[str, list] = {}
    for r in results:
        by_image.setdefault(r.get("image"), []).append(r)
    passed = wrong = lost = 0
    largest = 0.0
    notes = []
    for image in expected_images:
        replies = by_image.pop(image, [])
        if not replies:
            lost += 1
            notes.append(f"{image}: missing")
            continue
        for r in replies[1:]:  # each image is sent once; a second answer is wrong
            wrong += 1
            notes.append(f"{image}: answered {len(replies)} times")
        r = replies[0]
        if "error" in r:
            wrong += 1
            notes.append(f"{image}: {r['error']}")
            continue
        got = [(p["index"], p["probability"]) for p in r.get("predictions", [])]
        want = offline[image]
        if r.get("model") != MODEL:
            wrong += 1
            notes.append(f"{image}: model {r.get('model')!r}, expected {MODEL}")
        elif [i for i, _ in got] != [i for i, _ in want]:
            wrong += 1
            notes.append(f"{image}: top-{TOP} {[i for i, _ in got]}, offline {[i for i, _ in want]}")
        elif (diff := max(abs(a - b) for (_, a), (_, b) in zip(got, want))) > PROBABILITY_TOLERANCE:
            largest = max(largest, diff)
            wrong += 1
            notes.append(f"{image}: probabilities differ by {diff:.3g} (tolerance {PROBABILITY_TOLERANCE:g})")
        else:
            largest = max(largest, diff)
            passed += 1
    for image, replies in by_image.items():
        wrong += len(replies)
        notes.append(f"{image}: answered but never sent")
    return passed, wrong, lost, notes, largest


def stop_server(server: subprocess.Popen) -> int | None:
    """SIGTERM, then SIGKILL if it does not stop; the exit status of the SIGTERM stop, or None."""
    if server.poll() is not None:
        return server.returncode
    server.send_signal(signal.SIGTERM)
    try:
        return server.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-cache", action="store_true",
                        help="serve with --cache-mb 0: no reply comes from the result cache, every distinct "
                             "call runs on a worker (identical calls in flight at the same moment are still joined)")
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "glimpse",
                        help="the glimpse binary (default: .build/release/glimpse)")
    args = parser.parse_args()
    binary = args.binary.resolve()

    started = time.monotonic()
    images = fanin_images()
    offline = offline_answers(binary, images)
    missing = [i for i in images if i not in offline]
    if missing:
        raise SystemExit(f"offline classify gave no answer for {missing}")
    print(f"offline: {len(offline)} images classified locally in {time.monotonic() - started:.1f} s")

    url = f"tcp://127.0.0.1:{free_port()}"
    serve = [str(binary), "serve", "--listen", url, "--workers", "2"] + (["--cache-mb", "0"] if args.no_cache else [])
    failures: list[str] = []
    outcomes = []
    stats = None
    with tempfile.TemporaryDirectory(prefix="glimpse-fanin-") as tmp:
        tmp = Path(tmp)
        server_log = open(tmp / "server.log", "w+")
        server = subprocess.Popen(serve, cwd=ROOT, stdout=server_log, stderr=subprocess.STDOUT)
        clients = []
        try:
            wait_healthy(url, server)
            print(f"server: {' '.join(serve[1:])} (pid {server.pid})")

            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PYTHON_CLIENT),
                                                                           os.environ.get("PYTHONPATH")])))
            fan_start = time.monotonic()
            for k in range(CLIENTS):
                mine = [images[(k * STRIDE + j) % len(images)] for j in range(PER_CLIENT)]
                kind, command = client_command(k, binary, url, mine)
                out, err = open(tmp / f"client{k}.out", "w+"), open(tmp / f"client{k}.err", "w+")
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
                clients.append((k, kind, mine, process, out, err))
            finished: dict[int, float] = {}  # client → seconds after the start
            while len(finished) < CLIENTS:
                for k, _, _, process, _, _ in clients:
                    if k not in finished and process.poll() is not None:
                        finished[k] = time.monotonic() - fan_start
                if time.monotonic() - fan_start > CLIENT_TIMEOUT_S * PER_CLIENT:
                    break  # killed below; their missing replies count as lost
                time.sleep(0.02)
            fan_seconds = time.monotonic() - fan_start
            for k, kind, mine, process, out, err in clients:
                if process.poll() is None:  # still running after the overall limit
                    process.kill()
                    process.wait()
                code = process.returncode
                seconds = finished.get(k, float("nan"))
                out.seek(0)
                err.seek(0)
                passed, wrong, lost, notes, largest = check_client(mine, out.read(), offline)
                stderr = err.read().strip()
                outcomes.append((k, kind, code, seconds, passed, wrong, lost, notes, stderr, largest))

            with Client(url, timeout=5.0) as client:
                stats = client.stats()
        except BaseException:
            server_log.seek(0)
            print("server log (last 20 lines):\n" + "\n".join(server_log.read().splitlines()[-20:]), file=sys.stderr)
            raise
        finally:
            for _, _, _, process, _, _ in clients:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            status = stop_server(server)
            for _, _, _, _, out, err in clients:
                out.close()
                err.close()
            server_log.seek(0)
            log = server_log.read()
            server_log.close()
        if status != 0:
            failures.append(f"server exit status after SIGTERM: {status} (expected 0)")
        logged = [line for line in log.splitlines() if re.search(r"\s(error|critical)\s", line)]
        if logged:
            failures.append("server logged errors:\n" + "\n".join(logged[:10]))

    print()
    print(f"{'client':>6}  {'kind':6}  {'first image':24}  {'exit':>4}  {'done s':>6}  {'ok':>3}  {'wrong':>5}  {'lost':>4}")
    for k, kind, code, seconds, passed, wrong, lost, notes, stderr, _ in outcomes:
        print(f"{k:>6}  {kind:6}  {Path(images[k * STRIDE % len(images)]).name:24}  {code:>4}  {seconds:6.2f}  "
              f"{passed:>3}  {wrong:>5}  {lost:>4}")
        for note in notes[:5]:
            print(f"{'':8}{note}")
        if len(notes) > 5:
            print(f"{'':8}... {len(notes) - 5} more")
        if code != 0 and not notes:
            failures.append(f"client {k} ({kind}) exited {code} with every answer right: {stderr[:300]}")
    passed = sum(o[4] for o in outcomes)
    wrong = sum(o[5] for o in outcomes)
    lost = sum(o[6] for o in outcomes)
    expected = CLIENTS * PER_CLIENT

    print()
    print(f"fan-in: {CLIENTS} clients x {PER_CLIENT} images, {expected} replies expected, "
          f"all done in {fan_seconds:.2f} s ({expected / fan_seconds:.0f} replies/s); "
          f"wrong {wrong}, lost {lost}; largest |probability - offline| {max(o[9] for o in outcomes):.3g}; "
          f"cache {'off (--cache-mb 0)' if args.no_cache else 'on'}")
    if stats is not None:
        by_status = ", ".join(f"{k} {v}" for k, v in sorted(stats.replies_by_status.items()))
        classify_calls = stats.cache_hits + stats.cache_misses + stats.coalesced
        print(f"stats: requests {stats.requests} (replies: {by_status}); cache hits {stats.cache_hits}, "
              f"misses {stats.cache_misses}, coalesced {stats.coalesced}, entries {stats.cache_entries}, "
              f"evictions {stats.cache_evictions}")
        computed = next((l.count for l in stats.latencies if l.stage == "inference"), 0)
        for l in stats.latencies:
            if l.count:
                print(f"       {l.stage:10} n={l.count:<4} p50 {l.p50_us / 1000:7.2f} ms  p90 {l.p90_us / 1000:7.2f} ms  "
                      f"p99 {l.p99_us / 1000:7.2f} ms  max {l.max_us / 1000:7.2f} ms")
        # Every Classify goes through the cache's lookup (even with --cache-mb 0, which only
        # stops storing results), so hits + misses + joined calls is the number of Classify calls.
        if classify_calls != expected:
            failures.append(f"hits + misses + coalesced = {classify_calls}, but {expected} Classify calls were sent")
        if computed != stats.cache_misses:
            failures.append(f"{computed} inferences ran for {stats.cache_misses} cache misses")
        if args.no_cache and stats.cache_hits:
            failures.append(f"{stats.cache_hits} cache hits with --cache-mb 0")
        if not args.no_cache and stats.cache_misses != len(images):
            failures.append(f"{stats.cache_misses} cache misses for {len(images)} distinct requests "
                            f"(each should be computed exactly once)")
    print(f"server: exit status {status} after SIGTERM; total run {time.monotonic() - started:.1f} s")
    for failure in failures:
        print(f"FAIL: {failure}")
    print(f"{passed} passed, {wrong + lost} failed")
    return 1 if wrong or lost or failures else 0


if __name__ == "__main__":
    sys.exit(main())
