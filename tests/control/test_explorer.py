"""The explorer API: schema summary and the row browser; password change."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

pytestmark = pytest.mark.anyio


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_schema_summary_and_rows(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        response = await c.api.post(
            "/projects", json={"name": "p", "database_url": fixture_database_url},
            headers=_auth(token),
        )  # fmt: skip
        project_id = response.json()["id"]

        response = await c.api.get(f"/projects/{project_id}/schema", headers=_auth(token))
        assert response.status_code == 200, response.text
        summary = response.json()
        books = next(r for r in summary["relations"] if r["name"] == "books")
        assert books["kind"] == "table"
        assert books["primary_key"] == ["id"]
        assert any(c["name"] == "id" and c["primary_key"] for c in books["columns"])
        assert any(r["target"] == "public.authors" for r in books["relationships"])
        assert any(r["kind"] == "view" for r in summary["relations"])
        assert any(f["name"] == "add_numbers" for f in summary["functions"])

        response = await c.api.get(
            f"/projects/{project_id}/rows/publishers?select=id,name&order=id.desc&limit=2",
            headers=_auth(token),
        )
        assert response.status_code == 206, response.text  # count=exact, a partial page
        rows = response.json()
        assert len(rows) == 2
        assert rows[0]["id"] > rows[1]["id"]
        assert response.headers["content-range"].startswith("0-1/")

        response = await c.api.get(f"/projects/{project_id}/rows/nope", headers=_auth(token))
        assert response.status_code == 404
        response = await c.api.get(f"/projects/{project_id}/rows/rpc", headers=_auth(token))
        assert response.status_code in (400, 404)

        other = await sign_up_and_token(c.api, "eve@example.com")
        response = await c.api.get(f"/projects/{project_id}/rows/publishers", headers=_auth(other))
        assert response.status_code == 404


async def test_password_change(control_settings: Callable[..., Settings]) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        path = "/users/me/password"
        wrong = {"current_password": "nope nope", "new_password": "a new secret"}
        response = await c.api.post(path, json=wrong, headers=_auth(token))
        assert response.status_code == 401
        right = {"current_password": "correct horse", "new_password": "a new secret"}
        response = await c.api.post(path, json=right, headers=_auth(token))
        assert response.status_code == 204, response.text
        credentials = {"email": "ada@example.com", "password": "a new secret"}
        response = await c.api.post("/auth/sign-in", json=credentials)
        assert response.status_code == 200
