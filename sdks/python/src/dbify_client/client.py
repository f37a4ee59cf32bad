"""Clients for a project's data API: ``Client`` (sync) and ``AsyncClient``, on httpx.

Both authenticate with a key (``apikey`` header) or a JWT (``Authorization: Bearer``),
apply a timeout to every call and retry idempotent ones (GET, HEAD, and RPC called
with GET) on connection errors and 502/503/504, with exponential backoff. Writes are
never retried: the server may have applied them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

from dbify_client.errors import DbifyError
from dbify_client.query import PreparedRequest, QueryBuilder, Result

__all__ = ["AsyncClient", "Client"]

_RETRY_STATUSES = frozenset({502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD"})


def _headers(key: str | None, jwt: str | None, schema: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if key:
        headers["apikey"] = key
    if jwt:
        headers["Authorization"] = f"Bearer {jwt}"
    if schema:
        headers["Accept-Profile"] = schema
        headers["Content-Profile"] = schema
    return headers


def _request_args(request: PreparedRequest) -> dict[str, Any]:
    headers = dict(request.headers)
    if request.prefer:
        headers["Prefer"] = ",".join(request.prefer)
    args: dict[str, Any] = {"params": request.params, "headers": headers}
    if request.body is not None:
        args["json"] = request.body
    return args


def _count(response: httpx.Response) -> int | None:
    total = response.headers.get("content-range", "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


def _result(request: PreparedRequest, response: httpx.Response) -> Result:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise DbifyError.from_body(response.status_code, body, response.text)
    count = _count(response)
    if request.expect == "csv":
        return Result(response.text, response.status_code, count)
    data = response.json() if response.content else None
    if request.expect == "maybe_single" and isinstance(data, list):
        if len(data) > 1:
            raise DbifyError(
                "JSON object requested, multiple (or no) rows returned",
                code="PGRST116",
                details=f"The result contains {len(data)} rows",
                status=406,
            )
        data = data[0] if data else None
    return Result(data, response.status_code, count)


def _retryable(method: str, response: httpx.Response | None) -> bool:
    return method in _IDEMPOTENT and (response is None or response.status_code in _RETRY_STATUSES)


class _Base:
    def __init__(self, rest_url: str, key: str | None, jwt: str | None, schema: str | None,
                 retries: int, backoff: float) -> None:  # fmt: skip
        self.rest_url = rest_url.rstrip("/")
        self._retries = retries
        self._backoff = backoff
        self._default_headers = _headers(key, jwt, schema)

    def _prepare(self, table: str) -> PreparedRequest:
        return PreparedRequest("GET", f"/{table}")

    @staticmethod
    def _saved_query_request(name: str, params: Mapping[str, Any] | None) -> PreparedRequest:
        # Saved queries take the data API grammar on top: filters, order, range, count.
        return PreparedRequest("GET", f"/q/{name}",
                               params=[(k, str(v)) for k, v in (params or {}).items()])  # fmt: skip

    def _search_request(self, table: str, q: str, mode: str, limit: int | None,
                        offset: int | None) -> PreparedRequest:  # fmt: skip
        # Search lives beside the REST API: /p/{id}/search/v1/{table}.
        base = self.rest_url.removesuffix("/rest/v1")
        params = [("q", q), ("mode", mode)]
        params += [(k, str(v)) for k, v in (("limit", limit), ("offset", offset)) if v is not None]
        return PreparedRequest("GET", f"{base}/search/v1/{table}", params=params)

    @staticmethod
    def _rpc_request(function: str, args: Mapping[str, Any] | None, get: bool,
                     count: str | None) -> PreparedRequest:  # fmt: skip
        request = PreparedRequest("GET" if get else "POST", f"/rpc/{function}")
        if get:
            request.params = [(k, str(v)) for k, v in (args or {}).items()]
        else:
            request.body = dict(args or {})
        if count:
            request.prefer.append(f"count={count}")
        return request


class Client(_Base):
    """``Client(rest_url, key=...)``; ``client.from_("books").select().execute().data``."""

    def __init__(self, rest_url: str, key: str | None = None, *, jwt: str | None = None,
                 schema: str | None = None, timeout: float = 10.0, retries: int = 2,
                 backoff: float = 0.2, transport: httpx.BaseTransport | None = None,
                 ) -> None:  # fmt: skip
        super().__init__(rest_url, key, jwt, schema, retries, backoff)
        self._http = httpx.Client(base_url=self.rest_url, headers=self._default_headers,
                                  timeout=timeout, transport=transport)  # fmt: skip

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def from_(self, table: str) -> QueryBuilder[Result]:
        return QueryBuilder(self._prepare(table), self._send)

    def table(self, table: str) -> QueryBuilder[Result]:
        return self.from_(table)

    def rpc(self, function: str, args: Mapping[str, Any] | None = None, *, get: bool = False,
            count: str | None = None) -> QueryBuilder[Result]:  # fmt: skip
        """Call a function; the result can be filtered and ordered like a table's."""
        return QueryBuilder(self._rpc_request(function, args, get, count), self._send)

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> QueryBuilder[Result]:
        """Run a saved query (``/q/{name}``) with its ``params``; filter and order it
        like a table."""
        return QueryBuilder(self._saved_query_request(name, params), self._send)

    def search(self, table: str, q: str, *, mode: str = "text", limit: int | None = None,
               offset: int | None = None) -> QueryBuilder[Result]:  # fmt: skip
        """Ranked search (``mode`` text, semantic or hybrid); filters narrow the hits.
        ``data`` is ``{"items": [{"row", "score", "highlights"}], "has_more", ...}``."""
        return QueryBuilder(self._search_request(table, q, mode, limit, offset), self._send)

    def _send(self, request: PreparedRequest) -> Result:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self._http.request(request.method, request.path,
                                              **_request_args(request))  # fmt: skip
            except httpx.TimeoutException as exc:
                error = DbifyError(f"Request timed out: {exc}", code="TIMEOUT")
            except httpx.TransportError as exc:
                error = DbifyError(f"Connection failed: {exc}", code="CONNECTION")
            if response is not None and not _retryable(request.method, response):
                return _result(request, response)
            if attempt >= self._retries or not _retryable(request.method, response):
                if response is not None:
                    return _result(request, response)
                raise error
            time.sleep(self._backoff * 2**attempt)
            attempt += 1


