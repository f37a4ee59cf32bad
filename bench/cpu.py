"""Server CPU per request: Dbify (logging on and off) against the hand-written ceiling.

On a small shared machine req/s swing with whatever else runs; CPU time spent by the
server's process tree per request moves far less, so this is the figure to judge a
change by. Each round runs every workload against every target in turn (order rotated
per round), reading utime+stime of the server and its children from /proc before and
after a wrk run, and of the server process alone (without the chDB child, whose inserts
run behind the requests). Logging on and off (``dbify`` and ``dbify-nolog``) are also
compared round by round: the ratio of each round's pair, with its quartiles.

    python bench/cpu.py [--rounds 3] [--seconds 8] [--workloads pk,filter,embed,page]
                        [--targets ceiling,dbify,dbify-nolog] [--base DIR] [--restart]

``--base DIR``: also run each Dbify target from another checkout (its ``DIR/src``, e.g. a
``git worktree`` of the previous commit), named ``…-base``: a change measured against
what it changes, in the same rounds.

``--restart``: every Dbify target is a new process each round (after the first), for
figures that do not carry one process's own speed (``_restarted``).

Uses the same database, Dbify command, ceiling and wrk scripts as ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # the harness next to this file

_TICKS = os.sysconf("SC_CLK_TCK")
_WRK = Path(__file__).resolve().parent / "wrk"
_DB_URL = "postgresql://postgres@127.0.0.1:5432/dbify_bench"
# The in-process worker's first flush (``worker_flush``: 5 s by default), and a second.
_FIRST_WRITE_SECONDS = 6.0


def _tree(pid: int) -> list[int]:
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                found += _tree(int(child))
    except FileNotFoundError:
        pass
    return found


def _cpu_seconds(pid: int) -> float:
    total = 0.0
    for process in _tree(pid):
        try:
            total += _own_cpu_seconds(process)
        except FileNotFoundError:
            continue
    return total


def _own_cpu_seconds(pid: int) -> float:
    """The process alone (utime + stime), without its children (the chDB child)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _wrk(target: run.HttpTarget, workload: str, seconds: int) -> dict[str, float]:
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(_WRK / f"{workload}.lua"),
               target.url.rstrip("/") + "/", "--", "42"]  # fmt: skip
    env = {**os.environ, "BENCH_APIKEY": target.apikey or ""}
    output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("WRKJSON "))
    return dict(json.loads(line.removeprefix("WRKJSON ")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--workloads", default="pk,filter,embed,page")
    parser.add_argument("--targets", default="ceiling,dbify,dbify-nolog")
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DB_URL", _DB_URL))
    parser.add_argument("--base", type=Path, help="another checkout to compare with")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="a fresh process of each Dbify target every round (see _restarted)",
    )
    args = parser.parse_args()
    run._ensure_fixture(args.db_url)
    out = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    wanted = args.targets.split(",")
    targets: list[run.HttpTarget] = []
    try:
        if "ceiling" in wanted:
            targets.append(run._start_ceiling(args.db_url, out))
        sources = [None] if args.base is None else [None, args.base.resolve() / "src"]
        starts: dict[str, Callable[[], run.HttpTarget | None]] = {}
        for name, logging in (("dbify", True), ("dbify-nolog", False)):
            for source in sources if name in wanted else []:
                start = functools.partial(
                    run._start_dbify,
                    run.DEFAULT_DBIFY_CMD, args.db_url, out, logging=logging, source=source,
                )  # fmt: skip
                started = start()
                if started is not None:
                    targets.append(_settled(started))
                    starts[started.name] = start
        if not targets:
            sys.exit("no target started (is `dbify` on PATH? see the lines above)")
        workloads = args.workloads.split(",")
        for target in targets:
            run._probe(target, workloads)
        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for round_no in range(args.rounds):
            for index, target in enumerate(targets if args.restart and round_no else []):
                targets[index] = _restarted(target, starts)  # in place: `finally` stops it
            for workload in workloads:
                shift = round_no % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    _wrk(target, workload, 1)  # warm-up, discarded
                    pid = target.process.pid
                    before, own_before = _cpu_seconds(pid), _own_cpu_seconds(pid)
                    measured = _wrk(target, workload, args.seconds)
                    spent = _cpu_seconds(pid) - before
                    own = _own_cpu_seconds(pid) - own_before
                    per_request = spent * 1e6 / measured["requests"]
                    own_per_request = own * 1e6 / measured["requests"]
                    rate = measured["requests"] / (measured["duration_us"] / 1e6)
                    results.setdefault((workload, target.name), []).append(
                        (per_request, rate, own_per_request)
                    )
                    print(f"round {round_no} {workload:6} {target.name:12} "
                          f"{per_request:7.1f} µs/req (server process {own_per_request:6.1f}) "
                          f"{rate:8.0f} req/s", flush=True)  # fmt: skip
        header = "CPU µs/request (median) | of it the server process | req/s (median)"
        print(f"\n| workload | target | {header} |")
        print("|---|---|---:|---:|---:|")
        for (workload, name), values in sorted(results.items()):
            cpu = statistics.median(v[0] for v in values)
            own = statistics.median(v[2] for v in values)
            rate = statistics.median(v[1] for v in values)
            print(f"| {workload} | {name} | {cpu:.1f} | {own:.1f} | {rate:.0f} |")
        _paired(results)
    finally:
        for target in targets:
            run._stop(target.process)


def _restarted(
    target: run.HttpTarget, starts: dict[str, Callable[[], run.HttpTarget | None]]
) -> run.HttpTarget:
    """``target`` stopped and started again, when it is Dbify's. One server process keeps
    its own speed: fresh processes of the same code differed by up to ~4 µs of CPU a pk
    read (~5 %) and kept that difference over every round, as large as what logging
    costs; a new process each round turns that bias into spread the rounds' median
    averages out."""
    start = starts.get(target.name)
    if start is None:
        return target
    run._stop(target.process)
    fresh = start()
    if fresh is None:
        sys.exit(f"{target.name} did not start again")
    return _settled(fresh)


def _settled(target: run.HttpTarget) -> run.HttpTarget:
    """``target`` after a second of requests and the in-process worker's first write: a
    new chDB child's first insert imports pandas (~0.6 s of CPU, once), which belongs in
    no measured window."""
    _wrk(target, "pk", 1)
    time.sleep(_FIRST_WRITE_SECONDS)
    return target


def _paired(results: dict[tuple[str, str], list[tuple[float, float, float]]]) -> None:
    """Logging on ÷ off per round (the two ran back to back): this VM's speed drifts by
    ±15 % over minutes, and a ratio of medians taken minutes apart carries that drift;
    the ratios of each round's pair, and their spread, carry less of it."""
    for (workload, name), values in sorted(results.items()):
        off_name = name.replace("dbify", "dbify-nolog", 1)
        off = results.get((workload, off_name))
        if not name.startswith("dbify") or "nolog" in name or off is None:
            continue
        rates = [on[1] / base[1] for on, base in zip(values, off, strict=False)]
        cpus = [base[0] / on[0] for on, base in zip(values, off, strict=False)]
        low, _, high = statistics.quantiles(rates, n=4) if len(rates) > 1 else (rates * 3)
        print(
            f"{workload} {name} ÷ {off_name}, per round: req/s ratio median "
            f"{statistics.median(rates):.3f} (quartiles {low:.3f} to {high:.3f}), "
            f"CPU per request off ÷ on median {statistics.median(cpus):.3f}"
        )


if __name__ == "__main__":
    main()
