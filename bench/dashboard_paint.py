"""First paint of every dashboard screen (issue 8: under 300 ms locally).

    python bench/dashboard_paint.py                 # 7 loads a screen, cold and warm cache
    python bench/dashboard_paint.py --runs 15 --server-url postgresql://postgres@127.0.0.1:5432

Creates a throwaway database from ``tests/sql/fixture.sql`` on the local PostgreSQL,
starts a real ``dbify serve`` on it (its ``--database-url`` project is the one measured),
signs up the instance admin, makes a few data API calls (so logs and analytics have
rows) and alters a table (so the schema-change timeline has an entry). Then headless
Chromium (Debian's ``chromium``, through Playwright) loads each screen's route as a
full page load, ``--runs`` times with an empty cache (a new browser context each time,
signed in) and ``--runs`` times with a warm one (same context, from ``about:blank``):

- ``FCP``: ``first-contentful-paint`` from ``performance.getEntriesByType('paint')``
  (the page shell: top bar and "Loading…");
- ``content``: ``performance.now()`` at the first animation frame where the screen's
  main content is in the DOM (the selector in ``SCREENS``: the rows, charts or form a
  user came for, not a spinner), both from the navigation start.

Prints a Markdown table of medians and worst cases in ms and writes
``bench/results/dashboard-paint-<time>.json``. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import asyncpg
import httpx
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    StorageState,
    ViewportSize,
    sync_playwright,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fixtures.database import create_database, drop_database
from tests.fixtures.server import RunningServer, start_server, stop_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EMAIL = "bench@example.com"
PASSWORD = "bench password 123"
BUDGET_MS = 300.0


@dataclass(frozen=True)
class Screen:
    """A dashboard screen: its route (``{p}`` is the project's ID) and the CSS selector
    of its main content."""

    name: str
    route: str
    ready: str


SCREENS = [
    Screen("sign-in", "#/sign-in", "#main form input[type=email]"),
    Screen("projects", "#/projects", 'table[aria-label="Projects"] tbody .badge'),
    Screen("new project", "#/projects/new", "#main form input[name=database_url]"),
    Screen("overview", "#/p/{p}", "#main .cards + .panel dl.kv"),
    Screen("table explorer", "#/p/{p}/explorer", "#main nav.objects a"),
    Screen(
        "explorer: rows", "#/p/{p}/explorer/books", 'table[aria-label="Rows of books"] tbody tr'
    ),
    Screen("API keys", "#/p/{p}/keys", 'table[aria-label="API keys"] tbody tr'),
    Screen("API docs", "#/p/{p}/docs", "#main iframe.docs"),
    Screen("logs", "#/p/{p}/logs", 'table[aria-label="Request log"] tbody tr[data-request-id]'),
    Screen("analytics", "#/p/{p}/analytics/1h", "#chart-latency canvas"),
    Screen("schema changes", "#/p/{p}/schema", "#main .timeline li"),
    Screen("settings", "#/p/{p}/settings", "#main form input[name=max_rows]"),
    Screen("members", "#/p/{p}/members", 'table[aria-label="Members"]'),
    Screen("webhooks", "#/p/{p}/webhooks", "#main input[name=webhook-url]"),
    Screen("cron jobs", "#/p/{p}/cron", 'table[aria-label="Cron jobs"]'),
    Screen("saved queries", "#/p/{p}/queries", "#main textarea[name=query-sql]"),
    Screen("search", "#/p/{p}/search", 'table[aria-label="Search indexes"]'),
    Screen("linter", "#/p/{p}/lint", 'table[aria-label="Linter findings"]'),
    Screen("audit log", "#/p/{p}/audit", 'table[aria-label="Audit log"] tbody tr'),
    Screen("account", "#/account", 'table[aria-label="Personal access tokens"] tbody tr'),
]

# Resolves with performance.now() at the first frame where the selector matches.
_READY_AT = """selector => new Promise((resolve) => {
  const check = () => document.querySelector(selector)
    ? resolve(performance.now()) : requestAnimationFrame(check);
  check();
})"""
_FCP = """() => new Promise((resolve) => {
  const read = () => {
    const entry = performance.getEntriesByType('paint')
      .find((e) => e.name === 'first-contentful-paint');
    if (entry) resolve(entry.startTime); else requestAnimationFrame(read);
  };
  read();
})"""


def _prepare(server: RunningServer, database_url: str) -> None:
    """Traffic for the logs and charts, and one schema change for the timeline."""
    with httpx.Client(base_url=server.rest_url, headers={"apikey": server.anon_key}) as client:
        for path in ("/books?limit=5", "/authors?select=id,name,books(id)", "/no_such_table"):
            for _ in range(5):
                client.get(path)

    async def alter() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute("ALTER TABLE public.tags ADD COLUMN color text")
        finally:
            await connection.close()

    anyio.run(alter)


def _sign_up(browser: Browser, base_url: str) -> tuple[StorageState, str]:
    """Sign the admin up in a browser (the session cookie is ``Secure``: the browser
    keeps it for 127.0.0.1); return the signed-in storage state and the project ID."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/#/sign-in")
    project_id = page.evaluate(
        """async ([email, password]) => {
          const post = (path) => fetch('/api/v1/auth/' + path, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email, password }) });
          await post('sign-up');
          if (!(await post('sign-in')).ok) throw new Error('sign-in failed');
          const projects = await (await fetch('/api/v1/projects')).json();
          return projects.items[0].id;
        }""",
        [EMAIL, PASSWORD],
    )
    state = context.storage_state()
    context.close()
    return state, str(project_id)


