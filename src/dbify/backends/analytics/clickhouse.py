"""ClickHouse server adapter over the native protocol (clickhouse-driver).

Works with Debian's ClickHouse 18.16 (the only server installable here) and current
servers: the table DDL adds TTL retention only when the server supports it (19.6+);
on older servers the retention job (``workers/request_log_retention.py``) drops the
day partitions past the limit instead.
The driver is synchronous, so calls run in a thread, one at a time per adapter. The
tables live in the URL's database (``clickhouse://host:9000/analytics``), ``dbify`` when
the URL names none; it is created if missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from dbify.analytics.event import RequestLog
from dbify.backends.analytics.base import (
    COLUMNS,
    COLUMNS_SQL,
    AnalyticsUnavailable,
    create_table_sql,
    migrate_table_sql,
    supports_ttl,
)

__all__ = ["ClickHouseStore"]

# The driver logs every failed connection attempt as a warning with its traceback; the
# failure reaches our callers as ``AnalyticsUnavailable`` (the worker and the retention
# job log it in one line), and a log never carries a stack trace.
logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)


class ClickHouseStore:
    def __init__(
        self, url: str, *, database: str | None = None, retention_days: int | None = None
    ) -> None:
        parts = urlsplit(url)
        named = parts.path.strip("/")
        # Connect without a default database: it may not exist until _prepare creates it.
        self._client = Client.from_url(parts._replace(path="").geturl())
        self._database = database or named or "dbify"
        if not self._database.replace("_", "").isalnum():
            raise ValueError(f"invalid ClickHouse database name {self._database!r}")
        self._retention_days = retention_days
        self._lock = asyncio.Lock()
        self._ready = False

    def _prepare(self) -> None:
        if self._ready:
            return
        version = self._client.execute("SELECT version()")[0][0]
        retention = self._retention_days if supports_ttl(str(version)) else None
        self._client.execute(f"CREATE DATABASE IF NOT EXISTS {self._database}")
        self._client.execute(create_table_sql(f"{self._database}.request_log", retention))
        present = self._client.execute(
            COLUMNS_SQL.format(database=self._database, table="request_log")
        )
        existing = {name for (name,) in present}
        for sql in migrate_table_sql(f"{self._database}.request_log", existing):
            self._client.execute(sql)
        self._ready = True

    def _call(self, sql: str, rows: list[tuple[Any, ...]] | None = None) -> list[tuple[Any, ...]]:
        try:
            self._prepare()
            if rows is not None:
                self._client.execute(sql, rows)
                return []
            result: list[tuple[Any, ...]] = self._client.execute(sql)
            return result
        except (ClickHouseError, OSError, EOFError) as error:
            self._client.disconnect()
            raise AnalyticsUnavailable(f"clickhouse: {error}") from error

    async def insert(self, events: Sequence[RequestLog]) -> None:
        if not events:
            return
        rows = [tuple(getattr(event, name) for name in COLUMNS) for event in events]
        sql = f"INSERT INTO {self._database}.request_log ({', '.join(COLUMNS)}) VALUES"
        async with self._lock:
            await asyncio.to_thread(self._call, sql, rows)

    async def select(self, sql: str) -> list[tuple[Any, ...]]:
        async with self._lock:
            return await asyncio.to_thread(self._call, sql.replace("{db}", self._database))

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._client.disconnect)
