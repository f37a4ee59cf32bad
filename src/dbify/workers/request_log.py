"""The request-log worker: queue → analytics store, in batches, acked after the write.

Each round gathers messages until it has ``batch_size`` of them or ``flush_seconds``
have passed since the first, decodes the events and writes them in one insert, then acks. If the
process dies between the write and the ack, the messages are redelivered and written
again; the store collapses duplicate event ids, so nothing is counted twice. A message
that cannot be decoded is acked and counted in ``poison`` so it cannot block the queue.
A store that takes the messages as they are (``JsonBatchInsert``: chDB) gets them without
the decode; when that insert fails the round falls back to decoding message by message.

``stop`` is graceful and prompt: a round waiting for messages stops waiting (what it
already holds is written and acked; a consume cut short leaves its messages in the queue,
unacked, to be delivered again), a round under way (write → ack) finishes before the loop
is cancelled, within ``grace_seconds``; after that the unacked batch is simply
redelivered to another worker. Without this an idle ``dbify serve`` took ~7 s to exit:
the loop's wait for a first message (``flush_seconds``, 5 s) and then the final round's.
After ``stop``, ``run_once`` takes only what is queued already, without waiting.

The worker also owns the retention job (``request_log_retention.py``) when one is given:
it writes the store, so it is the one that deletes from it; the job runs in its own task
and stops with the worker.

``build_request_log_worker`` makes the worker ``dbify worker request-log`` runs on its own
(scale-out): it needs a shared queue (Redis or RabbitMQ; the in-process queue only exists
inside ``dbify serve``), and it closes that queue and its store when stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import orjson

from dbify.analytics.event import RequestLog, count_events, decode_batch
from dbify.backends.analytics.base import AnalyticsStore, AnalyticsUnavailable, JsonBatchInsert
from dbify.backends.loader import build_analytics_store, build_queue
from dbify.backends.queue.base import Delivery, Queue
from dbify.settings import Settings
from dbify.workers.base import Worker
from dbify.workers.request_log_retention import (
    RequestLogRetention,
    build_request_log_retention,
)

if TYPE_CHECKING:
    from dbify.control.plane import ControlPlane

__all__ = ["RequestLogWorker", "build_request_log_worker"]

log = logging.getLogger("dbify.workers")


class RequestLogWorker(Worker):
    name = "request-log"

    def __init__(
        self,
        queue: Queue,
        store: AnalyticsStore,
        *,
        batch_size: int = 50,
        flush_seconds: float = 1.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        owns_backends: bool = False,
    ) -> None:
        super().__init__(backoff_initial=backoff_initial, backoff_max=backoff_max)
        self.queue = queue
        self.store = store
        self._owns_backends = owns_backends
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.events_written = 0
        self.poison = 0
        # What /metrics shows of the batches actually written (the setting is a ceiling).
        self.batches_written = 0
        self.last_batch_messages = 0
        self.last_batch_events = 0
        self._round = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._raw = store if isinstance(store, JsonBatchInsert) else None
        self.retention: RequestLogRetention | None = None

    async def start(self) -> None:
        self._stopping.clear()
        await super().start()
        if self.retention is not None:
            await self.retention.start()

    async def keep_retention(self, retention: RequestLogRetention) -> None:
        """Run ``retention`` with this worker (started now if the worker already is)."""
        self.retention = retention
        if self._task is not None:
            await retention.start()

    async def stop(self, grace_seconds: float = 10.0) -> None:
        if self.retention is not None:  # before the store closes under it
            await self.retention.stop()
        self._stopping.set()  # ends the current round's waits (``_consume``)
        # asyncio.Lock is fair: this acquire comes before the loop's next round.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds), self._round:
                await super().stop()
                await self._close_backends()
                return
        await super().stop()
        await self._close_backends()

    async def _close_backends(self) -> None:
        if self._owns_backends:
            self._owns_backends = False
            await self.queue.close()
            await self.store.close()

    async def _gather(self) -> list[Delivery]:
        """Messages until ``batch_size`` or ``flush_seconds`` after the first one.

        Few large inserts, not many small ones: each insert is a new part the store must
        merge, and in-process chDB that cost lands on the serving process's CPUs (small
        per-message inserts cost ~100 µs a request in the all-in-one benchmark).
        """
        deliveries = await self._consume(self.batch_size, self.flush_seconds)
        deadline = time.monotonic() + self.flush_seconds
        while deliveries and len(deliveries) < self.batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await self._consume(self.batch_size - len(deliveries), left)
            if not more:
                break
            deliveries += more
        return deliveries

    async def _consume(self, max_count: int, wait_seconds: float) -> list[Delivery]:
        """``queue.consume``, cut short by ``stop``; once stopping, no wait at all.

        Cutting a consume short is safe with every queue: the in-process queue moves
        messages only after its wait, Redis keeps what it handed out in the consumer
        group's pending list (claimed again after ``claim_idle``) and RabbitMQ redelivers
        the unacked messages of a closed channel.
        """
        if self._stopping.is_set():
            return await self.queue.consume(max_count, 0)
        consume = asyncio.ensure_future(self.queue.consume(max_count, wait_seconds))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((consume, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not consume.done():
                consume.cancel()
        if not consume.done():
            await asyncio.wait((consume,))
        if consume.cancelled():
            return []
        return consume.result()

    async def run_once(self) -> int:
        async with self._round:
            return await self._run_round()

    async def _run_round(self) -> int:
        deliveries = await self._gather()
        if not deliveries:
            return 0
        written = await self._write_raw([delivery.body for delivery in deliveries])
        if written is not None:
            await self.queue.ack(deliveries)
            self._count_batch(len(deliveries), written)
            return written
        events: list[RequestLog] = []
        for delivery in deliveries:
            try:
                events.extend(decode_batch(delivery.body, trusted=self.queue.in_process))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                self.poison += 1
                log.warning("request-log worker skipped an undecodable message")
        await self.store.insert(events)
        await self.queue.ack(deliveries)
        self._count_batch(len(deliveries), len(events))
        return len(events)

    def _count_batch(self, messages: int, events: int) -> None:
        self.events_written += events
        self.batches_written += 1
        self.last_batch_messages, self.last_batch_events = messages, events

    async def _write_raw(self, bodies: list[bytes]) -> int | None:
        """Events written straight from the messages, or None to decode them first.

        Only messages shaped like ``encode_rows`` or ``encode_batch`` output take this
        path (``count_events`` reads their size without decoding them); anything else
        (or a failed insert, e.g. a malformed message) goes through the decoding path,
        which skips what it cannot read.
        """
        if self._raw is None:
            return None
        trusted = self.queue.in_process
        counts = [count_events(body, trusted=trusted) for body in bodies]
        if None in counts:
            return None
        try:
            await self._raw.insert_json_batches(bodies, trusted=trusted)
        except AnalyticsUnavailable:
            return None
        return sum(count or 0 for count in counts)


async def build_request_log_worker(
    settings: Settings, plane: ControlPlane | None = None
) -> RequestLogWorker:
    """The worker for ``dbify worker request-log``; ``ValueError`` when it cannot run alone.

    With ``plane`` (the control plane ``dbify worker`` opens) it also runs the retention
    job, which reads the projects' ``log_retention_days`` from the metadata store.
    """
    config = settings.analytics
    if not config.enabled:
        raise ValueError("request logs are disabled (DBIFY_ANALYTICS__ENABLED=false)")
    if config.queue == "memory":
        raise ValueError(
            "the request-log worker needs a shared queue to run on its own: set "
            "DBIFY_ANALYTICS__QUEUE=redis|rabbitmq|kafka and DBIFY_ANALYTICS__QUEUE_URL "
            "(with the in-process queue, `dbify serve` runs it)"
        )
    queue = build_queue(settings)
    store = build_analytics_store(settings)
    worker = RequestLogWorker(
        queue,
        store,
        batch_size=config.worker_batch_size,
        flush_seconds=config.worker_flush,
        owns_backends=True,
    )
    if plane is not None:
        worker.retention = build_request_log_retention(settings, store, plane.store.engine)
    return worker