class AsyncClient(_Base):
    """The asyncio twin of ``Client``: ``await client.from_("books").select().execute()``."""

    def __init__(self, rest_url: str, key: str | None = None, *, jwt: str | None = None,
                 schema: str | None = None, timeout: float = 10.0, retries: int = 2,
                 backoff: float = 0.2, transport: httpx.AsyncBaseTransport | None = None,
                 ) -> None:  # fmt: skip
        super().__init__(rest_url, key, jwt, schema, retries, backoff)
        self._http = httpx.AsyncClient(base_url=self.rest_url, headers=self._default_headers,
                                       timeout=timeout, transport=transport)  # fmt: skip

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def from_(self, table: str) -> QueryBuilder[Any]:
        return QueryBuilder(self._prepare(table), self._send)

    def table(self, table: str) -> QueryBuilder[Any]:
        return self.from_(table)

    def rpc(self, function: str, args: Mapping[str, Any] | None = None, *, get: bool = False,
            count: str | None = None) -> QueryBuilder[Any]:  # fmt: skip
        return QueryBuilder(self._rpc_request(function, args, get, count), self._send)

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> QueryBuilder[Any]:
        return QueryBuilder(self._saved_query_request(name, params), self._send)

    def search(self, table: str, q: str, *, mode: str = "text", limit: int | None = None,
               offset: int | None = None) -> QueryBuilder[Any]:  # fmt: skip
        return QueryBuilder(self._search_request(table, q, mode, limit, offset), self._send)

    async def _send(self, request: PreparedRequest) -> Result:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = await self._http.request(request.method, request.path,
                                                    **_request_args(request))  # fmt: skip
            except httpx.TimeoutException as exc:
                error = DbifyError(f"Request timed out: {exc}", code="TIMEOUT")
            except httpx.TransportError as exc:
                error = DbifyError(f"Connection failed: {exc}", code="CONNECTION")
            if response is not None and not _retryable(request.method, response):
                return _result(request, response)
            if attempt >= self._retries or not _retryable(request.method, response):
                if response is not None:
                    return _result(request, response)
                raise error
            await asyncio.sleep(self._backoff * 2**attempt)
            attempt += 1
