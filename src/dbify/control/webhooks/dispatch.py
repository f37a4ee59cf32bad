"""Events → queued webhook messages: data-plane row changes and schema changes.

``WebhookDispatcher`` is the data plane's ``ChangeSink``: ``row_changed`` only appends
to a bounded in-memory buffer (changes beyond ``capacity`` are dropped and counted),
and a task of its own turns buffered changes into messages in the metadata store,
where they become durable. A change is therefore lost only if the process dies in the
fraction of a second between the commit and that insert. Projects without endpoints
cost a set lookup.

Which projects have endpoints is cached. ``refresh`` (after an endpoint is created,
updated or deleted through this process's API) reloads it and announces
``cache.webhooks`` on the event bus, which the Redis bus broadcasts: every other
``serve`` process reloads at once rather than at its next periodic reload.

A change about exactly one row whose primary key is known gets that row as its
messages' ordering key: the delivery queue sends them one at a time, oldest first
(``WebhookStore.claim``), so a receiver sees a row's writes in order.

It also subscribes to ``schema.changed``, a local-only event published by the schema
watch, which runs on one replica at a time (the leader): so a schema change is queued
once, by the leader's dispatcher, however many replicas serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson

from dbify.backends.events import RESYNC, Event, EventBus
from dbify.background import cancel_and_wait
from dbify.control.webhooks.service import WebhookService
from dbify.dataplane.changes import RowChange
from dbify.dataplane.project import ProjectDirectory

__all__ = ["WEBHOOKS_CACHE", "WebhookDispatcher"]

_log = logging.getLogger("dbify.webhooks")
_SCHEMA_CHANGED = "schema.changed"
WEBHOOKS_CACHE = "cache.webhooks"  # `cache.*`: broadcast to every instance
_RELOAD_SECONDS = 5.0


def _row_data(change: RowChange) -> dict[str, Any]:
    rows: Any = None
    if change.rows_json is not None:
        rows = orjson.loads(change.rows_json)
    elif change.payload_json is not None and change.operation == "insert":
        rows = orjson.loads(change.payload_json)
    data: dict[str, Any] = {
        "project_id": change.project_id,
        "schema": change.schema,
        "table": change.table,
        "operation": change.operation,
        "affected": change.affected,
        "record": rows[0] if isinstance(rows, list) and len(rows) == 1 else None,
        "records": rows,
        "old_record": None,  # not read: see dataplane/changes.py
        "keys": [list(k) for k in change.keys],
    }
    if change.operation == "update" and change.payload_json is not None:
        changed = orjson.loads(change.payload_json)
        data["changes"] = changed[0] if isinstance(changed, list) and changed else changed
    return data


def _ordering_key(
    change: RowChange, data: Mapping[str, Any], primary_key: tuple[str, ...]
) -> str | None:
    """The row a change is about, when it is exactly one row whose primary key is known
    (from the row in the message, else from the data plane's ``keys``): its messages keep
    the order of the writes. Other messages (several rows, a table without a key, an
    update or delete whose row the data plane did not return) carry none."""
    if change.affected != 1 or not primary_key:
        return None
    record = data.get("record")
    if isinstance(record, dict) and all(k in record for k in primary_key):
        key: Any = [record[k] for k in primary_key]
    elif len(change.keys) == 1 and None not in change.keys[0]:
        key = [str(v) for v in change.keys[0]]
    else:
        return None
    if isinstance(record, dict):  # the keys are text: compare like with like
        key = [v if isinstance(v, str) else orjson.dumps(v).decode() for v in key]
    # Truncation can only make two rows share a key: stricter order, never looser.
    return f"{change.schema}.{change.table}:{orjson.dumps(key).decode()}"[:300]


class WebhookDispatcher:
    def __init__(
        self, service: WebhookService, *, capacity: int = 10_000,
        directory: ProjectDirectory | None = None,
    ) -> None:  # fmt: skip
        self._service = service
        self._directory = directory  # tables' primary keys, for per-row order
        self._buffer: deque[RowChange] = deque()
        self._capacity = capacity
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._projects: set[str] = set()
        self._bus: EventBus | None = None
        self._reloaded = 0.0
        self.dropped = 0

    async def start(self, bus: EventBus | None = None) -> None:
        await self._reload()
        self._bus = bus
        if bus is not None:
            bus.subscribe(_SCHEMA_CHANGED, self._schema_changed)
            bus.subscribe(WEBHOOKS_CACHE, self._heard)
            bus.subscribe(RESYNC, self._heard)
        self._task = asyncio.create_task(self._drain_forever(), name="webhook-dispatch")

    async def refresh(self) -> None:
        """Endpoints changed here: reload, and tell every instance to reload."""
        await self._reload()
        if self._bus is not None:
            await self._bus.publish(Event(WEBHOOKS_CACHE, {}))

    async def _reload(self) -> None:
        """Re-read which projects have endpoints (periodically and when told)."""
        self._projects = {e.project_id for e in await self._service.store.endpoints()}
        self._reloaded = asyncio.get_running_loop().time()

    async def _heard(self, event: Event) -> None:
        await self._reload()

    def watches(self, project_id: str, schema: str, table: str) -> bool:
        return project_id in self._projects

    def row_changed(self, change: RowChange) -> None:
        if change.project_id not in self._projects:
            return
        if len(self._buffer) >= self._capacity:
            self.dropped += 1
            return
        self._buffer.append(change)
        self._wake.set()

    async def drain(self) -> None:
        """Queue every buffered change now."""
        while self._buffer:
            change = self._buffer.popleft()
            event_type = {"insert": "row.inserted", "update": "row.updated"}.get(
                change.operation, "row.deleted"
            )
            table = f"{change.schema}.{change.table}"
            data = _row_data(change)
            ordering = _ordering_key(change, data, self._primary_key(change))
            await self._service.publish(change.project_id, event_type, data, table, ordering)

    def _primary_key(self, change: RowChange) -> tuple[str, ...]:
        project = None if self._directory is None else self._directory.get(change.project_id)
        if project is None:
            return ()
        relation = project.snapshot.relation(change.schema, change.table)
        return () if relation is None else relation.primary_key

    async def _drain_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _RELOAD_SECONDS)
            self._wake.clear()
            try:
                await self.drain()
                # Also under a steady stream of writes: a missed announcement heals.
                if asyncio.get_running_loop().time() - self._reloaded >= _RELOAD_SECONDS:
                    await self._reload()
            except Exception:
                _log.exception("webhook dispatch failed; retrying")
                await asyncio.sleep(1.0)

    async def _schema_changed(self, event: Event) -> None:
        payload = dict(event.payload)
        project_id = str(payload.get("project_id", ""))
        await self._service.publish(project_id, "schema.changed", payload)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        with contextlib.suppress(Exception):
            await self.drain()
