"""Users: sign-up (and disabling it), sessions with CSRF, tokens, rate limiting."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import pytest
from starlette.requests import Request

from dbify.control.access import SYSTEM
from dbify.control.users.rate_limit import RedisLoginRateLimiter
from dbify.control.users.routes import secure_cookies
from dbify.settings import Settings
from tests.fixtures.control import open_control

pytestmark = pytest.mark.anyio
# A database of its own: the keys hold the test client's address, which other tests share.
LOGIN_REDIS = os.environ.get("DBIFY_TEST_LOGIN_REDIS_URL", "redis://127.0.0.1:6379/12")
_CREDENTIALS = {"email": "Ada@Example.com", "password": "correct horse"}


async def test_session_cookie_is_secure_and_csrf_is_enforced(
    control_settings: Callable[..., Settings],
) -> None:
    async with open_control(control_settings()) as c:
        user = await c.api.post("/auth/sign-up", json=_CREDENTIALS)
        assert user.status_code == 201
        assert user.json()["is_admin"] is True  # first user of the instance
        assert user.json()["email"] == "ada@example.com"
        signed_in = await c.api.post("/auth/sign-in", json=_CREDENTIALS)
        assert signed_in.status_code == 200
        cookie = next(
            h for h in signed_in.headers.get_list("set-cookie") if h.startswith("dbify_session=")
        )
        assert "HttpOnly" in cookie
        assert "Secure" in cookie
        assert "SameSite=lax" in cookie
        csrf = signed_in.json()["csrf_token"]

        assert (await c.api.get("/users/me")).json()["email"] == "ada@example.com"
        refused = await c.api.post("/users/me/tokens", json={"name": "t"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "DBIFY607"
        wrong = await c.api.post(
            "/users/me/tokens", json={"name": "t"}, headers={"x-csrf-token": "nope"}
        )
        assert wrong.status_code == 403
        created = await c.api.post(
            "/users/me/tokens", json={"name": "t"}, headers={"x-csrf-token": csrf}
        )
        assert created.status_code == 201
        token = created.json()["token"]

        out = await c.api.post("/auth/sign-out", headers={"x-csrf-token": csrf})
        assert out.status_code == 204
        c.api.cookies.clear()
        assert (await c.api.get("/users/me")).status_code == 401
        me = await c.api.get("/users/me", headers={"authorization": f"Bearer {token}"})
        assert me.status_code == 200
        tokens = await c.api.get("/users/me/tokens", headers={"authorization": f"Bearer {token}"})
        assert token not in tokens.text
        assert tokens.json()[0]["last_used_at"] is not None


async def test_plain_http_self_hosting_gets_cookies_a_browser_keeps(
    control_settings: Callable[..., Settings],
) -> None:
    # http://<lan host>: a browser drops Secure cookies there, so auto leaves the flag off.
    async with open_control(control_settings(server={"public_url": None})) as c:
        url = "http://dbify.internal:8000/v1"
        assert (await c.api.post(f"{url}/auth/sign-up", json=_CREDENTIALS)).status_code == 201
        signed_in = await c.api.post(f"{url}/auth/sign-in", json=_CREDENTIALS)
        cookies = [h for h in signed_in.headers.get_list("set-cookie") if h.startswith("dbify_")]
        assert len(cookies) == 2
        assert not any("Secure" in cookie for cookie in cookies), cookies


@pytest.mark.parametrize(
    ("mode", "public_url", "url", "secure"),
    [
        ("auto", None, "http://dbify.internal:8000/", False),
        ("auto", None, "http://localhost:8000/", True),  # browsers keep Secure on loopback
        ("auto", None, "http://127.0.0.1:8000/", True),
        ("auto", None, "https://dbify.example.com/", True),
        ("auto", "https://dbify.example.com", "http://10.0.0.5:8000/", True),  # TLS proxy
        ("always", None, "http://dbify.internal:8000/", True),
        ("never", None, "https://dbify.example.com/", False),
    ],
)
def test_secure_flag_follows_the_setting(
    mode: str, public_url: str | None, url: str, secure: bool
) -> None:
    settings = Settings(users={"secure_cookies": mode}, server={"public_url": public_url})
    request = Request(
        {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b"",
         "scheme": url.split(":")[0], "server": (url.split("/")[2].rsplit(":", 1)[0], 80)}
    )  # fmt: skip
    assert secure_cookies(request, settings) is secure


async def test_second_user_is_member_and_duplicates_conflict(
    control_settings: Callable[..., Settings],
) -> None:
    async with open_control(control_settings()) as c:
        await c.api.post("/auth/sign-up", json=_CREDENTIALS)
        second = await c.api.post(
            "/auth/sign-up", json={"email": "bob@example.com", "password": "password2"}
        )
        assert second.json()["is_admin"] is False
        again = await c.api.post("/auth/sign-up", json=_CREDENTIALS)
        assert again.status_code == 409
        short = await c.api.post("/auth/sign-up", json={"email": "c@d.e", "password": "short"})
        assert short.status_code == 400
        assert "short" not in short.text


async def test_signup_can_be_disabled_and_admin_created(
    control_settings: Callable[..., Settings],
) -> None:
    async with open_control(control_settings(users={"signup_enabled": False})) as c:
        refused = await c.api.post("/auth/sign-up", json=_CREDENTIALS)
        assert refused.status_code == 403
        assert refused.json()["code"] == "DBIFY606"
        admin = await c.plane.users.create_admin("root@example.com", "admin-password")
        assert admin.is_admin
        signed_in = await c.api.post(
            "/auth/sign-in", json={"email": "root@example.com", "password": "admin-password"}
        )
        assert signed_in.status_code == 200
        assert signed_in.json()["user"]["is_admin"] is True
        stored = await c.plane.store.engine.connect()
        try:
            from sqlalchemy import text

            hashes = (await stored.execute(text("SELECT password_hash FROM users"))).scalars()
            assert all(h.startswith("$argon2id$") for h in hashes)
        finally:
            await stored.close()
        assert SYSTEM.is_admin


async def test_sign_in_is_rate_limited(control_settings: Callable[..., Settings]) -> None:
    async with open_control(control_settings(users={"login_attempts_per_minute": 3})) as c:
        await c.api.post("/auth/sign-up", json=_CREDENTIALS)
        for _ in range(3):
            wrong = await c.api.post(
                "/auth/sign-in", json={**_CREDENTIALS, "password": "wrong password"}
            )
            assert wrong.status_code == 401
            assert wrong.json()["code"] == "DBIFY601"
        limited = await c.api.post("/auth/sign-in", json=_CREDENTIALS)
        assert limited.status_code == 429
        assert limited.json()["code"] == "DBIFY605"


async def test_sign_in_limits_are_shared_by_processes_through_redis(
    control_settings: Callable[..., Settings],
) -> None:
    """Two control planes (two replicas, or two ``--workers``) on one Redis: three
    failures on one and the fourth attempt is refused by the other. Before, each process
    counted alone, so N processes allowed N times the guesses."""
    settings = control_settings(
        users={"login_attempts_per_minute": 3}, auth={"rate_limit_redis_url": LOGIN_REDIS}
    )
    try:
        async with open_control(settings) as one, open_control(settings) as two:
            await one.api.post("/auth/sign-up", json=_CREDENTIALS)
            for _ in range(3):
                wrong = await one.api.post(
                    "/auth/sign-in", json={**_CREDENTIALS, "password": "wrong password"}
                )
                assert wrong.status_code == 401
            limited = await two.api.post("/auth/sign-in", json=_CREDENTIALS)
            assert limited.status_code == 429
            assert limited.json()["code"] == "DBIFY605"
    finally:
        await _forget_login_failures()


async def test_sign_in_limits_fall_back_to_the_process_when_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = RedisLoginRateLimiter(f"redis://127.0.0.1:{port}/0", 2)
    try:
        for _ in range(2):
            assert await limiter.allowed("10.0.0.1", "a@example.com")
            await limiter.record_failure("10.0.0.1", "a@example.com")
        assert not await limiter.allowed("10.0.0.1", "a@example.com")
        assert await limiter.allowed("10.0.0.2", "b@example.com")
    finally:
        await limiter.close()
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


async def _forget_login_failures() -> None:
    """This test's failures are keyed by the test client's address: other tests on
    that Redis database must not inherit them for a minute."""
    import redis.asyncio as redis

    client = redis.from_url(LOGIN_REDIS)
    async for key in client.scan_iter("dbify:login:*"):
        await client.delete(key)
    await client.aclose()


async def test_openapi_and_docs_are_served(control_settings: Callable[..., Settings]) -> None:
    async with open_control(control_settings()) as c:
        document = await c.api.get("/openapi.json")
        assert document.status_code == 200
        paths = document.json()["paths"]
        assert "/v1/projects" in paths
        assert "/v1/projects/{project_id}/keys/{key_id}/rotate" in paths
        docs = await c.api.get("https://testserver/docs")
        assert docs.status_code == 200
        unknown = await c.api.get("/no-such-route")
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "DBIFY603"
