"""What changed between two schema snapshots, as typed changes an API client cares about.

``diff_snapshots(old, new)`` compares two ``SchemaSnapshot`` values and returns
``SchemaChange`` values: relations and functions added or dropped, columns added,
dropped, retyped, made (non-)nullable or given another default, primary key, unique
constraint and foreign-key (relationship) changes, privilege and enum changes, and
comment changes. Each change says whether it is *breaking*: whether a client that
worked against the old API may now fail (a dropped column, a type change, a new
NOT NULL column without a default that inserts must now supply...).

Renames are reported only when the catalog makes them certain: a relation whose
``pg_class.oid`` is the same under another name, or a column whose ``attnum`` (its
``position``; PostgreSQL never reuses one) is the same under another name. Anything
else is a drop and an add.

Pure: no I/O. Storing, announcing or mailing changes is ``dbify.schema_watch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbify.schema.model import Column, Function, QualifiedName, Relation, SchemaSnapshot

__all__ = ["ChangeKind", "SchemaChange", "diff_snapshots"]

ChangeKind = Literal[
    "relation_added",
    "relation_dropped",
    "relation_renamed",
    "relation_kind_changed",
    "column_added",
    "column_dropped",
    "column_renamed",
    "column_type_changed",
    "column_nullability_changed",
    "column_default_changed",
    "primary_key_changed",
    "unique_added",
    "unique_dropped",
    "foreign_key_added",
    "foreign_key_dropped",
    "privileges_changed",
    "function_added",
    "function_dropped",
    "function_changed",
    "enum_changed",
    "comment_changed",
]


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One change. ``subject`` names the object (``public.books``, ``public.books.title``,
    ``public.add(a integer, b integer)``); ``before``/``after`` describe the old and new
    state where that means something (a type, a default, a key's columns)."""

    kind: ChangeKind
    subject: str
    breaking: bool
    before: str | None = None
    after: str | None = None

    @property
    def summary(self) -> str:
        """One human line, e.g. ``column_type_changed public.books.pages: integer -> text``."""
        words = self.kind.replace("_", " ")
        if self.before is None and self.after is None:
            return f"{words}: {self.subject}"
        return f"{words}: {self.subject} ({self.before or '-'} -> {self.after or '-'})"

    def as_json(self) -> dict[str, str | bool | None]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "breaking": self.breaking,
            "before": self.before,
            "after": self.after,
        }


def diff_snapshots(old: SchemaSnapshot, new: SchemaSnapshot) -> list[SchemaChange]:
    """The changes from ``old`` to ``new``, breaking ones first, then by subject.

    >>> from dbify.schema.model import SchemaSnapshot
    >>> empty = SchemaSnapshot(("public",), {}, {}, {})
    >>> diff_snapshots(empty, empty)
    []
    """
    changes: list[SchemaChange] = []
    changes += _relation_changes(old, new)
    changes += _foreign_key_changes(old, new)
    changes += _function_changes(old, new)
    changes += _enum_changes(old, new)
    return sorted(changes, key=lambda c: (not c.breaking, c.subject, c.kind))


# -- relations -----------------------------------------------------------------------


def _relation_changes(old: SchemaSnapshot, new: SchemaSnapshot) -> list[SchemaChange]:
    dropped = {n: r for n, r in old.relations.items() if n not in new.relations}
    added = {n: r for n, r in new.relations.items() if n not in old.relations}
    changes: list[SchemaChange] = []
    # A rename keeps pg_class.oid; oid 0 means "unknown" (a snapshot built by hand).
    added_by_oid = {r.oid: r for r in added.values() if r.oid}
    for name, relation in sorted(dropped.items()):
        renamed = added_by_oid.get(relation.oid) if relation.oid else None
        if renamed is None:
            changes.append(SchemaChange("relation_dropped", str(name), True, relation.kind))
            continue
        del added[renamed.name]
        changes.append(
            SchemaChange("relation_renamed", str(name), True, str(name), str(renamed.name))
        )
        changes += _same_relation_changes(relation, renamed)
    for name, relation in sorted(added.items()):
        changes.append(SchemaChange("relation_added", str(name), False, None, relation.kind))
    for name, relation in old.relations.items():
        if name in new.relations:
            changes += _same_relation_changes(relation, new.relations[name])
    return changes


