"""Rules for access roles: who may manage them, valid definitions, live updates.

A definition is validated by compiling it (``policy.compile_policy``): a row filter
that the data API's grammar rejects is refused here, not at request time. ``anon`` and
``service`` are key kinds, not role names. Every change is passed to the live
directory, which recompiles the project's policies; this module does not enforce
anything (the planner does, ``dataplane/plan/access.py``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from dbify.control.access import Caller
from dbify.control.access_roles.policy import compile_policy
from dbify.control.access_roles.schemas import AccessRoleBody, AccessRoleCreate, AccessRoleOut
from dbify.control.access_roles.store import AccessRoleRecord, AccessRoleStore
from dbify.control.errors import ControlCodes, control_error
from dbify.control.projects.service import ProjectListener, ProjectService
from dbify.errors import DbifyError

__all__ = ["AccessRoleService"]

_RESERVED = frozenset({"anon", "service"})


def _out(record: AccessRoleRecord) -> AccessRoleOut:
    body = AccessRoleBody.model_validate(record.definition)
    return AccessRoleOut(
        name=record.name,
        **body.model_dump(),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _validate(name: str, body: AccessRoleBody) -> dict[str, object]:
    if name in _RESERVED:
        raise control_error(
            ControlCodes.INVALID_REQUEST, f"'{name}' is a key kind, not an access role name"
        )
    try:
        compile_policy(name, body, "public")
    except DbifyError as error:
        raise control_error(
            ControlCodes.INVALID_REQUEST, f"Invalid row filter: {error.message}"
        ) from None
    return AccessRoleBody.model_validate(body.model_dump()).model_dump()


class AccessRoleService:
    def __init__(
        self, store: AccessRoleStore, projects: ProjectService, listener: ProjectListener
    ) -> None:
        self._store = store
        self._projects = projects
        self._listener = listener

    async def create(
        self, caller: Caller, project_id: str, request: AccessRoleCreate
    ) -> AccessRoleOut:
        await self._projects.require_role(caller, project_id, "admin")
        body = AccessRoleBody.model_validate(request.model_dump(exclude={"name"}))
        definition = _validate(request.name, body)
        now = datetime.now(UTC)
        record = AccessRoleRecord(
            secrets.token_hex(8), project_id, request.name, definition, now, now
        )
        if not await self._store.insert(record):
            raise control_error(
                ControlCodes.CONFLICT, f"Access role '{request.name}' already exists"
            )
        await self._listener.project_changed(project_id)
        return _out(record)

    async def list(self, caller: Caller, project_id: str) -> list[AccessRoleOut]:
        await self._projects.require_role(caller, project_id, "viewer")
        return [_out(r) for r in await self._store.of_project(project_id)]

    async def get(self, caller: Caller, project_id: str, name: str) -> AccessRoleOut:
        await self._projects.require_role(caller, project_id, "viewer")
        return _out(await self._existing(project_id, name))

    async def replace(
        self, caller: Caller, project_id: str, name: str, body: AccessRoleBody
    ) -> AccessRoleOut:
        await self._projects.require_role(caller, project_id, "admin")
        definition = _validate(name, body)
        if not await self._store.update(project_id, name, definition, datetime.now(UTC)):
            raise control_error(ControlCodes.NOT_FOUND, f"Access role '{name}' not found")
        await self._listener.project_changed(project_id)
        return _out(await self._existing(project_id, name))

    async def delete(self, caller: Caller, project_id: str, name: str) -> None:
        await self._projects.require_role(caller, project_id, "admin")
        if not await self._store.delete(project_id, name):
            raise control_error(ControlCodes.NOT_FOUND, f"Access role '{name}' not found")
        await self._listener.project_changed(project_id)

    async def _existing(self, project_id: str, name: str) -> AccessRoleRecord:
        record = await self._store.get(project_id, name)
        if record is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Access role '{name}' not found")
        return record
