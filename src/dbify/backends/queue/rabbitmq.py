"""RabbitMQ adapter (aio-pika): a durable queue, persistent messages, publisher confirms.

``publish`` returns once the broker confirmed every message (the channel is opened with
confirms on). ``consume`` fetches with ``basic.get`` up to ``max_count`` messages without
auto-ack; unacked messages go back to the queue when this connection closes, which is
how a killed worker's batch is redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPException
from aiormq.exceptions import ChannelInvalidStateError

from dbify.backends.queue.base import Delivery, QueueUnavailable

__all__ = ["RabbitQueue"]

_POLL_SECONDS = 0.05
# A closed channel raises aiormq's ChannelInvalidStateError, a RuntimeError, not an AMQPError.
_BROKER_ERRORS = (AMQPException, ChannelInvalidStateError, OSError, TimeoutError)


class RabbitQueue:
    in_process = False
    max_message_bytes: int | None = None

    def __init__(self, url: str, *, queue: str = "dbify.request-log") -> None:
        self._url = url
        self._queue_name = queue
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._unacked: dict[str, AbstractIncomingMessage] = {}
        self._lock = asyncio.Lock()

    async def _open(self) -> tuple[AbstractChannel, AbstractQueue]:
        if self._channel is not None and not self._channel.is_closed and self._queue is not None:
            return self._channel, self._queue
        await self._drop()
        try:
            self._connection = await aio_pika.connect(self._url, timeout=3)  # type: ignore[assignment]
            assert self._connection is not None
            self._channel = await self._connection.channel(publisher_confirms=True)
            await self._channel.set_qos(prefetch_count=0)
            self._queue = await self._channel.declare_queue(self._queue_name, durable=True)
        except _BROKER_ERRORS as error:
            await self._drop()
            raise QueueUnavailable(f"rabbitmq: {error}") from error
        return self._channel, self._queue

    async def _drop(self) -> None:
        self._unacked.clear()
        connection, self._connection, self._channel, self._queue = (
            self._connection,
            None,
            None,
            None,
        )
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken; nothing to do
                await connection.close()

    async def publish(self, bodies: Sequence[bytes]) -> None:
        async with self._lock:
            channel, _ = await self._open()
            try:
                confirms = [
                    channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=self._queue_name,
                    )
                    for body in bodies
                ]
                await asyncio.gather(*confirms)
            except _BROKER_ERRORS as error:
                await self._drop()
                raise QueueUnavailable(f"rabbitmq: {error}") from error

    async def consume(self, max_count: int, wait_seconds: float) -> list[Delivery]:
        deadline = time.monotonic() + wait_seconds
        out: list[Delivery] = []
        async with self._lock:
            _, queue = await self._open()
            try:
                while len(out) < max_count:
                    message = await self._get(queue)
                    if message is None:
                        if out or time.monotonic() >= deadline:
                            break
                        await asyncio.sleep(_POLL_SECONDS)
                        continue
                    tag = str(message.delivery_tag)
                    self._unacked[tag] = message
                    out.append(Delivery(tag, message.body))
            except _BROKER_ERRORS as error:
                await self._drop()
                raise QueueUnavailable(f"rabbitmq: {error}") from error
        return out

    @staticmethod
    async def _get(queue: AbstractQueue) -> AbstractIncomingMessage | None:
        """One ``basic.get`` that a cancellation cannot cut in half.

        aiormq closes the channel when an RPC on it is cancelled, and with the channel go
        its unacked deliveries: the batch a worker is about to write and ack (a worker's
        ``stop`` cancels the consume that waits for more). So the get finishes, and a
        message it brings after all goes back to the queue.
        """
        get = asyncio.ensure_future(queue.get(no_ack=False, fail=False))
        try:
            return await asyncio.shield(get)
        except asyncio.CancelledError:
            with contextlib.suppress(*_BROKER_ERRORS):
                late = await get
                if late is not None:
                    await late.nack(requeue=True)
            raise

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        async with self._lock:
            try:
                for delivery in deliveries:
                    message = self._unacked.pop(delivery.tag, None)
                    if message is not None:
                        await message.ack()
            except _BROKER_ERRORS as error:
                await self._drop()
                raise QueueUnavailable(f"rabbitmq: {error}") from error

    async def backlog(self) -> int:
        async with self._lock:
            channel, _ = await self._open()
            try:
                # A passive declare reads the queue's ready count without changing it.
                declared = await channel.declare_queue(self._queue_name, passive=True)
            except _BROKER_ERRORS as error:
                await self._drop()
                raise QueueUnavailable(f"rabbitmq: {error}") from error
            count = declared.declaration_result.message_count
            return int(count or 0)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
