"""The query string: every parameter sorted into select, filters, logic, order, ranges.

Owns the split of ``a=1&b=2`` (``+`` is a space, ``%XX`` decoded; a key without ``=`` is
dropped, as PostgREST does), the reserved names (``select``, ``columns``,
``on_conflict``, and ``order``, ``limit``, ``offset``, ``and``, ``or`` at any embed level)
and the embed path of a key (``books.reviews.stars`` applies to ``stars`` in the embed
``books`` → ``reviews``). Every other key is a filter. Does not merge the ``Range``
header (``ranges`` does) nor know the target.

>>> params = parse_query_params("select=id&id=eq.5&books.order=title&books.limit=2")
>>> [(path, f.field.name, f.operator, f.value) for path, f in params.filters]
[((), 'id', 'eq', '5')]
>>> [(path, [t.field.name for t in terms]) for path, terms in params.order]
[(('books',), ['title'])]
>>> params.embedded_ranges
((('books',), Range(offset=0, limit=2)),)
>>> parse_query_params("x=1", lenient_filters=True).raw_params
(('x', '1'),)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import unquote_plus

from dbify.dataplane.grammar.filters import parse_logic_tree, parse_operation
from dbify.dataplane.grammar.order import parse_order
from dbify.dataplane.grammar.select import parse_select
from dbify.dataplane.grammar.syntax import (
    ParseFailure,
    read_field_name,
    read_json_path,
    skip_whitespace,
    syntax_error,
)
from dbify.dataplane.grammar.types import (
    STAR,
    EmbedPath,
    Field,
    Filter,
    LogicTree,
    OrderTerm,
    Range,
    SelectItem,
)
from dbify.errors import Codes, DbifyError

# Reserved names: only at the top level, and also inside embeds (``books.order``).
TOP_LEVEL_KEYS = frozenset(("select", "columns", "on_conflict"))
EMBEDDABLE_KEYS = frozenset(("order", "limit", "offset", "and", "or"))
_PLAIN_KEY = re.compile(r"[\w$]+")
_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True, slots=True)
class QueryParams:
    """The parsed query string. ``root_offset``/``root_limit`` are kept apart because
    they merge with the ``Range`` header; ``root_limit`` may be negative (a 416 later)."""

    select: tuple[SelectItem, ...] = STAR
    filters: tuple[tuple[EmbedPath, Filter], ...] = ()
    logic: tuple[tuple[EmbedPath, LogicTree], ...] = ()
    order: tuple[tuple[EmbedPath, tuple[OrderTerm, ...]], ...] = ()
    embedded_ranges: tuple[tuple[EmbedPath, Range], ...] = ()
    root_offset: int | None = None
    root_limit: int | None = None
    raw_params: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] | None = None
    on_conflict: tuple[str, ...] | None = None


_NO_PARAMS = QueryParams()

# Clients repeat the same few ``select`` and ``order`` values with every request, and
# parsing an embed tree costs more than the rest of the request together. Both parsers
# are pure and return immutable values, so memoizing them is unobservable; errors are
# not cached (lru_cache does not store exceptions).
_parse_select = lru_cache(maxsize=512)(parse_select)
_parse_order = lru_cache(maxsize=512)(parse_order)


def _decode(text: str) -> str:
    return unquote_plus(text) if ("%" in text or "+" in text) else text


def parse_query_params(query_string: str, *, lenient_filters: bool = False) -> QueryParams:
    """Parse a raw (still percent-encoded) query string.

    With ``lenient_filters`` (function calls) a parameter that is not a valid filter is
    not an error: it is only kept in ``raw_params``, as a possible function argument.
    Raises ``DbifyError`` ``PGRST100`` for any parameter that does not parse.
    """
    if not query_string:
        return _NO_PARAMS
    select: tuple[SelectItem, ...] = STAR
    seen_select = False
    filters: list[tuple[EmbedPath, Filter]] = []
    logic: list[tuple[EmbedPath, LogicTree]] = []
    order: dict[EmbedPath, tuple[OrderTerm, ...]] = {}
    offsets: dict[EmbedPath, int] = {}
    limits: dict[EmbedPath, int] = {}
    raw: list[tuple[str, str]] = []
    columns: tuple[str, ...] | None = None
    on_conflict: tuple[str, ...] | None = None
    for part in query_string.split("&"):
        raw_key, has_value, raw_value = part.partition("=")
        if not has_value:
            continue
        key, value = _decode(raw_key), _decode(raw_value)
        if key == "select":
            if not seen_select:
                select, seen_select = _parse_select(value), True
        elif key == "columns":
            columns = columns or _parse_columns("columns", value)
        elif key == "on_conflict":
            on_conflict = on_conflict or _parse_columns("on_conflict", value)
        elif _PLAIN_KEY.fullmatch(key) and key not in EMBEDDABLE_KEYS:
            raw.append((key, value))
            _add_filter(filters, (), Field(key), value, lenient_filters)
        else:
            last = key.rpartition(".")[2]
            if last not in EMBEDDABLE_KEYS:
                raw.append((key, value))
                _add_parsed_filter(filters, key, value, lenient_filters)
            elif last in ("and", "or"):
                path = _embed_path(key)
                negated = "not" in path
                embed = tuple(name for name in path if name != "not")
                operator: Literal["and", "or"] = "and" if last == "and" else "or"
                logic.append((embed, parse_logic_tree(operator, value, negated=negated)))
            elif last == "order":
                order.setdefault(_embed_path(key), _parse_order(value))
            elif last == "limit":
                limits[_embed_path(key)] = _integer(key, value)
            else:
                offsets[_embed_path(key)] = _integer(key, value)
    return QueryParams(
        select=select,
        filters=tuple(filters),
        logic=tuple(logic),
        order=tuple(order.items()),
        embedded_ranges=_embedded_ranges(offsets, limits),
        root_offset=_non_negative("offset", offsets.get(())),
        root_limit=limits.get(()),
        raw_params=tuple(raw),
        columns=columns,
        on_conflict=on_conflict,
    )


def _add_filter(
    filters: list[tuple[EmbedPath, Filter]],
    path: EmbedPath,
    field: Field,
    value: str,
    lenient: bool,
) -> None:
    try:
        filters.append((path, parse_operation(field, value)))
    except DbifyError:
        if not lenient:
            raise


def _add_parsed_filter(
    filters: list[tuple[EmbedPath, Filter]], key: str, value: str, lenient: bool
) -> None:
    try:
        path, field = _filter_key(key)
    except DbifyError:
        if lenient:
            return
        raise
    _add_filter(filters, path, field, value, lenient)


def _filter_key(key: str) -> tuple[EmbedPath, Field]:
    """``books.reviews.data->>x`` → (``("books", "reviews")``, ``data->>x``)."""
    try:
        names: list[str] = []
        position = 0
        while True:
            name, position = read_field_name(key, skip_whitespace(key, position))
            names.append(name)
            if not key.startswith(".", position):
                break
            position += 1
        json_path, position = read_json_path(key, position)
        if skip_whitespace(key, position) != len(key):
            raise ParseFailure(position, 'delimiter (.), "->" or end of input')
    except ParseFailure as failure:
        raise syntax_error("tree path", key, failure) from None
    return tuple(names[:-1]), Field(names[-1], json_path)


def _embed_path(key: str) -> EmbedPath:
    """The embed names before the last segment of ``books.reviews.order``."""
    if '"' not in key:
        return tuple(name.strip() for name in key.split(".")[:-1])
    path, _ = _filter_key(key)
    return path


def _parse_columns(parameter: str, value: str) -> tuple[str, ...]:
    try:
        names: list[str] = []
        position = 0
        while True:
            name, position = read_field_name(value, skip_whitespace(value, position))
            names.append(name)
            position = skip_whitespace(value, position)
            if position == len(value):
                return tuple(names)
            if not value.startswith(",", position):
                raise ParseFailure(position, '"," or end of input')
            position += 1
    except ParseFailure as failure:
        raise syntax_error(f"{parameter} parameter", value, failure) from None


def _integer(key: str, value: str) -> int:
    text = value.strip()
    if _INTEGER.fullmatch(text) is None:
        raise DbifyError(
            Codes.INVALID_QUERY_PARAM,
            f'"failed to parse {key} ({value})" (line 1, column 1)',
            "expecting a non-negative integer",
        )
    return int(text)


def _non_negative(key: str, number: int | None) -> int | None:
    if number is not None and number < 0:
        raise DbifyError(
            Codes.INVALID_QUERY_PARAM,
            f'"failed to parse {key} ({number})" (line 1, column 1)',
            "expecting a non-negative integer",
        )
    return number


def _embedded_ranges(
    offsets: dict[EmbedPath, int], limits: dict[EmbedPath, int]
) -> tuple[tuple[EmbedPath, Range], ...]:
    ranges: list[tuple[EmbedPath, Range]] = []
    for path in dict.fromkeys([*limits, *offsets]):
        if path == ():
            continue
        offset = _non_negative("offset", offsets.get(path)) or 0
        limit = _non_negative("limit", limits.get(path))
        ranges.append((path, Range(offset, limit)))
    return tuple(ranges)
