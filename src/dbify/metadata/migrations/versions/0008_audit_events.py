"""The audit log of management API calls (issue 6).

Revision ID: 0008_audit_events
Revises: 0007_project_auth_limits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dbify.metadata.tables import UtcDateTime

revision = "0008_audit_events"
down_revision = "0007_project_auth_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True, index=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=True, index=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_events")
