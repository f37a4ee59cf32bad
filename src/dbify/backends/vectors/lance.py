"""The embedded vector store: one LanceDB table per search index under ``root``.

Searches are exact (brute force, cosine): fine for the tens of thousands of rows a
table typically has; an ANN index can be added to the table later without changing
the interface. ``rebuild`` writes a new table ``<name>__v<ns>`` and then points
``<root>/<name>.current`` at it with an atomic rename (LanceDB OSS cannot rename
tables), dropping the old one; LanceDB
calls block, so they run in a worker thread, serialised per collection.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa

from dbify.backends.vectors.base import VectorHit, VectorStoreError

__all__ = ["LanceVectorStore"]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _table(items: Sequence[tuple[str, list[float]]]) -> pa.Table:
    dimensions = len(items[0][1])
    return pa.table(
        {
            "id": pa.array([i for i, _ in items], pa.string()),
            "vector": pa.array([v for _, v in items], pa.list_(pa.float32(), dimensions)),
        }
    )


class LanceVectorStore:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._root = root
        self._db: Any = lancedb.connect(str(root))
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _names(self) -> set[str]:
        listed: Any = self._db.list_tables()
        names = getattr(listed, "tables", listed)
        return set(names)

    def _pointer(self, name: str) -> Path:
        return self._root / f"{name}.current"

    def _current(self, name: str) -> str | None:
        pointer = self._pointer(name)
        return pointer.read_text().strip() if pointer.exists() else None

    def _open(self, name: str) -> Any:
        current = self._current(name)
        return self._db.open_table(current) if current in self._names() else None

    def _point(self, name: str, table: str | None) -> None:
        previous = self._current(name)
        if table is None:
            self._pointer(name).unlink(missing_ok=True)
        else:
            temporary = self._root / f"{name}.current.tmp"
            temporary.write_text(table)
            os.replace(temporary, self._pointer(name))
        if previous is not None and previous != table and previous in self._names():
            self._db.drop_table(previous)

    async def rebuild(
        self, name: str, batches: AsyncIterator[Sequence[tuple[str, list[float]]]]
    ) -> int:
        staging = f"{name}__v{time.time_ns()}"
        count = 0
        table: Any = None
        try:
            async for batch in batches:
                if not batch:
                    continue
                data = _table(batch)
                if table is None:
                    table = await asyncio.to_thread(self._db.create_table, staging, data)
                else:
                    await asyncio.to_thread(table.add, data)
                count += len(batch)
            async with self._lock(name):
                await asyncio.to_thread(self._point, name, staging if table is not None else None)
        except (OSError, ValueError, RuntimeError) as error:
            raise VectorStoreError(f"lancedb rebuild of {name} failed: {error}") from error
        return count

    async def upsert(self, name: str, items: Sequence[tuple[str, list[float]]]) -> None:
        if not items:
            return
        async with self._lock(name):

            def write() -> None:
                data = _table(items)
                table = self._open(name)
                if table is None:
                    created = f"{name}__v{time.time_ns()}"
                    self._db.create_table(created, data)
                    self._point(name, created)
                    return
                (
                    table.merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(data)
                )

            try:
                await asyncio.to_thread(write)
            except (OSError, ValueError, RuntimeError) as error:
                raise VectorStoreError(f"lancedb upsert into {name} failed: {error}") from error

    async def delete(self, name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._lock(name):
            table = self._open(name)
            if table is not None:
                where = f"id IN ({', '.join(_quote(i) for i in ids)})"
                await asyncio.to_thread(table.delete, where)

    async def search(self, name: str, vector: list[float], *, limit: int) -> list[VectorHit]:
        table = self._open(name)
        if table is None or limit <= 0:
            return []

        def query() -> list[VectorHit]:
            rows = table.search(vector).metric("cosine").limit(limit).to_list()
            return [VectorHit(str(r["id"]), 1.0 - float(r["_distance"])) for r in rows]

        try:
            return await asyncio.to_thread(query)
        except (OSError, ValueError, RuntimeError) as error:
            raise VectorStoreError(f"lancedb search of {name} failed: {error}") from error

    async def drop(self, name: str) -> None:
        async with self._lock(name):
            await asyncio.to_thread(self._point, name, None)

    async def close(self) -> None:
        self._locks.clear()
