"""Dbify's Python client: data API (sync and async), query builder, management API."""

from dbify_client.client import AsyncClient, Client
from dbify_client.errors import DbifyError
from dbify_client.management import AsyncManagementClient, ManagementClient
from dbify_client.query import QueryBuilder, Result

__all__ = [
    "AsyncClient",
    "AsyncManagementClient",
    "Client",
    "DbifyError",
    "ManagementClient",
    "QueryBuilder",
    "Result",
]


def create_client(rest_url: str, key: str | None = None, **options: object) -> Client:
    """``create_client(rest_url, key)``: a sync ``Client``."""
    return Client(rest_url, key, **options)  # type: ignore[arg-type]
