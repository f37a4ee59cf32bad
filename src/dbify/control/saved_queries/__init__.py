"""Saved queries: named, parameterised, read-only SQL served at
``GET /p/{id}/queries/v1/{name}`` with the project's keys.

    statement.py  :name placeholders → typed bind parameters, the read-only check, wrapping
    store.py      definitions (metadata store)
    service.py    rules: who manages them, validation at save time (parse + PREPARE)
    routes.py     /api/v1/projects/{id}/queries
    endpoint.py   the data-plane side: authenticate, bind, run READ ONLY, respond
"""

from dbify.control.saved_queries.endpoint import SavedQueryEndpoint
from dbify.control.saved_queries.service import SavedQueryService

__all__ = ["SavedQueryEndpoint", "SavedQueryService"]
