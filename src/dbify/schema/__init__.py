"""What Dbify knows about a project's database, and how it finds out.

``model`` holds the ``SchemaSnapshot`` types the pure stages read; ``introspect`` builds
a snapshot from the catalogue in one round trip; ``relationships`` and
``view_columns`` are the pure rules it applies. Import from those modules directly:
this package re-exports nothing, so pure stages importing ``model`` do not pull in
the database driver.
"""

__all__: list[str] = []
