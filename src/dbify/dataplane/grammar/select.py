"""The ``select`` query parameter: which columns and embedded resources to return.

Owns the select grammar: columns, ``*``, aliases, casts, JSON paths, embeds with hints and
join types, spreads, nested to ``MAX_DEPTH``. Does not check that any of the names exist
(the plan stage does, against the schema snapshot).

>>> [item.field.name for item in parse_select("id, name")]
['id', 'name']
>>> parse_select("total:amount::text")[0]
ColumnItem(field=Field(name='amount', json_path=()), alias='total', cast='text')
>>> item = parse_select("writer:authors!books_author_fkey!inner(name)")[0]
>>> (item.relation, item.alias, item.hint, item.join)
('authors', 'writer', 'books_author_fkey', 'inner')
>>> parse_select("...publisher(name)")[0].spread
True
>>> parse_select("") == STAR
True
>>> parse_select("id,clients(name[])")
Traceback (most recent call last):
dbify.errors.DbifyError: "failed to parse select parameter (id,clients(name[]))" (line 1, column 16)
"""

from __future__ import annotations

import re

from dbify.dataplane.grammar.syntax import (
    MAX_DEPTH,
    ParseFailure,
    read_field,
    read_field_name,
    read_identifier,
    skip_whitespace,
    syntax_error,
)
from dbify.dataplane.grammar.types import (
    STAR,
    ColumnItem,
    EmbedItem,
    Field,
    JoinType,
    SelectItem,
)
from dbify.errors import Codes, DbifyError

# Most selects are a plain list of column names; they skip the general parser.
_PLAIN_COLUMNS = re.compile(r"[\w $]+(?:,[\w $]+)*")
_AGGREGATE = re.compile(r"\.(?:sum|avg|count|max|min)\(\)")
_COUNT = re.compile(r"count\(\)")
_END_EXPECTED = '"->", "::", ")", "," or end of input'


def parse_select(value: str) -> tuple[SelectItem, ...]:
    """The select tree of ``select=value``; an empty value selects ``*``.

    Raises ``DbifyError`` ``PGRST100`` when the value does not parse, and ``PGRST123``
    for aggregates (``count()``, ``amount.sum()``), which Dbify does not enable.
    """
    if not value.strip():
        return STAR
    if value == "*":
        return STAR
    if _PLAIN_COLUMNS.fullmatch(value):
        names = [name.strip() for name in value.split(",")]
        if all(names):
            return tuple(ColumnItem(Field(name)) for name in names)
    try:
        items, position = _read_items(value, 0, 0)
        if position != len(value):
            raise ParseFailure(position, '"," or end of input')
    except ParseFailure as failure:
        raise syntax_error("select parameter", value, failure) from None
    return items


def _read_items(text: str, position: int, depth: int) -> tuple[tuple[SelectItem, ...], int]:
    """Comma-separated items up to a ``)`` or the end; none at all before a ``)``."""
    if depth > MAX_DEPTH:
        raise ParseFailure(position, f"at most {MAX_DEPTH} levels of embedding")
    position = skip_whitespace(text, position)
    if text.startswith(")", position) and depth > 0:
        return (), position
    items: list[SelectItem] = []
    while True:
        item, position = _read_item(text, position, depth)
        items.append(item)
        position = skip_whitespace(text, position)
        if not text.startswith(",", position):
            return tuple(items), position
        position += 1


def _read_item(text: str, position: int, depth: int) -> tuple[SelectItem, int]:
    position = skip_whitespace(text, position)
    if text.startswith("...", position):
        name, after = read_field_name(text, position + 3)
        return _read_embed(text, after, depth, name, None, spread=True)
    if text.startswith("*", position):
        return _end_of_column(text, position + 1, ColumnItem(Field("*")))
    if _COUNT.match(text, position):
        raise _aggregates_not_allowed()
    name, after = read_field_name(text, position)
    alias: str | None = None
    if text.startswith(":", after) and not text.startswith("::", after):
        alias = name
        after = skip_whitespace(text, after + 1)
        if _COUNT.match(text, after):
            raise _aggregates_not_allowed()
        position = after
        name, after = read_field_name(text, after)
    if text.startswith(("(", "!"), after):
        return _read_embed(text, after, depth, name, alias, spread=False)
    field, after = read_field(text, position)
    cast: str | None = None
    if text.startswith("::", after):
        cast, after = read_identifier(text, after + 2)
    return _end_of_column(text, after, ColumnItem(field, alias, cast))


def _end_of_column(text: str, position: int, item: ColumnItem) -> tuple[SelectItem, int]:
    if _AGGREGATE.match(text, position):
        raise _aggregates_not_allowed()
    position = skip_whitespace(text, position)
    if position < len(text) and text[position] not in ",)":
        raise ParseFailure(position, _END_EXPECTED)
    return item, position


def _read_embed(
    text: str, position: int, depth: int, relation: str, alias: str | None, *, spread: bool
) -> tuple[SelectItem, int]:
    """The ``!hint!join(...)`` part of an embed whose name has been read."""
    hint: str | None = None
    join: JoinType | None = None
    for _ in range(2):
        if not text.startswith("!", position):
            break
        parameter, position = read_field_name(text, position + 1)
        # The first hint and the first join type win, as in PostgREST.
        if parameter in ("left", "inner"):
            join = join or ("left" if parameter == "left" else "inner")
        else:
            hint = hint or parameter
    if not text.startswith("(", position):
        raise ParseFailure(position, '"("')
    items, position = _read_items(text, position + 1, depth + 1)
    if not text.startswith(")", position):
        raise ParseFailure(position, '"," or ")"')
    embed = EmbedItem(relation, items, alias, hint, join, spread)
    return embed, position + 1


def _aggregates_not_allowed() -> DbifyError:
    return DbifyError(Codes.AGGREGATES_NOT_ALLOWED, "Use of aggregate functions is not allowed")
