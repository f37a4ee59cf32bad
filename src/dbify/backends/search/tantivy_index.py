"""The embedded full-text backend: one tantivy index (BM25) per search index, on disk.

Layout under ``root``: ``<name>/<version>/`` holds one tantivy index and
``<name>/CURRENT`` names the version searches use. ``rebuild`` writes a new version
next to the live one and swaps ``CURRENT`` with an atomic rename, so searches never
see a half-built index; the old version is deleted afterwards.

Columns become tantivy fields ``f0, f1, …`` (in the order of the sorted column names)
so any column name is safe. A query is the user's words (no query syntax: operators
in ``q`` are ignored), matched exactly with BM25 and each column's weight as a boost,
plus (``fuzzy``) the same words within one edit, at a tenth of the weight, so typos
still find rows but exact matches rank first. Tantivy calls block, so they run in a
worker thread under a lock per index (tantivy allows one writer per index).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import tantivy

from dbify.backends.search.base import Document, IndexSpec, SearchBackendError, TextHit

__all__ = ["TantivyBackend"]

_WORDS = re.compile(r"\w+", re.UNICODE)
_ID = "id"
_WRITER_HEAP = 50_000_000
_FUZZY_WEIGHT = 0.1


def _columns(spec: IndexSpec) -> list[str]:
    return sorted(spec.fields)


def _schema(spec: IndexSpec) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(_ID, stored=True, tokenizer_name="raw")
    for position, _ in enumerate(_columns(spec)):
        builder.add_text_field(f"f{position}", stored=True, tokenizer_name="default")
    return builder.build()


def _document(spec: IndexSpec, document: Document) -> tantivy.Document:
    values: dict[str, list[str]] = {_ID: [document.id]}
    for position, column in enumerate(_columns(spec)):
        value = document.values.get(column)
        if value:
            values[f"f{position}"] = [value]
    return tantivy.Document(**values)


def _add_all(writer: tantivy.IndexWriter, spec: IndexSpec, batch: Sequence[Document]) -> None:
    for document in batch:
        writer.add_document(_document(spec, document))


class _Open:
    """A live tantivy index and its writer (created on first write)."""

    def __init__(self, index: tantivy.Index) -> None:
        self.index = index
        self.writer: tantivy.IndexWriter | None = None

    def write(self) -> tantivy.IndexWriter:
        if self.writer is None:
            self.writer = self.index.writer(_WRITER_HEAP, 1)
        return self.writer


class TantivyBackend:
    """``SearchBackend`` on tantivy indexes under ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._open: dict[str, _Open] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _current(self, spec: IndexSpec) -> _Open | None:
        live = self._open.get(spec.name)
        if live is not None:
            return live
        pointer = self._root / spec.name / "CURRENT"
        if not pointer.exists():
            return None
        path = self._root / spec.name / pointer.read_text().strip()
        live = _Open(tantivy.Index(_schema(spec), path=str(path), reuse=True))
        self._open[spec.name] = live
        return live

    def _current_or_new(self, spec: IndexSpec) -> _Open:
        live = self._current(spec)
        if live is None:
            self._build_version(spec, [])
            live = self._current(spec)
            assert live is not None
        return live

    def _build_version(self, spec: IndexSpec, documents: list[Document]) -> str:
        version = f"v{time.time_ns()}"
        path = self._root / spec.name / version
        path.mkdir(parents=True)
        index = tantivy.Index(_schema(spec), path=str(path), reuse=False)
        writer = index.writer(_WRITER_HEAP, 1)
        for document in documents:
            writer.add_document(_document(spec, document))
        writer.commit()
        writer.wait_merging_threads()
        self._swap(spec, version)
        return version

    def _swap(self, spec: IndexSpec, version: str) -> None:
        folder = self._root / spec.name
        pointer = folder / "CURRENT"
        previous = pointer.read_text().strip() if pointer.exists() else None
        temporary = folder / "CURRENT.tmp"
        temporary.write_text(version)
        os.replace(temporary, pointer)  # atomic: readers see the old or the new version
        old = self._open.pop(spec.name, None)
        if old is not None and old.writer is not None:
            old.writer.rollback()
        if previous and previous != version:
            shutil.rmtree(folder / previous, ignore_errors=True)

    async def rebuild(self, spec: IndexSpec, batches: AsyncIterator[Sequence[Document]]) -> int:
        version = f"v{time.time_ns()}"
        path = self._root / spec.name / version
        try:
            path.mkdir(parents=True)
            index = tantivy.Index(_schema(spec), path=str(path), reuse=False)
            writer = index.writer(_WRITER_HEAP, 1)
            count = 0
            async for batch in batches:
                await asyncio.to_thread(_add_all, writer, spec, batch)
                count += len(batch)
            await asyncio.to_thread(writer.commit)
            await asyncio.to_thread(writer.wait_merging_threads)
        except (OSError, ValueError) as error:
            shutil.rmtree(path, ignore_errors=True)
            raise SearchBackendError(f"tantivy rebuild of {spec.name} failed: {error}") from error
        async with self._lock(spec.name):
            self._swap(spec, version)
        return count

    async def upsert(self, spec: IndexSpec, documents: Sequence[Document]) -> None:
        if not documents:
            return
        async with self._lock(spec.name):
            live = self._current_or_new(spec)

            def write() -> None:
                writer = live.write()
                for document in documents:
                    writer.delete_documents_by_term(_ID, document.id)
                    writer.add_document(_document(spec, document))
                writer.commit()
                live.index.reload()

            await asyncio.to_thread(write)

    async def delete(self, spec: IndexSpec, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._lock(spec.name):
            live = self._current(spec)
            if live is None:
                return

            def write() -> None:
                writer = live.write()
                for id_ in ids:
                    writer.delete_documents_by_term(_ID, id_)
                writer.commit()
                live.index.reload()

            await asyncio.to_thread(write)

    async def ids(self, spec: IndexSpec) -> set[str]:
        live = self._current(spec)
        if live is None:
            return set()

        def collect() -> set[str]:
            searcher = live.index.searcher()
            total = searcher.num_docs
            if total == 0:
                return set()
            result = searcher.search(tantivy.Query.all_query(), limit=total, count=False)
            return {str(searcher.doc(address)[_ID][0]) for _, address in result.hits}

        return await asyncio.to_thread(collect)

    async def search(
        self, spec: IndexSpec, query: str, *, limit: int, fuzzy: bool = True
    ) -> list[TextHit]:
        words = _WORDS.findall(query.lower())
        live = self._current(spec)
        if not words or live is None or limit <= 0:
            return []
        return await asyncio.to_thread(self._search, live.index, spec, words, limit, fuzzy)

    def _search(
        self, index: tantivy.Index, spec: IndexSpec, words: list[str], limit: int, fuzzy: bool
    ) -> list[TextHit]:
        columns = _columns(spec)
        fields = [f"f{i}" for i in range(len(columns))]
        boosts = {f"f{i}": float(spec.fields[c]) for i, c in enumerate(columns)}
        text = " ".join(words)
        exact = index.parse_query(text, fields, field_boosts=boosts)
        query = exact
        if fuzzy:
            typo = index.parse_query(
                text, fields, fuzzy_fields={f: (False, 1, True) for f in fields}
            )
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Should, exact),
                    (tantivy.Occur.Should, tantivy.Query.boost_query(typo, _FUZZY_WEIGHT)),
                ]
            )
        searcher = index.searcher()
        result = searcher.search(query, limit=limit, count=False)
        schema = index.schema
        generators = {
            f: tantivy.SnippetGenerator.create(searcher, exact, schema, f) for f in fields
        }
        hits: list[TextHit] = []
        for score, address in result.hits:
            stored = searcher.doc(address)
            highlights: dict[str, str] = {}
            for position, field_name in enumerate(fields):
                snippet = generators[field_name].snippet_from_doc(stored)
                html = snippet.to_html()
                if html and snippet.highlighted():
                    highlights[columns[position]] = html
            hits.append(TextHit(str(stored[_ID][0]), float(score), highlights))
        return hits

    async def drop(self, spec: IndexSpec) -> None:
        async with self._lock(spec.name):
            live = self._open.pop(spec.name, None)
            if live is not None and live.writer is not None:
                live.writer.rollback()
            shutil.rmtree(self._root / spec.name, ignore_errors=True)

    async def close(self) -> None:
        for live in self._open.values():
            if live.writer is not None:
                live.writer.rollback()
        self._open.clear()
