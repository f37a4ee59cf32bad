"""Dbify's benchmark: Dbify vs the Python ceiling vs the database's own limit, one run.

In one run on one machine it loads the benchmark database (``fixture.sql``: 10k authors,
100k books) if missing, starts Dbify (``dbify serve --database-url URL --port P --json``)
and the hand-written ceiling (``ceiling.py`` under uvicorn), and for each workload
measures every target in turn: the HTTP ones with wrk (``wrk/*.lua``, random ids), the
database with ``pgbench -M prepared`` running the same SQL (``pgbench/*.sql``). It prints
req/s, p50/p99 and the ratios Dbify/ceiling and Dbify/pgbench as a markdown table and
writes it to ``bench/results/<stamp>/summary.md`` (with ``results.json`` and server logs).

Ratios taken in the same run are the figures to quote: on a small shared machine the
absolute req/s move from run to run. Needs wrk, pgbench and psql on PATH.

    python bench/run.py [--duration 5 --warmup 2 --connections 32 --threads 2 --rounds 1]
                        [--targets dbify,ceiling,pgbench] [--workloads pk,filter,embed,page]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

BENCH = Path(__file__).resolve().parent
WORKLOADS: dict[str, tuple[str, str | None]] = {
    "pk": ("GET /books?id=eq.N", "/books?id=eq.1"),
    "filter": (
        "GET /books?author_id=eq.N&order=published_at.desc&limit=20",
        "/books?author_id=eq.1&order=published_at.desc&limit=20",
    ),
    "embed": (
        "GET /authors?id=eq.N&select=id,name,books(id,title)",
        "/authors?id=eq.1&select=id,name,books(id,title)",
    ),
    "page": ("GET /books?limit=1000&offset=N", "/books?limit=1000&offset=0"),
    "insert": ("POST /books (one row, return=minimal)", None),
    "bulk": ("POST /books (1,000 rows, return=minimal)", None),
    "update": ("PATCH /books?id=eq.N (return=minimal)", None),
}
# Writes grow books (inserts are never deleted).
WRITES = frozenset(("insert", "bulk", "update"))
READS = [name for name in WORKLOADS if name not in WRITES]
DEFAULT_DBIFY_CMD = "dbify serve --database-url {db_url} --port {port} --json"


@dataclass(frozen=True)
class Measure:
    workload: str
    target: str
    round: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class HttpTarget:
    name: str
    url: str  # the REST root, e.g. http://127.0.0.1:3000/p/<id>/rest/v1
    apikey: str | None
    process: subprocess.Popen[bytes]


def main() -> int:
    args = _parse_args()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or BENCH / "results" / stamp)
    out.mkdir(parents=True, exist_ok=True)
    targets = args.targets.split(",")
    workloads = args.workloads.split(",")
    _ensure_fixture(args.db_url)

    http: list[HttpTarget] = []
    try:
        if "ceiling" in targets:
            http.append(_start_ceiling(args.db_url, out))
        if "dbify-nolog" in targets:  # request logging off: its overhead, same round
            quiet = _start_dbify(args.dbify_cmd, args.db_url, out, logging=False)
            if quiet is None:
                targets.remove("dbify-nolog")
            else:
                http.insert(0, quiet)
        if "dbify" in targets:
            dbify = _start_dbify(args.dbify_cmd, args.db_url, out)
            if dbify is None:
                targets.remove("dbify")
            else:
                http.insert(0, dbify)
        for target in http:
            _probe(target, workloads)
        measures = _measure_all(args, workloads, targets, http)
    finally:
        for target in http:
            _stop(target.process)

    summary = _summary(args, measures, workloads, targets)
    print(summary)
    (out / "summary.md").write_text(summary)
    (out / "results.json").write_text(json.dumps([asdict(m) for m in measures], indent=1))
    print(f"\nwritten to {out}")
    return 1 if any(m.errors for m in measures) else 0


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db-url",
        default=os.environ.get("BENCH_DB_URL", "postgresql://postgres@127.0.0.1:5432/dbify_bench"),
    )
    parser.add_argument("--duration", type=int, default=5, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=2, help="discarded seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--targets", default="dbify,ceiling,pgbench")
    parser.add_argument(
        "--workloads",
        default=",".join(READS),
        help=f"comma-separated, of {','.join(WORKLOADS)} (writes are opt-in)",
    )
    parser.add_argument(
        "--dbify-cmd",
        default=DEFAULT_DBIFY_CMD,
        help="command starting Dbify; {db_url} and {port} are substituted; it must print "
        '{"rest_url", "service_key", ...} as its first stdout line',
    )
    parser.add_argument("--out", help="results directory (default bench/results/<stamp>)")
    return parser.parse_args()


def _ensure_fixture(db_url: str) -> None:
    """Create the database and load fixture.sql unless its 100k books are there."""
    check = subprocess.run(
        ["psql", db_url, "-Atc", "SELECT count(*) FROM books"], capture_output=True, text=True
    )
    if check.returncode == 0 and check.stdout.strip() == "100000":
        return
    base, _, name = db_url.rpartition("/")
    subprocess.run(["psql", f"{base}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=False)
    print(f"loading fixture.sql into {name} ...", flush=True)
    subprocess.run(["psql", db_url, "-q", "-f", str(BENCH / "fixture.sql")], check=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Own session: stopping the target stops its workers and children too.
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        env={**os.environ, **env},
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _start_ceiling(db_url: str, out: Path) -> HttpTarget:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "ceiling:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop"]
    command += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
    process = _spawn(command, out / "ceiling.log", {"DATABASE_URL": db_url})
    target = HttpTarget("ceiling", f"http://127.0.0.1:{port}", None, process)
    _wait_ready(target, "/books?id=eq.1")
    return target


def _start_dbify(
    template: str,
    db_url: str,
    out: Path,
    *,
    logging: bool = True,
    source: Path | None = None,
) -> HttpTarget | None:
    """Start Dbify and read its JSON line; None (target skipped) if it cannot start.

    Each instance gets its own data directory; ``logging=False`` is the ``dbify-nolog``
    target (``DBIFY_ANALYTICS__ENABLED=false``), for the request-logging overhead.
    ``source``: another checkout's ``src`` directory to run instead of the installed
    package (``bench/cpu.py --base``); the target's name gets ``-base``."""
    name = ("dbify" if logging else "dbify-nolog") + ("-base" if source else "")
    port = _free_port()
    command = shlex.split(template.replace("{db_url}", db_url).replace("{port}", str(port)))
    if source is not None and command[0] == "dbify":
        command = [sys.executable, "-m", "dbify", *command[1:]]
    env = {
        "DBIFY_DATA_DIR": tempfile.mkdtemp(prefix=f"bench-{name}-"),
        "DBIFY_ANALYTICS__ENABLED": "true" if logging else "false",
        **({"PYTHONPATH": str(source)} if source is not None else {}),
    }
    try:
        process = _spawn(command, out / f"{name}.log", env)
    except OSError as error:
        print(f"[dbify skipped] cannot run {command[0]!r}: {error}")
        return None
    assert process.stdout is not None
    line = _read_line(process.stdout, timeout=60)
    try:
        info = json.loads(line)
        target = HttpTarget(name, info["rest_url"].rstrip("/"), info["service_key"], process)
    except (ValueError, KeyError, TypeError):
        _stop(process)
        log = (out / "dbify.log").read_text(errors="replace")[-600:]
        print(f"[dbify skipped] no JSON line from `{' '.join(command)}`: {line!r}\n{log}")
        return None
    _wait_ready(target, "/books?id=eq.1")
    return target


