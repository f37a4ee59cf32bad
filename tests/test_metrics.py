"""The request counters and latency histograms of ``Metrics`` as Prometheus reads them:
counts per project, method and status, cumulative buckets whose bounds include their
own value, +Inf, and the sum of seconds."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dbify.metrics import Metrics

_MS = 1_000_000
# (project, method, status, elapsed ns; observed in seconds)
_REQUESTS = [
    ("p1", "GET", 200, _MS // 2),
    ("p1", "GET", 200, _MS),  # on the 1 ms bound: counted in le="0.001"
    ("p1", "GET", 200, _MS + 1),
    ("p1", "POST", 200, 7 * _MS),
    ("p1", "GET", 404, 3 * _MS),
    ("p2", "PATCH", 204, 20_000 * _MS),  # beyond the last bound: +Inf only
]


def _observed_samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The request samples of a ``Metrics`` that observed ``_REQUESTS``, by name and labels."""
    metrics = Metrics()
    for project, method, status, elapsed_ns in _REQUESTS:
        metrics.observe_request(project, method, status, elapsed_ns / 1e9)
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("dbify_http_request")
        for sample in family.samples
    }


def test_requests_are_counted_per_project_method_and_status() -> None:
    samples = _observed_samples()
    counts = {
        labels: value for (name, labels), value in samples.items()
        if name == "dbify_http_requests_total"
    }  # fmt: skip
    assert counts == {
        (("method", "GET"), ("project", "p1"), ("status", "200")): 3,
        (("method", "POST"), ("project", "p1"), ("status", "200")): 1,
        (("method", "GET"), ("project", "p1"), ("status", "404")): 1,
        (("method", "PATCH"), ("project", "p2"), ("status", "204")): 1,
    }


def test_latency_buckets_are_cumulative_per_project_and_status() -> None:
    samples = _observed_samples()

    def bucket(project: str, status: str, le: str) -> float:
        labels = (("le", le), ("project", project), ("status", status))
        return samples[("dbify_http_request_duration_seconds_bucket", labels)]

    def total(project: str, status: str, suffix: str) -> float:
        labels = (("project", project), ("status", status))
        return samples[(f"dbify_http_request_duration_seconds_{suffix}", labels)]

    assert bucket("p1", "200", "0.001") == 2
    assert bucket("p1", "200", "0.0025") == 3
    assert bucket("p1", "200", "0.005") == 3
    assert bucket("p1", "200", "0.01") == 4
    assert bucket("p1", "200", "+Inf") == 4
    assert total("p1", "200", "count") == 4
    assert total("p1", "200", "sum") == pytest.approx((_MS // 2 + 2 * _MS + 1 + 7 * _MS) / 1e9)
    assert bucket("p1", "404", "0.001") == 0
    assert bucket("p1", "404", "0.005") == 1
    assert bucket("p2", "204", "10.0") == 0
    assert bucket("p2", "204", "+Inf") == 1
    assert total("p2", "204", "sum") == pytest.approx(20.0)
