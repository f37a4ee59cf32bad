"""Nothing lost: a broker outage spools to disk and delivers later; a killed worker's
batch is redelivered and stored once. Real Redis on its own port, real chDB."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from dbify.analytics.event import RequestLog, decode_batch, encode_batch
from dbify.analytics.publisher import RequestLogPublisher
from dbify.analytics.recorder import RequestRecorder
from dbify.analytics.spool import Spool
from dbify.backends.analytics.chdb_store import ChdbStore
from dbify.backends.queue.redis_streams import RedisStreamQueue
from dbify.dataplane.respond import ApiResponse
from dbify.dataplane.timing import RequestTiming
from dbify.workers.request_log import RequestLogWorker

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timing,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]
PORT = 6391
URL = f"redis://127.0.0.1:{PORT}/0"


def _start_redis() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return process


@pytest.fixture
def redis_server() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    holder = {"process": _start_redis()}
    yield holder
    holder["process"].terminate()
    holder["process"].wait()


_PROJECT = SimpleNamespace(id="p1", keys=SimpleNamespace(verify=lambda presented: None))


def _record(recorder: RequestRecorder, count: int) -> None:
    for _ in range(count):
        scope = {"method": "GET", "query_string": b"id=eq.1", "client": ("10.1.2.3", 1)}
        response = ApiResponse(200, b"[]", [(b"content-range", b"0-0/*")])
        recorder.record(
            _PROJECT, time.perf_counter_ns(), 1000, RequestTiming(), scope, {}, "/t", response
        )


async def test_broker_outage_spools_then_delivers_everything(
    redis_server: dict[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    recorder = RequestRecorder(capacity=10_000)
    queue = RedisStreamQueue(URL, stream="lost:test", claim_idle_seconds=0.3)
    publisher = RequestLogPublisher(
        recorder, queue, Spool(tmp_path / "spool", max_bytes=10_000_000), batch_size=100,
        publish_timeout=2,
    )  # fmt: skip
    _record(recorder, 250)
    await publisher.flush(force=True)
    assert publisher.published == 3

    redis_server["process"].terminate()
    redis_server["process"].wait()
    started = time.perf_counter()
    _record(recorder, 1000)  # the request path never waits on the broker
    assert time.perf_counter() - started < 0.5
    await publisher.flush(force=True)
    assert not publisher.queue_up
    assert len(publisher.spool) == 10
    # The Redis stream was in memory only: what it held before the outage is gone with it,
    # which is why production Redis keeps AOF on. Only the spooled events come back here.
    redis_server["process"] = _start_redis()
    _record(recorder, 50)
    await publisher.flush(force=True)
    assert publisher.queue_up
    assert len(publisher.spool) == 0

    consumer = RedisStreamQueue(URL, stream="lost:test")
    ids: set[str] = set()
    for _ in range(20):
        batch = await consumer.consume(100, 0.2)
        for delivery in batch:
            ids.update(event.event_id for event in decode_batch(delivery.body))
        await consumer.ack(batch)
        if not batch:
            break
    assert len(ids) == 1050
    assert publisher.dropped == 0
    assert recorder.dropped == 0
    await queue.close()
    await consumer.close()


def _events(count: int) -> list[RequestLog]:
    now = int(time.time() * 1e6)
    return [
        RequestLog(
            f"ev{i}",
            now + i,
            "p1",
            f"r{i}",
            "GET",
            "/t",
            "t",
            "",
            200,
            "",
            5,
            0,
            1,
            2,
            "",
            "",
            "",
            "",
        )
        for i in range(count)
    ]


async def test_killed_worker_batch_is_redelivered_and_stored_once(
    redis_server: dict[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    events = _events(300)
    producer = RedisStreamQueue(URL, stream="kill:test")
    await producer.publish([encode_batch(events[i : i + 100]) for i in range(0, 300, 100)])
    store = ChdbStore(tmp_path / "chdb")

    # Worker A writes the batch, then dies before acking.
    doomed = RedisStreamQueue(URL, stream="kill:test", consumer="a", claim_idle_seconds=0.3)
    taken = await doomed.consume(10, 1.0)
    assert len(taken) == 3
    await store.insert([e for d in taken for e in decode_batch(d.body)])
    await doomed.close()

    await asyncio.sleep(0.4)
    survivor = RedisStreamQueue(URL, stream="kill:test", consumer="b", claim_idle_seconds=0.3)
    worker = RequestLogWorker(survivor, store, batch_size=10, flush_seconds=0.2)
    assert await worker.run_once() == 300
    assert await worker.run_once() == 0
    assert await store.select("SELECT count() FROM {db}.request_log") == [(600,)]
    assert await store.select("SELECT count() FROM {db}.request_log FINAL") == [(300,)]
    await survivor.close()
    await producer.close()
    await store.close()
