"""The respond stage for function calls (``/rpc/f``): status, headers and body.

Follows PostgREST's ``Response.hs`` for ``CallReadPlan``: a function returning ``void``
answers 204 with no body and no ``Content-Type``; anything else is answered like a read:
the status from the range (200, 206 with ``count=exact`` on a partial page, 416),
``Content-Range``, ``Content-Type`` and ``Preference-Applied``, the body PostgreSQL built
(none for HEAD). A single-row or scalar result is already one JSON value, so the
singular-object check (PGRST116) only applies to sets. No I/O.
"""

from __future__ import annotations

from dbify.dataplane.execute import ReadResult
from dbify.dataplane.grammar.types import ApiRequest, MediaType
from dbify.dataplane.respond import ApiResponse, Headers, content_range
from dbify.errors import Codes, DbifyError

_CONTENT_TYPES: dict[MediaType, bytes] = {
    "json": b"application/json; charset=utf-8",
    "object": b"application/vnd.pgrst.object+json; charset=utf-8",
    "csv": b"text/csv; charset=utf-8",
}


def respond_call(
    request: ApiRequest,
    result: ReadResult,
    *,
    media_type: MediaType,
    returns_set: bool,
    returns_void: bool,
) -> ApiResponse:
    """The response to a call; ``media_type`` is the answer's (``CallPlan``'s
    ``response_media_type``)."""
    applied = request.preferences.applied()
    top = request.range_at(())
    offset = top.offset if top is not None and returns_set else 0
    total = result.total_count if returns_set else None
    headers: Headers = [
        (b"content-range", content_range(offset, result.page_count, total).encode())
    ]
    if applied:
        headers.append((b"preference-applied", ", ".join(applied).encode()))
    if returns_void:
        return ApiResponse(204, b"", headers)
    if total is not None and offset > total:
        raise DbifyError(
            Codes.INVALID_RANGE,
            "Requested range not satisfiable",
            f"An offset of {offset} was requested, but there are only {total} rows.",
        )
    if returns_set and request.media_type == "object" and result.page_count != 1:
        raise DbifyError(
            Codes.SINGULAR_RESPONSE,
            "JSON object requested, multiple (or no) rows returned",
            f"The result contains {result.page_count} rows",
        )
    status = 206 if total is not None and result.page_count < total else 200
    headers.insert(0, (b"content-type", _CONTENT_TYPES.get(media_type, _CONTENT_TYPES["json"])))
    body = b"" if request.method == "HEAD" else result.body
    return ApiResponse(status, body, headers)
