"""The plan stage: a parsed request resolved against the schema snapshot.

``plan_read`` turns an ``ApiRequest`` for a table or view into a ``ReadPlan`` tree whose
names all come from the snapshot. Pure: no I/O, no clock, no globals.
"""

from dbify.dataplane.plan.read import find_relation, plan_read
from dbify.dataplane.plan.types import (
    Condition,
    ConditionTree,
    EmbedPlan,
    EmbedPresence,
    FieldRef,
    Ordering,
    Predicate,
    ReadPlan,
    SelectedColumn,
)

__all__ = [
    "Condition",
    "ConditionTree",
    "EmbedPlan",
    "EmbedPresence",
    "FieldRef",
    "Ordering",
    "Predicate",
    "ReadPlan",
    "SelectedColumn",
    "find_relation",
    "plan_read",
]