def _same_relation_changes(old: Relation, new: Relation) -> list[SchemaChange]:
    subject = str(new.name)
    changes: list[SchemaChange] = []
    if old.kind != new.kind:
        changes.append(SchemaChange("relation_kind_changed", subject, True, old.kind, new.kind))
    if old.description != new.description:
        changes.append(
            SchemaChange("comment_changed", subject, False, old.description, new.description)
        )
    if old.privileges != new.privileges:
        lost = old.privileges - new.privileges
        changes.append(
            SchemaChange(
                "privileges_changed",
                subject,
                bool(lost),
                ",".join(sorted(old.privileges)) or None,
                ",".join(sorted(new.privileges)) or None,
            )
        )
    if old.primary_key != new.primary_key:
        changes.append(
            SchemaChange(
                "primary_key_changed",
                subject,
                True,
                ",".join(old.primary_key) or None,
                ",".join(new.primary_key) or None,
            )
        )
    old_unique, new_unique = set(old.unique_constraints), set(new.unique_constraints)
    for columns in sorted(old_unique - new_unique):
        # on_conflict= targets and PUT may rely on it.
        changes.append(SchemaChange("unique_dropped", subject, True, ",".join(columns), None))
    for columns in sorted(new_unique - old_unique):
        changes.append(SchemaChange("unique_added", subject, False, None, ",".join(columns)))
    changes += _column_changes(old, new)
    return changes


def _column_changes(old: Relation, new: Relation) -> list[SchemaChange]:
    old_by_name = {c.name: c for c in old.columns}
    new_by_name = {c.name: c for c in new.columns}
    new_by_position = {c.position: c for c in new.columns if c.name not in old_by_name}
    changes: list[SchemaChange] = []
    renamed_to: set[str] = set()
    for column in old.columns:
        if column.name in new_by_name:
            changes += _same_column_changes(new.name, column, new_by_name[column.name])
            continue
        # attnum is never reused, so the same position under a new name is a rename.
        successor = new_by_position.get(column.position)
        if successor is None:
            subject = f"{new.name}.{column.name}"
            changes.append(SchemaChange("column_dropped", subject, True, column.data_type))
            continue
        renamed_to.add(successor.name)
        changes.append(
            SchemaChange(
                "column_renamed", f"{new.name}.{column.name}", True, column.name, successor.name
            )
        )
        changes += _same_column_changes(new.name, column, successor)
    for column in new.columns:
        if column.name in old_by_name or column.name in renamed_to:
            continue
        changes.append(
            SchemaChange(
                "column_added",
                f"{new.name}.{column.name}",
                _required_on_insert(new, column),
                None,
                column.data_type,
            )
        )
    return changes


def _required_on_insert(relation: Relation, column: Column) -> bool:
    """Whether inserts that name only the old columns now fail because of ``column``."""
    return (
        relation.insertable
        and not column.nullable
        and column.default is None
        and not column.is_identity
        and not column.is_generated
    )


def _same_column_changes(relation: QualifiedName, old: Column, new: Column) -> list[SchemaChange]:
    subject = f"{relation}.{new.name}"
    changes: list[SchemaChange] = []
    if old.data_type != new.data_type or old.max_length != new.max_length:
        changes.append(
            SchemaChange("column_type_changed", subject, True, _type_text(old), _type_text(new))
        )
    if old.nullable != new.nullable:
        # NULL -> NOT NULL breaks writers; NOT NULL -> NULL only widens what readers see.
        changes.append(
            SchemaChange(
                "column_nullability_changed",
                subject,
                not new.nullable,
                _nullability(old),
                _nullability(new),
            )
        )
    if old.default != new.default:
        lost_default = new.default is None and not new.nullable
        changes.append(
            SchemaChange("column_default_changed", subject, lost_default, old.default, new.default)
        )
    if old.description != new.description:
        changes.append(
            SchemaChange("comment_changed", subject, False, old.description, new.description)
        )
    # Enum labels are reported once per type (_enum_changes), not per column.
    return changes


def _type_text(column: Column) -> str:
    if column.max_length is None:
        return column.data_type
    return f"{column.data_type}({column.max_length})"


