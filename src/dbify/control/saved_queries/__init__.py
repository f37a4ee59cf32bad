"""Saved queries: named, parameterised, read-only SQL served at
``GET /p/{id}/rest/v1/q/{name}`` with the project's keys (alias: ``/p/{id}/queries/v1/{name}``).

    statement.py  :name placeholders → typed bind parameters, the read-only check, wrapping
    store.py      definitions (metadata store)
    service.py    rules: who manages them, validation at save time (parse + PREPARE)
    routes.py     /api/v1/projects/{id}/queries
    endpoint.py   the data-plane side: authenticate, bind, grammar on top, respond
    run.py        the READ ONLY transaction with the role and statement timeout
"""

from dbify.control.saved_queries.endpoint import SavedQueryEndpoint
from dbify.control.saved_queries.service import SavedQueryService

__all__ = ["SavedQueryEndpoint", "SavedQueryService"]
