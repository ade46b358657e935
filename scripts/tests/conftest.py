# Starts `glimpse serve --admin` for the admin-port tests: a free loopback port for nanomsg and one for HTTP.
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "clients/python"))  # this checkout's client, not an installed copy

BINARY = pathlib.Path(os.environ.get("GLIMPSE_BIN", REPO / ".build/release/glimpse"))
MODELS = pathlib.Path(os.environ.get("GLIMPSE_MODELS", REPO / "models"))
IMAGES = REPO / "testdata/generated/images"
ARTIFACTS = REPO / ".build/artifacts"
CATS = range(281, 286)  # ImageNet 281-285: tabby, tiger cat, Persian, Siamese, Egyptian cat
STARTUP_SECONDS = 120  # loading a model on two busy cores; normally about a second


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `glimpse serve --admin`: `rpc` is its nanomsg URL, `http` its admin base URL."""

    def __init__(self, process, rpc, http, log):
        self.process, self.rpc, self.http, self.log = process, rpc, http, log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str):
        """(status, headers, body bytes) of GET path."""
        return request(self.http + path)

    def post(self, path: str, body: bytes):
        return request(self.http + path, body, {"Content-Type": "image/jpeg"})


def request(url, body=None, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers or {}), timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def json_of(body: bytes):
    return json.loads(body.decode())


@pytest.fixture
def glimpse(tmp_path):
    """A fresh server per test, so its metrics count only what the test sends."""
    assert BINARY.exists(), f"no server binary at {BINARY}: build it with `swift build -c release --product glimpse`"
    assert (MODELS / "lite0.onnx").exists(), f"no models in {MODELS}: run scripts/setup"
    rpc, http_port, log = f"tcp://127.0.0.1:{free_port()}", free_port(), tmp_path / "server.log"
    command = [str(BINARY), "serve", "--listen", rpc, "--admin", f"127.0.0.1:{http_port}", "--models", "lite0",
               "--workers", "2", "--models-dir", str(MODELS)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    server = Server(process, rpc, f"http://127.0.0.1:{http_port}", log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"`{' '.join(command)}` exited with {process.returncode}:\n{server.log_text()}")
            try:
                if server.get("/readyz")[0] == 200:
                    break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(f"/readyz not 200 after {STARTUP_SECONDS} s:\n{server.log_text()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(f"the server did not exit within 20 s of SIGTERM:\n{server.log_text()}")
        assert process.returncode == 0, f"server exited with {process.returncode}:\n{server.log_text()}"
