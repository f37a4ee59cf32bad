"""The analytics store contract: chDB and the ClickHouse server answer the same SQL alike."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import anyio
import orjson
import pytest

from dbify.analytics.event import (
    RequestLog,
    count_events,
    decode_batch,
    encode_batch,
    encode_entries,
    encode_rows,
    entry_rows,
)
from dbify.backends.analytics import AnalyticsStore, literal
from dbify.backends.analytics.base import (
    COLUMNS,
    JsonBatchInsert,
    create_table_sql,
    supports_ttl,
)
from dbify.workers.request_log_retention import RequestLogRetention
from tests.fixtures.services import clickhouse_up

pytestmark = pytest.mark.anyio
# Recent events: older ones would be removed by the 30-day TTL on the first merge.
BASE_US = (int(time.time()) // 86_400 - 1) * 86_400 * 1_000_000
CLICKHOUSE_URL = os.environ.get("DBIFY_TEST_CLICKHOUSE_URL", "clickhouse://127.0.0.1:9000/default")


def event(i: int, project: str = "p1", status: int = 200) -> RequestLog:
    return RequestLog(
        event_id=f"e{i}", timestamp_us=BASE_US + i * 1_000_000, project_id=project,
        request_id=f"r{i}", method="GET", path="/orders", target="orders",
        query_shape="status=eq.?", status=status, error_code="", duration_us=100 * (i + 1),
        db_us=0, rows=1, response_bytes=10, key_id="k1", role="anon", client_ip="10.0.0.0",
        user_agent="it's a test",
    )  # fmt: skip


@pytest.fixture(
    params=[
        "chdb",
        "chdb-process",
        pytest.param("clickhouse", marks=pytest.mark.needs_server("clickhouse")),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnalyticsStore]:
    opened: AnalyticsStore
    if request.param == "chdb":
        from dbify.backends.analytics.chdb_store import ChdbStore

        opened = ChdbStore(tmp_path / "chdb", retention_days=30)
    elif request.param == "chdb-process":
        from dbify.backends.analytics.chdb_process import ChdbProcessStore

        opened = ChdbProcessStore(tmp_path / "chdb", retention_days=30)
    else:
        if not clickhouse_up():
            pytest.skip("needs a ClickHouse server on 127.0.0.1:9000")
        from dbify.backends.analytics.clickhouse import ClickHouseStore

        database = f"dbify_test_{os.urandom(3).hex()}"
        opened = ClickHouseStore(CLICKHOUSE_URL, database=database, retention_days=30)
    yield opened
    if request.param == "clickhouse":
        await opened.select("DROP DATABASE IF EXISTS {db}")
    await opened.close()


async def test_insert_then_select_round_trips_every_column(store: AnalyticsStore) -> None:
    await store.insert([event(1)])
    rows = await store.select(
        "SELECT event_id, timestamp_us, status, user_agent, toString(day) FROM {db}.request_log"
    )
    assert rows == [
        (
            "e1",
            BASE_US + 1_000_000,
            200,
            "it's a test",
            time.strftime("%Y-%m-%d", time.gmtime(BASE_US // 1_000_000)),
        )
    ]


async def test_redelivered_events_count_once(store: AnalyticsStore) -> None:
    batch = [event(i) for i in range(10)]
    await store.insert(batch)
    await store.insert(batch[:5])
    rows = await store.select("SELECT count(), sum(duration_us) FROM {db}.request_log FINAL")
    assert rows == [(10, sum(e.duration_us for e in batch))]


async def test_json_batches_insert_like_events(store: AnalyticsStore) -> None:
    """Stores that take queue messages as they are write the same rows as ``insert``."""
    if not isinstance(store, JsonBatchInsert):
        pytest.skip("this store decodes messages first")
    batch = [event(i) for i in range(6)]
    await store.insert_json_batches([encode_batch(batch[:4]), b"[]", encode_batch(batch[3:])])
    rows = await store.select("SELECT count(), sum(duration_us) FROM {db}.request_log FINAL")
    assert rows == [(6, sum(e.duration_us for e in batch))]


async def test_row_batches_derive_event_fields(store: AnalyticsStore) -> None:
    """Version-3 messages (``encode_rows``, what the publisher sends) store complete events,
    and version-2 ones (raw Server-Timing, no queue time: a spool may hold them across an
    upgrade) still do."""
    rows = [
        [f"r{i}", BASE_US + i, "p1", f"r{i}", "GET", "/orders", "id=eq.?", 200, "", 100,
         1500, 40, "0-9/*", 12, "k1", "anon", "10.0.0.0", "ua"]
        for i in range(3)
    ]  # fmt: skip
    body = encode_rows(rows)
    assert count_events(body) == 3
    events = decode_batch(body)
    assert (events[0].target, events[0].rows, events[0].db_us) == ("orders", 10, 1500)
    assert events[0].queue_us == 40
    old = orjson.dumps({"v": 2, "n": 1, "rows": [
        ["v2", BASE_US, "p1", "v2", "GET", "/orders", "", 200, "", 100, "db;dur=2.5", "0-0/*",
         12, "k1", "anon", "10.0.0.0", "ua"]]})  # fmt: skip
    assert count_events(old) == 1
    assert (decode_batch(old)[0].db_us, decode_batch(old)[0].queue_us) == (2500, 0)
    if isinstance(store, JsonBatchInsert):
        await store.insert_json_batches([body, encode_batch([event(7)]), old])
        expected = [(5, 31 + event(7).rows, 7000 + event(7).db_us, 120)]
    else:
        await store.insert(events + decode_batch(old))
        expected = [(4, 31, 7000, 120)]
    sql = "SELECT count(), sum(rows), sum(db_us), sum(queue_us) FROM {db}.request_log FINAL"
    assert await store.select(sql) == expected
    targets = "SELECT DISTINCT target FROM {db}.request_log FINAL WHERE event_id LIKE 'r%'"
    assert await store.select(targets) == [("orders",)]


async def test_entries_messages_store_what_row_messages_store(store: AnalyticsStore) -> None:
    """The in-process queue's entries messages (recorder tuples, columns derived by the
    store) and the brokers' row messages of the same requests give equal rows, every
    column, non-ASCII text and the largest values included."""
    if not isinstance(store, JsonBatchInsert):
        pytest.skip("this store decodes messages first")

    def entry(i: int, prefix: str) -> tuple[object, ...]:
        return (
            f"{prefix}{i}", BASE_US + i, "p1", f"req-{i}", "PATCH", "/straße/日本" if i else "",
            b"id=eq.5&name=like.*x*" if i % 2 else "id=eq.&select=id", 200 + i, "PGRST116" * i,
            1_234_567 * i, 2**62 + i, 999 * i, b"0-9/42" if i else b"", 2**40 + i, f"k{i}",
            "anon", "10.0.0.0", "agent ü " * 100,
        )  # fmt: skip

    entries = [entry(i, "a") for i in range(3)]
    as_rows = [entry(i, "b") for i in range(3)]
    await store.insert_json_batches(
        [encode_entries(entries), encode_rows(entry_rows(as_rows))], trusted=True
    )
    columns = ", ".join(name for name in COLUMNS if name != "event_id")
    stored = await store.select(
        f"SELECT substring(event_id, 1, 1), {columns} FROM {{db}}.request_log FINAL "
        "ORDER BY event_id"
    )
    assert len(stored) == 6
    assert [row[1:] for row in stored[:3]] == [row[1:] for row in stored[3:]]
    first = dict(zip(["kind", *columns.split(", ")], stored[1], strict=True))
    assert (first["path"], first["target"]) == ("/straße/日本", "straße")
    assert (first["db_us"], first["rows"]) == ((2**62 + 1) // 1000, 10)
    assert first["user_agent"] == ("agent ü " * 100)[:512]


@pytest.mark.parametrize("collecting", [True, False])
async def test_chdb_builds_a_batch_without_garbage_collections(
    tmp_path: Path, collecting: bool
) -> None:
    """The chDB store turns a large batch of entries messages into columns with the
    cyclic garbage collector off (the batch's tuples hold no cycles, and walking them
    cost the chDB child much of its CPU), then leaves the collector as it found it."""
    from dbify.backends.analytics.chdb_store import ChdbStore

    def entry(i: int) -> tuple[object, ...]:
        return (f"g{i}", BASE_US + i, "p1", f"g{i}", "GET", "/orders", b"id=eq.%d" % i, 200,
                "", 1000 + i, 500, 20, b"", 120, "k1", "anon", "10.0.0.0", "agent")  # fmt: skip

    store = ChdbStore(tmp_path / "chdb", retention_days=30)
    messages = [encode_entries([entry(m * 500 + i) for i in range(500)]) for m in range(40)]
    started: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    try:
        # The first insert imports what chDB's Python() reads with, and imports collect.
        await store.insert_json_batches(messages[:1], trusted=True)
        if not collecting:
            gc.disable()
        gc.callbacks.append(note)
        try:
            await store.insert_json_batches(messages, trusted=True)
        finally:
            gc.callbacks.remove(note)
            enabled = gc.isenabled()
            gc.enable()
        assert enabled is collecting
        # 20,000 entries set off ~56 collections when the collector stayed on.
        assert len(started) <= 2
        count = await store.select("SELECT count() FROM {db}.request_log FINAL")
        assert count == [(20_000,)]
    finally:
        await store.close()


@pytest.mark.parametrize(
    "kind", ["chdb", pytest.param("clickhouse", marks=pytest.mark.needs_server("clickhouse"))]
)
async def test_tables_of_an_earlier_release_gain_new_columns(tmp_path: Path, kind: str) -> None:
    """A table created before ``queue_us`` existed gets it when a store opens it; its old
    rows read 0 and new events keep their value."""
    old_ddl = create_table_sql("{table}", None).replace(",\n  queue_us UInt64", "")
    assert "queue_us" not in old_ddl
    old_row = ("o1", BASE_US, "p1", "o1", "GET", "/orders", "orders", "", 200, "", 5, 1, 1, 2,
               "k1", "anon", "", "ua")  # fmt: skip
    columns = ", ".join(name for name in COLUMNS if name != "queue_us")
    opened: AnalyticsStore
    if kind == "chdb":
        from chdb import session as chdb_session

        from dbify.backends.analytics.chdb_store import ChdbStore

        earlier = chdb_session.Session(str(tmp_path / "chdb"))  # type: ignore[no-untyped-call]
        earlier.query("CREATE DATABASE IF NOT EXISTS dbify")  # type: ignore[no-untyped-call]
        earlier.query(old_ddl.format(table="dbify.request_log"))  # type: ignore[no-untyped-call]
        values = ", ".join(literal(value) for value in old_row)
        earlier.query(f"INSERT INTO dbify.request_log ({columns}) VALUES ({values})")  # type: ignore[no-untyped-call]
        earlier.close()  # type: ignore[no-untyped-call]
        opened = ChdbStore(tmp_path / "chdb", retention_days=30)
        drop = None
    else:
        if not clickhouse_up():
            pytest.skip("needs a ClickHouse server on 127.0.0.1:9000")
        from clickhouse_driver import Client

        from dbify.backends.analytics.clickhouse import ClickHouseStore

        database = f"dbify_test_{os.urandom(3).hex()}"
        client = Client.from_url(CLICKHOUSE_URL.rsplit("/", 1)[0])
        client.execute(f"CREATE DATABASE {database}")
        client.execute(old_ddl.format(table=f"{database}.request_log"))
        client.execute(f"INSERT INTO {database}.request_log ({columns}) VALUES", [old_row])
        client.disconnect()
        opened = ClickHouseStore(CLICKHOUSE_URL, database=database, retention_days=30)
        drop = "DROP DATABASE IF EXISTS {db}"
    try:
        fresh = RequestLog(**{**event(1).to_dict(), "queue_us": 77})
        await opened.insert([fresh])
        rows = await opened.select(
            "SELECT event_id, queue_us FROM {db}.request_log FINAL ORDER BY event_id"
        )
        assert rows == [("e1", 77), ("o1", 0)]
    finally:
        if drop is not None:
            await opened.select(drop)
        await opened.close()


async def test_queries_filter_by_project_and_time(store: AnalyticsStore) -> None:
    await store.insert(
        [event(i) for i in range(5)] + [event(i + 100, project="p2") for i in range(3)]
    )
    sql = (
        "SELECT count(), quantileExact(0.5)(duration_us) FROM {db}.request_log FINAL "
        f"WHERE project_id = {literal('p1')} AND timestamp_us >= {literal(BASE_US + 2_000_000)}"
    )
    assert await store.select(sql) == [(3, 400)]


_ZONE_PROBE = """
import asyncio, json, sys
from pathlib import Path
from dbify.analytics.event import RequestLog, encode_batch
from dbify.backends.analytics.chdb_store import ChdbStore

