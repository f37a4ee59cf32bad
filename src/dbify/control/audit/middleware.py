"""Records management API calls that change something as audit events.

A pure ASGI middleware around the management app: for every request whose method is not
GET, HEAD or OPTIONS it notes the status the app sent, and once the response has gone
out writes who (the caller ``current_caller`` resolved, if any), what (method, path,
project), when and how it ended. Reads are not audited (dashboards poll them). Bodies
and headers are never stored, so no secret reaches the log. A failed write is logged and
swallowed: the audit log must never fail or slow down a call the client already has.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dbify.control.audit.store import AuditEvent, AuditStore

__all__ = ["AuditRecorder"]

log = logging.getLogger("dbify.audit")

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _project_of(path: str) -> str | None:
    """The project id in ``…/v1/projects/{id}…``.

    >>> _project_of("/api/v1/projects/abc/keys"), _project_of("/v1/users/me/tokens")
    ('abc', None)
    """
    _, found, rest = path.partition("/v1/projects/")
    project = rest.partition("/")[0] if found else ""
    return project or None


def _event_id() -> str:
    """Sortable by time: 16 hex digits of µs, then randomness."""
    return f"{time.time_ns() // 1000:016x}{os.urandom(8).hex()}"


class AuditRecorder:
    def __init__(self, app: ASGIApp, store: AuditStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        caller = state.get("caller")
        root, path = scope.get("root_path", ""), scope["path"]
        full = path if path.startswith(root) else root + path
        client = scope.get("client")
        event = AuditEvent(
            id=_event_id(),
            at=datetime.now(UTC),
            user_id=getattr(caller, "user_id", None),
            email=getattr(caller, "email", "") or "",
            project_id=_project_of(full),
            method=scope["method"],
            path=full[:512],
            status=status,
            client_ip=client[0] if client else "",
        )
        try:
            await self.store.insert(event)
        except Exception:  # never fail a call over its audit record
            log.exception("could not write an audit event")
