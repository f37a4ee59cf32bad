"""The shape every worker shares: start, stop, health, and a loop that retries with backoff.

A subclass implements ``run_once`` (one unit of work, returning how much it did). The
loop calls it until stopped; an exception is logged and retried after an exponential
backoff (capped), so a broker or store outage slows the worker down instead of killing it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from dbify.background import cancel_and_wait

__all__ = ["Worker"]

log = logging.getLogger("dbify.workers")


class Worker:
    name = "worker"

    def __init__(self, *, backoff_initial: float = 0.2, backoff_max: float = 10.0) -> None:
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._task: asyncio.Task[None] | None = None
        self.failures = 0
        self.last_error = ""
        self.last_success = 0.0

    async def run_once(self) -> int:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def health(self) -> dict[str, object]:
        return {
            "name": self.name,
            "running": self._task is not None and not self._task.done(),
            "consecutive_failures": self.failures,
            "last_error": self.last_error,
            "last_success": self.last_success,
        }

    async def _loop(self) -> None:
        delay = self._backoff_initial
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.failures += 1
                self.last_error = str(error)[:500]
                log.warning("%s failed (retrying in %.1fs): %s", self.name, delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                continue
            self.failures = 0
            self.last_success = time.time()
            delay = self._backoff_initial
