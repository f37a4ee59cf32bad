"""Who may lint a project (any member, viewer and up) and how a report is assembled.

The schema rules always run. When this process can read the request logs (an
analytics store), the usage rules run too: shapes of the last ``window_days`` are read
from the logs, each slow shape gets an ``EXPLAIN`` of its representative query, and
``lint/usage.py`` turns both into findings.
"""

from __future__ import annotations

import time
from collections import Counter

from dbify.backends.analytics import AnalyticsStore, AnalyticsUnavailable
from dbify.control.access import Caller
from dbify.control.analytics.store import AnalyticsQueries
from dbify.control.lint.schemas import FindingOut, LintReport
from dbify.control.lint.store import explain_queries, read_lint_input
from dbify.control.projects.service import ProjectService
from dbify.dataplane.openapi import build_openapi
from dbify.lint import Finding, lint_snapshot
from dbify.lint.openapi import lint_openapi
from dbify.lint.usage import (
    RequestUsage,
    ShapeUsage,
    UsageThresholds,
    lint_usage,
    representative_query,
    resolve_target,
)
from dbify.schema.model import SchemaSnapshot
from dbify.secrets_box import SecretBox

__all__ = ["LintService", "openapi_findings", "read_request_usage", "report_of"]

_DAY = 86_400
_DEFAULT_THRESHOLDS = UsageThresholds()


def report_of(project_id: str, schemas: list[str], findings: list[Finding]) -> LintReport:
    counts = Counter(f.level for f in findings)
    return LintReport(
        project_id=project_id,
        schemas=schemas,
        counts={level: counts.get(level, 0) for level in ("error", "warning", "info")},
        findings=[FindingOut(**f.as_json()) for f in findings],
    )


def openapi_findings(snapshot: SchemaSnapshot) -> list[Finding]:
    """The API lint of the OpenAPI document clients get for the default schema."""
    document = build_openapi(snapshot, rest_url="/rest/v1", title="lint", version="0")
    return lint_openapi(document)


async def read_request_usage(
    store: AnalyticsStore,
    project_id: str,
    snapshot: SchemaSnapshot,
    url: str,
    thresholds: UsageThresholds,
    window_days: int = 7,
) -> RequestUsage:
    """The logged shapes of ``project_id`` and the plans of the slow ones."""
    to = int(time.time()) + 1
    rows = await AnalyticsQueries(store).shapes(project_id, to - window_days * _DAY, to)
    shapes = tuple(
        ShapeUsage(str(m), str(t), str(s), int(n), round(float(p or 0) / 1000, 3))
        for m, t, s, n, p in rows
    )
    slow: list[tuple[tuple[str, str], tuple[str, int]]] = []
    for shape in shapes:
        relation = resolve_target(snapshot, shape.target)
        if shape.p95_ms > thresholds.slow_p95_ms and shape.method == "GET" and relation:
            query = representative_query(relation, shape.shape)
            if query is not None:
                slow.append(((shape.target, shape.shape), query))
    plans = await explain_queries(url, [query for _, query in slow]) if slow else []
    window = f"the last {window_days} day(s)"
    return RequestUsage(shapes, dict(zip([key for key, _ in slow], plans, strict=True)), window)


class LintService:
    def __init__(
        self,
        projects: ProjectService,
        box: SecretBox,
        default_anon_role: str | None,
        analytics: AnalyticsStore | None = None,
    ) -> None:
        self._projects = projects
        self._box = box
        self._default_anon_role = default_anon_role
        self._analytics = analytics

    async def report(
        self,
        caller: Caller,
        project_id: str,
        thresholds: UsageThresholds = _DEFAULT_THRESHOLDS,
        *,
        openapi: bool = False,
    ) -> LintReport:
        record, _ = await self._projects.require_role(caller, project_id, "viewer")
        url = self._box.decrypt(record.database_url_sealed)
        anon_role = record.settings.get("anon_role") or self._default_anon_role
        snapshot, facts = await read_lint_input(url, record.schemas, anon_role)
        findings = lint_snapshot(snapshot, facts)
        if openapi:
            findings = sorted({*findings, *openapi_findings(snapshot)}, key=lambda f: f.sort_key)
        if self._analytics is not None:
            try:
                usage = await read_request_usage(
                    self._analytics, project_id, snapshot, url, thresholds
                )
            except AnalyticsUnavailable:
                usage = None  # the schema findings stand on their own
            if usage is not None:
                findings = sorted(
                    {*findings, *lint_usage(snapshot, facts, usage, thresholds)},
                    key=lambda f: f.sort_key,
                )
        return report_of(project_id, list(record.schemas), findings)
