"""Rules for cron jobs: ``admin`` manages jobs and starts runs, ``viewer`` reads them.

A job's ``next_run_at`` is computed here whenever its schedule, time zone or enabled
flag changes (the scheduler then moves it forward by compare-and-set). HTTP actions are
checked against the SSRF policy when saved, and again when run. "Run now" queues a run
that a scheduler claims (``store.claim_queued``), so it runs where the schedulers run,
not in the API process; the store's write wakes a scheduler of this process at once.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from dbify.control.access import Caller
from dbify.control.cron.scheduler import next_occurrence
from dbify.control.cron.schemas import JobCreate, JobOut, JobUpdate, RunOut, RunPage
from dbify.control.cron.store import CronStore, JobRecord, RunRecord
from dbify.control.errors import ControlCodes, control_error
from dbify.control.outbound import OutboundPolicy, TargetRefused
from dbify.control.projects.service import ProjectService

__all__ = ["CronService"]


def _out(record: JobRecord) -> JobOut:
    return JobOut(**{f: getattr(record, f) for f in JobRecord.__slots__})


def _run_out(record: RunRecord) -> RunOut:
    return RunOut(**{f: getattr(record, f) for f in RunRecord.__slots__})


class CronService:
    def __init__(self, store: CronStore, projects: ProjectService, policy: OutboundPolicy) -> None:
        self.store = store
        self._projects = projects
        self._policy = policy

    async def _check_action(self, action: dict[str, Any]) -> None:
        if action["kind"] != "http":
            return
        try:
            await self._policy.check(action["url"])
        except TargetRefused as exc:
            raise control_error(ControlCodes.INVALID_REQUEST, f"URL refused: {exc}") from None

    async def _job(self, project_id: str, job_id: str) -> JobRecord:
        record = await self.store.job(project_id, job_id)
        if record is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Cron job '{job_id}' not found")
        return record

    async def _name_free(self, project_id: str, name: str, job_id: str | None = None) -> None:
        if any(j.name == name and j.id != job_id for j in await self.store.jobs(project_id)):
            raise control_error(ControlCodes.CONFLICT, f"A cron job named '{name}' exists")

    async def create(self, caller: Caller, project_id: str, body: JobCreate) -> JobOut:
        await self._projects.require_role(caller, project_id, "admin")
        action = body.action.model_dump()
        await self._check_action(action)
        await self._name_free(project_id, body.name)
        now = datetime.now(UTC)
        record = JobRecord(
            id=secrets.token_hex(8), project_id=project_id, name=body.name,
            schedule=body.schedule, timezone=body.timezone, action=action,
            enabled=body.enabled, missed_policy=body.missed_policy,
            overlap_policy=body.overlap_policy, timeout_seconds=body.timeout_seconds,
            next_run_at=next_occurrence(body.schedule, body.timezone, now),
            created_at=now, updated_at=now,
        )  # fmt: skip
        await self.store.insert_job(record)
        return _out(record)

    async def list(self, caller: Caller, project_id: str) -> list[JobOut]:
        await self._projects.require_role(caller, project_id, "viewer")
        return [_out(r) for r in await self.store.jobs(project_id)]

    async def get(self, caller: Caller, project_id: str, job_id: str) -> JobOut:
        await self._projects.require_role(caller, project_id, "viewer")
        return _out(await self._job(project_id, job_id))

    async def update(
        self, caller: Caller, project_id: str, job_id: str, change: JobUpdate
    ) -> JobOut:
        await self._projects.require_role(caller, project_id, "admin")
        current = await self._job(project_id, job_id)
        values: dict[str, Any] = {
            k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None
        }
        if change.action is not None:
            values["action"] = change.action.model_dump()
            await self._check_action(values["action"])
        if "name" in values:
            await self._name_free(project_id, values["name"], job_id)
        if {"schedule", "timezone", "enabled"} & values.keys():
            now = datetime.now(UTC)
            schedule = values.get("schedule", current.schedule)
            timezone = values.get("timezone", current.timezone)
            values["next_run_at"] = next_occurrence(schedule, timezone, now)
        await self.store.update_job(job_id, updated_at=datetime.now(UTC), **values)
        return _out(await self._job(project_id, job_id))

    async def delete(self, caller: Caller, project_id: str, job_id: str) -> None:
        await self._projects.require_role(caller, project_id, "admin")
        if not await self.store.delete_job(project_id, job_id):
            raise control_error(ControlCodes.NOT_FOUND, f"Cron job '{job_id}' not found")

    async def run_now(self, caller: Caller, project_id: str, job_id: str) -> RunOut:
        """Queue a manual run (even of a disabled job); a scheduler starts it."""
        await self._projects.require_role(caller, project_id, "admin")
        await self._job(project_id, job_id)
        now = datetime.now(UTC)
        run = RunRecord(
            id=secrets.token_hex(8), job_id=job_id, trigger="manual", scheduled_for=now,
            status="queued", started_at=None, finished_at=None, output=None, error=None,
        )  # fmt: skip
        await self.store.insert_run(run)
        return _run_out(run)

    async def runs(
        self, caller: Caller, project_id: str, job_id: str, limit: int, offset: int
    ) -> RunPage:
        await self._projects.require_role(caller, project_id, "viewer")
        await self._job(project_id, job_id)
        items = [_run_out(r) for r in await self.store.runs(job_id, limit, offset)]
        return RunPage(items=items, limit=limit, offset=offset)

    async def run(self, caller: Caller, project_id: str, job_id: str, run_id: str) -> RunOut:
        await self._projects.require_role(caller, project_id, "viewer")
        await self._job(project_id, job_id)
        found = await self.store.run(job_id, run_id)
        if found is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Run '{run_id}' not found")
        return _run_out(found)
