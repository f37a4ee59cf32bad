"""Cron jobs: per-project schedules whose occurrences run once across schedulers.

    store.py      jobs, runs, and the compare-and-set claim of an occurrence
    actions.py    running an action: SQL, a function call, an HTTP request
    scheduler.py  the loop that finds, claims and runs due occurrences
    runtime.py    building a process's scheduler
    leader.py     optional leader election (PostgreSQL advisory lock)
    schemas.py    API shapes; service.py rules; routes.py /api/v1/projects/{id}/cron/jobs
    cli.py        `dbify scheduler`

"Run now" queues a run that a scheduler claims (``CronStore.claim_queued``).
"""

__all__: list[str] = []
