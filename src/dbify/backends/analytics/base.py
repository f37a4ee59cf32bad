"""The analytics store interface, and the one table both ClickHouse flavours share.

The store keeps ``RequestLog`` events in ``request_log``: partitioned by day, ordered by
(project, time, event id) so per-project time ranges read few granules, and a
ReplacingMergeTree keyed on that order so a redelivered batch collapses to one row per
event id; readers that must not double-count select with ``FINAL``. The SQL is the
subset Debian's ClickHouse 18.16 and current servers/chDB both understand (no
DateTime64, TTL only where the server has it). Time columns are pinned to UTC so day
partitions and minute/hour/day buckets never depend on the host's time zone (chDB uses
the process's ``TZ``; a server uses its own configuration).

    AnalyticsStore (Protocol)
    ├── ChdbStore          chDB, the ClickHouse engine in-process (default)
    └── ClickHouseStore    a ClickHouse server over the native protocol
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from dbify.analytics.event import RequestLog

__all__ = [
    "COLUMNS",
    "COLUMNS_SQL",
    "MIGRATIONS",
    "AnalyticsStore",
    "AnalyticsUnavailable",
    "JsonBatchInsert",
    "create_table_sql",
    "literal",
    "migrate_table_sql",
    "supports_ttl",
]

COLUMNS: tuple[str, ...] = tuple(RequestLog.__dataclass_fields__)

_TYPES = {
    "timestamp_us": "UInt64",
    "status": "UInt16",
    "duration_us": "UInt64",
    "db_us": "UInt64",
    "queue_us": "UInt64",
    "rows": "UInt64",
    "response_bytes": "UInt64",
}


class AnalyticsUnavailable(Exception):
    """The analytics store could not run a statement."""


class AnalyticsStore(Protocol):
    async def insert(self, events: Sequence[RequestLog]) -> None:
        """Write events; writing an event id again must not count it twice on read."""

    async def select(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query whose values are already rendered with ``literal``.

        ``{db}`` in the text names the store's database. A statement without rows
        (``ALTER TABLE … DELETE``, ``DROP PARTITION``: retention) returns ``[]``.
        """

    async def close(self) -> None: ...


@runtime_checkable
class JsonBatchInsert(Protocol):
    """A store that takes queue messages (``encode_batch`` output) as they are.

    The worker hands such a store the message bodies untouched: decoding them into
    ``RequestLog`` objects only to encode them again as JSON for chDB cost ~8 µs an event,
    on the serving process's CPUs in all-in-one mode.
    """

    async def insert_json_batches(self, bodies: Sequence[bytes], *, trusted: bool = False) -> None:
        """Write the events of ``bodies``, queue messages as ``event.count_events`` knows
        them; entries messages only when ``trusted`` (from this process tree)."""


# Table TTL arrived in ClickHouse 19.6; Debian's 18.16 rejects the clause.
_TTL_SINCE = (19, 6)


def supports_ttl(version: str) -> bool:
    """Whether a server of ``version`` (``SELECT version()``) accepts table TTL.

    >>> supports_ttl("18.16.1"), supports_ttl("19.6.2.11"), supports_ttl("26.9.2.1")
    (False, True, True)
    """
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= _TTL_SINCE


def create_table_sql(table: str, retention_days: int | None) -> str:
    columns = ",\n  ".join(f"{name} {_TYPES.get(name, 'String')}" for name in COLUMNS)
    ttl = f"\nTTL day + INTERVAL {int(retention_days)} DAY" if retention_days else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns},\n"
        "  time DateTime('UTC') MATERIALIZED toDateTime(intDiv(timestamp_us, 1000000), 'UTC'),\n"
        "  day Date MATERIALIZED toDate(toDateTime(intDiv(timestamp_us, 1000000), 'UTC'))\n"
        ") ENGINE = ReplacingMergeTree()\n"
        "PARTITION BY day\n"
        "ORDER BY (project_id, time, event_id)"
        f"{ttl}"
    )


# Columns added after the table's first release, in order: a store reads the table's
# columns from ``system.columns`` after creating it and adds what ``migrate_table_sql``
# says is missing (ClickHouse 18.16 has no ``ADD COLUMN IF NOT EXISTS``); old rows read
# the type's default.
MIGRATIONS: tuple[str, ...] = ("queue_us",)
COLUMNS_SQL = "SELECT name FROM system.columns WHERE database = '{database}' AND table = '{table}'"


def migrate_table_sql(table: str, existing: set[str]) -> list[str]:
    """``ALTER`` statements adding the ``MIGRATIONS`` columns ``table`` lacks.

    >>> migrate_table_sql("dbify.request_log", {"event_id"})
    ['ALTER TABLE dbify.request_log ADD COLUMN queue_us UInt64']
    >>> migrate_table_sql("dbify.request_log", {"event_id", "queue_us"})
    []
    """
    return [
        f"ALTER TABLE {table} ADD COLUMN {name} {_TYPES.get(name, 'String')}"
        for name in MIGRATIONS
        if name not in existing
    ]


def literal(value: object) -> str:
    """A value as a ClickHouse SQL literal.

    >>> literal("it's"), literal(3), literal(None), literal(["a", 1])
    ("'it\\\\'s'", '3', 'NULL', "['a', 1]")
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"
