"""Vector stores for semantic search: nearest rows to a query vector by cosine.

    VectorStore (Protocol)
    ├── LanceVectorStore   embedded LanceDB tables under the data dir, the default
    └── PgVectorStore      pgvector in a Dbify-owned PostgreSQL (DBIFY_SEARCH__PGVECTOR_URL)

A Qdrant adapter would fit the same methods (not written yet).
"""

from dbify.backends.vectors.base import VectorHit, VectorStore, VectorStoreError

__all__ = ["VectorHit", "VectorStore", "VectorStoreError"]
