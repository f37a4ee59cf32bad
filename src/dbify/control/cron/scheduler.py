"""The scheduler loop: find due jobs, claim each occurrence once, run it, record it.

Each tick reads enabled jobs whose ``next_run_at`` has come, computes the following
occurrence (croniter, in the job's time zone) and claims the occurrence
with the store's compare-and-set: several schedulers may tick at once, one wins.
An occurrence older than ``missed_grace_seconds`` (the schedulers were down) is
missed: with ``skip`` it is recorded as skipped, with ``catch_up_once`` it runs once
(the claim jumps straight past all missed occurrences, so never more than once).
With overlap ``skip`` an occurrence whose job still has a run in progress is skipped
(a run older than its timeout + 5 s no longer counts: its scheduler died).
Runs happen in tasks, so a long job never delays the tick. Manual runs ("run now")
are queued rows any scheduler claims.

Between ticks it sleeps until the earliest ``next_run_at`` of the enabled jobs, or
until woken (``wake``: the store's writes in this process, and ``cache.cron`` on the
event bus from other processes), or at most ``idle_poll_seconds``: that ceiling
catches changes made elsewhere without telling. An idle server thus queries the
store every ``idle_poll_seconds``, not every ``tick_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from dbify.control.cron.actions import ActionFailed, run_action
from dbify.control.cron.store import CronStore, JobRecord, RunRecord
from dbify.control.outbound import OutboundPolicy
from dbify.control.projects.store import ProjectStore
from dbify.secrets_box import SecretBox
from dbify.settings import SchedulerSettings
from dbify.workers.base import Worker

__all__ = ["Scheduler", "next_occurrence"]

_log = logging.getLogger("dbify.scheduler")
# A run is abandoned after its timeout plus this (``_execute``'s wait_for): a row still
# "running" beyond that was left by a scheduler that died.
_RUN_GRACE_SECONDS = 5.0


def next_occurrence(schedule: str, timezone: str, after: datetime) -> datetime:
    """The first occurrence strictly after ``after``, as an aware UTC datetime."""
    local = after.astimezone(ZoneInfo(timezone))
    following: datetime = croniter(schedule, local).get_next(datetime)
    return following.astimezone(UTC)


class Scheduler(Worker):
    name = "scheduler"

    def __init__(
        self, store: CronStore, projects: ProjectStore, box: SecretBox,
        settings: SchedulerSettings, policy: OutboundPolicy,
    ) -> None:  # fmt: skip
        super().__init__()
        self._store = store
        self._projects = projects
        self._box = box
        self._settings = settings
        self._policy = policy
        self._tasks: set[asyncio.Task[None]] = set()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Look for due work now (a job or a manual run was added or changed)."""
        self._woken.set()

    async def start(self) -> None:
        self._store.listen(self.wake)
        await super().start()

    async def run_once(self) -> int:
        self._woken.clear()  # before the tick: a change made during it wakes the next one
        now = datetime.now(UTC)
        started = await self.tick(now)
        seconds = await self._sleep_seconds(now)  # first: see WebhookWorker.run_once
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)
        return started

    async def _sleep_seconds(self, now: datetime) -> float:
        """How long nothing can be due, as far as this process knows, after a tick at
        ``now``."""
        ceiling = self._settings.idle_poll_seconds
        earliest = await self._store.next_run_at()
        if earliest is None:
            return ceiling
        if earliest <= now:
            # Due at the tick yet still there (another scheduler's claim is committing,
            # or a job inserted with a past time): look again shortly, do not spin.
            return min(self._settings.tick_seconds, ceiling)
        # The same wall clock as ``tick``'s ``now``; an asyncio timer may fire a hair
        # early, which costs one empty tick, never a late run.
        return min(max((earliest - datetime.now(UTC)).total_seconds(), 0.0), ceiling)

    async def tick(self, now: datetime) -> int:
        """Claim and start everything due at ``now``; returns the runs started."""
        started = 0
        for job in await self._store.due_jobs(now):
            assert job.next_run_at is not None
            occurrence = job.next_run_at
            following = next_occurrence(job.schedule, job.timezone, max(now, occurrence))
            if not await self._store.claim_occurrence(job.id, occurrence, following):
                continue  # another scheduler has it
            missed = (now - occurrence).total_seconds() > self._settings.missed_grace_seconds
            if missed and job.missed_policy == "skip":
                await self._record_skip(job, occurrence, now, "missed (schedulers were down)")
            elif job.overlap_policy == "skip" and await self._store.running(
                job.id, now - timedelta(seconds=job.timeout_seconds + _RUN_GRACE_SECONDS)
            ):
                await self._record_skip(job, occurrence, now, "previous run still running")
            else:
                run = self._new_run(job, "schedule", occurrence, "running", now)
                await self._store.insert_run(run)
                self._spawn(job, run)
                started += 1
        for run in await self._store.claim_queued(now):
            queued_job = await self._store.job_by_id(run.job_id)
            if queued_job is not None:
                self._spawn(queued_job, run)
                started += 1
        return started

    def _new_run(
        self, job: JobRecord, trigger: str, at: datetime, status: str, now: datetime
    ) -> RunRecord:
        return RunRecord(
            id=secrets.token_hex(8), job_id=job.id, trigger=trigger, scheduled_for=at,
            status=status, started_at=now, finished_at=None, output=None, error=None,
        )  # fmt: skip

    async def _record_skip(
        self, job: JobRecord, occurrence: datetime, now: datetime, why: str
    ) -> None:
        run = self._new_run(job, "schedule", occurrence, "skipped", now)
        await self._store.insert_run(
            RunRecord(
                **{
                    **{f: getattr(run, f) for f in RunRecord.__slots__},
                    "finished_at": now,
                    "error": why,
                }
            )
        )

    def _spawn(self, job: JobRecord, run: RunRecord) -> None:
        task = asyncio.create_task(self._execute(job, run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, job: JobRecord, run: RunRecord) -> None:
        output: str | None = None
        error: str | None = None
        limit = self._settings.output_max_chars
        try:
            project = await self._projects.get(job.project_id)
            if project is None:
                raise ActionFailed("the project no longer exists")
            url = self._box.decrypt(project.database_url_sealed)
            output = await asyncio.wait_for(
                run_action(
                    job.action,
                    database_url=url,
                    policy=self._policy,
                    timeout_seconds=job.timeout_seconds,
                    limit=limit,
                ),
                job.timeout_seconds + _RUN_GRACE_SECONDS,
            )
        except ActionFailed as exc:
            error = str(exc)
        except TimeoutError:
            error = f"timed out after {job.timeout_seconds:g} s"
        except Exception as exc:  # recorded, never kills the scheduler
            _log.exception("cron job %s failed", job.id)
            error = f"{type(exc).__name__}"
        await self._store.finish_run(
            run.id, status="failed" if error else "succeeded", output=output, error=error,
            finished_at=datetime.now(UTC),
        )  # fmt: skip

    async def stop(self) -> None:
        self._store.unlisten(self.wake)
        await super().stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def drain(self) -> None:
        """Wait for runs in progress (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
