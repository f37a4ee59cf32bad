"""The request-log rules: seeded log events in a real chDB store over the seeded lint
database find a slow endpoint (with its plan) and unindexed filter columns, and leave
indexed or rarely-filtered columns alone; the management API reports them too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from dbify.analytics.event import RequestLog
from dbify.backends.analytics.chdb_store import ChdbStore
from dbify.control.lint.service import read_request_usage
from dbify.control.lint.store import read_lint_input
from dbify.lint.usage import (
    RequestUsage,
    ShapeUsage,
    UsageThresholds,
    filtered_columns,
    lint_usage,
    representative_query,
)
from dbify.schema.model import SchemaSnapshot
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

# (target, shape, requests, duration in ms)
SEEDED_LOGS = [
    ("posts", "select=id&author_id=eq.?&order=id.desc&limit=10", 150, 450.0),  # slow, no index
    ("posts", "editor_id=eq.?", 150, 2.0),  # indexed
    ("accounts", "email=eq.?", 20, 3.0),  # unindexed but rarely filtered
    ("audit_log", "what=eq.?&happened_at=gte.?", 120, 5.0),  # two unindexed columns
    ("accounts", "id=eq.?", 300, 1.0),  # the primary key
]


def _events(project_id: str) -> list[RequestLog]:
    now_us = int(time.time() * 1_000_000)
    events = []
    for target, shape, count, ms in SEEDED_LOGS:
        for i in range(count):
            events.append(
                RequestLog(
                    event_id=uuid.uuid4().hex,
                    timestamp_us=now_us - i * 1000,
                    project_id=project_id,
                    request_id=uuid.uuid4().hex,
                    method="GET",
                    path=f"/{target}",
                    target=target,
                    query_shape=shape,
                    status=200,
                    error_code="",
                    duration_us=int(ms * 1000),
                    db_us=0,
                    rows=1,
                    response_bytes=10,
                    key_id="k",
                    role="anon",
                    client_ip="",
                    user_agent="t",
                )
            )
    return events


@pytest.fixture(scope="module")
def seeded_url(make_database: Callable[..., str]) -> str:
    return make_database("lint_seeded.sql")


def test_filtered_columns_and_representative_query(seeded_url: str) -> None:
    shape = "select=id&author_id=eq.?&order=id.desc&limit=10&or=?&author.name=eq.?&x=fts.?"
    assert filtered_columns(shape) == [("author_id", "eq"), ("x", "fts")]
    snapshot, _ = anyio.run(read_lint_input, seeded_url, ("public",), None)
    posts = snapshot.relations[next(n for n in snapshot.relations if n.name == "posts")]
    sql, params = representative_query(posts, shape) or ("", 0)
    assert (
        sql == 'SELECT * FROM "public"."posts" WHERE "author_id" = $1 ORDER BY "id" DESC LIMIT 10'
    )
    assert params == 1
    assert representative_query(posts, "select=id") is None


def test_seeded_logs_find_slow_and_unindexed(seeded_url: str, tmp_path: Path) -> None:
    async def run() -> tuple[RequestUsage, list[tuple[str, str, str]]]:
        store = ChdbStore(tmp_path / "chdb")
        try:
            await store.insert(_events("p1"))
            await store.insert(_events("other"))  # another project's logs are not counted
            snapshot, facts = await read_lint_input(seeded_url, ("public", "other"), "lint_anon")
            usage = await read_request_usage(store, "p1", snapshot, seeded_url, UsageThresholds())
            findings = lint_usage(snapshot, facts, usage)
            return usage, [(f.rule, f.subject, f.message) for f in findings]
        finally:
            await store.close()

    usage, findings = anyio.run(run)
    assert sum(s.requests for s in usage.shapes) == sum(c for _, _, c, _ in SEEDED_LOGS)
    found = {(rule, subject) for rule, subject, _ in findings}
    assert found == {
        ("slow_endpoint", "GET /posts?select=id&author_id=eq.?&order=id.desc&limit=10"),
        ("unindexed_filter_column", "public.posts.author_id"),
        ("unindexed_filter_column", "public.audit_log.what"),
        ("unindexed_filter_column", "public.audit_log.happened_at"),
    }
    slow = next(message for rule, _, message in findings if rule == "slow_endpoint")
    assert "450 ms at p95" in slow
    assert "Seq Scan on posts" in slow  # the EXPLAIN of the representative query


def test_thresholds_and_no_logs() -> None:
    usage = RequestUsage((ShapeUsage("GET", "t", "a=eq.?", 5, 90.0),))
    empty = SchemaSnapshot.__new__(SchemaSnapshot)  # the slow rule reads only the usage
    assert lint_usage(empty, None, usage, UsageThresholds(slow_p95_ms=100)) == []
    slow = lint_usage(empty, None, usage, UsageThresholds(slow_p95_ms=50))
    assert [f.rule for f in slow] == ["slow_endpoint"]
    assert slow[0].remedy


@pytest.mark.anyio
@pytest.mark.parametrize("metadata_url", ["sqlite"], indirect=True)
async def test_management_api_reports_usage_findings(
    seeded_url: str, control_settings: Callable[..., Settings]
) -> None:
    async with open_control(control_settings(), request_logging=True) as control:
        assert control.request_logging is not None
        store = control.request_logging.store
        assert store is not None
        token = await sign_up_and_token(control.api)
        auth = {"authorization": f"Bearer {token}"}
        body = {"name": "seeded", "database_url": seeded_url, "schemas": ["public"]}
        created = await control.api.post("/projects", json=body, headers=auth)
        assert created.status_code == 201, created.text
        project_id = created.json()["id"]
        await store.insert(_events(project_id))
        report = (await control.api.get(f"/projects/{project_id}/lint", headers=auth)).json()
        found = {(f["rule"], f["subject"]) for f in report["findings"]}
        assert ("unindexed_filter_column", "public.posts.author_id") in found
        assert any(rule == "slow_endpoint" for rule, _ in found)
        relaxed = await control.api.get(
            f"/projects/{project_id}/lint?slow_ms=1000&min_requests=200", headers=auth
        )
        rules = {f["rule"] for f in relaxed.json()["findings"]}
        assert "slow_endpoint" not in rules
        assert "unindexed_filter_column" not in rules
