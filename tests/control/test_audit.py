"""The audit log: management calls that change something are recorded (who, what, when,
status) and readable by platform admins and by the project's admins only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

pytestmark = pytest.mark.anyio


async def test_changes_are_audited_and_readable_by_admins(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)  # the first user is the platform admin
        auth = {"authorization": f"Bearer {token}"}
        created = await c.api.post(
            "/projects", json={"name": "shop", "database_url": fixture_database_url}, headers=auth
        )
        assert created.status_code == 201, created.text
        project = created.json()["id"]
        refused = await c.api.post(f"/projects/{project}/keys", json={}, headers={})
        assert refused.status_code == 401
        made = await c.api.post(f"/projects/{project}/keys", json={"name": "ci"}, headers=auth)
        assert made.status_code == 201, made.text
        await c.api.get(f"/projects/{project}", headers=auth)  # reads are not audited

        page = (await c.api.get("/audit", headers=auth)).json()
        calls = [(e["method"], e["path"], e["status"]) for e in page["items"]]
        assert calls[:3] == [
            ("POST", f"/v1/projects/{project}/keys", 201),
            ("POST", f"/v1/projects/{project}/keys", 401),
            ("POST", "/v1/projects", 201),
        ]
        newest = page["items"][0]
        assert newest["email"] == "ada@example.com"
        assert newest["user_id"]
        assert newest["project_id"] == project
        assert page["items"][1]["user_id"] is None  # refused: nobody signed in
        assert made.json().get("key", "x") not in str(page)  # bodies are never stored

        first = (await c.api.get("/audit?limit=2", headers=auth)).json()
        rest = (
            await c.api.get(f"/audit?limit=50&cursor={first['next_cursor']}", headers=auth)
        ).json()
        assert [e["id"] for e in first["items"] + rest["items"]] == [e["id"] for e in page["items"]]

        scoped = (await c.api.get(f"/projects/{project}/audit", headers=auth)).json()["items"]
        assert {e["project_id"] for e in scoped} == {project}
        assert len(scoped) == 2

        other = await sign_up_and_token(c.api, "eve@example.com")
        eve = {"authorization": f"Bearer {other}"}
        assert (await c.api.get("/audit", headers=eve)).status_code == 403
        assert (await c.api.get(f"/projects/{project}/audit", headers=eve)).status_code in (
            403,
            404,
        )
