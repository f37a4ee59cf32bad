"""Access roles whose row filters use JWT claims, and per-role limits, on real PostgreSQL.

``member`` sees the documents it owns (``owner=eq.$claims.sub``) or that belong to one
of its organisations (``org=in.($claims.app.orgs)``, a nested list claim) and may insert
only as itself. Claim values are bound after parsing: values holding SQL or filter
grammar match nothing extra. A missing claim refuses the request. ``limited`` caps rows
and has a short statement timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import asyncpg
import jwt as pyjwt
import orjson
import pytest

from dbify.auth.api_keys import ApiKey, KeyRing, hash_api_key
from dbify.auth.jwt import JwtConfig, JwtVerifier
from dbify.control.access_roles.policy import compile_policy
from dbify.control.access_roles.schemas import AccessRoleBody
from dbify.dataplane.pipeline import RawRequest, handle_data_request
from dbify.dataplane.project import Project, ProjectSettings
from dbify.errors import DbifyError
from dbify.schema.introspect import introspect

_SQL = """
CREATE TABLE docs (id int PRIMARY KEY, owner text, org int, body text);
INSERT INTO docs VALUES
  (1, 'alice', 10, 'a'), (2, 'bob', 20, 'b'), (3, 'carol', 30, 'c'),
  (4, 'x'' OR ''1''=''1', 40, 'q'), (5, 'alice', NULL, 'a2');
