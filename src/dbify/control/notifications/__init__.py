"""Per-user email preferences (``/api/v1/users/me/notifications``) and who gets an email."""

__all__: list[str] = []