def _load(page: Page, url: str, ready: str) -> tuple[float, float]:
    page.goto("about:blank")
    page.goto(url, wait_until="commit")
    content = float(page.evaluate(_READY_AT, ready))
    fcp = float(page.evaluate(_FCP))
    return fcp, content


def _measure(
    browser: Browser, state: StorageState, base_url: str, project_id: str, runs: int
) -> list[dict[str, object]]:
    viewport: ViewportSize = {"width": 1366, "height": 860}
    warm_context: BrowserContext = browser.new_context(storage_state=state, viewport=viewport)
    warm_page = warm_context.new_page()
    rows: list[dict[str, object]] = []
    for screen in SCREENS:
        url = f"{base_url}/{screen.route.format(p=project_id)}"
        cold: list[tuple[float, float]] = []
        for _ in range(runs):
            context = browser.new_context(storage_state=state, viewport=viewport)
            cold.append(_load(context.new_page(), url, screen.ready))
            context.close()
        _load(warm_page, url, screen.ready)  # fills the cache
        warm = [_load(warm_page, url, screen.ready) for _ in range(runs)]
        rows.append({"screen": screen.name, "route": screen.route, "cold": cold, "warm": warm})
    warm_context.close()
    return rows


def _summary(rows: list[dict[str, object]]) -> str:
    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.0f}"

    lines = [
        "| screen | FCP cold | content cold (worst) | FCP warm | content warm (worst) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        cold: list[tuple[float, float]] = row["cold"]  # type: ignore[assignment]
        warm: list[tuple[float, float]] = row["warm"]  # type: ignore[assignment]
        worst_cold = max(c for _, c in cold)
        flag = " ⚠" if statistics.median([c for _, c in cold]) > BUDGET_MS else ""
        lines.append(
            f"| {row['screen']} | {med([f for f, _ in cold])} "
            f"| {med([c for _, c in cold])} ({worst_cold:.0f}){flag} "
            f"| {med([f for f, _ in warm])} | {med([c for _, c in warm])} "
            f"({max(c for _, c in warm):.0f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="loads per screen and cache state")
    parser.add_argument(
        "--server-url",
        default=None,
        help="PostgreSQL maintenance URL (default: DBIFY_TEST_DATABASE_URL or the local one)",
    )
    args = parser.parse_args()
    if args.server_url:
        os.environ["DBIFY_TEST_DATABASE_URL"] = args.server_url
    database_url = create_database(("fixture.sql",))
    env = {
        "DBIFY_SCHEMA_WATCH__POLL_INTERVAL_SECONDS": "1",
        "DBIFY_ANALYTICS__FLUSH_SECONDS": "0.2",
    }
    server = start_server(database_url, env=env)
    try:
        _prepare(server, database_url)
        time.sleep(3)  # the request logs are flushed and the change is polled
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            state, project_id = _sign_up(browser, server.base_url)
            rows = _measure(browser, state, server.base_url, project_id, args.runs)
            browser.close()
    finally:
        stop_server(server)
        drop_database(database_url)
    table = _summary(rows)
    out = (
        Path(__file__).resolve().parent
        / "results"
        / f"dashboard-paint-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "screens": rows}, indent=2))
    print(f"Milliseconds from navigation start, median of {args.runs} loads (worst in brackets).\n")
    print(table)
    print(f"\n(written to {out})")


if __name__ == "__main__":
    main()
