"""Clients for Dbify's management API (``/api/v1``): projects, API keys, saved queries,
search indexes, request logs and stats, lint. ``ManagementClient`` is synchronous,
``AsyncManagementClient`` its asyncio twin; both speak through the same calls table
(``_Calls``), so the two never drift apart.

Authenticates with a personal access token (``Authorization: Bearer dbify_pat_…``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import httpx

from dbify_client.errors import DbifyError

__all__ = ["AsyncManagementClient", "ManagementClient"]

T = TypeVar("T")
Call = Callable[..., T]


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        raise DbifyError.from_body(response.status_code, payload, response.text)
    return response.json() if response.content else None


def _params(values: dict[str, Any]) -> dict[str, Any] | None:
    given = {("from" if k == "from_" else k): v for k, v in values.items() if v is not None}
    return given or None


class _Calls(Generic[T]):
    """Every management call, written once; ``T`` is ``Any`` (sync) or ``Awaitable``."""

    _call: Call[T]

    def list_projects(self, limit: int = 100, offset: int = 0) -> T:
        return self._call("GET", "/projects", None, {"limit": limit, "offset": offset}, "items")

    def get_project(self, project_id: str) -> T:
        return self._call("GET", f"/projects/{project_id}")

    def create_project(self, name: str, database_url: str, schemas: list[str] | None = None,
                       ) -> T:  # fmt: skip
        body = {"name": name, "database_url": database_url, "schemas": schemas or ["public"]}
        return self._call("POST", "/projects", body)

    def delete_project(self, project_id: str) -> T:
        return self._call("DELETE", f"/projects/{project_id}")

    def list_keys(self, project_id: str) -> T:
        return self._call("GET", f"/projects/{project_id}/keys", None, None, "items")

    def create_key(self, project_id: str, name: str, role: str = "anon") -> T:
        return self._call("POST", f"/projects/{project_id}/keys", {"name": name, "role": role})

    def revoke_key(self, project_id: str, key_id: str) -> T:
        return self._call("DELETE", f"/projects/{project_id}/keys/{key_id}")

    def lint(self, project_id: str, *, openapi: bool = False) -> T:
        params = {"openapi": "true"} if openapi else None
        return self._call("GET", f"/projects/{project_id}/lint", None, params)

    def create_saved_query(self, project_id: str, name: str, sql: str,
                           parameters: list[dict[str, Any]] | None = None,
                           description: str = "") -> T:  # fmt: skip
        body = {"name": name, "sql": sql, "parameters": parameters or [],
                "description": description}  # fmt: skip
        return self._call("POST", f"/projects/{project_id}/queries", body)

    def list_saved_queries(self, project_id: str) -> T:
        return self._call("GET", f"/projects/{project_id}/queries")

    def create_search_index(self, project_id: str, table: str, text_columns: dict[str, float],
                            *, schema: str = "public", wait: bool = True) -> T:  # fmt: skip
        body = {"table": table, "schema": schema, "text_columns": text_columns}
        params = {"wait": "true"} if wait else None
        return self._call("POST", f"/projects/{project_id}/search-indexes", body, params)

    def stats(self, project_id: str, *, from_: str | None = None, to: str | None = None,
              bucket: str = "hour") -> T:  # fmt: skip
        """Totals, latency percentiles, a series and breakdowns over [from, to)."""
        params = _params({"from_": from_, "to": to, "bucket": bucket})
        return self._call("GET", f"/projects/{project_id}/stats", None, params)

    def logs(self, project_id: str, *, from_: str | None = None, to: str | None = None,
             status: int | None = None, status_class: str | None = None,
             method: str | None = None, table: str | None = None,
             request_id: str | None = None, cursor: str | None = None,
             limit: int = 50) -> T:  # fmt: skip
        """One page of the request log, newest first: ``{"items", "next_cursor"}``."""
        params = _params({"from_": from_, "to": to, "status": status,
                          "status_class": status_class, "method": method, "table": table,
                          "request_id": request_id, "cursor": cursor, "limit": limit})  # fmt: skip
        return self._call("GET", f"/projects/{project_id}/logs", None, params)

    def log_event(self, project_id: str, event_id: str) -> T:
        return self._call("GET", f"/projects/{project_id}/logs/{event_id}")


def _http_args(api_url: str, token: str, timeout: float) -> dict[str, Any]:
    return {"base_url": api_url.rstrip("/"), "timeout": timeout,
            "headers": {"Authorization": f"Bearer {token}"}}  # fmt: skip


class ManagementClient(_Calls[Any]):
    """``ManagementClient("https://dbify.example.com/api/v1", token)``."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(**_http_args(api_url, token, timeout))

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None,
              params: dict[str, Any] | None = None, field: str | None = None) -> Any:  # fmt: skip
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            raise DbifyError(f"Connection failed: {exc}", code="CONNECTION") from exc
        answer = _answer(response)
        return answer[field] if field else answer


class AsyncManagementClient(_Calls[Awaitable[Any]]):
    """``await AsyncManagementClient(api_url, token).stats(project_id)``."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(**_http_args(api_url, token, timeout))

    async def __aenter__(self) -> AsyncManagementClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: Any = None,
                    params: dict[str, Any] | None = None, field: str | None = None,
                    ) -> Any:  # fmt: skip
        try:
            response = await self._http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            raise DbifyError(f"Connection failed: {exc}", code="CONNECTION") from exc
        answer = _answer(response)
        return answer[field] if field else answer
