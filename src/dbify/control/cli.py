"""Command-line control plane: ``dbify migrate``, ``projects``, ``keys``, ``users``.

The commands talk to the metadata store directly (the one ``DBIFY_METADATA__URL``
or ``data_dir`` points at), as the trusted ``SYSTEM`` caller; no server needs to be
running. A ``dbify serve`` started on the same store picks up projects created here
at its next start (within one process, changes reach the data plane at once).
Errors print the same message the management API returns, and exit with status 1.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import click
import orjson
from pydantic import BaseModel, SecretStr

from dbify.backends.loader import open_event_bus
from dbify.control.access import SYSTEM, Caller
from dbify.control.api_keys.schemas import KeyCreate, KeyUpdate
from dbify.control.plane import ControlPlane, open_control_plane
from dbify.control.projects.schemas import ProjectCreate, ProjectCreated, ProjectUpdate
from dbify.control.users.store import UserStore
from dbify.errors import DbifyError
from dbify.metadata import metadata_url, open_metadata_store, run_migrations
from dbify.secrets_box import SecretBoxError
from dbify.settings import load_settings, redact_url

__all__ = ["keys", "migrate", "projects", "users"]

_T = TypeVar("_T")


def _with_plane(action: Callable[[ControlPlane], Awaitable[_T]]) -> _T:
    async def run() -> _T:
        settings = load_settings()
        # Scale-out: what the CLI changes (a revoked key) reaches running instances
        # over the shared bus, as if one of them had made the change.
        bus = await open_event_bus(settings) if settings.events.backend == "redis" else None
        try:
            plane = await open_control_plane(settings, bus=bus)
            try:
                return await action(plane)
            finally:
                await plane.close()
        finally:
            if bus is not None:
                await bus.close()

    try:
        return asyncio.run(run())
    except DbifyError as error:
        hint = f" ({error.hint})" if error.hint else ""
        details = f": {error.details}" if isinstance(error.details, str) else ""
        raise click.ClickException(f"{error.message}{details}{hint}") from None
    except SecretBoxError as error:
        raise click.ClickException(str(error)) from None


def _print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@click.command()
def migrate() -> None:
    """Create or upgrade the metadata store's tables."""
    settings = load_settings()
    url = metadata_url(settings)

    async def run() -> None:
        store = open_metadata_store(url)
        try:
            await run_migrations(store)
        finally:
            await store.close()

    asyncio.run(run())
    click.echo(f"Metadata store is up to date: {redact_url(url)}")


@click.group()
def users() -> None:
    """Manage Dbify users."""


@users.command("create-admin")
@click.option("--email", required=True)
@click.password_option(envvar="DBIFY_ADMIN_PASSWORD", help="At least 8 characters.")
def users_create_admin(email: str, password: str) -> None:
    """Create an admin user (or make an existing user admin with this password)."""
    if len(password) < 8:
        raise click.ClickException("The password needs at least 8 characters")
    user = _with_plane(lambda plane: plane.users.create_admin(email, password))
    click.echo(f"Admin {user.email} ({user.id}) is ready.")


@click.group()
def projects() -> None:
    """Manage projects (one PostgreSQL database each)."""


async def _create_project(
    plane: ControlPlane, request: ProjectCreate, owner_email: str | None
) -> ProjectCreated:
    """Create as ``SYSTEM``; with ``owner_email``, the user is checked first and made owner."""
    if owner_email is None:
        return await plane.projects.create(SYSTEM, request)
    owner = await UserStore(plane.store.engine).by_email(owner_email.strip().lower())
    if owner is None:
        raise click.ClickException(f"No user with the email {owner_email}")
    caller = Caller(user_id=owner.id, is_admin=False, email=owner.email)
    return await plane.projects.create(caller, request)


@projects.command("create")
@click.option("--name", required=True)
@click.option("--database-url", required=True, help="postgresql://user:password@host/db")
@click.option("--schema", "schemas", multiple=True, help="Schema to expose (repeatable).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print {id, rest_url, anon_key, service_key}."
)
@click.option(
    "--owner",
    "owner_email",
    default=None,
    help="Email of an existing user who becomes the project's owner (gets its emails).",
)
def projects_create(
    name: str,
    database_url: str,
    schemas: tuple[str, ...],
    as_json: bool,
    owner_email: str | None,
) -> None:
    """Check the database, create the project and print its keys (shown once)."""
    request = ProjectCreate(
        name=name, database_url=SecretStr(database_url), schemas=list(schemas or ("public",))
    )
    created = _with_plane(lambda plane: _create_project(plane, request, owner_email))
    if as_json:
        sys.stdout.write(
            orjson.dumps(
                {
                    "id": created.id,
                    "rest_url": created.rest_url,
                    "anon_key": created.anon_key,
                    "service_key": created.service_key,
                }
            ).decode()
            + "\n"
        )
        return
    click.echo(f"Project {created.name} created: {created.id}")
    click.echo(f"  REST URL     {created.rest_url}")
    click.echo(f"  anon key     {created.anon_key}")
    click.echo(f"  service key  {created.service_key}")
    click.echo("Keys are shown once.")


