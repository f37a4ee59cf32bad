"""Dbify's metadata store: users, sessions, projects, members and API keys.

SQLite file by default, PostgreSQL when ``DBIFY_METADATA__URL`` says so; the same
tables and Alembic migrations serve both. Feature stores (``control/*/store.py``)
run their SQL through the engine opened here. Nothing here touches users' databases.
"""

from dbify.metadata.engine import (
    MetadataStore,
    MetadataUnavailable,
    metadata_url,
    open_metadata_store,
    reaching,
    run_migrations,
)

__all__ = [
    "MetadataStore",
    "MetadataUnavailable",
    "metadata_url",
    "open_metadata_store",
    "reaching",
    "run_migrations",
]
