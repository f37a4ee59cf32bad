"""The webhook delivery worker: due messages → signed POSTs, with retries and a log.

Each round claims due messages (a lease of ``timeout + 30 s``, so a dead worker's
messages come back) and sends each in its own task; the loop does not wait for them,
so a slow endpoint only ever holds its own ``per_endpoint_in_flight`` slots, bounded by
the timeout. A 2xx marks the message succeeded. Anything else (status, timeout,
refused target) schedules the next attempt after an exponential backoff with full
jitter, until ``retry_window_seconds`` after the message was created: then it is dead
(kept, listed, redeliverable). Every attempt is logged with its request headers,
status, the first 1 KB of the response and its duration. Same ``webhook-id`` on every
attempt: receivers dedupe on it (at-least-once).

With nothing to claim it sleeps, without polling, until the first of: a message queued
in this process (the store's listeners) or announced on the event bus
(``cache.webhooks.queued``, ``wake``), one of its attempts ending, the earliest pending
retry coming due (``WebhookStore.next_due``), or ``poll_seconds``, the ceiling for
messages queued elsewhere without an announcement.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from dbify.backends.events import EventBus
from dbify.control.outbound import OutboundPolicy, TargetRefused
from dbify.control.webhooks.signing import signed_headers
from dbify.control.webhooks.store import (
    AttemptRecord,
    DeliveryRecord,
    EndpointRecord,
    WebhookStore,
)
from dbify.secrets_box import SecretBox
from dbify.settings import WebhookSettings
from dbify.workers.base import Worker

__all__ = ["WebhookWorker", "backoff_seconds"]

_EXCERPT = 1024


def backoff_seconds(attempt: int, initial: float, maximum: float) -> float:
    """Delay after failed attempt number ``attempt`` (1-based): full jitter over an
    exponentially growing cap, so retries of many messages spread out."""
    cap = min(maximum, initial * 2 ** (attempt - 1))
    return float(cap / 2 + random.uniform(0, cap / 2))  # noqa: S311 - jitter, not security


class WebhookWorker(Worker):
    name = "webhooks"

    def __init__(
        self, store: WebhookStore, box: SecretBox, settings: WebhookSettings,
        client: httpx.AsyncClient | None = None, own_bus: EventBus | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.store = store
        self._own_bus = own_bus  # `dbify worker`'s connection for wake-ups: closed by stop
        self._box = box
        self._settings = settings
        self._policy = OutboundPolicy(settings.allowed_hosts)
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._in_flight: dict[asyncio.Task[None], str] = {}
        # Set when there may be work: a message queued, an attempt ended (room again).
        self._woken = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        """Look for due messages now (some were queued)."""
        self._woken.set()

    async def start(self) -> None:
        self.store.listen(self.wake)
        await super().start()

    async def run_once(self) -> int:
        config = self._settings
        room = config.max_in_flight - len(self._in_flight)
        claimed: list[tuple[DeliveryRecord, EndpointRecord]] = []
        self._woken.clear()  # before the claim: a message queued during it wakes the next
        now = datetime.now(UTC)
        if room > 0:
            counts = Counter(self._in_flight.values())
            busy = {e for e, n in counts.items() if n >= config.per_endpoint_in_flight}
            lease = now + timedelta(seconds=config.timeout_seconds + 30)
            claimed = await self.store.claim(now, lease, room, config.per_endpoint_in_flight, busy)
            for delivery, endpoint in claimed:
                task = asyncio.create_task(self._attempt(delivery, endpoint))
                self._in_flight[task] = endpoint.id
                task.add_done_callback(self._finished)
        if not claimed:
            # The timeout first: were the wait's coroutine made before this await and the
            # await cancelled (stop), it would be left never awaited.
            seconds = await self._sleep_seconds(now, room)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), seconds)
        return len(claimed)

    async def _sleep_seconds(self, now: datetime, room: int) -> float:
        """How long no message can come due, as far as this process knows, after a claim
        at ``now`` that found none."""
        ceiling = self._settings.poll_seconds
        if room <= 0:  # full: only an attempt ending (which wakes us) makes room
            return ceiling
        earliest = await self.store.next_due(now)
        if earliest is None:
            return ceiling
        return min(max((earliest - datetime.now(UTC)).total_seconds(), 0.0), ceiling)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._woken.set()

    async def _attempt(self, delivery: DeliveryRecord, endpoint: EndpointRecord) -> None:
        attempt = delivery.attempts + 1
        started = datetime.now(UTC)
        clock = time.perf_counter()
        body = delivery.payload.encode()
        headers = signed_headers(
            self._box.decrypt(endpoint.secret_sealed), delivery.id, int(time.time()), body
        )
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            await self._policy.check(endpoint.url)
            response = await self._client.post(
                endpoint.url, content=body, headers=headers, timeout=self._settings.timeout_seconds
            )
            status = response.status_code
            excerpt = response.text[:_EXCERPT]
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except TargetRefused as exc:
            error = f"refused: {exc}"
        except httpx.TimeoutException:
            error = f"timed out after {self._settings.timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration = (time.perf_counter() - clock) * 1000
        shown = {k: v for k, v in headers.items() if k != "webhook-signature"}
        shown["webhook-signature"] = headers["webhook-signature"][:10] + "…"
        log = AttemptRecord(
            id=secrets.token_hex(8),
            delivery_id=delivery.id,
            attempt=attempt,
            started_at=started,
            duration_ms=duration,
            request_headers=shown,
            status_code=status,
            response_excerpt=excerpt,
            error=error,
        )
        now = datetime.now(UTC)
        if error is None:
            self.sent += 1
            await self.store.finish_attempt(
                log, status="succeeded", attempts=attempt, last_status_code=status,
                last_error=None, finished_at=now,
            )  # fmt: skip
            return
        delay = backoff_seconds(
            attempt, self._settings.backoff_initial_seconds, self._settings.backoff_max_seconds
        )
        next_at = now + timedelta(seconds=delay)
        window_end = delivery.created_at + timedelta(seconds=self._settings.retry_window_seconds)
        dead = next_at > window_end
        await self.store.finish_attempt(
            log,
            status="dead" if dead else "pending",
            attempts=attempt,
            last_status_code=status,
            last_error=error,
            next_attempt_at=next_at,
            finished_at=now if dead else None,
        )

    async def stop(self) -> None:
        self.store.unlisten(self.wake)
        await super().stop()
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._client.aclose()
        if self._own_bus is not None:
            await self._own_bus.close()

    def health(self) -> dict[str, object]:
        return {**super().health(), "in_flight": len(self._in_flight), "sent": self.sent}