@projects.command("list")
@click.option("--json", "as_json", is_flag=True)
def projects_list(as_json: bool) -> None:
    """List all projects."""
    page = _with_plane(lambda plane: plane.projects.page(SYSTEM, 1000, 0))
    if as_json:
        _print_json(page.items)
        return
    for project in page.items:
        state = "paused" if project.paused else "active"
        click.echo(f"{project.id}  {project.name}  {state}  {project.rest_url}")


@projects.command("show")
@click.argument("project_id")
def projects_show(project_id: str) -> None:
    """Show a project and its status as JSON."""

    async def show(plane: ControlPlane) -> dict[str, Any]:
        project = await plane.projects.get(SYSTEM, project_id)
        status = await plane.projects.status(SYSTEM, project_id)
        return {
            **project.model_dump(mode="json"),
            "status": status.model_dump(mode="json", exclude={"pool_open"}),
        }

    _print_json(_with_plane(show))


@projects.command("update")
@click.argument("project_id")
@click.option(
    "--jwt-secret",
    envvar="DBIFY_PROJECT_JWT_SECRET",
    default=None,
    help="The project's HS256/384/512 secret (>= 32 chars; '' removes it). Prefer the "
    "DBIFY_PROJECT_JWT_SECRET environment variable to keep it out of the shell history.",
)
@click.option("--cors-origin", "cors_origins", multiple=True, help="Allowed origin (repeatable).")
@click.option("--cors-credentials/--no-cors-credentials", default=None)
@click.option("--max-rows", type=int, default=None)
@click.option("--max-body-bytes", type=int, default=None)
@click.option("--statement-timeout-ms", type=int, default=None)
@click.option("--rate-limit-per-key", type=float, default=None, help="Requests/second.")
@click.option("--rate-limit-per-ip", type=float, default=None, help="Requests/second.")
@click.option("--rate-limit-burst", type=int, default=None)
@click.option(
    "--log-retention-days",
    type=click.IntRange(min=0),
    default=None,
    help="Days this project's request logs are kept (at most analytics.retention_days; "
    "0: back to the instance's).",
)
def projects_update(
    project_id: str,
    jwt_secret: str | None,
    cors_origins: tuple[str, ...],
    cors_credentials: bool | None,
    max_rows: int | None,
    max_body_bytes: int | None,
    statement_timeout_ms: int | None,
    rate_limit_per_key: float | None,
    rate_limit_per_ip: float | None,
    rate_limit_burst: int | None,
    log_retention_days: int | None,
) -> None:
    """Change a project's settings (only the options given); prints it (secrets never)."""
    given: dict[str, Any] = {
        "jwt_secret": SecretStr(jwt_secret) if jwt_secret is not None else None,
        "cors_origins": list(cors_origins) if cors_origins else None,
        "cors_allow_credentials": cors_credentials,
        "max_rows": max_rows,
        "max_body_bytes": max_body_bytes,
        "statement_timeout_ms": statement_timeout_ms,
        "rate_limit_per_key": rate_limit_per_key,
        "rate_limit_per_ip": rate_limit_per_ip,
        "rate_limit_burst": rate_limit_burst,
        "log_retention_days": log_retention_days,
    }
    values = {k: v for k, v in given.items() if v is not None}
    if log_retention_days == 0:  # an explicit null clears the project's own limit
        values["log_retention_days"] = None
    change = ProjectUpdate(**values)
    _print_json(_with_plane(lambda plane: plane.projects.update(SYSTEM, project_id, change)))


