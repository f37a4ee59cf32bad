"""``derive_relationships`` and ``view_primary_keys`` on hand-built rows."""

from __future__ import annotations

from dbify.schema.model import QualifiedName, Relationship
from dbify.schema.relationships import (
    ForeignKey,
    ViewColumn,
    derive_relationships,
    view_primary_keys,
)

A = QualifiedName("public", "a")
B = QualifiedName("public", "b")
C = QualifiedName("public", "c")
J = QualifiedName("public", "j")
V = QualifiedName("public", "v")
W = QualifiedName("public", "w")
P = QualifiedName("private", "p")


def _fk(
    name: str, table: QualifiedName, cols: str, ref: QualifiedName, ref_cols: str
) -> ForeignKey:
    return ForeignKey(name, table, tuple(cols.split(",")), ref, tuple(ref_cols.split(",")))


def _between(
    rels: dict[QualifiedName, tuple[Relationship, ...]],
    source: QualifiedName,
    target: QualifiedName,
) -> list[Relationship]:
    return [r for r in rels.get(source, ()) if r.target == target]


def test_foreign_key_gives_many_to_one_and_its_inverse() -> None:
    rels = derive_relationships([_fk("a_b_fk", A, "b_id", B, "id")], {B: [("id",)]}, {B: ("id",)})
    [forward] = _between(rels, A, B)
    assert (forward.cardinality, forward.constraint, forward.columns) == (
        "many_to_one",
        "a_b_fk",
        (("b_id", "id"),),
    )
    [backward] = _between(rels, B, A)
    assert (backward.cardinality, backward.columns) == ("one_to_many", (("id", "b_id"),))
    assert set(rels) == {A, B}


def test_unique_foreign_key_is_one_to_one_both_ways() -> None:
    fks = [_fk("a_b_fk", A, "b_id", B, "id")]
    rels = derive_relationships(fks, {A: [("id",), ("b_id",)]}, {A: ("id",)})
    assert [r.cardinality for r in _between(rels, A, B)] == ["one_to_one"]
    assert [r.cardinality for r in _between(rels, B, A)] == ["one_to_one"]


def test_foreign_key_that_is_the_primary_key_is_one_to_one() -> None:
    fks = [_fk("a_b_fk", A, "id", B, "id")]
    rels = derive_relationships(fks, {A: [("id",)]}, {A: ("id",)})
    assert [r.cardinality for r in _between(rels, A, B)] == ["one_to_one"]


def test_foreign_key_that_is_part_of_a_unique_key_is_not_one_to_one() -> None:
    fks = [_fk("a_b_fk", A, "b_id", B, "id")]
    rels = derive_relationships(fks, {A: [("b_id", "n")]}, {A: ("b_id", "n")})
    assert [r.cardinality for r in _between(rels, A, B)] == ["many_to_one"]


def test_composite_foreign_key_keeps_column_pairs_in_order() -> None:
    fks = [_fk("a_b_fk", A, "x,y", B, "k2,k1")]
    rels = derive_relationships(fks, {}, {})
    [forward] = _between(rels, A, B)
    assert forward.columns == (("x", "k2"), ("y", "k1"))
    [backward] = _between(rels, B, A)
    assert backward.columns == (("k2", "x"), ("k1", "y"))


def test_junction_whose_key_holds_both_foreign_keys_gives_many_to_many() -> None:
    fks = [_fk("j_a_fk", J, "a_id", A, "id"), _fk("j_c_fk", J, "c_id", C, "id")]
    rels = derive_relationships(fks, {J: [("a_id", "c_id")]}, {J: ("a_id", "c_id")})
    [a_to_c] = _between(rels, A, C)
    assert a_to_c.cardinality == "many_to_many"
    assert a_to_c.columns == ()
    assert a_to_c.constraint == "j_c_fk"
    assert a_to_c.junction is not None
    assert a_to_c.junction.relation == J
    assert (a_to_c.junction.source_constraint, a_to_c.junction.target_constraint) == (
        "j_a_fk",
        "j_c_fk",
    )
    assert a_to_c.junction.source_columns == (("id", "a_id"),)
    assert a_to_c.junction.target_columns == (("c_id", "id"),)
    [c_to_a] = _between(rels, C, A)
    assert c_to_a.junction is not None
    assert c_to_a.junction.source_constraint == "j_c_fk"


def test_junction_with_composite_foreign_keys() -> None:
    fks = [_fk("j_a_fk", J, "a1,a2", A, "k1,k2"), _fk("j_c_fk", J, "c_id", C, "id")]
    key = ("a1", "a2", "c_id", "extra")
    rels = derive_relationships(fks, {J: [key]}, {J: key})
    [a_to_c] = _between(rels, A, C)
    assert a_to_c.junction is not None
    assert a_to_c.junction.source_columns == (("k1", "a1"), ("k2", "a2"))


