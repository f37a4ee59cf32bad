"""The in-process queue: the all-in-one default, no broker.

Messages live in this process only (the publisher and worker share it in ``dbify
serve``); a consumed message that is not acked within ``claim_idle_seconds`` is
delivered again, which mirrors the brokers' redelivery for the contract suite.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Sequence

from dbify.backends.queue.base import Delivery, QueueUnavailable

__all__ = ["MemoryQueue"]


class MemoryQueue:
    in_process = True
    max_message_bytes: int | None = None

    def __init__(self, *, capacity: int = 100_000, claim_idle_seconds: float = 30.0) -> None:
        self._capacity = capacity
        self._claim_idle = claim_idle_seconds
        self._ready: deque[tuple[str, bytes]] = deque()
        self._pending: dict[str, tuple[float, bytes]] = {}
        self._tags = itertools.count(1)
        self._arrived = asyncio.Event()

    async def publish(self, bodies: Sequence[bytes]) -> None:
        if len(self._ready) + len(bodies) > self._capacity:
            raise QueueUnavailable("in-process queue is full")
        for body in bodies:
            self._ready.append((str(next(self._tags)), body))
        self._arrived.set()

    def _reclaim(self) -> None:
        cutoff = time.monotonic() - self._claim_idle
        stale = [tag for tag, (since, _) in self._pending.items() if since <= cutoff]
        for tag in stale:
            _, body = self._pending.pop(tag)
            self._ready.appendleft((tag, body))

    async def consume(self, max_count: int, wait_seconds: float) -> list[Delivery]:
        self._reclaim()
        if not self._ready:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), wait_seconds)
            except TimeoutError:
                self._reclaim()
        now = time.monotonic()
        out: list[Delivery] = []
        while self._ready and len(out) < max_count:
            tag, body = self._ready.popleft()
            self._pending[tag] = (now, body)
            out.append(Delivery(tag, body))
        return out

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            self._pending.pop(delivery.tag, None)

    async def backlog(self) -> int:
        return len(self._ready) + len(self._pending)

    async def close(self) -> None:
        return None
