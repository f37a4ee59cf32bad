"""Generated types for the fixture database compile and are accepted by the SDKs: mypy
--strict with the Python SDK's builders, tsc with the JS SDK's ``createClient<Database>``,
and ``go vet`` (plus ``gofmt -l``) with the Go SDK. ``dbify gen types`` writes them for a
project or a database URL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import asyncpg
import orjson
import pytest
from click.testing import CliRunner

from dbify.cli import main
from dbify.schema.introspect import introspect
from dbify.schema.model import SchemaSnapshot
from dbify.typegen import generate_types

SDKS = Path(__file__).resolve().parents[2] / "sdks"
JS_SDK = SDKS / "js"
TSC = JS_SDK / "node_modules" / ".bin" / "tsc"


@pytest.fixture(scope="module")
def snapshot(fixture_database_url: str) -> SchemaSnapshot:
    async def read() -> SchemaSnapshot:
        conn = await asyncpg.connect(fixture_database_url)
        try:
            return await introspect(conn, ["public", "api2"])
        finally:
            await conn.close()

    return anyio.run(read)


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=240,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_python_types_pass_mypy(snapshot: SchemaSnapshot, tmp_path: Path) -> None:
    source = generate_types(snapshot, "python")
    assert "PublicBooksRow = TypedDict(" in source
    assert 'OrderStatus = Literal["pending", "paid", "shipped", "cancelled"]' in source
    assert '"title": NotRequired[str | None]' in source  # in PublicBooksUpdate
    (tmp_path / "db_types.py").write_text(source)
    # The SDK's builders take the generated shapes as they are (no cast): a TypedDict is
    # not a dict[str, Any] to mypy, so this fails if the SDK narrows its parameters.
    (tmp_path / "use.py").write_text(
        "from dbify_client import AsyncClient, Client\n"
        "from db_types import PublicBooksInsert, PublicBooksUpdate, PublicAddNumbersArgs\n"
        "row: PublicBooksInsert = {'title': 't', 'author_id': 1}\n"
        "patch: PublicBooksUpdate = {'title': 'u'}\n"
        "args: PublicAddNumbersArgs = {'a': 1, 'b': 2}\n"
        "client = Client('http://x/rest/v1', 'key')\n"
        "client.from_('books').insert(row).select('id')\n"
        "client.from_('books').upsert([row, row], on_conflict='id')\n"
        "client.from_('books').update(patch).eq('id', 1)\n"
        "client.rpc('add_numbers', args)\n"
        "AsyncClient('http://x/rest/v1', 'key').from_('books').insert([row])\n"
    )
    _run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "db_types.py", "use.py"],
         tmp_path, {"MYPYPATH": str(SDKS / "python" / "src")})  # fmt: skip


@pytest.mark.skipif(not TSC.exists(), reason="run `npm ci` in sdks/js for tsc")
def test_typescript_types_pass_tsc(snapshot: SchemaSnapshot, tmp_path: Path) -> None:
    source = generate_types(snapshot, "ts")
    assert 'order_status: "pending" | "paid" | "shipped" | "cancelled";' in source
    (tmp_path / "database.ts").write_text(source)
    (tmp_path / "use.ts").write_text(
        f'import {{ createClient }} from "{JS_SDK / "src" / "index.js"}";\n'
        'import type { Database, Tables } from "./database.js";\n'
        'const client = createClient<Database>("http://x/rest/v1", "key");\n'
        'export async function f(): Promise<string> {\n'
        '  const { data } = await client.from("books").select("id,title").eq("id", 1).single();\n'
        '  const book: Tables<"books"> = data;\n'
        '  const insert: Database["public"]["Tables"]["books"]["Insert"] = { title: "t", author_id: 1 };\n'
        '  return book.title + insert.title;\n'
        '}\n'
    )  # fmt: skip
    _run([str(TSC), "--noEmit", "--strict", "--module", "NodeNext", "--moduleResolution",
          "NodeNext", "--target", "ES2022", "--lib", "ES2022,DOM", "database.ts", "use.ts"],
         tmp_path)  # fmt: skip


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_go_types_pass_go_vet(snapshot: SchemaSnapshot, tmp_path: Path) -> None:
    source = generate_types(snapshot, "go")
    assert "type PublicBooksRow struct {" in source
    assert 'OrderStatusPaid      OrderStatus = "paid"' in source  # gofmt-aligned
    # The Go SDK (a local replace: no network) inserts, updates and decodes the shapes.
    (tmp_path / "go.mod").write_text(
        "module example.com/dbtypes\n\ngo 1.19\n\n"
        "require github.com/dbify/dbify-go v0.0.0\n\n"
        f"replace github.com/dbify/dbify-go => {SDKS / 'go'}\n"
    )
    (tmp_path / "types.go").write_text(source)
    (tmp_path / "use.go").write_text(
        "package dbtypes\n\n"
        'import (\n\t"context"\n\n\t"github.com/dbify/dbify-go/dbify"\n)\n\n'
        "func Use(ctx context.Context, c *dbify.Client) ([]PublicBooksRow, error) {\n"
        '\ttitle := "u"\n'
        '\tc.From("books").Insert([]PublicBooksInsert{{Title: "t", AuthorID: 1}}, "minimal")\n'
        '\tc.From("books").Update(PublicBooksUpdate{Title: &title}, "minimal").Eq("id", 1)\n'
        "\tvar rows []PublicBooksRow\n"
        '\t_, err := c.From("books").Select("*", "").Into(ctx, &rows)\n'
        "\treturn rows, err\n"
        "}\n"
    )
    env = {"GOCACHE": os.environ.get("GOCACHE", "/tmp/dbify-go-cache"), "GOFLAGS": "-mod=mod"}
    _run(["go", "vet", "./..."], tmp_path, env)
    unformatted = subprocess.run(["gofmt", "-l", "types.go"], cwd=tmp_path, capture_output=True,
                                 text=True, check=True).stdout  # fmt: skip
    assert unformatted == "", "generated Go is not gofmt-formatted"


def test_cli_writes_types_for_a_project_or_a_url(fixture_database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DBIFY_DATA_DIR": str(tmp_path / "data")}
    made = runner.invoke(main, ["projects", "create", "--name", "types", "--database-url",
                                fixture_database_url, "--json"], env=env)  # fmt: skip
    assert made.exit_code == 0, made.output
    project_id = orjson.loads(made.output)["id"]
    for language, marker in [("ts", "export type Database"), ("python", "PublicBooksRow"),
                             ("go", "type PublicBooksRow struct")]:  # fmt: skip
        out = tmp_path / f"types.{language}"
        done = runner.invoke(main, ["gen", "types", "--project", project_id, "--lang", language,
                                    "-o", str(out)], env=env)  # fmt: skip
        assert done.exit_code == 0, done.output
        assert marker in out.read_text()
    by_url = runner.invoke(main, ["gen", "types", "--database-url", fixture_database_url,
                                  "--lang", "python"])  # fmt: skip
    assert by_url.exit_code == 0
    assert "PublicBooksRow" in by_url.output
    missing = runner.invoke(main, ["gen", "types", "--project", "nope"], env=env)
    assert missing.exit_code != 0
    assert "Traceback" not in missing.output
    assert runner.invoke(main, ["gen", "types"]).exit_code == 2