def test_foreign_key_columns_outside_the_key_make_no_junction() -> None:
    fks = [_fk("j_a_fk", J, "a_id", A, "id"), _fk("j_c_fk", J, "c_id", C, "id")]
    rels = derive_relationships(fks, {J: [("id",)]}, {J: ("id",)})
    assert _between(rels, A, C) == []
    rels = derive_relationships(fks, {J: [("a_id", "x")]}, {J: ("a_id", "x")})
    assert _between(rels, A, C) == []


def test_two_foreign_keys_to_one_table_through_a_junction_give_self_many_to_many() -> None:
    fks = [_fk("j_from_fk", J, "from_id", A, "id"), _fk("j_to_fk", J, "to_id", A, "id")]
    rels = derive_relationships(fks, {J: [("from_id", "to_id")]}, {J: ("from_id", "to_id")})
    many = [r for r in _between(rels, A, A) if r.cardinality == "many_to_many"]
    assert sorted(r.constraint for r in many) == ["j_from_fk", "j_to_fk"]
    assert all(r.is_self for r in many)


def test_self_reference() -> None:
    rels = derive_relationships([_fk("a_parent_fk", A, "parent_id", A, "id")], {}, {})
    assert sorted(r.cardinality for r in _between(rels, A, A)) == ["many_to_one", "one_to_many"]


def test_views_inherit_relationships_in_every_direction() -> None:
    fks = [_fk("a_b_fk", A, "b_id", B, "id")]
    view_columns = [
        ViewColumn(V, "vid", A, "id"),
        ViewColumn(V, "the_b", A, "b_id"),
        ViewColumn(W, "wid", B, "id"),
    ]
    rels = derive_relationships(fks, {B: [("id",)]}, {B: ("id",)}, view_columns)
    assert [r.columns for r in _between(rels, V, B)] == [(("the_b", "id"),)]
    assert [r.columns for r in _between(rels, A, W)] == [(("b_id", "wid"),)]
    assert [r.columns for r in _between(rels, V, W)] == [(("the_b", "wid"),)]
    assert [(r.cardinality, r.columns) for r in _between(rels, W, V)] == [
        ("one_to_many", (("wid", "the_b"),))
    ]
    assert all(r.constraint == "a_b_fk" for source in rels.values() for r in source)


def test_view_must_expose_every_foreign_key_column() -> None:
    fks = [_fk("a_b_fk", A, "x,y", B, "k1,k2")]
    rels = derive_relationships(fks, {}, {}, [ViewColumn(V, "x", A, "x")])
    assert V not in rels


def test_view_exposing_a_column_twice_gets_one_relationship_per_column() -> None:
    fks = [_fk("a_b_fk", A, "b_id", B, "id")]
    view_columns = [ViewColumn(V, "b1", A, "b_id"), ViewColumn(V, "b2", A, "b_id")]
    rels = derive_relationships(fks, {}, {}, view_columns)
    assert sorted(r.columns for r in _between(rels, V, B)) == [(("b1", "id"),), (("b2", "id"),)]


def test_view_over_junction_base_is_a_many_to_many_end() -> None:
    fks = [_fk("j_a_fk", J, "a_id", A, "id"), _fk("j_c_fk", J, "c_id", C, "id")]
    rels = derive_relationships(
        fks,
        {J: [("a_id", "c_id")]},
        {J: ("a_id", "c_id")},
        [ViewColumn(V, "id", A, "id")],
    )
    [rel] = _between(rels, V, C)
    assert rel.cardinality == "many_to_many"
    assert rel.junction is not None
    assert rel.junction.relation == J


def test_schemas_filter_keeps_relationships_inside_them() -> None:
    fks = [
        _fk("a_p_fk", A, "p_id", P, "id"),
        _fk("j_a_fk", QualifiedName("private", "j"), "a_id", A, "id"),
        _fk("j_c_fk", QualifiedName("private", "j"), "c_id", C, "id"),
        _fk("a_b_fk", A, "b_id", B, "id"),
    ]
    junction_key = {QualifiedName("private", "j"): ("a_id", "c_id")}
    rels = derive_relationships(fks, {}, junction_key, schemas=["public"])
    assert set(rels) == {A, B}
    assert [r.target for r in rels[A]] == [B]  # not P, and no m2m through private.j


def test_view_primary_keys() -> None:
    view_columns = [
        ViewColumn(V, "vk2", A, "k2"),
        ViewColumn(V, "vk1", A, "k1"),
        ViewColumn(V, "again", A, "k1"),
        ViewColumn(W, "only_k1", A, "k1"),
        ViewColumn(W, "bid", B, "id"),
    ]
    keys = view_primary_keys(view_columns, {A: ("k1", "k2"), B: ("id",)})
    assert keys == {V: ("vk1", "vk2"), W: ("bid",)}
