"""Content negotiation on the ``Accept`` header.

Owns the mapping from media ranges to Dbify's ``MediaType`` and the choice among them:
the client's ranges are tried by decreasing ``q`` (ties keep the client's order, ``q=0``
excludes), and the first one Dbify can produce for the target wins. Parameters other
than ``q`` (``nulls=stripped``, ``charset``) are ignored. Does not render anything.

>>> negotiate_media_type(None, "relation")
'json'
>>> negotiate_media_type("text/csv;q=0.5, application/vnd.pgrst.object+json", "relation")
'object'
>>> negotiate_media_type("application/json", "root")
'openapi'
>>> negotiate_media_type("text/html", "relation")
Traceback (most recent call last):
dbify.errors.DbifyError: None of these media types are available: text/html
"""

from __future__ import annotations

from typing import Final, Literal

from dbify.dataplane.grammar.types import MediaType
from dbify.errors import Codes, DbifyError

TargetKind = Literal["relation", "function", "root"]

_DATA: Final[dict[str, MediaType]] = {
    "application/json": "json",
    "application/vnd.pgrst.array+json": "json",
    "application/vnd.pgrst.array": "json",
    "*/*": "json",
    "application/*": "json",
    "application/vnd.pgrst.object+json": "object",
    "application/vnd.pgrst.object": "object",
    "text/csv": "csv",
    "application/geo+json": "geojson",
}
# The root serves the API description whether the client asks for JSON or OpenAPI.
_ROOT: Final[dict[str, MediaType]] = {
    "application/openapi+json": "openapi",
    "application/json": "openapi",
    "application/*": "openapi",
    "*/*": "openapi",
}


def negotiate_media_type(accept: str | None, target: TargetKind) -> MediaType:
    """The representation to send for ``Accept: accept``; a missing or empty header
    means ``application/json``.

    Raises ``DbifyError`` ``PGRST118`` (406) when nothing acceptable can be produced.
    """
    available = _ROOT if target == "root" else _DATA
    if not accept or accept == "application/json" or accept == "*/*":
        return available["application/json"]
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media_range, _, parameters = part.partition(";")
        name = media_range.strip().lower()
        if not name:
            continue
        quality = _quality(parameters) if parameters else 1.0
        if quality > 0:
            ranges.append((-quality, index, name))
    ranges.sort()
    for _, _, name in ranges:
        chosen = available.get(name)
        if chosen is not None:
            return chosen
    offered = ", ".join(part.partition(";")[0].strip() for part in accept.split(","))
    raise DbifyError(
        Codes.UNSUPPORTED_MEDIA_TYPE, f"None of these media types are available: {offered}"
    )


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 1.0
            return quality if 0.0 <= quality <= 1.0 else 1.0
    return 1.0
