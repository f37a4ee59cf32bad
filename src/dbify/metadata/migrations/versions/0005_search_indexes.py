"""Search indexes per project table (issue 9).

Revision ID: 0005_search_indexes
Revises: 0004_access_roles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dbify.metadata.tables import UtcDateTime

revision = "0005_search_indexes"
down_revision = "0004_access_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_indexes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(32),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("schema_name", sa.String(63), nullable=False),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("key_column", sa.String(63), nullable=False),
        sa.Column("key_type", sa.String(128), nullable=False),
        sa.Column("text_columns", sa.JSON, nullable=False),
        sa.Column("return_columns", sa.JSON, nullable=False),
        sa.Column("semantic", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rows_indexed", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("watermark", sa.BigInteger, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("indexed_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint("project_id", "schema_name", "table_name"),
    )


def downgrade() -> None:
    op.drop_table("search_indexes")
