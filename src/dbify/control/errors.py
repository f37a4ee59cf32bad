"""The control plane's error catalogue and its JSON error responses.

Management API errors use the data plane's shape, ``{"code", "message", "details",
"hint"}``, with codes in the ``DBIFY6xx`` range (no PostgREST counterpart). Services
raise ``DbifyError(ControlCodes.X.value, ...)``; ``install_error_handlers`` turns those,
request-validation failures and unexpected exceptions into responses (never a stack
trace or a secret). This module does not decide when an error happens.
"""

from __future__ import annotations

from enum import Enum

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from dbify.errors import DbifyError, ErrorKind

__all__ = ["ControlCodes", "control_error", "install_error_handlers"]


class ControlCodes(Enum):
    """Control-plane errors. 60x: the caller; 61x: the project's database."""

    INVALID_REQUEST = ErrorKind("DBIFY600", 400)
    UNAUTHENTICATED = ErrorKind("DBIFY601", 401)
    FORBIDDEN = ErrorKind("DBIFY602", 403)
    NOT_FOUND = ErrorKind("DBIFY603", 404)
    CONFLICT = ErrorKind("DBIFY604", 409)
    RATE_LIMITED = ErrorKind("DBIFY605", 429)
    SIGNUP_DISABLED = ErrorKind("DBIFY606", 403)
    CSRF_FAILED = ErrorKind("DBIFY607", 403)
    PROJECT_PAUSED = ErrorKind("DBIFY608", 409)
    DATABASE_URL_INVALID = ErrorKind("DBIFY610", 400)
    DATABASE_AUTH_FAILED = ErrorKind("DBIFY611", 422)
    DATABASE_UNREACHABLE = ErrorKind("DBIFY612", 422)
    DATABASE_MISSING = ErrorKind("DBIFY613", 422)
    DATABASE_PRIVILEGES = ErrorKind("DBIFY614", 422)
    DATABASE_ERROR = ErrorKind("DBIFY615", 422)
    ANALYTICS_UNAVAILABLE = ErrorKind("DBIFY620", 503)


def control_error(
    code: ControlCodes, message: str, *, details: str | None = None, hint: str | None = None
) -> DbifyError:
    return DbifyError(code.value, message, details, hint)


def _body(
    code: str, message: str, details: object = None, hint: str | None = None
) -> dict[str, object]:
    return {"code": code, "message": message, "details": details, "hint": hint}


async def _dbify_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DbifyError)
    headers = {"retry-after": "60"} if exc.status == 429 else None
    return JSONResponse(_body(exc.code, exc.message, exc.details, exc.hint), exc.status, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only location and message: pydantic's "input" could echo a password back.
    details = [
        {"location": ".".join(str(p) for p in error.get("loc", ())), "message": error.get("msg")}
        for error in exc.errors()
    ]
    code = ControlCodes.INVALID_REQUEST.value
    return JSONResponse(_body(code.code, "Invalid request", details), code.status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "DBIFY603", 405: "DBIFY609"}.get(exc.status_code, f"DBIFY{exc.status_code}")
    return JSONResponse(_body(code, str(exc.detail)), exc.status_code, exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette raises the exception again after this answer; DbifyApp, the server's
    # edge, logs it then (one line, unexpected.py).
    return JSONResponse(_body("DBIFY500", "Internal error"), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DbifyError, _dbify_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
