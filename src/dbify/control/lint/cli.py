"""``dbify lint``: the linter's findings for a project (or a database URL) on stdout.

Exit status 1 when a finding reaches ``--fail-on`` (default ``error``), so CI can gate
on it; ``--json`` prints the same report the management API returns.
"""

from __future__ import annotations

import asyncio
import sys

import click
import orjson

from dbify.control.lint.service import openapi_findings, report_of
from dbify.control.lint.store import read_lint_input
from dbify.control.project_database import resolve_project_database
from dbify.errors import DbifyError
from dbify.lint import lint_snapshot

__all__ = ["lint"]

_RANK = {"error": 0, "warning": 1, "info": 2, "never": -1}


@click.command()
@click.option("--project", "project_id", default=None, help="Project ID (metadata store).")
@click.option("--database-url", default=None, help="Or lint this database directly.")
@click.option("--schema", "schemas", multiple=True, help="Exposed schema (with --database-url).")
@click.option("--openapi", is_flag=True, help="Also lint the generated OpenAPI document.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    default="error",
    show_default=True,
    help="Exit with status 1 when a finding is at least this severe.",
)
def lint(
    project_id: str | None,
    database_url: str | None,
    schemas: tuple[str, ...],
    openapi: bool,
    as_json: bool,
    fail_on: str,
) -> None:
    """Lint a project's exposed schemas: API shape, security and performance problems."""
    target = resolve_project_database(project_id, database_url, schemas)
    try:
        snapshot, facts = asyncio.run(read_lint_input(target.url, target.schemas, target.anon_role))
    except DbifyError as error:
        raise click.ClickException(error.message) from None
    findings = lint_snapshot(snapshot, facts)
    if openapi:
        findings = sorted({*findings, *openapi_findings(snapshot)}, key=lambda f: f.sort_key)
    report = report_of(project_id or "", list(target.schemas), findings)
    if as_json:
        sys.stdout.write(orjson.dumps(report.model_dump(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        for finding in findings:
            click.echo(f"{finding.level.upper():7} {finding.rule}  {finding.subject}")
            click.echo(f"        {finding.message}")
            click.echo(f"        fix: {finding.remedy}")
        counts = report.counts
        click.echo(
            f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info"
        )
    if fail_on != "never" and any(_RANK[f.level] <= _RANK[fail_on] for f in findings):
        sys.exit(1)
