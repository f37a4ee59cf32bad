"""Search benchmark (issue 9): indexing rate and query latency on ~50k rows.

    python bench/search.py [--rows 50000] [--queries 200] [--embedder minilm|stub|none]

Creates a throwaway database on the local PostgreSQL (``--server-url``) with an
``articles`` table of generated text, starts a real ``dbify serve`` on it (embedded
tantivy + LanceDB; MiniLM embeddings from the ``semantic`` extra, or ``stub``: a local
OpenAI-compatible endpoint hashing words, to time Dbify without a model), makes a
search index through the management API and times its backfill (rows/s, text and
vectors), then times ``GET /p/{id}/search/v1/articles`` one request at a time for
``mode=text``, ``semantic`` and ``hybrid`` (p50/p95 in ms, end to end: ranking plus
the re-read of the hits with the caller's role). Prints a Markdown table; writes
``bench/results/search-<time>.json``. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fixtures.server import admin_token, start_server, stop_server

_WORDS = [
    "car",
    "engine",
    "repair",
    "garden",
    "rose",
    "soil",
    "recipe",
    "bread",
    "oven",
    "flour",
    "river",
    "boat",
    "sail",
    "storm",
    "mountain",
    "trail",
    "hike",
    "camera",
    "lens",
    "light",
    "music",
    "guitar",
    "chord",
    "piano",
    "violin",
    "history",
    "empire",
    "war",
    "peace",
    "market",
    "price",
    "trade",
    "coffee",
    "tea",
    "cup",
    "school",
    "teacher",
    "lesson",
    "child",
    "doctor",
    "health",
    "fever",
    "medicine",
    "planet",
    "star",
    "orbit",
    "rocket",
    "code",
    "bug",
    "server",
    "database",
    "football",
    "goal",
    "team",
    "match",
    "winter",
    "snow",
    "ice",
    "summer",
    "beach",
    "sun",
    "island",
    "forest",
    "tree",
]
_QUERIES = [
    "fixing a broken car engine", "growing roses in the garden", "baking bread at home",
    "sailing in a storm", "hiking mountain trails", "learning to play guitar",
    "treating a fever", "launching a rocket into orbit", "debugging server code",
    "winter snow and ice", "coffee market prices", "a teacher and her lesson",
]  # fmt: skip


class _StubEmbeddings(BaseHTTPRequestHandler):
    """An OpenAI-compatible ``/v1/embeddings`` stand-in: 384-dim bag-of-hashed-words
    vectors (no model: measures Dbify's pipeline, not a model's speed)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        data = []
        for i, text in enumerate(body["input"]):
            vector = [0.0] * 384
            for word in str(text).lower().split():
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 384] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            data.append({"index": i, "embedding": [v / norm for v in vector]})
        answer = json.dumps({"data": data, "model": body.get("model", "stub")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def _stub_server() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubEmbeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _make_database(server_url: str, rows: int) -> str:
    name = f"dbify_bench_search_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    words = "ARRAY[" + ",".join(f"'{w}'" for w in _WORDS) + "]"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE articles (id bigint PRIMARY KEY, title text, body text)")
        db.execute(
            f"""INSERT INTO articles
            SELECT i,
              (SELECT string_agg(({words})[1 + floor(random() * {len(_WORDS)})::int], ' ')
                 FROM generate_series(1, 4 + (i % 3))),
              (SELECT string_agg(({words})[1 + floor(random() * {len(_WORDS)})::int], ' ')
                 FROM generate_series(1, 25 + (i % 10)))
            FROM generate_series(1, {rows}) AS i"""
        )
    return url


def _drop_database(server_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _build(api: httpx.Client, body: dict[str, object]) -> tuple[dict[str, object], float]:
    started = time.perf_counter()
    made = api.post("/search-indexes?wait=true", json=body, timeout=3600)
    made.raise_for_status()
    return made.json(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--embedder", choices=["minilm", "stub", "none"], default="minilm")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    url = _make_database(args.server_url, args.rows)
    env = {"DBIFY_SEARCH__SYNC_INTERVAL_SECONDS": "3600", "DBIFY_ANALYTICS__ENABLED": "false"}
    if args.embedder == "minilm":
        env["DBIFY_SEARCH__EMBEDDER"] = "minilm"
    elif args.embedder == "stub":
        env |= {"DBIFY_SEARCH__EMBEDDER": "openai", "DBIFY_SEARCH__EMBEDDING_URL": _stub_server()}
    server = start_server(url, env=env)
    results: dict[str, object] = {"rows": args.rows, "embedder": args.embedder}
    try:
        auth = {"authorization": f"Bearer {admin_token(server)}"}
        project = f"{server.base_url}/api/v1/projects/{server.id}"
        with (
            httpx.Client(base_url=project, headers=auth) as api,
            httpx.Client(
                base_url=f"{server.base_url}/p/{server.id}/search/v1",
                headers={"apikey": server.service_key},
                timeout=60,
            ) as search,
        ):
            columns = {"title": 2.0, "body": 1.0}
            text_index, text_seconds = _build(api, {"table": "articles", "text_columns": columns})
            results["text_index_rows_per_second"] = round(args.rows / text_seconds)
            modes = ["text"]
            if args.embedder != "none":
                api.delete(f"/search-indexes/{text_index['id']}").raise_for_status()
                body = {"table": "articles", "text_columns": columns, "semantic": True}
                _, both_seconds = _build(api, body)
                results["text_and_vector_index_rows_per_second"] = round(args.rows / both_seconds)
                modes += ["semantic", "hybrid"]
            rng = random.Random(7)
            for mode in modes:
                latencies: list[float] = []
                for _ in range(args.queries):
                    query = rng.choice(_QUERIES)
                    started = time.perf_counter()
                    found = search.get("/articles", params={"q": query, "mode": mode})
                    latencies.append((time.perf_counter() - started) * 1000)
                    found.raise_for_status()
                    assert found.json()["items"], f"no hit for {query!r} ({mode})"
                results[f"{mode}_p50_ms"] = round(statistics.median(latencies), 1)
                results[f"{mode}_p95_ms"] = round(_percentile(latencies, 0.95), 1)
    finally:
        stop_server(server)
        _drop_database(args.server_url, url)

    out = Path(__file__).parent / "results" / f"search-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("| measure | value |\n| --- | --- |")
    for key, value in results.items():
        print(f"| {key} | {value} |")
    print(f"\n(written to {out})")


if __name__ == "__main__":
    main()
