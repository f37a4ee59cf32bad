"""Stats and log-search latency over millions of request-log events in chDB.

Generates ``--events`` synthetic events inside the engine (``INSERT … SELECT FROM
numbers(N)``: 20 projects, the last ``--days`` days, realistic status/method/table/key
mixes and a long-tailed latency), then times each query the stats API runs for one
project over the whole range, ``--repeat`` times, and prints the median and the worst.

    python bench/analytics_stats.py                  # 10 million events
    python bench/analytics_stats.py --events 1000000 --repeat 3

The queries are ``dbify.control.analytics.store.AnalyticsQueries``, unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dbify.backends.analytics.chdb_store import ChdbStore
from dbify.control.analytics.store import AnalyticsQueries

_GENERATE = """
INSERT INTO dbify.request_log
SELECT
  concat('e', toString(number)) AS event_id,
  {start_us} + intDiv(number * {span_us}, {events}) AS timestamp_us,
  concat('p', toString(number % 20)) AS project_id,
  concat('r', toString(number)) AS request_id,
  ['GET', 'GET', 'GET', 'POST', 'PATCH', 'DELETE'][number % 6 + 1] AS method,
  concat('/', target) AS path,
  ['orders', 'customers', 'books', 'authors', 'rpc/search'][intHash32(number) % 5 + 1] AS target,
  'select=id&status=eq.?' AS query_shape,
  [200, 200, 200, 200, 200, 200, 201, 204, 400, 404, 500][intHash32(number + 7) % 11 + 1] AS status,
  '' AS error_code,
  500 + (intHash32(number + 3) % 5000) + if(intHash32(number) % 100 = 0, 200000, 0) AS duration_us,
  300 + (intHash32(number + 5) % 3000) AS db_us,
  intHash32(number) % 50 AS rows,
  intHash32(number) % 20000 AS response_bytes,
  concat('k', toString(intHash32(number + 11) % 8)) AS key_id,
  'anon' AS role,
  '10.0.0.0' AS client_ip,
  'bench' AS user_agent,
  intHash32(number + 13) % 200 AS queue_us
FROM numbers({events})
"""


async def _time(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float]:
    laps = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        laps.append((time.perf_counter() - started) * 1000)
    return statistics.median(laps), max(laps)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dbify-bench-chdb-") as directory:
        store = ChdbStore(Path(directory), retention_days=None)
        end = int(time.time())
        start = end - args.days * 86_400
        started = time.perf_counter()
        await store.insert([])  # the table exists; the bulk load runs in the engine
        store._run(  # a benchmark may bypass the async wrapper
            _GENERATE.format(
                start_us=start * 1_000_000,
                span_us=args.days * 86_400 * 1_000_000,
                events=args.events,
            )
        )
        load_s = time.perf_counter() - started
        total = (await store.select("SELECT count() FROM {db}.request_log"))[0][0]
        print(f"loaded {total:,} events in {load_s:.1f} s ({total / load_s:,.0f}/s)")

        queries = AnalyticsQueries(store)
        project = "p7"  # 1/20 of the events: {events/20} in the range
        rows = await queries.logs(project, start, end + 1, {}, None, 51)
        middle = rows[25]
        cases: dict[str, Callable[[], Awaitable[Any]]] = {
            "totals + p50/p95/p99": lambda: queries.totals(project, start, end + 1),
            "series by hour": lambda: queries.series(project, start, end + 1, "hour"),
            "series by minute (last 24 h)": lambda: queries.series(
                project, end - 86_400, end + 1, "minute"
            ),
            "breakdown by status": lambda: queries.breakdown(project, start, end + 1, "status"),
            "breakdown by table": lambda: queries.breakdown(project, start, end + 1, "target"),
            "breakdown by key": lambda: queries.breakdown(project, start, end + 1, "key_id"),
            "slowest endpoints": lambda: queries.slowest(project, start, end + 1),
            "log page (newest 50)": lambda: queries.logs(project, start, end + 1, {}, None, 51),
            "log page after a cursor": lambda: queries.logs(
                project, start, end + 1, {}, (middle[1], middle[0]), 51
            ),
            "log search status=500": lambda: queries.logs(
                project, start, end + 1, {"status": 500}, None, 51
            ),
            "log search by request id": lambda: queries.logs(
                project, start, end + 1, {"request_id": middle[3]}, None, 51
            ),
            "event detail": lambda: queries.event(project, middle[0]),
        }
        figures: dict[str, dict[str, float]] = {}
        print(f"{'query':34} {'median ms':>10} {'max ms':>9}")
        for name, call in cases.items():
            median, worst = await _time(call, args.repeat)
            figures[name] = {"median_ms": round(median, 1), "max_ms": round(worst, 1)}
            print(f"{name:34} {median:10.1f} {worst:9.1f}")
        stats_page = sum(figures[n]["median_ms"] for n in list(cases)[:7] if "minute" not in n)
        print(f"whole stats page (sequential, hour buckets): {stats_page:.0f} ms")
        await store.close()
    if args.out:
        args.out.write_text(json.dumps({"events": total, "load_seconds": round(load_s, 1),
                                        "queries": figures}, indent=2))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
