"""JWTs against a real ``dbify serve``: roles, RLS on request.jwt.claims, request.* settings."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio
import asyncpg
import httpx
import jwt
import pytest

from tests.auth.jwks_server import JwksServer, KeyPair, claims
from tests.fixtures.database import server_url
from tests.fixtures.server import RunningServer, start_server, stop_server

SECRET = "rls-test-secret-long-enough-for-hs256-0123456789"


@dataclass
class Setup:
    server: RunningServer
    web: str
    anon: str
    idp: JwksServer
    key: KeyPair

    def token(self, **extra: object) -> str:
        return jwt.encode(claims(**extra), SECRET, algorithm="HS256")

    def _headers(self, token: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The token as a bearer, or the anon key without one; then ``extra``."""
        headers = (
            {"authorization": f"Bearer {token}"} if token else {"apikey": self.server.anon_key}
        )
        return {**headers, **(extra or {})}

    def get(self, path: str, token: str | None = None, **kw: object) -> httpx.Response:
        headers = self._headers(token, kw.pop("headers", None))  # type: ignore[arg-type]
        return httpx.get(f"{self.server.rest_url}{path}", headers=headers, **kw)  # type: ignore[arg-type]

    def post(
        self, path: str, token: str | None, body: object, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.post(
            f"{self.server.rest_url}{path}", headers=self._headers(token, headers), json=body
        )


async def _sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def setup(make_database: Callable[..., str]) -> Iterator[Setup]:
    suffix = secrets.token_hex(4)
    web, anon = f"web_{suffix}", f"anon_{suffix}"
    url = make_database()
    anyio.run(
        _sql,
        url,
        f"""
        CREATE ROLE {web} NOLOGIN; CREATE ROLE {anon} NOLOGIN;
        CREATE TABLE notes (id serial PRIMARY KEY, owner text NOT NULL, body text);
        INSERT INTO notes (owner, body) VALUES ('alice', 'a1'), ('alice', 'a2'), ('bob', 'b1');
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON notes USING (
          owner = nullif(current_setting('request.jwt.claims', true), '')::json->>'sub');
        GRANT USAGE ON SCHEMA public TO {web}, {anon};
        GRANT SELECT ON notes TO {web};
        CREATE FUNCTION whoami() RETURNS json LANGUAGE sql STABLE AS $$
          SELECT json_build_object(
            'user', current_user,
            'method', current_setting('request.method', true),
            'path', current_setting('request.path', true),
            'probe', nullif(current_setting('request.headers', true), '')::json->>'x-probe',
            'sub', nullif(current_setting('request.jwt.claims', true), '')::json->>'sub') $$;
        GRANT EXECUTE ON FUNCTION whoami() TO {web};
        CREATE TABLE feedback (id serial PRIMARY KEY, body text);
        GRANT INSERT ON feedback TO {anon};
        GRANT USAGE ON SEQUENCE feedback_id_seq TO {anon};
        CREATE TABLE letters (id serial PRIMARY KEY, body text);
        ALTER TABLE letters ENABLE ROW LEVEL SECURITY;
        CREATE POLICY post_only ON letters FOR INSERT WITH CHECK (true);
        GRANT SELECT, INSERT ON letters TO {web};
        GRANT USAGE ON SEQUENCE letters_id_seq TO {web};
        """,
    )
    idp = JwksServer()
    key = KeyPair("RS256", "idp-1")
    idp.keys = [key]
    server = start_server(
        url,
        env={
            "DBIFY_AUTH__JWT_SECRET": SECRET,
            "DBIFY_AUTH__JWKS_URL": f"{idp.url}/jwks.json",
            "DBIFY_API__ANON_ROLE": anon,
        },
    )
    try:
        yield Setup(server, web, anon, idp, key)
    finally:
        stop_server(server)
        idp.close()
        drop = f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE);'
        anyio.run(_sql, server_url(), drop)
        anyio.run(_sql, server_url(), f"DROP ROLE IF EXISTS {web}; DROP ROLE IF EXISTS {anon};")


