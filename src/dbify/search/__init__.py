"""Search over a project's tables, outside the user's database (issue 9).

``engine`` builds and refreshes indexes and ranks candidates (through the backends in
``dbify.backends.search``, ``.vectors`` and ``.embeddings``); ``source`` reads the
indexed tables; ``endpoint`` answers ``/p/{id}/search/v1/{table}`` and re-reads hits
through the data API pipeline with the caller's role. Index definitions live in the
metadata store (``dbify.control.search``).
"""

from dbify.search.config import IndexConfig, IndexStatus
from dbify.search.endpoint import handle_search_request
from dbify.search.engine import SearchEngine

__all__ = ["IndexConfig", "IndexStatus", "SearchEngine", "handle_search_request"]
