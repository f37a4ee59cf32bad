"""Rules of the audit log: platform admins read everything, a project's admins read the
events of their project. A cursor is the id of the last event of the previous page."""

from __future__ import annotations

from dbify.control.access import Caller
from dbify.control.audit.schemas import AuditEventOut, AuditPage
from dbify.control.audit.store import AuditStore
from dbify.control.errors import ControlCodes, control_error
from dbify.control.projects.service import ProjectService

__all__ = ["AuditService"]


class AuditService:
    def __init__(self, store: AuditStore, projects: ProjectService) -> None:
        self._store = store
        self._projects = projects

    async def platform(
        self, caller: Caller, user_id: str | None, cursor: str | None, limit: int
    ) -> AuditPage:
        if not caller.is_admin:
            raise control_error(ControlCodes.FORBIDDEN, "Only admins may read the audit log")
        return await self._page(None, user_id, cursor, limit)

    async def project(
        self, caller: Caller, project_id: str, cursor: str | None, limit: int
    ) -> AuditPage:
        await self._projects.require_role(caller, project_id, "admin")
        return await self._page(project_id, None, cursor, limit)

    async def _page(
        self, project_id: str | None, user_id: str | None, cursor: str | None, limit: int
    ) -> AuditPage:
        events = await self._store.page(
            project_id=project_id, user_id=user_id, before=cursor, limit=limit + 1
        )
        items = [
            AuditEventOut(**{name: getattr(e, name) for name in e.__slots__})
            for e in events[:limit]
        ]
        return AuditPage(items=items, next_cursor=items[-1].id if len(events) > limit else None)
