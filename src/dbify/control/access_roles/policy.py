"""Compiling a stored access role into the data plane's ``AccessPolicy``.

Pure: table and function names are qualified with the project's first exposed schema
when given bare, and row filters are parsed once with the data API's own grammar (so a
filter means exactly what it means in a URL). Names are not checked against the schema
here: a rule for a table that does not exist (yet) grants nothing.
"""

from __future__ import annotations

from dbify.control.access_roles.schemas import AccessRoleBody
from dbify.dataplane.plan.access import AccessPolicy, TableAccess, parse_row_filter
from dbify.schema.model import QualifiedName

__all__ = ["compile_policy"]


def _qualified(name: str, default_schema: str) -> QualifiedName:
    schema, dot, bare = name.partition(".")
    return QualifiedName(schema, bare) if dot else QualifiedName(default_schema, name)


def compile_policy(name: str, body: AccessRoleBody, default_schema: str) -> AccessPolicy:
    """The policy of access role ``name``; ``DbifyError`` for an invalid row filter."""
    tables: dict[QualifiedName, TableAccess] = {}
    for table, rule in body.tables.items():
        row_filter = parse_row_filter(rule.row_filter) if rule.row_filter else None
        tables[_qualified(table, default_schema)] = TableAccess(
            privileges=frozenset(rule.privileges),
            columns=frozenset(rule.columns) if rule.columns is not None else None,
            row_filter=row_filter,
        )
    functions = frozenset(_qualified(f, default_schema) for f in body.functions)
    return AccessPolicy(name, tables, functions)
