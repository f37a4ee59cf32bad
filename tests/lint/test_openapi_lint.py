"""API lint of OpenAPI documents: the project's own generated document has no error or
warning, a hand-made bad one trips each rule, and the CLI/API run it on request. Spectral
(Stoplight's linter, its recommended ``spectral:oas`` ruleset, installed from npm into
``tests/lint/spectral`` by ``.ci/run``) passes the generated documents with no warning."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from click.testing import CliRunner

from dbify.cli import main
from dbify.control.lint.service import openapi_findings
from dbify.control.lint.store import read_lint_input
from dbify.dataplane.openapi import build_openapi
from dbify.lint.openapi import lint_openapi

SPECTRAL_DIR = Path(__file__).parent / "spectral"
SPECTRAL = SPECTRAL_DIR / "node_modules" / ".bin" / "spectral"


@pytest.fixture(scope="module")
def fixture_url(make_database: Callable[..., str]) -> str:
    return make_database("fixture.sql")


def test_generated_document_has_no_errors_or_warnings(fixture_url: str) -> None:
    snapshot, _ = anyio.run(read_lint_input, fixture_url, ("public",), None)
    findings = openapi_findings(snapshot)
    assert [f for f in findings if f.level != "info"] == []
    rules = {f.rule for f in findings}
    # the fixture has uncommented tables and columns: reported as info, with a remedy
    assert "table_description_missing" in rules
    assert all(f.remedy for f in findings)


BAD: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "tags": [{"name": "books"}, {"name": "authors", "description": "People"}],
    "paths": {
        "/books": {
            "get": {"operationId": "listBooks", "tags": ["books"], "summary": "List",
                    "responses": {"200": {"$ref": "#/components/responses/Rows"}}},
            "post": {"operationId": "listBooks", "tags": ["books"], "requestBody": {"content": {
                         "application/json": {"schema": {"$ref": "#/components/schemas/books"}}}},
                     "responses": {"default": {"description": "error"}}},
        },
        "/books/{id}": {"delete": {"operationId": "delete-book", "summary": "x",
                                   "tags": ["books"], "responses": {"204": {}}}},
        "/authors": {"get": {"summary": "x", "responses": {"200": {}}}},
    },
    "components": {
        "schemas": {
            "books": {"type": "object", "properties": {
                "id": {"type": "integer", "x-pg-type": "bigint",
                       "description": "Note:\nThis is a Primary Key.<pk/>"},
                "shape": {"x-pg-type": "geometry", "description": "Where"},
                "mood": {"type": "string", "enum": ["ok", "OK", 3, "not ok"],
                         "x-pg-type": "mood", "description": "How"},
                "title": {"type": "string", "nullable": True, "x-pg-type": "text",
                          "description": "Title"},
            }},
            "Unused": {"type": "object"},
        },
        "responses": {"Rows": {"description": "rows"}},
    },
}  # fmt: skip


def test_bad_document_trips_each_rule() -> None:
    found = {(f.rule, f.subject) for f in lint_openapi(BAD)}
    assert found == {
        ("operation_id_duplicate", "paths./books.post"),
        ("operation_id_not_identifier", "paths./books/{id}.delete"),
        ("operation_id_missing", "paths./authors.get"),
        ("operation_description_missing", "paths./books.post"),
        ("operation_tags_missing", "paths./authors.get"),
        ("operation_success_response_missing", "paths./books.post"),
        ("path_parameter_undeclared", "paths./books/{id}.delete"),
        ("table_description_missing", "tags.books"),
        ("column_description_missing", "components.schemas.books"),
        ("untyped_property", "components.schemas.books.properties.shape"),
        ("enum_value_type_mismatch", "components.schemas.books.properties.mood"),
        ("enum_duplicate_value", "components.schemas.books.properties.mood"),
        ("enum_label_not_identifier", "components.schemas.books.properties.mood"),
        ("deprecated_keyword", "components.schemas.books.properties.title.nullable"),
        ("unused_component", "components.schemas.Unused"),
    }
    levels = [f.level for f in lint_openapi(BAD)]
    assert levels == sorted(levels, key=["error", "warning", "info"].index)


def test_cli_openapi_flag(fixture_url: str) -> None:
    runner = CliRunner()
    args = ["lint", "--database-url", fixture_url, "--json", "--fail-on", "never"]
    plain = orjson.loads(runner.invoke(main, args).output)
    with_api = orjson.loads(runner.invoke(main, [*args, "--openapi"]).output)
    rules = {f["rule"] for f in with_api["findings"]}
    assert "table_description_missing" in rules
    assert "table_description_missing" not in {f["rule"] for f in plain["findings"]}


def _spectral(document: dict[str, Any], tmp_path: Path) -> tuple[int, list[dict[str, Any]]]:
    """Spectral's exit status (``--fail-severity warn``) and its findings as JSON."""
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [str(SPECTRAL), "lint", str(path), "--ruleset", str(SPECTRAL_DIR / ".spectral.yaml"),
         "--format", "json", "--fail-severity", "warn", "--quiet"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr  # Spectral ran and reported (maybe "[]")
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return done.returncode, findings


@pytest.mark.skipif(not SPECTRAL.exists(), reason="run `npm ci` in tests/lint/spectral")
def test_spectral_passes_the_generated_documents(fixture_url: str, tmp_path: Path) -> None:
    snapshot, _ = anyio.run(read_lint_input, fixture_url, ("public", "api2"), None)
    for schema in ("public", "api2"):
        document = build_openapi(snapshot, rest_url="https://dbify.example/p/x/rest/v1",
                                 title="shop", version="1", schema=schema)  # fmt: skip
        status, findings = _spectral(document, tmp_path)
        assert findings == [], [(f["code"], f["path"], f["message"]) for f in findings]
        assert status == 0
    # the same run fails on a bad document, so a silent Spectral cannot pass this test
    status, findings = _spectral(BAD, tmp_path)
    assert status != 0
    assert "operation-operationId-unique" in {f["code"] for f in findings}
