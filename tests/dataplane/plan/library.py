"""A small library schema: its DDL and data, and the ``SchemaSnapshot`` of it built by
hand (so plan and SQL tests do not depend on introspection)."""

from __future__ import annotations

from dbify.dataplane.grammar.types import ApiRequest, SelectItem, Target
from dbify.schema.model import (
    Column,
    Junction,
    QualifiedName,
    Relation,
    Relationship,
    SchemaSnapshot,
)

DDL = """
create table authors (id int primary key, name text not null, bio text);
create table books (
  id int primary key, title text not null, price numeric, published date,
  author_id int constraint books_author_id_fkey references authors,
  editor_id int constraint books_editor_id_fkey references authors,
  tags text[], data jsonb, body text, pages int4range, search tsvector
);
create table reviews (id int primary key, book_id int constraint reviews_book_id_fkey
  references books, stars int, comment text);
create table book_details (book_id int primary key constraint book_details_book_id_fkey
  references books, isbn text);
create table tags (id int primary key, name text);
create table book_tags (book_id int constraint book_tags_book_id_fkey references books,
  tag_id int constraint book_tags_tag_id_fkey references tags, primary key (book_id, tag_id));
create table employees (id int primary key, name text, manager_id int
  constraint employees_manager_id_fkey references employees);

insert into authors values (1, 'Ann', 'poet'), (2, 'Bob', null), (3, 'Cy"d, e', null);
insert into books values
  (1, 'Alpha', 10.5, '2020-01-01', 1, 2, '{a,b}', '{"a": {"b": "x"}, "n": 1}',
   'the quick brown fox', '[1,10)', to_tsvector('english', 'the quick brown fox')),
  (2, 'Beta', 20, '2021-06-01', 1, null, '{b,c}', '{"a": {"b": "y"}, "n": 2}',
   'lazy dogs sleep', '[5,20)', to_tsvector('english', 'lazy dogs sleep')),
  (3, 'Gamma', null, null, 2, 1, '{}', null, null, null, null),
  (4, 'Delta', 5, '2019-03-03', null, null, null, '{"n": 3}', 'fox hunts', '[30,40)',
   to_tsvector('english', 'fox hunts'));
insert into reviews values (1, 1, 5, 'great'), (2, 1, 3, 'ok'), (3, 2, 4, null),
  (4, 1, 1, 'bad');
insert into book_details values (1, '111'), (2, '222');
insert into tags values (1, 'sf'), (2, 'classic'), (3, 'unused');
insert into book_tags values (1, 1), (1, 2), (2, 2);
insert into employees values (1, 'Boss', null), (2, 'Mid', 1), (3, 'Low', 2);
"""


def _col(name: str, data_type: str, position: int, category: str = "S") -> Column:
    return Column(
        name=name,
        position=position,
        data_type=data_type,
        type_name=data_type,
        type_category=category,
        nullable=name != "id",
    )


def _table(name: str, *columns: tuple[str, str, str]) -> Relation:
    return Relation(
        name=QualifiedName("public", name),
        kind="table",
        columns=tuple(_col(n, t, i + 1, c) for i, (n, t, c) in enumerate(columns)),
        primary_key=("id",),
    )


def _q(name: str) -> QualifiedName:
    return QualifiedName("public", name)


RELATIONS = [
    _table("authors", ("id", "integer", "N"), ("name", "text", "S"), ("bio", "text", "S")),
    _table(
        "books",
        ("id", "integer", "N"),
        ("title", "text", "S"),
        ("price", "numeric", "N"),
        ("published", "date", "D"),
        ("author_id", "integer", "N"),
        ("editor_id", "integer", "N"),
        ("tags", "text[]", "A"),
        ("data", "jsonb", "U"),
        ("body", "text", "S"),
        ("pages", "int4range", "R"),
        ("search", "tsvector", "U"),
    ),
    _table(
        "reviews",
        ("id", "integer", "N"),
        ("book_id", "integer", "N"),
        ("stars", "integer", "N"),
        ("comment", "text", "S"),
    ),
    _table("book_details", ("book_id", "integer", "N"), ("isbn", "text", "S")),
    _table("tags", ("id", "integer", "N"), ("name", "text", "S")),
    _table("book_tags", ("book_id", "integer", "N"), ("tag_id", "integer", "N")),
    _table(
        "employees",
        ("id", "integer", "N"),
        ("name", "text", "S"),
        ("manager_id", "integer", "N"),
    ),
]


def _fk(
    source: str, target: str, constraint: str, pairs: tuple[tuple[str, str], ...]
) -> list[Relationship]:
    """Both directions of a foreign key ``source(pairs[0]) -> target(pairs[1])``."""
    return [
        Relationship(_q(source), _q(target), "many_to_one", constraint, pairs),
        Relationship(
            _q(target), _q(source), "one_to_many", constraint, tuple((t, s) for s, t in pairs)
        ),
    ]


_BOOK_TAGS = Junction(
    relation=_q("book_tags"),
    source_constraint="book_tags_book_id_fkey",
    source_columns=(("id", "book_id"),),
    target_constraint="book_tags_tag_id_fkey",
    target_columns=(("tag_id", "id"),),
)
_TAG_BOOKS = Junction(
    relation=_q("book_tags"),
    source_constraint="book_tags_tag_id_fkey",
    source_columns=(("id", "tag_id"),),
    target_constraint="book_tags_book_id_fkey",
    target_columns=(("book_id", "id"),),
)

RELATIONSHIPS = [
    *_fk("books", "authors", "books_author_id_fkey", (("author_id", "id"),)),
    *_fk("books", "authors", "books_editor_id_fkey", (("editor_id", "id"),)),
    *_fk("reviews", "books", "reviews_book_id_fkey", (("book_id", "id"),)),
    Relationship(
        _q("book_details"), _q("books"), "one_to_one", "book_details_book_id_fkey",
        (("book_id", "id"),),
    ),
    Relationship(
        _q("books"), _q("book_details"), "one_to_one", "book_details_book_id_fkey",
        (("id", "book_id"),),
    ),
    *_fk("book_tags", "books", "book_tags_book_id_fkey", (("book_id", "id"),)),
    *_fk("book_tags", "tags", "book_tags_tag_id_fkey", (("tag_id", "id"),)),
    Relationship(_q("books"), _q("tags"), "many_to_many", "book_tags", junction=_BOOK_TAGS),
    Relationship(_q("tags"), _q("books"), "many_to_many", "book_tags", junction=_TAG_BOOKS),
    *_fk("employees", "employees", "employees_manager_id_fkey", (("manager_id", "id"),)),
]  # fmt: skip


def snapshot() -> SchemaSnapshot:
    by_source: dict[QualifiedName, tuple[Relationship, ...]] = {}
    for r in RELATIONSHIPS:
        by_source[r.source] = (*by_source.get(r.source, ()), r)
    return SchemaSnapshot(
        exposed_schemas=("public",),
        relations={r.name: r for r in RELATIONS},
        relationships=by_source,
        functions={},
    )


SNAPSHOT = snapshot()


def request(
    table: str, select: tuple[SelectItem, ...] | None = None, **kwargs: object
) -> ApiRequest:
    """A GET of ``table`` with the given ``ApiRequest`` fields."""
    if select is not None:
        kwargs["select"] = select
    return ApiRequest(
        method="GET",
        action="read",
        target=Target("relation", table),
        schema="public",
        **kwargs,  # type: ignore[arg-type]
    )
