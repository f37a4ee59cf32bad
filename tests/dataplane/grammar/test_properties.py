"""Property: whatever a client sends, the grammar answers with an ApiRequest or a
DbifyError, never another exception."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from dbify.dataplane.grammar import parse_request
from dbify.dataplane.grammar.types import ApiRequest
from dbify.errors import DbifyError

# Characters the grammar gives meaning to, so random strings hit the parsers' corners.
_ALPHABET = st.sampled_from([*'abcdeinoqrstxyz019._-,:!()*{}[]"\\ \t>&=%+@$', "ä", "\x00"])
_TOKENS = st.sampled_from(
    [
        "select=", "order=", "limit=", "offset=", "or=", "and=", "not.", "eq.", "in.", "is.",
        "(any)", "(all)", "fts(english).", "->", "->>", "::", "...", "!inner", "books.",
        "columns=", "on_conflict=", "like.", "cs.", "null", "&", "(", ")", ",", '"',
    ]
)  # fmt: skip
_QUERY = st.lists(st.one_of(_TOKENS, st.text(_ALPHABET, max_size=6)), max_size=20).map("".join)
_HEADER_VALUE = st.one_of(st.none(), st.text(_ALPHABET, max_size=20), _TOKENS)


@settings(max_examples=600, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "x"]),
    path=st.sampled_from(["", "/", "/books", "/rpc/f", "/a/b", "/%zz", "/%C3%A4"]),
    query=_QUERY,
    accept=_HEADER_VALUE,
    prefer=_HEADER_VALUE,
    range_header=_HEADER_VALUE,
    profile=st.sampled_from([None, "public", "api", "other", ""]),
)
def test_random_requests_raise_only_dbify_errors(
    method: str,
    path: str,
    query: str,
    accept: str | None,
    prefer: str | None,
    range_header: str | None,
    profile: str | None,
) -> None:
    headers = {
        name: value
        for name, value in (
            ("accept", accept),
            ("prefer", prefer),
            ("range", range_header),
            ("accept-profile", profile),
            ("content-profile", profile),
        )
        if value is not None
    }
    outcome = _outcome(method, path, query, headers)
    if isinstance(outcome, DbifyError):
        assert outcome.code.startswith("PGRST")
        assert 400 <= outcome.status < 500
    else:
        assert outcome.range_at(()) is not None


def _outcome(
    method: str, path: str, query: str, headers: dict[str, str]
) -> ApiRequest | DbifyError:
    try:
        return parse_request(method, path, query, headers, None, exposed_schemas=("public", "api"))
    except DbifyError as error:
        return error


@settings(max_examples=300, deadline=None)
@given(query=st.text(max_size=40))
def test_arbitrary_unicode_query_strings(query: str) -> None:
    with contextlib.suppress(DbifyError):
        parse_request("GET", "/t", query, {}, None, exposed_schemas=("public",))
