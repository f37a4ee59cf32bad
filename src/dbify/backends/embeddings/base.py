"""What an embedder must do; adapters live next to this module."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

__all__ = ["Embedder", "EmbeddingError", "normalise"]


class EmbeddingError(Exception):
    """The model or endpoint failed, translated at the adapter boundary."""


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Identifies the model: vectors of different models are never compared."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order (cosine = dot product)."""


def normalise(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a zero vector stays zero).

    >>> normalise([3.0, 4.0])
    [0.6, 0.8]
    """
    length = math.sqrt(sum(v * v for v in vector))
    return [float(v) / length for v in vector] if length else [float(v) for v in vector]
