"""Access roles through the management API: create, name from a key, replace, delete,
with the live data API following each change (metadata on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dbify.settings import Settings
from tests.fixtures.control import Control, open_control, sign_up_and_token

pytestmark = pytest.mark.anyio


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _rows(c: Control, project_id: str, key: str, query: str = "") -> tuple[int, Any]:
    response = await c.data.get(
        f"/p/{project_id}/rest/v1/publishers?{query}", headers={"apikey": key}
    )
    return response.status_code, response.json()


async def test_access_role_lifecycle(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        response = await c.api.post(
            "/projects", json={"name": "p", "database_url": fixture_database_url},
            headers=_auth(token),
        )  # fmt: skip
        project = response.json()
        base = f"/projects/{project['id']}/access-roles"
        role = {
            "name": "uk_reader",
            "tables": {
                "publishers": {
                    "privileges": ["select"],
                    "columns": ["id", "name", "country"],
                    "row_filter": "country=eq.UK",
                }
            },
        }
        response = await c.api.post(base, json=role, headers=_auth(token))
        assert response.status_code == 201, response.text
        assert (await c.api.post(base, json=role, headers=_auth(token))).status_code == 409
        bad = {**role, "name": "bad", "tables": {"publishers": {"row_filter": "select=id"}}}
        assert (await c.api.post(base, json=bad, headers=_auth(token))).status_code == 400
        assert (
            await c.api.post(base, json={**role, "name": "anon"}, headers=_auth(token))
        ).status_code == 400

        response = await c.api.post(
            f"/projects/{project['id']}/keys", json={"name": "uk", "role": "uk_reader"},
            headers=_auth(token),
        )  # fmt: skip
        key = response.json()["key"]
        status, rows = await _rows(c, project["id"], key)
        assert status == 200
        assert {r["country"] for r in rows} == {"UK"}
        status, _ = await _rows(c, project["id"], key, "select=id,books(id)")
        assert status == 403  # books is not granted

        # Replacing the rules takes effect at once, per-role max_rows included.
        rules: dict[str, Any] = {
            "tables": {"publishers": {"privileges": ["select"], "columns": ["id"]}}
        }
        response = await c.api.put(f"{base}/uk_reader", json=rules, headers=_auth(token))
        assert response.status_code == 200, response.text
        status, rows = await _rows(c, project["id"], key)
        assert (status, len(rows)) == (200, 10)
        assert set(rows[0]) == {"id"}
        limited = {**rules, "max_rows": 3, "statement_timeout_ms": 5000, "max_body_bytes": 512}
        response = await c.api.put(f"{base}/uk_reader", json=limited, headers=_auth(token))
        assert response.json()["max_rows"] == 3, response.text
        assert response.json()["max_body_bytes"] == 512
        status, rows = await _rows(c, project["id"], key)
        assert (status, len(rows)) == (200, 3)
        claims = {"tables": {"publishers": {"privileges": ["select"],
                                            "row_filter": "name=like.$claims.sub"}}}  # fmt: skip
        response = await c.api.put(f"{base}/uk_reader", json=claims, headers=_auth(token))
        assert response.status_code == 400  # a claim value must not be a pattern
        response = await c.api.put(f"{base}/uk_reader", json=rules, headers=_auth(token))

        listed = (await c.api.get(base, headers=_auth(token))).json()
        assert [r["name"] for r in listed] == ["uk_reader"]
        shown = (await c.api.get(f"{base}/uk_reader", headers=_auth(token))).json()
        assert shown["tables"]["publishers"]["columns"] == ["id"]

        # Deleted: the key's role is no longer an access role; it is tried as a database
        # role that does not exist, so the request fails instead of widening.
        assert (await c.api.delete(f"{base}/uk_reader", headers=_auth(token))).status_code == 204
        status, _ = await _rows(c, project["id"], key)
        assert status >= 400
