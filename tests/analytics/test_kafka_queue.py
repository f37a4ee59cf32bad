"""Request logs through Kafka: the publisher's batches reach chDB through a worker, a
killed worker's batch is redelivered and stored once, a broker that cannot be reached is
``QueueUnavailable`` (the publisher then spools). The broker: ``fixtures/kafka_broker.py``
(librdkafka's mock cluster unless ``DBIFY_TEST_KAFKA_URL`` names a real one)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from pathlib import Path

import pytest

from dbify.analytics.event import decode_batch, encode_batch
from dbify.analytics.publisher import RequestLogPublisher
from dbify.analytics.recorder import RequestRecorder
from dbify.analytics.spool import Spool
from dbify.backends.analytics.chdb_store import ChdbStore
from dbify.backends.queue.base import QueueUnavailable
from dbify.backends.queue.kafka import KafkaQueue
from dbify.workers.request_log import RequestLogWorker
from tests.analytics.test_nothing_lost import _events, _record
from tests.fixtures.kafka_broker import MockKafka, kafka_url

pytestmark = pytest.mark.anyio


def _queue(topic: str) -> KafkaQueue:
    return KafkaQueue(kafka_url(), topic=topic, group=f"{topic}.workers")


async def _drain(worker: RequestLogWorker, expected: int) -> int:
    """Rounds until ``expected`` events are written (the group forms in ~3 s)."""
    written = 0
    for _ in range(40):
        written += await worker.run_once()
        if written >= expected:
            break
    return written


async def _consume_bodies(queue: KafkaQueue, count: int) -> list[bytes]:
    """Bodies consumed (not acked) until ``count`` arrive or ~10 s pass (the group
    forms in ~3 s)."""
    bodies: list[bytes] = []
    for _ in range(20):
        bodies += [delivery.body for delivery in await queue.consume(10, 0.5)]
        if len(bodies) == count:
            break
    return bodies


async def test_published_requests_reach_the_store_once(tmp_path: Path) -> None:
    topic = f"test.logs-{os.urandom(4).hex()}"
    recorder = RequestRecorder(capacity=10_000)
    publishing = _queue(topic)
    publisher = RequestLogPublisher(
        recorder, publishing, Spool(tmp_path / "spool", max_bytes=1 << 20), batch_size=50
    )
    _record(recorder, 120)
    await publisher.flush(force=True)
    assert (publisher.published, publisher.spooled, len(recorder)) == (3, 0, 0)
    assert await publishing.backlog() == 3

    store = ChdbStore(tmp_path / "chdb")
    consuming = _queue(topic)
    worker = RequestLogWorker(consuming, store, batch_size=10, flush_seconds=0.3)
    assert await _drain(worker, 120) == 120
    assert await store.select("SELECT count() FROM {db}.request_log FINAL") == [(120,)]
    assert await publishing.backlog() == 0
    for queue in (consuming, publishing):
        await queue.close()
    await store.close()


async def test_a_batch_too_large_for_one_message_is_split_to_fit(tmp_path: Path) -> None:
    """10,000 of these events are 1.38 MB of JSON rows, over Kafka's 1 MB a message: the
    publisher spooled the batch and marked the queue down. It now halves the batch until
    each message fits; nothing is spooled, every event arrives."""
    topic = f"test.big-{os.urandom(4).hex()}"
    recorder = RequestRecorder(capacity=20_000)
    publishing = _queue(topic)
    spool = Spool(tmp_path / "spool", max_bytes=1 << 26)
    publisher = RequestLogPublisher(recorder, publishing, spool, batch_size=10_000)
    _record(recorder, 10_000)
    await publisher.flush(force=True)
    assert (publisher.spooled, len(spool), publisher.queue_up) == (0, 0, True)
    assert publisher.published >= 2
    consuming = _queue(topic)
    bodies = await _consume_bodies(consuming, publisher.published)
    assert len(bodies) == publisher.published
    assert max(map(len, bodies)) <= KafkaQueue.max_message_bytes  # type: ignore[operator]
    assert sum(len(decode_batch(body)) for body in bodies) == 10_000
    for queue in (consuming, publishing):
        await queue.close()


async def test_killed_worker_batch_is_redelivered_and_stored_once(tmp_path: Path) -> None:
    topic = f"test.kill-{os.urandom(4).hex()}"
    events = _events(300)
    producer = _queue(topic)
    await producer.publish([encode_batch(events[i : i + 100]) for i in range(0, 300, 100)])
    store = ChdbStore(tmp_path / "chdb")

    # Worker A writes the batch, then goes away before acking: its partition goes to B.
    doomed = _queue(topic)
    taken = await _consume_bodies(doomed, 3)
    assert len(taken) == 3
    await store.insert([event for body in taken for event in decode_batch(body)])
    await doomed.close()

    survivor = _queue(topic)
    worker = RequestLogWorker(survivor, store, batch_size=10, flush_seconds=0.3)
    assert await _drain(worker, 300) == 300
    assert await worker.run_once() == 0
    assert await store.select("SELECT count() FROM {db}.request_log") == [(600,)]
    assert await store.select("SELECT count() FROM {db}.request_log FINAL") == [(300,)]
    assert await producer.backlog() == 0
    for queue in (survivor, producer):
        await queue.close()
    await store.close()


async def test_a_broker_outage_spools_then_delivers_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    broker = MockKafka()  # its own, which this test takes down and up again
    try:
        topic = f"test.outage-{os.urandom(4).hex()}"
        recorder = RequestRecorder(capacity=10_000)
        queue = KafkaQueue(broker.url, topic=topic, request_timeout_seconds=2)
        spool = Spool(tmp_path / "spool", max_bytes=10_000_000)
        publisher = RequestLogPublisher(recorder, queue, spool, batch_size=100, publish_timeout=3)
        _record(recorder, 250)
        await publisher.flush(force=True)
        assert publisher.published == 3

        broker.down()
        started = time.perf_counter()
        _record(recorder, 1000)  # the request path never waits on the broker
        assert time.perf_counter() - started < 0.5
        await publisher.flush(force=True)
        assert not publisher.queue_up
        assert len(spool) == 10

        broker.up()  # same port: the producer reconnects, the next flush replays the spool
        _record(recorder, 50)
        for _ in range(20):
            await publisher.flush(force=True)
            if publisher.queue_up and len(spool) == 0:
                break
            await asyncio.sleep(0.5)
        assert publisher.queue_up
        assert len(spool) == 0

        store = ChdbStore(tmp_path / "chdb")
        consuming = KafkaQueue(broker.url, topic=topic)
        worker = RequestLogWorker(consuming, store, batch_size=50, flush_seconds=0.3)
        # Batches whose publish timed out may still reach Kafka after the outage, beside
        # their spooled copies: count distinct events, not events written.
        stored: list[tuple[int]] = []
        for _ in range(40):
            await worker.run_once()
            stored = await store.select("SELECT count() FROM {db}.request_log FINAL")
            if stored == [(1300,)]:
                break
        assert stored == [(1300,)]
        # aiokafka logs every failed attempt (84 lines here unfiltered); each message once.
        noise = [r for r in caplog.records if r.name.split(".")[0] == "aiokafka"]
        assert 0 < len(noise) < 20, len(noise)
        for closing in (consuming, queue):
            await closing.close()
        await store.close()
    finally:
        broker.stop()


async def test_a_batch_left_unacked_is_fetched_again_after_claim_idle() -> None:
    """A worker whose store write failed does not ack: its consumer, still the
    partition's owner, gets the messages again (Kafka would not: its position moved)."""
    topic = f"test.claim-{os.urandom(4).hex()}"
    queue = KafkaQueue(kafka_url(), topic=topic, group=f"{topic}.w", claim_idle_seconds=0.5)
    await queue.publish([b"a", b"b", b"c"])
    first = await _consume_bodies(queue, 3)
    assert first == [b"a", b"b", b"c"]
    assert await queue.consume(10, 0.2) == []  # not yet: claim_idle has not passed
    await asyncio.sleep(0.5)
    again = await queue.consume(10, 2.0)
    assert [delivery.body for delivery in again] == [b"a", b"b", b"c"]
    await queue.ack(again)
    await asyncio.sleep(0.6)
    assert await queue.consume(10, 0.5) == []  # acked: never again
    assert await queue.backlog() == 0
    await queue.close()


