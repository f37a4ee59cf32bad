"""The dashboard at ``/``: a single page served by Dbify, talking to the management API.

Owns the page shell (``static/index.html``), its script and stylesheet, and the
vendored chart library (uPlot 1.6.32, MIT, from npm; licence in the file header). All
screens are drawn in the browser by ``dashboard.js`` (and ``project-tools.js``: members,
webhooks, cron, saved queries, search, linter, audit) from ``/api/v1`` JSON, with the
session cookie and the ``X-CSRF-Token`` header, so the dashboard can do nothing the
management API does not allow. Nothing is fetched from another origin: the page is
sent with a strict Content-Security-Policy (no inline script or style, same-origin
connections and frames only).

This package does no authentication and holds no state; ``dashboard_routes`` returns
the Starlette routes the app mounts.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dbify import __version__

__all__ = ["ASSET_NAMES", "dashboard_routes"]

ASSETS_URL = "/dashboard-assets"
_CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
}
ASSET_NAMES: frozenset[str] = frozenset(
    {"dashboard.js", "project-tools.js", "dashboard.css", "uplot.min.js", "uplot.min.css"}
)
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


@cache
def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


async def _page(request: Request) -> Response:
    return Response(
        _read("index.html").replace(b"{{version}}", __version__.encode()),
        media_type="text/html; charset=utf-8",
        headers={**_SECURITY_HEADERS, "cache-control": "no-store"},
    )


async def _asset(request: Request) -> Response:
    name: str = request.path_params["name"]
    if name not in ASSET_NAMES:
        return Response(b'{"message":"Not found"}', 404, media_type="application/json")
    content_type = _CONTENT_TYPES[name.rsplit(".", 1)[1]]
    # Assets are addressed with ?v=<version>, so a long cache is safe.
    headers = {"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"}
    return Response(_read(name), media_type=content_type, headers=headers)


async def _schema_changes(request: Request) -> Response:
    # The address schema-change emails link to (schema_watch/notice.py).
    project_id = quote(request.path_params["project_id"], safe="")
    return RedirectResponse(f"/#/p/{project_id}/schema", 303)


def dashboard_routes() -> list[Route]:
    """``/`` (the page), ``/dashboard-assets/{name}`` (its script, styles, charts) and
    ``/projects/{id}/schema-changes`` (a redirect into the page, for emailed links)."""
    return [
        Route("/", _page),
        Route(ASSETS_URL + "/{name}", _asset),
        Route("/projects/{project_id}/schema-changes", _schema_changes),
    ]
