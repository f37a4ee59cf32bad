"""The respond stage: status, headers and body of a data API response.

Bodies are the bytes PostgreSQL built; this module only decides the status
(200/206/416/406), ``Content-Range``, ``Content-Type`` and ``Preference-Applied``,
and renders catalogue errors in PostgREST's JSON shape. It does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbify.dataplane.execute import ReadResult
from dbify.dataplane.grammar.types import ApiRequest, MediaType
from dbify.errors import Codes, DbifyError

Headers = list[tuple[bytes, bytes]]

_CONTENT_TYPES: dict[MediaType, bytes] = {
    "json": b"application/json; charset=utf-8",
    "object": b"application/vnd.pgrst.object+json; charset=utf-8",
    "csv": b"text/csv; charset=utf-8",
    "openapi": b"application/openapi+json; charset=utf-8",
    "geojson": b"application/geo+json; charset=utf-8",
}
JSON_CONTENT_TYPE = _CONTENT_TYPES["json"]


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """An HTTP response ready to send."""

    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)


def content_range(offset: int, page_count: int, total: int | None) -> str:
    """PostgREST's ``Content-Range`` value.

    >>> content_range(0, 20, None)
    '0-19/*'
    >>> content_range(10, 5, 15)
    '10-14/15'
    >>> content_range(0, 0, 0)
    '*/0'
    """
    upper = offset + page_count - 1
    shown = f"{offset}-{upper}" if total != 0 and offset <= upper else "*"
    return f"{shown}/{'*' if total is None else total}"


def _range_status(offset: int, page_count: int, total: int | None) -> int:
    if total is None:
        return 200
    if offset > total:
        return 416
    if page_count < total:
        return 206
    return 200


def _total(request: ApiRequest, result: ReadResult, offset: int) -> int | None:
    if result.total_count is not None:
        return result.total_count
    if result.estimated_total is None:
        return None
    limit = request.range_at(())
    page_full = limit is not None and limit.limit is not None and result.page_count >= limit.limit
    if (
        request.preferences.count == "estimated"
        and not page_full
        and (result.page_count > 0 or offset == 0)
    ):
        # The page ended before the limit: the exact total is known for free.
        return offset + result.page_count
    return max(result.estimated_total, offset + result.page_count)


def respond_read(request: ApiRequest, result: ReadResult) -> ApiResponse:
    """The response to a GET or HEAD on a relation."""
    root_range = request.range_at(())
    offset = root_range.offset if root_range is not None else 0
    total = _total(request, result, offset)
    status = _range_status(offset, result.page_count, total)
    if status == 416:
        raise DbifyError(
            Codes.INVALID_RANGE,
            "Requested range not satisfiable",
            f"An offset of {offset} was requested, but there are only {total} rows.",
        )
    if request.media_type == "object" and result.page_count != 1:
        raise DbifyError(
            Codes.SINGULAR_RESPONSE,
            "JSON object requested, multiple (or no) rows returned",
            f"The result contains {result.page_count} rows",
        )
    headers: Headers = [
        (b"content-type", _CONTENT_TYPES[request.media_type]),
        (b"content-range", content_range(offset, result.page_count, total).encode()),
    ]
    applied = request.preferences.applied()
    if applied:
        headers.append((b"preference-applied", ", ".join(applied).encode()))
    body = b"" if request.action == "head" else result.body
    return ApiResponse(status, body, headers)


def respond_error(error: DbifyError) -> ApiResponse:
    """A catalogue error as PostgREST renders it."""
    headers: Headers = [(b"content-type", JSON_CONTENT_TYPE)]
    if error.status == 401:
        if error.code == "PGRST301":  # a token was sent and refused (RFC 6750 §3)
            description = error.message.replace("\\", "").replace('"', "'")
            value = f'Bearer error="invalid_token", error_description="{description}"'
            headers.append((b"www-authenticate", value.encode("latin-1", "replace")))
        else:
            headers.append((b"www-authenticate", b'Bearer realm="dbify"'))
    return ApiResponse(error.status, error.to_json(), headers)
