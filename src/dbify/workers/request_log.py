"""The request-log worker: queue → analytics store, in batches, acked after the write.

Each round consumes up to ``batch_size`` messages, waiting at most ``flush_seconds``
for the first, decodes the events and writes them in one insert, then acks. If the
process dies between the write and the ack, the messages are redelivered and written
again; the store collapses duplicate event ids, so nothing is counted twice. A message
that cannot be decoded is acked and counted in ``poison`` so it cannot block the queue.

``stop`` is graceful: a round already under way (consume → write → ack) finishes before
the loop is cancelled, within ``grace_seconds``; after that the unacked batch is simply
redelivered to another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from dbify.analytics.event import RequestLog, decode_batch
from dbify.backends.analytics.base import AnalyticsStore
from dbify.backends.queue.base import Queue
from dbify.workers.base import Worker

__all__ = ["RequestLogWorker"]

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
    ) -> None:
        super().__init__(backoff_initial=backoff_initial, backoff_max=backoff_max)
        self.queue = queue
        self.store = store
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.events_written = 0
        self.poison = 0
        self._round = asyncio.Lock()

    async def stop(self, grace_seconds: float = 10.0) -> None:
        # asyncio.Lock is fair: this acquire comes before the loop's next round.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds), self._round:
                await super().stop()
                return
        await super().stop()

    async def run_once(self) -> int:
        async with self._round:
            return await self._run_round()

    async def _run_round(self) -> int:
        deliveries = await self.queue.consume(self.batch_size, self.flush_seconds)
        if not deliveries:
            return 0
        events: list[RequestLog] = []
        for delivery in deliveries:
            try:
                events.extend(decode_batch(delivery.body))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                self.poison += 1
                log.warning("request-log worker skipped an undecodable message")
        await self.store.insert(events)
        await self.queue.ack(deliveries)
        self.events_written += len(events)
        return len(events)
