"""Invalid credentials are refused in every combination, never served as anonymous.

The project below has an anonymous role that may read ``items``, so any fallback to
anonymous would answer 200 with rows. Every combination of the ``apikey`` header and
``Authorization: Bearer`` (API keys and JWTs, valid and not) where one credential is
invalid must be a 401. A revoked key stops working at once, in either header.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import asyncpg
import httpx
import jwt as pyjwt
import orjson
import pytest

from dbify.auth.api_keys import ApiKey, KeyRing, hash_api_key
from dbify.auth.jwt import JwtConfig, JwtVerifier
from dbify.dataplane.pipeline import RawRequest, handle_data_request
from dbify.dataplane.project import Project, ProjectSettings
from dbify.schema.introspect import introspect
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token
from tests.fixtures.database import server_url

_SECRET = "k" * 32
_ANON, _SERVICE = "dbify_anon_credentials-test", "dbify_service_credentials-test"
_BAD_KEY = "dbify_anon_not-a-key"


def _jwt(secret: str = _SECRET, **claims: Any) -> str:
    return pyjwt.encode({"sub": "u", **claims}, secret, algorithm="HS256")


async def _sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def database(make_database: Callable[..., str]) -> Iterator[tuple[str, str]]:
    anon = f"anon_{secrets.token_hex(4)}"
    url = make_database()
    anyio.run(
        _sql,
        url,
        f"""CREATE ROLE {anon} NOLOGIN; GRANT USAGE ON SCHEMA public TO {anon};
        CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2);
        GRANT SELECT ON items TO {anon};""",
    )
    try:
        yield url, anon
    finally:
        anyio.run(_sql, url, f"DROP OWNED BY {anon}")
        name = url.rpartition("/")[2]
        anyio.run(_sql, server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        anyio.run(_sql, server_url(), f"DROP ROLE IF EXISTS {anon}")


def _get(database: tuple[str, str], headers: dict[str, str], *, jwt: bool = True) -> Any:
    url, anon = database

    async def run() -> tuple[int, Any]:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                snapshot = await introspect(conn, ("public",))
            keys = KeyRing(
                [
                    ApiKey("a", "anon", hash_api_key(_ANON), "p"),
                    ApiKey("s", "service", hash_api_key(_SERVICE), "p"),
                ]
            )
            project = Project(
                id="p1",
                name="credentials",
                pool=pool,
                snapshot=snapshot,
                keys=keys,
                settings=ProjectSettings(anon_role=anon),
                jwt=JwtVerifier(JwtConfig(secret=_SECRET)) if jwt else None,
            )
            raw = RawRequest("GET", "items", "", headers, None, "http://x/p/p1/rest/v1")
            response = await handle_data_request(project, raw)
            return response.status, orjson.loads(response.body)
        finally:
            await pool.close()

    return anyio.run(run)


_VALID = [
    {"apikey": _ANON},
    {"authorization": f"Bearer {_SERVICE}"},
    {"authorization": f"Bearer {_jwt()}"},  # no role claim: the anonymous role
    {"apikey": _ANON, "authorization": f"Bearer {_jwt()}"},
    {"apikey": _ANON, "authorization": f"Bearer {_SERVICE}"},
    {"apikey": _ANON, "authorization": f"Bearer {_ANON}"},
]

_INVALID = {
    "apikey unknown": {"apikey": _BAD_KEY},
    "apikey a bad JWT": {"apikey": _jwt("wrong-secret-but-long-enough-000000")},
    "apikey empty": {"apikey": ""},
    "bearer unknown key": {"authorization": f"Bearer {_BAD_KEY}"},
    "bearer bad signature": {
        "authorization": f"Bearer {_jwt('wrong-secret-0123456789abcdef-long-enough')}"
    },
    "bearer expired": {"authorization": f"Bearer {_jwt(exp=1)}"},
    "bearer alg none": {
        "authorization": "Bearer " + pyjwt.encode({"sub": "u"}, None, algorithm="none")
    },
    "bearer garbage": {"authorization": "Bearer a.b.c"},
    "bearer empty": {"authorization": "Bearer "},
    "basic scheme": {"authorization": "Basic dXNlcjpwYXNz"},
    "both, bad JWT": {"apikey": _ANON, "authorization": f"Bearer {_jwt(exp=1)}"},
    "both, bad bearer key": {"apikey": _SERVICE, "authorization": f"Bearer {_BAD_KEY}"},
    "both, bad apikey beside a JWT": {"apikey": _BAD_KEY, "authorization": f"Bearer {_jwt()}"},
    "both, bad apikey beside a key": {
        "apikey": _BAD_KEY,
        "authorization": f"Bearer {_SERVICE}",
    },
    "both bad": {"apikey": _BAD_KEY, "authorization": "Bearer x.y.z"},
}


@pytest.mark.parametrize("headers", _VALID)
def test_valid_credentials_read(database: tuple[str, str], headers: dict[str, str]) -> None:
    status, body = _get(database, headers)
    assert (status, body) == (200, [{"id": 1}, {"id": 2}])


@pytest.mark.parametrize("headers", list(_INVALID.values()), ids=list(_INVALID))
def test_invalid_credentials_are_401_never_anonymous(
    database: tuple[str, str], headers: dict[str, str]
) -> None:
    status, body = _get(database, headers)
    assert status == 401, body
    assert body["code"] == "PGRST301"


def test_jwt_without_jwt_configured_is_401(database: tuple[str, str]) -> None:
    status, body = _get(database, {"authorization": f"Bearer {_jwt()}"}, jwt=False)
    assert status == 401, body
    status, _ = _get(database, {"apikey": _ANON, "authorization": f"Bearer {_jwt()}"}, jwt=False)
    assert status == 401


def test_no_credentials_is_401(database: tuple[str, str]) -> None:
    status, body = _get(database, {})
    assert status == 401, body


pytestmark = pytest.mark.anyio


async def test_revoked_key_is_refused_at_once_in_either_header(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        auth = {"authorization": f"Bearer {token}"}
        made = await c.api.post(
            "/projects", json={"name": "p", "database_url": fixture_database_url}, headers=auth
        )
        project = made.json()
        created = await c.api.post(
            f"/projects/{project['id']}/keys", json={"name": "ci", "role": "service"}, headers=auth
        )
        key = created.json()["key"]
        path = f"/p/{project['id']}/rest/v1/publishers?select=id&limit=1"
        combos = [
            {"apikey": key},
            {"authorization": f"Bearer {key}"},
            {"apikey": project["anon_key"], "authorization": f"Bearer {key}"},
            {"apikey": key, "authorization": f"Bearer {project['anon_key']}"},
        ]

        async def statuses() -> list[int]:
            responses = [await c.data.get(path, headers=h) for h in combos]
            return [r.status_code for r in responses]

        for _ in range(3):  # warm every verification path
            assert await statuses() == [200] * 4
        revoked = await c.api.delete(f"/projects/{project['id']}/keys/{created.json()['id']}",
                                     headers=auth)  # fmt: skip
        assert revoked.status_code == 204
        assert await statuses() == [401] * 4
        response = await c.data.get(path, headers=combos[0])
        assert isinstance(response, httpx.Response)
        assert response.json()["code"] == "PGRST301"
