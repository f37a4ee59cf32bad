"""The SQL stage: a plan turned into one statement with bind parameters.

``build_read`` writes the statement of a ``ReadPlan``; identifiers come from the plan's
snapshot objects (quoted by ``quote_ident``), values travel as parameters. Pure.
"""

from dbify.dataplane.sql.identifiers import quote_ident, quote_qualified
from dbify.dataplane.sql.read import build_read
from dbify.dataplane.sql.statement import Param, ReadStatement, Statement

__all__ = ["Param", "ReadStatement", "Statement", "build_read", "quote_ident", "quote_qualified"]
