"""Compiling a stored access role into the data plane's ``AccessPolicy``.

Pure: table and function names are qualified with the project's first exposed schema
when given bare, and row filters are parsed once with the data API's own grammar (so a
filter means exactly what it means in a URL). Names are not checked against the schema
here: a rule for a table that does not exist (yet) grants nothing. Claim references
(``$claims.sub``) are checked for operator and path syntax here, bound per request by
``auth/principal.py``.
"""

from __future__ import annotations

from dbify.auth.jwt import parse_claim_path
from dbify.control.access_roles.schemas import AccessRoleBody
from dbify.dataplane.plan.access import AccessPolicy, TableAccess, parse_row_filter
from dbify.dataplane.plan.claims import claim_paths
from dbify.errors import Codes, DbifyError
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
    paths = claim_paths(tables)
    for path in paths:
        try:
            parse_claim_path(path)
        except ValueError:
            raise DbifyError(Codes.INVALID_QUERY_PARAM, f"Invalid claim path: {path}") from None
    return AccessPolicy(
        name,
        tables,
        functions,
        claim_paths=paths,
        max_rows=body.max_rows,
        statement_timeout_ms=body.statement_timeout_ms,
        max_body_bytes=body.max_body_bytes,
    )
