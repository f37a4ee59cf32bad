"""Webhook messages about one row are delivered in order (issue 10): the row they are
about, as an ordering key, and an index to find an earlier pending message of that row.

Revision ID: 0010_webhook_ordering
Revises: 0009_saved_query_execution
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_webhook_ordering"
down_revision = "0009_saved_query_execution"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        # NULL: no order to keep (pings, schema changes, writes of several rows).
        batch.add_column(sa.Column("ordering_key", sa.String(300), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_ordering", "webhook_deliveries", ["endpoint_id", "ordering_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_ordering", "webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("ordering_key")
