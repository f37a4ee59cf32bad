"""The arguments of a function call (``/rpc/f``), as the client sent them.

Owns where a call's arguments come from, as PostgREST's ``ApiRequest/Payload.hs`` and
``QueryParams.hs`` decide it: a GET/HEAD takes them from the query string (a plain key
whose value is not a filter: ``?a=1`` is an argument, ``?a=eq.1`` a filter on the
result), a POST from its body: a JSON object (``application/json``, the default; an
empty body is ``{}``), a form (``application/x-www-form-urlencoded``) or raw text for a
single unnamed ``text``/``xml`` parameter. Does not know the function: matching names to
parameters is the plan stage's job (``plan/call.py``).

The RPC body is parsed here rather than by the write payload parser because its rules
differ (any JSON value is accepted for a single ``json`` parameter, ``text/plain`` and
``text/xml`` bodies, repeated form keys for variadic parameters).

>>> args = parse_call_arguments("GET", (("a", "1"), ("b", "2"), ("c", "gt.3")), None, None)
>>> (args.names, args.texts)
(('a', 'b'), (('a', '1'), ('b', '2')))
>>> parse_call_arguments("POST", (), b'{"a": 1, "b": [2]}', None).names
('a', 'b')
>>> parse_call_arguments("POST", (), b"", "application/json").json
'{}'
>>> parse_call_arguments("POST", (), b"{", None)
Traceback (most recent call last):
dbify.errors.DbifyError: Empty or invalid json
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import parse_qsl

import orjson

from dbify.dataplane.grammar.filters import parse_operation
from dbify.dataplane.grammar.types import Field
from dbify.errors import Codes, DbifyError

BodyMedia = Literal["json", "text", "xml", "form", "none"]

_PLAIN_KEY: Final = re.compile(r"[\w$]+")
_JSON_TYPES: Final = frozenset(("application/json", "application/vnd.pgrst.object+json", "*/*"))
_MEDIA: Final[dict[str, BodyMedia]] = {
    "text/plain": "text",
    "text/xml": "xml",
    "application/xml": "xml",
    "application/x-www-form-urlencoded": "form",
}


@dataclass(frozen=True, slots=True)
class CallArguments:
    """What a call was given.

    ``names`` are the argument names, unique, in first-seen order (PostgREST resolves
    overloads by this set). ``texts`` are ``(name, value)`` pairs from the query string
    or a form body, repeated names kept (a variadic parameter collects them). ``json``
    is the JSON body's text (an object when ``names`` come from it); ``raw`` is the body
    as text for a single unnamed parameter. ``media`` is what the body was.
    """

    names: tuple[str, ...] = ()
    texts: tuple[tuple[str, str], ...] = ()
    json: str | None = None
    raw: str | None = None
    media: BodyMedia = "none"
    is_object: bool = False


def parse_call_arguments(
    method: str,
    raw_params: tuple[tuple[str, str], ...],
    body: bytes | None,
    content_type: str | None,
) -> CallArguments:
    """The arguments of a call made with ``method`` (GET, HEAD or POST).

    ``raw_params`` are the request's non-reserved query parameters, decoded. Raises
    ``DbifyError``: ``PGRST102`` (400) for a body that is not valid JSON or not UTF-8,
    ``PGRST107`` (415) for a content type a call cannot take.
    """
    if method in ("GET", "HEAD"):
        return _from_texts(tuple(p for p in raw_params if _is_argument(*p)), "none")
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    text = _utf8(body or b"")
    if media_type in _JSON_TYPES:
        return _from_json(text)
    media = _MEDIA.get(media_type)
    if media is None:
        raise DbifyError(
            Codes.UNSUPPORTED_CONTENT_TYPE, f"Content-Type not acceptable: {content_type}"
        )
    if media == "form":
        return _from_texts(tuple(parse_qsl(text, keep_blank_values=True)), "form")
    return CallArguments(raw=text, media=media)


def _is_argument(key: str, value: str) -> bool:
    """A plain key whose value does not parse as a filter (PostgREST's ``NoOpExpr``)."""
    if _PLAIN_KEY.fullmatch(key) is None:
        return False
    try:
        parse_operation(Field(key), value)
    except DbifyError:
        return True
    return False


def _from_texts(pairs: tuple[tuple[str, str], ...], media: BodyMedia) -> CallArguments:
    names = tuple(dict.fromkeys(name for name, _ in pairs))
    return CallArguments(names=names, texts=pairs, media=media)


def _from_json(text: str) -> CallArguments:
    if not text.strip():
        return CallArguments(json="{}", raw=text, media="json", is_object=True)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _invalid_json() from None
    if isinstance(value, dict):
        return CallArguments(names=tuple(value), json=text, raw=text, media="json", is_object=True)
    return CallArguments(json=text, raw=text, media="json")


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DbifyError(
            Codes.INVALID_BODY,
            "The request body is not valid UTF-8",
            f"Invalid byte at position {error.start}",
        ) from None


def _invalid_json() -> DbifyError:
    return DbifyError(Codes.INVALID_BODY, "Empty or invalid json")
