"""Generated types for the fixture database compile: mypy (Python), tsc (TypeScript, with
the JS SDK's ``createClient<Database>``) and ``go vet`` (Go)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import asyncpg
import pytest

from dbify.schema.introspect import introspect
from dbify.schema.model import SchemaSnapshot
from dbify.typegen import generate_types

JS_SDK = Path(__file__).resolve().parents[2] / "sdks" / "js"
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


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_python_types_pass_mypy(snapshot: SchemaSnapshot, tmp_path: Path) -> None:
    source = generate_types(snapshot, "python")
    assert "PublicBooksRow = TypedDict(" in source
    assert 'OrderStatus = Literal["pending", "paid", "shipped", "cancelled"]' in source
    assert '"title": NotRequired[str | None]' in source  # in PublicBooksUpdate
    (tmp_path / "db_types.py").write_text(source)
    (tmp_path / "use.py").write_text(
        "from db_types import PublicBooksInsert, PublicAddNumbersArgs\n"
        "row: PublicBooksInsert = {'title': 't', 'author_id': 1}\n"
        "args: PublicAddNumbersArgs = {'a': 1, 'b': 2}\n"
    )
    _run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "db_types.py", "use.py"],
         tmp_path)  # fmt: skip


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
    assert 'OrderStatusPaid OrderStatus = "paid"' in source
    (tmp_path / "go.mod").write_text("module example.com/dbtypes\n\ngo 1.19\n")
    (tmp_path / "types.go").write_text(source)
    _run(["go", "vet", "./..."], tmp_path)
