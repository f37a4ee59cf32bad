"""The schema linter of a project in the management API (``GET /api/v1/projects/{id}/lint``)."""

__all__: list[str] = []
