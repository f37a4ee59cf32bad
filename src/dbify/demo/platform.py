"""``dbify demo``: the whole platform on the sample shop, ready to click through.

This module owns what the demo adds to ``dbify serve``: the sample database (from
``demo/database.py``) registered as the project ``demo``, a demo admin account for the
dashboard, and the banner that tells a newcomer where everything is. Serving itself
(metadata store in ``data_dir``, dashboard at ``/``, management API, request-log worker,
schema watch, webhooks and cron) is ``control/serve.serve_platform``, unchanged.

Re-running reuses everything: the project is found by its database URL and gets a fresh
anon/service key pair (stored keys are hashes, so old ones cannot be shown again; they
keep working). The demo admin's password is generated anew on every run and printed
once: the account is for trying Dbify on one machine, and a password nobody can recover
would lock the newcomer out of their own demo.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click

from dbify import __version__
from dbify.control.plane import open_control_plane
from dbify.control.serve import Listening, ServeApp, refuse_if_chdb_taken, serve_platform
from dbify.demo.database import prepare_demo_database
from dbify.settings import Settings

__all__ = ["DEMO_ADMIN_EMAIL", "run_demo"]

DEMO_ADMIN_EMAIL = "demo@dbify.local"
_PROJECT_NAME = "demo"


async def _reset_demo_admin(settings: Settings) -> str:
    """Create the demo admin (or reset its password); return the new password."""
    password = secrets.token_urlsafe(12)
    plane = await open_control_plane(settings, migrate=settings.metadata.migrate_on_start)
    try:
        await plane.users.create_admin(DEMO_ADMIN_EMAIL, password)
    finally:
        await plane.close()
    return password


def _banner(listening: Listening, password: str) -> None:
    project = listening.project
    assert project is not None  # serve_platform was given the demo database's URL
    base = listening.public_url
    echo = click.echo
    echo(f"Dbify {__version__} demo is running.")
    echo("")
    echo(f"  Dashboard    {base}/")
    echo(f"  Sign in as   {DEMO_ADMIN_EMAIL}")
    echo(f"  Password     {password}   (new on every `dbify demo`; change it under Account)")
    echo("")
    echo(f"  REST URL     {project.rest_url}")
    echo(f"  API docs     {base}/p/{project.id}/docs")
    echo(f"  anon key     {project.anon_key}")
    echo(f"  service key  {project.service_key}")
    echo(f"  Management   {base}/api/v1   (docs: {base}/api/docs)")
    echo("")
    echo("Keys are shown once; each run adds a fresh pair (create more in the dashboard).")
    echo("Try:")
    echo(
        f"  curl -H 'apikey: {project.anon_key}' "
        f"'{project.rest_url}/orders?select=id,status,total,customer:customers(name)&limit=5'"
    )
    echo("Press Ctrl+C to stop.")
    sys.stdout.flush()  # piped (e.g. `dbify demo | tee`), the banner must not wait


def _json_line(listening: Listening, password: str) -> None:
    project = listening.project
    assert project is not None
    line = {
        "id": project.id,
        "rest_url": project.rest_url,
        "anon_key": project.anon_key,
        "service_key": project.service_key,
        "dashboard_url": listening.public_url + "/",
        "docs_url": f"{listening.public_url}/p/{project.id}/docs",
        "admin_email": DEMO_ADMIN_EMAIL,
        "admin_password": password,
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def run_demo(
    settings: Settings,
    serve_app: ServeApp,
    *,
    host: str,
    port: int,
    database_server_url: str | None,
    as_json: bool,
) -> None:
    """Prepare the sample database and the demo admin, then serve the platform."""
    refuse_if_chdb_taken(settings)  # before the admin's password changes under a running demo
    database = await prepare_demo_database(
        server_url=database_server_url, data_dir=Path(settings.data_dir) / "demo-postgres"
    )
    try:
        password = await _reset_demo_admin(settings)
        await serve_platform(
            settings,
            serve_app,
            host=host,
            port=port,
            database_url=database.url,
            schemas=settings.api.schemas,
            name=_PROJECT_NAME,
            announce=lambda listening: (_json_line if as_json else _banner)(listening, password),
        )
    finally:
        await database.close()
