"""Kafka adapter (aiokafka): one topic, one consumer group, offsets committed on ack.

``publish`` returns once every message is written to all in-sync replicas (``acks=all``).
Messages carry this process's key, so one publisher's messages share a partition and
keep their order, while several replicas spread over the partitions, and so over the
workers of the group (a partition has one consumer at a time: as many useful workers as
partitions).

Kafka acknowledges by offset, not by message: a commit means "everything before this
offset is done". ``ack`` therefore commits, per partition, only up to the first message
consumed and not yet acked, so an ack out of order never skips one. A worker that dies or
closes without acking leaves its partitions' committed offsets where they were; the group
rebalances and another consumer starts again from them (at-least-once, as for the other
queues; the store collapses redelivered events). Messages of partitions taken away by a
rebalance are forgotten here: their new owner receives them again. A message this
consumer still holds unacked after ``claim_idle_seconds`` (its batch failed to be
stored) is fetched again: the consumer seeks back to it, as Redis claims such messages.

The topic is not created here: give it as many partitions as workers you want, or let
the broker create it (``auto.create.topics.enable``). A message must fit the broker's
``message.max.bytes`` (1 MB by default): the publisher splits a batch whose message
would exceed ``max_message_bytes`` (~300 bytes an event: past ~3,000 events).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from dbify.backends.queue.base import Delivery, QueueUnavailable

__all__ = ["KafkaQueue", "bootstrap_servers"]

_PREFIX = "kafka://"


def bootstrap_servers(url: str) -> str:
    """The ``host:port[,host:port]`` list of a ``kafka://`` URL.

    >>> bootstrap_servers("kafka://k1:9092,k2:9092")
    'k1:9092,k2:9092'
    >>> bootstrap_servers("kafka://k1:9092/")
    'k1:9092'
    """
    if not url.startswith(_PREFIX) or not url[len(_PREFIX) :].strip("/"):
        raise ValueError("a Kafka queue URL is kafka://host:port[,host:port]")
    return url[len(_PREFIX) :].strip("/")


class _Hushed(logging.Filter):
    """Lets each of aiokafka's log messages through once per ``seconds``.

    While a broker is down aiokafka logs every failed attempt, at ERROR: ~170 lines a
    second for one producer and one consumer (librdkafka's mock cluster, a 15 s outage:
    2,500 lines). Dbify reports the outage itself, once (the publisher, the worker). A
    message is its template (``record.msg``), so the same failure with other arguments
    is the same message.
    """

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self._seconds = seconds
        self._last: dict[tuple[str, object], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._seconds:
            return False
        if len(self._last) >= 1000:  # templates are few; formatted messages are not
            self._last.clear()
        self._last[key] = now
        return True


_HUSHED = _Hushed()
# A logger's filters see only what is logged to it, not what its children pass up.
for _name in list(logging.root.manager.loggerDict):
    if _name == "aiokafka" or _name.startswith("aiokafka."):
        logging.getLogger(_name).addFilter(_HUSHED)


class _Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drops the unacked bookkeeping of partitions a rebalance takes away."""

    def __init__(self, pending: dict[TopicPartition, dict[int, float | None]]) -> None:
        self._pending = pending

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for partition in revoked:
            self._pending.pop(partition, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class KafkaQueue:
    in_process = False
    # Under both the producer's max_request_size and the broker's message.max.bytes
    # (1 MiB by default), with room for the record batch's own overhead.
    max_message_bytes: int | None = 900_000

    def __init__(
        self,
        url: str,
        *,
        topic: str = "dbify.request-log",
        group: str = "dbify-workers",
        claim_idle_seconds: float = 30.0,
        request_timeout_seconds: float = 10.0,
    ) -> None:
        self._servers = bootstrap_servers(url)
        self._topic = topic
        self._group = group
        self._claim_idle = claim_idle_seconds
        self._timeout_ms = int(request_timeout_seconds * 1000)
        self._key = f"{os.uname().nodename}-{os.getpid()}".encode()
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._probe: AIOKafkaConsumer | None = None
        # Per partition, the offsets consumed and not yet committed, in consumption
        # (= offset) order: when each was consumed (monotonic), None once acked.
        self._pending: dict[TopicPartition, dict[int, float | None]] = {}
        # One client of each kind, even when publisher and worker share this queue.
        self._producer_lock = asyncio.Lock()
        self._consumer_lock = asyncio.Lock()
        self._probe_lock = asyncio.Lock()

    async def _started(self, client: Any) -> Any:
        try:
            await client.start()
        except BaseException as error:  # cancelled too: a half-started client leaks
            await _stop_quietly(client)
            if isinstance(error, (KafkaError, OSError)):
                raise QueueUnavailable(f"kafka: {error}") from error
            raise
        return client

    async def _producer_ready(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                self._producer = await self._started(
                    AIOKafkaProducer(
                        bootstrap_servers=self._servers,
                        acks="all",
                        request_timeout_ms=self._timeout_ms,
                        client_id="dbify-publisher",
                    )
                )
            return self._producer

    async def _partitions(self) -> set[int]:
        """The topic's partitions; asking makes a broker that creates topics on first
        use create it (else a missing topic is an error, after the request timeout)."""
        producer = await self._producer_ready()
        try:
            numbers: set[int] = await producer.partitions_for(self._topic)
        except (KafkaError, OSError) as error:
            raise QueueUnavailable(f"kafka: {error}") from error
        return numbers

    async def _consumer_ready(self) -> AIOKafkaConsumer:
        async with self._consumer_lock:
            if self._consumer is None:
                # The topic first: a consumer subscribed to a topic that does not exist
                # yet would only see it at its next metadata refresh (minutes).
                await self._partitions()
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._servers,
                    group_id=self._group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    request_timeout_ms=self._timeout_ms,
                    client_id="dbify-worker",
                )
                consumer.subscribe([self._topic], listener=_Forget(self._pending))
                self._consumer = await self._started(consumer)
            return self._consumer

    async def publish(self, bodies: Sequence[bytes]) -> None:
        producer = await self._producer_ready()
        try:
            sent = [await producer.send(self._topic, body, key=self._key) for body in bodies]
            await asyncio.gather(*sent)
        except (KafkaError, OSError) as error:
            raise QueueUnavailable(f"kafka: {error}") from error

    async def consume(self, max_count: int, wait_seconds: float) -> list[Delivery]:
        consumer = await self._consumer_ready()
        self._rewind_stale(consumer)
        try:
            found = await consumer.getmany(
                timeout_ms=max(1, int(wait_seconds * 1000)), max_records=max_count
            )
        except (KafkaError, OSError) as error:
            raise QueueUnavailable(f"kafka: {error}") from error
        out: list[Delivery] = []
        now = time.monotonic()
        for partition, records in found.items():
            pending = self._pending.setdefault(partition, {})
            for record in records:
                pending[record.offset] = now
                out.append(Delivery(f"{partition.partition}:{record.offset}", record.value or b""))
        return out

    def _rewind_stale(self, consumer: AIOKafkaConsumer) -> None:
        """Seek back to each partition's first message left unacked too long; it and
        what followed it are fetched again."""
        stale = time.monotonic() - self._claim_idle
        for partition, pending in self._pending.items():
            first = _first_unacked(pending)
            if first is None or first[1] > stale:
                continue
            consumer.seek(partition, first[0])
            for offset in [offset for offset in pending if offset >= first[0]]:
                del pending[offset]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries or self._consumer is None:
            return
        touched: set[TopicPartition] = set()
        for delivery in deliveries:
            number, acked = (int(part) for part in delivery.tag.split(":"))
            partition = TopicPartition(self._topic, number)
            pending = self._pending.get(partition)
            if pending is not None and acked in pending:
                pending[acked] = None
                touched.add(partition)
        commits: dict[TopicPartition, int] = {}
        for partition in touched:
            pending = self._pending[partition]
            for offset in list(pending):
                if pending[offset] is not None:
                    break
                del pending[offset]
                commits[partition] = offset + 1
        if not commits:
            return
        try:
            await self._consumer.commit(commits)
        except (KafkaError, OSError) as error:
            raise QueueUnavailable(f"kafka: {error}") from error

    async def backlog(self) -> int:
        """Messages after each partition's committed offset (the group's lag)."""
        async with self._probe_lock:
            if self._probe is None:
                # Not subscribed: reads offsets without joining the group.
                self._probe = await self._started(
                    AIOKafkaConsumer(
                        bootstrap_servers=self._servers,
                        group_id=self._group,
                        enable_auto_commit=False,
                        request_timeout_ms=self._timeout_ms,
                        client_id="dbify-lag",
                    )
                )
            probe = self._probe
            try:
                # The producer's metadata names the topic's partitions (a consumer's
                # lists only those of its subscription).
                numbers = await self._partitions()
                partitions = [TopicPartition(self._topic, number) for number in numbers]
                if not partitions:
                    return 0
                ends = await probe.end_offsets(partitions)
                starts = await probe.beginning_offsets(partitions)
                lag = 0
                for partition in partitions:
                    committed = await probe.committed(partition)
                    done = starts[partition] if committed is None else committed
                    lag += max(0, ends[partition] - done)
            except (KafkaError, OSError) as error:
                raise QueueUnavailable(f"kafka: {error}") from error
            return lag

    async def close(self) -> None:
        clients = (self._consumer, self._producer, self._probe)
        self._consumer = self._producer = self._probe = None
        self._pending.clear()
        for client in clients:
            if client is not None:
                await _stop_quietly(client)


def _first_unacked(pending: dict[int, float | None]) -> tuple[int, float] | None:
    """(offset, when consumed) of the first message not acked yet, if any."""
    for offset, consumed in pending.items():
        if consumed is not None:
            return offset, consumed
    return None


async def _stop_quietly(client: Any) -> None:
    with contextlib.suppress(KafkaError, OSError):  # broken: nothing left to flush
        await client.stop()
