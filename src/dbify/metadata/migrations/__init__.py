"""Alembic migrations of the metadata store (``env.py`` and ``versions/``).

Run through ``dbify migrate`` or ``dbify.metadata.run_migrations``; not imported otherwise.
"""

__all__: list[str] = []
