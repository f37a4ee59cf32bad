"""Nothing lost with RabbitMQ: a dedicated broker node on its own port (temporary base
directory) is stopped and restarted inside the test; a worker that dies before acking
has its batch redelivered. Events are counted in and out, and stored once in chDB."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbify.analytics.event import decode_batch, encode_batch
from dbify.analytics.publisher import RequestLogPublisher
from dbify.analytics.recorder import RequestRecorder
from dbify.analytics.spool import Spool
from dbify.backends.analytics.chdb_store import ChdbStore
from dbify.backends.queue.rabbitmq import RabbitQueue
from dbify.workers.request_log import RequestLogWorker
from tests.analytics.test_nothing_lost import _events, _record

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timing,
    pytest.mark.skipif(shutil.which("rabbitmq-server") is None, reason="needs rabbitmq-server"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Ports and node name of this run only: a fixed port let a concurrent run's node take
# the port while this one was stopped, and its publisher reconnected to that node.
PORT, DIST_PORT = _free_port(), _free_port()
NODE = f"dbifytest{PORT}@localhost"
URL = f"amqp://guest:guest@127.0.0.1:{PORT}/"


def _port_open() -> bool:
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=0.3).close()
    except OSError:
        return False
    return True


class Broker:
    """One RabbitMQ node (``NODE``) whose data survives a restart."""

    def __init__(self, base: Path) -> None:
        self.base = base
        for name in ("mnesia", "log"):
            (base / name).mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        os.chmod(base, 0o777)
        for path in base.rglob("*"):
            os.chmod(path, 0o777)
        self.env = {
            **os.environ,
            "RABBITMQ_NODE_PORT": str(PORT),
            "RABBITMQ_DIST_PORT": str(DIST_PORT),
            "RABBITMQ_NODENAME": NODE,
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "none"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["rabbitmq-server"], env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not _port_open():
            assert time.monotonic() < deadline, "the test RabbitMQ node did not start"
            time.sleep(0.3)

    def stop(self) -> None:
        pid_file = self.base / "pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        if self.process is not None:
            self.process.wait(30)
            self.process = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def broker() -> Iterator[Broker]:
    if _port_open():
        pytest.skip(f"port {PORT} is taken")
    node = Broker(Path(tempfile.mkdtemp(prefix="dbify-rabbit-")))
    node.start()
    yield node
    node.stop()
    shutil.rmtree(node.base, ignore_errors=True)


async def _drain_into(store: ChdbStore, worker: RequestLogWorker) -> int:
    total = 0
    while written := await worker.run_once():
        total += written
    return total


async def test_broker_restart_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    recorder = RequestRecorder(capacity=10_000)
    queue = RabbitQueue(URL, queue="lost.test")
    publisher = RequestLogPublisher(
        recorder, queue, Spool(tmp_path / "spool", max_bytes=10_000_000), batch_size=100,
        publish_timeout=2,
    )  # fmt: skip
    _record(recorder, 250)
    await publisher.flush(force=True)
    assert publisher.published == 3  # confirmed: durable queue, persistent messages

    broker.stop()
    started = time.perf_counter()
    _record(recorder, 1000)  # the request path never waits on the broker
    assert time.perf_counter() - started < 0.5
    await publisher.flush(force=True)
    assert not publisher.queue_up
    assert len(publisher.spool) == 10

    broker.start()  # same node, same data directory: the 3 confirmed messages are back
    _record(recorder, 50)
    await publisher.flush(force=True)
    assert publisher.queue_up
    assert len(publisher.spool) == 0

    store = ChdbStore(tmp_path / "chdb")
    consumer = RabbitQueue(URL, queue="lost.test")
    worker = RequestLogWorker(consumer, store, batch_size=10, flush_seconds=0.3)
    assert await _drain_into(store, worker) == 1300
    assert await store.select("SELECT count(), uniqExact(event_id) FROM {db}.request_log") == [
        (1300, 1300)
    ]
    assert publisher.dropped == 0
    assert recorder.dropped == 0
    await queue.close()
    await consumer.close()
    await store.close()


async def test_killed_worker_batch_is_redelivered_and_stored_once(
    broker: Broker, tmp_path: Path
) -> None:
    events = _events(300)
    producer = RabbitQueue(URL, queue="kill.test")
    await producer.publish([encode_batch(events[i : i + 100]) for i in range(0, 300, 100)])
    store = ChdbStore(tmp_path / "chdb")

    # Worker A writes the batch, then dies before acking (its connection goes away).
    doomed = RabbitQueue(URL, queue="kill.test")
    taken = await doomed.consume(10, 1.0)
    assert len(taken) == 3
    await store.insert([e for d in taken for e in decode_batch(d.body)])
    await doomed.close()

    survivor = RabbitQueue(URL, queue="kill.test")
    worker = RequestLogWorker(survivor, store, batch_size=10, flush_seconds=0.5)
    assert await _drain_into(store, worker) == 300
    assert await store.select("SELECT count() FROM {db}.request_log") == [(600,)]
    assert await store.select("SELECT count() FROM {db}.request_log FINAL") == [(300,)]
    await survivor.close()
    await producer.close()
    await store.close()
