"""``fan_out`` tells each sink only the changes of tables it watches, and says whether any
sink watches a table (the pipeline builds no ``RowChange`` when none does)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dbify.dataplane.changes import RowChange, fan_out


@dataclass
class _Sink:
    table: str
    seen: list[str] = field(default_factory=list)

    def watches(self, project_id: str, schema: str, table: str) -> bool:
        return (project_id, schema, table) == ("p1", "public", self.table)

    def row_changed(self, change: RowChange) -> None:
        self.seen.append(change.table)


def _change(table: str) -> RowChange:
    return RowChange("p1", "public", table, "update", 1, None, '[{"a": 1}]', ())


def test_each_sink_hears_only_the_tables_it_watches() -> None:
    books, tags = _Sink("books"), _Sink("tags")
    sink = fan_out(books, None, tags)
    assert sink is not None
    assert sink.watches("p1", "public", "books")
    assert not sink.watches("p1", "public", "authors")
    assert not sink.watches("p2", "public", "books")
    for table in ("books", "tags", "books"):
        sink.row_changed(_change(table))
    assert (books.seen, tags.seen) == (["books", "books"], ["tags"])


def test_one_sink_is_itself_and_none_is_none() -> None:
    only = _Sink("books")
    assert fan_out(None, only) is only
    assert fan_out(None) is None
