"""Saved queries through the management API and ``GET /p/{id}/rest/v1/q/{name}``:
checked at save time (one SELECT, parameters, PREPARE), typed bind parameters, pagination,
clear 400s, an injection attempt that stays a value, and writes refused twice (by the
parser at save time, by the READ ONLY transaction at run time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from dbify.control.saved_queries.endpoint import SavedQueryEndpoint
from dbify.control.saved_queries.store import SavedQueryStore
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

pytestmark = pytest.mark.anyio

_SCHEMA = """
CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL,
                     created_at timestamptz NOT NULL);
INSERT INTO orders (customer, total, created_at)
SELECT 'c' || i, i * 10, timestamptz '2024-01-01' + i * interval '1 day'
FROM generate_series(1, 20) AS i;
CREATE FUNCTION sneaky_write() RETURNS int LANGUAGE sql VOLATILE AS
  $$ INSERT INTO orders (customer, total, created_at) VALUES ('x', 0, now()) RETURNING 1 $$;
"""


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _setup(c: Any, database_url: str) -> tuple[str, dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    await conn.execute(_SCHEMA)
    await conn.close()
    token = await sign_up_and_token(c.api)
    response = await c.api.post(
        "/projects", json={"name": "shop", "database_url": database_url}, headers=_auth(token)
    )
    assert response.status_code == 201, response.text
    return token, response.json()


async def _save(api: httpx.AsyncClient, token: str, pid: str, **body: Any) -> httpx.Response:
    return await api.post(f"/projects/{pid}/queries", json=body, headers=_auth(token))


async def test_saved_query_lifecycle(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token, project = await _setup(c, database_url)
        pid = project["id"]
        c.data._transport.app.saved_queries = SavedQueryEndpoint(  # type: ignore[attr-defined]
            SavedQueryStore(c.plane.store.engine)
        )
        response = await _save(
            c.api, token, pid, name="recent-orders",
            sql="select id, customer, total from orders where created_at > :since "
                "and customer <> :exclude order by id -- newest last",
            parameters=[
                {"name": "since", "type": "timestamptz"},
                {"name": "exclude", "type": "text", "required": False, "default": "c3"},
            ],
        )  # fmt: skip
        assert response.status_code == 201, response.text
        saved = response.json()
        assert saved["url"].endswith(f"/p/{pid}/rest/v1/q/recent-orders")
        assert [c["name"] for c in saved["columns"]] == ["id", "customer", "total"]
        listed = (await c.api.get(f"/projects/{pid}/queries", headers=_auth(token))).json()
        assert [q["name"] for q in listed] == ["recent-orders"]

        key = {"apikey": project["service_key"]}
        url = f"/p/{pid}/rest/v1/q/recent-orders"
        response = await c.data.get(url, params={"since": "2024-01-15"}, headers=key)
        assert response.status_code == 200, response.text
        assert [r["id"] for r in response.json()] == [15, 16, 17, 18, 19, 20]
        assert response.json()[0] == {"id": 15, "customer": "c15", "total": 150}
        # Pagination, and Bearer works as on the data API.
        bearer = {"authorization": f"Bearer {project['anon_key']}"}
        response = await c.data.get(
            url, params={"since": "2024-01-01", "limit": "3", "offset": "2"}, headers=bearer
        )
        assert response.status_code == 200, response.text
        assert [r["id"] for r in response.json()] == [4, 5, 6]  # c3 excluded by default
        assert response.headers["content-range"] == "2-4/*"
        # An injection attempt is just a value (interpolated, it would drop c3: 19 rows).
        attempt = "c3' OR customer <> 'c3"
        response = await c.data.get(
            url, params={"since": "2024-01-01", "exclude": attempt}, headers=key
        )
        assert response.status_code == 200
        assert len(response.json()) == 20
        response = await c.data.get(url, params={"since": "2024-01-01'; DROP TABLE orders; --"},
                                    headers=key)  # fmt: skip
        assert response.status_code == 400
        assert "since" in response.json()["message"]
        # Missing, unknown and ill-typed parameters are clear 400s.
        response = await c.data.get(url, headers=key)
        assert response.status_code == 400
        assert response.json()["message"] == "Missing required parameter 'since' (timestamptz)"
        response = await c.data.get(url, params={"since": "2024-01-01", "x": "1"}, headers=key)
        assert response.status_code == 400
        assert "Unknown parameter(s): x" in response.json()["message"]
        response = await c.data.get(url, params={"since": "2024-01-01", "limit": "-1"},
                                    headers=key)  # fmt: skip
        assert response.status_code == 416  # the grammar's range error, as on a table
        # No key, unknown query.
        assert (await c.data.get(url, params={"since": "2024-01-01"})).status_code == 401
        response = await c.data.get(f"/p/{pid}/rest/v1/q/nope", headers=key)
        assert response.status_code == 404
        # An empty result is [].
        response = await c.data.get(url, params={"since": "2030-01-01"}, headers=key)
        assert response.json() == []

        conn = await asyncpg.connect(database_url)
        assert await conn.fetchval("SELECT count(*) FROM orders") == 20
        await conn.close()

        # Update re-validates; delete.
        response = await c.api.patch(
            f"/projects/{pid}/queries/recent-orders", json={"description": "recent"},
            headers=_auth(token),
        )  # fmt: skip
        assert response.status_code == 200
        assert response.json()["description"] == "recent"
        response = await c.api.delete(
            f"/projects/{pid}/queries/recent-orders", headers=_auth(token)
        )
        assert response.status_code == 204


@pytest.mark.parametrize(
    ("sql", "parameters", "message"),
    [
        ("delete from orders", [], "not DELETE"),
        ("update orders set total = 0", [], "not UPDATE"),
        ("select 1; delete from orders", [], "Exactly one statement"),
        ("with d as (delete from orders returning *) select * from d", [], "Data-modifying"),
        ("select * into copy from orders", [], "SELECT INTO"),
        ("select * from orders for update", [], "FOR UPDATE"),
        ("select * from nowhere", [], "does not prepare"),
        ("select * from orders where created_at > :n", [{"name": "n", "type": "integer"}],
         "does not prepare"),
        ("select * from orders where id = :id", [], "not a declared parameter"),
        ("select * from orders", [{"name": "id", "type": "integer"}], "declared but not used"),
        ("select * from orders where id = $1", [], "placeholders"),
    ],
)  # fmt: skip
async def test_unsafe_or_broken_queries_are_refused_at_save_time(
    control_settings: Callable[..., Settings],
    database_url: str,
    sql: str,
    parameters: list[dict[str, str]],
    message: str,
) -> None:
    async with open_control(control_settings()) as c:
        token, project = await _setup(c, database_url)
        response = await _save(c.api, token, project["id"], name="q", sql=sql,
                               parameters=parameters)  # fmt: skip
        assert response.status_code == 400, response.text
        assert message in response.json()["message"]


async def test_a_select_calling_a_writing_function_is_refused_at_run_time(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token, project = await _setup(c, database_url)
        pid = project["id"]
        c.data._transport.app.saved_queries = SavedQueryEndpoint(  # type: ignore[attr-defined]
            SavedQueryStore(c.plane.store.engine)
        )
        response = await _save(c.api, token, pid, name="sneaky", sql="select sneaky_write()")
        assert response.status_code == 201, response.text
        response = await c.data.get(
            f"/p/{pid}/rest/v1/q/sneaky", headers={"apikey": project["service_key"]}
        )
        assert response.status_code == 405, response.text  # 25006: read-only transaction
        assert response.json()["code"] == "25006"
        conn = await asyncpg.connect(database_url)
        assert await conn.fetchval("SELECT count(*) FROM orders") == 20
        await conn.close()