@projects.command("delete")
@click.argument("project_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def projects_delete(project_id: str, yes: bool) -> None:
    """Delete a project with its keys and sealed URL (the database itself is untouched)."""
    if not yes:
        click.confirm(f"Delete project {project_id}?", abort=True)
    _with_plane(lambda plane: plane.projects.delete(SYSTEM, project_id))
    click.echo(f"Project {project_id} deleted.")


@click.group()
def keys() -> None:
    """Manage a project's API keys."""


@keys.command("create")
@click.argument("project_id")
@click.option("--name", required=True)
@click.option("--role", default="anon", show_default=True, help="anon, service or a DB role.")
@click.option("--expires-at", type=click.DateTime(), default=None, help="UTC expiry time.")
@click.option("--rate-limit", type=float, default=None, help="This key's requests/second.")
@click.option("--burst", type=int, default=None, help="This key's bucket size.")
@click.option("--json", "as_json", is_flag=True)
def keys_create(
    project_id: str,
    name: str,
    role: str,
    expires_at: datetime | None,
    rate_limit: float | None,
    burst: int | None,
    as_json: bool,
) -> None:
    """Create a key and print its secret (shown once)."""
    from datetime import UTC

    expiry = expires_at.replace(tzinfo=UTC) if expires_at is not None else None
    request = KeyCreate(
        name=name,
        role=role,
        expires_at=expiry,
        rate_limit_per_second=rate_limit,
        rate_limit_burst=burst,
    )
    created = _with_plane(lambda plane: plane.keys.create(SYSTEM, project_id, request))
    if as_json:
        _print_json(created)
        return
    click.echo(f"Key {created.id} ({created.role}): {created.key}")
    click.echo("The key is shown once.")


@keys.command("list")
@click.argument("project_id")
@click.option("--json", "as_json", is_flag=True)
def keys_list(project_id: str, as_json: bool) -> None:
    """List a project's keys (prefixes only, never secrets)."""
    found = _with_plane(lambda plane: plane.keys.list(SYSTEM, project_id))
    if as_json:
        _print_json(found)
        return
    for key in found:
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        click.echo(f"{key.id}  {key.prefix}…  {key.name}  {key.role}  last used {used}")


@keys.command("update")
@click.argument("project_id")
@click.argument("key_id")
@click.option("--rate-limit", type=float, default=None, help="Requests/second; omit: none.")
@click.option("--burst", type=int, default=None, help="Bucket size; omit: the project's.")
def keys_update(project_id: str, key_id: str, rate_limit: float | None, burst: int | None) -> None:
    """Set a key's rate limit override (without --rate-limit: remove it)."""
    change = KeyUpdate(rate_limit_per_second=rate_limit, rate_limit_burst=burst)
    _print_json(_with_plane(lambda plane: plane.keys.update(SYSTEM, project_id, key_id, change)))


@keys.command("revoke")
@click.argument("project_id")
@click.argument("key_id")
def keys_revoke(project_id: str, key_id: str) -> None:
    """Revoke a key at once."""
    _with_plane(lambda plane: plane.keys.revoke(SYSTEM, project_id, key_id))
    click.echo(f"Key {key_id} revoked.")


async def _set_watcher(plane: ControlPlane, project_id: str, install: bool) -> None:
    import asyncpg

    from dbify.control.projects.connect import describe_connect_error
    from dbify.schema_watch import install_watcher, uninstall_watcher

    record, _ = await plane.projects.require_role(SYSTEM, project_id, "owner")
    url = plane.box.decrypt(record.database_url_sealed)
    try:
        conn = await asyncpg.connect(url, timeout=10, statement_cache_size=0)
    except (OSError, asyncpg.PostgresError, ValueError) as exc:
        raise describe_connect_error(exc, url) from None
    try:
        await (install_watcher(conn) if install else uninstall_watcher(conn))
    except asyncpg.InsufficientPrivilegeError:
        raise click.ClickException(
            "The role may not create event triggers (PostgreSQL requires a superuser); "
            "Dbify will poll the catalog instead."
        ) from None
    finally:
        await conn.close()


@projects.command("install-watcher")
@click.argument("project_id")
def projects_install_watcher(project_id: str) -> None:
    """Create event triggers (dbify_*) that tell Dbify at once when the schema changes.

    They are the only objects Dbify creates in a database; without them Dbify polls.
    """
    _with_plane(lambda plane: _set_watcher(plane, project_id, True))
    click.echo(f"Schema watcher installed in project {project_id}'s database.")


@projects.command("uninstall-watcher")
@click.argument("project_id")
def projects_uninstall_watcher(project_id: str) -> None:
    """Drop the event triggers install-watcher created (Dbify falls back to polling)."""
    _with_plane(lambda plane: _set_watcher(plane, project_id, False))
    click.echo(f"Schema watcher removed from project {project_id}'s database.")
