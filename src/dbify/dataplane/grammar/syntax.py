"""The lexical pieces shared by every query parameter parser, and the parse error.

Owns: field names (``name``, ``"my col"``, ``first-name``), quoted values with backslash
escapes, JSON paths (``->a->>b``, ``->0``), cast types, and the ``DbifyError`` PostgREST
reports when a parameter does not parse (``"failed to parse filter (x)" (line 1, column
3)``). Does not own what a parameter means: ``select``, ``filters``, ``order`` and
``query_params`` build on these pieces.

Parsers here take the text and a position and return the value and the position after
it; on failure they raise ``ParseFailure`` with the position and what was expected, and
the caller turns it into a ``DbifyError`` naming the whole parameter value with
``syntax_error``. Regular expressions do the scanning, so a parameter costs a handful of
``re`` calls, never a Python loop per character.

>>> read_field("data->a->>b", 0)
(Field(name='data', json_path=(JsonStep(arrow='->', key='a'), JsonStep(arrow='->>', key='b'))), 11)
>>> read_field_name('"my col".x', 0)
('my col', 8)
>>> read_field(" first-name ->0", 0)[0]
Field(name='first-name', json_path=(JsonStep(arrow='->', key=0),))
"""

from __future__ import annotations

import re

from dbify.dataplane.grammar.types import Arrow, Field, JsonStep
from dbify.errors import Codes, DbifyError

_WHITESPACE = re.compile(r"[ \t]*")
# PostgREST identifiers: letters, digits, "_", "$" and spaces, joined by "-" that does not
# start an arrow ("first-name" is a name, "data->x" a JSON path).
_FIELD_NAME = re.compile(r"[\w $]+(?:-(?!>)[\w $]+)*")
_IDENTIFIER = re.compile(r"[\w $]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ARROW = re.compile(r"->>?")
# An integer JSON key must end where the path can end, so "->1a" is the key "1a".
_JSON_INDEX = re.compile(r"-?[0-9]+(?=->|::|[.,)( \t]|\Z)")
_JSON_KEY = re.compile(r"[^(\-:.,>)]+(?:-(?!>)[^(\-:.,>)]+)*")

MAX_DEPTH = 32
"""How deeply embeds and logic trees may nest; deeper input is a parse error rather than
a ``RecursionError``."""

FIELD_EXPECTED = "field name (* or [a..z0..9_$])"


class ParseFailure(Exception):
    """Where parsing stopped and what the parser expected there (internal to the
    grammar package)."""

    def __init__(self, position: int, expected: str) -> None:
        super().__init__(expected)
        self.position = position
        self.expected = expected


def syntax_error(what: str, text: str, failure: ParseFailure) -> DbifyError:
    """The ``PGRST100`` error PostgREST returns for a parameter that does not parse.

    >>> error = syntax_error("filter", "noop.0", ParseFailure(0, "operator (eq, gt, ...)"))
    >>> error.message
    '"failed to parse filter (noop.0)" (line 1, column 1)'
    >>> error.details
    'unexpected "n" expecting operator (eq, gt, ...)'
    """
    position = failure.position
    found = f'"{text[position]}"' if position < len(text) else "end of input"
    return DbifyError(
        Codes.INVALID_QUERY_PARAM,
        f'"failed to parse {what} ({text})" (line 1, column {position + 1})',
        f"unexpected {found} expecting {failure.expected}",
    )


def skip_whitespace(text: str, position: int) -> int:
    """The position of the first character at or after ``position`` that is not a space
    or a tab."""
    match = _WHITESPACE.match(text, position)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def unescape(quoted_body: str) -> str:
    r"""The value inside double quotes, with ``\x`` standing for ``x``.

    >>> unescape(r'a\"b\\c')
    'a"b\\c'
    """
    return _ESCAPE.sub(r"\1", quoted_body) if "\\" in quoted_body else quoted_body


def read_quoted(text: str, position: int) -> tuple[str, int] | None:
    """A double-quoted value at ``position``, unescaped, or None if there is none."""
    match = _QUOTED.match(text, position)
    if match is None:
        return None
    return unescape(match.group(1)), match.end()


def _strip_segments(raw: str) -> str:
    # PostgREST strips each dash-separated part: "a - b" names the column "a-b".
    if "-" in raw:
        return "-".join(part.strip() for part in raw.split("-"))
    return raw.strip()


def read_field_name(text: str, position: int) -> tuple[str, int]:
    """A column, relation or alias name: quoted (kept verbatim) or unquoted (stripped)."""
    if text.startswith('"', position):
        quoted = read_quoted(text, position)
        if quoted is not None:
            return quoted
    match = _FIELD_NAME.match(text, position)
    if match is not None:
        name = _strip_segments(match.group())
        if name:
            return name, match.end()
    raise ParseFailure(position, FIELD_EXPECTED)


def read_identifier(text: str, position: int) -> tuple[str, int]:
    """A cast type or text search configuration: ``text``, ``timestamp with time zone``."""
    match = _IDENTIFIER.match(text, position)
    if match is None or not match.group().strip():
        raise ParseFailure(position, "letter or digit")
    return match.group().strip(), match.end()


def read_json_path(text: str, position: int) -> tuple[tuple[JsonStep, ...], int]:
    """Zero or more ``->key``, ``->>key``, ``->0`` steps starting at ``position``."""
    steps: list[JsonStep] = []
    arrow_match = _ARROW.match(text, position)
    while arrow_match is not None:
        arrow: Arrow = "->>" if arrow_match.end() - arrow_match.start() == 3 else "->"
        position = arrow_match.end()
        key: str | int
        index = _JSON_INDEX.match(text, position)
        if index is not None:
            key, position = int(index.group()), index.end()
        elif (quoted := read_quoted(text, position)) is not None:
            key, position = quoted
        else:
            match = _JSON_KEY.match(text, position)
            if match is None or not match.group().strip():
                raise ParseFailure(position, "any non reserved character different from: .,>()")
            key, position = _strip_segments(match.group()), match.end()
        steps.append(JsonStep(arrow, key))
        arrow_match = _ARROW.match(text, position)
    return tuple(steps), position


def read_field(text: str, position: int) -> tuple[Field, int]:
    """A field name and its JSON path, with whitespace around them skipped."""
    position = skip_whitespace(text, position)
    name, position = read_field_name(text, position)
    if text.startswith("->", position):
        path, position = read_json_path(text, position)
        return Field(name, path), skip_whitespace(text, position)
    return Field(name), skip_whitespace(text, position)
