"""``diff_snapshots``: snapshots introspected before and after real DDL, and by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from dbify.schema.diff import SchemaChange, diff_snapshots
from dbify.schema.introspect import introspect
from dbify.schema.model import Column, QualifiedName, Relation, SchemaSnapshot

_SETUP = """
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE);
CREATE TABLE books (
  id int PRIMARY KEY,
  title text,
  pages integer DEFAULT 1,
  author_id int CONSTRAINT books_author_fk REFERENCES authors(id)
);
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql STABLE AS 'SELECT a + b';
"""


async def _snapshot(conn: asyncpg.Connection) -> SchemaSnapshot:
    return await introspect(conn, ["public"])


async def _before_after(url: str, change: str) -> tuple[SchemaSnapshot, SchemaSnapshot]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(_SETUP)
        before = await _snapshot(conn)
        await conn.execute(change)
        return before, await _snapshot(conn)
    finally:
        await conn.close()


@pytest.fixture
def diff(make_database: Callable[..., str]) -> Callable[[str], list[SchemaChange]]:
    def run(change: str) -> list[SchemaChange]:
        before, after = asyncio.run(_before_after(make_database(), change))
        return diff_snapshots(before, after)

    return run


def _kinds(changes: list[SchemaChange]) -> list[tuple[str, str, bool]]:
    return [(c.kind, c.subject, c.breaking) for c in changes]


def test_no_change_is_empty(diff: Callable[[str], list[SchemaChange]]) -> None:
    assert diff("SELECT 1") == []


def test_add_nullable_column_is_not_breaking(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff("ALTER TABLE books ADD COLUMN isbn text")
    assert _kinds(changes) == [("column_added", "public.books.isbn", False)]
    assert changes[0].after == "text"


def test_add_required_column_breaks_inserts(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff(
        "ALTER TABLE authors ADD COLUMN born int NOT NULL DEFAULT 0;"
        "ALTER TABLE authors ALTER COLUMN born DROP DEFAULT"
    )
    assert _kinds(changes) == [("column_added", "public.authors.born", True)]


def test_drop_column_is_breaking(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff("ALTER TABLE books DROP COLUMN pages")
    assert _kinds(changes) == [("column_dropped", "public.books.pages", True)]


def test_type_change(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff("ALTER TABLE books ALTER COLUMN pages TYPE text")
    assert ("column_type_changed", "public.books.pages", True) in _kinds(changes)
    found = next(c for c in changes if c.kind == "column_type_changed")
    assert (found.before, found.after) == ("integer", "text")


def test_nullability_and_default(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff(
        "ALTER TABLE books ALTER COLUMN title SET NOT NULL;"
        "ALTER TABLE books ALTER COLUMN pages SET DEFAULT 2;"
        "ALTER TABLE authors ALTER COLUMN name DROP NOT NULL"
    )
    assert sorted(_kinds(changes)) == [
        ("column_default_changed", "public.books.pages", False),
        ("column_nullability_changed", "public.authors.name", False),
        ("column_nullability_changed", "public.books.title", True),
    ]
    assert changes[0].kind == "column_nullability_changed"  # breaking ones come first


def test_create_and_drop_table(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff("CREATE TABLE shelves (id int); DROP TABLE books")
    assert _kinds(changes) == [
        ("relation_dropped", "public.books", True),
        ("relation_added", "public.shelves", False),
    ]


def test_renames_are_certain(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff("ALTER TABLE books RENAME TO volumes; ALTER TABLE volumes RENAME title TO name")
    kinds = _kinds(changes)
    assert ("relation_renamed", "public.books", True) in kinds
    assert ("column_renamed", "public.volumes.title", True) in kinds
    assert not [k for k in kinds if k[0] in ("relation_added", "relation_dropped", "column_added")]


def test_drop_and_add_is_not_a_rename(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff("ALTER TABLE books DROP COLUMN title; ALTER TABLE books ADD COLUMN name text")
    assert sorted(_kinds(changes)) == [
        ("column_added", "public.books.name", False),
        ("column_dropped", "public.books.title", True),
    ]


def test_keys(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff(
        "ALTER TABLE authors DROP CONSTRAINT authors_email_key;"
        "ALTER TABLE books ADD CONSTRAINT books_title_key UNIQUE (title);"
        "ALTER TABLE books DROP CONSTRAINT books_pkey; ALTER TABLE books ADD PRIMARY KEY (id, title)"
    )
    kinds = _kinds(changes)
    assert ("unique_dropped", "public.authors", True) in kinds
    assert ("unique_added", "public.books", False) in kinds
    assert ("primary_key_changed", "public.books", True) in kinds


def test_foreign_keys(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff(
        "ALTER TABLE books DROP CONSTRAINT books_author_fk;"
        "CREATE TABLE reviews (id int PRIMARY KEY, book_id int CONSTRAINT reviews_book_fk REFERENCES books)"
    )
    kinds = _kinds(changes)
    assert ("foreign_key_dropped", "public.books.books_author_fk", True) in kinds
    assert ("foreign_key_added", "public.reviews.reviews_book_fk", False) in kinds
    added = next(c for c in changes if c.kind == "foreign_key_added")
    assert added.after == "(book_id) -> public.books(id)"


def test_functions(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff(
        "CREATE FUNCTION hello() RETURNS text LANGUAGE sql AS $$SELECT 'hi'$$;"
        "CREATE OR REPLACE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql VOLATILE"
        " AS 'SELECT a + b'"
    )
    assert _kinds(changes) == [
        ("function_changed", "public.add(a integer, b integer)", True),
        ("function_added", "public.hello()", False),
    ]
    assert _kinds(diff("DROP FUNCTION add")) == [
        ("function_dropped", "public.add(a integer, b integer)", True)
    ]


def test_comments_and_enums(diff: Callable[[str], list[SchemaChange]]) -> None:
    changes = diff(
        "COMMENT ON TABLE books IS 'All the books';"
        "COMMENT ON COLUMN books.title IS 'The title';"
        "ALTER TYPE mood ADD VALUE 'ok'"
    )
    assert sorted(_kinds(changes)) == [
        ("comment_changed", "public.books", False),
        ("comment_changed", "public.books.title", False),
        ("enum_changed", "mood", False),
    ]


def test_summary_and_json() -> None:
    change = SchemaChange("column_type_changed", "public.t.c", True, "integer", "text")
    assert change.summary == "column type changed: public.t.c (integer -> text)"
    assert change.as_json()["breaking"] is True
    assert SchemaChange("relation_added", "public.t", False).summary == "relation added: public.t"


def _table(name: str, *columns: Column, oid: int = 0) -> Relation:
    return Relation(QualifiedName("public", name), "table", columns, oid=oid, insertable=True)


def test_without_oids_a_new_name_is_drop_and_add() -> None:
    column = Column("id", 1, "integer", "int4", "N", True)
    old = SchemaSnapshot(("public",), {QualifiedName("public", "a"): _table("a", column)}, {}, {})
    new = SchemaSnapshot(("public",), {QualifiedName("public", "b"): _table("b", column)}, {}, {})
    assert _kinds(diff_snapshots(old, new)) == [
        ("relation_dropped", "public.a", True),
        ("relation_added", "public.b", False),
    ]
