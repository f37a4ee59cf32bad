"""Request logging assembled for one process: recorder, publisher and (optionally) worker.

``dbify serve`` starts it with the worker in-process (all-in-one: in-process queue, and
chDB in a child process the server talks to, see ``chdb_process``); ``dbify worker``
runs only the worker; scale-out ``serve`` replicas run only the
recorder and publisher against Redis or RabbitMQ, and still answer the stats API by
reading the ClickHouse server the workers write to. A replica without the worker and with
chDB has no store to read (chDB's data directory belongs to the process that writes it),
so its stats API answers 503 with a hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbify.analytics.publisher import RequestLogPublisher
from dbify.analytics.recorder import RequestRecorder
from dbify.analytics.spool import Spool
from dbify.backends.analytics.base import AnalyticsStore
from dbify.backends.analytics.chdb_process import ChdbProcessStore
from dbify.backends.analytics.owner import holder
from dbify.backends.loader import build_analytics_store, build_queue, chdb_directory
from dbify.backends.queue.base import Queue
from dbify.settings import Settings
from dbify.workers.request_log import RequestLogWorker
from dbify.workers.request_log_retention import build_request_log_retention

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dbify.app import DbifyApp

__all__ = ["RequestLogging", "chdb_taken", "start_request_logging"]


@dataclass(slots=True)
class RequestLogging:
    recorder: RequestRecorder
    queue: Queue
    publisher: RequestLogPublisher
    store: AnalyticsStore | None
    worker: RequestLogWorker | None

    def attach(self, data_app: DbifyApp, management: FastAPI) -> None:
        """Record the data API's requests and serve the stats API from ``store``."""
        data_app.recorder = self.recorder
        management.state.analytics_store = self.store

    async def stop(self) -> None:
        await self.publisher.stop()
        if self.worker is not None:
            # Give the in-process worker one last round for what the publisher flushed.
            await self.worker.stop()
            await self.worker.run_once()
        await self.queue.close()
        if self.store is not None:
            await self.store.close()


def chdb_taken(settings: Settings, *, run_worker: bool) -> str | None:
    """Why ``start_request_logging`` could not open chDB's directory now (another process
    holds it), or None: asked before a server changes anything on its way up."""
    config = settings.analytics
    if not (config.enabled and run_worker and config.store == "chdb"):
        return None
    return holder(chdb_directory(settings))


async def start_request_logging(
    settings: Settings, *, run_worker: bool, metadata: AsyncEngine | None = None
) -> RequestLogging:
    """``metadata`` (the metadata store, where projects' ``log_retention_days`` live) lets
    the worker run the retention job too; without it no project's retention is applied."""
    config = settings.analytics
    recorder = RequestRecorder(
        capacity=config.buffer_size, ip_anonymisation=config.ip_anonymisation
    )
    queue = build_queue(settings)
    spool = Spool(settings.data_dir / "request-log-spool", max_bytes=config.spool_max_bytes)
    publisher = RequestLogPublisher(
        recorder, queue, spool, batch_size=config.batch_size, flush_seconds=config.flush_seconds
    )
    store: AnalyticsStore | None = None
    worker: RequestLogWorker | None = None
    if run_worker and config.store == "chdb":
        # All-in-one: chDB runs in a child process, never loaded into the server.
        store = ChdbProcessStore(chdb_directory(settings), retention_days=config.retention_days)
    elif run_worker or config.store == "clickhouse":
        store = build_analytics_store(settings)
    if run_worker:
        assert store is not None
        worker = RequestLogWorker(
            queue, store, batch_size=config.worker_batch_size, flush_seconds=config.worker_flush
        )
        if metadata is not None:
            await worker.keep_retention(build_request_log_retention(settings, store, metadata))
        await worker.start()
    await publisher.start()
    return RequestLogging(recorder, queue, publisher, store, worker)
