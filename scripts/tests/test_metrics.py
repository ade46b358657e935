# /metrics against what was sent: N classifies over nanomsg, M over REST, parsed by prometheus_client.
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import CATS, IMAGES, json_of
from glimpse_client import Client, GlimpseError, StatusCode

RPC_CALLS, REST_CALLS = 5, 4


def scrape(server):
    """Every sample of `curl /metrics`, as {(name, frozenset(labels)): value}; parsing must not fail."""
    text = subprocess.run(["curl", "-sSf", server.http + "/metrics"], check=True, capture_output=True, text=True).stdout
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def value(samples, name, **labels):
    """The sum of the samples called `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_metrics_count_rpc_and_rest_calls(glimpse):
    jpeg = (IMAGES / "cat.jpg").read_bytes()
    with Client(glimpse.rpc, timeout=30) as client:
        for _ in range(RPC_CALLS):
            assert client.classify(jpeg, top_k=3).classes[0].index in CATS
        for _ in range(REST_CALLS):
            status, _, body = glimpse.post("/v1/models/lite0/classify?top_k=3", jpeg)
            assert status == 200, body
            assert json_of(body)["classes"][0]["index"] in CATS
        status, _, body = glimpse.post("/v1/models/lite0/classify", b"not a jpeg")
        assert status == 400 and json_of(body)["status"] == "INVALID_ARGUMENT", body
        with pytest.raises(GlimpseError) as failure:
            client.classify(jpeg, model="lite9")
        assert failure.value.status_code == StatusCode.NOT_FOUND
        stats = client.stats()

    _, headers, _ = glimpse.get("/metrics")
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text, samples = scrape(glimpse)
    classify = dict(method="Classify", model="lite0")
    assert value(samples, "glimpse_requests_total", status="OK", **classify) == RPC_CALLS + REST_CALLS, text
    assert value(samples, "glimpse_requests_total", status="INVALID_ARGUMENT", **classify) == 1
    assert value(samples, "glimpse_requests_total", method="Classify", model="", status="NOT_FOUND") == 1
    assert value(samples, "glimpse_requests_total", method="Stats", status="OK") == 1
    assert value(samples, "glimpse_requests_total") == RPC_CALLS + REST_CALLS + 3  # + garbage, lite9, Stats
    # Identical calls: the cat is computed once, the rest come from the cache (or join it in flight).
    assert value(samples, "glimpse_cache_misses_total") == 2  # the cat, the garbage
    assert value(samples, "glimpse_cache_hits_total") + value(samples, "glimpse_coalesced_total") \
        == RPC_CALLS + REST_CALLS - 1
    assert value(samples, "glimpse_cache_hits_total") == stats.cache_hits
    assert value(samples, "glimpse_cache_entries") == 1
    # Latency: every Classify reply has a total; only the cat's computation has an inference time.
    assert value(samples, "glimpse_request_duration_seconds_count", stage="total", **classify) \
        == RPC_CALLS + REST_CALLS + 1
    assert value(samples, "glimpse_request_duration_seconds_count", stage="inference") == 1
    assert value(samples, "glimpse_request_duration_seconds_bucket", stage="total", le="10.0", **classify) \
        == RPC_CALLS + REST_CALLS + 1
    assert value(samples, "glimpse_build_info") == 1
    assert value(samples, "glimpse_model_load_seconds", model="lite0") > 0
    assert value(samples, "glimpse_workers") == 2
    assert value(samples, "glimpse_queue_depth") == 0 and value(samples, "glimpse_in_flight") == 0
    print(f"\n/metrics: {len(samples)} samples; first lines:\n" + "\n".join(text.splitlines()[:12]))
