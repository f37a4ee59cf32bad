"""Full-text search backends: rank a table's rows by the text of chosen columns.

    SearchBackend (Protocol)
    ├── TantivyBackend         embedded (BM25, per-project index directories), the default
    └── ElasticsearchBackend   Elasticsearch / OpenSearch (bulk, mappings, alias swaps)

Adapters are imported lazily by ``backends/loader.py``.
"""

from dbify.backends.search.base import (
    Document,
    IndexSpec,
    SearchBackend,
    SearchBackendError,
    TextHit,
)

__all__ = ["Document", "IndexSpec", "SearchBackend", "SearchBackendError", "TextHit"]
