"""Quoting of SQL identifiers.

Every identifier Dbify writes into SQL goes through ``quote_ident``: relation and
column names from the schema snapshot, and the aliases a client gives in ``select``
(those become output keys). Values never do: they are bind parameters.
"""

from __future__ import annotations

from dbify.schema.model import QualifiedName


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted identifier, inner quotes doubled.

    >>> quote_ident('books')
    '"books"'
    >>> quote_ident('we"ird')
    '"we""ird"'
    """
    if '"' in name:
        name = name.replace('"', '""')
    return f'"{name}"'


def quote_qualified(name: QualifiedName) -> str:
    """``"schema"."name"``."""
    return f"{quote_ident(name.schema)}.{quote_ident(name.name)}"
