"""API keys: create/list/revoke/rotate, isolation between projects, usage recording."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from dbify.settings import Settings
from tests.fixtures.control import Control, open_control, sign_up_and_token

pytestmark = pytest.mark.anyio


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _project(c: Control, token: str, url: str, name: str = "p") -> dict[str, str]:
    response = await c.api.post(
        "/projects", json={"name": name, "database_url": url}, headers=_auth(token)
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


async def _read(c: Control, project_id: str, key: str) -> int:
    response = await c.data.get(
        f"/p/{project_id}/rest/v1/publishers?select=id&limit=1", headers={"apikey": key}
    )
    return response.status_code


async def test_key_of_one_project_is_rejected_by_another(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        a = await _project(c, token, fixture_database_url, "a")
        b = await _project(c, token, fixture_database_url, "b")
        assert await _read(c, a["id"], a["service_key"]) == 200
        assert await _read(c, b["id"], a["service_key"]) == 401
        assert await _read(c, b["id"], a["anon_key"]) == 401
        assert await _read(c, b["id"], b["service_key"]) == 200


async def test_create_list_revoke(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c, token, fixture_database_url)
        response = await c.api.post(
            f"/projects/{project['id']}/keys",
            json={"name": "ci", "role": "service"},
            headers=_auth(token),
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["key"].startswith(created["prefix"])
        assert await _read(c, project["id"], created["key"]) == 200

        listed = (await c.api.get(f"/projects/{project['id']}/keys", headers=_auth(token))).json()
        assert listed["total"] == 3
        assert {k["name"] for k in listed["items"]} == {"anon", "service", "ci"}
        assert all("key" not in k and "key_hash" not in k for k in listed["items"])
        assert created["key"] not in str(listed)

        # usage is recorded in memory and written in a batch
        assert c.plane.directory is not None
        await c.plane.directory.flush_usage()
        listed = (await c.api.get(f"/projects/{project['id']}/keys", headers=_auth(token))).json()
        used = next(k for k in listed["items"] if k["id"] == created["id"])
        assert used["last_used_at"] is not None

        response = await c.api.delete(
            f"/projects/{project['id']}/keys/{created['id']}", headers=_auth(token)
        )
        assert response.status_code == 204
        assert await _read(c, project["id"], created["key"]) == 401
        again = await c.api.delete(
            f"/projects/{project['id']}/keys/{created['id']}", headers=_auth(token)
        )
        assert again.status_code == 404


async def test_rotate_keeps_old_key_for_grace_period(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c, token, fixture_database_url)
        keys = (await c.api.get(f"/projects/{project['id']}/keys", headers=_auth(token))).json()
        service_id = next(k["id"] for k in keys["items"] if k["role"] == "service")

        rotated = await c.api.post(
            f"/projects/{project['id']}/keys/{service_id}/rotate",
            json={"grace_seconds": 3600},
            headers=_auth(token),
        )
        assert rotated.status_code == 201, rotated.text
        new_key = rotated.json()["key"]
        assert await _read(c, project["id"], new_key) == 200
        assert await _read(c, project["id"], project["service_key"]) == 200

        rotated = await c.api.post(
            f"/projects/{project['id']}/keys/{rotated.json()['id']}/rotate",
            json={"grace_seconds": 0},
            headers=_auth(token),
        )
        assert await _read(c, project["id"], new_key) == 401
        assert await _read(c, project["id"], rotated.json()["key"]) == 200


async def test_expired_and_role_keys(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c, token, fixture_database_url)
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        expired = await c.api.post(
            f"/projects/{project['id']}/keys",
            json={"name": "old", "role": "service", "expires_at": past},
            headers=_auth(token),
        )
        assert expired.status_code == 201
        assert await _read(c, project["id"], expired.json()["key"]) == 401

        bad = await c.api.post(
            f"/projects/{project['id']}/keys",
            json={"name": "x", "role": "bad role; drop"},
            headers=_auth(token),
        )
        assert bad.status_code == 400
        assert bad.json()["code"] == "DBIFY600"

        role_key = await c.api.post(
            f"/projects/{project['id']}/keys",
            json={"name": "as postgres", "role": "postgres"},
            headers=_auth(token),
        )
        assert role_key.status_code == 201
        assert role_key.json()["key"].startswith("dbify_role_")
        assert await _read(c, project["id"], role_key.json()["key"]) == 200


async def test_keys_survive_a_restart(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    settings = control_settings()
    async with open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c, token, fixture_database_url)
    async with open_control(settings) as c:
        assert await _read(c, project["id"], project["anon_key"]) == 200
        assert await _read(c, project["id"], "dbify_anon_not-a-key") == 401


async def test_key_lookups_cost_no_metadata_round_trip(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    """Requests are authenticated from memory: not one statement reaches the metadata
    store while keys are checked (valid, unknown, another project's), and a revoke takes
    effect on the next request without a lookup either."""
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        a = await _project(c, token, fixture_database_url, "a")
        b = await _project(c, token, fixture_database_url, "b")
        extra = await c.api.post(
            f"/projects/{a['id']}/keys", json={"name": "ci", "role": "service"},
            headers=_auth(token),
        )  # fmt: skip
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        engine = c.plane.store.engine.sync_engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            for _ in range(20):
                assert await _read(c, a["id"], a["anon_key"]) == 200
                assert await _read(c, a["id"], extra.json()["key"]) == 200
                assert await _read(c, a["id"], "dbify_anon_" + "x" * 43) == 401
                assert await _read(c, a["id"], b["service_key"]) == 401
            # Usage is written by the background batch, never by a request.
            assert not [s for s in statements if "UPDATE api_keys" not in s], statements
            statements.clear()
            event.remove(engine, "before_cursor_execute", seen)
            revoked = await c.api.delete(
                f"/projects/{a['id']}/keys/{extra.json()['id']}", headers=_auth(token)
            )
            assert revoked.status_code == 204
            event.listen(engine, "before_cursor_execute", seen)
            assert await _read(c, a["id"], extra.json()["key"]) == 401
            assert await _read(c, a["id"], a["anon_key"]) == 200
            assert not [s for s in statements if "UPDATE api_keys" not in s], statements
        finally:
            if event.contains(engine, "before_cursor_execute", seen):
                event.remove(engine, "before_cursor_execute", seen)
