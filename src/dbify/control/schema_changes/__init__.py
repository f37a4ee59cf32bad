"""A project's schema change log in the metadata store, and its management API."""

__all__: list[str] = []
