"""Any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint (OpenAI, vLLM, Ollama,
LocalAI, text-embeddings-inference…).

Uses only the standard library (the request runs in a worker thread), so it works
without the ``semantic`` extra. Inputs go in batches; vectors are normalised here
because not every server returns unit vectors.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Sequence

from dbify.backends.embeddings.base import EmbeddingError, normalise

__all__ = ["OpenAiEmbedder"]

_BATCH = 128


class OpenAiEmbedder:
    def __init__(
        self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 30.0
    ) -> None:
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._api_key = api_key
        self._timeout = timeout

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    def _post(self, texts: list[str]) -> list[list[float]]:
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        body = json.dumps({"model": self._model, "input": texts}).encode()
        request = urllib.request.Request(self._url, body, headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                answer = json.loads(response.read())
            items = sorted(answer["data"], key=lambda item: item["index"])
            vectors = [normalise(item["embedding"]) for item in items]
        except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError) as error:
            raise EmbeddingError(f"embedding endpoint {self._url} failed: {error}") from error
        if len(vectors) != len(texts):
            raise EmbeddingError(f"embedding endpoint returned {len(vectors)} of {len(texts)}")
        return vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            vectors += await asyncio.to_thread(self._post, list(texts[start : start + _BATCH]))
        return vectors
