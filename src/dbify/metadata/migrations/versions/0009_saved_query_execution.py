"""Saved queries: the role and timeout they run with, and their result columns
(issue 10: grammar on top, OpenAPI result schema).

Revision ID: 0009_saved_query_execution
Revises: 0008_audit_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_saved_query_execution"
down_revision = "0008_audit_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("saved_queries") as batch:
        batch.add_column(sa.Column("run_as_role", sa.String(63), nullable=True))
        batch.add_column(sa.Column("timeout_ms", sa.Integer, nullable=True))
        # Queries saved before this revision have none: re-saving fills them in.
        batch.add_column(sa.Column("columns", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("saved_queries") as batch:
        batch.drop_column("columns")
        batch.drop_column("timeout_ms")
        batch.drop_column("run_as_role")
