"""The schema as the request's database role sees it, for the OpenAPI document.

A principal running as a database role (a JWT's role claim, the anonymous role, a key
with a role) gets an OpenAPI document listing only the relations, columns and
functions that role holds privileges on. The role's privileges are read from the
project's database the first time the role asks for the document under the current
snapshot (``schema/privileges.py``) and kept in ``Project.role_snapshots``; data
requests never come here.

This module does the I/O of fetching a role's privileges; what they mean for the
snapshot is decided in ``schema/privileges.py``.
"""

from __future__ import annotations

import asyncpg

from dbify.auth.principal import Principal
from dbify.dataplane.execute import translate_database_error
from dbify.dataplane.project import Project
from dbify.errors import Codes, DbifyError
from dbify.schema.model import SchemaSnapshot
from dbify.schema.privileges import introspect_privileges

__all__ = ["snapshot_for_role"]


async def snapshot_for_role(project: Project, principal: Principal, role: str) -> SchemaSnapshot:
    """``project.snapshot`` restricted to what ``role`` may use (cached per snapshot)."""
    snapshot = project.snapshot
    cached = project.role_snapshots.get(snapshot, role)
    if cached is not None:
        return cached
    try:
        async with project.pool.acquire(timeout=project.settings.pool_timeout_seconds) as conn:
            privileges = await introspect_privileges(conn, role, snapshot.exposed_schemas)
    except TimeoutError as exc:
        raise DbifyError(
            Codes.DATABASE_POOL_TIMEOUT, "Timed out acquiring connection from connection pool."
        ) from exc
    except asyncpg.PostgresError as exc:
        raise translate_database_error(exc, principal=principal) from None
    return project.role_snapshots.put(snapshot, role, privileges)
