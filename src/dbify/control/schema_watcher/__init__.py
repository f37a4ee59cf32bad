"""Installing, removing and reporting a project's schema watcher through the management API
(``/api/v1/projects/{id}/schema-watcher``)."""

__all__: list[str] = []
