"""Rules for a project's schema watcher: who may install it, and what the API reports.

Installing or removing the event triggers changes the user's database, so it needs the
``admin`` role (or owner, or an instance admin); a viewer gets ``DBIFY602`` naming the
role needed. Reading the state needs ``viewer``. After a change the running watch (if
this process has one) re-reads its mode at once; the answer waits up to two seconds
for the watcher to switch, so it reports the mode in effect.
"""

from __future__ import annotations

import asyncio
import time

from dbify.control.access import Caller, ProjectRole
from dbify.control.projects.service import ProjectService
from dbify.control.schema_watcher.schemas import (
    SchemaWatcherOut,
    SchemaWatcherStatus,
    SchemaWatchHandle,
)
from dbify.control.schema_watcher.store import WatcherFootprint
from dbify.secrets_box import SecretBox

__all__ = ["SchemaWatcherService", "watcher_status"]

_SWITCH_WAIT_SECONDS = 2.0


def watcher_status(watch: SchemaWatchHandle | None, project_id: str) -> SchemaWatcherStatus | None:
    """The running watcher of ``project_id``, or None when there is none."""
    health = None if watch is None else watch.project_health(project_id)
    if health is None:
        return None
    mode = health.get("mode")
    return SchemaWatcherStatus(
        running=bool(health.get("running")),
        mode=mode if mode in ("listen", "poll") else None,
        last_error=str(health.get("last_error") or ""),
    )


class SchemaWatcherService:
    def __init__(
        self,
        projects: ProjectService,
        box: SecretBox,
        watch: SchemaWatchHandle | None,
        *,
        connect_timeout: float,
    ) -> None:
        self._projects = projects
        self._box = box
        self._watch = watch
        self._timeout = connect_timeout

    async def _footprint(
        self, caller: Caller, project_id: str, minimum: ProjectRole
    ) -> WatcherFootprint:
        record, _ = await self._projects.require_role(caller, project_id, minimum)
        return WatcherFootprint(self._box.decrypt(record.database_url_sealed), self._timeout)

    async def set_installed(
        self, caller: Caller, project_id: str, install: bool
    ) -> SchemaWatcherOut:
        footprint = await self._footprint(caller, project_id, "admin")
        await footprint.set_installed(install)
        if self._watch is not None:
            self._watch.check_mode(project_id)
            await self._await_mode(project_id, "listen" if install else "poll")
        return SchemaWatcherOut(
            project_id=project_id,
            installed=install,
            watcher=watcher_status(self._watch, project_id),
        )

    async def get(self, caller: Caller, project_id: str) -> SchemaWatcherOut:
        footprint = await self._footprint(caller, project_id, "viewer")
        return SchemaWatcherOut(
            project_id=project_id,
            installed=await footprint.installed(),
            watcher=watcher_status(self._watch, project_id),
        )

    async def _await_mode(self, project_id: str, mode: str) -> None:
        deadline = time.monotonic() + _SWITCH_WAIT_SECONDS
        while time.monotonic() < deadline:
            status = watcher_status(self._watch, project_id)
            if status is None or status.mode == mode:
                return
            await asyncio.sleep(0.05)
