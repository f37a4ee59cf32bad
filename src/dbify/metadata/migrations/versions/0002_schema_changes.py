"""The schema change log of each project (issue 7).

Revision ID: 0002_schema_changes
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dbify.metadata.tables import UtcDateTime

revision = "0002_schema_changes"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_changes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(32),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("detected_at", UtcDateTime, nullable=False),
        sa.Column("detected_by", sa.String(16), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("breaking", sa.Integer, nullable=False),
        sa.Column("openapi_before", sa.String(64), nullable=False),
        sa.Column("openapi_after", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schema_changes")
