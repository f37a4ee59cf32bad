"""chDB in a child process: the all-in-one store that keeps ClickHouse out of the server.

Loading chDB into a Python process slows that process's own Python code: measured on a
dict-churning loop, +20-30 % once ``chdb`` is imported and +50-60 % with a session open
(its allocator and threads share the process). ``dbify serve`` therefore never imports
it: this store spawns one child process that owns the data directory (chDB's one-process
rule holds: only the child opens it) and forwards ``insert``, ``insert_json_batches`` and
``select`` over a pipe, one call at a time. The child ignores SIGINT/SIGTERM so a graceful
shutdown can still flush through it, and exits when told to close or when the pipe closes
(the server died).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from dbify.analytics.event import RequestLog
from dbify.backends.analytics.base import AnalyticsUnavailable

__all__ = ["ChdbProcessStore"]

_START_TIMEOUT = 60.0
# The child's CPU priority (19: the lowest). On a busy machine its inserts take the CPU
# the server and PostgreSQL leave; meanwhile batches wait in the bounded queue and spool.
_NICENESS = 19


class ChdbProcessStore:
    def __init__(self, path: Path, *, retention_days: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")  # no fork: the server's state stays
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, str(path), retention_days), name="dbify-chdb", daemon=True
        )
        self._process.start()
        child.close()
        self._lock = asyncio.Lock()
        if not self._conn.poll(_START_TIMEOUT):
            self._process.kill()
            raise AnalyticsUnavailable("chdb process did not start")
        status, detail = self._conn.recv()
        if status != "ok":
            raise AnalyticsUnavailable(str(detail))

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _roundtrip(self, op: str, argument: object) -> tuple[str, Any]:
        try:
            self._conn.send((op, argument))
            reply: tuple[str, Any] = self._conn.recv()
        except (EOFError, OSError) as error:
            return "error", f"chdb process gone: {error!r}"
        return reply

    async def _call(self, op: str, argument: object) -> Any:
        async with self._lock:
            status, value = await asyncio.to_thread(self._roundtrip, op, argument)
        if status != "ok":
            raise AnalyticsUnavailable(str(value))
        return value

    async def insert(self, events: Sequence[RequestLog]) -> None:
        if events:
            await self._call("insert", list(events))

    async def insert_json_batches(self, bodies: Sequence[bytes], *, trusted: bool = False) -> None:
        if bodies:
            await self._call("insert_json_batches", (list(bodies), trusted))

    async def select(self, sql: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = await self._call("select", sql)
        return rows

    async def close(self) -> None:
        if self._process.is_alive():
            await self._call("close", None)
        await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()


def _serve(conn: Connection, path: str, retention_days: int | None) -> None:
    """The child: open the store, then answer calls until ``close`` or a closed pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Before chDB starts its threads, which inherit it: ingestion yields to serving.
    os.nice(_NICENESS)
    asyncio.run(_answer(conn, Path(path), retention_days))


async def _answer(conn: Connection, path: Path, retention_days: int | None) -> None:
    from dbify.backends.analytics.chdb_store import ChdbStore

    try:
        store = ChdbStore(path, retention_days=retention_days)
    except Exception as error:  # reported to the parent, which raises it
        conn.send(("error", str(error) or repr(error)))
        return
    conn.send(("ok", None))
    op = ""
    while True:
        try:
            op, argument = conn.recv()  # blocking is fine: this loop serves nothing else
        except (EOFError, OSError):
            break
        try:
            if op == "close":
                break
            result: Any = None
            if op == "insert":
                await store.insert(argument)
            elif op == "insert_json_batches":
                bodies, trusted = argument
                await store.insert_json_batches(bodies, trusted=trusted)
            else:
                result = await store.select(argument)
        except Exception as error:
            conn.send(("error", str(error)))
        else:
            conn.send(("ok", result))
    await store.close()
    if op == "close":
        conn.send(("ok", None))
