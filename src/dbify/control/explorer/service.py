"""The explorer's rules: who may see a project's schema and browse its rows.

Any member (viewer and up) may read the schema summary. Browsing rows runs reads with
the privileges of the role Dbify connects as (like the service key), so it needs the
admin role, the same as minting a service key. Rows are read through the data plane's
own read path: the answer is exactly what the data API would return for that query.
This module owns no SQL and no HTTP.
"""

from __future__ import annotations

from dbify.auth.principal import Principal
from dbify.control.access import Caller
from dbify.control.errors import ControlCodes, control_error
from dbify.control.explorer.schemas import (
    ColumnOut,
    FunctionOut,
    ParameterOut,
    RelationOut,
    RelationshipOut,
    SchemaSummary,
)
from dbify.control.projects.service import ProjectService
from dbify.dataplane.pipeline import RawRequest, handle_read_as
from dbify.dataplane.project import Project, ProjectDirectory
from dbify.dataplane.respond import ApiResponse
from dbify.schema.model import Relation, SchemaSnapshot

# Reads from the dashboard: the connecting role, never a write.
_DASHBOARD = Principal("dashboard", "service", role=None, read_only=True)
# Request headers the browser may pass through to the data API.
_PASSED_HEADERS = ("prefer", "range", "range-unit", "accept-profile")


class ExplorerService:
    def __init__(self, projects: ProjectService, directory: ProjectDirectory | None) -> None:
        self._projects = projects
        self._directory = directory

    async def summary(self, caller: Caller, project_id: str) -> SchemaSummary:
        await self._projects.require_role(caller, project_id, "viewer")
        project = self._live(project_id)
        return summarize(project.id, project.snapshot)

    async def rows(
        self,
        caller: Caller,
        project_id: str,
        relation: str,
        query_string: str,
        headers: dict[str, str],
        rest_url: str,
    ) -> ApiResponse:
        await self._projects.require_role(caller, project_id, "admin")
        project = self._live(project_id)
        passed = {name: value for name, value in headers.items() if name in _PASSED_HEADERS}
        passed.setdefault("prefer", "count=exact")
        raw = RawRequest("GET", f"/{relation}", query_string, passed, None, rest_url)
        return await handle_read_as(project, _DASHBOARD, raw)

    def _live(self, project_id: str) -> Project:
        project = self._directory.get(project_id) if self._directory is not None else None
        if project is None:
            raise control_error(
                ControlCodes.PROJECT_PAUSED,
                "The project is not being served",
                hint="Resume it, or check its connection status.",
            )
        return project


def summarize(project_id: str, snapshot: SchemaSnapshot) -> SchemaSummary:
    """The people-facing summary of ``snapshot``, sorted by schema and name."""
    relations = [_relation(snapshot, r) for _, r in sorted(snapshot.relations.items())]
    functions = [
        FunctionOut(
            schema_name=f.name.schema,
            name=f.name.name,
            parameters=[
                ParameterOut(
                    name=p.name, data_type=p.data_type, mode=p.mode, has_default=p.has_default
                )
                for p in f.parameters
            ],
            return_type=f.return_type,
            returns_set=f.returns_set,
            volatility=f.volatility,
            description=f.description,
        )
        for _, overloads in sorted(snapshot.functions.items())
        for f in overloads
    ]
    return SchemaSummary(
        project_id=project_id,
        schemas=list(snapshot.exposed_schemas),
        relations=relations,
        functions=functions,
    )


def _relation(snapshot: SchemaSnapshot, relation: Relation) -> RelationOut:
    keys = set(relation.primary_key)
    return RelationOut(
        schema_name=relation.name.schema,
        name=relation.name.name,
        kind=relation.kind,
        columns=[
            ColumnOut(
                name=c.name,
                data_type=c.data_type,
                nullable=c.nullable,
                default=c.default,
                primary_key=c.name in keys,
                description=c.description,
            )
            for c in relation.columns
        ],
        primary_key=list(relation.primary_key),
        relationships=[
            RelationshipOut(
                target=str(r.target),
                cardinality=r.cardinality,
                constraint=r.constraint,
                columns=list(r.columns),
                junction=str(r.junction.relation) if r.junction is not None else None,
            )
            for r in snapshot.relationships_of(relation.name)
        ],
        insertable=relation.insertable,
        updatable=relation.updatable,
        deletable=relation.deletable,
        description=relation.description,
    )
