"""Redis Streams adapter: one stream, one consumer group, XAUTOCLAIM for stuck messages.

``publish`` XADDs every body in one pipeline (Redis answers only after the entries are
in the stream). ``consume`` first claims entries idle longer than ``claim_idle_seconds``
(a consumer died holding them), then reads new ones with XREADGROUP ``>``. ``ack`` is
XACK + XDEL so the stream does not grow without bound. Stream length is also capped with
an approximate MAXLEN as a last resort.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from dbify.backends.queue.base import Delivery, QueueUnavailable

__all__ = ["RedisStreamQueue"]

_SOCKET_TIMEOUT = 5.0
# consume may return empty before wait_seconds (its contract is "at most").
_MAX_BLOCK_SECONDS = _SOCKET_TIMEOUT - 1


class RedisStreamQueue:
    in_process = False
    max_message_bytes: int | None = None

    def __init__(
        self,
        url: str,
        *,
        stream: str = "dbify:request-log",
        group: str = "dbify-workers",
        consumer: str | None = None,
        claim_idle_seconds: float = 30.0,
        max_length: int = 10_000_000,
    ) -> None:
        self._client = aioredis.from_url(
            url, socket_timeout=_SOCKET_TIMEOUT, socket_connect_timeout=2
        )
        self._stream = stream
        self._group = group
        self._consumer = consumer or f"{os.uname().nodename}-{os.getpid()}-{os.urandom(3).hex()}"
        self._claim_idle_ms = int(claim_idle_seconds * 1000)
        self._max_length = max_length
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._client.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    async def publish(self, bodies: Sequence[bytes]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for body in bodies:
                    pipe.xadd(self._stream, {"b": body}, maxlen=self._max_length, approximate=True)
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise QueueUnavailable(f"redis: {error}") from error

    async def consume(self, max_count: int, wait_seconds: float) -> list[Delivery]:
        try:
            await self._ensure_group()
            claimed = await self._client.xautoclaim(
                self._stream, self._group, self._consumer, self._claim_idle_ms, "0-0", max_count
            )
            entries = list(claimed[1])
            if not entries:
                found = await self._client.xreadgroup(
                    self._group,
                    self._consumer,
                    {self._stream: ">"},
                    count=max_count,
                    # A longer block would outlast the socket's timeout: an idle worker
                    # (wait 5 s by default) then failed every round with "Timeout reading".
                    block=max(1, int(min(wait_seconds, _MAX_BLOCK_SECONDS) * 1000)),
                )
                entries = list(found[0][1]) if found else []  # type: ignore[index]
        except (RedisError, OSError) as error:
            self._group_ready = False
            raise QueueUnavailable(f"redis: {error}") from error
        return [
            Delivery(entry_id.decode(), fields[b"b"])
            for entry_id, fields in entries
            if fields  # an entry deleted after it was claimed comes back empty
        ]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        ids = [delivery.tag for delivery in deliveries]
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xack(self._stream, self._group, *ids)
                pipe.xdel(self._stream, *ids)
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise QueueUnavailable(f"redis: {error}") from error

    async def backlog(self) -> int:
        # ack deletes entries (XDEL), so the stream holds exactly the unacked ones.
        try:
            length: int = await self._client.xlen(self._stream)
        except (RedisError, OSError) as error:
            raise QueueUnavailable(f"redis: {error}") from error
        return length

    async def close(self) -> None:
        await self._client.aclose()
