# The Python client against the real server: starts `glimpse serve` on a free loopback port and an
# ipc:// path of its own, with the models from the repository's models/ folder.
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from fake_server import free_tcp_url
from glimpse_client import Client, GlimpseError, StatusCode, glimpse_pb2 as pb

REPO = pathlib.Path(__file__).resolve().parents[3]
BINARY = pathlib.Path(os.environ.get("GLIMPSE_BIN", REPO / ".build/release/glimpse"))
MODELS = pathlib.Path(os.environ.get("GLIMPSE_MODELS", REPO / "models"))
IMAGES = REPO / "testdata/generated/images"
CATS = range(281, 286)  # ImageNet 281-285: tabby, tiger cat, Persian, Siamese, Egyptian cat
STARTUP_SECONDS = 120  # loading three models on two busy cores; normally a few seconds

pytestmark = pytest.mark.skipif(
    not BINARY.exists(),
    reason=f"no server binary at {BINARY}: build it with `swift build -c release --product glimpse` (or set GLIMPSE_BIN)")


class Server:
    def __init__(self, process, tcp, ipc, log):
        self.process, self.tcp, self.ipc, self.log = process, tcp, ipc, log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def stop(process) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    tcp, ipc, log = free_tcp_url(), f"ipc://{folder}/glimpse.ipc", folder / "server.log"
    assert (MODELS / "lite0.onnx").exists(), f"no models in {MODELS}: run scripts/setup"
    command = [str(BINARY), "serve", "--listen", tcp, "--listen", ipc, "--workers", "2", "--models-dir", str(MODELS)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    running = Server(process, tcp, ipc, log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        with Client(tcp, timeout=1) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"`{' '.join(command)}` exited with {process.returncode}:\n{running.log_text()}")
                try:
                    if client.health().status == pb.HealthResponse.SERVING:
                        break
                except GlimpseError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"server not SERVING after {STARTUP_SECONDS} s:\n{running.log_text()}")
                time.sleep(0.2)
        yield running
    finally:
        stop(process)


@pytest.fixture
def client(server):
    with Client(server.tcp, timeout=30) as c:
        yield c


def image(name: str) -> bytes:
    path = IMAGES / name
    assert path.exists(), f"{path} is missing: run scripts/setup"
    return path.read_bytes()


def assert_serving(client):
    assert client.health().status == pb.HealthResponse.SERVING


def test_health_is_serving_over_tcp_and_ipc(server):
    for url in (server.tcp, server.ipc):
        with Client(url, timeout=10) as c:
            assert_serving(c)


def test_classify_cat_is_a_cat(client):
    response = client.classify(image("cat.jpg"))
    assert response.model and response.model_version
    assert len(response.classes) == 5
    assert response.classes[0].index in CATS, response
    probabilities = [c.probability for c in response.classes]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < probabilities[0] <= 1
    assert response.classes[0].label


@pytest.mark.parametrize("model", ["lite0", "lite1", "lite2"])
def test_each_model_sees_the_cat(client, model):
    response = client.classify(image("cat.jpg"), model=model, top_k=1, cache=False)
    assert response.model == model
    assert [c.index for c in response.classes][0] in CATS


def test_list_models_has_lite0_lite1_lite2(client):
    response = client.list_models()
    names = {m.name for m in response.models}
    assert {"lite0", "lite1", "lite2"} <= names
    assert response.default_model in names


def test_model_metadata_of_lite0_has_input_size_224(client):
    metadata = client.model_metadata("lite0")
    assert metadata.name == "lite0"
    assert metadata.input_size == 224


def test_unknown_model_is_not_found_and_the_server_still_answers(client):
    for call in (lambda: client.classify(image("cat.jpg"), model="lite9"), lambda: client.model_metadata("lite9")):
        with pytest.raises(GlimpseError) as raised:
            call()
        assert (raised.value.status_code, raised.value.status_name) == (StatusCode.NOT_FOUND, "NOT_FOUND")
        assert "lite9" in raised.value.message
        assert_serving(client)


