"""``GET /p/{id}/search/v1/{table}?q=…``: ranked search with the data API's permissions.

    /p/abc/search/v1/books?q=fixing cars&mode=hybrid&limit=10&offset=0
        &select=id,title&in_stock=is.true

1. authenticate exactly like the data API (``apikey`` / ``Authorization: Bearer``);
2. rank candidates with the index: ``mode=text`` (BM25, default), ``semantic``
   (vectors) or ``hybrid`` (reciprocal rank fusion of both);
3. re-read the candidates through the data API pipeline as the caller —
   ``GET /{table}?select=…&{key}=in.(…)&<the request's other filters>`` — so RLS,
   grants and PostgREST filters apply, and a row the caller cannot read is never a hit;
4. keep the ranking order, then page with ``offset``/``limit``.

Answer: ``{"mode", "offset", "limit", "has_more", "items": [{"row", "score",
"highlights"}]}``. Filters apply to the best ``max_candidates`` matches of the index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode

import orjson

from dbify.auth.principal import authenticate, authenticate_jwt, bearer_jwt
from dbify.backends.embeddings import EmbeddingError
from dbify.backends.search import SearchBackendError
from dbify.backends.vectors import VectorStoreError
from dbify.dataplane.pipeline import RawRequest, handle_data_request
from dbify.dataplane.project import Project
from dbify.dataplane.respond import ApiResponse, respond_error
from dbify.errors import Codes, DbifyError
from dbify.search.config import IndexConfig
from dbify.search.engine import SearchEngine, SemanticSearchUnavailable

__all__ = ["SearchRequest", "handle_search_request", "parse_search_request"]

_MODES = ("text", "semantic", "hybrid")
_OWN = ("q", "mode", "limit", "offset", "select", "order")
_RRF_K = 60
_MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class SearchRequest:
    table: str
    query: str
    mode: str
    limit: int
    offset: int
    select: str | None
    filters: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: str
    score: float
    highlights: Mapping[str, str]


def _integer(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not low <= number <= high:
        raise DbifyError(Codes.INVALID_QUERY_PARAM, f"'{name}' must be between {low} and {high}")
    return number


def parse_search_request(path: str, query_string: str) -> SearchRequest:
    """The search request in ``path`` (``/books``) and its query string.

    >>> r = parse_search_request("/books", "q=cars&mode=hybrid&limit=5&price=lt.10")
    >>> (r.table, r.query, r.mode, r.limit, r.offset, r.filters)
    ('books', 'cars', 'hybrid', 5, 0, (('price', 'lt.10'),))
    """
    table = path.strip("/")
    if not table or "/" in table:
        raise DbifyError(Codes.NOT_FOUND, "Use /search/v1/{table}?q=…")
    pairs = parse_qsl(query_string, keep_blank_values=True)
    own = {k: v for k, v in pairs if k in _OWN}
    query = own.get("q", "").strip()
    if not query:
        raise DbifyError(Codes.INVALID_QUERY_PARAM, "'q' is required", hint="?q=words")
    mode = own.get("mode", "text")
    if mode not in _MODES:
        raise DbifyError(Codes.INVALID_QUERY_PARAM, "'mode' is text, semantic or hybrid")
    return SearchRequest(
        table=table,
        query=query,
        mode=mode,
        limit=_integer(own.get("limit"), "limit", 20, 1, _MAX_LIMIT),
        offset=_integer(own.get("offset"), "offset", 0, 0, 10_000),
        select=own.get("select") or None,
        filters=tuple((k, v) for k, v in pairs if k not in _OWN),
    )


async def handle_search_request(
    project: Project, engine: SearchEngine, raw: RawRequest, *, max_candidates: int = 1000
) -> ApiResponse:
    try:
        return await _run(project, engine, raw, max_candidates)
    except _Passthrough as passthrough:
        return passthrough.response
    except DbifyError as error:
        return respond_error(error)


async def _run(
    project: Project, engine: SearchEngine, raw: RawRequest, max_candidates: int
) -> ApiResponse:
    await _authenticate(project, raw)
    request = parse_search_request(raw.path, raw.query_string)
    schema = raw.headers.get("accept-profile") or project.settings.schemas[0]
    config = engine.find(project.id, schema, request.table)
    if config is None:
        raise DbifyError(
            Codes.SEARCH_INDEX_NOT_FOUND,
            f"Search is not enabled on '{schema}.{request.table}'",
            hint="Create a search index in the management API: POST "
            f"/api/v1/projects/{project.id}/search-indexes",
        )
    wanted = min(max_candidates, max(100, (request.offset + request.limit) * 5))
    candidates = await _candidates(engine, config, request, wanted)
    rows = await _readable_rows(project, config, request, raw, candidates)
    ranked = [(c, rows[c.id]) for c in candidates if c.id in rows]
    page = ranked[request.offset : request.offset + request.limit]
    body = {
        "mode": request.mode,
        "offset": request.offset,
        "limit": request.limit,
        "has_more": len(ranked) > request.offset + request.limit,
        "items": [
            {"row": row, "score": round(c.score, 6), "highlights": dict(c.highlights)}
            for c, row in page
        ],
    }
    return ApiResponse(200, orjson.dumps(body), [(b"content-type", b"application/json")])


async def _authenticate(project: Project, raw: RawRequest) -> None:
    """Refuse missing or wrong credentials before the index is even consulted."""
    token = bearer_jwt(raw.headers, project.jwt)
    if token is None:
        authenticate(raw.headers, project.keys, project.settings.anon_role)
    else:
        assert project.jwt is not None
        await authenticate_jwt(
            token, raw.headers, project.keys, project.jwt, project.settings.anon_role
        )


async def _candidates(
    engine: SearchEngine, config: IndexConfig, request: SearchRequest, wanted: int
) -> list[_Candidate]:
    try:
        if request.mode == "text":
            hits = await engine.text_hits(config, request.query, wanted)
            return [_Candidate(h.id, h.score, h.highlights) for h in hits]
        if not config.semantic or not engine.semantic_available:
            raise DbifyError(
                Codes.SEARCH_MODE_UNAVAILABLE,
                f"Semantic search is not enabled on '{config.table}'",
                hint="Create the index with semantic=true and configure an embedder.",
            )
        similar = await engine.semantic_hits(config, request.query, wanted)
        if request.mode == "semantic":
            return [_Candidate(h.id, h.score, {}) for h in similar]
        texts = await engine.text_hits(config, request.query, wanted)
        return _fuse(
            [h.id for h in texts], [h.id for h in similar], {h.id: h.highlights for h in texts}
        )
    except SemanticSearchUnavailable as error:
        raise DbifyError(Codes.SEARCH_MODE_UNAVAILABLE, str(error)) from error
    except (SearchBackendError, VectorStoreError, EmbeddingError) as error:
        raise DbifyError(
            Codes.SEARCH_BACKEND_FAILED, "The search backend is unavailable", hint="Retry later."
        ) from error


def _fuse(
    first: Sequence[str], second: Sequence[str], highlights: Mapping[str, Mapping[str, str]]
) -> list[_Candidate]:
    """Reciprocal rank fusion: each list adds 1/(60 + rank) to an id's score.

    >>> [c.id for c in _fuse(["a", "b", "c"], ["c", "b"], {})]
    ['c', 'b', 'a']
    """
    scores: dict[str, float] = {}
    for ranking in (first, second):
        for rank, id_ in enumerate(ranking, start=1):
            scores[id_] = scores.get(id_, 0.0) + 1.0 / (_RRF_K + rank)
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    return [_Candidate(i, s, highlights.get(i, {})) for i, s in ordered]


def _in_list(ids: Sequence[str]) -> str:
    quoted = ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in ids)
    return f"in.({quoted})"


async def _readable_rows(
    project: Project,
    config: IndexConfig,
    request: SearchRequest,
    raw: RawRequest,
    candidates: Sequence[_Candidate],
) -> dict[str, dict[str, object]]:
    """The candidates' rows the caller may read and that pass the filters, by key."""
    if not candidates:
        return {}
    columns = request.select or ",".join(config.return_columns)
    select = (
        columns if config.key in columns.split(",") or columns == "*" else f"{config.key},{columns}"
    )
    pairs = [("select", select), (config.key, _in_list([c.id for c in candidates]))]
    pairs += list(request.filters)
    headers = {k: v for k, v in raw.headers.items() if k not in ("range", "prefer", "accept")}
    reread = RawRequest(
        method="GET",
        path=f"/{request.table}",
        query_string=urlencode(pairs, quote_via=quote, safe=',.()*:"'),
        headers=headers,
        body=None,
        rest_url=raw.rest_url,
    )
    response = await handle_data_request(project, reread)
    if response.status != 200:
        raise _Passthrough(response)
    rows: list[dict[str, object]] = orjson.loads(response.body)
    return {str(row[config.key]): row for row in rows}


class _Passthrough(DbifyError):
    """The re-read's own error response (401/403/400…), handed back unchanged."""

    def __init__(self, response: ApiResponse) -> None:
        super().__init__(Codes.INTERNAL, "")
        self.response = response
