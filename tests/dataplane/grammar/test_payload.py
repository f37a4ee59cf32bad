"""parse_payload: content types, JSON/CSV/form bodies, the same-keys rule, limits."""

from __future__ import annotations

import orjson
import pytest

from dbify.dataplane.grammar.payload import parse_payload
from dbify.errors import DbifyError


@pytest.mark.parametrize(
    ("body", "keys", "rows", "json"),
    [
        (b'{"a": 1, "b": "x"}', ("a", "b"), 1, [{"a": 1, "b": "x"}]),
        (b' [{"a": 1}, {"a": 2}]', ("a",), 2, [{"a": 1}, {"a": 2}]),
        (b"[]", (), 0, []),
        (b"{}", (), 1, [{}]),
        (b"[{}, {}]", (), 2, [{}, {}]),
        (b'{"a": {"nested": [1, 2]}}', ("a",), 1, [{"a": {"nested": [1, 2]}}]),
    ],
)
def test_json_bodies(body: bytes, keys: tuple[str, ...], rows: int, json: object) -> None:
    payload = parse_payload(body, "application/json; charset=utf-8", columns=None)
    assert payload.keys == keys
    assert payload.row_count == rows
    assert orjson.loads(payload.json) == json


@pytest.mark.parametrize("body", [b"5", b'"text"', b"null", b"true"])
def test_json_scalar_body_is_refused(body: bytes) -> None:
    # PostgREST inserts nothing and answers 201; Dbify says what is wrong instead.
    with pytest.raises(DbifyError) as caught:
        parse_payload(body, "application/json", columns=None)
    assert caught.value.code == "PGRST102"
    assert caught.value.message == "Expected a JSON object or an array of objects"


def test_no_content_type_means_json() -> None:
    assert parse_payload(b'{"a": 1}', None, columns=None).keys == ("a",)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "line 1, column 1"),
        (b'{"a": 1,}', "line 1"),
        (b'[{"a": 1},\n{"a": }]', "line 2"),
        (b"\xff\xfe", "byte 0"),
        (b"[" * 2000 + b"]" * 2000, "line 1"),  # recursion limit, not a crash
    ],
)
def test_invalid_json_says_where(body: bytes, fragment: str) -> None:
    with pytest.raises(DbifyError) as caught:
        parse_payload(body, "application/json", columns=None)
    assert (caught.value.code, caught.value.status) == ("PGRST102", 400)
    assert caught.value.message == "Empty or invalid json"
    assert isinstance(caught.value.details, str)
    assert fragment in caught.value.details


def test_mixed_keys_need_columns_or_missing_default() -> None:
    body = b'[{"a": 1}, {"a": 2, "b": 3}]'
    with pytest.raises(DbifyError, match="All object keys must match"):
        parse_payload(body, None, columns=None)
    mixed = parse_payload(body, None, columns=None, allow_mixed_keys=True)
    assert (mixed.keys, mixed.uniform) == (("a", "b"), False)
    named = parse_payload(body, None, columns=("b",))
    assert named.keys == ("b",)


def test_array_of_non_objects_is_invalid() -> None:
    with pytest.raises(DbifyError) as caught:
        parse_payload(b"[1, 2]", None, columns=None)
    assert caught.value.code == "PGRST102"


def test_csv_bodies() -> None:
    payload = parse_payload(b'name,price\n"Dune, 2nd",12.5\nEmma,NULL\n', "text/csv", columns=None)
    assert payload.keys == ("name", "price")
    assert orjson.loads(payload.json) == [
        {"name": "Dune, 2nd", "price": "12.5"},
        {"name": "Emma", "price": None},
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "Invalid CSV"),
        (b"a,b\n1\n", "All lines must have same number of fields"),
        (b'a\n"unterminated\n', "Invalid CSV"),
    ],
)
def test_invalid_csv(body: bytes, message: str) -> None:
    with pytest.raises(DbifyError, match=message) as caught:
        parse_payload(body, "text/csv", columns=None)
    assert caught.value.code == "PGRST102"


def test_form_body() -> None:
    payload = parse_payload(
        b"name=Ann&bio=a+poet", "application/x-www-form-urlencoded", columns=None
    )
    assert orjson.loads(payload.json) == [{"name": "Ann", "bio": "a poet"}]


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "image/png"])
def test_other_content_types_are_415(content_type: str) -> None:
    with pytest.raises(DbifyError) as caught:
        parse_payload(b"x", content_type, columns=None)
    assert (caught.value.code, caught.value.status) == ("PGRST107", 415)


def test_row_limit_is_413() -> None:
    body = orjson.dumps([{"a": i} for i in range(11)])
    assert parse_payload(body, None, columns=None, max_rows=11).row_count == 11
    with pytest.raises(DbifyError) as caught:
        parse_payload(body, None, columns=None, max_rows=10)
    assert caught.value.status == 413
