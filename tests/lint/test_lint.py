"""The linter on a seeded database (each problem found) and a clean one (nothing found),
through the rules, the CLI and the management API."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import orjson
import pytest
from click.testing import CliRunner

from dbify.cli import main
from dbify.control.lint.store import read_lint_input
from dbify.lint import Finding, lint_snapshot
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

SEEDED_EXPECTED = {
    ("no_primary_key", "public.audit_log"),
    ("view_without_key", "public.post_titles"),
    ("foreign_key_without_index", "public.posts.posts_author_id_fkey"),
    ("ambiguous_relationship", "public.posts -> public.accounts"),
    ("name_needs_quoting", "public.posts.Title"),
    ("reserved_column_name", "public.posts.order"),
    ("name_clash_across_schemas", "accounts"),
    ("unnamed_parameter", "public.echo"),
    ("sensitive_column", "public.accounts.password_hash"),
    ("rls_disabled", "public.accounts"),
    ("anon_write_access", "public.accounts"),
    ("security_definer_function", "public.whoami"),
    ("view_bypasses_rls", "public.post_titles"),
}


def _lint(url: str, schemas: tuple[str, ...], anon_role: str) -> list[Finding]:
    snapshot, facts = anyio.run(read_lint_input, url, schemas, anon_role)
    return lint_snapshot(snapshot, facts)


@pytest.fixture(scope="module")
def seeded_url(make_database: Callable[..., str]) -> str:
    return make_database("lint_seeded.sql")


@pytest.fixture(scope="module")
def clean_url(make_database: Callable[..., str]) -> str:
    return make_database("lint_clean.sql")


def test_every_seeded_problem_is_found(seeded_url: str) -> None:
    findings = _lint(seeded_url, ("public", "other"), "lint_anon")
    found = {(f.rule, f.subject) for f in findings}
    assert found >= SEEDED_EXPECTED, SEEDED_EXPECTED - found
    for finding in findings:
        assert finding.message
        assert finding.remedy
    # the indexed foreign key is not reported; the secret column is readable by anon
    assert ("foreign_key_without_index", "public.posts.posts_editor_id_fkey") not in found
    levels = {(f.rule, f.subject): f.level for f in findings}
    assert levels["sensitive_column", "public.accounts.password_hash"] == "error"
    assert findings[0].level == "error"  # most severe first


def test_clean_database_has_no_findings(clean_url: str) -> None:
    assert _lint(clean_url, ("public",), "lint_clean_anon") == []


def test_cli_exit_status_and_json(seeded_url: str, clean_url: str) -> None:
    runner = CliRunner()
    env = {"DBIFY_API__ANON_ROLE": "lint_anon"}
    args = ["lint", "--database-url", seeded_url, "--schema", "public", "--schema", "other"]
    result = runner.invoke(main, [*args, "--json"], env=env)
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.output)
    assert report["counts"]["error"] >= 3
    assert {"rule", "level", "category", "subject", "message", "remedy"} <= set(
        report["findings"][0]
    )
    text = runner.invoke(main, [*args, "--fail-on", "never"], env=env)
    assert text.exit_code == 0
    assert "no_primary_key  public.audit_log" in text.output
    clean = runner.invoke(
        main, ["lint", "--database-url", clean_url], env={"DBIFY_API__ANON_ROLE": "lint_clean_anon"}
    )
    assert clean.exit_code == 0
    assert "0 error(s), 0 warning(s), 0 info" in clean.output
    assert runner.invoke(main, ["lint"]).exit_code == 2  # neither --project nor --database-url


@pytest.mark.anyio
@pytest.mark.parametrize("metadata_url", ["sqlite"], indirect=True)
async def test_management_api_lints_a_project(
    seeded_url: str, control_settings: Callable[..., Settings]
) -> None:
    async with open_control(control_settings()) as control:
        token = await sign_up_and_token(control.api)
        auth = {"authorization": f"Bearer {token}"}
        body = {"name": "seeded", "database_url": seeded_url, "schemas": ["public", "other"],
                "config": {"anon_role": "lint_anon"}}  # fmt: skip
        created = await control.api.post("/projects", json=body, headers=auth)
        assert created.status_code == 201, created.text
        project_id = created.json()["id"]
        response = await control.api.get(f"/projects/{project_id}/lint", headers=auth)
        assert response.status_code == 200, response.text
        report = response.json()
        found = {(f["rule"], f["subject"]) for f in report["findings"]}
        assert found >= SEEDED_EXPECTED
        assert report["schemas"] == ["public", "other"]
        assert (await control.api.get(f"/projects/{project_id}/lint")).status_code == 401
        missing = await control.api.get("/projects/nope/lint", headers=auth)
        assert missing.status_code == 404
