"""Projects through the management API, on both metadata backends, with real user DBs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import anyio
import asyncpg
import pytest
import sqlalchemy as sa

from dbify.metadata.tables import metadata
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

pytestmark = pytest.mark.anyio


@pytest.fixture
def empty_database(make_database: Callable[..., str]) -> str:
    return make_database()


@pytest.fixture
def fixture_databases(make_database: Callable[..., str]) -> tuple[str, str]:
    """Two fresh copies of the fixture database (tests may write to them)."""
    return make_database("fixture.sql"), make_database("fixture.sql")


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_create_project_then_first_api_call(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        response = await c.api.post(
            "/projects",
            json={"name": "shop", "database_url": fixture_database_url},
            headers=_auth(token),
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert set(created) == {"id", "name", "rest_url", "anon_key", "service_key"}
        assert created["rest_url"] == f"https://testserver/p/{created['id']}/rest/v1"
        assert created["anon_key"].startswith("dbify_anon_")

        rows = await c.data.get(
            f"/p/{created['id']}/rest/v1/publishers?select=id&order=id&limit=2",
            headers={"apikey": created["service_key"]},
        )
        assert rows.status_code == 200, rows.text
        assert len(rows.json()) == 2

        shown = await c.api.get(f"/projects/{created['id']}", headers=_auth(token))
        assert shown.status_code == 200
        body = shown.json()
        assert body["role"] == "owner"
        assert "database_url" not in body
        assert "anon_key" not in body


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("mysql://x@127.0.0.1/db", "DBIFY610"),
        ("postgresql://postgres@127.0.0.1:5432", "DBIFY610"),
        ("postgresql://postgres@127.0.0.1:1/postgres", "DBIFY612"),
        ("postgresql://postgres@no-such-host.invalid:5432/postgres", "DBIFY612"),
        ("postgresql://postgres@127.0.0.1:5432/dbify_no_such_database", "DBIFY613"),
        ("postgresql://dbify_no_such_role@127.0.0.1:5432/postgres", "DBIFY611"),
    ],
)
async def test_create_reports_clear_connection_errors(
    control_settings: Callable[..., Settings], url: str, code: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        response = await c.api.post(
            "/projects", json={"name": "bad", "database_url": url}, headers=_auth(token)
        )
        assert response.status_code in (400, 422), response.text
        body = response.json()
        assert body["code"] == code, body
        assert set(body) == {"code", "message", "details", "hint"}
        listed = await c.api.get("/projects", headers=_auth(token))
        assert listed.json()["total"] == 0


async def test_test_connection_before_create_stores_nothing(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        checked = await c.api.post(
            "/projects/test-connection",
            json={"database_url": fixture_database_url},
            headers=_auth(token),
        )
        assert checked.status_code == 200, checked.text
        found = checked.json()
        assert found["ok"] is True
        assert found["server_version"] >= 120000
        assert found["tables"] >= 5
        assert found["functions"] >= 1
        bad_url = fixture_database_url.rsplit("/", 1)[0] + "/no_such_database_here"
        refused = await c.api.post(
            "/projects/test-connection", json={"database_url": bad_url}, headers=_auth(token)
        )
        assert refused.status_code in (400, 422), refused.text
        assert refused.json()["message"]
        assert "no_such_database_here" in refused.text
        unauthenticated = await c.api.post(
            "/projects/test-connection", json={"database_url": fixture_database_url}
        )
        assert unauthenticated.status_code == 401
        assert (await c.api.get("/projects", headers=_auth(token))).json()["total"] == 0


async def _run_sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_missing_privileges_are_reported(
    control_settings: Callable[..., Settings], empty_database: str
) -> None:
    url = empty_database
    name = url.rpartition("/")[2]
    role = f"r_{name[-12:]}"
    await _run_sql(url, f"CREATE ROLE {role} LOGIN; REVOKE CONNECT ON DATABASE {name} FROM PUBLIC")
    role_url = url.replace("postgres@", f"{role}@", 1)
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        response = await c.api.post(
            "/projects", json={"name": "p", "database_url": role_url}, headers=_auth(token)
        )
        assert response.json()["code"] == "DBIFY614", response.text
        await _run_sql(url, f"GRANT CONNECT ON DATABASE {name} TO {role}")
        await _run_sql(url, "CREATE SCHEMA hidden; REVOKE ALL ON SCHEMA hidden FROM PUBLIC")
        response = await c.api.post(
            "/projects",
            json={"name": "p", "database_url": role_url, "schemas": ["hidden"]},
            headers=_auth(token),
        )
        assert response.json()["code"] == "DBIFY614", response.text
    await _run_sql(url, f"DROP SCHEMA hidden; REVOKE ALL ON DATABASE {name} FROM {role}")
    await _run_sql(url, f"DROP ROLE {role}")


async def test_password_never_stored_in_clear(
    control_settings: Callable[..., Settings],
    fixture_databases: tuple[str, str],
    metadata_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The password of a project's URL is in no table of the metadata store, no log
    record (every logger, DEBUG and up, tracebacks included) and no response, through
    creation, failed connections, a URL change, a dead database and deletion."""
    caplog.set_level(logging.DEBUG)
    password = "Pw-Zq8x1-unlikely-string"
    url = fixture_databases[0].replace("postgres@", f"postgres:{password}@", 1)
    dead = f"postgresql://postgres:{password}@127.0.0.1:1/x"
    missing = url.rsplit("/", 1)[0] + "/dbify_no_such_database"
    texts: list[str] = []
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        response = await c.api.post(
            "/projects", json={"name": "p", "database_url": url}, headers=_auth(token)
        )
        assert response.status_code == 201, response.text
        created = response.json()
        project_id = created["id"]
        texts.append(response.text)
        for bad in (dead, missing):
            for path, body in (
                ("/projects", {"name": "bad", "database_url": bad}),
                ("/projects/test-connection", {"database_url": bad}),
            ):
                refused = await c.api.post(path, json=body, headers=_auth(token))
                assert refused.status_code in (400, 422), refused.text
                texts.append(refused.text)
            refused = await c.api.patch(
                f"/projects/{project_id}", json={"database_url": bad}, headers=_auth(token)
            )
            assert refused.status_code in (400, 422), refused.text
            texts.append(refused.text)
        for extra in ("/status", ""):
            texts.append(
                (await c.api.get(f"/projects/{project_id}{extra}", headers=_auth(token))).text
            )
        texts.append(
            (await c.api.post(f"/projects/{project_id}/test-connection", headers=_auth(token))).text
        )

        # The project's database goes away: requests fail, the pool logs why.
        async with c.plane.store.engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE projects SET database_url_sealed = :s WHERE id = :i"),
                {"s": c.plane.box.encrypt(dead), "i": project_id},
            )
        assert c.plane.directory is not None
        await c.plane.directory.project_changed(project_id)
        failed = await c.data.get(
            f"/p/{project_id}/rest/v1/publishers", headers={"apikey": created["service_key"]}
        )
        assert failed.status_code == 503, failed.text
        texts.append(failed.text)
        texts.append(
            (await c.api.post(f"/projects/{project_id}/test-connection", headers=_auth(token))).text
        )
        status = await c.api.get(f"/projects/{project_id}/status", headers=_auth(token))
        texts.append(status.text)
        # Status says the database is unreachable and why (without the password).
        assert status.json()["reachable"] is False, status.text
        assert status.json()["last_error"], status.text
        assert status.json()["schema_loaded_at"] is not None
        texts.append((await c.api.get("/audit", headers=_auth(token))).text)

        dump = []
        async with c.plane.store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = await conn.execute(sa.select(table))
                dump.extend(str(tuple(r)) for r in rows)
        assert dump
        assert not any(password in line for line in dump)
        # the key secrets are not stored either
        assert not any(created["service_key"] in line for line in dump)
        assert any(r.name.startswith("dbify") for r in caplog.records)  # logs were captured
        await c.api.delete(f"/projects/{project_id}", headers=_auth(token))
    for text in texts:
        assert password not in text
    formatter = logging.Formatter("%(message)s %(exc_info)s %(stack_info)s")
    for record in caplog.records:
        line = formatter.format(record) + repr(record.args)
        assert password not in line, (record.name, line)
    if metadata_url.startswith("sqlite"):
        path = Path(metadata_url.removeprefix("sqlite:///"))
        for file in path.parent.glob(path.name + "*"):  # the database, -wal, -journal
            assert password.encode() not in file.read_bytes()


