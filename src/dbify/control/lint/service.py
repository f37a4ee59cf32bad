"""Who may lint a project (any member, viewer and up) and how a report is assembled."""

from __future__ import annotations

from collections import Counter

from dbify.control.access import Caller
from dbify.control.lint.schemas import FindingOut, LintReport
from dbify.control.lint.store import read_lint_input
from dbify.control.projects.service import ProjectService
from dbify.lint import Finding, lint_snapshot
from dbify.secrets_box import SecretBox

__all__ = ["LintService", "report_of"]


def report_of(project_id: str, schemas: list[str], findings: list[Finding]) -> LintReport:
    counts = Counter(f.level for f in findings)
    return LintReport(
        project_id=project_id,
        schemas=schemas,
        counts={level: counts.get(level, 0) for level in ("error", "warning", "info")},
        findings=[FindingOut(**f.as_json()) for f in findings],
    )


class LintService:
    def __init__(
        self, projects: ProjectService, box: SecretBox, default_anon_role: str | None
    ) -> None:
        self._projects = projects
        self._box = box
        self._default_anon_role = default_anon_role

    async def report(self, caller: Caller, project_id: str) -> LintReport:
        record, _ = await self._projects.require_role(caller, project_id, "viewer")
        url = self._box.decrypt(record.database_url_sealed)
        anon_role = record.settings.get("anon_role") or self._default_anon_role
        snapshot, facts = await read_lint_input(url, record.schemas, anon_role)
        return report_of(project_id, list(record.schemas), lint_snapshot(snapshot, facts))