CREATE FUNCTION slow() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(1)';
"""

_MEMBER = {
    "tables": {
        "docs": {
            "privileges": ["select", "insert"],
            "row_filter": "or=(owner.eq.$claims.sub,org.in.($claims.app.orgs))",
        }
    }
}
_OWNER = {"tables": {"docs": {"privileges": ["select"], "row_filter": "owner=eq.$claims.sub"}}}
_NAMED = {"tables": {"docs": {"privileges": ["select"], "row_filter": "owner=eq.$claims.app.name"}}}
_LIMITED = {
    "tables": {"docs": {"privileges": ["select", "insert"]}},
    "functions": ["slow"],
    "max_rows": 2,
    "statement_timeout_ms": 200,
    "max_body_bytes": 64,
}
_SECRET = "c" * 32
_KEY, _LIMITED_KEY = "dbify_anon_claims-member", "dbify_anon_claims-limited"

Call = Callable[..., tuple[int, Any]]


def _policies() -> dict[str, Any]:
    return {
        name: compile_policy(name, AccessRoleBody.model_validate(body), "public")
        for name, body in (
            ("member", _MEMBER),
            ("owner", _OWNER),
            ("named", _NAMED),
            ("limited", _LIMITED),
        )
    }


@pytest.fixture(scope="module")
def call(make_database: Callable[..., str]) -> Call:
    url = make_database()
    policies = _policies()  # compiled once: the statement cache keys on bound policies

    async def load() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(_SQL)
        finally:
            await conn.close()

    anyio.run(load)

    async def run(method: str, path: str, query: str, body: Any, headers: dict[str, str]) -> Any:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                snapshot = await introspect(conn, ("public",))
            keys = KeyRing(
                [
                    ApiKey("k1", "anon", hash_api_key(_KEY), "p", role="member"),
                    ApiKey("k2", "anon", hash_api_key(_LIMITED_KEY), "p", role="limited"),
                ]
            )
            project = Project(
                id="p1",
                name="claims",
                pool=pool,
                snapshot=snapshot,
                keys=keys,
                settings=ProjectSettings(max_rows=3),
                jwt=JwtVerifier(JwtConfig(secret=_SECRET)),
                access_roles=policies,
            )
            raw = RawRequest(
                method=method,
                path=path,
                query_string=query,
                headers=headers,
                body=None if body is None else orjson.dumps(body),
                rest_url="http://x/p/p1/rest/v1",
            )
            response = await handle_data_request(project, raw)
            return response.status, orjson.loads(response.body) if response.body else None
        finally:
            await pool.close()

    def call(
        method: str,
        path: str,
        query: str = "",
        body: Any = None,
        *,
        claims: dict[str, Any] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers = {"content-type": "application/json", **(headers or {})}
        if claims is not None:
            token = pyjwt.encode(claims, _SECRET, algorithm="HS256")
            headers["authorization"] = f"Bearer {token}"
        if key is not None:
            headers["apikey"] = key
        result: tuple[int, Any] = anyio.run(run, method, path, query, body, headers)
        return result

    return call


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return sorted(r["id"] for r in rows)


def test_each_user_sees_own_and_org_rows(call: Call) -> None:
    alice = {"role": "member", "sub": "alice", "app": {"orgs": [20]}}
    status, rows = call("GET", "/docs", claims=alice)
    assert (status, _ids(rows)) == (200, [1, 2, 5])
    bob = {"role": "member", "sub": "bob", "app": {"orgs": []}}
    assert _ids(call("GET", "/docs", claims=bob)[1]) == [2]
    # A scalar claim where the filter expects a list is one value.
    carol = {"role": "member", "sub": "nobody", "app": {"orgs": 30}}
    assert _ids(call("GET", "/docs", claims=carol)[1]) == [3]
    # The request's own filters cannot widen the role's rows.
    status, rows = call("GET", "/docs", "or=(owner.eq.carol,id.gt.0)", claims=bob)
    assert (status, _ids(rows)) == (200, [2])


@pytest.mark.parametrize(
    "sub",
    [
        "x' OR '1'='1",
        "bob,owner.neq.x",
        "bob),or(id.gt.0",
        "$claims.sub",
        "*",
        "%",
        "bob&id=gt.0",
    ],
)
def test_claim_values_are_values_not_syntax(call: Call, sub: str) -> None:
    status, rows = call("GET", "/docs", claims={"role": "owner", "sub": sub})
    assert status == 200, rows
    expected = [4] if sub == "x' OR '1'='1" else []
    assert _ids(rows) == expected  # the literal owner only, never every row


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "owner"},  # missing
        {"role": "named", "app": {"name": None}},
        {"role": "named", "app": {"name": {"id": "alice"}}},
        {"role": "named", "app": {"name": ["alice", "bob"]}},  # a list where one value fits
        {"role": "named", "app": "alice"},
        {"role": "member", "sub": "alice"},  # nested app.orgs missing
        {"role": "member", "sub": "alice", "app": {"orgs": [[20]]}},
        {"role": "owner", "sub": "ali\u0000ce"},
    ],
)
def test_missing_or_malformed_claim_is_403(call: Call, claims: dict[str, Any]) -> None:
    status, body = call("GET", "/docs", claims=claims)
    assert status == 403, body
    assert body["code"] == "42501"


def test_api_key_naming_a_claims_role_is_refused(call: Call) -> None:
    status, body = call("GET", "/docs", key=_KEY)
    assert status == 403, body


def test_inserts_are_checked_with_the_callers_claims(call: Call) -> None:
    alice = {"role": "member", "sub": "alice", "app": {"orgs": []}}
    status, _ = call("POST", "/docs", body={"id": 20, "owner": "bob", "org": 99}, claims=alice)
    assert status == 403
    status, _ = call("POST", "/docs", body={"id": 21, "owner": "alice", "body": "n"}, claims=alice)
    assert status == 201
    assert 21 in _ids(call("GET", "/docs", claims=alice)[1])


def test_claim_references_are_validated_when_defined() -> None:
    for text in ("owner=like.$claims.sub", "owner=is.$claims.sub", "owner=eq.$claims."):
        body = AccessRoleBody.model_validate(
            {"tables": {"docs": {"privileges": ["select"], "row_filter": text}}}
        )
        with pytest.raises(DbifyError):
            compile_policy("bad", body, "public")


def test_role_max_rows_overrides_the_project(call: Call) -> None:
    status, rows = call("GET", "/docs", "order=id", key=_LIMITED_KEY)
    assert (status, len(rows)) == (200, 2)  # the project allows 3
    everyone = {"role": "member", "sub": "alice", "app": {"orgs": [10, 20, 30, 40]}}
    status, rows = call("GET", "/docs", claims=everyone)
    assert (status, len(rows)) == (200, 3)  # no override: the project's cap


def test_role_max_body_bytes(call: Call) -> None:
    """The role's body limit is below the project's: 413 above it, nothing written."""
    status, body = call("POST", "/docs", "", {"id": 6, "body": "x" * 100}, key=_LIMITED_KEY)
    assert status == 413, body
    assert body["code"] == "DBIFY413"
    assert "limited" in body["message"]
    status, rows = call("GET", "/docs", "id=eq.6", key=_LIMITED_KEY)
    assert (status, rows) == (200, [])
    rollback = {"prefer": "tx=rollback,return=representation"}  # leaves docs as it was
    small = {"id": 6, "body": "short"}
    status, body = call("POST", "/docs", "", small, key=_LIMITED_KEY, headers=rollback)
    assert (status, body) == (201, [{"id": 6, "owner": None, "org": None, "body": "short"}])


def test_role_statement_timeout(call: Call) -> None:
    status, body = call("POST", "/rpc/slow", body={}, key=_LIMITED_KEY)
    assert status == 504, body
    assert body["code"] == "57014"
