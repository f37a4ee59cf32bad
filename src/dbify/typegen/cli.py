"""``dbify gen types``: write a project's types for TypeScript, Python or Go.

The snapshot is introspected from the project's database at once (not the server's
cached copy), so the types match the schema as it is now.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import asyncpg
import click

from dbify.control.project_database import resolve_project_database
from dbify.control.projects.connect import describe_connect_error
from dbify.schema.introspect import introspect
from dbify.schema.model import SchemaSnapshot
from dbify.typegen import Language, generate_types

__all__ = ["gen"]


async def _snapshot(url: str, schemas: tuple[str, ...]) -> SchemaSnapshot:
    try:
        conn = await asyncpg.connect(url, timeout=10, statement_cache_size=0)
    except (OSError, asyncpg.PostgresError, ValueError) as exc:
        raise click.ClickException(describe_connect_error(exc, url).message) from None
    try:
        return await introspect(conn, schemas)
    finally:
        await conn.close()


@click.group()
def gen() -> None:
    """Generate code from a project's schema."""


@gen.command("types")
@click.option("--project", "project_id", default=None, help="Project ID (metadata store).")
@click.option("--database-url", default=None, help="Or read this database directly.")
@click.option("--schema", "schemas", multiple=True, help="Exposed schema (with --database-url).")
@click.option("--lang", "language", type=click.Choice(["ts", "python", "go"]), default="ts",
              show_default=True)  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")  # fmt: skip
def gen_types(
    project_id: str | None,
    database_url: str | None,
    schemas: tuple[str, ...],
    language: str,
    output: Path | None,
) -> None:
    """Row, Insert and Update types of every table and view, function Args and Returns, enums."""
    target = resolve_project_database(project_id, database_url, schemas)
    snapshot = asyncio.run(_snapshot(target.url, target.schemas))
    text = generate_types(snapshot, cast(Language, language))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
