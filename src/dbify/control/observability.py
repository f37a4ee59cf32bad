"""``/metrics`` and ``/readyz`` of ``dbify serve``: what is measured and what is checked.

``instrument`` gives the data app a ``Metrics`` (request counts and latency per project
and status, pool usage read from the live directory at scrape time, the request-log
buffer, dropped and spooled events, publisher and worker counters, worker batch sizes,
the queue's backlog) and the readiness
checks of the shared dependencies: the metadata store (``SELECT 1``) and, when
configured, Redis of the event bus. Readiness never opens a project's pool: a
project's database being down is that project's 503, not the instance's.
``report_leadership`` adds a ``dbify_leader_<singleton>`` gauge: 1 on the replica that
runs the schema watch or the scheduler, 0 on the standbys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from dbify.analytics.runtime import RequestLogging
from dbify.app import DbifyApp
from dbify.backends.events import EventBus
from dbify.control.leadership import Singleton
from dbify.control.plane import ControlPlane
from dbify.metrics import Metrics
from dbify.workers.metrics import QueueBacklog, request_log_worker_readings

__all__ = ["instrument", "report_leadership"]


def _metadata_check(plane: ControlPlane) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with plane.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return check


def _request_log_readings(metrics: Metrics, logging: RequestLogging) -> None:
    recorder, publisher, worker = logging.recorder, logging.publisher, logging.worker
    metrics.add_reading(
        "dbify_request_log_buffered", "Request logs waiting in memory.", lambda: len(recorder)
    )
    metrics.add_reading(
        "dbify_request_log_dropped",
        "Request logs dropped (buffer full or spool full).",
        lambda: recorder.dropped + publisher.dropped,
        "counter",
    )
    metrics.add_reading(
        "dbify_request_log_published", "Batches sent to the queue.", lambda: publisher.published,
        "counter",
    )  # fmt: skip
    metrics.add_reading(
        "dbify_request_log_spooled", "Batches spooled to disk while the queue was down.",
        lambda: publisher.spooled, "counter",
    )  # fmt: skip
    metrics.add_reading(
        "dbify_request_log_queue_up", "1 while the queue accepts batches.",
        lambda: 1.0 if publisher.queue_up else 0.0,
    )  # fmt: skip
    metrics.add_reading(
        "dbify_request_log_queue_backlog",
        "Queue lag: messages published and not yet stored by a worker (-1: unknown).",
        QueueBacklog(logging.queue).read,
    )
    if worker is not None:
        request_log_worker_readings(metrics, worker)


def instrument(
    app: DbifyApp, plane: ControlPlane, bus: EventBus, logging: RequestLogging | None
) -> Metrics:
    metrics = Metrics()
    metrics.pools = plane.directory
    if logging is not None:
        _request_log_readings(metrics, logging)
    app.metrics = metrics
    app.readiness["metadata"] = _metadata_check(plane)
    ping = getattr(bus, "ping", None)
    if ping is not None:  # the Redis event bus
        app.readiness["event_bus"] = ping
    return metrics


def report_leadership(app: DbifyApp, singleton: Singleton[Any]) -> None:
    if app.metrics is None:
        return
    app.metrics.add_reading(
        f"dbify_leader_{singleton.name.replace('-', '_')}",
        f"1 while this instance runs the {singleton.name} (leader election).",
        lambda: 1.0 if singleton.leading else 0.0,
    )
