"""``dbify search create|list|reindex|delete``: search indexes from a shell.

Indexes live in a running ``dbify serve`` (its engine holds the embedded index files
and the sync loop), so these commands call that server's management API
(``/api/v1/projects/{id}/search-indexes``) rather than the metadata store: the server
learns about a new index at once and nothing else writes its index files. The server
is ``--api-url`` (``DBIFY_API_URL``; default ``http://127.0.0.1:<server.port>/api/v1``)
and the caller a personal access token (``--token``, ``DBIFY_TOKEN``; ``dbify users
create-admin`` then ``POST /api/v1/users/me/tokens``).

    dbify search create PROJECT books --text title:2 --text blurb --semantic
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import httpx
import orjson

from dbify.settings import load_settings

__all__ = ["progress_line", "search"]

_POLL_SECONDS = 0.5


def _client(api_url: str | None, token: str) -> httpx.Client:
    base = api_url or f"http://127.0.0.1:{load_settings().server.port}/api/v1"
    return httpx.Client(
        base_url=base.rstrip("/"), headers={"authorization": f"Bearer {token}"}, timeout=600
    )


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
            message = body.get("message") or body.get("detail") or response.text
        except ValueError:
            message = response.text
        raise click.ClickException(f"{response.status_code}: {message}")
    return None if response.status_code == 204 else response.json()


def _print(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def progress_line(index: dict[str, Any], seconds: float, width: int = 30) -> str:
    """One line of the build's progress bar, redrawn in place on stderr.

    >>> progress_line({"progress": {"rows_done": 2500, "rows_total": 10000, "percent": 25.0}}, 3.2)
    '[########----------------------]  25.0 %  2,500/10,000 rows  3 s'
    >>> progress_line({"progress": None}, 0.4)
    '[------------------------------]  counting rows…  0 s'
    """
    progress = index.get("progress")
    if not progress:
        return f"[{'-' * width}]  counting rows…  {seconds:.0f} s"
    filled = round(width * progress["percent"] / 100)
    return (
        f"[{'#' * filled}{'-' * (width - filled)}] {progress['percent']:5.1f} %  "
        f"{progress['rows_done']:,}/{progress['rows_total']:,} rows  {seconds:.0f} s"
    )


def _follow(client: httpx.Client, project_id: str, index: dict[str, Any]) -> dict[str, Any]:
    """Poll the index until its build ends, drawing a progress bar on stderr."""
    started = time.monotonic()
    while index["state"] == "building":
        click.echo("\r" + progress_line(index, time.monotonic() - started), nl=False, err=True)
        time.sleep(_POLL_SECONDS)
        path = f"/projects/{project_id}/search-indexes/{index['id']}"
        index = _answer(client.get(path))
    # Spaces wipe what is left of the bar on the same line.
    click.echo(f"\r{index['state']}: {index['rows_indexed']:,} rows indexed" + " " * 40, err=True)
    if index["state"] == "failed":
        raise click.ClickException(f"build failed: {index['last_error']}")
    return index


def _columns(values: tuple[str, ...]) -> dict[str, float]:
    """``title:2`` → {"title": 2.0}; a bare name weighs 1."""
    columns: dict[str, float] = {}
    for value in values:
        name, _, weight = value.partition(":")
        try:
            columns[name] = float(weight) if weight else 1.0
        except ValueError:
            raise click.BadParameter(f"'{value}': expected COLUMN or COLUMN:WEIGHT") from None
    return columns


_api_url = click.option(
    "--api-url", envvar="DBIFY_API_URL", default=None, help="Management API of dbify serve."
)
_token = click.option(
    "--token", envvar="DBIFY_TOKEN", required=True, help="Personal access token (DBIFY_TOKEN)."
)
_wait = click.option("--wait/--no-wait", default=True, help="Follow the build until it ends.")


@click.group("search")
def search() -> None:
    """Manage a project's search indexes (through a running dbify serve)."""


@search.command("create")
@click.argument("project_id")
@click.argument("table")
@click.option("--schema", default="public", show_default=True, help="The table's schema.")
@click.option("--text", "text", multiple=True, required=True, help="COLUMN[:WEIGHT], repeatable.")
@click.option("--return", "returned", multiple=True, help="Column hits return (default: all).")
@click.option("--semantic", is_flag=True, help="Also embed rows (mode=semantic|hybrid).")
@_api_url
@_token
@_wait
def search_create(
    project_id: str,
    table: str,
    schema: str,
    text: tuple[str, ...],
    returned: tuple[str, ...],
    semantic: bool,
    api_url: str | None,
    token: str,
    wait: bool,
) -> None:
    """Enable search on TABLE and backfill it; prints the index as JSON."""
    body = {"table": table, "schema": schema, "text_columns": _columns(text),
            "return_columns": list(returned) or None, "semantic": semantic}  # fmt: skip
    with _client(api_url, token) as client:
        index = _answer(client.post(f"/projects/{project_id}/search-indexes", json=body))
        _print(_follow(client, project_id, index) if wait else index)


@search.command("list")
@click.argument("project_id")
@_api_url
@_token
def search_list(project_id: str, api_url: str | None, token: str) -> None:
    """The project's indexes with their status (rows indexed, lag, last error)."""
    with _client(api_url, token) as client:
        _print(_answer(client.get(f"/projects/{project_id}/search-indexes")))


@search.command("reindex")
@click.argument("project_id")
@click.argument("index_id")
@click.option("--catch-up", is_flag=True, help="Only rows changed since the last sync.")
@_api_url
@_token
@_wait
def search_reindex(
    project_id: str, index_id: str, catch_up: bool, api_url: str | None, token: str, wait: bool
) -> None:
    """Rebuild an index from scratch (searches use the old one until it is done)."""
    action = "refresh" if catch_up else "reindex"
    with _client(api_url, token) as client:
        path = f"/projects/{project_id}/search-indexes/{index_id}/{action}"
        index = _answer(client.post(path))
        _print(_follow(client, project_id, index) if wait else index)


@search.command("delete")
@click.argument("project_id")
@click.argument("index_id")
@_api_url
@_token
def search_delete(project_id: str, index_id: str, api_url: str | None, token: str) -> None:
    """Delete an index (the table itself is untouched)."""
    with _client(api_url, token) as client:
        _answer(client.delete(f"/projects/{project_id}/search-indexes/{index_id}"))
    click.echo(f"Search index {index_id} deleted.")
