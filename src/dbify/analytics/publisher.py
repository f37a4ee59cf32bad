"""The background publisher: drains the recorder in batches and ships them to the queue.

Runs as one asyncio task next to the HTTP server. It flushes when the buffer holds
``batch_size`` entries or ``flush_seconds`` have passed since the last flush, and sleeps
in between: the recorder wakes it when an entry arrives in an empty buffer and when the
buffer reaches ``batch_size``, so an idle server does not wake for it at all (it looked
every 50 ms before), and only while the spool holds batches does it look once every
``flush_seconds`` (the probe of a queue that was down). A batch the queue
refuses (broker down, timeout) goes to the on-disk spool; the spool is replayed, oldest
first, before new batches once the queue answers again. When the spool is full the
batch is dropped, counted in ``dropped`` and logged: requests are never blocked.

A batch for the in-process queue is an entries message (``event.encode_entries``): the
last derivations then run in the consumer (the chDB child in all-in-one), not here, on
the serving process's CPU. A batch for a broker or the spool is version-3 JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from dbify.analytics.event import encode_entries, encode_rows, entry_rows
from dbify.analytics.recorder import RequestRecorder
from dbify.analytics.spool import Spool
from dbify.backends.queue.base import Queue, QueueUnavailable
from dbify.background import cancel_and_wait

__all__ = ["RequestLogPublisher"]

log = logging.getLogger("dbify.analytics")


class RequestLogPublisher:
    def __init__(
        self,
        recorder: RequestRecorder,
        queue: Queue,
        spool: Spool,
        *,
        batch_size: int = 500,
        flush_seconds: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self.recorder = recorder
        self.queue = queue
        self.spool = spool
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.publish_timeout = publish_timeout
        self.published = 0
        self.spooled = 0
        self.dropped = 0
        self.queue_up = True
        self._task: asyncio.Task[None] | None = None
        self._last_flush = time.monotonic()
        self._due = asyncio.Event()

    async def start(self) -> None:
        self.recorder.wake, self.recorder.wake_at = self._due.set, self.batch_size
        self._task = asyncio.create_task(self._loop(), name="request-log-publisher")

    async def stop(self) -> None:
        """Stop the loop, then ship (or spool) whatever is left."""
        await cancel_and_wait(self._task)
        self._task = None
        await self.flush(force=True)

    def health(self) -> dict[str, object]:
        return {
            "running": self._task is not None and not self._task.done(),
            "queue_up": self.queue_up,
            "buffered": len(self.recorder),
            "spooled_messages": len(self.spool),
            "published": self.published,
            "dropped": self.dropped + self.recorder.dropped,
        }

    async def _loop(self) -> None:
        while True:
            self._due.clear()  # before looking: an entry recorded from now on wakes it
            if len(self.recorder) < self.batch_size:
                await self._sleep()
            try:
                await self.flush()
            except Exception:  # the loop must survive anything; the next flush retries
                log.exception("request log publisher failed a flush")
                await asyncio.sleep(self.flush_seconds)

    async def _sleep(self) -> None:
        """Until the recorder wakes it, or the next flush is due while something waits
        (entries, or spooled batches to replay)."""
        timeout = None
        if len(self.recorder) or len(self.spool):
            timeout = max(0.0, self._last_flush + self.flush_seconds - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), timeout)

    async def flush(self, *, force: bool = False) -> None:
        due = time.monotonic() - self._last_flush >= self.flush_seconds
        if not (force or due or len(self.recorder) >= self.batch_size):
            return
        self._last_flush = time.monotonic()
        await self._replay_spool()
        in_process = self.queue.in_process
        # Only what is buffered now: each publish awaits, requests keep arriving, and
        # draining "until empty" never ended under load (messages of ~10 events, one
        # per loop iteration, instead of batch_size).
        left = len(self.recorder)
        while left > 0:
            entries = self.recorder.take(min(self.batch_size, left))
            left -= len(entries)
            # JSON rows for a broker, reused for the spool if the broker refuses them.
            rows = None if in_process else self._rows(entries)
            if self.queue_up and await self._publish(rows or [encode_entries(entries)]):
                continue
            for body in rows or self._rows(entries):
                self._spool(body)

    def _rows(self, entries: list[tuple[Any, ...]]) -> list[bytes]:
        """``entries`` as JSON rows messages, halved until each fits the queue: a message
        the broker refuses for its size would be spooled, and its replay, oldest first,
        would then hold back every batch after it."""
        body = encode_rows(entry_rows(entries))
        limit = self.queue.max_message_bytes
        if limit is None or len(body) <= limit or len(entries) == 1:
            return [body]
        half = len(entries) // 2
        return self._rows(entries[:half]) + self._rows(entries[half:])

    async def _publish(self, bodies: list[bytes]) -> bool:
        try:
            await asyncio.wait_for(self.queue.publish(bodies), self.publish_timeout)
        except (QueueUnavailable, TimeoutError) as error:
            if self.queue_up:
                log.warning("request log queue unavailable, spooling to disk: %s", error)
            self.queue_up = False
            return False
        self.published += len(bodies)
        return True

    def _spool(self, body: bytes) -> None:
        if self.spool.put(body):
            self.spooled += 1
            return
        self.dropped += 1
        log.warning("request log spool full (%d bytes); dropped a batch", self.spool.size)

    async def _replay_spool(self) -> None:
        """Ship spooled messages first (keeps order); marks the queue up on success.

        While the queue is down this is the probe, once a flush: a failure leaves it
        marked down without another warning (one per outage, not one a second)."""
        while True:
            batch = self.spool.oldest(20)
            if not batch:
                self.queue_up = True
                return
            if not await self._publish([body for _, body in batch]):
                return
            if not self.queue_up:
                log.info("request log queue available again, replaying the spool")
                self.queue_up = True
            self.spool.remove([path for path, _ in batch])
