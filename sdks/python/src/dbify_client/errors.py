"""Errors the client raises: one class carrying the API's code, message, details, hint."""

from __future__ import annotations

from typing import Any

__all__ = ["DbifyError"]


class DbifyError(Exception):
    """An error answer (``status`` >= 400) or a transport failure (``status`` 0).

    ``code`` is PostgREST's (``PGRST116``), PostgreSQL's SQLSTATE (``23505``) or Dbify's.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        details: Any = None,
        hint: str | None = None,
        status: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details
        self.hint = hint
        self.status = status

    @classmethod
    def from_body(cls, status: int, body: Any, text: str) -> DbifyError:
        if isinstance(body, dict):
            return cls(
                str(body.get("message") or text or f"HTTP {status}"),
                code=str(body.get("code") or ""),
                details=body.get("details"),
                hint=body.get("hint"),
                status=status,
            )
        return cls(text or f"HTTP {status}", status=status)
