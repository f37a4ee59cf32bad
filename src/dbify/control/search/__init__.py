"""Search indexes of a project's tables in the metadata store, and their management API."""

__all__: list[str] = []
