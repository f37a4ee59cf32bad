"""The ``dbify`` command line.

``dbify serve --database-url URL`` serves one database; ``dbify demo`` runs the platform on a
sample database; ``dbify config show`` prints the effective settings. With ``--json``,
the first line on stdout is ``{"id", "rest_url", "anon_key", "service_key"}`` and
nothing else is printed there (scripts rely on it); logs go to stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
import orjson

from dbify import __version__
from dbify.control.access_roles.cli import access_roles
from dbify.control.cli import keys, migrate, projects, users
from dbify.control.cron.cli import scheduler
from dbify.control.lint.cli import lint
from dbify.control.search.cli import search
from dbify.control.secrets.cli import secrets
from dbify.control.serve import serve_platform
from dbify.http_server import run_loop, serve_app
from dbify.metadata import MetadataUnavailable
from dbify.settings import InvalidSettings, describe_settings, load_settings
from dbify.typegen.cli import gen
from dbify.workers.command import worker

log = logging.getLogger("dbify")


class _Main(click.Group):
    """The command group; settings that do not validate are a one-line-per-variable
    error (exit 1), not a traceback, and so is a metadata store that cannot be used."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidSettings as error:
            raise click.ClickException(f"invalid settings\n{error}") from None
        except MetadataUnavailable as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Main)
@click.version_option(__version__, prog_name="dbify")
def main() -> None:
    """Dbify: instant REST APIs for existing PostgreSQL databases."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(message)s"
    )


@main.command()
@click.option(
    "--database-url",
    default=None,
    envvar="DBIFY_DATABASE_URL",
    help="Shortcut: create or reuse a project for this PostgreSQL URL and print its keys.",
)
@click.option("--host", default=None, help="Interface to listen on (default from settings).")
@click.option("--port", type=int, default=None, help="Port to listen on (0 picks a free one).")
@click.option("--schema", "schemas", multiple=True, help="Schema to expose (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the project as one JSON line.")
@click.option("--name", default="default", help="Project name.")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Serving processes on the port (default from settings: 1). More than one needs "
    "the scale-out backends (PostgreSQL metadata, Redis events, a broker for request logs).",
)
def serve(
    database_url: str | None,
    host: str | None,
    port: int | None,
    schemas: tuple[str, ...],
    as_json: bool,
    name: str,
    workers: int | None,
) -> None:
    """Serve every project of the metadata store and the management API at /api."""
    settings = load_settings()
    workers = settings.server.workers if workers is None else workers
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    schemas = schemas or settings.api.schemas
    if workers > 1:
        from dbify.control.serve_workers import serve_workers

        serve_workers(
            settings, workers=workers, host=host, port=port, database_url=database_url,
            schemas=schemas, name=name, as_json=as_json,
        )  # fmt: skip
        return
    run_loop(
        lambda: serve_platform(
            settings,
            serve_app,
            database_url=database_url,
            host=host,
            port=port,
            schemas=schemas,
            as_json=as_json,
            name=name,
        )
    )


@main.command()
@click.option("--host", default=None, help="Interface to listen on.")
@click.option("--port", type=int, default=None, help="Port to listen on.")
@click.option(
    "--database-server-url", default=None, help="PostgreSQL server to create the demo in."
)
@click.option("--json", "as_json", is_flag=True, help="Print the project as one JSON line.")
def demo(
    host: str | None, port: int | None, database_server_url: str | None, as_json: bool
) -> None:
    """Start the whole platform on a sample shop database: dashboard, REST API, keys."""
    from dbify.demo.platform import run_demo

    settings = load_settings()
    run_loop(
        lambda: run_demo(
            settings,
            serve_app,
            host=host or settings.server.host,
            port=settings.server.port if port is None else port,
            database_server_url=database_server_url,
            as_json=as_json,
        )
    )


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
def config_show() -> None:
    """Print the effective settings (secrets masked) as JSON."""
    click.echo(
        orjson.dumps(describe_settings(load_settings()), option=orjson.OPT_INDENT_2).decode()
    )


for _command in (
    migrate,
    projects,
    keys,
    access_roles,
    users,
    lint,
    gen,
    worker,
    scheduler,
    search,
    secrets,
):
    main.add_command(_command)
