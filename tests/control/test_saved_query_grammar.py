"""Saved queries at ``/p/{id}/rest/v1/q/{name}`` with the data API's grammar on top
(``select``, filters, ``order``, ranges, ``Prefer: count=exact``, CSV), typed defaults,
the role and statement timeout they run with, and the routes around them (a table
named ``q`` stays at ``/q``; ``/queries/v1/{name}`` is an alias)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from openapi_spec_validator import validate

from dbify.control.saved_queries.endpoint import SavedQueryEndpoint
from dbify.control.saved_queries.store import SavedQueryStore
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

pytestmark = [
    pytest.mark.anyio,
    # The metadata store is not what is under test here: SQLite only keeps it quick.
    pytest.mark.parametrize("metadata_url", ["sqlite"], indirect=True),
]

_SCHEMA = """
CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL,
                     created_at timestamptz NOT NULL);
INSERT INTO orders (customer, total, created_at)
SELECT 'c' || (i % 3), i * 10, timestamptz '2024-01-01' + i * interval '1 day'
FROM generate_series(1, 20) AS i;
CREATE TABLE q (id int PRIMARY KEY, note text);
INSERT INTO q VALUES (1, 'a table named q');
CREATE TABLE secrets (id int, secret text);
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dbify_sq_reader') THEN
    CREATE ROLE dbify_sq_reader NOLOGIN;
  END IF;
