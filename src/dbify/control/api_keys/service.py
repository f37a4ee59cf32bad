"""Rules for API keys: who may manage them, what a key looks like, rotation.

Secrets are made by ``issue.py``; rotation issues a new
secret under the same name and role and lets the old one work for a grace period.
Every change is passed to the live directory, so the data plane's in-memory key
rings follow without a database lookup per request.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dbify.control.access import Caller
from dbify.control.api_keys.issue import new_key_record
from dbify.control.api_keys.schemas import KeyCreate, KeyCreated, KeyOut, KeyUpdate
from dbify.control.api_keys.store import KeyRecord, KeyStore
from dbify.control.errors import ControlCodes, control_error
from dbify.control.projects.service import ProjectListener, ProjectService

_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def _now() -> datetime:
    return datetime.now(UTC)


def _out(record: KeyRecord) -> KeyOut:
    return KeyOut(
        id=record.id,
        name=record.name,
        role=record.role,
        prefix=record.prefix,
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
        rate_limit_per_second=record.rate_limit_per_second,
        rate_limit_burst=record.rate_limit_burst,
    )


class KeyService:
    def __init__(
        self, store: KeyStore, projects: ProjectService, listener: ProjectListener
    ) -> None:
        self._store = store
        self._projects = projects
        self._listener = listener

    async def create(self, caller: Caller, project_id: str, request: KeyCreate) -> KeyCreated:
        await self._projects.require_role(caller, project_id, "admin")
        if request.role not in ("anon", "service") and not _ROLE_NAME.match(request.role):
            raise control_error(
                ControlCodes.INVALID_REQUEST,
                "role must be 'anon', 'service' or a database role name",
            )
        if request.expires_at is not None and request.expires_at.tzinfo is None:
            raise control_error(ControlCodes.INVALID_REQUEST, "expires_at needs a time zone")
        record, secret = new_key_record(project_id, request.name, request.role, request.expires_at)
        record = replace(
            record,
            rate_limit_per_second=request.rate_limit_per_second,
            rate_limit_burst=request.rate_limit_burst,
        )
        await self._store.insert(record)
        await self._listener.project_changed(project_id)
        return KeyCreated(**_out(record).model_dump(), key=secret)

    async def list(self, caller: Caller, project_id: str) -> list[KeyOut]:
        await self._projects.require_role(caller, project_id, "viewer")
        return [_out(r) for r in await self._store.of_project(project_id)]

    async def update(
        self, caller: Caller, project_id: str, key_id: str, change: KeyUpdate
    ) -> KeyOut:
        """Set (or, with nulls, remove) the key's rate limit override."""
        await self._projects.require_role(caller, project_id, "admin")
        found = await self._store.set_rate_limit(
            project_id, key_id, change.rate_limit_per_second, change.rate_limit_burst
        )
        if not found:
            raise control_error(ControlCodes.NOT_FOUND, f"Key '{key_id}' not found")
        await self._listener.project_changed(project_id)
        record = await self._store.get(project_id, key_id)
        assert record is not None
        return _out(record)

    async def revoke(self, caller: Caller, project_id: str, key_id: str) -> None:
        await self._projects.require_role(caller, project_id, "admin")
        if not await self._store.delete(project_id, key_id):
            raise control_error(ControlCodes.NOT_FOUND, f"Key '{key_id}' not found")
        await self._listener.project_changed(project_id)

    async def rotate(
        self, caller: Caller, project_id: str, key_id: str, grace_seconds: int
    ) -> KeyCreated:
        """A new secret for the key's name and role; the old one expires after the grace."""
        await self._projects.require_role(caller, project_id, "admin")
        old = await self._store.get(project_id, key_id)
        if old is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Key '{key_id}' not found")
        record, secret = new_key_record(project_id, old.name, old.role, old.expires_at)
        record = replace(
            record,
            rate_limit_per_second=old.rate_limit_per_second,
            rate_limit_burst=old.rate_limit_burst,
        )
        await self._store.insert(record)
        grace_end = _now() + timedelta(seconds=grace_seconds)
        if old.expires_at is None or old.expires_at > grace_end:
            await self._store.set_expiry(old.id, grace_end)
        await self._listener.project_changed(project_id)
        return KeyCreated(**_out(record).model_dump(), key=secret)