def _nullability(column: Column) -> str:
    return "null" if column.nullable else "not null"


# -- foreign keys ----------------------------------------------------------------------


def _foreign_keys(snapshot: SchemaSnapshot) -> dict[tuple[str, QualifiedName], str]:
    """Each foreign key once: (constraint, referencing table) -> description."""
    found: dict[tuple[str, QualifiedName], str] = {}
    for relationships in snapshot.relationships.values():
        for rel in relationships:
            # The many-to-one side is the referencing table; views' inherited
            # relationships are derived from the same constraint and not repeated.
            if rel.cardinality != "many_to_one" or rel.junction is not None:
                continue
            if snapshot.relations.get(rel.source, None) is None:
                continue
            if snapshot.relations[rel.source].kind not in ("table", "partitioned_table"):
                continue
            columns = ",".join(source for source, _ in rel.columns)
            targets = ",".join(target for _, target in rel.columns)
            found[(rel.constraint, rel.source)] = f"({columns}) -> {rel.target}({targets})"
    return found


def _foreign_key_changes(old: SchemaSnapshot, new: SchemaSnapshot) -> list[SchemaChange]:
    before, after = _foreign_keys(old), _foreign_keys(new)
    changes: list[SchemaChange] = []
    for key in sorted(before.keys() | after.keys()):
        constraint, table = key
        subject = f"{table}.{constraint}"
        if key not in after:
            if table not in new.relations:
                continue  # said by relation_dropped
            # Embeds through it stop resolving.
            changes.append(SchemaChange("foreign_key_dropped", subject, True, before[key]))
        elif key not in before:
            changes.append(SchemaChange("foreign_key_added", subject, False, None, after[key]))
        elif before[key] != after[key]:
            changes.append(
                SchemaChange("foreign_key_dropped", subject, True, before[key], after[key])
            )
    return changes


# -- functions and enums -----------------------------------------------------------------


def _signature(function: Function) -> str:
    arguments = ", ".join(f"{p.name} {p.data_type}".strip() for p in function.input_parameters)
    return f"{function.name}({arguments})"


def _functions(snapshot: SchemaSnapshot) -> dict[str, Function]:
    return {_signature(f): f for overloads in snapshot.functions.values() for f in overloads}


def _function_changes(old: SchemaSnapshot, new: SchemaSnapshot) -> list[SchemaChange]:
    before, after = _functions(old), _functions(new)
    changes: list[SchemaChange] = []
    for signature in sorted(before.keys() - after.keys()):
        changes.append(
            SchemaChange("function_dropped", signature, True, before[signature].return_type)
        )
    for signature in sorted(after.keys() - before.keys()):
        changes.append(
            SchemaChange("function_added", signature, False, None, after[signature].return_type)
        )
    for signature in sorted(before.keys() & after.keys()):
        was, now = before[signature], after[signature]
        if (was.return_type, was.returns_set) != (now.return_type, now.returns_set):
            changes.append(
                SchemaChange("function_changed", signature, True, _returns(was), _returns(now))
            )
        if was.volatility != now.volatility:
            # A volatile function can no longer be called with GET.
            changes.append(
                SchemaChange(
                    "function_changed",
                    signature,
                    now.volatility == "volatile",
                    was.volatility,
                    now.volatility,
                )
            )
        if was.executable and not now.executable:
            changes.append(SchemaChange("privileges_changed", signature, True, "EXECUTE", None))
        elif now.executable and not was.executable:
            changes.append(SchemaChange("privileges_changed", signature, False, None, "EXECUTE"))
        if was.description != now.description:
            changes.append(
                SchemaChange("comment_changed", signature, False, was.description, now.description)
            )
    return changes


def _returns(function: Function) -> str:
    return f"setof {function.return_type}" if function.returns_set else function.return_type


def _enum_changes(old: SchemaSnapshot, new: SchemaSnapshot) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    for name in sorted(old.enums.keys() & new.enums.keys()):
        was, now = old.enums[name], new.enums[name]
        if was != now:
            changes.append(
                SchemaChange(
                    "enum_changed", name, bool(set(was) - set(now)), ",".join(was), ",".join(now)
                )
            )
    return changes
