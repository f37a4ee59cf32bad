"""The three SDKs' own test suites, run against a real ``dbify serve`` on a fresh fixture
database: Python (pytest), JavaScript (``node --test``) and Go (``go test``) as
subprocesses, each told where the server is through ``DBIFY_TEST_*`` variables. The JS
SDK also runs unbundled in headless Chromium (Debian's, driven by Playwright), served
from another origin, so CORS preflights of its headers are part of the check.

An admin user and a personal access token are created so the management clients
are tested too. Each suite's exit status is the assertion.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.server import start_server, stop_server

SDKS = Path(__file__).resolve().parents[2] / "sdks"


def _personal_token(base_url: str, data_dir: str) -> str:
    env = {**os.environ, "DBIFY_DATA_DIR": data_dir, "DBIFY_ADMIN_PASSWORD": "sdk-tests-pw"}
    subprocess.run(
        [sys.executable, "-m", "dbify", "users", "create-admin", "--email", "sdk@example.com"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with httpx.Client(base_url=f"{base_url}/api/v1", timeout=30) as api:
        signed = api.post("/auth/sign-in",
                          json={"email": "sdk@example.com", "password": "sdk-tests-pw"})  # fmt: skip
        assert signed.status_code == 200, signed.text
        # The session cookie is Secure; over plain HTTP it has to be sent by hand.
        cookie = f"dbify_session={signed.cookies['dbify_session']}"
        headers = {"cookie": cookie, "x-csrf-token": signed.json()["csrf_token"]}
        made = api.post("/users/me/tokens", json={"name": "sdk tests"}, headers=headers)
        assert made.status_code == 201, made.text
        token: str = made.json()["token"]
        return token


@pytest.fixture(scope="module")
def sdk_env(make_database: Callable[..., str]) -> Iterator[dict[str, str]]:
    server = start_server(make_database("fixture.sql"), "--schema", "public")
    try:
        token = _personal_token(server.base_url, server.data_dir)
        yield {
            **os.environ,
            "DBIFY_TEST_REST_URL": server.rest_url,
            "DBIFY_TEST_ANON_KEY": server.anon_key,
            "DBIFY_TEST_SERVICE_KEY": server.service_key,
            "DBIFY_TEST_API_URL": f"{server.base_url}/api/v1",
            "DBIFY_TEST_TOKEN": token,
            "DBIFY_TEST_PROJECT_ID": server.id,
        }
    finally:
        stop_server(server)


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"


def test_python_sdk(sdk_env: dict[str, str]) -> None:
    env = dict(sdk_env)
    if importlib.util.find_spec("dbify_client") is None:  # scripts/test installs it
        env["PYTHONPATH"] = str(SDKS / "python" / "src")
    _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
         SDKS / "python", env)  # fmt: skip


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.skipif(not (SDKS / "js" / "package.json").exists(), reason="no JS SDK checked out")
def test_javascript_sdk(sdk_env: dict[str, str]) -> None:
    _run(["node", "--test", "test/"], SDKS / "js", sdk_env)


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed (apt-get golang-go)")
@pytest.mark.skipif(not (SDKS / "go" / "go.mod").exists(), reason="no Go SDK checked out")
def test_go_sdk(sdk_env: dict[str, str]) -> None:
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / "dbify-go-cache"
    env = {**sdk_env, "GOCACHE": str(cache), "GOFLAGS": "-mod=mod", "GO111MODULE": "on"}
    _run(["go", "test", "-count=1", "./..."], SDKS / "go", env)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_SCRIPT = """async ([rest, key]) => {
  const { createClient, DbifyError } = await import('/index.js')
  const client = createClient(rest, key)
  const one = await client.from('books').select('id,author:authors(name)').eq('id', 3).single()
  const made = await client.from('tags').insert({ name: 'browser-sdk' })
  const gone = await client.from('tags').delete().eq('id', made.data[0].id)
  const sum = await client.rpc('add_numbers', { a: 2, b: 5 })
  let error = null
  try { await client.from('nope').select() } catch (e) {
    error = { typed: e instanceof DbifyError, code: e.code, status: e.status }
  }
  return { one: one.data, made: made.status, gone: gone.data.length, sum: sum.data, error }
}"""


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium missing")
def test_javascript_sdk_in_a_browser(sdk_env: dict[str, str]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(SDKS / "js" / "src")
    )
    static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{static.server_address[1]}/")
            args = [sdk_env["DBIFY_TEST_REST_URL"], sdk_env["DBIFY_TEST_SERVICE_KEY"]]
            result: dict[str, Any] = page.evaluate(BROWSER_SCRIPT, args)
            browser.close()
    finally:
        static.shutdown()
        static.server_close()
    assert result["one"]["id"] == 3
    assert result["one"]["author"]["name"].startswith("Author")
    assert (result["made"], result["gone"], result["sum"]) == (201, 1, 7)
    assert result["error"] == {"typed": True, "code": "PGRST205", "status": 404}