def _read_line(stream: IO[bytes], timeout: float) -> str:
    """The first line of ``stream``, or '' if none comes in ``timeout`` seconds."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stream.readline().decode(errors="replace").strip()


def _get(target: HttpTarget, path: str) -> tuple[int, bytes]:
    key = target.apikey
    headers = {"apikey": key, "Authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(target.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_ready(target: HttpTarget, path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.process.poll() is not None:
            raise SystemExit(f"{target.name} exited with {target.process.returncode}")
        try:
            if _get(target, path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{target.name} not ready after {timeout}s")


def _probe(target: HttpTarget, workloads: list[str]) -> None:
    """Each workload answers 200 with a non-empty JSON array, or the run stops."""
    for workload in workloads:
        path = WORKLOADS[workload][1]
        if path is None:
            continue  # a write: checked by wrk's status errors
        status, body = _get(target, path)
        rows = json.loads(body) if status == 200 else None
        if not (isinstance(rows, list) and rows):
            raise SystemExit(f"[probe] {target.name} {workload}: {status} {body[:300]!r}")


def _measure_all(
    args: argparse.Namespace, workloads: list[str], targets: list[str], http: list[HttpTarget]
) -> list[Measure]:
    by_name = {target.name: target for target in http}
    order = [name for name in targets if name in by_name or name == "pgbench"]
    measures = []
    for round_number in range(1, args.rounds + 1):
        for workload in workloads:
            # Rotate the order each round so slow drifts hit every target alike.
            shift = (round_number - 1) % len(order)
            for name in order[shift:] + order[:shift]:
                if name == "pgbench":
                    measure = _run_pgbench(args, workload, round_number)
                else:
                    measure = _run_wrk(args, workload, by_name[name], round_number)
                print(
                    f"round {round_number} {workload:7} {name:8} "
                    f"{measure.requests_per_second:9.0f} req/s  p50 {measure.p50_ms:6.2f} ms"
                    f"  p99 {measure.p99_ms:7.2f} ms  errors {measure.errors}",
                    flush=True,
                )
                measures.append(measure)
    return measures


def _wrk(args: argparse.Namespace, workload: str, target: HttpTarget, seconds: int) -> str:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    command += ["--latency", "-s", str(BENCH / "wrk" / f"{workload}.lua"), target.url + "/"]
    command += ["--", str(args.seed)]
    env = {**os.environ, "BENCH_APIKEY": target.apikey or ""}
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout


def _run_wrk(
    args: argparse.Namespace, workload: str, target: HttpTarget, round_number: int
) -> Measure:
    if args.warmup:
        _wrk(args, workload, target, args.warmup)
    output = _wrk(args, workload, target, args.duration)
    line = next(x for x in output.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    return Measure(
        workload,
        target.name,
        round_number,
        data["requests"] / (data["duration_us"] / 1e6),
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["errors"],
    )


def _run_pgbench(args: argparse.Namespace, workload: str, round_number: int) -> Measure:
    script = str(BENCH / "pgbench" / f"{workload}.sql")
    base = ["pgbench", "-n", "-M", "prepared", "-c", str(args.connections)]
    base += ["-j", str(args.threads), "-f", script, f"--random-seed={args.seed + round_number}"]
    if args.warmup:
        subprocess.run([*base, "-T", str(args.warmup), args.db_url], capture_output=True)
    with tempfile.TemporaryDirectory() as logs:
        run = subprocess.run(
            [*base, "-T", str(args.duration), "-l", "--log-prefix", f"{logs}/tx", args.db_url],
            capture_output=True,
            text=True,
        )
        # Per-transaction log: "client tx latency_us script_no epoch epoch_us".
        latencies = sorted(
            int(line.split()[2])
            for log in Path(logs).iterdir()
            for line in log.read_text().splitlines()
        )
    tps = next(
        float(line.split("=")[1].split()[0])
        for line in run.stdout.splitlines()
        if line.startswith("tps")
    )
    failed = next(
        (int(x.split(":")[1].split()[0]) for x in run.stdout.splitlines() if "failed" in x), 0
    )
    errors = failed + (run.returncode != 0)
    p50, p99 = (statistics.quantiles(latencies, n=100)[i] / 1000 for i in (49, 98))
    return Measure(workload, "pgbench", round_number, tps, p50, p99, errors)


def _median(measures: list[Measure], workload: str, target: str) -> Measure | None:
    rows = [m for m in measures if m.workload == workload and m.target == target]
    if not rows:
        return None
    return Measure(
        workload,
        target,
        0,
        statistics.median(m.requests_per_second for m in rows),
        statistics.median(m.p50_ms for m in rows),
        statistics.median(m.p99_ms for m in rows),
        sum(m.errors for m in rows),
    )


def _ratio(measures: list[Measure], workload: str, top: str, bottom: str) -> str:
    """Median of the per-round ratios (same round = same machine conditions)."""
    ratios = []
    for round_number in {m.round for m in measures}:
        pair = {
            m.target: m.requests_per_second
            for m in measures
            if m.workload == workload and m.round == round_number
        }
        if top in pair and bottom in pair and pair[bottom]:
            ratios.append(pair[top] / pair[bottom])
    return f"{statistics.median(ratios):.2f}" if ratios else "—"


def _summary(
    args: argparse.Namespace, measures: list[Measure], workloads: list[str], targets: list[str]
) -> str:
    lines = [
        f"# Dbify benchmark {datetime.now():%Y-%m-%d %H:%M}",
        "",
        f"{os.cpu_count()} CPUs · wrk -t{args.threads} -c{args.connections} · "
        f"{args.duration} s measured after {args.warmup} s warm-up · {args.rounds} round(s) · "
        f"pgbench -M prepared -c{args.connections} -j{args.threads} · seed {args.seed}",
        "",
        "| workload | target | req/s | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for workload in workloads:
        for target in targets:
            m = _median(measures, workload, target)
            if m is not None:
                flag = " FLAG" if m.errors else ""
                lines.append(
                    f"| {workload} | {target} | {m.requests_per_second:.0f} | {m.p50_ms:.2f} "
                    f"| {m.p99_ms:.2f} | {m.errors}{flag} |"
                )
    pairs = [("dbify", "ceiling"), ("dbify", "pgbench"), ("ceiling", "pgbench")]
    if "dbify-nolog" in targets:
        pairs.append(("dbify", "dbify-nolog"))  # request logging on ÷ off (target ≥ 0.95)
    lines += ["", "| workload | request | " + " | ".join(f"{a}/{b}" for a, b in pairs) + " |"]
    lines.append("|---|---|" + "---:|" * len(pairs))
    for workload in workloads:
        cells = " | ".join(_ratio(measures, workload, a, b) for a, b in pairs)
        lines.append(f"| {workload} | `{WORKLOADS[workload][0]}` | {cells} |")
    lines += ["", "Ratios are req/s ÷ req/s (pgbench: tps) in the same round, median of rounds."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
