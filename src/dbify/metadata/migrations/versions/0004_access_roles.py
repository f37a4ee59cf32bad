"""RBAC access roles per project (issue 5).

Revision ID: 0004_access_roles
Revises: 0003_automation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dbify.metadata.tables import UtcDateTime

revision = "0004_access_roles"
down_revision = "0003_automation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_roles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(32),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_access_roles_project_name"),
    )


def downgrade() -> None:
    op.drop_table("access_roles")