async def test_list_update_pause_delete(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        ids = []
        for name in ("a", "b", "c"):
            response = await c.api.post(
                "/projects",
                json={"name": name, "database_url": fixture_database_url},
                headers=_auth(token),
            )
            ids.append(response.json()["id"])
        page = (await c.api.get("/projects?limit=2&offset=1", headers=_auth(token))).json()
        assert page["total"] == 3
        assert [p["name"] for p in page["items"]] == ["b", "c"]

        response = await c.api.patch(
            f"/projects/{ids[0]}",
            json={"name": "renamed", "max_rows": 1, "allow_unfiltered_writes": True},
            headers=_auth(token),
        )
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "renamed"
        assert response.json()["config"]["max_rows"] == 1
        live = c.plane.directory.get(ids[0]) if c.plane.directory else None
        assert live is not None
        assert live.settings.max_rows == 1
        assert live.settings.allow_unfiltered_mutations is True

        keys = (await c.api.get(f"/projects/{ids[0]}/keys", headers=_auth(token))).json()
        service = next(k for k in keys["items"] if k["role"] == "service")
        assert "key" not in service

        response = await c.api.post(f"/projects/{ids[1]}/pause", headers=_auth(token))
        assert response.json()["paused"] is True
        assert c.plane.directory is not None
        assert c.plane.directory.get(ids[1]) is None
        response = await c.api.post(f"/projects/{ids[1]}/resume", headers=_auth(token))
        assert response.json()["paused"] is False
        assert c.plane.directory.get(ids[1]) is not None

        status = await c.api.post(f"/projects/{ids[2]}/test-connection", headers=_auth(token))
        assert status.status_code == 200, status.text
        assert status.json()["reachable"] is True
        assert status.json()["schema_loaded_at"] is not None

        response = await c.api.delete(f"/projects/{ids[2]}", headers=_auth(token))
        assert response.status_code == 204
        assert c.plane.directory.get(ids[2]) is None
        missing = await c.api.get(f"/projects/{ids[2]}", headers=_auth(token))
        assert missing.status_code == 404
        assert missing.json()["code"] == "DBIFY603"


async def test_members_and_visibility(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        owner = await sign_up_and_token(c.api, "owner@example.com")
        other = await sign_up_and_token(c.api, "other@example.com")
        project = (
            await c.api.post(
                "/projects",
                json={"name": "p", "database_url": fixture_database_url},
                headers=_auth(owner),
            )
        ).json()
        assert (await c.api.get("/projects", headers=_auth(other))).json()["total"] == 0
        hidden = await c.api.get(f"/projects/{project['id']}", headers=_auth(other))
        assert hidden.status_code == 404

        response = await c.api.put(
            f"/projects/{project['id']}/members",
            json={"email": "other@example.com", "role": "viewer"},
            headers=_auth(owner),
        )
        assert response.status_code == 200, response.text
        seen = await c.api.get(f"/projects/{project['id']}", headers=_auth(other))
        assert seen.json()["role"] == "viewer"
        refused = await c.api.patch(
            f"/projects/{project['id']}", json={"name": "x"}, headers=_auth(other)
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "DBIFY602"
        refused = await c.api.post(
            f"/projects/{project['id']}/keys", json={"name": "k"}, headers=_auth(other)
        )
        assert refused.status_code == 403


async def test_url_change_recreates_the_pool(
    control_settings: Callable[..., Settings], fixture_databases: tuple[str, str]
) -> None:
    first, second = fixture_databases
    await _run_sql(second, "INSERT INTO publishers (name) VALUES ('only in second')")
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = (
            await c.api.post(
                "/projects", json={"name": "p", "database_url": first}, headers=_auth(token)
            )
        ).json()
        headers = {"apikey": project["service_key"]}
        path = f"/p/{project['id']}/rest/v1/publishers?name=eq.only in second"
        assert (await c.data.get(path, headers=headers)).json() == []
        response = await c.api.patch(
            f"/projects/{project['id']}", json={"database_url": second}, headers=_auth(token)
        )
        assert response.status_code == 200, response.text
        rows = (await c.data.get(path, headers=headers)).json()
        assert [r["name"] for r in rows] == ["only in second"]


@pytest.mark.timing
async def test_slow_project_does_not_block_others(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    settings = control_settings(
        database={"connect_timeout_seconds": 2}, projects={"retry_after_failure_seconds": 30}
    )
    async with open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        ids = []
        for name in ("dead", "healthy"):
            response = await c.api.post(
                "/projects",
                json={"name": name, "database_url": fixture_database_url},
                headers=_auth(token),
            )
            ids.append((response.json()["id"], response.json()["service_key"]))
        # The dead project's database moves to a host that never answers.
        sealed = c.plane.box.encrypt("postgresql://postgres@10.255.255.1:5432/x")
        async with c.plane.store.engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE projects SET database_url_sealed = :s WHERE id = :i"),
                {"s": sealed, "i": ids[0][0]},
            )
        assert c.plane.directory is not None
        await c.plane.directory.project_changed(ids[0][0])

        results: dict[str, tuple[int, float]] = {}

        async def call(label: str, project_id: str, key: str) -> None:
            start = anyio.current_time()
            response = await c.data.get(
                f"/p/{project_id}/rest/v1/publishers?select=id&limit=1", headers={"apikey": key}
            )
            results[label] = (response.status_code, anyio.current_time() - start)

        async with anyio.create_task_group() as group:
            group.start_soon(call, "dead", *ids[0])
            await anyio.sleep(0.05)
            for i in range(5):
                group.start_soon(call, f"healthy{i}", *ids[1])
        assert results["dead"][0] == 503
        for i in range(5):
            status, elapsed = results[f"healthy{i}"]
            assert status == 200
            assert elapsed < 1.0, results
        # fails fast afterwards, without waiting for the dead host again
        start = anyio.current_time()
        again = await c.data.get(
            f"/p/{ids[0][0]}/rest/v1/publishers", headers={"apikey": ids[0][1]}
        )
        assert again.status_code == 503
        assert anyio.current_time() - start < 0.5
