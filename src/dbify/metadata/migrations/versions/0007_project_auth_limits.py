"""Per-project JWT secret (sealed) and per-key rate limit overrides (issue 5).

Revision ID: 0007_project_auth_limits
Revises: 0006_notification_preferences
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_project_auth_limits"
down_revision = "0006_notification_preferences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("jwt_secret_sealed", sa.Text, nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("rate_limit_per_second", sa.Float, nullable=True))
        batch.add_column(sa.Column("rate_limit_burst", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_limit_burst")
        batch.drop_column("rate_limit_per_second")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("jwt_secret_sealed")
