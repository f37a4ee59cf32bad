"""chDB adapter: the ClickHouse engine inside this process, data in one directory.

chDB allows one process to own a data directory, so in multi-process deployments only
the process running the worker opens it (all-in-one ``dbify serve``); others use the
ClickHouse server adapter. A second process opening it (a second ``dbify serve`` on the
same ``DBIFY_DATA_DIR``) got only chDB's "Error initializing EmbeddedServer", so the store
first locks ``<dir>.lock`` and says who holds it (``owner``). Calls run in a thread, one
at a time, so the event loop never blocks on a query.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from chdb import session as chdb_session

from dbify.analytics.event import RequestLog, entries_of, entry_columns, message_values
from dbify.backends.analytics.base import (
    COLUMNS,
    COLUMNS_SQL,
    AnalyticsUnavailable,
    create_table_sql,
    migrate_table_sql,
)
from dbify.backends.analytics.owner import own

__all__ = ["ChdbStore"]

# optimize_on_insert=0: no collapsing of a block's duplicate event ids at insert (~20 % of
# the insert's time); merges and FINAL collapse them, as they do for duplicates across
# blocks, the redelivered batches.
_INTO = f"INSERT INTO dbify.request_log ({', '.join(COLUMNS)}) SETTINGS optimize_on_insert=0"
_INSERT = f"{_INTO} FORMAT"  # followed by the format and the data
# The same insert of a dict of column lists read by chDB's ``Python()`` table function,
# which finds it by the variable name, ``columns``, in the calling frame (``_run``).
_INSERT_COLUMNS = f"{_INTO} SELECT {', '.join(COLUMNS)} FROM Python(columns)"


class ChdbStore:
    def __init__(self, path: Path, *, retention_days: int | None = None) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._owner = own(path)
        try:
            self._session = chdb_session.Session(str(path))  # type: ignore[no-untyped-call]
        except BaseException:
            os.close(self._owner)
            raise
        self._lock = asyncio.Lock()
        self._run("CREATE DATABASE IF NOT EXISTS dbify")
        self._run(create_table_sql("dbify.request_log", retention_days))
        present = self._run(COLUMNS_SQL.format(database="dbify", table="request_log"), "TSV")
        for sql in migrate_table_sql("dbify.request_log", set(present.decode().split())):
            self._run(sql)

    def _run(
        self, sql: str, output: str = "CSV", columns: dict[str, list[Any]] | None = None
    ) -> bytes:
        """``sql``'s result as bytes; ``columns`` is there for a statement's
        ``Python(columns)``, which chDB finds by that name in this frame."""
        try:
            result = self._session.query(sql, output)  # type: ignore[no-untyped-call]
        except Exception as error:  # chDB raises plain RuntimeError for every failure
            raise AnalyticsUnavailable(f"chdb: {error}") from error
        data: bytes = result.bytes() if result is not None else b""
        return data

    async def insert(self, events: Sequence[RequestLog]) -> None:
        if not events:
            return
        lines = b"\n".join(orjson.dumps(event) for event in events)  # no asdict: 25x faster
        async with self._lock:
            await asyncio.to_thread(self._run, f"{_INSERT} JSONEachRow\n{lines.decode()}")

    async def insert_json_batches(self, bodies: Sequence[bytes], *, trusted: bool = False) -> None:
        """One columnar insert of many queue messages (``encode_rows``, ``encode_batch``,
        and, when ``trusted``, entries messages from the in-process queue).

        The remaining fields are derived here (shape, target, row count...), a column at a
        time for entries (``entry_columns``), then ClickHouse reads the column lists
        themselves (``Python()``): half the CPU of serialising them as JSON and parsing
        that (1.0 against 2.2 µs an event, 35,000-event batches), and this process runs
        beside the server on a machine it shares.
        """
        # The cyclic garbage collector off while the batch's tuples and lists are built:
        # they hold no cycles, and the collections their numbers set off, each walking
        # the growing batch, were nearly half of this method's time under load (py-spy).
        collecting = gc.isenabled()
        gc.disable()
        try:
            columns = _columns_of(bodies, trusted)
        finally:
            if collecting:
                gc.enable()
        if columns is None:
            return
        async with self._lock:
            await asyncio.to_thread(
                self._run, _INSERT_COLUMNS, "CSV", dict(zip(COLUMNS, columns, strict=True))
            )

    async def select(self, sql: str) -> list[tuple[Any, ...]]:
        settings = " SETTINGS output_format_json_quote_64bit_integers=0"
        async with self._lock:
            raw = await asyncio.to_thread(self._run, sql.replace("{db}", "dbify") + settings,
                                          "JSONCompact")  # fmt: skip
        if not raw:
            return []
        return [tuple(row) for row in orjson.loads(raw)["data"]]

    async def close(self) -> None:
        async with self._lock:
            self._session.close()  # type: ignore[no-untyped-call]
            if self._owner >= 0:
                os.close(self._owner)  # the lock goes with it
                self._owner = -1


def _columns_of(bodies: Sequence[bytes], trusted: bool) -> list[list[Any]] | None:
    """The column lists of ``bodies``' events (``COLUMNS`` order); None when there are none."""
    entries: list[tuple[Any, ...]] = []
    values: list[list[Any]] = []
    for body in bodies:
        taken = entries_of(body, trusted=trusted)
        if taken is not None:
            entries += taken
        else:
            values += message_values(body)
    if not entries and not values:
        return None
    columns = entry_columns(entries)
    if values:
        for column, more in zip(columns, zip(*values, strict=True), strict=True):
            column.extend(more)
    return columns
