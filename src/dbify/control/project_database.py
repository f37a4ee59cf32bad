"""Finding a project's database for command-line tools that read its catalog.

``dbify lint`` and ``dbify gen types`` take either ``--project ID`` (looked up in the
metadata store, URL unsealed with the secret box, as the trusted CLI caller) or
``--database-url`` with ``--schema`` for a database that is not a project. This module
resolves both to one ``ProjectDatabase``; it does not read the user's database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import click

from dbify.control.access import SYSTEM
from dbify.control.plane import open_control_plane
from dbify.errors import DbifyError
from dbify.settings import load_settings

__all__ = ["ProjectDatabase", "resolve_project_database"]


@dataclass(frozen=True, slots=True)
class ProjectDatabase:
    url: str
    schemas: tuple[str, ...]
    anon_role: str | None


async def _from_store(project_id: str) -> ProjectDatabase:
    settings = load_settings()
    plane = await open_control_plane(settings)
    try:
        record, _ = await plane.projects.require_role(SYSTEM, project_id, "viewer")
        url = plane.box.decrypt(record.database_url_sealed)
        anon_role = record.settings.get("anon_role") or settings.api.anon_role
        return ProjectDatabase(url, tuple(record.schemas), anon_role)
    finally:
        await plane.close()


def resolve_project_database(
    project_id: str | None, database_url: str | None, schemas: tuple[str, ...]
) -> ProjectDatabase:
    """Exactly one of ``project_id`` and ``database_url``; click errors otherwise."""
    if (project_id is None) == (database_url is None):
        raise click.UsageError("Give either --project ID or --database-url URL")
    if database_url is not None:
        settings = load_settings()
        return ProjectDatabase(
            database_url, schemas or tuple(settings.api.schemas), settings.api.anon_role
        )
    assert project_id is not None
    try:
        return asyncio.run(_from_store(project_id))
    except DbifyError as error:
        raise click.ClickException(error.message) from None
