"""The data plane: each project's PostgREST-compatible API at ``/p/{id}/rest/v1``.

``pipeline.py`` runs the stages in order: authenticate → parse (``grammar/``) → plan
(``plan/``) → build SQL (``sql/``) → execute (``execute.py``) → respond (``respond*.py``).
Parse, plan and build are pure; only ``execute.py`` and ``connections.py`` talk to the
project's database. Projects themselves (their URLs, keys, settings) are the control plane's.
"""

__all__: list[str] = []
