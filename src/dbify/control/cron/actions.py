"""Running a cron action: a SQL statement or a function call on the project's database
(one transaction, optional ``SET LOCAL ROLE``, ``statement_timeout`` from the job), or an
HTTP request (SSRF policy of ``control/outbound``). Returns an output excerpt; raises
``ActionFailed`` with a message safe to store."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import orjson

from dbify.control.outbound import OutboundPolicy, TargetRefused

__all__ = ["ActionFailed", "run_action"]


class ActionFailed(Exception):
    pass


def _quoted(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


async def _database(url: str, action: dict[str, Any], timeout_seconds: float, limit: int) -> str:
    if action["kind"] == "sql":
        sql = str(action["sql"])
    else:
        sql = f"SELECT {_quoted(str(action['function']))}() AS result"
    try:
        conn = await asyncpg.connect(url, timeout=10, statement_cache_size=0)
    except (OSError, asyncpg.PostgresError) as exc:
        raise ActionFailed(f"cannot connect to the project's database: {exc}") from None
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('statement_timeout', $1, true)", str(int(timeout_seconds * 1000))
            )
            if action.get("role"):
                await conn.execute("SELECT set_config('role', $1, true)", action["role"])
            if action["kind"] == "sql":
                # Several statements are allowed (simple protocol); their status is the output.
                status = await conn.execute(sql)
                return status[:limit]
            rows = await conn.fetch(sql)
            return orjson.dumps([dict(r) for r in rows], default=str).decode()[:limit]
    except asyncpg.PostgresError as exc:
        raise ActionFailed(f"{exc.sqlstate}: {exc}"[:limit]) from None
    finally:
        await conn.close()


async def _http(
    action: dict[str, Any], policy: OutboundPolicy, timeout_seconds: float, limit: int
) -> str:
    try:
        await policy.check(action["url"])
        async with httpx.AsyncClient(follow_redirects=False, timeout=timeout_seconds) as client:
            response = await client.request(
                action.get("method", "POST"),
                action["url"],
                headers=action.get("headers") or {},
                content=action.get("body"),
            )
    except TargetRefused as exc:
        raise ActionFailed(f"refused: {exc}") from None
    except httpx.HTTPError as exc:
        raise ActionFailed(f"{type(exc).__name__}: {exc}"[:limit]) from None
    text = f"HTTP {response.status_code}: {response.text}"[:limit]
    if response.status_code >= 400:
        raise ActionFailed(text)
    return text


async def run_action(
    action: dict[str, Any], *, database_url: str, policy: OutboundPolicy, timeout_seconds: float,
    limit: int,
) -> str:  # fmt: skip
    if action["kind"] == "http":
        return await _http(action, policy, timeout_seconds, limit)
    return await _database(database_url, action, timeout_seconds, limit)
