"""The table explorer's API: a project's schema summary and a read-only row browser."""

__all__: list[str] = []
