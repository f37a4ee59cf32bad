"""CPU per event of all-in-one ingestion: the chDB store's insert of what the in-process
worker hands it (entries messages of 500 recorder tuples, ``--events`` per write).

In ``dbify serve`` this runs in the chDB child, on the core the server shares with
PostgreSQL and the clients, so its cost shows in the data API's throughput with logging
on. Timed here alone: CPU of all the process's threads (``time.process_time``) per event,
for the whole write and for its steps, over ``--repeat`` writes (median, best).

    python bench/ingest.py [--events 35000] [--repeat 7]
    PYTHONPATH=/tmp/base/src python bench/ingest.py     # another checkout, to compare
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbify.analytics.event import encode_entries, entries_of, entry_columns
from dbify.backends.analytics.chdb_store import ChdbStore

_MESSAGE = 500  # events per queue message: the publisher's default batch_size


def _entries(first: int, count: int, rng: random.Random) -> list[tuple[Any, ...]]:
    """Recorder tuples (``event.ENTRY_FIELDS``) of a pk-read benchmark's requests."""
    return [
        (f"0123456789ab{n:010x}", 1_764_400_000_000_000 + n * 100, "6ef869789645a478",
         f"0123456789ab{n:010x}", "GET", "/books", "id=eq.", 200, "",
         80_000 + rng.randint(0, 9_999), 30_000 + rng.randint(0, 9_999),
         2_000 + rng.randint(0, 999), b"", 120 + rng.randint(0, 50), "0f1e2d3c4b5a", "service",
         "127.0.0.0", "wrk/4.2")
        for n in range(first, first + count)
    ]  # fmt: skip


def _cpu_us(run: Callable[[], object], events: int) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) / events * 1e6


def _timed_write(store: ChdbStore, entries: list[tuple[Any, ...]]) -> dict[str, float]:
    """CPU µs an event of one write of ``entries``, whole and of its first steps."""
    bodies = [encode_entries(entries[i : i + _MESSAGE]) for i in range(0, len(entries), _MESSAGE)]
    decoded: list[tuple[Any, ...]] = []

    def decode() -> None:
        for body in bodies:
            decoded.extend(entries_of(body, trusted=True) or [])

    count = len(entries)
    return {
        "decode (marshal)": _cpu_us(decode, count),
        "columns": _cpu_us(lambda: entry_columns(decoded), count),
        "whole write": _cpu_us(
            lambda: asyncio.run(store.insert_json_batches(bodies, trusted=True)), count
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=35_000, help="events per write")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(42)
    steps: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        store = ChdbStore(Path(directory))
        for round_ in range(args.repeat):
            entries = _entries(round_ * args.events, args.events, rng)
            for step, value in _timed_write(store, entries).items():
                steps.setdefault(step, []).append(value)
        asyncio.run(store.close())
    print(f"{args.events} events a write, {args.repeat} writes: CPU µs an event")
    for step, values in steps.items():
        print(f"  {step:18s} median {statistics.median(values):5.2f}  best {min(values):5.2f}")


if __name__ == "__main__":
    main()
