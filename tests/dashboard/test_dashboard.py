"""The dashboard end to end: headless Chromium (Playwright, Debian's ``chromium``)
driving a real ``dbify serve`` with a real project on the fixture database.

The flows share one browser page and one project, in order (sign up → create project →
explore → keys → logs → analytics → schema changes → account and email notifications);
each asserts what a user would see. Screenshots of every screen go to
``DBIFY_SCREENSHOT_DIR`` (default: a temporary directory) for people to look at;
``scripts/dashboard_screenshots`` copies the README's from there.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest

from tests.fixtures.server import RunningServer, start_server, stop_server

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium missing")

EMAIL = "owner@example.com"
PASSWORD = "correct horse battery"


@dataclass
class Session:
    server: RunningServer
    database_url: str
    page: playwright_api.Page
    shots: Path
    project: dict[str, str] = field(default_factory=dict)

    def url(self, fragment: str) -> str:
        return f"{self.server.base_url}/{fragment}"

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"))


@pytest.fixture(scope="module")
def session(make_database: Callable[..., str]) -> Iterator[Session]:
    database_url = make_database("fixture.sql")
    # A second database for the dashboard's project, which the tests alter.
    project_database = make_database("fixture.sql")
    env = {
        "DBIFY_SCHEMA_WATCH__POLL_INTERVAL_SECONDS": "1",
        "DBIFY_ANALYTICS__FLUSH_SECONDS": "0.2",
        "DBIFY_WEBHOOKS__ALLOWED_HOSTS": '["127.0.0.1/32"]',  # the webhook screen's target
    }
    server = start_server(database_url, env=env)
    shots = Path(os.environ.get("DBIFY_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="dbify-shots-"))
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(viewport={"width": 1366, "height": 860})
            page = context.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield Session(server, project_database, page, shots)
            browser.close()
            real = [e for e in errors if "401" not in e and "Failed to load resource" not in e]
            assert not real, real
    finally:
        stop_server(server)
        print(f"dashboard screenshots: {shots}")


def test_sign_up_and_create_project_shows_keys_once(session: Session) -> None:
    page = session.page
    response = page.goto(session.url(""))
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    page.wait_for_url("**/#/sign-in")
    session.shot("01-sign-in")
    page.get_by_role("link", name="Create one").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/#/projects")
    page.get_by_role("heading", name="Projects").wait_for()
    # The first user is the instance admin: the `serve --database-url` project is listed.
    page.get_by_role("cell", name="default").wait_for()
    page.get_by_text("reachable").first.wait_for()
    session.shot("02-projects")

    page.get_by_role("link", name="+ New project").click()
    page.get_by_label("Project name").fill("shop")
    page.get_by_label("Database URL").fill("postgresql://nobody:wrong@127.0.0.1:5432/nope")
    page.get_by_role("button", name="Test connection and create").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Could not create the project" in page.content()
    session.shot("03-create-error")

    page.get_by_label("Database URL").fill(session.database_url)
    page.get_by_role("button", name="Test connection", exact=True).click()
    page.get_by_text("Connected.").wait_for()
    assert "tables" in page.get_by_role("status").filter(has_text="Connected.").inner_text()
    page.get_by_role("button", name="Test connection and create").click()
    page.get_by_text("Copy these keys now").wait_for()
    anon = page.get_by_label("anon key", exact=True).input_value()
    service = page.get_by_label("service key", exact=True).input_value()
    rest_url = page.get_by_label("REST URL", exact=True).input_value()
    assert anon
    assert service
    assert anon != service
    assert "apikey: " + anon in page.locator("pre").first.inner_text()
    session.shot("04-keys-once")
    session.project.update(anon=anon, service=service, rest_url=rest_url)
    page.get_by_role("link", name="Open the project →").click()
    page.wait_for_url("**/#/p/*")
    session.project["id"] = page.url.rsplit("/", 1)[1]
    page.get_by_text("Schema loaded at").wait_for()
    page.get_by_text("reachable").first.wait_for()
    session.shot("05-overview")

    # Shown once: the keys are not on any page after leaving it.
    for section in ("", "/keys"):
        page.goto(session.url(f"#/p/{session.project['id']}{section}"))
        page.get_by_role("heading", level=1).wait_for()
        assert anon not in page.content()
        assert service not in page.content()

    # The data API works with the key that was shown.
    with httpx.Client(headers={"apikey": anon}) as client:
        assert client.get(f"{rest_url}/books?limit=1").status_code == 200


def test_browse_table_with_filter_order_and_snippet(session: Session) -> None:
    page = session.page
    page.goto(session.url(f"#/p/{session.project['id']}/explorer"))
    page.get_by_role("link", name="books").first.click()
    page.get_by_role("table", name="Columns").wait_for()
    assert "PK" in page.get_by_role("table", name="Columns").inner_text()
    assert "public.authors" in page.content()  # relationship shown
    rows = page.get_by_role("table", name="Rows of books")
    rows.wait_for()
    assert page.locator("#row-range").inner_text().startswith("Rows 1\u2013")

    page.get_by_role("button", name="+ Filter").click()
    page.get_by_label("Filter column").select_option("id")
    page.get_by_label("Operator").select_option("lte")
    page.get_by_label("Filter value").fill("3")
    page.get_by_label("Order by").select_option("id")
    page.get_by_label("Direction").select_option("desc")
    page.get_by_role("button", name="Apply").click()
    playwright_api.expect(page.locator("#row-range")).to_contain_text("of 3")
    first_cell = rows.locator("tbody tr").first.locator("td").first
    assert first_cell.inner_text() == "3"
    snippet = page.get_by_label("curl snippet").inner_text()
    assert "/books?select=*&id=lte.3&order=id.desc&limit=25" in snippet
    page.get_by_role("tab", name="Python").click()
    assert "httpx.get(" in page.get_by_label("Python snippet").inner_text()
    session.shot("06-explorer")

    page.get_by_role("link", name="add_numbers").click()
    page.get_by_text("Call it").wait_for()
    assert "/rpc/add_numbers" in page.content()


def test_create_and_revoke_a_key(session: Session) -> None:
    page = session.page
    page.goto(session.url(f"#/p/{session.project['id']}/keys"))
    page.get_by_label("Name", exact=True).fill("ci robot")
    page.locator('select[name="key-role"]').select_option("anon")
    page.get_by_role("button", name="Create key").click()
    page.get_by_text("Copy this key now").wait_for()
    key = page.get_by_role("textbox", name="ci robot key").input_value()
    rest_url = session.project["rest_url"]
    with httpx.Client(headers={"apikey": key}) as client:
        assert client.get(f"{rest_url}/books?limit=1").status_code == 200
    row = page.get_by_role("row").filter(has_text="ci robot")
    assert key[:6] in row.inner_text() or "…" in row.inner_text()
    session.shot("07-keys")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    page.get_by_text("revoked").wait_for()
    assert page.get_by_role("row").filter(has_text="ci robot").count() == 0
    deadline = time.monotonic() + 10
    with httpx.Client(headers={"apikey": key}) as client:
        while client.get(f"{rest_url}/books?limit=1").status_code != 401:
            assert time.monotonic() < deadline, "revoked key still works"
            time.sleep(0.2)


def test_logs_show_api_calls_with_a_detail_drawer(session: Session) -> None:
    page = session.page
    rest_url, anon = session.project["rest_url"], session.project["anon"]
    with httpx.Client(headers={"apikey": anon}) as client:
        for _ in range(3):
            client.get(f"{rest_url}/books?select=id,title&limit=2")
        client.get(f"{rest_url}/no_such_table")
        request_id = client.get(f"{rest_url}/authors?limit=1").headers["x-request-id"]
    page.goto(session.url(f"#/p/{session.project['id']}/logs"))
    # Live: the table refreshes by itself until the requests arrive.
    row = page.locator(f'tr[data-request-id="{request_id}"]')
    row.wait_for(timeout=30_000)
    assert (
        page.locator("tbody tr").filter(has_text="/no_such_table").first.inner_text().count("404")
    )
    session.shot("08-logs")
    row.click()
    drawer = page.get_by_role("dialog")
    drawer.wait_for()
    assert request_id in drawer.inner_text()
    assert "/authors" in drawer.inner_text()
    # The duration's split is shown, and the database time of a real read is not zero.
    text = drawer.inner_text()
    assert "Waiting for a connection" in text
    database_time = text.split("Database time", 1)[1].split("\n")[1].strip()
    assert database_time not in ("0 ms", "0.00 ms", "0.0 ms", "—"), database_time
    session.shot("09-log-detail")
    page.keyboard.press("Escape")
    assert drawer.is_hidden()
    # The same by keyboard only: Enter on a focused row opens the drawer with focus on
    # Close; Escape closes it and gives focus back to the row.
    row.focus()
    page.keyboard.press("Enter")
    drawer.wait_for()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Close details"
    page.keyboard.press("Escape")
    assert drawer.is_hidden()
    assert page.evaluate("document.activeElement.dataset.requestId") == request_id
    page.get_by_label("Status").select_option("404")
    playwright_api.expect(page.locator("tbody tr").filter(has_not_text="404")).to_have_count(0)
    page.get_by_label("Status").select_option("2xx")
    playwright_api.expect(page.locator(f'tr[data-request-id="{request_id}"]')).to_have_count(1)
    playwright_api.expect(page.locator("tbody tr").filter(has_text="/no_such_table")).to_have_count(
        0
    )


def test_analytics_charts_render(session: Session) -> None:
    page = session.page
    page.goto(session.url(f"#/p/{session.project['id']}/analytics/1h"))
    page.locator("#chart-requests canvas").wait_for()
    page.locator("#chart-latency canvas").wait_for()
    assert page.get_by_role("list", name="Status codes").inner_text().count("200")
    assert "books" in page.get_by_role("list", name="Top tables").inner_text()
    assert page.get_by_role("table", name="Slowest endpoints").locator("tbody tr").count() >= 1
    assert "p95 latency (ms)" in page.locator("#chart-latency").inner_text()
    session.shot("10-analytics")
    page.get_by_role("button", name="24h").click()
    page.wait_for_url("**/analytics/24h")
    page.locator("#chart-requests canvas").wait_for()


def _run_sql(session: Session, sql: str) -> None:
    """Run SQL in the project's database (outside Dbify, as its owner would)."""

    async def run() -> None:
        connection = await asyncpg.connect(session.database_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    # Playwright's sync API owns this thread's event loop: run asyncpg in another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, run).result()


def test_schema_change_appears_with_breaking_highlight(session: Session) -> None:
    async def alter() -> None:
        connection = await asyncpg.connect(session.database_url)
        try:
            await connection.execute("ALTER TABLE public.tags ADD COLUMN color text")
            await connection.execute("ALTER TABLE public.editions DROP COLUMN released_on")
        finally:
            await connection.close()

    # Playwright's sync API owns this thread's event loop: run asyncpg in another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, alter).result()
    page = session.page
    deadline = time.monotonic() + 30
    page.goto(session.url(f"#/p/{session.project['id']}/schema"))
    while True:
        page.reload()
        page.get_by_role("heading", name="Schema changes").wait_for()
        if page.locator(".timeline li").count():
            break
        assert time.monotonic() < deadline, "no schema change recorded"
        time.sleep(1)
    text = page.locator(".timeline").inner_text()
    assert "tags" in text
    assert "editions" in text
    assert page.locator(".change.breaking").count() >= 1
    session.shot("11-schema-changes")
    # The fixture's role may create event triggers: install, then uninstall.
    page.get_by_role("button", name="Install event triggers").click()
    playwright_api.expect(page.locator("#watcher-installed")).to_have_text("installed")
    page.get_by_role("button", name="Uninstall event triggers").click()
    playwright_api.expect(page.locator("#watcher-installed")).to_have_text("not installed")


def test_settings_limits_cors_rate_limits_are_saved_and_applied(session: Session) -> None:
    page = session.page
    page.goto(session.url(f"#/p/{session.project['id']}/settings"))
    page.get_by_role("heading", name="Settings").wait_for()
    page.get_by_label("Max rows per read").fill("2")
    page.get_by_label("Statement timeout (ms)").fill("5000")
    page.get_by_label("CORS origins").fill("https://app.example.com")
    page.get_by_label("Per key (requests/s)").fill("50")
    page.get_by_label("Burst (requests)").fill("100")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved.").wait_for()
    session.shot("12-settings")
    page.reload()
    page.get_by_role("heading", name="Settings").wait_for()
    assert page.get_by_label("Per key (requests/s)").input_value() == "50"
    assert page.get_by_label("Per client IP (requests/s)").input_value() == ""
    # Request-log retention: at most the instance's 30 days, empty for the default.
    page.get_by_label("Keep logs for (days)").fill("45")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("at most 30").wait_for()
    page.get_by_label("Keep logs for (days)").fill("7")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved.").wait_for()
    page.reload()
    page.get_by_role("heading", name="Settings").wait_for()
    assert page.get_by_label("Keep logs for (days)").input_value() == "7"
    page.get_by_label("Keep logs for (days)").fill("")
    rest = f"{session.server.base_url}/p/{session.project['id']}/rest/v1"
    with httpx.Client(headers={"apikey": session.project["service"]}) as client:
        deadline = time.monotonic() + 10  # the data plane hears of the change by event
        while len(client.get(f"{rest}/books").json()) != 2:
            assert time.monotonic() < deadline, "max rows not applied"
            time.sleep(0.2)
        preflight = client.options(
            f"{rest}/books",
            headers={"origin": "https://evil.example.com", "access-control-request-method": "GET"},
        )
        assert "evil" not in preflight.headers.get("access-control-allow-origin", "")
    # Back to no limit (later screens browse whole tables); a bad value is refused.
    page.get_by_label("Max rows per read").fill("")
    page.get_by_label("CORS origins").fill("*")
    page.get_by_label("Per key (requests/s)").fill("")
    page.get_by_label("Burst (requests)").fill("")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved.").wait_for()
    page.get_by_label("Statement timeout (ms)").fill("-5")
    page.get_by_label("Statement timeout (ms)").press("Enter")
    assert page.get_by_label("Statement timeout (ms)").evaluate("e => !e.validity.valid")
    page.get_by_label("Statement timeout (ms)").fill("10000")


def test_project_tools_members_webhooks_cron_queries_search_lint_audit(session: Session) -> None:
    page = session.page
    base = f"#/p/{session.project['id']}"
    with httpx.Client(base_url=f"{session.server.base_url}/api/v1") as client:
        made = client.post("/auth/sign-up", json={"email": "colleague@example.com",
                                                  "password": "another long password"})  # fmt: skip
        assert made.status_code == 201, made.text

    page.goto(session.url(f"{base}/members"))
    page.get_by_label("Email").fill("colleague@example.com")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Add or change member").click()
    page.get_by_role("cell", name="colleague@example.com").wait_for()
    session.shot("13-members")

    page.goto(session.url(f"{base}/webhooks"))
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks/dbify")
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_label("signing secret", exact=True).input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Done").click()
    assert secret not in page.content()
    page.get_by_role("button", name="Send test event").click()
    deadline = time.monotonic() + 15
    while page.locator("tr[data-delivery-id]").count() == 0:
        assert time.monotonic() < deadline, "no delivery listed"
        time.sleep(0.5)
        page.reload()
        page.get_by_role("heading", name="Webhooks").wait_for()
    assert "webhook.ping" in page.locator("tr[data-delivery-id]").first.inner_text()
    session.shot("14-webhooks")

    page.goto(session.url(f"{base}/cron"))
    page.get_by_label("Name", exact=True).fill("count books")
    page.get_by_label("Schedule (cron)").fill("0 3 * * *")
    page.get_by_label("SQL, function name or URL").fill("SELECT count(*) FROM books")
    page.get_by_role("button", name="Create job").click()
    row = page.get_by_role("row").filter(has_text="count books")
    row.get_by_role("button", name="Run now").click()
    history = page.get_by_role("table", name="Run history")
    deadline = time.monotonic() + 20
    while "succeeded" not in (history.inner_text() if history.count() else ""):
        assert time.monotonic() < deadline, "manual run did not succeed"
        time.sleep(0.5)
        page.reload()
        page.get_by_role("heading", name="Cron jobs").wait_for()
    assert "manual" in history.inner_text()
    session.shot("15-cron")

    page.goto(session.url(f"{base}/queries"))
    page.locator('input[name="query-name"]').fill("books_after")
    page.locator('textarea[name="query-sql"]').fill(
        "SELECT id, title FROM books WHERE id > :after::int ORDER BY id"
    )
    page.get_by_role("button", name="Save query").click()
    page.get_by_role("heading", name="books_after").wait_for()
    curl = page.get_by_label("curl for books_after").inner_text()
    url = curl.split('"')[3].replace("after=…", "after=2")
    with httpx.Client(headers={"apikey": session.project["service"]}) as client:
        answered = client.get(url)
        assert answered.status_code == 200, answered.text
        assert answered.json()[0]["id"] == 3
    session.shot("16-saved-queries")

    # Enough rows that the backfill lasts a few seconds: its progress bar is seen moving.
    _run_sql(
        session,
        "INSERT INTO books (title, author_id) SELECT 'Generated volume ' || n || "
        "CASE WHEN n % 1000 = 0 THEN ' on zeppelins' ELSE ' on gardens' END, "
        "(SELECT min(id) FROM authors) FROM generate_series(1, 300000) AS n",
    )
    page.goto(session.url(f"{base}/search"))
    page.get_by_label("Table").select_option("public.books")
    page.get_by_label("Text columns").fill("title:2")
    page.get_by_role("button", name="Create index").click()
    indexes = page.get_by_role("table", name="Search indexes")
    indexes.get_by_text("public.books").wait_for()
    bar = page.get_by_role("progressbar", name="Backfill of books")
    bar.wait_for()
    playwright_api.expect(indexes).to_contain_text(re.compile(r"\d+ % · [\d,]+ / [\d,]+ rows"))
    session.shot("17-search-building")
    # The screen polls while building: it turns ready with no reload.
    indexes.locator(".badge", has_text="ready").wait_for(timeout=120_000)
    assert bar.count() == 0
    assert re.search(r"\b300,\d{3}\b", indexes.inner_text())  # 300,000 + the fixture's
    session.shot("17-search")
    curl = page.get_by_label("search curl example").inner_text()
    url = curl.split('"')[3].replace("q=search+words", "q=zeppelins")
    assert "/search/v1/books" in url
    with httpx.Client(headers={"apikey": session.project["service"]}) as client:
        found = client.get(url)
        assert found.status_code == 200, found.text
        assert len(found.json()["items"]) == 10
        assert all("zeppelins" in i["row"]["title"] for i in found.json()["items"])

    page.goto(session.url(f"{base}/lint"))
    page.get_by_role("heading", name="Linter").wait_for()
    page.get_by_role("table", name="Linter findings").wait_for()
    session.shot("18-lint")

    page.goto(session.url(f"{base}/audit"))
    audit = page.get_by_role("table", name="Audit log")
    audit.wait_for()
    playwright_api.expect(audit).to_contain_text("/members")
    playwright_api.expect(audit).to_contain_text(EMAIL)
    session.shot("19-audit")


def test_account_token_and_sign_out(session: Session) -> None:
    page = session.page
    page.get_by_role("link", name=EMAIL).click()
    page.get_by_label("Token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_role("textbox", name="personal access token").input_value()
    with httpx.Client(headers={"authorization": f"Bearer {token}"}) as client:
        assert client.get(f"{session.server.base_url}/api/v1/projects").status_code == 200
    # Email notifications: the default (projects I own) is shown; opting out is stored.
    playwright_api.expect(page.get_by_role("radio", name="Projects I own")).to_be_checked()
    page.get_by_role("radio", name="None").check()
    page.get_by_role("button", name="Save notifications").click()
    page.get_by_text("Notification preferences saved.").wait_for()
    with httpx.Client(headers={"authorization": f"Bearer {token}"}) as client:
        preferences = client.get(f"{session.server.base_url}/api/v1/users/me/notifications")
        assert preferences.json()["schema_changes"] == "none"
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password").fill("a brand new password")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("The current password is wrong").wait_for()
    session.shot("12-account")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/#/sign-in")
    page.goto(session.url(f"#/p/{session.project['id']}/keys"))
    page.wait_for_url("**/#/sign-in")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="shop").wait_for()
    counts = page.get_by_role("table", name="Projects").locator("td.num")
    playwright_api.expect(counts.filter(has_text="…")).to_have_count(0)
    session.shot("20-projects")
