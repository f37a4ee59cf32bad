"""The SQL stage's output: one statement and its bind parameters.

Every value a client sends travels as a bind parameter (text, a list of texts, or
None) and is cast to its column's type inside the SQL; every identifier comes from the
schema snapshot and is quoted by ``sql/identifiers.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

Param = str | list[str] | None


@dataclass(frozen=True, slots=True)
class Statement:
    """A SQL statement with ``$n`` placeholders and the values bound to them.

    ``counted``: a bare write returning no rows, run for its command tag, whose count is
    the rows written (see ``sql/mutate.build_mutate``).
    """

    sql: str
    params: tuple[Param, ...] = ()
    counted: bool = False


@dataclass(frozen=True, slots=True)
class ReadStatement:
    """What a read runs.

    ``main`` returns exactly one row with three columns: ``total_count`` (bigint, NULL
    unless an exact count was asked for), ``page_count`` (bigint, rows in the page) and
    ``body`` (text: the JSON array, the single JSON object, or the CSV document,
    already built by PostgreSQL). ``count_estimate``, when set, is a statement whose
    ``EXPLAIN (FORMAT JSON)`` gives the planner's estimate of the total row count
    (``Prefer: count=planned|estimated``).
    """

    main: Statement
    count_estimate: Statement | None = None