async def main():
    store = ChdbStore(Path(sys.argv[1]))
    fields = dict.fromkeys(RequestLog.__dataclass_fields__, "")
    numbers = ("status", "duration_us", "db_us", "rows", "response_bytes", "queue_us")
    fields.update(dict.fromkeys(numbers, 0), event_id="e", timestamp_us=int(sys.argv[2]))
    await store.insert([RequestLog(**fields)])
    rows = await store.select(
        "SELECT toString(day), toUnixTimestamp(toStartOfDay(time)), "
        "toUnixTimestamp(toStartOfHour(time)) FROM {db}.request_log"
    )
    print(json.dumps(list(rows[0])))
    await store.close()

asyncio.run(main())
"""


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Adak"])
def test_days_and_buckets_are_utc_whatever_the_host_zone(tmp_path: Path, zone: str) -> None:
    """chDB takes the process's TZ; the table pins UTC so days and buckets do not move."""
    import json
    import subprocess
    import sys

    midnight = BASE_US // 1_000_000
    stamp = (midnight + 60) * 1_000_000  # 00:01 UTC: another calendar day at ±10 h
    done = subprocess.run(
        [sys.executable, "-c", _ZONE_PROBE, str(tmp_path / "chdb"), str(stamp)],
        env={**os.environ, "TZ": zone}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    day = time.strftime("%Y-%m-%d", time.gmtime(midnight))
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [day, midnight, midnight]


# Retention (issue 6): a project's rows past its log_retention_days go, nobody else's.
TODAY = datetime.now(UTC).date()


def aged(i: int, days_ago: int, project: str) -> RequestLog:
    """An event from 01:00 UTC ``days_ago`` days before today."""
    midnight = int(datetime.combine(TODAY, dt_time(), UTC).timestamp()) - days_ago * 86_400
    stamp = (midnight + 3_600 + i) * 1_000_000
    return RequestLog(**{**event(i, project).to_dict(), "timestamp_us": stamp})


async def _days_by_project(store: AnalyticsStore, expect: dict[str, list[int]]) -> object:
    """{project: days ago, newest first}, once it equals ``expect`` or after 20 s (mutations
    are applied in the background, by both engines)."""
    found: dict[str, list[int]] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = await store.select(
            "SELECT project_id, toString(day) FROM {db}.request_log FINAL "
            "ORDER BY project_id, day DESC"
        )
        found = {}
        for project, day in rows:
            found.setdefault(project, []).append((TODAY - date.fromisoformat(day)).days)
        if found == expect:
            break
        await anyio.sleep(0.2)
    return found


async def test_retention_removes_only_a_projects_expired_rows(store: AnalyticsStore) -> None:
    await store.insert(
        [aged(d, d, "short") for d in range(6)]
        + [aged(10 + d, d, "long") for d in range(6)]
        + [aged(20 + d, d, "default") for d in range(6)]
    )
    policies = {"short": 2, "long": 4}

    async def read_policies() -> dict[str, int]:
        return policies

    job = RequestLogRetention(store, read_policies, instance_days=30)
    done = await job.run_once(TODAY)
    assert done.expired_rows == {"long": 1, "short": 3}
    assert done.delete_issued
    assert done.partitions_dropped == []
    expect = {"default": [0, 1, 2, 3, 4, 5], "long": [0, 1, 2, 3, 4], "short": [0, 1, 2]}
    assert await _days_by_project(store, expect) == expect
    again = await job.run_once(TODAY)  # nothing left to remove: no new mutation
    assert (again.expired_rows, again.delete_issued) == ({}, False)


async def test_retention_drops_days_past_the_instance_limit_without_ttl(
    store: AnalyticsStore,
) -> None:
    """ClickHouse < 19.6 has no TTL: the job drops the day partitions past the instance's
    limit. Engines with TTL are left to it (dropping would be the same, only sooner)."""
    await store.insert([aged(d, d, p) for d in range(6) for p in ("a", "b")])

    async def no_policies() -> dict[str, int]:
        return {}

    done = await RequestLogRetention(store, no_policies, instance_days=3).run_once(TODAY)
    version = str((await store.select("SELECT version()"))[0][0])
    if supports_ttl(version):
        assert done.partitions_dropped == []
        return
    dropped = [(TODAY - timedelta(days=d)).strftime("%Y%m%d") for d in (5, 4)]
    assert done.partitions_dropped == dropped
    expect = {"a": [0, 1, 2, 3], "b": [0, 1, 2, 3]}
    assert await _days_by_project(store, expect) == expect


async def test_an_unreachable_clickhouse_logs_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    from dbify.backends.analytics import AnalyticsUnavailable
    from dbify.backends.analytics.clickhouse import ClickHouseStore

    with socket.socket() as probe:  # bound, never listening: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        store = ClickHouseStore(f"clickhouse://127.0.0.1:{port}/default")
        with caplog.at_level("DEBUG"), pytest.raises(AnalyticsUnavailable, match="refused"):
            await store.select("SELECT 1")
    assert not [record for record in caplog.records if record.exc_info]
    await store.close()
