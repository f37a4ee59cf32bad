"""HTTP API for cron jobs (``/api/v1/projects/{id}/cron/jobs``): jobs, run history and
"run now"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from dbify.control.cron.schemas import JobCreate, JobOut, JobUpdate, RunOut, RunPage
from dbify.control.cron.service import CronService
from dbify.control.cron.store import CronStore
from dbify.control.outbound import OutboundPolicy
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects/{project_id}/cron/jobs", tags=["cron"])


def cron_service(plane: Annotated[ControlPlane, Depends(get_plane)]) -> CronService:
    policy = OutboundPolicy(plane.settings.webhooks.allowed_hosts)
    return CronService(CronStore(plane.store.engine), plane.projects, policy)


Service = Annotated[CronService, Depends(cron_service)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_job(
    project_id: str, body: JobCreate, caller: CurrentCaller, service: Service
) -> JobOut:
    """Add a job: cron expression, time zone, action (SQL, function call or HTTP)."""
    return await service.create(caller, project_id, body)


@router.get("")
async def list_jobs(project_id: str, caller: CurrentCaller, service: Service) -> list[JobOut]:
    return await service.list(caller, project_id)


@router.get("/{job_id}")
async def get_job(project_id: str, job_id: str, caller: CurrentCaller, service: Service) -> JobOut:
    return await service.get(caller, project_id, job_id)


@router.patch("/{job_id}")
async def update_job(
    project_id: str, job_id: str, body: JobUpdate, caller: CurrentCaller, service: Service
) -> JobOut:
    return await service.update(caller, project_id, job_id, body)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_job(project_id: str, job_id: str, caller: CurrentCaller, service: Service) -> None:
    await service.delete(caller, project_id, job_id)


@router.post("/{job_id}/run", status_code=status.HTTP_202_ACCEPTED)
async def run_job_now(
    project_id: str, job_id: str, caller: CurrentCaller, service: Service
) -> RunOut:
    """Queue a run now; the next scheduler tick starts it (poll its run for the result)."""
    return await service.run_now(caller, project_id, job_id)


@router.get("/{job_id}/runs")
async def list_runs(
    project_id: str,
    job_id: str,
    caller: CurrentCaller,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RunPage:
    """Run history, newest first: start, end, status, output excerpt, error."""
    return await service.runs(caller, project_id, job_id, limit, offset)


@router.get("/{job_id}/runs/{run_id}")
async def get_run(
    project_id: str, job_id: str, run_id: str, caller: CurrentCaller, service: Service
) -> RunOut:
    return await service.run(caller, project_id, job_id, run_id)
