"""The lint rules: pure functions from a schema snapshot (and catalog facts) to findings.

Each rule looks at one kind of problem and explains it in PostgREST's terms: what a
client of the API will see, and how to fix it in the database. Rules that need more
than the snapshot (indexes, row-level security, the anon role's grants) take
``CatalogFacts`` and say nothing when facts are not given. Supabase's splinter lints
were the model for the security rules.

No I/O here: ``facts.py`` reads the catalog, ``control/lint`` wires both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from dbify.lint.facts import CatalogFacts
from dbify.lint.findings import Finding
from dbify.schema.model import QualifiedName, Relation, SchemaSnapshot

__all__ = ["RULES", "lint_snapshot"]

Rule = Callable[[SchemaSnapshot, CatalogFacts | None], Iterable[Finding]]

_TABLE_KINDS = ("table", "partitioned_table")
_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Words PostgreSQL reserves (a subset: the ones people use as names).
_RESERVED = frozenset(
    [
        "all",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "default",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "into",
        "leading",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "primary",
        "references",
        "returning",
        "select",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "when",
        "where",
        "window",
        "with",
    ]
)
# Query-string keys PostgREST reads itself: a column with one of these names cannot be
# filtered horizontally (``?order=eq.1`` means ordering, not a filter).
_QUERY_KEYS = frozenset(
    {"select", "order", "limit", "offset", "on_conflict", "columns", "and", "or", "not"}
)
_SENSITIVE = re.compile(
    r"(^|_)(password|passwd|pwd|secret|token|api_?key|private_?key|ssn|"
    r"credit_?card|card_?number|cvv|iban|salt|hash)(_|$)",
    re.IGNORECASE,
)


def _tables(snapshot: SchemaSnapshot) -> Iterator[Relation]:
    return (r for r in snapshot.relations.values() if r.kind in _TABLE_KINDS)


def _protected(facts: CatalogFacts, name: QualifiedName) -> bool:
    return name in facts.rls_enabled


def no_primary_key(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    for relation in _tables(snapshot):
        if not relation.primary_key:
            yield Finding(
                "no_primary_key", "warning", "api", str(relation.name),
                "The table has no primary key: rows cannot be addressed by id, PUT (upsert "
                "by key) is refused, upserts need an explicit on_conflict and clients cannot "
                "tell rows apart reliably.",
                f"ALTER TABLE {relation.name} ADD PRIMARY KEY (...);",
            )  # fmt: skip


def view_without_key(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    for relation in snapshot.relations.values():
        if relation.kind in ("view", "materialized_view") and not relation.primary_key:
            yield Finding(
                "view_without_key", "info", "api", str(relation.name),
                "No key could be inferred for this view (it does not expose the whole "
                "primary key of its base table): it cannot be updated by key, and generated "
                "types and clients cannot identify its rows.",
                "Select the base table's primary key columns in the view.",
            )  # fmt: skip


def _covered(columns: set[str], keys: Iterable[tuple[str, ...]]) -> bool:
    return any(set(key[: len(columns)]) == columns for key in keys)


def foreign_key_without_index(
    snapshot: SchemaSnapshot, facts: CatalogFacts | None
) -> Iterable[Finding]:
    if facts is None:
        return
    for relation in _tables(snapshot):
        keys = [relation.primary_key, *relation.unique_constraints]
        keys += facts.indexes.get(relation.name, ())
        seen: set[str] = set()  # a key also links to the views over its target
        for link in snapshot.relationships_of(relation.name):
            if link.cardinality not in ("many_to_one", "one_to_one") or not link.columns:
                continue
            if link.constraint in seen:
                continue
            seen.add(link.constraint)
            columns = {source for source, _ in link.columns}
            if not _covered(columns, keys):
                listed = ", ".join(sorted(columns))
                yield Finding(
                    "foreign_key_without_index", "warning", "performance",
                    f"{relation.name}.{link.constraint}",
                    f"No index starts with the foreign key column(s) ({listed}): embedding "
                    f"{relation.name.name} under {link.target.name} scans the whole table "
                    "for every parent row, and deletes on the parent do too.",
                    f"CREATE INDEX ON {relation.name} ({listed});",
                )  # fmt: skip


def ambiguous_relationship(
    snapshot: SchemaSnapshot, facts: CatalogFacts | None
) -> Iterable[Finding]:
    for source, links in snapshot.relationships.items():
        relation = snapshot.relations.get(source)
        if relation is None or relation.kind not in _TABLE_KINDS:
            continue
        by_target: dict[QualifiedName, list[str]] = {}
        for link in links:
            by_target.setdefault(link.target, []).append(link.constraint)
        for target, constraints in sorted(by_target.items()):
            if len(constraints) > 1:
                hints = ", ".join(f"{target.name}!{c}" for c in sorted(constraints))
                yield Finding(
                    "ambiguous_relationship", "warning", "api", f"{source} -> {target}",
                    f"{len(constraints)} relationships lead from {source.name} to "
                    f"{target.name}: embedding select={target.name}(*) fails with PGRST201.",
                    f"Clients must name the one they mean: select={hints.split(', ')[0]}(*) "
                    f"(hints: {hints}).",
                )  # fmt: skip


def _names(snapshot: SchemaSnapshot) -> Iterator[tuple[str, str]]:
    """(subject, name) of every exposed relation, column and function."""
    for relation in snapshot.relations.values():
        yield str(relation.name), relation.name.name
        for column in relation.columns:
            yield f"{relation.name}.{column.name}", column.name
    for name in snapshot.functions:
        yield str(name), name.name


def name_needs_quoting(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    for subject, name in _names(snapshot):
        if not _PLAIN_NAME.match(name) or name in _RESERVED:
            yield Finding(
                "name_needs_quoting", "info", "naming", subject,
                f"'{name}' is not a lower-case identifier (or is a reserved word): it "
                "must be double-quoted in SQL and percent-encoded or quoted in URLs, and "
                "generated types have to rename it.",
                "Rename it in snake_case, e.g. ALTER ... RENAME TO ...;",
            )  # fmt: skip


def reserved_column_name(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    for relation in snapshot.relations.values():
        for column in relation.columns:
            if column.name in _QUERY_KEYS:
                yield Finding(
                    "reserved_column_name", "warning", "api", f"{relation.name}.{column.name}",
                    f"'{column.name}' is a query parameter of the API itself, so this "
                    "column cannot be filtered with ?{column.name}=eq.… (only through "
                    "and=/or=).",
                    "Rename the column, or expose a view that renames it.",
                )  # fmt: skip


def name_clash_across_schemas(
    snapshot: SchemaSnapshot, facts: CatalogFacts | None
) -> Iterable[Finding]:
    seen: dict[str, list[QualifiedName]] = {}
    for qualified in snapshot.relations:
        seen.setdefault(qualified.name, []).append(qualified)
    for name, owners in sorted(seen.items()):
        if len(owners) > 1:
            where = ", ".join(sorted(str(o) for o in owners))
            yield Finding(
                "name_clash_across_schemas", "warning", "naming", name,
                f"'{name}' exists in several exposed schemas ({where}): /{name} means the "
                "default schema's unless clients send Accept-Profile/Content-Profile.",
                "Rename one of them, or expose fewer schemas.",
            )  # fmt: skip


def unnamed_parameter(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    for name, overloads in snapshot.functions.items():
        for function in overloads:
            if any(not p.name for p in function.input_parameters):
                yield Finding(
                    "unnamed_parameter", "warning", "api", str(name),
                    "The function has an unnamed parameter: it can only be called with the "
                    "whole request body as that one argument, never with GET query "
                    "parameters or named JSON keys.",
                    f"Name its parameters: CREATE OR REPLACE FUNCTION {name}(arg_name type ...).",
                )  # fmt: skip


def _anon_reads(facts: CatalogFacts | None, name: QualifiedName) -> bool:
    return facts is not None and "SELECT" in facts.anon_privileges.get(name, frozenset())


def sensitive_column(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    for relation in snapshot.relations.values():
        for column in relation.columns:
            if not _SENSITIVE.search(column.name):
                continue
            exposed = _anon_reads(facts, relation.name) and not (
                facts is not None and _protected(facts, relation.name)
            )
            yield Finding(
                "sensitive_column", "error" if exposed else "warning", "security",
                f"{relation.name}.{column.name}",
                f"'{column.name}' looks like a secret and is part of the API"
                + (" where the anon key can read every row of it." if exposed else "."),
                "Move it to an unexposed schema, REVOKE SELECT on the column from API "
                "roles, or expose a view without it.",
            )  # fmt: skip


def rls_disabled(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    if facts is None:
        return
    for relation in _tables(snapshot):
        if _anon_reads(facts, relation.name) and not _protected(facts, relation.name):
            yield Finding(
                "rls_disabled", "error", "security", str(relation.name),
                "Row-level security is off and the anon key's role may read the table: "
                "anyone holding the anon key (it ships in browser apps) reads every row.",
                f"ALTER TABLE {relation.name} ENABLE ROW LEVEL SECURITY; then CREATE POLICY "
                "... for the rows each role may see (or REVOKE SELECT from the anon role).",
            )  # fmt: skip


def anon_write_access(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    if facts is None or facts.anon_role is None:
        return  # without an anon role, the anon key is read-only
    for relation in snapshot.relations.values():
        granted = facts.anon_privileges.get(relation.name, frozenset())
        writes = sorted(granted & {"INSERT", "UPDATE", "DELETE"})
        if writes and not _protected(facts, relation.name):
            yield Finding(
                "anon_write_access", "error", "security", str(relation.name),
                f"The anon role '{facts.anon_role}' may {', '.join(writes)} here without "
                "row-level security: anyone with the anon key can change any row.",
                f"REVOKE {', '.join(writes)} ON {relation.name} FROM {facts.anon_role}; or "
                "enable row-level security with policies.",
            )  # fmt: skip


def security_definer_function(
    snapshot: SchemaSnapshot, facts: CatalogFacts | None
) -> Iterable[Finding]:
    if facts is None:
        return
    for name in sorted(facts.security_definer):
        if name in snapshot.functions:
            yield Finding(
                "security_definer_function", "warning", "security", str(name),
                "The function is SECURITY DEFINER in an exposed schema: every API caller "
                "runs it with its owner's privileges, bypassing row-level security.",
                "Make it SECURITY INVOKER, move it to an unexposed schema, or REVOKE "
                "EXECUTE from API roles; if needed, SET search_path on it.",
            )  # fmt: skip


def view_bypasses_rls(snapshot: SchemaSnapshot, facts: CatalogFacts | None) -> Iterable[Finding]:
    if facts is None:
        return
    for relation in snapshot.relations.values():
        invoker = relation.name in facts.invoker_views
        if relation.kind == "view" and not invoker and _anon_reads(facts, relation.name):
            yield Finding(
                "view_bypasses_rls", "warning", "security", str(relation.name),
                "The view runs with its owner's privileges (no security_invoker), so "
                "the row-level security of the tables it reads does not apply to API "
                "callers.",
                f"ALTER VIEW {relation.name} SET (security_invoker = true); "
                "(PostgreSQL 15+)",
            )  # fmt: skip


RULES: tuple[Rule, ...] = (
    no_primary_key,
    view_without_key,
    foreign_key_without_index,
    ambiguous_relationship,
    name_needs_quoting,
    reserved_column_name,
    name_clash_across_schemas,
    unnamed_parameter,
    sensitive_column,
    rls_disabled,
    anon_write_access,
    security_definer_function,
    view_bypasses_rls,
)


def lint_snapshot(snapshot: SchemaSnapshot, facts: CatalogFacts | None = None) -> list[Finding]:
    """Every finding of every rule, most severe first, then by rule and subject."""
    found = [finding for rule in RULES for finding in rule(snapshot, facts)]
    return sorted(set(found), key=lambda f: f.sort_key)
