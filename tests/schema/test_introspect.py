"""``introspect`` against the shared fixture database (``tests/sql/fixture.sql``)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from dbify.schema.introspect import introspect
from dbify.schema.model import QualifiedName, Relation, Relationship, SchemaSnapshot


def _q(name: str, schema: str = "public") -> QualifiedName:
    return QualifiedName(schema, name)


async def _introspect(url: str, schemas: list[str]) -> SchemaSnapshot:
    conn = await asyncpg.connect(url)
    try:
        return await introspect(conn, schemas)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def snapshot(fixture_database_url: str) -> SchemaSnapshot:
    return asyncio.run(_introspect(fixture_database_url, ["public", "api2"]))


def _relation(snapshot: SchemaSnapshot, name: str, schema: str = "public") -> Relation:
    relation = snapshot.relation(schema, name)
    assert relation is not None, f"{schema}.{name} missing"
    return relation


def _rels(snapshot: SchemaSnapshot, source: str, target: str) -> list[Relationship]:
    return [r for r in snapshot.relationships_of(_q(source)) if r.target == _q(target)]


def test_snapshot_metadata(snapshot: SchemaSnapshot) -> None:
    assert snapshot.exposed_schemas == ("public", "api2")
    assert snapshot.default_schema == "public"
    assert snapshot.role == "postgres"
    assert snapshot.server_version >= 120000


def test_relation_kinds_and_partitions(snapshot: SchemaSnapshot) -> None:
    assert _relation(snapshot, "books").kind == "table"
    assert _relation(snapshot, "book_summaries").kind == "view"
    assert _relation(snapshot, "author_stats").kind == "materialized_view"
    assert _relation(snapshot, "events").kind == "partitioned_table"
    assert snapshot.relation("public", "events_2023") is None
    assert _relation(snapshot, "notes", "api2").kind == "table"


def test_books_columns(snapshot: SchemaSnapshot) -> None:
    books = _relation(snapshot, "books")
    assert [c.name for c in books.columns][:4] == ["id", "title", "author_id", "publisher_id"]
    assert [c.position for c in books.columns] == list(range(1, len(books.columns) + 1))
    identity = books.column("id")
    assert identity is not None
    assert identity.is_identity
    assert identity.default is None
    assert not identity.nullable
    assert not identity.updatable  # GENERATED ALWAYS
    price = books.column("price")
    assert price is not None
    assert (price.data_type, price.type_name, price.type_category) == ("numeric", "numeric", "N")
    assert price.nullable
    assert price.description == "Price in EUR; NULL when not for sale"
    keywords = books.column("keywords")
    assert keywords is not None
    assert keywords.data_type == "text[]"
    assert keywords.type_category == "A"
    assert keywords.element_type == "text"
    assert keywords.default == "'{}'::text[]"
    generated = books.column("title_length")
    assert generated is not None
    assert generated.is_generated
    assert generated.default is None
    assert not generated.updatable
    in_stock = books.column("in_stock")
    assert in_stock is not None
    assert in_stock.type_category == "B"
    assert in_stock.default == "true"
    search = books.column("search")
    assert search is not None
    assert search.data_type == "tsvector"
    created = books.column("created_at")
    assert created is not None
    assert created.data_type == "timestamp with time zone"
    assert books.description == "The catalogue"
    assert books.primary_key == ("id",)
    assert books.insertable
    assert books.updatable
    assert books.deletable
    assert books.privileges == frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


def test_other_column_types(snapshot: SchemaSnapshot) -> None:
    orders = _relation(snapshot, "orders")
    status = orders.column("status")
    assert status is not None
    assert status.type_category == "E"
    assert status.data_type == "order_status"
    assert status.enum_values == ("pending", "paid", "shipped", "cancelled")
    assert status.default == "'pending'::order_status"
    window = orders.column("delivery_window")
    assert window is not None
    assert window.type_category == "R"
    assert window.data_type == "tstzrange"
    authors = _relation(snapshot, "authors")
    email = authors.column("email")
    assert email is not None
    assert email.data_type == "character varying"
    assert email.max_length == 120
    metadata = authors.column("metadata")
    assert metadata is not None
    assert metadata.data_type == "jsonb"
    assert authors.unique_constraints == (("email",),)
    name = authors.column("name")
    assert name is not None
    assert name.description == "Full name as printed on covers"
    users = _relation(snapshot, "users")
    user_id = users.column("id")
    assert user_id is not None
    assert user_id.data_type == "uuid"
    serial = _relation(snapshot, "tags").column("id")
    assert serial is not None
    assert serial.default == "nextval('tags_id_seq'::regclass)"


def test_composite_keys(snapshot: SchemaSnapshot) -> None:
    assert _relation(snapshot, "editions").primary_key == ("book_id", "edition_no")
    assert _relation(snapshot, "book_tags").primary_key == ("book_id", "tag_id")
    [rel] = _rels(snapshot, "printings", "editions")
    assert rel.cardinality == "many_to_one"
    assert rel.constraint == "printings_edition_fkey"
    assert rel.columns == (("book_id", "book_id"), ("edition_no", "edition_no"))
    [inverse] = _rels(snapshot, "editions", "printings")
    assert inverse.cardinality == "one_to_many"
    assert inverse.columns == (("book_id", "book_id"), ("edition_no", "edition_no"))


def test_views(snapshot: SchemaSnapshot) -> None:
    summaries = _relation(snapshot, "book_summaries")
    assert [c.name for c in summaries.columns] == ["id", "title", "writer_id", "price"]
    assert summaries.primary_key == ("id",)  # inferred from books
    assert summaries.insertable
    assert summaries.updatable
    assert summaries.deletable
    assert summaries.description == "Books without the heavy columns"
    counts = _relation(snapshot, "publisher_book_counts")
    assert not (counts.insertable)
    assert not (counts.updatable)
    assert not (counts.deletable)
    book_count = counts.column("book_count")
    assert book_count is not None
    assert not book_count.updatable
    stats = _relation(snapshot, "author_stats")
    assert not stats.insertable


def test_many_to_one_and_one_to_many(snapshot: SchemaSnapshot) -> None:
    [to_author] = _rels(snapshot, "books", "authors")
    assert to_author.cardinality == "many_to_one"
    assert to_author.is_to_one
    assert to_author.constraint == "books_author_id_fkey"
    assert to_author.columns == (("author_id", "id"),)
    [to_books] = _rels(snapshot, "authors", "books")
    assert to_books.cardinality == "one_to_many"
    assert not to_books.is_to_one
    assert to_books.columns == (("id", "author_id"),)


def test_one_to_one(snapshot: SchemaSnapshot) -> None:
    [forward] = _rels(snapshot, "profiles", "users")
    [backward] = _rels(snapshot, "users", "profiles")
    assert forward.cardinality == backward.cardinality == "one_to_one"
    assert forward.columns == (("user_id", "id"),)
    assert backward.columns == (("id", "user_id"),)


def test_two_foreign_keys_to_the_same_table(snapshot: SchemaSnapshot) -> None:
    rels = _rels(snapshot, "messages", "users")
    assert sorted(r.constraint for r in rels) == [
        "messages_recipient_id_fkey",
        "messages_sender_id_fkey",
    ]
    assert {r.columns for r in rels} == {(("sender_id", "id"),), (("recipient_id", "id"),)}
    assert len(_rels(snapshot, "users", "messages")) == 2


def test_self_reference(snapshot: SchemaSnapshot) -> None:
    rels = _rels(snapshot, "employees", "employees")
    assert {(r.cardinality, r.columns) for r in rels} == {
        ("many_to_one", (("manager_id", "id"),)),
        ("one_to_many", (("id", "manager_id"),)),
    }
    assert all(r.is_self for r in rels)


def test_many_to_many(snapshot: SchemaSnapshot) -> None:
    [rel] = _rels(snapshot, "books", "tags")
    assert rel.cardinality == "many_to_many"
    assert rel.columns == ()
    assert rel.junction is not None
    assert rel.junction.relation == _q("book_tags")
    assert rel.junction.source_constraint == "book_tags_book_id_fkey"
    assert rel.junction.source_columns == (("id", "book_id"),)
    assert rel.junction.target_constraint == "book_tags_tag_id_fkey"
    assert rel.junction.target_columns == (("tag_id", "id"),)
    [back] = _rels(snapshot, "tags", "books")
    assert back.junction is not None
    assert back.junction.relation == _q("book_tags")
    [films] = _rels(snapshot, "actors", "films")
    assert films.junction is not None
    assert films.junction.relation == _q("roles")


def test_ambiguous_many_to_many(snapshot: SchemaSnapshot) -> None:
    rels = _rels(snapshot, "users", "books")
    assert all(r.cardinality == "many_to_many" for r in rels)
    assert sorted(r.junction.relation.name for r in rels if r.junction) == [
        "favorites",
        "reviews",
    ]


def test_tables_whose_fks_are_not_all_in_the_key_are_not_junctions(
    snapshot: SchemaSnapshot,
) -> None:
    # messages has two FKs to users but its key is id: no users <-> users many-to-many
    assert [r.cardinality for r in _rels(snapshot, "users", "users")] == []
    # editions' key holds book_id but it has only one FK
    assert _rels(snapshot, "books", "printings") == []


def test_view_relationships(snapshot: SchemaSnapshot) -> None:
    [view_to_table] = _rels(snapshot, "book_summaries", "authors")
    assert view_to_table.cardinality == "many_to_one"
    assert view_to_table.columns == (("writer_id", "id"),)
    assert view_to_table.constraint == "books_author_id_fkey"
    [table_to_view] = _rels(snapshot, "authors", "book_summaries")
    assert table_to_view.cardinality == "one_to_many"
    assert table_to_view.columns == (("id", "writer_id"),)
    [view_to_view] = _rels(snapshot, "book_summaries", "author_names")
    assert view_to_view.columns == (("writer_id", "id"),)
    [back] = _rels(snapshot, "author_names", "book_summaries")
    assert back.cardinality == "one_to_many"
    # a view inherits many-to-many too, through the junction's FK to the base table
    [tags] = _rels(snapshot, "book_summaries", "tags")
    assert tags.junction is not None
    assert tags.junction.source_columns == (("id", "book_id"),)
    # price is not part of any key: nothing more from books' other FKs
    assert _rels(snapshot, "book_summaries", "publishers") == []


def test_cross_schema_relationships(snapshot: SchemaSnapshot) -> None:
    [rel] = [r for r in snapshot.relationships_of(_q("notes", "api2")) if r.target == _q("authors")]
    assert rel.cardinality == "many_to_one"


def test_functions(snapshot: SchemaSnapshot) -> None:
    [search] = snapshot.function_overloads("public", "search_books")
    assert search.returns_set
    assert not search.returns_scalar
    assert search.return_relation == _q("books")
    assert search.volatility == "stable"
    assert search.description == "Books whose title contains query"
    assert [(p.name, p.data_type, p.has_default) for p in search.parameters] == [
        ("query", "text", False),
        ("max_price", "numeric", True),
    ]
    [create_tag] = snapshot.function_overloads("public", "create_tag")
    assert create_tag.volatility == "volatile"
    assert not create_tag.returns_set
    assert create_tag.return_relation == _q("tags")
    [count] = snapshot.function_overloads("public", "count_books")
    assert count.returns_scalar
    assert count.return_type == "bigint"
    assert count.parameters == ()
    greet = snapshot.function_overloads("public", "greet")
    assert sorted(len(f.parameters) for f in greet) == [0, 1]
    [table_fn] = snapshot.function_overloads("public", "author_book_counts")
    assert not table_fn.returns_scalar
    assert table_fn.returns_set
    assert table_fn.return_relation is None
    assert [p.name for p in table_fn.input_parameters] == ["min_books"]
    assert [p.mode for p in table_fn.parameters] == ["in", "table", "table"]
    [variadic] = snapshot.function_overloads("public", "sum_all")
    assert variadic.parameters[0].mode == "variadic"
    assert variadic.parameters[0].data_type == "integer[]"
    assert snapshot.function_overloads("public", "noop_procedure") == ()
    [api2] = snapshot.function_overloads("api2", "note_count")
    assert api2.executable


def test_enums(snapshot: SchemaSnapshot) -> None:
    assert snapshot.enums["order_status"] == ("pending", "paid", "shipped", "cancelled")


def test_only_requested_schemas(fixture_database_url: str) -> None:
    narrow = asyncio.run(_introspect(fixture_database_url, ["api2"]))
    assert list(narrow.relations) == [_q("notes", "api2")]
    # the FK to public.authors leads outside the exposed schemas
    assert narrow.relationships_of(_q("notes", "api2")) == ()
    assert list(narrow.functions) == [_q("note_count", "api2")]
    missing = asyncio.run(_introspect(fixture_database_url, ["no_such_schema"]))
    assert missing.relations == {}
    assert missing.functions == {}
