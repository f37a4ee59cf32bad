"""Prometheus metrics of one Dbify process (``GET /metrics``, text exposition format).

    dbify_http_requests_total{project,method,status}          counter
    dbify_http_request_duration_seconds{project,status}       histogram
    dbify_pool_connections{project,state="open"|"in_use"}     gauge (open pools only)
    dbify_pool_budget_connections                             gauge (instance cap)
    dbify_request_log_buffered / _dropped_total               request-log recorder
    dbify_projects_live                                       gauge

Counting a request costs two dict lookups and two increments: the label children are
cached per (project, method, status). Gauges are read at scrape time from the live
objects (``collect``), never maintained on the request path. Each ``Metrics`` has its
own registry, so tests and several apps in one process do not collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
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
        self._requests = Counter(
            "dbify_http_requests",
            "Data API requests answered.",
            ["project", "method", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "dbify_http_request_duration_seconds",
            "Data API request latency (authentication to response body).",
            ["project", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.registry.register(_LiveCollector(self))

    def observe_request(self, project: str, method: str, status: int, seconds: float) -> None:
        key = (project, method, status)
        children = self._children.get(key)
        if children is None:
            code = str(status)
            children = (
                self._requests.labels(project, method, code),
                self._latency.labels(project, code),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def add_reading(
        self, name: str, help_text: str, read: Callable[[], float], kind: str = "gauge"
    ) -> None:
        """A value read when scraped (queue lag, dropped log events, batch sizes...)."""
        self.extra[name] = (help_text, read, kind)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