def test_two_users_see_only_their_rows(setup: Setup) -> None:
    alice = setup.token(role=setup.web, sub="alice")
    bob = setup.token(role=setup.web, sub="bob")
    a = setup.get("/notes?select=body&order=id", alice)
    assert a.status_code == 200, a.text
    assert a.json() == [{"body": "a1"}, {"body": "a2"}]
    b = setup.get("/notes?select=body", bob)
    assert b.json() == [{"body": "b1"}]
    # an RS256 token from the identity provider's JWKS works the same
    via_idp = setup.key.sign(claims(role=setup.web, sub="bob"))
    assert setup.get("/notes?select=body", via_idp).json() == [{"body": "b1"}]


def test_role_without_insert_privilege_gets_403(setup: Setup) -> None:
    alice = setup.token(role=setup.web, sub="alice")
    response = setup.post("/notes", alice, {"owner": "alice", "body": "x"})
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "42501"


def test_insert_only_roles_write_with_return_minimal(setup: Setup) -> None:
    """As PostgREST: a write that returns nothing needs no SELECT, neither the privilege
    nor an RLS policy (it has no RETURNING); asking for the row back does."""
    rows = [{"body": "anonymous note"}, {"body": "another"}]
    minimal = setup.post("/feedback", None, rows, {"prefer": "count=exact"})
    assert (minimal.status_code, minimal.headers["content-range"]) == (201, "*/2"), minimal.text
    represent = {"prefer": "return=representation"}
    represented = setup.post("/feedback", None, {"body": "and back?"}, represent)
    assert (represented.status_code, represented.json()["code"]) == (401, "42501")
    alice = setup.token(role=setup.web, sub="alice")
    posted = setup.post("/letters", alice, {"body": "dear"})
    assert posted.status_code == 201, posted.text
    back = setup.post("/letters", alice, {"body": "dear again"}, represent)
    assert (back.status_code, back.json()["code"]) == (403, "42501")  # no SELECT policy
    assert setup.get("/letters", alice).json() == []  # RLS: nothing readable


def test_anonymous_role_without_privilege_gets_401(setup: Setup) -> None:
    no_role = setup.token(sub="alice")  # no role claim: the anonymous role
    response = setup.get("/notes", no_role)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "42501"
    assert setup.get("/notes").status_code == 401  # the anon key runs as the same role


def test_request_settings_are_visible_to_sql(setup: Setup) -> None:
    alice = setup.token(role=setup.web, sub="alice")
    response = setup.get("/rpc/whoami", alice, headers={"x-probe": "hello"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user": setup.web,
        "method": "GET",
        "path": "/rpc/whoami",
        "probe": "hello",
        "sub": "alice",
    }


@pytest.mark.parametrize(
    "make",
    [
        lambda s: jwt.encode(claims(role=s.web), "wrong-secret-long-enough-for-hs256-xx"),
        lambda s: jwt.encode(claims(role=s.web, exp=1), SECRET),
        lambda s: KeyPair("RS256", "idp-1").sign(claims(role=s.web)),  # kid known, key not
        lambda s: "a.b.c",
    ],
)
def test_invalid_token_is_401_never_anonymous(setup: Setup, make: Callable[[Setup], str]) -> None:
    response = setup.get("/notes", make(setup))
    assert response.status_code == 401
    assert response.json()["code"] == "PGRST301"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_claims_are_not_left_on_the_connection(setup: Setup) -> None:
    alice = setup.token(role=setup.web, sub="alice")
    for _ in range(3):
        assert len(setup.get("/notes", alice).json()) == 2
    # the service key runs as the connecting role, with no claims left behind
    response = httpx.get(
        f"{setup.server.rest_url}/rpc/whoami", headers={"apikey": setup.server.service_key}
    )
    assert response.status_code == 200
    assert response.json()["sub"] is None
    assert json.dumps(response.json()["method"]) in ('""', "null")
    assert response.json()["user"] != setup.web
