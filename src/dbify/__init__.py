"""Dbify: instant, secure, PostgREST-compatible REST APIs for existing PostgreSQL databases."""

__version__ = "0.1.0"
__all__ = ["__version__"]
