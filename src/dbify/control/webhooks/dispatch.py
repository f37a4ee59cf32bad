"""Events → queued webhook messages: data-plane row changes and schema changes.

``WebhookDispatcher`` is the data plane's ``ChangeSink``: ``row_changed`` only appends
to a bounded in-memory buffer (changes beyond ``capacity`` are dropped and counted),
and a task of its own turns buffered changes into messages in the metadata store,
where they become durable. A change is therefore lost only if the process dies in the
fraction of a second between the commit and that insert. Projects without endpoints
cost a set lookup. It also subscribes to ``schema.changed`` on the event bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import orjson

from dbify.backends.events import Event, EventBus
from dbify.control.webhooks.service import WebhookService
from dbify.dataplane.changes import RowChange

__all__ = ["WebhookDispatcher"]

_log = logging.getLogger("dbify.webhooks")
_SCHEMA_CHANGED = "schema.changed"


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


class WebhookDispatcher:
    def __init__(self, service: WebhookService, *, capacity: int = 10_000) -> None:
        self._service = service
        self._buffer: deque[RowChange] = deque()
        self._capacity = capacity
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._projects: set[str] = set()
        self.dropped = 0

    async def start(self, bus: EventBus | None = None) -> None:
        await self.refresh()
        if bus is not None:
            bus.subscribe(_SCHEMA_CHANGED, self._schema_changed)
        self._task = asyncio.create_task(self._drain_forever(), name="webhook-dispatch")

    async def refresh(self) -> None:
        """Re-read which projects have endpoints (called periodically and on changes)."""
        self._projects = {e.project_id for e in await self._service.store.endpoints()}

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
            await self._service.publish(change.project_id, event_type, _row_data(change), table)

    async def _drain_forever(self) -> None:
        while True:
            woken = False
            with contextlib.suppress(TimeoutError):
                woken = await asyncio.wait_for(self._wake.wait(), 5.0)
            self._wake.clear()
            try:
                await (self.drain() if woken else self.refresh())
            except Exception:
                _log.exception("webhook dispatch failed; retrying")
                await asyncio.sleep(1.0)

    async def _schema_changed(self, event: Event) -> None:
        payload = dict(event.payload)
        project_id = str(payload.get("project_id", ""))
        await self._service.publish(project_id, "schema.changed", payload)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.drain()