async def test_an_unreachable_broker_is_queue_unavailable_and_the_batch_spooled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    queue = KafkaQueue(f"kafka://127.0.0.1:{port}", request_timeout_seconds=2)
    with pytest.raises(QueueUnavailable, match="kafka"):
        await queue.publish([b"x"])
    recorder = RequestRecorder(capacity=100)
    publisher = RequestLogPublisher(
        recorder, queue, Spool(tmp_path / "spool", max_bytes=1 << 20), batch_size=50
    )
    _record(recorder, 5)
    await publisher.flush(force=True)
    assert (publisher.published, publisher.spooled, publisher.queue_up) == (0, 1, False)
    for _ in range(2):  # the spool's replay probes the broker at every flush
        _record(recorder, 5)
        await publisher.flush(force=True)
    assert (publisher.published, publisher.spooled, publisher.queue_up) == (0, 3, False)
    warnings = [r for r in caplog.records if r.name == "dbify.analytics"]
    assert len(warnings) == 1, warnings  # one per outage, not one per flush
    assert "spooling to disk" in warnings[0].getMessage()
    await queue.close()


def test_a_kafka_url_names_its_brokers() -> None:
    assert KafkaQueue("kafka://a:9092,b:9093")._servers == "a:9092,b:9093"
    for wrong in ("kafka://", "redis://a:6379", "a:9092"):
        with pytest.raises(ValueError, match="kafka://host:port"):
            KafkaQueue(wrong)
