"""A small client for Dbify's management API (``/api/v1``): projects and API keys.

Authenticates with a personal access token (``Authorization: Bearer dbify_pat_…``).
"""

from __future__ import annotations

from typing import Any

import httpx

from dbify_client.errors import DbifyError

__all__ = ["ManagementClient"]


class ManagementClient:
    """``ManagementClient("https://dbify.example.com/api/v1", token)``."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=api_url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = self._http.request(method, path, json=body, params=params or None)
        except httpx.TransportError as exc:
            raise DbifyError(f"Connection failed: {exc}", code="CONNECTION") from exc
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            raise DbifyError.from_body(response.status_code, payload, response.text)
        return response.json() if response.content else None

    def list_projects(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/projects", limit=limit,
                                                  offset=offset)["items"]  # fmt: skip
        return items

    def get_project(self, project_id: str) -> dict[str, Any]:
        project: dict[str, Any] = self._call("GET", f"/projects/{project_id}")
        return project

    def create_project(self, name: str, database_url: str, schemas: list[str] | None = None,
                       ) -> dict[str, Any]:  # fmt: skip
        body = {"name": name, "database_url": database_url, "schemas": schemas or ["public"]}
        created: dict[str, Any] = self._call("POST", "/projects", body)
        return created

    def delete_project(self, project_id: str) -> None:
        self._call("DELETE", f"/projects/{project_id}")

    def list_keys(self, project_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", f"/projects/{project_id}/keys")["items"]
        return found

    def create_key(self, project_id: str, name: str, role: str = "anon") -> dict[str, Any]:
        created: dict[str, Any] = self._call("POST", f"/projects/{project_id}/keys",
                                             {"name": name, "role": role})  # fmt: skip
        return created

    def revoke_key(self, project_id: str, key_id: str) -> None:
        self._call("DELETE", f"/projects/{project_id}/keys/{key_id}")

    def lint(self, project_id: str) -> dict[str, Any]:
        report: dict[str, Any] = self._call("GET", f"/projects/{project_id}/lint")
        return report
