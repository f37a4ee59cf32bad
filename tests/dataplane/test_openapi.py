"""The OpenAPI document built from hand-made schema snapshots."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from dbify.dataplane import openapi
from dbify.dataplane.openapi import build_openapi, openapi_json
from dbify.schema.model import (
    Column,
    Function,
    FunctionParameter,
    QualifiedName,
    Relation,
    Relationship,
    SchemaSnapshot,
)

ALL = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
Doc = dict[str, Any]
REST_URL = "http://x/p/1/rest/v1"


def _col(name: str, position: int, data_type: str, category: str, **kw: Any) -> Column:
    return Column(
        name=name,
        position=position,
        data_type=data_type,
        type_name=data_type,
        type_category=category,
        nullable=kw.pop("nullable", True),
        **kw,
    )


def _snapshot() -> SchemaSnapshot:
    authors = QualifiedName("public", "authors")
    books = QualifiedName("public", "books")
    relations = {
        authors: Relation(
            name=authors,
            kind="table",
            columns=(
                _col("id", 1, "bigint", "N", nullable=False, is_identity=True),
                _col("name", 2, "text", "S", nullable=False, description="Full name"),
                _col("bio", 3, "text", "S"),
            ),
            primary_key=("id",),
            description="People who write books",
            insertable=True,
            updatable=True,
            deletable=True,
            privileges=ALL,
        ),
        books: Relation(
            name=books,
            kind="table",
            columns=(
                _col("id", 1, "integer", "N", nullable=False,
                     default="nextval('books_id_seq'::regclass)"),
                _col("title", 2, "character varying", "S", nullable=False, max_length=200),
                _col("author_id", 3, "bigint", "N"),
                _col("mood", 4, "public.mood", "E"),
                _col("tags", 5, "text[]", "A", element_type="text"),
                _col("meta", 6, "jsonb", "U"),
                _col("published", 7, "date", "D"),
                _col("created_at", 8, "timestamp with time zone", "D", nullable=False,
                     default="now()"),
                _col("status", 9, "text", "S", nullable=False, default="'draft'::text"),
                _col("price", 10, "numeric", "N", default="0"),
                _col("uid", 11, "uuid", "U"),
                _col("title_upper", 12, "text", "S", is_generated=True),
            ),
            primary_key=("id",),
            insertable=True,
            updatable=True,
            deletable=True,
            privileges=frozenset({"SELECT", "INSERT", "UPDATE"}),
        ),
        QualifiedName("public", "book_titles"): Relation(
            name=QualifiedName("public", "book_titles"),
            kind="view",
            columns=(_col("title", 1, "text", "S"),),
            privileges=frozenset({"SELECT"}),
        ),
        QualifiedName("public", "secrets"): Relation(
            name=QualifiedName("public", "secrets"),
            kind="table",
            columns=(_col("value", 1, "text", "S"),),
            insertable=True,
            updatable=True,
            deletable=True,
        ),
        QualifiedName("public", "insert only"): Relation(
            name=QualifiedName("public", "insert only"),
            kind="table",
            columns=(_col("x/y", 1, "integer", "N"),),
            insertable=True,
            updatable=True,
            deletable=True,
            privileges=frozenset({"INSERT"}),
        ),
        QualifiedName("other", "hidden"): Relation(
            name=QualifiedName("other", "hidden"),
            kind="table",
            columns=(_col("x", 1, "integer", "N"),),
            privileges=ALL,
        ),
    }  # fmt: skip
    relationships = {
        books: (
            Relationship(books, authors, "many_to_one", "books_author_id_fkey",
                         (("author_id", "id"),)),
        ),
        authors: (
            Relationship(authors, books, "one_to_many", "books_author_id_fkey",
                         (("id", "author_id"),)),
        ),
    }  # fmt: skip
    functions = {
        QualifiedName("public", "add"): (
            Function(
                name=QualifiedName("public", "add"),
                parameters=(FunctionParameter("a", "integer"),
                            FunctionParameter("b", "integer", has_default=True)),
                return_type="integer",
                returns_set=False,
                returns_scalar=True,
                volatility="immutable",
                description="Adds two numbers",
            ),
        ),
        QualifiedName("public", "search_books"): (
            Function(
                name=QualifiedName("public", "search_books"),
                parameters=(FunctionParameter("q", "text"),),
                return_type="public.books",
                returns_set=True,
                returns_scalar=False,
                volatility="stable",
                return_relation=books,
            ),
        ),
        QualifiedName("public", "reset"): (
            Function(
                name=QualifiedName("public", "reset"),
                parameters=(),
                return_type="void",
                returns_set=False,
                returns_scalar=False,
                volatility="volatile",
            ),
        ),
        QualifiedName("public", "stats"): (
            Function(
                name=QualifiedName("public", "stats"),
                parameters=(FunctionParameter("total", "bigint", mode="out"),
                            FunctionParameter("mood", "public.mood", mode="out")),
                return_type="record",
                returns_set=False,
                returns_scalar=False,
                volatility="stable",
            ),
        ),
        QualifiedName("public", "forbidden"): (
            Function(
                name=QualifiedName("public", "forbidden"),
                parameters=(),
                return_type="integer",
                returns_set=False,
                returns_scalar=True,
                volatility="stable",
                executable=False,
            ),
        ),
    }  # fmt: skip
    return SchemaSnapshot(
        exposed_schemas=("public", "other"),
        relations=relations,
        relationships=relationships,
        functions=functions,
        enums={"public.mood": ("sad", "ok", "happy")},
        role="anon",
    )


def _build(**kw: Any) -> Doc:
    built = build_openapi(_snapshot(), rest_url=REST_URL, title="shop", version="1", **kw)
    return cast(Doc, built)


@pytest.fixture(scope="module")
def doc() -> Doc:
    return _build()


def _props(doc: Doc, name: str) -> Doc:
    return cast(Doc, doc["components"]["schemas"][name]["properties"])


def test_document_is_valid_openapi_31(doc: Doc) -> None:
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_other_schema_document_is_valid() -> None:
    other = _build(schema="other")
    validate(other)
    assert "/hidden" in other["paths"]
    assert "/authors" not in other["paths"]


def test_validator_would_catch_a_broken_document(doc: Doc) -> None:
    broken = orjson.loads(orjson.dumps(doc))
    broken["paths"]["/authors"]["get"]["responses"] = "nope"
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_info_servers_security(doc: Doc) -> None:
    assert doc["info"]["title"] == "shop"
    assert doc["servers"] == [{"url": "http://x/p/1/rest/v1"}]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apikey"] == {**schemes["apikey"], "type": "apiKey", "in": "header",
                                 "name": "apikey"}  # fmt: skip
    assert schemes["bearer"]["scheme"] == "bearer"
    assert {"apikey": []} in doc["security"]


def test_paths_follow_privileges(doc: Doc) -> None:
    paths = doc["paths"]
    assert set(paths["/authors"]) >= {"get", "head", "post", "patch", "put", "delete"}
    # books: no DELETE privilege
    assert "delete" not in paths["/books"]
    assert {"get", "post", "patch", "put"} <= set(paths["/books"])
    # a view that is not insertable only reads
    assert set(paths["/book_titles"]) == {"get", "head"}
    # no privileges at all: absent, with its schema
    assert "/secrets" not in paths
    assert "secrets" not in doc["components"]["schemas"]
    # INSERT only, awkward names percent-encoded
    assert set(paths["/insert%20only"]) == {"post"}
    # other schemas are not in the default document
    assert "/hidden" not in paths


def test_read_parameters(doc: Doc) -> None:
    get = doc["paths"]["/books"]["get"]
    refs = [p["$ref"].rsplit("/", 1)[1] for p in get["parameters"]]
    for common in ("select", "order", "limit", "offset", "range", "rangeUnit", "preferCount",
                   "acceptProfile"):  # fmt: skip
        assert common in refs
    assert "rowFilter.books.title" in refs
    title_filter = doc["components"]["parameters"]["rowFilter.books.title"]
    assert title_filter["name"] == "title"
    assert title_filter["in"] == "query"
    assert title_filter["schema"] == {"type": "string"}
    assert "eq.5" in title_filter["description"]
    profile = doc["components"]["parameters"]["acceptProfile"]
    assert profile["schema"]["enum"] == ["public", "other"]
    ok = get["responses"]["200"]["content"]
    assert ok["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/books"}
    assert "text/csv" in ok
    assert get["responses"]["default"] == {"$ref": "#/components/responses/Error"}


def test_column_types(doc: Doc) -> None:
    props = _props(doc, "books")
    assert props["id"]["type"] == "integer"
    assert props["id"]["format"] == "int32"
    assert props["author_id"]["type"] == ["integer", "null"]
    assert props["author_id"]["format"] == "int64"
    assert props["title"]["type"] == "string"
    assert props["title"]["maxLength"] == 200
    assert props["mood"]["type"] == ["string", "null"]
    assert props["mood"]["enum"] == ["sad", "ok", "happy", None]
    assert props["tags"]["type"] == ["array", "null"]
    assert props["tags"]["items"] == {"type": "string"}
    assert "type" not in props["meta"]
    assert props["published"]["format"] == "date"
    assert props["created_at"]["format"] == "date-time"
    assert props["price"]["type"] == ["number", "null"]
    assert props["uid"]["format"] == "uuid"
    assert props["created_at"]["x-pg-type"] == "timestamp with time zone"


def test_defaults_read_only_and_required(doc: Doc) -> None:
    books = doc["components"]["schemas"]["books"]
    props = books["properties"]
    assert props["status"]["default"] == "draft"
    assert props["price"]["default"] == 0
    assert "default" not in props["created_at"]
    assert "default" not in props["id"]
    assert props["title_upper"]["readOnly"] is True
    assert "readOnly" not in props["title"]
    assert books["required"] == ["title"]
    assert _props(doc, "authors")["id"]["readOnly"] is True
    assert doc["components"]["schemas"]["authors"]["required"] == ["name"]


def test_descriptions_and_key_notes(doc: Doc) -> None:
    authors = doc["components"]["schemas"]["authors"]
    assert authors["description"] == "People who write books"
    assert authors["properties"]["name"]["description"] == "Full name"
    assert authors["properties"]["id"]["description"] == "Note:\nThis is a Primary Key.<pk/>"
    fk = _props(doc, "books")["author_id"]["description"]
    assert "This is a Foreign Key to `authors.id`.<fk table='authors' column='id'/>" in fk
    # the referenced side gets no foreign key note
    assert "Foreign Key" not in authors["properties"]["id"]["description"]


def test_write_bodies(doc: Doc) -> None:
    post = doc["paths"]["/books"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    ref = {"$ref": "#/components/schemas/books"}
    assert body == {"oneOf": [ref, {"type": "array", "items": ref}]}
    patch_props = doc["paths"]["/books"]["patch"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["properties"]
    assert patch_props["title"] == {"$ref": "#/components/schemas/books/properties/title"}
    assert "title_upper" not in patch_props
    odd = doc["paths"]["/insert%20only"]["post"]
    assert odd["requestBody"]["required"] is True
    assert "insert_only" in doc["components"]["schemas"]


def test_functions(doc: Doc) -> None:
    paths = doc["paths"]
    add = paths["/rpc/add"]
    assert set(add) >= {"get", "post"}
    body = add["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["a"]["type"] == "integer"
    assert body["required"] == ["a"]
    query = {p["name"]: p for p in add["get"]["parameters"] if "name" in p}
    assert query["a"]["required"] is True
    assert query["b"]["required"] is False
    assert add["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": ["integer", "null"],
        "format": "int32",
    }
    search = paths["/rpc/search_books"]["get"]
    items = search["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert items == {"$ref": "#/components/schemas/books"}
    assert "get" not in paths["/rpc/reset"]
    assert "204" in paths["/rpc/reset"]["post"]["responses"]
    stats = paths["/rpc/stats"]["get"]["responses"]["200"]["content"]["application/json"]
    assert stats["schema"]["properties"]["mood"]["enum"] == ["sad", "ok", "happy", None]
    assert "/rpc/forbidden" not in paths


def test_error_schema(doc: Doc) -> None:
    error = doc["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "details", "hint"}
    assert error["properties"]["hint"]["type"] == ["string", "null"]


def test_operation_ids_unique(doc: Doc) -> None:
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for key, op in item.items()
        if key in ("get", "head", "post", "patch", "put", "delete")
    ]
    assert len(ids) == len(set(ids))


def test_table_named_error_keeps_its_name() -> None:
    base = _snapshot()
    name = QualifiedName("public", "Error")
    relation = Relation(name=name, kind="table", columns=(_col("a", 1, "text", "S"),),
                        privileges=frozenset({"SELECT"}))  # fmt: skip
    snapshot = SchemaSnapshot(
        exposed_schemas=base.exposed_schemas,
        relations={**base.relations, name: relation},
        relationships=base.relationships,
        functions=base.functions,
        enums=base.enums,
    )
    doc = cast(Doc, build_openapi(snapshot, rest_url="http://x", title="t", version="1"))
    validate(doc)
    assert doc["components"]["schemas"]["Error"]["properties"] == {"a": {
        "type": ["string", "null"], "x-pg-type": "text"}}  # fmt: skip
    assert doc["components"]["responses"]["Error"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error_2"
    }


def test_openapi_json_round_trips(doc: Doc) -> None:
    raw = openapi_json(_snapshot(), rest_url="http://x/p/1/rest/v1", title="shop", version="1")
    assert orjson.loads(raw) == doc


def test_exported_members() -> None:
    assert sorted(openapi.__all__) == ["build_openapi", "openapi_json"]


# --- from the introspected fixture database ----------------------------------------------


@pytest.fixture(scope="module")
def introspected(fixture_database_url: str) -> SchemaSnapshot:
    import anyio
    import asyncpg

    from dbify.schema.introspect import introspect

    async def load() -> SchemaSnapshot:
        conn = await asyncpg.connect(fixture_database_url)
        try:
            return await introspect(conn, ["public", "api2"])
        finally:
            await conn.close()

    return anyio.run(load)


def test_introspected_fixture_documents(introspected: SchemaSnapshot) -> None:
    doc = cast(Doc, build_openapi(introspected, rest_url=REST_URL, title="fx", version="1"))
    validate(doc)
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    assert {"get", "head", "post", "patch", "put", "delete"} <= set(paths["/books"])
    assert set(paths["/publisher_book_counts"]) == {"get", "head"}
    assert "/notes" not in paths
    books = schemas["books"]["properties"]
    assert books["id"]["readOnly"] is True
    assert books["title_length"]["readOnly"] is True
    assert books["keywords"]["type"] == "array"
    assert books["keywords"]["items"] == {"type": "string"}
    assert books["price"]["type"] == ["number", "null"]
    assert books["price"]["description"] == "Price in EUR; NULL when not for sale"
    assert books["created_at"]["format"] == "date-time"
    assert "default" not in books["created_at"]  # SQL text, not ISO 8601
    assert books["isbn"]["format"] == "uuid"
    assert "<fk table='authors' column='id'/>" in books["author_id"]["description"]
    assert "<pk/>" in books["id"]["description"]
    assert schemas["books"]["required"] == ["title", "author_id"]
    assert schemas["orders"]["properties"]["status"]["enum"] == [
        "pending",
        "paid",
        "shipped",
        "cancelled",
    ]
    assert schemas["orders"]["properties"]["status"]["default"] == "pending"
    assert schemas["authors"]["properties"]["email"]["maxLength"] == 120
    assert schemas["authors"]["properties"]["active"]["default"] is True
    assert set(paths["/rpc/add_numbers"]) == {"get", "post"}
    assert set(paths["/rpc/create_tag"]) == {"post"}
    greet = paths["/rpc/greet"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in greet  # greet() has an overload without arguments
    rows = paths["/rpc/author_book_counts"]["get"]["responses"]["200"]["content"]
    assert set(rows["application/json"]["schema"]["items"]["properties"]) == {
        "author_id",
        "book_count",
    }


def test_introspected_second_schema(introspected: SchemaSnapshot) -> None:
    doc = cast(
        Doc,
        build_openapi(introspected, rest_url=REST_URL, title="fx", version="1", schema="api2"),
    )
    validate(doc)
    assert set(doc["paths"]) == {"/", "/notes", "/rpc/note_count"}
