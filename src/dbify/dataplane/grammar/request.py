"""A whole data API request: method, path, headers and query string → ``ApiRequest``.

Owns the target (``/books``, ``/rpc/fn``, the root), the action each method means for it,
the schema chosen by ``Accept-Profile``/``Content-Profile``, and assembling the parsed
query parameters, preferences, ranges and media type. Does not parse the body (kept as
bytes with its content type) and does not look at the schema snapshot.

>>> request = parse_request("GET", "/books", "id=eq.5", {}, None, exposed_schemas=("public",))
>>> (request.action, request.target, request.schema)
('read', Target(kind='relation', name='books'), 'public')
>>> parse_request("POST", "/rpc/add", "", {}, b"{}", exposed_schemas=("api",)).action
'call'
>>> parse_request("GET", "/", "", {"accept-profile": "x"}, None, exposed_schemas=("api",))
Traceback (most recent call last):
dbify.errors.DbifyError: The schema must be one of the following: api
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from dbify.dataplane.grammar.media_types import negotiate_media_type
from dbify.dataplane.grammar.preferences import parse_preferences
from dbify.dataplane.grammar.query_params import parse_query_params
from dbify.dataplane.grammar.ranges import merge_ranges
from dbify.dataplane.grammar.types import Action, ApiRequest, Preferences, Target
from dbify.errors import Codes, DbifyError

_ROOT = Target("root")
_RELATION_ACTIONS: dict[str, Action] = {
    "GET": "read",
    "HEAD": "head",
    "POST": "insert",
    "PATCH": "update",
    "PUT": "upsert",
    "DELETE": "delete",
}
# Writes name their schema with Content-Profile, reads with Accept-Profile.
_WRITE_METHODS = frozenset(("POST", "PATCH", "PUT", "DELETE"))


def parse_request(
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    exposed_schemas: tuple[str, ...],
) -> ApiRequest:
    """Parse one request to the data API.

    ``path`` is what follows the REST root (``""``, ``"/"``, ``"/books"``,
    ``"/rpc/fn"``), percent-encoded or not; ``query_string`` is raw; header names are
    lower case. ``exposed_schemas`` is non-empty, the first being the default.

    Raises ``DbifyError``: ``PGRST125`` (404) for a path with more segments,
    ``PGRST117``/``PGRST101`` (405) for a method the target does not support,
    ``PGRST106`` for a schema not exposed, ``PGRST100`` for a parameter that does not
    parse, ``PGRST103`` (416) for an unsatisfiable range, ``PGRST114`` for ``limit`` on
    PUT, ``PGRST122`` for a bad ``Prefer`` with ``handling=strict``, ``PGRST118`` (406)
    for an ``Accept`` nothing matches.
    """
    method = method.upper()
    target = _parse_target(path)
    schema = _choose_schema(method, headers, exposed_schemas)
    preferences = parse_preferences(headers.get("prefer"))
    action = _choose_action(method, target, preferences)
    params = parse_query_params(query_string, lenient_filters=target.kind == "function")
    top = merge_ranges(
        method, headers.get("range"), offset=params.root_offset, limit=params.root_limit
    )
    if method == "PUT" and (top.offset or top.limit is not None):
        raise DbifyError(
            Codes.PUT_LIMIT_NOT_ALLOWED,
            "limit/offset querystring parameters are not allowed for PUT",
        )
    return ApiRequest(
        method=method,
        action=action,
        target=target,
        schema=schema,
        select=params.select,
        filters=params.filters,
        logic=params.logic,
        order=params.order,
        ranges=(((), top), *params.embedded_ranges),
        preferences=preferences,
        media_type=negotiate_media_type(headers.get("accept"), target.kind),
        raw_params=params.raw_params,
        columns=params.columns,
        on_conflict=params.on_conflict,
        body=body,
        content_type=headers.get("content-type"),
    )


def _parse_target(path: str) -> Target:
    """``/books`` → relation, ``/rpc/fn`` → function, ``""`` or ``/`` → root."""
    if path.count("/") == 1 and path.startswith("/") and len(path) > 1 and "%" not in path:
        return Target("relation", path[1:])
    segments = path.strip("/").split("/") if path.strip("/") else []
    if "%" in path:
        segments = [unquote(segment) for segment in segments]
    if not segments:
        return _ROOT
    if len(segments) == 1 and segments[0]:
        return Target("relation", segments[0])
    if len(segments) == 2 and segments[0] == "rpc" and segments[1]:
        return Target("function", segments[1])
    raise DbifyError(Codes.NOT_FOUND, "Invalid path specified in request URL")


def _choose_schema(method: str, headers: Mapping[str, str], exposed: tuple[str, ...]) -> str:
    profile = headers.get("content-profile" if method in _WRITE_METHODS else "accept-profile")
    if profile is None:
        return exposed[0]
    if profile not in exposed:
        listed = ", ".join(exposed)
        raise DbifyError(
            Codes.SCHEMA_NOT_EXPOSED,
            f"The schema must be one of the following: {listed}",
            hint=f"Only the following schemas are exposed: {listed}",
        )
    return profile


def _choose_action(method: str, target: Target, preferences: Preferences) -> Action:
    if target.kind == "function":
        if method in ("GET", "HEAD", "POST"):
            return "call"
        raise DbifyError(Codes.INVALID_RPC_METHOD, f"Cannot use the {method} method on RPC")
    if target.kind == "root":
        if method in ("GET", "HEAD"):
            return "schema"
        raise _unsupported(method)
    action = _RELATION_ACTIONS.get(method)
    if action is None:
        raise _unsupported(method)
    if action == "insert" and preferences.resolution is not None:
        return "upsert"
    return action


def _unsupported(method: str) -> DbifyError:
    return DbifyError(Codes.METHOD_NOT_ALLOWED, f"Unsupported HTTP method: {method}")