def test_truncated_jpeg_is_invalid_argument_and_the_server_still_answers(client):
    with pytest.raises(GlimpseError) as raised:
        client.classify(image("cat.jpg")[:3000], cache=False)
    assert (raised.value.status_code, raised.value.status_name) == (StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert raised.value.message
    assert_serving(client)
    assert client.classify(image("cat.jpg"), top_k=1).classes[0].index in CATS


def test_not_a_jpeg_is_invalid_argument(client):
    with pytest.raises(GlimpseError) as raised:
        client.classify(b"GIF89a" + bytes(100))
    assert raised.value.status_code == StatusCode.INVALID_ARGUMENT
    assert_serving(client)


def test_payload_over_the_limit_is_resource_exhausted_and_a_frame_over_it_fails_fast(client):
    # glimpse serve defaults: --max-payload-mb 8 (answered RESOURCE_EXHAUSTED), --max-message-mb 16
    # (nanomsg drops the connection; the client, not resending, reports UNAVAILABLE at once).
    with pytest.raises(GlimpseError) as raised:
        client.classify(b"\xff\xd8" + bytes(9 << 20), cache=False)
    assert raised.value.status_code == StatusCode.RESOURCE_EXHAUSTED
    start = time.monotonic()
    with pytest.raises(GlimpseError) as raised:
        client.classify(b"\xff\xd8" + bytes(17 << 20), cache=False)
    assert raised.value.status_code == StatusCode.UNAVAILABLE
    assert time.monotonic() - start < 10  # the call's timeout is 30 s
    assert_serving(client)


def test_stats_count_requests_and_replies_by_status(client):
    before = client.stats()
    for _ in range(3):
        client.health()
    client.classify(image("coffee.jpg"), top_k=1)
    with pytest.raises(GlimpseError):
        client.model_metadata("lite9")
    after = client.stats()
    assert after.requests >= before.requests + 5, (before.requests, after.requests)
    assert after.replies_by_status["OK"] >= before.replies_by_status["OK"] + 4
    assert after.replies_by_status["NOT_FOUND"] >= before.replies_by_status["NOT_FOUND"] + 1
    assert after.uptime_ms >= before.uptime_ms
    assert after.workers == 2


def test_repeated_classify_is_answered_from_the_cache_unless_bypassed(client):
    request = pb.ClassifyRequest(model="lite0", jpeg=image("rocket.jpg"), top_k=3)
    first = client.call("Classify", request, pb.ClassifyResponse)
    second = client.call("Classify", request, pb.ClassifyResponse)
    bypassed = client.call("Classify", request, pb.ClassifyResponse, metadata={"glimpse-cache": "no"})
    assert second.metadata.get("glimpse-cache") == "hit"
    assert "glimpse-cache" not in bypassed.metadata
    assert first.message.classes == second.message.classes == bypassed.message.classes


def test_classify_tensor_and_infer_agree(client):
    np = pytest.importorskip("numpy")
    metadata = client.model_metadata("lite0")
    (spec,) = metadata.inputs
    tensor = np.random.default_rng(0).standard_normal(list(spec.shape)).astype(np.float32)
    classified = client.classify_tensor(tensor, model="lite0", top_k=3)
    outputs = client.infer("lite0", {spec.name: tensor})
    (logits,) = outputs.values()
    assert logits.size == metadata.label_count == 1000
    assert [c.index for c in classified.classes] == list(np.argsort(-logits.ravel())[:3])


def test_concurrent_clients_each_get_their_own_replies(server, client):
    names = ["cat.jpg", "coffee.jpg", "rocket.jpg", "motorcycle.jpg"]
    expected = {n: client.classify(image(n), top_k=1, cache=False).classes[0].index for n in names}
    failures = []

    def run(url, name):
        try:
            with Client(url, timeout=60) as c:
                for _ in range(4):
                    got = c.classify(image(name), top_k=1, cache=False).classes[0].index
                    if got != expected[name]:
                        failures.append(f"{name} over {url}: class {got}, expected {expected[name]}")
                    c.health()
        except Exception as e:  # reported below, with the others
            failures.append(f"{name} over {url}: {e!r}")

    threads = [threading.Thread(target=run, args=(url, name))
               for url, name in zip([server.tcp, server.ipc] * 2, names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_nanocat_interop(server):
    script = pathlib.Path(__file__).with_name("interop_nanocat.sh")
    result = subprocess.run(["bash", str(script), server.tcp], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "interop: OK" in result.stdout


def test_cli_prints_the_cat(server):
    env = dict(os.environ, PYTHONPATH=str(REPO / "clients/python"))
    result = subprocess.run([sys.executable, "-m", "glimpse_client", server.tcp, str(IMAGES / "cat.jpg"), "--top", "3"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == str(IMAGES / "cat.jpg") and len(lines) == 4
    for line in lines[1:]:
        assert re.fullmatch(r"  [ \d]{3}\.\d%  [ \d]{4}  \S.*", line), line
    assert int(lines[1].split()[1]) in CATS


def test_server_stops_with_exit_0_on_sigterm(server):
    # Last: this stops the module's server.
    assert stop(server.process) == 0, server.log_text()
