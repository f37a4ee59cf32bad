"""Running a cron action: a SQL statement or a function call on the project's database
(one transaction, optional ``SET LOCAL ROLE``, ``statement_timeout`` from the job), or an
HTTP request (SSRF policy of ``control/outbound``). Returns an output excerpt; raises
``ActionFailed`` with a message safe to store.

A function's named ``arguments`` (JSON values) travel as one ``jsonb`` bind parameter;
each is extracted and cast to the type the catalog declares for that argument
(``f(n => ($1::jsonb ->> $2::text)::integer)``, names bound too), so no value is ever
interpolated. The function is the one of that name whose input arguments include all given names and
whose other arguments have defaults.
"""

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


# Input arguments (name, type) of each function of that name, visible or in the schema.
_SIGNATURES = """
SELECT p.oid, p.pronargs, p.pronargdefaults,
       coalesce(p.proargnames[1:p.pronargs], '{}') AS names,
       array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) AS t) AS types
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname = $1 AND CASE WHEN $2::text IS NULL THEN pg_function_is_visible(p.oid)
                              ELSE n.nspname = $2 END
"""


async def _call_sql(conn: asyncpg.Connection, function: str, arguments: dict[str, Any]) -> str:
    quoted = _quoted(function)
    if not arguments:
        return f"SELECT {quoted}() AS result"
    schema, _, name = function.rpartition(".")
    for row in await conn.fetch(_SIGNATURES, name, schema or None):
        names, types = list(row["names"]), list(row["types"])
        inputs = dict(zip(names[: len(types)], types, strict=False))
        required = set(names[: row["pronargs"] - row["pronargdefaults"]])
        if set(arguments) <= set(inputs) and required <= set(arguments):
            pieces = [
                f"{_quoted(k)} => ($1::jsonb {'->' if inputs[k] in ('json', 'jsonb') else '->>'} "
                f"${i}::text)::{inputs[k]}"
                for i, k in enumerate(arguments, start=2)
            ]
            return f"SELECT {quoted}({', '.join(pieces)}) AS result"
    raise ActionFailed(f"no function {function} takes the arguments {', '.join(sorted(arguments))}")


async def _database(url: str, action: dict[str, Any], timeout_seconds: float, limit: int) -> str:
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
                status = await conn.execute(str(action["sql"]))
                return status[:limit]
            arguments: dict[str, Any] = action.get("arguments") or {}
            sql = await _call_sql(conn, str(action["function"]), arguments)
            params = [orjson.dumps(arguments).decode(), *arguments] if arguments else []
            rows = await conn.fetch(sql, *params)
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
