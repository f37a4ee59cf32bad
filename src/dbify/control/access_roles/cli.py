"""``dbify access-roles``: manage a project's RBAC access roles from the command line.

Same rules as the management API (``service.py``), run as the trusted ``SYSTEM``
caller on the metadata store (see ``control/cli.py``). A definition is the API's JSON
body (``tables``, ``functions``), given inline or as ``@file.json``.
"""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from pydantic import ValidationError

from dbify.control.access import SYSTEM
from dbify.control.access_roles.schemas import AccessRoleBody, AccessRoleCreate
from dbify.control.access_roles.service import AccessRoleService
from dbify.control.access_roles.store import AccessRoleStore
from dbify.control.cli import _print_json, _with_plane
from dbify.control.plane import ControlPlane
from dbify.control.projects.service import NoListener

__all__ = ["access_roles"]


def _service(plane: ControlPlane) -> AccessRoleService:
    return AccessRoleService(AccessRoleStore(plane.store.engine), plane.projects, NoListener())


def _definition(text: str) -> AccessRoleBody:
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return AccessRoleBody.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as error:
        raise click.ClickException(f"Invalid definition: {error}") from None


@click.group("access-roles")
def access_roles() -> None:
    """Manage a project's access roles (RBAC for keys and JWTs without database roles)."""


@access_roles.command("create")
@click.argument("project_id")
@click.argument("name")
@click.option(
    "--definition",
    required=True,
    help='JSON or @file: {"tables": {"orders": {"privileges": ["select"], '
    '"row_filter": "region=eq.eu"}}, "functions": []}',
)
def access_roles_create(project_id: str, name: str, definition: str) -> None:
    """Create an access role; name it from a key (--role NAME) or a JWT role claim."""
    body = _definition(definition)
    request = AccessRoleCreate(name=name, **body.model_dump())
    _print_json(_with_plane(lambda plane: _service(plane).create(SYSTEM, project_id, request)))


@access_roles.command("replace")
@click.argument("project_id")
@click.argument("name")
@click.option("--definition", required=True, help="JSON or @file (as for create).")
def access_roles_replace(project_id: str, name: str, definition: str) -> None:
    """Replace an access role's rules."""
    body = _definition(definition)
    _print_json(_with_plane(lambda plane: _service(plane).replace(SYSTEM, project_id, name, body)))


@access_roles.command("list")
@click.argument("project_id")
def access_roles_list(project_id: str) -> None:
    """List a project's access roles as JSON."""
    _print_json(_with_plane(lambda plane: _service(plane).list(SYSTEM, project_id)))


@access_roles.command("show")
@click.argument("project_id")
@click.argument("name")
def access_roles_show(project_id: str, name: str) -> None:
    """Show one access role as JSON."""
    _print_json(_with_plane(lambda plane: _service(plane).get(SYSTEM, project_id, name)))


@access_roles.command("delete")
@click.argument("project_id")
@click.argument("name")
def access_roles_delete(project_id: str, name: str) -> None:
    """Delete an access role (keys naming it then fail rather than widen)."""
    _with_plane(lambda plane: _service(plane).delete(SYSTEM, project_id, name))
    click.echo(f"Access role {name} deleted.")
