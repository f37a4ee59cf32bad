"""Alembic environment: migrations always run on a connection handed in by
``dbify.metadata.engine.run_migrations`` (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from dbify.metadata.tables import metadata


def _run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


# Outside an Alembic run (e.g. pytest's doctest collection imports every module)
# the context has no config, and there is nothing to do.
if hasattr(context, "config"):
    _run_migrations()
