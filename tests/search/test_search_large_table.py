"""Search end to end on a 50,000-row table, in a real ``dbify serve`` (issue 9's "done
when"): the backfill followed by ``dbify search create`` with its progress bar while
the management API reports the same progress, quality checks (ranking by weighted
columns, highlights, typos, filters, pagination, semantic and hybrid), writes through
the data API pushed into the index, writes made directly in the database caught up by
the periodic sync (inserts, updates, deletes), and a restricted role never finding a
row that RLS hides from it.

Embeddings come from the local OpenAI-compatible server of the embedder contract
(deterministic concept vectors): the real model's sense of meaning is proven on small
data in ``test_search_api``; this test is about Dbify's pipeline at scale.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from tests.contracts.test_embedder import embedding_server  # noqa: F401 - a fixture
from tests.fixtures.server import RunningServer, admin_token, start_server, stop_server

ROWS = 50_000
_PUSH_SECONDS = 10
_CATEGORIES = ["cars", "gardens", "physics", "cooking", "music"]
# Every row has a topic sentence (its category's words) and a numbered body. Twenty rows
# of all categories mention zeppelins: ten in the title (every 4,999th row: "Zeppelin
# voyage 4999", … 49990) and ten in the body (rows 2000, 6999, … 46991); the title
# weighs 3 and the body 1, so title mentions must rank first.
_CREATE = f"""
CREATE TABLE articles (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text NOT NULL,
  body text,
  category text NOT NULL
);
INSERT INTO articles (title, body, category)
SELECT
  CASE WHEN n % 4999 = 0 THEN 'Zeppelin voyage ' || n ELSE
    (ARRAY['Fixing car engines', 'Growing roses and flowers', 'Quantum atoms explained',
           'Baking sourdough loaves', 'Guitar chords for songs'])[n % 5 + 1] || ' ' || n END,
  'Article number ' || n || CASE WHEN n % 4999 = 2000 THEN ' about a zeppelin' ELSE '' END,
  (ARRAY{_CATEGORIES!r})[n % 5 + 1]
