"""The docs page and its assets: local only, resolvable, no traversal."""

from __future__ import annotations

import re

import pytest

import dbify.docs
from dbify.docs import ASSET_NAMES, asset, docs_page

PAGE = docs_page("/p/abc/rest/v1/", "/p/abc/docs/assets/", 'Shop <"&">').decode("utf-8")


def _references(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


def test_page_references_only_local_assets() -> None:
    references = _references(PAGE)
    assert references, "the page references its assets"
    for url in references:
        assert not re.match(r"^(https?:)?//", url), url
        assert url.startswith("/p/abc/"), url


def test_every_referenced_asset_resolves() -> None:
    assets = [u for u in _references(PAGE) if u.startswith("/p/abc/docs/assets/")]
    names = {u.removeprefix("/p/abc/docs/assets/").split("?", 1)[0] for u in assets}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "dbify-docs.js"} <= names
    for name in names:
        found = asset(name)
        assert found is not None, name
        data, content_type = found
        assert data
        assert content_type


def test_page_runs_no_inline_script_and_escapes() -> None:
    assert "<script>" not in PAGE
    for body in re.findall(r"<script[^>]*>(.*?)</script>", PAGE, re.S):
        assert body.strip() == ""
    assert 'data-openapi-url="/p/abc/rest/v1/"' in PAGE
    assert "Shop &lt;&quot;&amp;&quot;&gt;" in PAGE
    assert '<"&">' not in PAGE


_TYPES = {
    "text/javascript; charset=utf-8",
    "text/css; charset=utf-8",
    "image/png",
    "text/plain; charset=utf-8",
}


def _must(name: str) -> tuple[bytes, str]:
    found = asset(name)
    assert found is not None, name
    return found


def test_every_known_asset_loads_with_its_type() -> None:
    for name in ASSET_NAMES:
        data, content_type = _must(name)
        assert data, name
        assert content_type in _TYPES, name
    assert _must("swagger-ui-bundle.js")[1].startswith("text/javascript")
    assert _must("swagger-ui.css")[1].startswith("text/css")
    assert _must("favicon-32x32.png")[1] == "image/png"
    assert b"SwaggerUIBundle" in _must("swagger-ui-bundle.js")[0]
    assert b"Apache License" in _must("swagger-ui-LICENSE.txt")[0]


def test_initializer_wires_apikey() -> None:
    script = _must("dbify-docs.js")[0].decode()
    assert "data-openapi-url" in script
    assert 'preauthorizeApiKey("apikey"' in script
    assert "persistAuthorization: false" in script


def test_renderer_supports_openapi_31() -> None:
    # Swagger UI 4 renders "Unable to render this definition" for 3.1 documents.
    assert b"isOAS31" in _must("swagger-ui-bundle.js")[0]


@pytest.mark.parametrize(
    "name",
    [
        "../__init__.py",
        "..%2F__init__.py",
        "/etc/passwd",
        "static/dbify-docs.js",
        "swagger-ui-bundle.js/../../core.py",
        "LICENSE",
        "index.html",
        "",
        "SWAGGER-UI.CSS",
    ],
)
def test_unknown_or_traversing_names_are_refused(name: str) -> None:
    assert asset(name) is None


def test_exported_members() -> None:
    assert sorted(dbify.docs.__all__) == ["ASSET_NAMES", "asset", "docs_page"]