END $$;
GRANT dbify_sq_reader TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO dbify_sq_reader;
GRANT SELECT ON orders TO dbify_sq_reader;
"""


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _project(c: Any, database_url: str) -> tuple[str, dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    await conn.execute(_SCHEMA)
    await conn.close()
    token = await sign_up_and_token(c.api)
    response = await c.api.post(
        "/projects", json={"name": "shop", "database_url": database_url}, headers=_auth(token)
    )
    assert response.status_code == 201, response.text
    c.data._transport.app.saved_queries = SavedQueryEndpoint(SavedQueryStore(c.plane.store.engine))
    return token, response.json()


async def _save(api: httpx.AsyncClient, token: str, pid: str, **body: Any) -> httpx.Response:
    return await api.post(f"/projects/{pid}/queries", json=body, headers=_auth(token))


async def test_grammar_applies_on_top_of_a_saved_query(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token, project = await _project(c, database_url)
        pid, key = project["id"], {"apikey": project["service_key"]}
        response = await _save(
            c.api, token, pid, name="since",
            sql="select id, customer, total, created_at from orders where created_at > :since",
            parameters=[{"name": "since", "type": "timestamptz", "required": False,
                         "default": "2024-01-10"}],
        )  # fmt: skip
        assert response.status_code == 201, response.text
        columns = {c["name"]: c["type"] for c in response.json()["columns"]}
        assert columns == {"id": "integer", "customer": "text", "total": "numeric",
                           "created_at": "timestamp with time zone"}  # fmt: skip
        url = f"/p/{pid}/rest/v1/q/since"
        # The default applies: rows after Jan 10 (ids 10..20).
        response = await c.data.get(url, params={"select": "id"}, headers=key)
        assert response.status_code == 200, response.text
        assert [r["id"] for r in response.json()] == list(range(10, 21))
        # select with a rename, a filter on an output column, order, limit and offset.
        response = await c.data.get(
            url,
            params={"since": "2024-01-01", "select": "n:id,customer", "customer": "eq.c1",
                    "order": "id.desc", "limit": "2", "offset": "1"},
            headers={**key, "prefer": "count=exact"},
        )  # fmt: skip
        assert response.status_code == 206, response.text  # a part of 7 rows
        assert response.json() == [{"n": 16, "customer": "c1"}, {"n": 13, "customer": "c1"}]
        assert response.headers["content-range"] == "1-2/7"
        # CSV.
        response = await c.data.get(
            url, params={"select": "id,customer", "id": "lt.12", "order": "id"},
            headers={**key, "accept": "text/csv"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.text == "id,customer\n10,c1\n11,c2"
        # Unknown columns and misspelt parameters are clear 400s.
        response = await c.data.get(url, params={"select": "nope"}, headers=key)
        assert response.status_code == 400
        assert "nope" in response.json()["message"]
        response = await c.data.get(url, params={"sinse": "2024-01-01"}, headers=key)
        assert response.status_code == 400
        assert response.json()["message"] == "Unknown parameter(s): sinse"
        assert "since" in response.json()["hint"]
        response = await c.data.get(url, params={"since": "yesterday"}, headers=key)
        assert response.status_code == 400
        assert response.json()["message"].startswith("Invalid value for parameter 'since'")
        # A table named q stays reachable at /q; the older path is an alias.
        response = await c.data.get(f"/p/{pid}/rest/v1/q", headers=key)
        assert response.json() == [{"id": 1, "note": "a table named q"}]
        response = await c.data.get(f"/p/{pid}/queries/v1/since", params={"select": "id",
                                    "limit": "1"}, headers=key)  # fmt: skip
        assert response.json() == [{"id": 10}]
        response = await c.data.head(url, headers=key)
        assert response.status_code == 200
        assert response.content == b""
        # Documented in the project's OpenAPI (root and docs page), which stays valid.
        for path in (f"/p/{pid}/rest/v1/", f"/p/{pid}/docs/openapi.json"):
            document = (await c.data.get(path, headers=key)).json()
            validate(document)
            operation = document["paths"]["/q/since"]["get"]
            (since,) = [p for p in operation["parameters"] if p.get("name") == "since"]
            assert since["schema"] == {"type": "string", "description": "ISO 8601 timestamp",
                                       "default": "2024-01-10"}  # fmt: skip
            assert not since["required"]
            rows = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert rows["items"]["properties"]["id"]["type"] == ["integer", "null"]
            assert {"$ref": "#/components/parameters/select"} in operation["parameters"]
            assert "/q" in document["paths"]  # the table named q


async def test_defaults_role_and_timeout(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token, project = await _project(c, database_url)
        pid, key = project["id"], {"apikey": project["service_key"]}
        # A default that does not read as its type is refused when saved.
        response = await _save(
            c.api, token, pid, name="bad", sql="select * from orders where id > :n",
            parameters=[{"name": "n", "type": "integer", "default": "ten"}],
        )  # fmt: skip
        assert response.status_code == 400
        assert response.json()["message"] == "Default of parameter 'n': expected an integer"
        response = await _save(c.api, token, pid, name="select", sql="select :select",
                               parameters=[{"name": "select"}])  # fmt: skip
        assert response.status_code == 400  # the grammar's own words are reserved
        # A restricted role: what it may not read is refused at save time...
        response = await _save(c.api, token, pid, name="peek", sql="select * from secrets",
                               run_as_role="dbify_sq_reader")  # fmt: skip
        assert response.status_code == 400
        assert "permission denied" in response.json()["message"]
        # ...and the query runs as that role (SET LOCAL ROLE in the READ ONLY transaction).
        response = await _save(c.api, token, pid, name="who",
                               sql="select current_user as who, count(*) as n from orders",
                               run_as_role="dbify_sq_reader")  # fmt: skip
        assert response.status_code == 201, response.text
        response = await c.data.get(f"/p/{pid}/rest/v1/q/who", headers=key)
        assert response.json() == [{"who": "dbify_sq_reader", "n": 20}]
        # Its own statement timeout (SET LOCAL statement_timeout): 57014 is a 504.
        response = await _save(c.api, token, pid, name="slow", sql="select pg_sleep(2) as s",
                               timeout_ms=100)  # fmt: skip
        assert response.status_code == 201, response.text
        response = await c.data.get(f"/p/{pid}/rest/v1/q/slow", headers=key)
        assert response.status_code == 504, response.text
        assert response.json()["code"] == "57014"
        # Nothing leaks onto the pooled connections: a plain read is the connecting role.
        response = await c.data.get(f"/p/{pid}/rest/v1/q", headers=key)
        assert response.status_code == 200
        # Changing the role re-checks the query; clearing it is ''.
        response = await c.api.patch(f"/projects/{pid}/queries/who", headers=_auth(token),
                                     json={"run_as_role": "", "timeout_ms": 0})  # fmt: skip
        assert response.status_code == 200, response.text
        assert (response.json()["run_as_role"], response.json()["timeout_ms"]) == (None, None)
