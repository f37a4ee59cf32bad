"""The OpenAPI document follows the privileges of the request's database role.

Random-named roles on a real PostgreSQL: ``reader`` may read ``posts``, two columns of
``accounts``, insert into ``inbox`` and call ``granted_fn``; ``anon`` may read
``posts`` only. Each sees only that in its document; the service key sees everything.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import asyncpg
import jwt as pyjwt
import orjson
import pytest

from dbify.auth.api_keys import ApiKey, KeyRing, hash_api_key
from dbify.auth.jwt import JwtConfig, JwtVerifier
from dbify.dataplane.pipeline import RawRequest, handle_data_request
from dbify.dataplane.project import Project, ProjectSettings
from dbify.schema.introspect import introspect
from tests.fixtures.database import server_url

_SECRET = "o" * 32
_ANON_KEY, _SERVICE_KEY = "dbify_anon_openapi-roles", "dbify_service_openapi-roles"


async def _sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Setup:
    def __init__(self, url: str, reader: str, anon: str) -> None:
        self.url, self.reader, self.anon = url, reader, anon
        self.queries = 0

    def document(self, headers: dict[str, str]) -> tuple[int, Any]:
        async def run() -> tuple[int, Any]:
            pool = await asyncpg.create_pool(self.url, min_size=1, max_size=2)
            try:
                async with pool.acquire() as conn:
                    snapshot = await introspect(conn, ("public",))
                keys = KeyRing(
                    [
                        ApiKey("k1", "anon", hash_api_key(_ANON_KEY), "p"),
                        ApiKey("k2", "service", hash_api_key(_SERVICE_KEY), "p"),
                    ]
                )
                project = Project(
                    id="p1",
                    name="roles",
                    pool=pool,
                    snapshot=snapshot,
                    keys=keys,
                    settings=ProjectSettings(anon_role=self.anon),
                    jwt=JwtVerifier(JwtConfig(secret=_SECRET)),
                )
                raw = RawRequest("GET", "", "", headers, None, "http://x/p/p1/rest/v1")
                response = await handle_data_request(project, raw)
                # Asked twice: the second answer comes from the per-role cache.
                again = await handle_data_request(project, raw)
                assert again.body == response.body
                assert len(project.role_snapshots) <= 1
                return response.status, orjson.loads(response.body)
            finally:
                await pool.close()

        result: tuple[int, Any] = anyio.run(run)
        return result

    def token(self, role: str) -> dict[str, str]:
        token = pyjwt.encode({"role": role, "sub": "u"}, _SECRET, algorithm="HS256")
        return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def setup(make_database: Callable[..., str]) -> Iterator[Setup]:
    suffix = secrets.token_hex(4)
    reader, anon = f"reader_{suffix}", f"anon_{suffix}"
    url = make_database()
    anyio.run(
        _sql,
        url,
        f"""
        CREATE ROLE {reader} NOLOGIN; CREATE ROLE {anon} NOLOGIN;
        CREATE TABLE posts (id int PRIMARY KEY, title text);
        CREATE TABLE accounts (id int PRIMARY KEY, email text, password_hash text);
        CREATE TABLE audit (id int PRIMARY KEY, what text);
        CREATE TABLE inbox (id int PRIMARY KEY, body text);
        CREATE FUNCTION open_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
        CREATE FUNCTION secret_fn() RETURNS int LANGUAGE sql AS 'SELECT 2';
        CREATE FUNCTION granted_fn(n int) RETURNS int LANGUAGE sql AS 'SELECT n';
        CREATE FUNCTION granted_fn(t text) RETURNS text LANGUAGE sql AS 'SELECT t';
        REVOKE EXECUTE ON FUNCTION secret_fn(), granted_fn(int), granted_fn(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION granted_fn(int) TO {reader};
        GRANT USAGE ON SCHEMA public TO {reader}, {anon};
        GRANT SELECT ON posts TO {reader}, {anon};
        GRANT SELECT (id, email) ON accounts TO {reader};
        GRANT INSERT ON inbox TO {reader};
        """,
    )
    try:
        yield Setup(url, reader, anon)
    finally:
        anyio.run(_sql, url, f"DROP OWNED BY {reader}, {anon}")
        name = url.rpartition("/")[2]
        anyio.run(_sql, server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        anyio.run(_sql, server_url(), f"DROP ROLE IF EXISTS {reader}; DROP ROLE IF EXISTS {anon}")


def _operations(document: dict[str, Any], path: str) -> set[str]:
    return {m for m in document["paths"].get(path, {}) if m != "parameters"}


def test_jwt_role_sees_only_its_privileges(setup: Setup) -> None:
    status, document = setup.document(setup.token(setup.reader))
    assert status == 200, document
    paths = set(document["paths"])
    assert {"/posts", "/accounts", "/inbox", "/rpc/open_fn", "/rpc/granted_fn"} <= paths
    assert not {"/audit", "/rpc/secret_fn"} & paths
    assert set(document["components"]["schemas"]["accounts"]["properties"]) == {"id", "email"}
    assert _operations(document, "/posts") == {"get", "head"}
    assert _operations(document, "/inbox") == {"post"}


def test_anonymous_role_sees_less(setup: Setup) -> None:
    for headers in ({"apikey": _ANON_KEY}, setup.token(setup.anon)):
        status, document = setup.document(headers)
        assert status == 200, document
        relations = {p for p in document["paths"] if not p.startswith("/rpc/") and p != "/"}
        assert relations == {"/posts"}
        assert "/rpc/open_fn" in document["paths"]  # PUBLIC may execute it
        assert "/rpc/granted_fn" not in document["paths"]


def test_service_key_sees_everything(setup: Setup) -> None:
    status, document = setup.document({"apikey": _SERVICE_KEY})
    assert status == 200
    assert {"/posts", "/accounts", "/audit", "/inbox", "/rpc/secret_fn"} <= set(document["paths"])
    assert "password_hash" in document["components"]["schemas"]["accounts"]["properties"]


def test_unknown_role_is_an_error_not_the_full_document(setup: Setup) -> None:
    status, body = setup.document(setup.token(f"ghost_{secrets.token_hex(4)}"))
    assert status >= 400
    assert "paths" not in body
