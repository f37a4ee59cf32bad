"""API keys of projects: create, list, revoke, rotate (see ``service.py``)."""

__all__: list[str] = []
