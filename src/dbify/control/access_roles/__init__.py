"""RBAC access roles for keys and JWTs that do not map to database roles."""

__all__: list[str] = []
