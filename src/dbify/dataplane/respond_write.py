"""The respond stage for writes: status, headers and body after POST, PUT, PATCH, DELETE.

Follows PostgREST's ``Response.hs``:

=========  ==========================  ==========================  =====================
method     return=representation       minimal / headers-only      Content-Range
=========  ==========================  ==========================  =====================
POST       201 (200: a merge-          201, empty body;            ``*/*`` or ``*/N``
           duplicates upsert that      headers-only adds
           inserted nothing), body     ``Location`` for one row
PUT        201 inserted / 200 updated  204                         none
PATCH      200, body                   204                         ``0-(N-1)/*`` or ``/N``
DELETE     200, body                   204                         ``*/*`` or ``*/N``
=========  ==========================  ==========================  =====================

The total (``/N``) is shown with ``Prefer: count=exact``. Also checks a result before
it is committed (``write_check``): ``Prefer: max-affected`` (PGRST124), PUT's key match
(PGRST115), a singular body (PGRST116) and an access role's row filter (42501) raise,
which rolls the write back. No I/O.
"""

from __future__ import annotations

from urllib.parse import quote

from dbify.dataplane.execute import WriteCheck, WriteResult
from dbify.dataplane.grammar.types import ApiRequest, Preferences
from dbify.dataplane.plan.access import ROW_FILTER_VIOLATION
from dbify.dataplane.plan.mutate import MutatePlan
from dbify.dataplane.respond import JSON_CONTENT_TYPE, ApiResponse, Headers, content_range
from dbify.errors import Codes, DbifyError

_OBJECT_CONTENT_TYPE = b"application/vnd.pgrst.object+json; charset=utf-8"


def write_check(request: ApiRequest, plan: MutatePlan) -> WriteCheck | None:
    """The checks a write's result must pass before commit, or None when there are none
    (the write then runs on the fast path)."""
    limit = request.preferences.max_affected if plan.mutation in ("update", "delete") else None
    put = plan.mutation == "put"
    singular = plan.returning is not None and request.media_type == "object"
    row_check = bool(plan.check)
    if limit is None and not put and not singular and not row_check:
        return None

    def check(result: WriteResult) -> None:
        if result.violations:
            raise DbifyError(
                ROW_FILTER_VIOLATION,
                f"new row violates the row filter of the access role for"
                f" table '{plan.relation.name.name}'",
                f"{result.violations} written row(s) would fall outside the role's rows",
            )
        if limit is not None and result.affected > limit:
            raise DbifyError(
                Codes.MAX_AFFECTED_EXCEEDED,
                "Query result exceeds max-affected preference constraint",
                f"The query affects {result.affected} rows",
            )
        if put and result.affected != 1:
            raise DbifyError(
                Codes.PUT_MATCHING_PK, "Payload values do not match URL in primary key column(s)"
            )
        if singular and result.affected != 1:
            raise DbifyError(
                Codes.SINGULAR_RESPONSE,
                "JSON object requested, multiple (or no) rows returned",
                f"The result contains {result.affected} rows",
            )

    return check


def respond_write(request: ApiRequest, plan: MutatePlan, result: WriteResult) -> ApiResponse:
    """The response to a write that ran (and committed, or rolled back with tx=rollback)."""
    preferences = request.preferences
    representation = plan.returning is not None
    total = result.affected if preferences.count == "exact" else None
    headers: Headers = []
    if plan.mutation == "update":
        headers.append((b"content-range", content_range(0, result.affected, total).encode()))
    elif plan.mutation in ("insert", "delete"):
        shown = "*" if total is None else str(total)
        headers.append((b"content-range", f"*/{shown}".encode()))
    if plan.mutation == "insert" and preferences.return_ == "headers-only":
        location = _location(plan, result)
        if location is not None:
            headers.append((b"location", location.encode()))
    applied = _applied(preferences, plan)
    if applied:
        headers.append((b"preference-applied", ", ".join(applied).encode()))
    if representation:
        kind = _OBJECT_CONTENT_TYPE if request.media_type == "object" else JSON_CONTENT_TYPE
        headers.append((b"content-type", kind))
    return ApiResponse(_status(plan, result, representation), result.body or b"", headers)


def _status(plan: MutatePlan, result: WriteResult, representation: bool) -> int:
    if plan.mutation == "insert":
        merged_only = plan.resolution == "merge-duplicates" and result.inserted == 0
        return 200 if merged_only else 201
    if not representation:
        return 204
    if plan.mutation == "put":
        return 200 if result.inserted == 0 else 201
    return 200


def _location(plan: MutatePlan, result: WriteResult) -> str | None:
    """``/books?id=eq.5`` for exactly one written row of a relation with a key."""
    if not plan.location_key or len(result.location) != 1:
        return None
    pairs = []
    for column, value in zip(plan.location_key, result.location[0], strict=True):
        condition = "is.null" if value is None else f"eq.{value}"
        pairs.append(f"{quote(column.name, safe='')}={quote(condition, safe='.')}")
    return f"/{quote(plan.relation.name.name, safe='')}?{'&'.join(pairs)}"


def _applied(preferences: Preferences, plan: MutatePlan) -> tuple[str, ...]:
    """``Preference-Applied``: only what this write honoured, as PostgREST lists it."""
    out: list[str] = []
    if plan.resolution is not None and plan.mutation == "insert":
        out.append(f"resolution={plan.resolution}")
    if preferences.return_ is not None:
        out.append(f"return={preferences.return_}")
    if preferences.count is not None:
        out.append(f"count={preferences.count}")
    if preferences.tx is not None:
        out.append(f"tx={preferences.tx}")
    if preferences.missing is not None and plan.mutation in ("insert", "update"):
        out.append(f"missing={preferences.missing}")
    if preferences.max_affected is not None and plan.mutation in ("update", "delete"):
        out.append(f"max-affected={preferences.max_affected}")
    if preferences.handling is not None:
        out.append(f"handling={preferences.handling}")
    return tuple(out)
