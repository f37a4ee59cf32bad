"""The Python ceiling: the fastest a Python process can serve the benchmark's requests.

A raw ASGI app over an asyncpg pool, answering exactly the benchmark's requests with
hard-coded SQL (the same SQL as ``pgbench/*.sql``: PostgreSQL builds the JSON, Python
only moves bytes). It reads just the query parameters it needs; it is not an
implementation of the grammar. Dbify's figures are judged against it. The writes
(``POST /books`` of one object or an array, ``PATCH /books?id=eq.N`` of a price) hand
the body to PostgreSQL as one JSON array, as Dbify does, and answer 201/204 with no body
(``return=minimal``), the count from the command tag.

Run (``bench/run.py`` does this)::

    DATABASE_URL=postgresql://... uvicorn --app-dir bench ceiling:app --port 3101 \\
        --loop uvloop --http httptools --no-access-log --log-level warning
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import asyncpg

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dbify_bench")
POOL_SIZE = int(os.environ.get("POOL_SIZE", "10"))

_SQL_PK = "SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT * FROM books WHERE id = $1) t"
_SQL_FILTER = (
    "SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT * FROM books WHERE author_id = $1"
    " ORDER BY published_at DESC LIMIT $2) t"
)
_SQL_EMBED = (
    "SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT a.id, a.name,"
    " coalesce(b.books, '[]') AS books FROM authors a LEFT JOIN LATERAL (SELECT json_agg(x)"
    " AS books FROM (SELECT bk.id, bk.title FROM books bk WHERE bk.author_id = a.id) x) b"
    " ON true WHERE a.id = $1) t"
)
_SQL_PAGE = (
    "SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT * FROM books LIMIT $1 OFFSET $2) t"
)

_SQL_INSERT = (
    "INSERT INTO books (author_id, title, isbn, price, pages, published_at)"
    " SELECT b.author_id, b.title, b.isbn, b.price, b.pages, b.published_at"
    " FROM json_to_recordset($1::json) AS b(author_id integer, title text, isbn text,"
    " price numeric, pages integer, published_at timestamptz)"
)
_SQL_UPDATE = (
    "UPDATE books SET price = b.price FROM (SELECT * FROM json_to_recordset($1::json)"
    " AS b(price numeric) LIMIT 1) AS b WHERE books.id = $2"
)

_JSON = [(b"content-type", b"application/json; charset=utf-8")]
_pool: asyncpg.Pool | None = None


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's reset round trip on release: nothing here changes session state."""


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _eq(params: dict[str, str], key: str) -> int | None:
    value = params.get(key)
    return int(value[3:]) if value is not None and value.startswith("eq.") else None


async def _query(pool: asyncpg.Pool, path: str, params: dict[str, str]) -> str | None:
    """The JSON body for one benchmark request, or None when it is not one of them."""
    body: str | None = None  # fetchval is untyped; annotated here, at no runtime cost
    if path == "/books":
        book_id = _eq(params, "id")
        if book_id is not None:
            body = await pool.fetchval(_SQL_PK, book_id)
            return body
        limit = int(params.get("limit", "1000"))
        author_id = _eq(params, "author_id")
        if author_id is not None:
            body = await pool.fetchval(_SQL_FILTER, author_id, limit)
            return body
        body = await pool.fetchval(_SQL_PAGE, limit, int(params.get("offset", "0")))
    elif path == "/authors":
        body = await pool.fetchval(_SQL_EMBED, _eq(params, "id"))
    return body


async def _body(receive: Receive) -> str:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            text = b"".join(chunks).decode()
            return text if text.lstrip().startswith("[") else f"[{text}]"


async def _write(
    pool: asyncpg.Pool, method: str, path: str, params: dict[str, str], receive: Receive
) -> tuple[int, int] | None:
    """(status, rows written) of one benchmark write, or None when it is not one."""
    if path != "/books":
        return None
    if method == "POST":
        tag = await pool.execute(_SQL_INSERT, await _body(receive))
        return 201, int(tag.rpartition(" ")[2])
    book_id = _eq(params, "id")
    if method == "PATCH" and book_id is not None:
        tag = await pool.execute(_SQL_UPDATE, await _body(receive), book_id)
        return 204, int(tag.rpartition(" ")[2])
    return None


async def _lifespan(receive: Receive, send: Send) -> None:
    global _pool
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _pool = await asyncpg.create_pool(
                DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_no_reset
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] != "http" or _pool is None:
        return None
    params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
    if scope["method"] in ("POST", "PATCH"):
        try:
            written = await _write(_pool, scope["method"], scope["path"].rstrip("/"), params,
                                   receive)  # fmt: skip
        except (ValueError, asyncpg.PostgresError) as error:
            return await _respond(send, 400, f'{{"message":"{type(error).__name__}"}}'.encode())
        if written is None:
            return await _respond(send, 404, b'{"message":"not found"}')
        status, rows = written
        headers = [(b"content-range", f"*/{rows}".encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        return await send({"type": "http.response.body", "body": b""})
    try:
        body = await _query(_pool, scope["path"].rstrip("/"), params)
    except (ValueError, asyncpg.PostgresError) as error:
        return await _respond(send, 400, f'{{"message":"{type(error).__name__}"}}'.encode())
    if body is None:
        return await _respond(send, 404, b'{"message":"not found"}')
    return await _respond(send, 200, body.encode())
