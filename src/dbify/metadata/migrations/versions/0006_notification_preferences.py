"""Per-user notification preferences (issue 7: schema-change email opt-out/subscription).

Revision ID: 0006_notification_preferences
Revises: 0005_search_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dbify.metadata.tables import UtcDateTime

revision = "0006_notification_preferences"
down_revision = "0005_search_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("schema_changes", sa.String(16), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
