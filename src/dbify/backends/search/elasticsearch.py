"""Elasticsearch / OpenSearch backend (the official ``elasticsearch`` client, async).

Each search index is an alias ``<prefix>_<name>`` pointing at one concrete index
``<alias>_v<ns>``. ``rebuild`` creates a new concrete index with explicit mappings,
fills it with the bulk API, refreshes it, then moves the alias in one ``_aliases``
call (zero-downtime reindex) and deletes the old concrete indexes. Columns become
fields ``f0, f1, …`` (sorted column names) so any column name is a valid field name.

Ranking is BM25 with each column's weight as a field boost; ``fuzzy`` adds the same
multi-match with ``fuzziness: 1`` at a tenth of the weight, so exact words rank first.
Highlights use ``<b>`` like the embedded backend. Tests need a server
(``needs_server("elasticsearch")``): none can be installed on these machines.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError
from elasticsearch import exceptions as es_exceptions
from elasticsearch.helpers import async_bulk, async_scan

from dbify.backends.search.base import Document, IndexSpec, SearchBackendError, TextHit

__all__ = ["ElasticsearchBackend"]

_FUZZY_WEIGHT = 0.1
_ERRORS = (es_exceptions.ApiError, es_exceptions.TransportError)


def _columns(spec: IndexSpec) -> list[str]:
    return sorted(spec.fields)


def _mappings(spec: IndexSpec) -> dict[str, Any]:
    properties: dict[str, Any] = {"id": {"type": "keyword"}}
    for position, _ in enumerate(_columns(spec)):
        properties[f"f{position}"] = {"type": "text", "analyzer": "standard"}
    return {"dynamic": "strict", "properties": properties}


def _source(spec: IndexSpec, document: Document) -> dict[str, Any]:
    source: dict[str, Any] = {"id": document.id}
    for position, column in enumerate(_columns(spec)):
        value = document.values.get(column)
        if value:
            source[f"f{position}"] = value
    return source


class ElasticsearchBackend:
    """``SearchBackend`` on an Elasticsearch 8 / OpenSearch 2 cluster at ``url``."""

    def __init__(self, url: str, *, prefix: str = "dbify", api_key: str | None = None) -> None:
        self._client = AsyncElasticsearch(url, api_key=api_key, request_timeout=30)
        self._prefix = prefix

    def _alias(self, spec: IndexSpec) -> str:
        return f"{self._prefix}_{spec.name}".lower()

    async def _concrete(self, alias: str) -> list[str]:
        try:
            found = await self._client.indices.get_alias(name=alias)
        except NotFoundError:
            return []
        return list(found.body)

    async def _create(self, spec: IndexSpec) -> str:
        name = f"{self._alias(spec)}_v{time.time_ns()}"
        await self._client.indices.create(
            index=name,
            mappings=_mappings(spec),
            settings={"number_of_shards": 1, "refresh_interval": "1s"},
        )
        return name

    async def rebuild(self, spec: IndexSpec, batches: AsyncIterator[Sequence[Document]]) -> int:
        alias = self._alias(spec)
        try:
            old = await self._concrete(alias)
            new = await self._create(spec)
            count = 0
            async for batch in batches:
                actions = [{"_index": new, "_id": d.id, "_source": _source(spec, d)} for d in batch]
                done, _ = await async_bulk(self._client, actions, raise_on_error=True)
                count += done
            await self._client.indices.refresh(index=new)
            swap: list[dict[str, Any]] = [{"add": {"index": new, "alias": alias}}]
            swap += [{"remove": {"index": index, "alias": alias}} for index in old]
            await self._client.indices.update_aliases(actions=swap)
            for index in old:
                await self._client.indices.delete(index=index, ignore_unavailable=True)
        except _ERRORS as error:
            raise SearchBackendError(f"elasticsearch rebuild of {alias} failed: {error}") from error
        return count

    async def _ensure(self, spec: IndexSpec) -> str:
        alias = self._alias(spec)
        if not await self._concrete(alias):
            new = await self._create(spec)
            await self._client.indices.put_alias(index=new, name=alias)
        return alias

    async def upsert(self, spec: IndexSpec, documents: Sequence[Document]) -> None:
        if not documents:
            return
        try:
            alias = await self._ensure(spec)
            actions = [
                {"_index": alias, "_id": d.id, "_source": _source(spec, d)} for d in documents
            ]
            await async_bulk(self._client, actions, raise_on_error=True, refresh="wait_for")
        except _ERRORS as error:
            raise SearchBackendError(f"elasticsearch upsert failed: {error}") from error

    async def delete(self, spec: IndexSpec, ids: Sequence[str]) -> None:
        alias = self._alias(spec)
        if not ids or not await self._concrete(alias):
            return
        actions = [{"_op_type": "delete", "_index": alias, "_id": i} for i in ids]
        try:
            await async_bulk(
                self._client, actions, raise_on_error=False, refresh="wait_for"
            )  # a missing id is a 404 item, not a failure
        except _ERRORS as error:
            raise SearchBackendError(f"elasticsearch delete failed: {error}") from error

    async def ids(self, spec: IndexSpec) -> set[str]:
        alias = self._alias(spec)
        if not await self._concrete(alias):
            return set()
        found: set[str] = set()
        try:
            async for hit in async_scan(self._client, index=alias, query={"_source": False}):
                found.add(str(hit["_id"]))
        except _ERRORS as error:
            raise SearchBackendError(f"elasticsearch scan failed: {error}") from error
        return found

    async def search(
        self, spec: IndexSpec, query: str, *, limit: int, fuzzy: bool = True
    ) -> list[TextHit]:
        alias = self._alias(spec)
        if not query.strip() or limit <= 0 or not await self._concrete(alias):
            return []
        columns = _columns(spec)
        fields = [f"f{i}^{spec.fields[c]}" for i, c in enumerate(columns)]
        should: list[dict[str, Any]] = [{"multi_match": {"query": query, "fields": fields}}]
        if fuzzy:
            should.append(
                {
                    "multi_match": {
                        "query": query,
                        "fields": fields,
                        "fuzziness": 1,
                        "boost": _FUZZY_WEIGHT,
                    }
                }
            )
        highlight = {
            "pre_tags": ["<b>"],
            "post_tags": ["</b>"],
            "fields": {f"f{i}": {} for i in range(len(columns))},
        }
        try:
            response = await self._client.search(
                index=alias,
                query={"bool": {"should": should, "minimum_should_match": 1}},
                highlight=highlight,
                size=limit,
                source=False,
            )
        except _ERRORS as error:
            raise SearchBackendError(f"elasticsearch search failed: {error}") from error
        hits: list[TextHit] = []
        for hit in response.body["hits"]["hits"]:
            marks = {
                columns[int(field[1:])]: " … ".join(fragments)
                for field, fragments in hit.get("highlight", {}).items()
            }
            hits.append(TextHit(str(hit["_id"]), float(hit["_score"]), marks))
        return hits

    async def drop(self, spec: IndexSpec) -> None:
        alias = self._alias(spec)
        try:
            for index in await self._concrete(alias):
                await self._client.indices.delete(index=index, ignore_unavailable=True)
        except _ERRORS as error:
            raise SearchBackendError(f"elasticsearch drop failed: {error}") from error

    async def close(self) -> None:
        await self._client.close()
