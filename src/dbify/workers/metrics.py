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
worker has no API server to carry them. It speaks just enough HTTP/1.1 for scrapers and
probes (one request per connection); it is not a general web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import orjson

from dbify.backends.queue.base import Queue, QueueUnavailable
from dbify.metrics import CONTENT_TYPE, Metrics
from dbify.workers.base import Worker
from dbify.workers.request_log import RequestLogWorker
from dbify.workers.webhooks import WebhookWorker

__all__ = ["QueueBacklog", "WorkerMetricsServer", "request_log_worker_readings", "worker_readings"]

_REQUEST_LIMIT_BYTES = 16 * 1024
_READ_TIMEOUT_SECONDS = 5.0


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


class WorkerMetricsServer:
    """``/metrics`` and ``/healthz`` of a worker process on ``host:port`` (0: any free port)."""

    def __init__(self, metrics: Metrics, workers: Sequence[Worker]) -> None:
        self._metrics = metrics
        self._workers = workers
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; return the port actually bound."""
        self._server = await asyncio.start_server(
            self._handle, host, port, limit=_REQUEST_LIMIT_BYTES
        )
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_SECONDS)
            method, _, rest = head.partition(b" ")
            path = rest.partition(b" ")[0].partition(b"?")[0]
            status, content_type, body = self._answer(method, path)
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}.get(
                status, "Service Unavailable"
            )
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (b"" if method == b"HEAD" else body)
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a client that sends no complete request gets nothing
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _answer(self, method: bytes, path: bytes) -> tuple[int, str, bytes]:
        if method not in (b"GET", b"HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == b"/metrics":
            return 200, CONTENT_TYPE, self._metrics.exposition()
        if path == b"/healthz":
            health: list[dict[str, object]] = [w.health() for w in self._workers]
            status = 200 if all(h.get("running") for h in health) else 503
            return status, "application/json", orjson.dumps({"workers": health})
        return 404, "text/plain", b"not found: /metrics or /healthz\n"
