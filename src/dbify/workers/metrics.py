"""What workers show in ``/metrics``, and the small HTTP server of a ``dbify worker`` process.

``worker_readings`` registers a worker's counters on a ``Metrics`` (read at scrape time,
never maintained on the worker's path): ``dbify serve`` uses it for the workers it runs
itself (``control/observability.py``), ``dbify worker --metrics-port`` for its own.

    request-log   dbify_worker_events_written_total, _batches_written_total,
                  _last_batch_messages, _last_batch_events, _batch_size,
                  _poison_messages_total, dbify_request_log_queue_backlog
    webhooks      dbify_webhook_deliveries_sent_total
    every worker  dbify_worker_<name>_consecutive_failures

``WorkerMetricsServer`` answers ``GET /metrics`` (Prometheus text) and ``GET /healthz``
(the workers' ``health()``; 503 when one is not running) on its own port: a standalone
worker has no API server to carry them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Sequence

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dbify.backends.queue.base import Queue, QueueUnavailable
from dbify.metrics import CONTENT_TYPE, Metrics
from dbify.workers.base import Worker
from dbify.workers.request_log import RequestLogWorker
from dbify.workers.webhooks import WebhookWorker

__all__ = ["QueueBacklog", "WorkerMetricsServer", "request_log_worker_readings", "worker_readings"]


class QueueBacklog:
    """The queue's backlog for a scrape: the value read for the previous scrape.

    Readings are synchronous (prometheus-client collects in a plain call) while asking a
    broker is not, so a scrape returns the last answer and starts the next read (at most
    one a second, never two at once); -1 until the first answer or while the broker is
    unreachable. The first scrape after startup therefore reads -1.
    """

    def __init__(self, queue: Queue, min_interval: float = 1.0) -> None:
        self._queue = queue
        self._min_interval = min_interval
        self._value = -1.0
        self._asked = 0.0
        self._task: asyncio.Task[None] | None = None

    def read(self) -> float:
        now = time.monotonic()
        if (self._task is None or self._task.done()) and now - self._asked >= self._min_interval:
            with contextlib.suppress(RuntimeError):  # no running loop: keep the last value
                self._task = asyncio.get_running_loop().create_task(self._refresh())
                self._asked = now
        return self._value

    async def _refresh(self) -> None:
        try:
            self._value = float(await self._queue.backlog())
        except QueueUnavailable:
            self._value = -1.0


def request_log_worker_readings(metrics: Metrics, worker: RequestLogWorker) -> None:
    """The request-log worker's batch counters (not the queue's backlog: see below)."""
    metrics.add_reading(
        "dbify_worker_events_written", "Request logs stored by this process's worker.",
        lambda: worker.events_written, "counter",
    )  # fmt: skip
    metrics.add_reading(
        "dbify_worker_batch_size", "Most queue messages per worker write (setting).",
        lambda: worker.batch_size,
    )  # fmt: skip
    metrics.add_reading(
        "dbify_worker_batches_written", "Worker writes (events_written / this: mean size).",
        lambda: worker.batches_written, "counter",
    )  # fmt: skip
    metrics.add_reading(
        "dbify_worker_last_batch_messages", "Queue messages in the last worker write.",
        lambda: worker.last_batch_messages,
    )  # fmt: skip
    metrics.add_reading(
        "dbify_worker_last_batch_events", "Request logs in the last worker write.",
        lambda: worker.last_batch_events,
    )  # fmt: skip
    metrics.add_reading(
        "dbify_worker_poison_messages", "Queue messages the worker could not decode (acked).",
        lambda: worker.poison, "counter",
    )  # fmt: skip


def worker_readings(metrics: Metrics, worker: Worker) -> None:
    """Register what ``worker`` counts, by kind, plus its consecutive failures.

    A standalone request-log worker also reports its queue's backlog (in ``dbify serve``
    the request-log pipeline registers that reading from its own queue).
    """
    if isinstance(worker, RequestLogWorker):
        request_log_worker_readings(metrics, worker)
        metrics.add_reading(
            "dbify_request_log_queue_backlog",
            "Queue lag: messages published and not yet stored by a worker (-1: unknown).",
            QueueBacklog(worker.queue).read,
        )
    elif isinstance(worker, WebhookWorker):
        metrics.add_reading(
            "dbify_webhook_deliveries_sent", "Webhook messages delivered (2xx) by this process.",
            lambda: worker.sent, "counter",
        )  # fmt: skip
    metrics.add_reading(
        f"dbify_worker_{worker.name.replace('-', '_')}_consecutive_failures",
        f"Rounds of the {worker.name} worker that failed in a row (0: healthy).",
        lambda: worker.failures,
    )


class _SignalFreeServer(uvicorn.Server):
    """uvicorn's server without its SIGINT/SIGTERM capture: ``dbify worker`` owns the
    signals (a graceful stop of its workers), this server is only stopped by it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WorkerMetricsServer:
    """``/metrics`` and ``/healthz`` of a worker process on ``host:port`` (0: any free port):
    a two-route Starlette app under uvicorn, the stack ``dbify serve`` runs on."""

    def __init__(self, metrics: Metrics, workers: Sequence[Worker]) -> None:
        self._metrics = metrics
        self._workers = workers
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; return the port actually bound."""
        app = Starlette(
            routes=[
                Route("/metrics", self._exposition, methods=["GET", "HEAD"]),
                Route("/healthz", self._health, methods=["GET", "HEAD"]),
            ]
        )
        config = uvicorn.Config(
            app, host=host, port=port, lifespan="off", access_log=False, log_level="warning"
        )
        server = _SignalFreeServer(config)
        self._server, self._task = server, asyncio.create_task(server.serve())
        while not server.started:
            if self._task.done():
                await self._task
                raise OSError(f"could not listen on {host}:{port}")
            await asyncio.sleep(0.01)
        bound: int = server.servers[0].sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def _exposition(self, request: Request) -> Response:
        return Response(self._metrics.exposition(), media_type=CONTENT_TYPE)

    async def _health(self, request: Request) -> Response:
        health: list[dict[str, object]] = [w.health() for w in self._workers]
        status = 200 if all(h.get("running") for h in health) else 503
        return Response(
            orjson.dumps({"workers": health}), status_code=status, media_type="application/json"
        )
