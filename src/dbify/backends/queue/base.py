"""The request-log queue interface: publish message bodies, consume in batches, ack.

Delivery is at-least-once: a message consumed but not acked is delivered again, to
this or another consumer, once its consumer is gone (RabbitMQ: connection closed) or it
has stayed unacked longer than ``claim_idle_seconds`` (Redis Streams, in-process), or
its partition is handed to another member of the group (Kafka).
Consumers must therefore be idempotent. Adapters raise ``QueueUnavailable`` for any
broker failure so callers handle one exception type.

    Queue (Protocol)
    ├── MemoryQueue        in-process, the all-in-one default
    ├── RedisStreamQueue   Redis Streams, consumer group, XAUTOCLAIM
    ├── RabbitQueue        durable queue, publisher confirms (aio-pika)
    └── KafkaQueue         a topic, a consumer group, offsets committed on ack (aiokafka)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Delivery", "Queue", "QueueUnavailable"]


class QueueUnavailable(Exception):
    """The broker could not be reached or refused the operation."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One consumed message; ``tag`` identifies it to ``ack``."""

    tag: str
    body: bytes


class Queue(Protocol):
    # True when messages never leave this process (the in-process queue): the request
    # log may then send entries messages (``analytics.event.encode_entries``) through it.
    in_process: bool
    # The largest body the queue takes, or None when no batch comes near its limit: the
    # publisher splits a batch whose message would be larger (Kafka: 1 MB by default).
    max_message_bytes: int | None

    async def publish(self, bodies: Sequence[bytes]) -> None:
        """Store every body durably before returning (or raise ``QueueUnavailable``)."""

    async def consume(self, max_count: int, wait_seconds: float) -> list[Delivery]:
        """Up to ``max_count`` messages, waiting at most ``wait_seconds`` for the first."""

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Mark messages done; they are never delivered again."""

    async def backlog(self) -> int:
        """Messages published and not yet acked (or not yet consumed, for RabbitMQ,
        which does not count unacked ones): the queue lag ``/metrics`` reports."""

    async def close(self) -> None: ...
