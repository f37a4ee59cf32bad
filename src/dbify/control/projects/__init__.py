"""Projects: a name, a PostgreSQL URL (sealed), exposed schemas and data API settings.

``service.py`` holds the rules, ``store.py`` the SQL, ``routes.py`` the HTTP API,
``connect.py`` the database check, and ``directory.py`` with ``pools.py`` serve the
live projects to the data plane.
"""

__all__: list[str] = []
