"""The interactive API docs page of a project, with every asset served by Dbify.

Owns the HTML of the page and the bytes of its assets: Swagger UI 5 (from the
``swagger-ui-py`` PyPI package, Apache-2.0, which renders OpenAPI 3.1) plus Dbify's
small initializer script and stylesheet in ``static/``. Nothing is fetched from a CDN.
It is framework-free: the app mounts ``docs_page`` at ``/p/{id}/docs`` and ``asset``
at an assets URL of its choice; this package does no routing, caching headers or
authentication.

The page runs no inline script (CSP ``script-src 'self'`` is enough). A key can be
handed to it in the fragment, ``/p/{id}/docs#apikey=KEY``: it is applied to the
``apikey`` scheme and removed from the address bar. Otherwise users paste a key in
the "Authorize" dialog; it is kept in memory only.
"""

from __future__ import annotations

import html
import importlib.util
from functools import cache
from importlib import metadata, resources
from pathlib import Path

__all__ = ["ASSET_NAMES", "asset", "docs_page"]

_SWAGGER_DISTRIBUTION = "swagger-ui-py"

# Served name -> (source, file name in that source). "swagger" is the static folder of
# the swagger-ui-py package, "dbify" this package's static folder.
_ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger", "swagger-ui-bundle.js"),
    "swagger-ui.css": ("swagger", "swagger-ui.css"),
    "favicon-32x32.png": ("swagger", "favicon-32x32.png"),
    "swagger-ui-LICENSE.txt": ("swagger", "LICENSE"),
    "dbify-docs.js": ("dbify", "dbify-docs.js"),
    "dbify-docs.css": ("dbify", "dbify-docs.css"),
}
ASSET_NAMES: frozenset[str] = frozenset(_ASSETS)

_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


def _swagger_static() -> Path:
    # find_spec locates the package without importing it (its __init__ pulls in
    # Jinja2 and web-framework glue we do not use).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _renderer_version() -> str:
    try:
        return metadata.version(_SWAGGER_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0"


def asset(name: str) -> tuple[bytes, str] | None:
    """The bytes and ``Content-Type`` of the asset called ``name``, or None.

    Only the names in ``ASSET_NAMES`` resolve; anything else (``../x``, absolute
    paths, unknown files) is None, so the caller answers 404.
    """
    if name not in _ASSETS:
        return None
    return _load(name)


# Cached per known name only (never per requested name, which would let clients grow
# the cache): the files are part of the installation and do not change while it runs.
@cache
def _load(name: str) -> tuple[bytes, str]:
    origin, file_name = _ASSETS[name]
    if origin == "swagger":
        data = (_swagger_static() / file_name).read_bytes()
    else:
        data = resources.files(__package__).joinpath("static", file_name).read_bytes()
    suffix = name[name.rfind(".") :]
    return data, _CONTENT_TYPES[suffix]


def docs_page(openapi_url: str, assets_url: str, title: str) -> bytes:
    """The HTML of the docs page, UTF-8.

    ``openapi_url`` is where the browser fetches the project's OpenAPI document;
    ``assets_url`` is the URL prefix under which ``asset`` is served (with or without
    a trailing slash); ``title`` names the project. All three are HTML-escaped.
    """
    prefix = assets_url.rstrip("/")
    version = html.escape(_renderer_version(), quote=True)

    def link(name: str) -> str:
        return html.escape(f"{prefix}/{name}?v={version}", quote=True)

    safe_title = html.escape(title)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{safe_title} · API docs</title>
<link rel="icon" type="image/png" href="{link("favicon-32x32.png")}">
<link rel="stylesheet" href="{link("swagger-ui.css")}">
<link rel="stylesheet" href="{link("dbify-docs.css")}">
</head>
<body>
<header class="dbify-docs-header"><strong>{safe_title}</strong><span>REST API</span></header>
<div id="swagger-ui" data-openapi-url="{html.escape(openapi_url, quote=True)}"></div>
<noscript>This page needs JavaScript. The OpenAPI document is at
<a href="{html.escape(openapi_url, quote=True)}">{html.escape(openapi_url)}</a>.</noscript>
<script src="{link("swagger-ui-bundle.js")}"></script>
<script src="{link("dbify-docs.js")}"></script>
</body>
</html>
"""
    return page.encode("utf-8")
