"""The mail worker: messages are queued at once and sent in the background, with retries.

``MailWorker`` is itself a ``MailBackend``: ``send`` only enqueues (never blocks the
caller on SMTP, never raises), and the worker loop hands each message to the real
backend (SMTP, console). A failure (``MailError`` or any other exception) schedules
the message again after an exponential backoff with jitter, up to ``attempts`` tries
in all; then it is dropped and counted as dead (logged, visible in ``health``).
``drain`` waits for the queue to empty, which ``stop`` does briefly so a clean
shutdown sends what is due. The queue lives in memory: a crashed process loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from dataclasses import dataclass

from dbify.backends.mail import MailBackend, OutgoingMail
from dbify.workers.base import Worker

__all__ = ["MailWorker"]

_log = logging.getLogger("dbify.workers.mail")


@dataclass(frozen=True, slots=True)
class _Queued:
    mail: OutgoingMail
    failures: int


class MailWorker(Worker):
    name = "mail"

    def __init__(
        self,
        transport: MailBackend,
        *,
        attempts: int = 8,
        retry_initial_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
    ) -> None:
        super().__init__()
        self._transport = transport
        self._attempts = max(attempts, 1)
        self._initial = retry_initial_seconds
        self._maximum = retry_max_seconds
        self._queue: list[tuple[float, int, _Queued]] = []  # heap of (due, sequence, item)
        self._sequence = itertools.count()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent = 0
        self.retried = 0
        self.dead = 0

    async def send(self, mail: OutgoingMail) -> None:
        """Queue ``mail`` for delivery now."""
        self._push(time.monotonic(), _Queued(mail, 0))

    def _push(self, due: float, item: _Queued) -> None:
        heapq.heappush(self._queue, (due, next(self._sequence), item))
        self._idle.clear()
        self._wake.set()

    def retry_delay(self, failures: int) -> float:
        """Delay after the ``failures``-th failed try: half fixed, half jitter, doubling."""
        cap = min(self._maximum, self._initial * 2 ** (failures - 1))
        return float(cap / 2) + random.uniform(0, cap / 2)  # noqa: S311 - jitter, not security

    async def run_once(self) -> int:
        if not self._queue:
            self._idle.set()
            await self._wake.wait()
            self._wake.clear()
            return 0
        due, _, item = self._queue[0]
        wait = due - time.monotonic()
        if wait > 0:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            return 0
        heapq.heappop(self._queue)
        try:
            await self._transport.send(item.mail)
        except Exception as error:
            self._failed(item, error)
            return 0
        self.sent += 1
        return 1

    def _failed(self, item: _Queued, error: Exception) -> None:
        failures = item.failures + 1
        self.last_error = f"{type(error).__name__}: {error}"[:300]
        if failures >= self._attempts:
            self.dead += 1
            _log.error(
                "mail %r to %s dropped after %d tries: %s",
                item.mail.subject, ", ".join(item.mail.to), failures, self.last_error,
            )  # fmt: skip
            return
        self.retried += 1
        delay = self.retry_delay(failures)
        _log.warning(
            "mail %r failed (try %d), retrying in %.1fs", item.mail.subject, failures, delay
        )
        self._push(time.monotonic() + delay, _Queued(item.mail, failures))

    async def drain(self, seconds: float) -> bool:
        """Wait until nothing is queued (True) or ``seconds`` pass (False)."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def stop(self, drain_seconds: float = 5.0) -> None:
        if self._queue and self._task is not None and not self._task.done():
            await self.drain(drain_seconds)
        if self._queue:
            _log.warning("mail worker stopped with %d message(s) unsent", len(self._queue))
        await super().stop()

    def health(self) -> dict[str, object]:
        return {
            **super().health(),
            "queued": len(self._queue),
            "sent": self.sent,
            "retried": self.retried,
            "dead": self.dead,
        }