FROM generate_series(1, {ROWS}) AS n;
"""


@pytest.fixture
def large_server(
    make_database: Callable[..., str],
    embedding_server: str,  # noqa: F811
) -> Iterator[tuple[RunningServer, str]]:
    url = make_database("fixture.sql")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(_CREATE)
    env = {
        "DBIFY_SEARCH__EMBEDDER": "openai",
        "DBIFY_SEARCH__EMBEDDING_URL": embedding_server,
        "DBIFY_SEARCH__EMBEDDING_MODEL": "concepts",
        "DBIFY_SEARCH__EMBEDDING_API_KEY": "sk-test",
        # Direct database writes are left to this catch-up (no refresh is asked for).
        "DBIFY_SEARCH__SYNC_INTERVAL_SECONDS": "2",
    }
    server = start_server(url, env=env)
    yield server, url
    stop_server(server)


def _eventually(check: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


def test_fifty_thousand_rows_backfill_quality_sync_and_permissions(
    large_server: tuple[RunningServer, str],
) -> None:
    server, url = large_server
    token = admin_token(server)
    base = server.base_url
    service = {"apikey": server.service_key}
    role = f"cars_only_{uuid.uuid4().hex[:8]}"
    with (
        httpx.Client(
            base_url=f"{base}/api/v1/projects/{server.id}",
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        ) as api,
        httpx.Client(base_url=f"{base}/p/{server.id}/search/v1", timeout=30) as search,
        httpx.Client(base_url=server.rest_url, headers=service, timeout=30) as rest,
        psycopg.connect(url, autocommit=True) as connection,
    ):

        def hits(params: dict[str, str], headers: dict[str, str] = service) -> dict[str, Any]:
            found = search.get("/articles", params=params, headers=headers)
            assert found.status_code == 200, found.text
            answer: dict[str, Any] = found.json()
            return answer

        def titles(query: str, **more: str) -> list[str]:
            items = hits({"q": query, "limit": "50", **more})["items"]
            return [i["row"]["title"] for i in items]

        # -- backfill: the CLI follows it with a progress bar; the API shows the same.
        started = time.monotonic()
        cli = subprocess.Popen(
            [sys.executable, "-m", "dbify", "search", "create", server.id, "articles",
             "--text", "title:3", "--text", "body", "--semantic"],
            env={**os.environ, "DBIFY_API_URL": f"{base}/api/v1", "DBIFY_TOKEN": token},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        seen: list[dict[str, Any]] = []
        while cli.poll() is None:
            listed = api.get("/search-indexes").json()
            if listed and listed[0]["progress"]:
                seen.append(listed[0]["progress"])
            time.sleep(0.2)
        out, err = cli.communicate()
        backfill_seconds = time.monotonic() - started
        assert cli.returncode == 0, err.decode()
        index = orjson.loads(out)
        assert (index["state"], index["rows_indexed"], index["last_error"]) == (
            "ready", ROWS, None)  # fmt: skip
        # Text and vectors: each row is read twice, so the total is 2 x 50,000.
        assert seen, "no progress reported while building"
        assert {p["rows_total"] for p in seen} == {2 * ROWS}
        done = [p["rows_done"] for p in seen]
        assert done == sorted(done)
        assert len(set(done)) > 1, f"progress never moved: {done}"
        bar = err.decode()
        assert "/100,000 rows" in bar, bar
        assert " %" in bar, bar
        assert "ready: 50,000 rows indexed" in bar, bar

        # -- quality: weighted ranking, highlights, typos, filters, pagination.
        zeppelins = hits({"q": "zeppelin", "limit": "50"})
        rows = [i["row"] for i in zeppelins["items"]]
        assert len(rows) == 20  # 10 in titles, 10 in bodies
        assert all(r["title"].startswith("Zeppelin voyage") for r in rows[:10])
        assert all("zeppelin" in r["body"] for r in rows[10:])
        assert zeppelins["items"][0]["highlights"]["title"].startswith("<b>Zeppelin</b>")
        assert len(titles("zepelin")) == 20  # one letter missing
        assert set(titles("zeppelin", category="eq.cars")) == {
            r["title"] for r in rows if r["category"] == "cars"
        }
        first = hits({"q": "zeppelin", "limit": "8"})
        second = hits({"q": "zeppelin", "limit": "8", "offset": "8"})
        assert first["has_more"] is True
        ids = [i["row"]["id"] for i in first["items"] + second["items"]]
        assert ids == [r["id"] for r in rows[:16]]
        # Meaning (concept vectors): "automobile repair" shares no word with "Fixing car
        # engines", yet every top hit is a car article; hybrid keeps the exact matches.
        semantic = hits({"q": "automobile repair", "mode": "semantic", "limit": "10"})
        assert {i["row"]["category"] for i in semantic["items"]} == {"cars"}
        # Hybrid fuses both: "automobile" matches no word (vectors bring car articles),
        # "zeppelin" no concept (BM25 brings the zeppelin ones).
        hybrid = hits({"q": "automobile zeppelin", "mode": "hybrid", "limit": "20"})["items"]
        assert any("Zeppelin" in i["row"]["title"] for i in hybrid[:4])
        assert any(i["row"]["title"].startswith("Fixing car") for i in hybrid[:4])

        latencies = []
        for word in ["zeppelin", "roses", "quantum", "sourdough", "guitar"] * 4:
            began = time.perf_counter()
            hits({"q": word, "limit": "10"})
            latencies.append((time.perf_counter() - began) * 1000)
        print(
            f"\n50k rows: backfill (text + vectors) {backfill_seconds:.1f} s "
            f"({ROWS / backfill_seconds:,.0f} rows/s); text search p50 "
            f"{statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms"
        )

        # -- writes through the data API are pushed (the catch-up would find them too).
        # Within a second on a quiet machine; the deadline leaves room for a loaded CI
        # machine, where a sync pass over the 50k keys can hold the index for seconds.
        posted = rest.post(
            "/articles",
            json={"title": "Zeppelin airship museum", "body": "new", "category": "cars"},
        )
        assert posted.status_code == 201, posted.text
        _eventually(
            lambda: "Zeppelin airship museum" in titles("airship"), _PUSH_SECONDS, "API insert"
        )
        patched = rest.patch(
            "/articles", params={"title": "eq.Zeppelin voyage 4999"},
            json={"title": "Dirigible voyage 4999"},
        )  # fmt: skip
        assert patched.status_code == 204, patched.text
        _eventually(
            lambda: titles("dirigible") == ["Dirigible voyage 4999"], _PUSH_SECONDS, "API update"
        )
        deleted = rest.delete("/articles", params={"title": "eq.Zeppelin voyage 9998"})
        assert deleted.status_code == 204, deleted.text
        _eventually(
            lambda: "Zeppelin voyage 9998" not in titles("voyage"), _PUSH_SECONDS, "API delete"
        )

        # -- writes made directly in the database: the periodic sync (2 s) catches up.
        connection.execute(
            "INSERT INTO articles (title, body, category) "
            "VALUES ('Blimp flights over cities', 'direct', 'music')"
        )
        connection.execute(
            "UPDATE articles SET title = 'Hovercraft voyage 14997' "
            "WHERE title = 'Zeppelin voyage 14997'"
        )
        connection.execute("DELETE FROM articles WHERE title = 'Zeppelin voyage 19996'")
        _eventually(
            lambda: (
                titles("blimp") == ["Blimp flights over cities"]
                and titles("hovercraft") == ["Hovercraft voyage 14997"]
                and "Zeppelin voyage 19996" not in titles("zeppelin")
            ),
            15,
            "direct insert, update and delete",
        )

        # 50,000 + 2 inserted - 2 deleted (the API delete and the direct one). The sync
        # pass records its status just after the index changed, so the count may lag the
        # search results by a moment.
        def indexed() -> tuple[str, int, str | None]:
            status = api.get(f"/search-indexes/{index['id']}").json()
            return status["state"], status["rows_indexed"], status["last_error"]

        _eventually(lambda: indexed() == ("ready", ROWS, None), 5, "status after the sync")
        assert 0 <= api.get(f"/search-indexes/{index['id']}").json()["lag_seconds"] < 10

        # -- permissions: a role that RLS limits to car articles finds only those.
        try:
            connection.execute(f"CREATE ROLE {role} NOLOGIN")
            connection.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            connection.execute(f"GRANT SELECT ON articles TO {role}")
            connection.execute(f"GRANT {role} TO CURRENT_USER")
            connection.execute("ALTER TABLE articles ENABLE ROW LEVEL SECURITY")
            connection.execute(
                f"CREATE POLICY cars_only ON articles FOR SELECT TO {role} "
                "USING (category = 'cars')"
            )
            key = api.post("/keys", json={"name": "cars", "role": role})
            assert key.status_code == 201, key.text
            limited = {"apikey": key.json()["key"]}
            everything = hits({"q": "zeppelin", "limit": "50"})["items"]
            mine = hits({"q": "zeppelin", "limit": "50"}, limited)["items"]
            assert mine, "the restricted role should still find its own rows"
            assert {i["row"]["category"] for i in mine} == {"cars"}
            assert {i["row"]["id"] for i in mine} == {
                i["row"]["id"] for i in everything if i["row"]["category"] == "cars"
            }
            semantic_mine = hits({"q": "roses flowers", "mode": "semantic"}, limited)["items"]
            assert {i["row"]["category"] for i in semantic_mine} <= {"cars"}
        finally:
            connection.execute("ALTER TABLE articles DISABLE ROW LEVEL SECURITY")
            connection.execute("DROP POLICY IF EXISTS cars_only ON articles")
            connection.execute(f"DROP OWNED BY {role}")
            connection.execute(f"DROP ROLE IF EXISTS {role}")
