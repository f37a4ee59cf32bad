"""Cron jobs: per-project schedules whose occurrences run once across schedulers.

    store.py      jobs, runs, and the compare-and-set claim of an occurrence
    actions.py    running an action: SQL, a function call, an HTTP request
    scheduler.py  the loop that finds, claims and runs due occurrences

The management API (jobs, run history, "run now") and the `dbify scheduler` command
are not written yet; "run now" is already served by ``CronStore.claim_queued``.
"""

__all__: list[str] = []
