"""Rules for projects: creating one from a URL, who sees and changes what, settings.

Creating a project checks the database (``connect.probe_database``), seals its URL
(``SecretBox``), stores the introspection catalog, makes the caller its owner and
issues an ``anon`` and a ``service`` key, returned once. Changes are announced to a
``ProjectListener`` (the live directory) so pools and key rings follow. A project a
caller may not see is reported as not found, so ids do not leak.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import SecretStr

from dbify.control.access import Caller, ProjectRole, role_allows
from dbify.control.api_keys.issue import new_key_record
from dbify.control.api_keys.store import KeyStore
from dbify.control.errors import ControlCodes, control_error
from dbify.control.outbound import OutboundPolicy, TargetRefused
from dbify.control.projects.connect import probe_database, snapshot_from_catalog
from dbify.control.projects.schemas import (
    ConnectionChecked,
    ConnectionTest,
    MemberIn,
    MemberOut,
    Page,
    ProjectConfig,
    ProjectCreate,
    ProjectCreated,
    ProjectOut,
    ProjectStatus,
    ProjectUpdate,
)
from dbify.control.projects.store import ProjectRecord, ProjectStore
from dbify.control.users.store import UserStore
from dbify.errors import DbifyError
from dbify.secrets_box import SecretBox

_CONFIG_FIELDS = set(ProjectConfig.model_fields)
_MIN_JWT_SECRET = 32  # characters, as PostgREST requires


class ProjectListener(Protocol):
    """Told about changes, e.g. the live directory of the data plane."""

    async def project_changed(self, project_id: str) -> None: ...

    async def project_removed(self, project_id: str) -> None: ...

    def pool_open(self, project_id: str) -> bool: ...


class NoListener:
    """For processes that serve no data API (the CLI)."""

    async def project_changed(self, project_id: str) -> None:
        return None

    async def project_removed(self, project_id: str) -> None:
        return None

    def pool_open(self, project_id: str) -> bool:
        return False


def _now() -> datetime:
    return datetime.now(UTC)


class ProjectService:
    def __init__(
        self,
        store: ProjectStore,
        keys: KeyStore,
        users: UserStore,
        box: SecretBox,
        listener: ProjectListener,
        *,
        public_url: str,
        connect_timeout: float,
        defaults: ProjectConfig,
        log_retention_limit: int | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._store = store
        self._keys = keys
        self._users = users
        self._box = box
        self.listener = listener
        self.public_url = public_url.rstrip("/")
        self._timeout = connect_timeout
        self._defaults = defaults
        self._log_retention_limit = log_retention_limit
        self._outbound = outbound if outbound is not None else OutboundPolicy()

    def rest_url(self, project_id: str) -> str:
        return f"{self.public_url}/p/{project_id}/rest/v1"

    def _out(self, record: ProjectRecord, role: str | None) -> ProjectOut:
        return ProjectOut(
            id=record.id,
            name=record.name,
            rest_url=self.rest_url(record.id),
            schemas=list(record.schemas),
            config=ProjectConfig(**record.settings),
            paused=record.paused,
            jwt_secret_set=record.jwt_secret_sealed is not None,
            created_at=record.created_at,
            updated_at=record.updated_at,
            role=role,
        )

    async def require_role(
        self, caller: Caller, project_id: str, minimum: ProjectRole
    ) -> tuple[ProjectRecord, str | None]:
        """The project and the caller's role in it, if that role reaches ``minimum``."""
        record = await self._store.get(project_id)
        role = None
        if record is not None and caller.user_id is not None:
            role = await self._store.member_role(project_id, caller.user_id)
        if record is None or (role is None and not caller.is_admin):
            raise control_error(ControlCodes.NOT_FOUND, f"Project '{project_id}' not found")
        if not caller.is_admin and not role_allows(role, minimum):
            raise control_error(
                ControlCodes.FORBIDDEN, f"This needs the {minimum} role in the project"
            )
        return record, role

    async def create(self, caller: Caller, request: ProjectCreate) -> ProjectCreated:
        url = request.database_url.get_secret_value()
        schemas = tuple(request.schemas)
        probe = await probe_database(url, schemas, self._timeout)
        now = _now()
        config = request.config or self._defaults
        self._check_log_retention(config.log_retention_days)
        await self._check_key_sources(config.jwks_url, config.oidc_issuer)
        record = ProjectRecord(
            id=secrets.token_hex(8),
            name=request.name,
            database_url_sealed=self._box.encrypt(url),
            schemas=schemas,
            settings=config.model_dump(),
            paused=False,
            created_at=now,
            updated_at=now,
            reachable=True,
            last_error=None,
            schema_loaded_at=now,
            schema_catalog=probe.catalog,
        )
        await self._store.insert(record, caller.user_id)
        anon, service = await self.issue_default_keys(record.id)
        await self.listener.project_changed(record.id)
        return ProjectCreated(
            id=record.id,
            name=record.name,
            rest_url=self.rest_url(record.id),
            anon_key=anon,
            service_key=service,
        )

    async def issue_default_keys(self, project_id: str) -> tuple[str, str]:
        """A new anon and service key (the caller announces the change)."""
        anon_record, anon = new_key_record(project_id, "anon", "anon", None)
        service_record, service = new_key_record(project_id, "service", "service", None)
        await self._keys.insert(anon_record)
        await self._keys.insert(service_record)
        return anon, service

    async def page(self, caller: Caller, limit: int, offset: int) -> Page[ProjectOut]:
        member = None if caller.is_admin else caller.user_id
        rows, total = await self._store.page(member, limit, offset)
        items = [self._out(r, role) for r, role in rows]
        return Page[ProjectOut](items=items, total=total, limit=limit, offset=offset)

    async def get(self, caller: Caller, project_id: str) -> ProjectOut:
        record, role = await self.require_role(caller, project_id, "viewer")
        return self._out(record, role)

    async def update(self, caller: Caller, project_id: str, change: ProjectUpdate) -> ProjectOut:
        record, role = await self.require_role(caller, project_id, "admin")
        given = change.model_dump(exclude_unset=True)
        values: dict[str, Any] = {"updated_at": _now()}
        if "name" in given and change.name is not None:
            values["name"] = change.name
        settings = dict(record.settings)
        settings.update({k: v for k, v in given.items() if k in _CONFIG_FIELDS})
        values["settings"] = ProjectConfig(**settings).model_dump()
        if "log_retention_days" in given:
            self._check_log_retention(change.log_retention_days)
        await self._check_key_sources(given.get("jwks_url"), given.get("oidc_issuer"))
        if change.jwt_secret is not None:
            values["jwt_secret_sealed"] = self._sealed_jwt_secret(change.jwt_secret)
        url_changed = change.database_url is not None
        if url_changed or change.schemas is not None:
            url = (
                change.database_url.get_secret_value()
                if change.database_url is not None
                else self._box.decrypt(record.database_url_sealed)
            )
            schemas = tuple(change.schemas) if change.schemas is not None else record.schemas
            probe = await probe_database(url, schemas, self._timeout)
            values.update(
                database_url_sealed=self._box.encrypt(url),
                schemas=schemas,
                schema_catalog=probe.catalog,
                schema_loaded_at=_now(),
                reachable=True,
                last_error=None,
            )
        await self._store.update(project_id, **values)
        await self.listener.project_changed(project_id)
        updated = await self._store.get(project_id)
        assert updated is not None
        return self._out(updated, role)

    def _check_log_retention(self, days: int | None) -> None:
        # Above the instance's limit the table TTL would remove the rows anyway: refuse
        # a promise the store cannot keep.
        limit = self._log_retention_limit
        if days is not None and limit is not None and days > limit:
            raise control_error(
                ControlCodes.INVALID_REQUEST,
                f"log_retention_days can be at most {limit} on this instance",
                hint="The instance keeps request logs for analytics.retention_days "
                f"({limit}); choose fewer days or leave it unset.",
            )

    async def _check_key_sources(self, *urls: str | None) -> None:
        """The server fetches a project's ``jwks_url`` / ``oidc_issuer``: like webhook
        targets, they may not name internal addresses unless the instance allows them
        (``settings.webhooks.allowed_hosts``). The verifier checks again before each
        fetch (the discovery document may name another host; DNS may change)."""
        for url in urls:
            if not url:
                continue
            try:
                await self._outbound.check(url)
            except TargetRefused as refused:
                raise control_error(
                    ControlCodes.INVALID_REQUEST, f"JWT key source refused: {refused}"
                ) from None

    def _sealed_jwt_secret(self, given: SecretStr) -> str | None:
        """The secret sealed for storage; None (removed) for an empty string."""
        secret = given.get_secret_value()
        if not secret:
            return None
        if len(secret) < _MIN_JWT_SECRET:
            raise control_error(
                ControlCodes.INVALID_REQUEST,
                f"jwt_secret needs at least {_MIN_JWT_SECRET} characters",
            )
        return self._box.encrypt(secret)

    async def set_paused(self, caller: Caller, project_id: str, paused: bool) -> ProjectOut:
        _, role = await self.require_role(caller, project_id, "admin")
        await self._store.update(project_id, paused=paused, updated_at=_now())
        await self.listener.project_changed(project_id)
        updated = await self._store.get(project_id)
        assert updated is not None
        return self._out(updated, role)

    async def delete(self, caller: Caller, project_id: str) -> None:
        await self.require_role(caller, project_id, "owner")
        await self._store.delete(project_id)
        await self.listener.project_removed(project_id)

    async def check_database(self, caller: Caller, request: ConnectionTest) -> ConnectionChecked:
        """Probe a database as ``create`` would, storing nothing (the create form's check).

        Any signed-in caller may ask (they could create a project with it anyway); the
        errors are ``create``'s, so the form shows the same message either way.
        """
        schemas = tuple(request.schemas)
        probe = await probe_database(
            request.database_url.get_secret_value(), schemas, self._timeout
        )
        snapshot = snapshot_from_catalog(probe.catalog, schemas)
        kinds = [relation.kind for relation in snapshot.relations.values()]
        return ConnectionChecked(
            server_version=probe.server_version,
            tables=sum(1 for kind in kinds if "table" in kind),
            views=sum(1 for kind in kinds if "view" in kind),
            functions=sum(len(overloads) for overloads in snapshot.functions.values()),
        )

    async def test_connection(self, caller: Caller, project_id: str) -> ProjectStatus:
        """Check the database now; refresh the cached schema when it answers."""
        record, _ = await self.require_role(caller, project_id, "viewer")
        url = self._box.decrypt(record.database_url_sealed)
        try:
            probe = await probe_database(url, record.schemas, self._timeout)
        except DbifyError as error:
            await self._store.update(project_id, reachable=False, last_error=error.message)
        else:
            await self._store.update(
                project_id,
                reachable=True,
                last_error=None,
                schema_catalog=probe.catalog,
                schema_loaded_at=_now(),
            )
            await self.listener.project_changed(project_id)
        return await self.status(caller, project_id)

    async def status(self, caller: Caller, project_id: str) -> ProjectStatus:
        record, _ = await self.require_role(caller, project_id, "viewer")
        return ProjectStatus(
            id=record.id,
            paused=record.paused,
            reachable=record.reachable,
            last_error=record.last_error,
            schema_loaded_at=record.schema_loaded_at,
            pool_open=self.listener.pool_open(project_id),
        )

    async def find_by_database_url(self, url: str) -> ProjectRecord | None:
        """The first project whose (decrypted) URL is ``url``; for ``serve --database-url``."""
        for record in await self._store.all():
            if self._box.decrypt(record.database_url_sealed) == url:
                return record
        return None

    async def members(self, caller: Caller, project_id: str) -> list[MemberOut]:
        await self.require_role(caller, project_id, "viewer")
        return [
            MemberOut(user_id=m.user_id, email=m.email, role=m.role, created_at=m.created_at)
            for m in await self._store.members(project_id)
        ]

    async def set_member(self, caller: Caller, project_id: str, member: MemberIn) -> MemberOut:
        await self.require_role(caller, project_id, "owner")
        user = await self._users.by_email(member.email.strip().lower())
        if user is None:
            raise control_error(ControlCodes.NOT_FOUND, "No user with that email")
        now = _now()
        await self._store.set_member(project_id, user.id, member.role, now)
        return MemberOut(user_id=user.id, email=user.email, role=member.role, created_at=now)

    async def remove_member(self, caller: Caller, project_id: str, user_id: str) -> None:
        await self.require_role(caller, project_id, "owner")
        if not await self._store.remove_member(project_id, user_id):
            raise control_error(ControlCodes.NOT_FOUND, "Not a member of the project")
