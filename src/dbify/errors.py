"""The catalogue of errors Dbify can return, and the exception that carries them.

Every error a client can see has a stable code, an HTTP status, a message and optional
details and hint. The data plane uses PostgREST's codes and JSON shape
(``{"code", "message", "details", "hint"}``) wherever the behaviour matches, so that
PostgREST and Supabase clients can switch on them. Codes are grouped by the pipeline
stage that raises them (as in PostgREST's ``Error.hs``); a retired code is never reused.

This module does not turn errors into HTTP responses: that happens in one place, the
data plane's response stage (``dataplane/respond.py``).

Hierarchy::

    DbifyError                 any error with a catalogue entry
    └── DatabaseError          an error reported by the user's PostgreSQL (code = SQLSTATE)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import orjson


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """A catalogue entry: the code clients switch on and the HTTP status it maps to."""

    code: str
    status: int


class Codes(Enum):
    """The error catalogue, grouped by the stage that raises each error.

    PGRST1xx: the request (grammar, headers, body). PGRST2xx: the schema cache (unknown
    table, relationship, function). PGRST3xx: authentication. PGRST0xx: the database
    connection. DBIFY-prefixed codes have no PostgREST counterpart.
    """

    # connection (PGRST0xx)
    DATABASE_UNAVAILABLE = ErrorKind("PGRST000", 503)
    DATABASE_POOL_TIMEOUT = ErrorKind("PGRST003", 504)
    # request (PGRST1xx)
    INVALID_QUERY_PARAM = ErrorKind("PGRST100", 400)
    INVALID_RPC_METHOD = ErrorKind("PGRST101", 405)
    INVALID_BODY = ErrorKind("PGRST102", 400)
    INVALID_RANGE = ErrorKind("PGRST103", 416)
    INVALID_FILTERS = ErrorKind("PGRST104", 400)
    INVALID_PUT = ErrorKind("PGRST105", 405)
    SCHEMA_NOT_EXPOSED = ErrorKind("PGRST106", 406)
    UNSUPPORTED_CONTENT_TYPE = ErrorKind("PGRST107", 415)
    NOT_EMBEDDED = ErrorKind("PGRST108", 400)
    INVALID_PREFERENCE = ErrorKind("PGRST122", 400)
    MAX_AFFECTED_EXCEEDED = ErrorKind("PGRST124", 400)
    NOT_FOUND = ErrorKind("PGRST125", 404)
    SINGULAR_RESPONSE = ErrorKind("PGRST116", 406)
    UNSUPPORTED_MEDIA_TYPE = ErrorKind("PGRST118", 406)
    PAYLOAD_TOO_LARGE = ErrorKind("DBIFY413", 413)
    URI_TOO_LONG = ErrorKind("DBIFY414", 414)
    MALFORMED_HTTP = ErrorKind("DBIFY400", 400)
    UNFILTERED_MUTATION = ErrorKind("DBIFY101", 400)
    PUT_LIMIT_NOT_ALLOWED = ErrorKind("PGRST114", 400)
    PUT_MATCHING_PK = ErrorKind("PGRST115", 400)
    WRITE_NOT_ALLOWED = ErrorKind("42501", 401)
    METHOD_NOT_ALLOWED = ErrorKind("PGRST117", 405)
    AGGREGATES_NOT_ALLOWED = ErrorKind("PGRST123", 400)
    # schema cache (PGRST2xx)
    RELATIONSHIP_NOT_FOUND = ErrorKind("PGRST200", 400)
    AMBIGUOUS_RELATIONSHIP = ErrorKind("PGRST201", 300)
    FUNCTION_NOT_FOUND = ErrorKind("PGRST202", 404)
    AMBIGUOUS_FUNCTION = ErrorKind("PGRST203", 300)
    COLUMN_NOT_FOUND = ErrorKind("PGRST204", 400)
    TABLE_NOT_FOUND = ErrorKind("PGRST205", 404)
    # authentication (PGRST3xx)
    JWT_INVALID = ErrorKind("PGRST301", 401)
    MISSING_CREDENTIALS = ErrorKind("PGRST302", 401)
    JWT_CLAIMS_INVALID = ErrorKind("PGRST303", 401)
    PROJECT_NOT_FOUND = ErrorKind("DBIFY404", 404)
    RATE_LIMITED = ErrorKind("DBIFY429", 429)
    # search (issue 9)
    SEARCH_INDEX_NOT_FOUND = ErrorKind("DBIFY661", 404)
    SEARCH_MODE_UNAVAILABLE = ErrorKind("DBIFY662", 400)
    SEARCH_BACKEND_FAILED = ErrorKind("DBIFY663", 503)
    INTERNAL = ErrorKind("DBIFY500", 500)


class DbifyError(Exception):
    """An error with a catalogue entry, safe to show to the client as it is.

    ``message``, ``details`` and ``hint`` must never contain secrets, server paths or
    connection URLs: they are sent to the client verbatim.
    """

    def __init__(
        self,
        kind: Codes | ErrorKind,
        message: str,
        details: str | list[dict[str, str]] | None = None,
        hint: str | None = None,
        *,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        entry = kind.value if isinstance(kind, Codes) else kind
        self.code = entry.code
        self.status = status if status is not None else entry.status
        self.message = message
        self.details = details
        self.hint = hint

    def to_json(self) -> bytes:
        """The PostgREST-shaped JSON body."""
        return orjson.dumps(
            {"code": self.code, "details": self.details, "hint": self.hint, "message": self.message}
        )

    def __repr__(self) -> str:
        return f"DbifyError({self.code}, {self.status}, {self.message!r})"


class DatabaseError(DbifyError):
    """An error PostgreSQL reported while running a request's statement.

    ``code`` is the SQLSTATE, as PostgREST reports it; the status follows PostgREST's
    mapping (see ``dataplane/execute.py``).
    """
