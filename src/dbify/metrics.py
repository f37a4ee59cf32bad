"""Prometheus metrics of one Dbify process (``GET /metrics``, text exposition format).

    dbify_http_requests_total{project,method,status}          counter
    dbify_http_request_duration_seconds{project,status}       histogram
    dbify_pool_connections{project,state="open"|"in_use"}     gauge (open pools only)
    dbify_pool_budget_connections                             gauge (instance cap)
    dbify_request_log_buffered / _dropped_total               request-log recorder
    dbify_request_log_queue_backlog                           queue lag (messages)
    dbify_worker_batches_written_total / _last_batch_*        worker batch sizes
    dbify_projects_live                                       gauge

Counting a request costs one dict lookup, a bisect and three list increments in plain
Python: the request counters and latency histograms are turned into metric families only
at scrape time. prometheus-client's own ``Counter``/``Histogram`` took a lock per
increment and walked every bucket: ~10 µs a request, measured in-process against a real
pool (a tenth of the request's CPU). Gauges are read at scrape time from the live
objects (``collect``), never maintained on the request path. Each ``Metrics`` has its
own registry, so tests and several apps in one process do not collide.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metrics", "PoolStats"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PoolStats(Protocol):
    """What the metrics read from the live directory at scrape time."""

    def pool_stats(self) -> list[tuple[str, int, int]]:
        """(project ID, open connections, connections in use) of every open pool."""

    @property
    def budget_connections(self) -> int: ...

    @property
    def live_projects(self) -> int: ...


class _LiveCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics.request_families()
        pools = self._metrics.pools
        if pools is not None:
            connections = GaugeMetricFamily(
                "dbify_pool_connections",
                "Connections of each open project pool, by state.",
                labels=["project", "state"],
            )
            for project, opened, in_use in pools.pool_stats():
                connections.add_metric([project, "open"], opened)
                connections.add_metric([project, "in_use"], in_use)
            yield connections
            yield GaugeMetricFamily(
                "dbify_pool_budget_connections",
                "Most connections all project pools of this instance may hold.",
                value=pools.budget_connections,
            )
            yield GaugeMetricFamily(
                "dbify_projects_live", "Projects served.", value=pools.live_projects
            )
        for name, (help_text, read, kind) in self._metrics.extra.items():
            if kind == "counter":
                yield CounterMetricFamily(name, help_text, value=read())
            else:
                yield GaugeMetricFamily(name, help_text, value=read())


class Metrics:
    """The registry and the request-path instruments of one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.pools: PoolStats | None = None
        # name -> (help, reader, "counter"|"gauge"): values read at scrape time.
        self.extra: dict[str, tuple[str, Callable[[], float], str]] = {}
        # (project, method, status) -> [count]; (project, status) -> bucket counts (one
        # per bound, then +Inf; not cumulative) followed by the sum of seconds.
        self._counts: dict[tuple[str, str, int], list[int]] = {}
        self._latency: dict[tuple[str, int], list[float]] = {}
        self.registry.register(_LiveCollector(self))

    def observe_request(self, project: str, method: str, status: int, seconds: float) -> None:
        count = self._counts.get((project, method, status))
        if count is None:
            count = self._counts[(project, method, status)] = [0]
        count[0] += 1
        latency = self._latency.get((project, status))
        if latency is None:
            latency = self._latency[(project, status)] = [0.0] * (len(_BUCKETS) + 2)
        latency[bisect_left(_BUCKETS, seconds)] += 1
        latency[-1] += seconds

    def request_families(self) -> Iterator[Metric]:
        """The request counter and latency histogram, built from the plain counts."""
        requests = CounterMetricFamily(
            "dbify_http_requests", "Data API requests answered.",
            labels=["project", "method", "status"],
        )  # fmt: skip
        for (project, method, status), count in list(self._counts.items()):
            requests.add_metric([project, method, str(status)], count[0])
        yield requests
        latency = HistogramMetricFamily(
            "dbify_http_request_duration_seconds",
            "Data API request latency (authentication to response body).",
            labels=["project", "status"],
        )
        bounds = [*(str(b) for b in _BUCKETS), "+Inf"]
        for (project, status), counts in list(self._latency.items()):
            cumulative, buckets = 0.0, []
            for bound, n in zip(bounds, counts[:-1], strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            latency.add_metric([project, str(status)], buckets, counts[-1])
        yield latency

    def add_reading(
        self, name: str, help_text: str, read: Callable[[], float], kind: str = "gauge"
    ) -> None:
        """A value read when scraped (queue lag, dropped log events, batch sizes...)."""
        self.extra[name] = (help_text, read, kind)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
