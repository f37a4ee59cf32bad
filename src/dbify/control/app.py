"""The management API as a FastAPI application, to be mounted at ``/api``.

Routes live under ``/v1`` (so ``/api/v1/...`` once mounted), the OpenAPI document at
``/api/v1/openapi.json`` and interactive docs at ``/api/docs``. Every error is JSON
``{"code", "message", "details", "hint"}`` (``control/errors.py``).
"""

from __future__ import annotations

from fastapi import FastAPI

from dbify import __version__
from dbify.control.access_roles.routes import router as access_roles_router
from dbify.control.analytics.routes import router as analytics_router
from dbify.control.api_keys.routes import router as keys_router
from dbify.control.audit.middleware import AuditRecorder
from dbify.control.audit.routes import router as audit_router
from dbify.control.audit.store import AuditStore
from dbify.control.cron.routes import router as cron_router
from dbify.control.errors import install_error_handlers
from dbify.control.explorer.routes import router as explorer_router
from dbify.control.lint.routes import router as lint_router
from dbify.control.notifications.routes import router as notifications_router
from dbify.control.plane import ControlPlane
from dbify.control.projects.routes import router as projects_router
from dbify.control.saved_queries.routes import router as saved_queries_router
from dbify.control.schema_changes.routes import router as schema_changes_router
from dbify.control.schema_watcher.routes import router as schema_watcher_router
from dbify.control.search.routes import router as search_router
from dbify.control.users.routes import router as users_router
from dbify.control.webhooks.routes import router as webhooks_router

__all__ = ["create_management_app"]


def create_management_app(plane: ControlPlane) -> FastAPI:
    """The management API over ``plane`` (the caller owns the plane's lifetime)."""
    app = FastAPI(
        title="Dbify management API",
        version=__version__,
        openapi_url="/v1/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.plane = plane
    install_error_handlers(app)
    for router in (
        users_router,
        projects_router,
        keys_router,
        access_roles_router,
        analytics_router,
        schema_changes_router,
        schema_watcher_router,
        notifications_router,
        explorer_router,
        lint_router,
        webhooks_router,
        cron_router,
        saved_queries_router,
        search_router,
        audit_router,
    ):
        app.include_router(router, prefix="/v1")
    app.add_middleware(AuditRecorder, store=AuditStore(plane.store.engine))
    return app
