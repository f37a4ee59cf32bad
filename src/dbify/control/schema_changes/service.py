"""Who may read a project's schema change log: any member (viewer and up)."""

from __future__ import annotations

from dbify.control.access import Caller
from dbify.control.projects.service import ProjectService
from dbify.control.schema_changes.schemas import ChangeOut, SchemaChangeOut, SchemaChangePage
from dbify.control.schema_changes.store import SchemaChangeStore


class SchemaChangeService:
    def __init__(self, store: SchemaChangeStore, projects: ProjectService) -> None:
        self._store = store
        self._projects = projects

    async def page(
        self, caller: Caller, project_id: str, limit: int, offset: int
    ) -> SchemaChangePage:
        await self._projects.require_role(caller, project_id, "viewer")
        records, total = await self._store.page(project_id, limit, offset)
        items = [
            SchemaChangeOut(
                id=r.id,
                project_id=r.project_id,
                detected_at=r.detected_at,
                detected_by=r.detected_by,
                breaking=r.breaking,
                changes=[ChangeOut(**c) for c in r.changes],
                openapi_before=r.openapi_before,
                openapi_after=r.openapi_after,
            )
            for r in records
        ]
        return SchemaChangePage(items=items, total=total, limit=limit, offset=offset)
