"""Vector stores for semantic search: nearest rows to a query vector by cosine.

    VectorStore (Protocol)
    └── LanceVectorStore   embedded LanceDB tables under the data dir, the default

A pgvector or Qdrant adapter fits the same methods (not written yet).
"""

from dbify.backends.vectors.base import VectorHit, VectorStore, VectorStoreError

__all__ = ["VectorHit", "VectorStore", "VectorStoreError"]
