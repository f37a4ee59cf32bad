"""The ``order`` query parameter: ``order=name,age.desc,data->>x.asc.nullslast``.

Owns the ordering grammar, including a column of a to-one embed (``author(name).desc``).
Does not check that the columns exist or that the embed is to-one (the plan stage does).

>>> [(t.field.name, t.direction, t.nulls) for t in parse_order("name,age.desc.nullslast")]
[('name', None, None), ('age', 'desc', 'last')]
>>> parse_order("data->>x.asc")[0].field
Field(name='data', json_path=(JsonStep(arrow='->>', key='x'),))
>>> parse_order("author(name).desc")[0].relation
'author'
>>> parse_order("id.ac")
Traceback (most recent call last):
dbify.errors.DbifyError: "failed to parse order (id.ac)" (line 1, column 4)
"""

from __future__ import annotations

import re

from dbify.dataplane.grammar.syntax import (
    ParseFailure,
    read_field,
    read_field_name,
    skip_whitespace,
    syntax_error,
)
from dbify.dataplane.grammar.types import OrderTerm

_MODIFIERS = re.compile(r"(?:\.(asc|desc))?(?:\.(nullsfirst|nullslast))?")


def parse_order(value: str) -> tuple[OrderTerm, ...]:
    """The ordering keys of ``order=value``, in order.

    Raises ``DbifyError`` ``PGRST100`` when the value does not parse (an unknown
    direction, ``nulls`` option or a stray character).
    """
    try:
        terms: list[OrderTerm] = []
        position = 0
        while True:
            term, position = _read_term(value, position)
            terms.append(term)
            if position == len(value):
                return tuple(terms)
            position += 1  # the "," _MODIFIERS looked ahead for
    except ParseFailure as failure:
        raise syntax_error("order", value, failure) from None


def _read_term(text: str, position: int) -> tuple[OrderTerm, int]:
    position = skip_whitespace(text, position)
    relation: str | None = None
    name, name_end = read_field_name(text, position)
    if text.startswith("(", name_end):
        relation = name
        field, position = read_field(text, name_end + 1)
        if not text.startswith(")", position):
            raise ParseFailure(position, '")"')
        position += 1
    else:
        field, position = read_field(text, position)
    match = _MODIFIERS.match(text, position)
    assert match is not None  # every part of the pattern is optional
    end = skip_whitespace(text, match.end())
    if end < len(text) and text[end] != ",":
        if text[end] == ".":
            raise ParseFailure(end + 1, '"asc", "desc", "nullsfirst" or "nullslast"')
        raise ParseFailure(end, 'delimiter (.), "," or end of input')
    direction, nulls = match.group(1), match.group(2)
    return (
        OrderTerm(
            field,
            "asc" if direction == "asc" else "desc" if direction == "desc" else None,
            "first" if nulls == "nullsfirst" else "last" if nulls == "nullslast" else None,
            relation,
        ),
        end,
    )
