"""Per-project CORS, JWT secrets, rate limits and body size through the management API,
checked on the live data API (metadata on SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from dbify.backends.ratelimit import Limits, MemoryBuckets, RequestLimiter
from dbify.settings import Settings
from tests.auth.jwks_server import JwksServer, KeyPair, claims, jwks_server
from tests.fixtures.control import Control, open_control, sign_up_and_token

__all__ = ["jwks_server"]

pytestmark = pytest.mark.anyio

SECRET_A = "a" * 64
SECRET_B = "b" * 64


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _project(c: Control, token: str, url: str, **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "p", "database_url": url}
    if config:
        body["config"] = config
    response = await c.api.post("/projects", json=body, headers=_auth(token))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_cors_per_project(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        default = await _project(c, token, fixture_database_url)
        strict = await _project(
            c,
            token,
            fixture_database_url,
            cors_origins=["https://app.example"],
            cors_allow_credentials=True,
        )
        url = f"/p/{default['id']}/rest/v1/publishers"
        response = await c.data.get(
            url, headers={"apikey": default["anon_key"], "origin": "https://x.example"}
        )
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers

        url = f"/p/{strict['id']}/rest/v1/publishers"
        allowed = {"apikey": strict["anon_key"], "origin": "https://app.example"}
        response = await c.data.get(url, headers={**allowed, "prefer": "count=exact"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["vary"] == "Origin"
        exposed = response.headers["access-control-expose-headers"]
        assert "Content-Range" in exposed
        assert "Location" in exposed
        assert "Preference-Applied" in exposed
        assert "X-Request-Id" in exposed

        other = {"apikey": strict["anon_key"], "origin": "https://evil.example"}
        response = await c.data.get(url, headers=other)
        assert "access-control-allow-origin" not in response.headers
        assert response.headers["vary"] == "Origin"

        preflight = {"origin": "https://app.example", "access-control-request-method": "POST"}
        response = await c.data.options(url, headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert "apikey" in response.headers["access-control-allow-headers"]
        assert response.headers["access-control-allow-credentials"] == "true"
        response = await c.data.options(
            url, headers={**preflight, "origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in response.headers

        # Changing the origins applies at once.
        response = await c.api.patch(
            f"/projects/{strict['id']}", json={"cors_origins": ["*"], "cors_allow_credentials": False},
            headers=_auth(token),
        )  # fmt: skip
        assert response.status_code == 200, response.text
        response = await c.data.get(url, headers=other)
        assert response.headers["access-control-allow-origin"] == "*"


async def test_project_jwt_secret(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        a = await _project(c, token, fixture_database_url)
        b = await _project(c, token, fixture_database_url)
        for project, secret in ((a, SECRET_A), (b, SECRET_B)):
            response = await c.api.patch(
                f"/projects/{project['id']}", json={"jwt_secret": secret}, headers=_auth(token)
            )
            assert response.status_code == 200, response.text
            assert secret not in response.text
            assert response.json()["jwt_secret_set"] is True
        shown = await c.api.get(f"/projects/{a['id']}", headers=_auth(token))
        assert SECRET_A not in shown.text
        assert "jwt_secret_set" in shown.text

        claims = {"sub": "u1", "exp": int(time.time()) + 60}
        for algorithm in ("HS256", "HS384", "HS512"):
            signed = jwt.encode(claims, SECRET_A, algorithm=algorithm)
            on_a = await c.data.get(f"/p/{a['id']}/rest/v1/publishers", headers=_auth(signed))
            assert on_a.status_code == 200, on_a.text
            on_b = await c.data.get(f"/p/{b['id']}/rest/v1/publishers", headers=_auth(signed))
            assert on_b.status_code == 401
            assert "www-authenticate" in on_b.headers

        short = await c.api.patch(
            f"/projects/{a['id']}", json={"jwt_secret": "short"}, headers=_auth(token)
        )
        assert short.status_code == 400
        removed = await c.api.patch(
            f"/projects/{a['id']}", json={"jwt_secret": ""}, headers=_auth(token)
        )
        assert removed.json()["jwt_secret_set"] is False
        signed = jwt.encode(claims, SECRET_A, algorithm="HS256")
        gone = await c.data.get(f"/p/{a['id']}/rest/v1/publishers", headers=_auth(signed))
        assert gone.status_code == 401
        record = await c.plane.projects._store.get(b["id"])
        assert record is not None
        assert record.jwt_secret_sealed is not None
        assert SECRET_B not in record.jwt_secret_sealed  # sealed at rest


async def test_rate_limits_per_project_and_key(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        app: Any = c.data._transport.app  # type: ignore[attr-defined]
        app.limiter = RequestLimiter(MemoryBuckets(), Limits())  # no instance-wide limit
        token = await sign_up_and_token(c.api)
        limited = await _project(
            c, token, fixture_database_url, rate_limit_per_key=0.01, rate_limit_burst=2
        )
        free = await _project(c, token, fixture_database_url)
        response = await c.api.post(
            f"/projects/{limited['id']}/keys",
            json={"name": "big", "rate_limit_per_second": 0.01, "rate_limit_burst": 4},
            headers=_auth(token),
        )
        assert response.status_code == 201, response.text
        big = response.json()
        assert big["rate_limit_burst"] == 4

        async def get(project: dict[str, Any], key: str) -> int:
            url = f"/p/{project['id']}/rest/v1/publishers"
            return (await c.data.get(url, headers={"apikey": key})).status_code

        assert [await get(limited, limited["anon_key"]) for _ in range(3)] == [200, 200, 429]
        refused = await c.data.get(
            f"/p/{limited['id']}/rest/v1/publishers", headers={"apikey": limited["anon_key"]}
        )
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-limit"] == "2"
        assert [await get(limited, big["key"]) for _ in range(5)] == [200] * 4 + [429]
        assert [await get(free, free["anon_key"]) for _ in range(5)] == [200] * 5

        # The override can be removed (the project's limit then applies to a fresh bucket
        # size) and the record shows it.
        response = await c.api.patch(
            f"/projects/{limited['id']}/keys/{big['id']}", json={}, headers=_auth(token)
        )
        assert response.status_code == 200
        assert response.json()["rate_limit_per_second"] is None


async def test_max_body_bytes_per_project(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c, token, fixture_database_url, max_body_bytes=64)
        response = await c.data.post(
            f"/p/{project['id']}/rest/v1/publishers",
            headers={"apikey": project["service_key"], "content-type": "application/json"},
            content=b'{"name": "' + b"x" * 100 + b'"}',
        )
        assert response.status_code == 413


async def test_project_jwks_url_oidc_and_kid_rotation(
    control_settings: Callable[..., Settings],
    fixture_database_url: str,
    jwks_server: JwksServer,
) -> None:
    """An external IdP plugged in per project by configuration alone: RS256 from a JWKS
    URL with kid rotation, ES256/EdDSA via OIDC discovery with audience and role claim.
    The test IdP listens on loopback, which the instance must allow explicitly."""
    settings = control_settings(
        auth={"jwks_min_refresh_seconds": 0}, webhooks={"allowed_hosts": ["127.0.0.1/32"]}
    )
    async with open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        first = KeyPair("RS256", "k1")
        jwks_server.keys = [first]
        by_url = await _project(
            c, token, fixture_database_url, jwks_url=f"{jwks_server.url}/jwks.json"
        )
        by_oidc = await _project(
            c, token, fixture_database_url,
            oidc_issuer=jwks_server.url, jwt_audience="dbify",
            jwt_role_claim=".app_metadata.role",
        )  # fmt: skip
        plain = await _project(c, token, fixture_database_url)

        async def status(project: dict[str, Any], jwt_text: str) -> int:
            url = f"/p/{project['id']}/rest/v1/publishers?select=id&limit=1"
            return (await c.data.get(url, headers=_auth(jwt_text))).status_code

        signed = first.sign(claims(sub="u1"))
        assert await status(by_url, signed) == 200
        assert await status(plain, signed) == 401  # another project's IdP means nothing
        fetched = jwks_server.fetches
        assert await status(by_url, first.sign(claims(sub="u2"))) == 200
        assert jwks_server.fetches == fetched  # keys are cached

        # The IdP rotates: a token with the new kid triggers one refresh and passes.
        second = KeyPair("RS256", "k2")
        jwks_server.keys = [second]
        assert await status(by_url, second.sign(claims(sub="u3"))) == 200
        assert jwks_server.fetches == fetched + 1
        # A token from a key the IdP never published is a 401, not anonymous access.
        response = await c.data.get(
            f"/p/{by_url['id']}/rest/v1/publishers",
            headers=_auth(KeyPair("RS256", "k2").sign(claims(sub="x"))),
        )
        assert response.status_code == 401
        assert response.json()["code"] == "PGRST301"
        assert "www-authenticate" in response.headers

        es, ed = KeyPair("ES256", "e1"), KeyPair("EdDSA", "d1")
        jwks_server.keys = [es, ed]
        for key in (es, ed):
            good = key.sign(claims(iss=jwks_server.url, aud="dbify"))
            assert await status(by_oidc, good) == 200
            assert await status(by_oidc, key.sign(claims(iss=jwks_server.url, aud="x"))) == 401
            assert await status(by_oidc, key.sign(claims(iss="https://evil", aud="dbify"))) == 401
        # The role comes from the configured claim path: an unknown database role fails
        # in the database (never silently anonymous).
        as_role = es.sign(
            claims(iss=jwks_server.url, aud="dbify", app_metadata={"role": "no_such_role_x"})
        )
        assert await status(by_oidc, as_role) in (400, 401, 403)


async def test_key_sources_on_internal_addresses_are_refused(
    control_settings: Callable[..., Settings],
    fixture_database_url: str,
    jwks_server: JwksServer,
) -> None:
    """The server fetches a project's jwks_url / oidc_issuer: a project admin may not
    point it at internal addresses (SSRF), as with webhook targets."""
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c, token, fixture_database_url)
        for field in ("jwks_url", "oidc_issuer"):
            for url in (f"{jwks_server.url}/jwks.json", "http://169.254.169.254/latest"):
                response = await c.api.patch(
                    f"/projects/{project['id']}", json={field: url}, headers=_auth(token)
                )
                assert response.status_code == 400, response.text
                assert "allowed_hosts" in response.json()["message"]
        response = await c.api.post(
            "/projects",
            json={"name": "q", "database_url": fixture_database_url,
                  "config": {"jwks_url": f"{jwks_server.url}/jwks.json"}},
            headers=_auth(token),
        )  # fmt: skip
        assert response.status_code == 400, response.text
    assert jwks_server.fetches == 0


async def test_discovery_naming_an_internal_jwks_is_not_followed(
    control_settings: Callable[..., Settings],
    fixture_database_url: str,
    jwks_server: JwksServer,
) -> None:
    """The issuer is allowed (by name), but its discovery document names a JWKS on an
    address that is not: the verifier refuses to fetch it, so tokens are 401."""
    async with open_control(control_settings(webhooks={"allowed_hosts": ["localhost"]})) as c:
        token = await sign_up_and_token(c.api)
        issuer = jwks_server.url.replace("127.0.0.1", "localhost")
        project = await _project(c, token, fixture_database_url, oidc_issuer=issuer)
        key = KeyPair("RS256", "k1")
        jwks_server.keys = [key]
        response = await c.data.get(
            f"/p/{project['id']}/rest/v1/publishers?limit=1",
            headers=_auth(key.sign(claims(iss=issuer))),
        )
        assert response.status_code == 401, response.text
        assert jwks_server.fetches == 0  # the JWKS named by the discovery was never fetched


async def test_unusable_jwks_is_refused_when_configured(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c, token, fixture_database_url)
        for bad in ("not json", '{"keys": "nope"}', "[]"):
            response = await c.api.patch(
                f"/projects/{project['id']}", json={"jwks": bad}, headers=_auth(token)
            )
            assert response.status_code == 400, response.text
        for bad_url in ("file:///etc/passwd", "ftp://idp/jwks"):
            response = await c.api.patch(
                f"/projects/{project['id']}", json={"jwks_url": bad_url}, headers=_auth(token)
            )
            assert response.status_code == 400, response.text
        response = await c.api.post(
            "/projects",
            json={"name": "q", "database_url": fixture_database_url, "config": {"jwks": "{"}},
            headers=_auth(token),
        )
        assert response.status_code in (400, 422), response.text
        # The project still serves.
        url = f"/p/{project['id']}/rest/v1/publishers?limit=1"
        assert (await c.data.get(url, headers={"apikey": project["anon_key"]})).status_code == 200
