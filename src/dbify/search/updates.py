"""Writes made through the data API, pushed into the search indexes (issue 9).

``IndexUpdates`` is a ``ChangeSink``: ``row_changed`` only notes which keys of which
index changed (a set per index; changes to tables without an index cost one dict
lookup) and wakes a task of its own. That task waits ``debounce_seconds`` so a burst
of writes becomes one pass, then for each touched index re-reads just those rows
(``SearchEngine.refresh_keys``) — or, when the change does not name every affected
key (bulk writes: the data plane reports the keys of two rows at most), runs the
index's xmin catch-up (``SearchEngine.refresh``) instead.

Pushes are best effort: a failure is logged and the periodic catch-up
(``SearchEngine.start_sync``), which also covers writes made directly in the
database, repairs the index later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson

from dbify.background import cancel_and_wait
from dbify.dataplane.changes import RowChange
from dbify.dataplane.project import ProjectDirectory
from dbify.search.config import IndexConfig

if TYPE_CHECKING:
    from dbify.search.engine import SearchEngine

__all__ = ["IndexUpdates", "changed_keys"]

_log = logging.getLogger("dbify.search")


def _keys_in(rows_json: bytes | str | None, key: str, affected: int) -> list[str] | None:
    if rows_json is None:
        return None
    try:
        rows = orjson.loads(rows_json)
    except orjson.JSONDecodeError:
        return None
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or len(rows) != affected:
        return None
    keys: list[str] = []
    for row in rows:
        if not isinstance(row, dict) or row.get(key) is None:
            return None
        value = row[key]
        keys.append(value if isinstance(value, str) else orjson.dumps(value).decode())
    return keys


def changed_keys(change: RowChange, key: str) -> list[str] | None:
    """The primary keys (as text) of every row ``change`` touched, or None when the
    change does not tell them all.

    >>> c = RowChange("p", "public", "books", "insert", 1, None, None, (("7",),))
    >>> changed_keys(c, "id")
    ['7']
    >>> changed_keys(RowChange("p", "public", "books", "delete", 3, None, None, ()), "id")
    """
    if change.affected <= len(change.keys) and all(len(k) == 1 for k in change.keys):
        keys = [k[0] for k in change.keys]
        if None not in keys:
            return [k for k in keys if k is not None]
    found = _keys_in(change.rows_json, key, change.affected)
    if found is None and change.operation == "insert":
        found = _keys_in(change.payload_json, key, change.affected)
    return found


class IndexUpdates:
    """The search engine's ``ChangeSink`` (see the module docstring)."""

    def __init__(
        self, engine: SearchEngine, directory: ProjectDirectory, *, debounce_seconds: float = 0.2
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._debounce = debounce_seconds
        self._keys: dict[str, set[str]] = {}  # index id -> keys to re-read
        self._catch_up: set[str] = set()  # index ids needing an xmin catch-up
        self._configs: dict[str, IndexConfig] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    def watches(self, project_id: str, schema: str, table: str) -> bool:
        return self._engine.find(project_id, schema, table) is not None

    def row_changed(self, change: RowChange) -> None:
        config = self._engine.find(change.project_id, change.schema, change.table)
        if config is None:
            return
        self._configs[config.id] = config
        keys = changed_keys(change, config.key)
        if keys is None:
            self._catch_up.add(config.id)
        else:
            self._keys.setdefault(config.id, set()).update(keys)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="search-updates")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._debounce)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Apply every noted change now (the task calls it after each debounce)."""
        keys, self._keys = self._keys, {}
        catch_up, self._catch_up = self._catch_up, set()
        for index_id in {*keys, *catch_up}:
            config = self._engine.find(*_where(self._configs.pop(index_id)))
            project = None if config is None else self._directory.get(config.project_id)
            if config is None or project is None:
                continue
            try:
                if index_id in catch_up:
                    await self._engine.refresh(project.pool, config)
                else:
                    keyed = sorted(keys[index_id])
                    await self._engine.refresh_keys(project.pool, config, keyed)
            except Exception:  # best effort: the periodic catch-up repairs the index
                _log.exception("could not push changes into search index %s", index_id)
        self.passes += 1

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None


def _where(config: IndexConfig) -> tuple[str, str, str]:
    return config.project_id, config.schema, config.table
