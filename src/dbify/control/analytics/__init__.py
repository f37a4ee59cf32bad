"""Request statistics and log search for the management API (``/api/v1/projects/{id}/…``)."""

__all__: list[str] = []
