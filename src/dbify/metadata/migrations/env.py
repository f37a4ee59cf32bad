"""Alembic environment: migrations always run on a connection handed in by
``dbify.metadata.engine.run_migrations`` (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from dbify.metadata.tables import metadata

_connection = context.config.attributes["connection"]
context.configure(
    connection=_connection,
    target_metadata=metadata,
    render_as_batch=_connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
