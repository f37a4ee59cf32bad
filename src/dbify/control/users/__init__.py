"""Users, sessions, personal access tokens and sign-in rate limiting."""

__all__: list[str] = []
