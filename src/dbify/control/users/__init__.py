"""Users, sessions, personal access tokens and sign-in rate limiting."""
